//! Train: choose data, split and size; start and cancel; live loss and validation-F1 curves;
//! final metrics and confusion matrix; make the new model the active one. Below, the model
//! comparison on the same data and split (`compare.rs`).

use std::path::PathBuf;

use egui_plot::{Line, Plot};

use super::View;
use super::compare::{CompareInputs, ComparePanel};
use super::jobs::Job;
use super::state::AppState;
use super::style;
use crate::ingest::AttackFamily;
use crate::model::{DeviceChoice, MoeConfig};
use crate::service::{TrainRequest, TrainResult, train_recorded};
use crate::train::split::SplitKind;
use crate::train::training::{TrainEvent, TrainingConfig};

/// Half of training's learning rate, as `netvigil finetune` uses (README, fine-tuning).
const FINETUNE_LEARNING_RATE: f64 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitChoice {
    Random,
    Time,
    Family,
}

pub struct TrainView {
    pub inputs: Vec<PathBuf>,
    split: SplitChoice,
    left_out: AttackFamily,
    pub epochs: usize,
    /// Models trained on one split and shipped as an ensemble (`train --members`).
    pub members: usize,
    d_token: usize,
    pub name: String,
    job: Option<Job<TrainResult, TrainEvent>>,
    losses: Vec<[f64; 2]>,
    f1s: Vec<[f64; 2]>,
    steps_per_epoch: usize,
    /// "member k of N: " while an ensemble trains, else empty.
    member: String,
    status: String,
    result: Option<TrainResult>,
    pub compare: ComparePanel,
}

impl Default for TrainView {
    fn default() -> Self {
        TrainView {
            inputs: Vec::new(),
            split: SplitChoice::Random,
            left_out: AttackFamily::Webattack,
            epochs: 10,
            d_token: 32,
            name: String::new(),
            job: None,
            losses: Vec::new(),
            f1s: Vec::new(),
            member: String::new(),
            members: 1,
            steps_per_epoch: 1,
            status: String::new(),
            result: None,
            compare: ComparePanel::default(),
        }
    }
}

impl TrainView {
    pub fn is_running(&self) -> bool {
        self.job.is_some() || self.compare.is_running()
    }

    pub fn status(&self) -> &str {
        &self.status
    }

    pub fn result(&self) -> Option<&TrainResult> {
        self.result.as_ref()
    }

    fn split_kind(&self) -> SplitKind {
        match self.split {
            SplitChoice::Random => SplitKind::Random,
            SplitChoice::Time => SplitKind::Time,
            SplitChoice::Family => SplitKind::Family(self.left_out),
        }
    }

