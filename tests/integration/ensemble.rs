//! An ensemble bundle (`train --members N`): members trained on one split with their own
//! seeds, saved and checked member by member, scored and explained as the mean of their
//! logits on every engine.

use std::sync::OnceLock;

use netvigil::features::N_FEATURES;
use netvigil::ingest::table::FlowTable;
use netvigil::model::bundle::BundleError;
use netvigil::model::inference::{SelectedDevice, cpu_device};
use netvigil::model::{ModelBundle, MoeConfig, Scorer};
use netvigil::train::TrainingReport;
use netvigil::train::training::TrainingConfig;

fn table() -> &'static FlowTable {
    crate::model::small_table()
}

fn cpu() -> SelectedDevice {
    SelectedDevice { device: cpu_device(), description: "cpu".into(), is_gpu: false }
}

fn small_config() -> MoeConfig {
    crate::model::small_config()
}

fn training(members: usize) -> TrainingConfig {
    TrainingConfig::new().with_epochs(3).with_batch_size(64).with_seed(7).with_members(members).with_alert_max_fpr(0.01)
}

/// A two-member ensemble, trained once for the tests that need one.
fn ensemble() -> &'static (ModelBundle, TrainingReport) {
    static TRAINED: OnceLock<(ModelBundle, TrainingReport)> = OnceLock::new();
    TRAINED.get_or_init(|| crate::common::fit_on_cpu(table(), &small_config(), &training(2), None))
}

/// `bundle` with only its member `k`: that model alone.
fn member(bundle: &ModelBundle, k: usize) -> ModelBundle {
    ModelBundle { members: vec![bundle.members[k].clone()], ..bundle.clone() }
}

fn p_attack(bundle: &ModelBundle, rows: &[f32]) -> Vec<f32> {
    Scorer::new(bundle, &cpu()).score_raw(rows).iter().map(|v| v.p_attack).collect()
}

#[test]
fn an_ensemble_trains_each_member_with_its_own_seed_on_one_split() {
    let (bundle, report) = ensemble();
    assert_eq!(bundle.members.len(), 2);
    let seeds: Vec<u64> = report.members.iter().map(|m| m.seed).collect();
    assert_eq!(seeds, [7, 8]);
    assert_eq!(bundle.member_seeds(), [7, 8]);
    assert!(report.members.iter().all(|m| m.epochs_run >= 2 && m.valid_f1 > 0.8), "{:?}", report.members);
    // The seed's own single model is the ensemble's first member, on the same split.
    let single = crate::common::fit_on_cpu(table(), &small_config(), &training(1), None).0;
    let rows = &table().features()[..400 * N_FEATURES];
    assert_eq!(p_attack(&single, rows), p_attack(&member(bundle, 0), rows));
    let single_report: TrainingReport = serde_json::from_value(single.metrics["report"].clone()).unwrap();
    assert_eq!((single_report.valid_rows, single_report.test_rows), (report.valid_rows, report.test_rows));
    assert!(single_report.members.is_empty(), "a single model lists no members");
}

#[test]
fn an_ensemble_scores_the_mean_of_its_members_logits_on_both_engines() {
    let (bundle, _) = ensemble();
    let rows = &table().features()[..600 * N_FEATURES];
    let fused = Scorer::new(bundle, &cpu());
    assert_eq!(fused.engine(), "fused CPU");
    let burn = fused.clone().with_burn_engine();
    let (a, b) = (fused.score_raw(rows), burn.score_raw(rows));
    let gap = a
        .iter()
        .zip(&b)
        .flat_map(|(x, y)| x.family_probs.iter().zip(&y.family_probs).map(|(p, q)| (p - q).abs()))
        .fold(0f32, f32::max);
    assert!(gap <= 1e-5, "fused and burn ensembles differ by {gap}");
    // The mean of the log-odds lies between the members' own, and is neither member's.
    let (ens, m0, m1) =
        (p_attack(bundle, rows), p_attack(&member(bundle, 0), rows), p_attack(&member(bundle, 1), rows));
    let logit = |p: f32| (p.clamp(1e-7, 1.0 - 1e-7) / (1.0 - p.clamp(1e-7, 1.0 - 1e-7))).ln();
    let mut differs = 0;
    for ((e, x), y) in ens.iter().zip(&m0).zip(&m1) {
        let (lo, hi) = (logit(*x).min(logit(*y)), logit(*x).max(logit(*y)));
        // The attack log-odds of mean logits need not be the mean of the members' log-odds
        // (the attack classes' log-sum-exp is convex), but it cannot leave their hull by far.
        assert!(logit(*e) >= lo - 1.0 && logit(*e) <= hi + 1.0, "ensemble {e} against members {x}, {y}");
        differs += usize::from((e - x).abs() > 1e-4 && (e - y).abs() > 1e-4);
    }
    assert!(differs > 50, "the ensemble differs from each member on {differs} of 600 flows");
}

