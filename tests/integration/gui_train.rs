//! The Train view in the real window, driven with egui_kittest: start and cancel a training
//! run and find it in the history, train an ensemble from the Models control, compare models,
//! fine-tune the active model, and label flows in the flows view to fine-tune on them.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use netvigil::app::{NetVigilApp, TrainView};

use crate::gui::{flows_view, harness, history, loaded_app, show_only_benign, train, train_mut, wait_until};

#[test]
fn start_and_cancel_a_training_run_then_open_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = loaded_app(&dir);
    h.get_by_label("Train").click();
    h.run_steps(2);
    train_mut(h.state_mut()).epochs = 50;
    h.get_by_label("Start training").click();
    wait_until(&mut h, "training to start", |a| {
        train(a).status().contains("training on") || train(a).status().contains("epoch")
    });
    // The history view reads the database while the training job writes its epochs.
    h.get_by_label("History").click();
    wait_until(&mut h, "the running run in the history", |a| history(a).counts().is_some_and(|c| c.0 == 1));
    assert!(h.query_by_label("running").is_some(), "the run shows as running while it trains");
    h.get_by_label("Train").click();
    h.run_steps(2);
    h.get_by_label("Cancel").click();
    wait_until(&mut h, "training to stop", |a| !train(a).is_running());
    let status = train(h.state()).status().to_string();
    assert!(status.contains("cancel"), "{status}");

    h.get_by_label("History").click();
    wait_until(&mut h, "the history", |a| history(a).counts().is_some());
    let (runs, models, batches, _) = history(h.state()).counts().unwrap();
    assert_eq!(runs, 1);
    assert!(models >= 1, "the default model is registered");
    assert_eq!(batches, 1, "the sample was scored once");
    assert!(h.query_by_label("cancelled").is_some(), "the run shows as cancelled");
}

#[test]
fn the_models_control_trains_an_ensemble_of_that_many() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = loaded_app(&dir);
    h.get_by_label("Train").click();
    h.run_steps(2);
    assert_eq!(train(h.state()).members, 1);
    // The analyst types the number into the control: focused, it edits as text.
    h.get_by_role_and_label(Role::SpinButton, "Models").focus();
    h.run_steps(2);
    h.key_press(egui::Key::Backspace);
    h.get_by_role_and_label(Role::SpinButton, "Models").type_text("2");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(train(h.state()).members, 2);
    train_mut(h.state_mut()).epochs = 1;
    h.get_by_label("Start training").click();
    wait_until(&mut h, "the second member to train", |a| train(a).status().contains("member 2 of 2"));
    wait_until(&mut h, "training to finish", |a| train(a).result().is_some());
    let result = train(h.state()).result().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(result.bundle_dir.join("manifest.json")).unwrap()).unwrap();
    let more = manifest["more_members"].as_array().expect("an ensemble's further members");
    assert_eq!(more.len(), 1, "{manifest}");
    assert_eq!(more[0]["seed"], 43, "the second member's seed follows the first's");
    assert!(result.bundle_dir.join("weights-1.bpk").is_file());
}

#[test]
fn compare_models_from_the_train_view_and_find_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = loaded_app(&dir);
    h.get_by_label("Train").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("No comparison yet").is_some());
    train_mut(h.state_mut()).epochs = 1;
    h.get_by_label("Compare on this data and split").click();
    h.run_steps(2);
    assert!(train(h.state()).compare.is_running());
    wait_until(&mut h, "the comparison to finish", |a| !train(a).compare.is_running());
    let rows = train(h.state()).compare.rows().to_vec();
    assert_eq!(rows.len(), netvigil::train::compare::Contender::all().len(), "{}", train(h.state()).compare.status());
    for row in &rows {
        assert!(h.query_by_label(&row.model).is_some(), "{} in the table", row.model);
    }
    // A new window on the same history shows the newest comparison again.
    let mut again = harness(NetVigilApp::new(dir.path().to_path_buf()));
    again.get_by_label("Train").click();
    again.run_steps(2);
    assert_eq!(train(again.state()).compare.rows(), &rows[..]);
}

#[test]
fn fine_tune_the_active_model_from_the_train_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = loaded_app(&dir);
    h.get_by_label("Train").click();
    h.run_steps(2);
    train_mut(h.state_mut()).epochs = 1;
    h.get_by_label("Fine-tune the active model").click();
    wait_until(&mut h, "fine-tuning to finish", |a| train(a).result().is_some());
    let result = train(h.state()).result().unwrap();
    assert!(result.name.starts_with("default-finetuned-"), "{}", result.name);
    assert!(result.report.before.is_some(), "the active model measured on the same rows");
    assert!(h.query_by_label_contains("Before fine-tuning, same rows").is_some());
    let alert = result.report.alert.as_ref().expect("fine-tuning chose the new model's threshold");
    assert!(h.query_by_label(&alert.describe()).is_some(), "{}", alert.describe());
    let store = netvigil::store::Store::open(dir.path()).unwrap();
    let run = store.run(result.run_id).unwrap();
    assert_eq!(run.kind, "finetune");
}

#[test]
fn label_the_shown_flows_and_fine_tune_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = loaded_app(&dir);
    // Show only what the model calls benign, and label those flows benign.
    show_only_benign(&mut h);
    let shown = flows_view(h.state()).visible_rows().len();
    h.get_by_label(&format!("the {shown} flows shown")).click();
    h.run_steps(2);
    assert_eq!(h.state().state.labels.len(), shown);
    assert!(h.query_by_label(&format!("{shown} flows labelled by you")).is_some());
    train_mut(h.state_mut()).epochs = 1;
    h.get_by_label("Fine-tune the active model on them").click();
    h.run_steps(3);
    assert_eq!(h.state().state.view, TrainView::NAME);
    wait_until(&mut h, "fine-tuning on the labels", |a| train(a).result().is_some());
    let written = &train(h.state()).inputs[0];
    assert!(written.starts_with(dir.path().join("labels")), "{}", written.display());
    let table = netvigil::ingest::read_flows(&[written.clone()], &Default::default()).unwrap();
    assert_eq!(table.len(), shown);
    assert!(table.families().unwrap().iter().all(|f| *f == netvigil::ingest::AttackFamily::Benign));
}