    /// Starts training in the background: a new model, or with `finetune` the active model
    /// adapted to the chosen labelled data (its weights and preprocessing as the start, half
    /// of training's learning rate; see `netvigil finetune`).
    pub fn start(&mut self, state: &AppState, ctx: &egui::Context, finetune: bool) {
        let parent = finetune.then(|| state.model.as_ref().map(|m| (m.name.clone(), m.dir.clone()))).flatten();
        if finetune && parent.is_none() {
            return;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let name = match (&parent, self.name.trim()) {
            (_, n) if !n.is_empty() => n.to_string(),
            (Some((p, _)), _) => format!("{p}-finetuned-{now}"),
            (None, _) => format!("model-{now}"),
        };
        let mut training = TrainingConfig::new().with_epochs(self.epochs).with_members(self.members);
        if parent.is_some() {
            training.learning_rate = FINETUNE_LEARNING_RATE;
        }
        let mut model = MoeConfig::new();
        model.tabular.d_token = self.d_token;
        let request = TrainRequest {
            inputs: self.inputs.clone(),
            read: crate::ingest::ReadOptions::default(),
            split: self.split_kind(),
            model,
            training,
            device: DeviceChoice::Auto,
            bundle_dir: state.data_dir.join("models").join(&name),
            name,
            kind: if parent.is_some() { "finetune" } else { "train" }.into(),
            start_from: parent.map(|(_, dir)| dir),
        };
        let data_dir = state.data_dir.clone();
        self.losses.clear();
        self.f1s.clear();
        self.member.clear();
        self.result = None;
        self.status = "starting".into();
        self.job = Some(Job::spawn(&state.runtime, ctx, "Training", move |job| {
            job.run_task(|task| train_recorded(&data_dir, &request, task)).map_err(|e| format!("{e:#}"))
        }));
    }

    pub fn cancel(&mut self) {
        if let Some(job) = &self.job {
            job.cancel();
            self.status = "cancelling...".into();
        }
    }

    fn poll(&mut self, state: &mut AppState) {
        let Some(job) = &self.job else { return };
        let cancelled = job.is_cancelled();
        let (events, done) = job.poll_split();
        for e in events {
            self.on_event(e);
        }
        match done {
            None => {}
            Some(Ok(result)) => {
                self.status = if result.report.cancelled {
                    format!("cancelled after {} epochs; best epoch kept as {}", result.report.epochs_run, result.name)
                } else {
                    format!("finished: test F1 {:.4}, saved as {}", result.report.test.f1, result.name)
                };
                self.result = Some(result);
                self.job = None;
            }
            Some(Err(e)) => {
                // Cancelling is the analyst's choice, not a failure worth an error message.
                if cancelled {
                    self.status = format!("cancelled: {e}");
                } else {
                    self.status = format!("stopped: {e}");
                    state.error("Training stopped", e);
                }
                self.job = None;
            }
        }
    }

    fn on_event(&mut self, e: TrainEvent) {
        match e {
            TrainEvent::Member { index, of, seed } => {
                self.losses.clear();
                self.f1s.clear();
                self.member = format!("member {} of {of} (seed {seed}): ", index + 1);
            }
            TrainEvent::Started { epochs, steps_per_epoch, train_rows, valid_rows } => {
                self.steps_per_epoch = steps_per_epoch.max(1);
                self.status = format!(
                    "{}training on {train_rows} flows ({valid_rows} for validation), up to {epochs} epochs",
                    self.member
                );
            }
            TrainEvent::Step { epoch, step, loss } => {
                let x = (epoch.saturating_sub(1)) as f64 + step as f64 / self.steps_per_epoch as f64;
                self.losses.push([x, f64::from(loss)]);
            }
            TrainEvent::Epoch(r) => {
                self.f1s.push([r.epoch as f64, r.valid_f1]);
                self.status = format!(
                    "{}epoch {}: loss {:.4}, validation F1 {:.4}",
                    self.member, r.epoch, r.train_loss, r.valid_f1
                );
            }
            TrainEvent::Finished { .. } => self.status = "evaluating and saving...".into(),
        }
    }

    fn form(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        if self.inputs.is_empty() {
            if let Some(flows) = &state.flows {
                self.inputs = flows.paths.clone();
            }
        }
        ui.horizontal(|ui| {
            ui.label("Data");
            ui.label(if self.inputs.is_empty() {
                "none chosen".to_string()
            } else {
                self.inputs.iter().map(|p| super::state::file_name(p)).collect::<Vec<_>>().join(", ")
            });
            if ui.button("Choose...").clicked() {
                if let Some(files) = rfd::FileDialog::new().add_filter("Labelled flows", &["csv"]).pick_files() {
                    self.inputs = files;
                }
            }
        });
        ui.horizontal(|ui| {
            ui.label("Split");
            ui.selectable_value(&mut self.split, SplitChoice::Random, "random (stratified)");
            ui.selectable_value(&mut self.split, SplitChoice::Time, "by day (Mon-Wed / Thu-Fri)");
            ui.selectable_value(&mut self.split, SplitChoice::Family, "leave one family out");
            if self.split == SplitChoice::Family {
                let left_out = ui.label("left out:");
                egui::ComboBox::from_id_salt("left-out")
                    .selected_text(self.left_out.name())
                    .show_ui(ui, |ui| {
                        for f in AttackFamily::CLASSES.into_iter().filter(|f| f.is_attack()) {
                            ui.selectable_value(&mut self.left_out, f, f.name());
                        }
                    })
                    .response
                    .labelled_by(left_out.id);
            }
        });
        ui.horizontal(|ui| {
            let epochs = ui.label("Epochs");
            ui.add(egui::DragValue::new(&mut self.epochs).range(1..=200)).labelled_by(epochs.id);
            let members = ui.label("Models");
            ui.add(egui::DragValue::new(&mut self.members).range(1..=16))
                .labelled_by(members.id)
                .on_hover_text("Train this many models on the same split (seeds 42, 43, ...) and score their mean: steadier verdicts, that many times the training and scoring time. Fine-tuning keeps the active model's own number");
            let width = ui.label("Token width");
            egui::ComboBox::from_id_salt("d-token")
                .selected_text(self.d_token.to_string())
                .show_ui(ui, |ui| {
                    for d in [16, 32, 64] {
                        ui.selectable_value(&mut self.d_token, d, d.to_string());
                    }
                })
                .response
                .labelled_by(width.id);
            let name = ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut self.name).hint_text("model-<time>").desired_width(140.0))
                .labelled_by(name.id);
            let running = self.job.is_some();
            if ui.add_enabled(!running && !self.inputs.is_empty(), egui::Button::new("Start training")).clicked() {
                self.start(state, ui.ctx(), false);
            }
            let can_tune = !running && !self.inputs.is_empty() && state.model.is_some();
            if ui
                .add_enabled(can_tune, egui::Button::new("Fine-tune the active model"))
                .on_hover_text("Adapt the active model to these labelled flows: a new model, with the active one as its parent")
                .clicked()
            {
                self.start(state, ui.ctx(), true);
            }
            if ui.add_enabled(running, egui::Button::new("Cancel")).clicked() {
                self.cancel();
            }
        });
    }

    fn curves(&self, ui: &mut egui::Ui) {
        let width = (ui.available_width() / 2.0 - 8.0).max(150.0);
        ui.horizontal(|ui| {
            let losses = self.losses.clone();
            Plot::new("train-loss").height(180.0).width(width).x_axis_label("epoch").y_axis_label("loss").show(
                ui,
                |p| {
                    p.line(Line::new("training loss", losses).color(style::TABULAR));
                },
            );
            let f1s = self.f1s.clone();
            Plot::new("valid-f1")
                .height(180.0)
                .width(width)
                .include_y(0.0)
                .include_y(1.0)
                .x_axis_label("epoch")
                .y_axis_label("validation F1")
                .show(ui, |p| {
                    p.line(Line::new("validation F1", f1s).color(style::BENIGN).width(2.0));
                });
        });
    }

    fn results(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(result) = &self.result else { return };
        let test = &result.report.test;
        ui.horizontal_wrapped(|ui| {
            ui.strong(format!("Test ({} flows)", test.flows));
            ui.label(format!(
                "F1 {:.4} · precision {:.4} · recall {:.4} · accuracy {:.4} · FPR {:.4} · ROC-AUC {}",
                test.f1,
                test.precision,
                test.recall,
                test.accuracy,
                test.false_positive_rate,
                test.roc_auc.map_or("-".into(), |a| format!("{a:.4}"))
            ));
        });
        if let Some(alert) = &result.report.alert {
            // The operating point the new model ships with, and what decided it.
            ui.label(alert.describe()).on_hover_text("the test figures above are at this threshold");
        }
        if let Some(before) = &result.report.before {
            ui.horizontal_wrapped(|ui| {
                ui.strong("Before fine-tuning, same rows");
                ui.label(format!(
                    "F1 {:.4} · recall {:.4} · FPR {:.4}  ->  after: F1 {:.4} · recall {:.4} · FPR {:.4}",
                    before.f1,
                    before.recall,
                    before.false_positive_rate,
                    test.f1,
                    test.recall,
                    test.false_positive_rate
                ));
            });
        }
        egui::Grid::new("confusion").striped(true).show(ui, |ui| {
            ui.strong("true \\ predicted");
            for f in AttackFamily::ALL {
                ui.strong(f.name());
            }
            ui.end_row();
            for (t, row) in test.confusion.iter().enumerate() {
                ui.strong(AttackFamily::from_index(t).map_or("?", |f| f.name()));
                for n in row {
                    ui.label(n.to_string());
                }
                ui.end_row();
            }
        });
        let (name, dir) = (result.name.clone(), result.bundle_dir.clone());
        if ui.button(format!("Make {name} the active model")).clicked() {
            state.activate_model(name, dir, ui.ctx());
        }
    }
}

impl TrainView {
    pub const NAME: &'static str = "Train";
}

impl View for TrainView {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn busy(&self) -> bool {
        self.is_running()
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        self.poll(state);
        // The flows view asked to fine-tune on the analyst's labels.
        if let Some(inputs) = state.finetune_request.take() {
            if self.job.is_none() {
                self.inputs = inputs;
                self.start(state, ui.ctx(), true);
            } else {
                state.error(
                    "Fine-tuning waits",
                    "A training run is in progress: fine-tune on your labels once it ends.",
                );
            }
        }
        // The comparison below the training results makes the view taller than a window.
        egui::ScrollArea::vertical().auto_shrink([false; 2]).show(ui, |ui| {
            self.form(ui, state);
            if !self.status.is_empty() {
                ui.horizontal(|ui| {
                    if self.job.is_some() {
                        ui.spinner();
                    }
                    ui.label(&self.status);
                });
            }
            ui.separator();
            self.curves(ui);
            self.results(ui, state);
            ui.separator();
            let on = CompareInputs { inputs: &self.inputs, split: self.split_kind(), epochs: self.epochs };
            self.compare.ui(ui, state, &on);
        });
    }
}