#[test]
fn an_ensemble_bundle_round_trips_and_checks_every_member() {
    let (bundle, _) = ensemble();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ens");
    let manifest = bundle.save(&path).unwrap();
    assert_eq!(manifest.format_version, 2);
    assert_eq!(manifest.more_members.len(), 1);
    assert_eq!((manifest.more_members[0].weights_file.as_str(), manifest.more_members[0].seed), ("weights-1.bpk", 8));
    let loaded = ModelBundle::load(&path, &cpu_device()).unwrap();
    assert_eq!(loaded.members.len(), 2);
    assert!(
        loaded.manifest.semantics_note(&[]).starts_with("one ensemble of 2 models"),
        "{}",
        loaded.manifest.semantics_note(&[])
    );
    let rows = &table().features()[..300 * N_FEATURES];
    assert_eq!(Scorer::new(bundle, &cpu()).score_raw(rows), Scorer::new(&loaded, &cpu()).score_raw(rows));
    // A single model is still written as version 1, readable by programs before ensembles.
    let single = member(bundle, 0);
    assert_eq!(single.save(&dir.path().join("one")).unwrap().format_version, 1);
    // The second member's weights are checked like the first's.
    let weights = path.join("weights-1.bpk");
    let mut bytes = std::fs::read(&weights).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&weights, &bytes).unwrap();
    let err = ModelBundle::load(&path, &cpu_device()).unwrap_err();
    assert!(matches!(err, BundleError::WeightsHash { .. }) && err.to_string().contains("weights-1.bpk"), "{err}");
    std::fs::remove_file(&weights).unwrap();
    let err = ModelBundle::load(&path, &cpu_device()).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }) && err.to_string().contains("weights-1.bpk"), "{err}");
}

#[test]
fn an_ensembles_attributions_sum_to_the_change_of_its_attack_logit() {
    let (bundle, _) = ensemble();
    let scorer = Scorer::new(bundle, &cpu());
    let explainer = scorer.explainer();
    let families = table().families().unwrap();
    let mut gaps: Vec<f32> = (0..table().len())
        .filter(|&r| families[r].is_attack())
        .step_by(10)
        .take(60)
        .map(|r| {
            let mut raw = [0f32; N_FEATURES];
            raw.copy_from_slice(table().row(r));
            explainer.explain(&scorer.preprocess_row(&raw))
        })
        .filter(|e| (e.logit - e.baseline_logit).abs() > 0.5)
        .map(|e| e.completeness_gap())
        .collect();
    assert!(gaps.len() > 30, "{} flows far enough from the baseline", gaps.len());
    gaps.sort_by(f32::total_cmp);
    let median = gaps[gaps.len() / 2];
    assert!(median < 0.03, "completeness gap of the ensemble: median {median:.4}");
    // And the explained logit is the ensemble's own: its P(attack) is the scorer's.
    let e = explainer.explain(&scorer.preprocess_row(&{
        let mut raw = [0f32; N_FEATURES];
        raw.copy_from_slice(table().row(0));
        raw
    }));
    let p = 1.0 / (1.0 + (-e.logit).exp());
    let scored = scorer.score_raw(&table().features()[..N_FEATURES])[0].p_attack;
    assert!((p - scored).abs() < 1e-4, "explainer {p} against scorer {scored}");
}

#[test]
fn fine_tuning_an_ensemble_tunes_every_member() {
    let (bundle, _) = ensemble();
    let tuning = TrainingConfig::new().with_epochs(1).with_batch_size(64).with_seed(9).with_alert_max_fpr(0.01);
    let (tuned, report) = crate::common::fit_on_cpu(table(), &small_config(), &tuning, Some(bundle));
    assert_eq!(tuned.members.len(), 2, "the parent's members, each fine-tuned");
    assert_eq!(report.members.iter().map(|m| m.seed).collect::<Vec<_>>(), [9, 10]);
    assert!(report.before.is_some());
    let rows = &table().features()[..300 * N_FEATURES];
    for k in 0..2 {
        assert_ne!(p_attack(&member(&tuned, k), rows), p_attack(&member(bundle, k), rows), "member {k} moved");
    }
}
