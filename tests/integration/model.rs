//! The MoE detector on real CICIDS2017 rows: learning, bundle integrity, splits, backends.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{OnceLock, mpsc};

use netvigil::features::N_FEATURES;
use netvigil::ingest::label::AttackFamily;
use netvigil::ingest::table::FlowTable;
use netvigil::ingest::{ReadOptions, read_flows};
use netvigil::model::bundle::BundleError;
use netvigil::model::inference::{SelectedDevice, cpu_device, gpu_adapters, wgpu_device};
use netvigil::model::{ModelBundle, MoeConfig, Preprocessor, Scorer};
use netvigil::train::metrics::roc_auc;
use netvigil::train::training::{TrainEvent, TrainingConfig};
use netvigil::train::{SplitKind, fit, split};

fn improved(file: &str) -> PathBuf {
    crate::common::shared("cicids2017-improved").join(file)
}

/// A few thousand real rows over five families and all five capture days.
pub(crate) fn small_table() -> &'static FlowTable {
    static TABLE: OnceLock<FlowTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let files =
            ["BENIGN_5000.csv", "DDoS_5000.csv", "Portscan_5000.csv", "SSH-Patator_2961.csv", "DoS_Slowloris_3859.csv"];
        let paths: Vec<PathBuf> = files.iter().map(|f| improved(f)).collect();
        let table = read_flows(&paths, &ReadOptions::default()).expect("real data readable");
        // Every 4th row keeps the test quick while covering every file.
        let rows: Vec<usize> = (0..table.len()).step_by(4).collect();
        table.select(&rows)
    })
}

fn cpu() -> SelectedDevice {
    SelectedDevice { device: cpu_device(), description: "cpu".into(), is_gpu: false }
}

pub(crate) fn small_config() -> MoeConfig {
    let mut c = MoeConfig::new();
    c.tabular.d_token = 16;
    c.tabular.n_heads = 2;
    c.temporal.channels = vec![8, 16];
    c
}

struct Trained {
    bundle: ModelBundle,
    losses: Vec<f32>,
    epochs: Vec<f64>,
}

/// One short training run shared by the tests that need a model.
fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        // 1 %: the validation part of these rows has about 180 benign flows, too few to measure
        // the shipped 0.5 %.
        let training = TrainingConfig::new().with_epochs(3).with_batch_size(64).with_seed(7).with_alert_max_fpr(0.01);
        let (tx, rx) = mpsc::channel();
        let (bundle, report) = fit(
            small_table(),
            &small_config(),
            &training,
            SplitKind::Random,
            &cpu_device(),
            Some(&tx),
            &AtomicBool::new(false),
            None,
        )
        .expect("training runs");
        drop(tx);
        let losses = rx
            .try_iter()
            .filter_map(|e| if let TrainEvent::Step { loss, .. } = e { Some(loss) } else { None })
            .collect();
        let epochs = report.history.iter().map(|e| e.train_loss).collect();
        Trained { bundle, losses, epochs }
    })
}

#[test]
fn training_learns_on_real_flows() {
    let t = trained();
    let report: netvigil::train::TrainingReport =
        serde_json::from_value(t.bundle.metrics["report"].clone()).expect("report in metrics");
    assert!(t.losses.len() > 10, "progress events per step");
    let head: f32 = t.losses[..5].iter().sum::<f32>() / 5.0;
    let tail: f32 = t.losses[t.losses.len() - 5..].iter().sum::<f32>() / 5.0;
    assert!(tail < 0.6 * head, "loss fell from {head} to {tail}");
    assert!(t.epochs[2] < t.epochs[0], "epoch losses {:?}", t.epochs);
    // Benign is about a quarter of these rows: always answering "attack" gives F1 ≈ 0.86.
    assert!(report.test.f1 > 0.95, "test F1 {}", report.test.f1);
    assert!(report.test.roc_auc.unwrap_or(0.0) > 0.97, "ROC-AUC {:?}", report.test.roc_auc);
    assert_eq!(
        report.duplicates_removed + report.train_rows + report.valid_rows + report.test_rows,
        small_table().len()
    );
}

#[test]
fn bundle_round_trip_gives_identical_probabilities() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    t.bundle.save(&path).unwrap();
    // Saving again over an existing bundle replaces it whole.
    t.bundle.save(&path).unwrap();
    let loaded = ModelBundle::load(&path, &cpu_device()).unwrap();
    assert_eq!(loaded.preprocessor, t.bundle.preprocessor);
    assert_eq!(loaded.manifest.training_data.len(), 5);
    assert!(loaded.manifest.training_data.iter().all(|d| d.sha256.len() == 64 && d.rows > 0));
    let rows = &small_table().features()[..500 * N_FEATURES];
    let before = Scorer::new(&t.bundle, &cpu()).score_raw(rows);
    let after = Scorer::new(&loaded, &cpu()).score_raw(rows);
    assert_eq!(before, after);
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary directories left: {leftovers:?}");
}

#[test]
fn tampered_or_truncated_weights_fail_to_load() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    t.bundle.save(&path).unwrap();
    let weights = path.join("weights.bpk");
    let original = std::fs::read(&weights).unwrap();

    let mut flipped = original.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(&weights, &flipped).unwrap();
    let err = ModelBundle::load(&path, &cpu_device()).unwrap_err();
    assert!(matches!(err, BundleError::WeightsHash { .. }), "{err}");
    assert!(err.to_string().contains("modified or corrupted"));

    std::fs::write(&weights, &original[..original.len() - 100]).unwrap();
    let err = ModelBundle::load(&path, &cpu_device()).unwrap_err();
    assert!(matches!(err, BundleError::WeightsSize { .. }), "{err}");

    std::fs::write(&weights, &original).unwrap();
    std::fs::write(path.join("manifest.json"), b"{ not json").unwrap();
    let err = ModelBundle::load(&path, &cpu_device()).unwrap_err();
    assert!(matches!(err, BundleError::Json { .. }), "{err}");

    let err = ModelBundle::load(&dir.path().join("missing"), &cpu_device()).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
}

#[test]
fn config_that_does_not_match_weights_is_refused() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    t.bundle.save(&path).unwrap();
    let mut config = t.bundle.config.clone();
    config.tabular.d_token = 32;
    std::fs::write(path.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    let err = ModelBundle::load(&path, &cpu_device()).unwrap_err();
    assert!(matches!(err, BundleError::Record(..)), "{err}");
}

#[test]
fn single_row_scoring_matches_batch_scoring() {
    let t = trained();
    let scorer = Scorer::new(&t.bundle, &cpu());
    let table = small_table();
    let batch = scorer.score_table(table);
    assert_eq!(batch.len(), table.len());
    for i in [0, 17, table.len() - 1] {
        let row: [f32; N_FEATURES] = table.row(i).try_into().unwrap();
        let single = scorer.score_row(&row);
        assert!((single.p_attack - batch[i].p_attack).abs() < 1e-5);
        assert_eq!(single.family, batch[i].family);
        assert!((single.gate[0] + single.gate[1] - 1.0).abs() < 1e-5);
        assert!((single.family_probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}

#[test]
fn wgpu_and_ndarray_agree_within_1e3() {
    if gpu_adapters().is_empty() {
        println!("SKIPPED wgpu_and_ndarray_agree_within_1e3: wgpu found no adapter at all");
        return;
    }
    let t = trained();
    let gpu = SelectedDevice { device: wgpu_device(), description: "gpu".into(), is_gpu: true };
    let rows = &small_table().features()[..2000 * N_FEATURES];
    let on_cpu = Scorer::new(&t.bundle, &cpu()).score_raw(rows);
    let on_gpu = Scorer::new(&t.bundle, &gpu).score_raw(rows);
    let mut worst = 0f32;
    for (a, b) in on_cpu.iter().zip(&on_gpu) {
        worst = worst.max((a.p_attack - b.p_attack).abs());
        for k in 0..AttackFamily::N_CLASSES {
            worst = worst.max((a.family_probs[k] - b.family_probs[k]).abs());
        }
        worst = worst.max((a.gate[0] - b.gate[0]).abs());
    }
    assert!(worst < 1e-3, "largest wgpu/ndarray difference {worst}");
}

#[test]
fn cancel_flag_stops_training_before_an_epoch() {
    let cancel = AtomicBool::new(true);
    let result = fit(
        small_table(),
        &small_config(),
        &TrainingConfig::new().with_epochs(1),
        SplitKind::Random,
        &cpu_device(),
        None,
        &cancel,
        None,
    );
    let err = result.err().expect("cancelled run yields no model");
    assert!(err.to_string().contains("cancelled"), "{err}");
}

#[test]
fn splits_are_disjoint_deduplicated_and_honour_their_rule() {
    let table = small_table();
    let families = table.families().unwrap();
    for kind in [SplitKind::Random, SplitKind::Time, SplitKind::Family(AttackFamily::Portscan)] {
        let s = split(table, kind, &[], 3).unwrap();
        let mut all: Vec<usize> = s.train.iter().chain(&s.valid).chain(&s.test).copied().collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "{kind:?}: a row in two parts");
        assert_eq!(n + s.duplicates_removed, table.len());
        let again = split(table, kind, &[], 3).unwrap();
        assert_eq!(again.train, s.train, "same seed, same split");
        match kind {
            SplitKind::Time => {
                let day = |i: usize| table.meta()[i].weekday().unwrap();
                assert!(s.train.iter().all(|&i| day(i) <= 2));
                assert!(s.test.iter().all(|&i| day(i) >= 3));
            }
            SplitKind::Family(f) => {
                assert!(s.train.iter().chain(&s.valid).all(|&i| families[i] != f));
                assert!(s.test.iter().any(|&i| families[i] == f));
            }
            SplitKind::Random => {
                for part in [&s.train, &s.test] {
                    assert!(part.iter().any(|&i| families[i] == AttackFamily::Benign));
                }
            }
        }
    }
}

#[test]
fn preprocessing_clips_to_the_training_range() {
    let table = small_table();
    let p = Preprocessor::fit(table.features()).unwrap();
    p.validate().unwrap();
    let mut row: Vec<f32> = table.row(0).to_vec();
    let j = 0; // Flow Duration
    row[j] = p.raw_max[j] * 1000.0;
    let mut at_max = row.clone();
    at_max[j] = p.raw_max[j];
    let (mut a, mut b) = (vec![0f32; N_FEATURES], vec![0f32; N_FEATURES]);
    p.transform_row(&row, &mut a);
    p.transform_row(&at_max, &mut b);
    assert_eq!(a, b);
    row[j] = f32::NAN;
    p.transform_row(&row, &mut a);
    assert_eq!(a[j], 0.0);
    let standardised = p.transform(table.features());
    let mean: f32 = (0..table.len()).map(|i| standardised[i * N_FEATURES + 3]).sum::<f32>() / table.len() as f32;
    assert!(mean.abs() < 1e-3, "standardised mean {mean}");
}

#[test]
fn roc_auc_counts_ranks_and_ties() {
    assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
    assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
    assert_eq!(roc_auc(&[0.5, 0.7], &[true, true]), None);
}

#[test]
fn same_seed_gives_identical_models() {
    let training = TrainingConfig::new().with_epochs(1).with_batch_size(128).with_seed(11);
    let run = || crate::common::fit_on_cpu(small_table(), &small_config(), &training, None).0;
    let (a, b) = (run(), run());
    let rows = &small_table().features()[..300 * N_FEATURES];
    assert_eq!(Scorer::new(&a, &cpu()).score_raw(rows), Scorer::new(&b, &cpu()).score_raw(rows));
}

#[test]
fn manifest_cannot_point_outside_its_bundle() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    t.bundle.save(&path).unwrap();
    let manifest_path = path.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(&manifest_path, text.replace("\"weights.bpk\"", "\"../weights.bpk\"")).unwrap();
    let err = ModelBundle::load(&path, &cpu_device()).unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");
}

/// Drift against a model trained on the corrected release alone (its preprocessing fitted on
/// that release's distinct flows, as training does): another network and the original
/// release drift past PSI 0.25 in most features, the corrected release itself does not.
#[test]
fn another_network_and_the_original_release_drift_and_the_corrected_release_does_not() {
    use netvigil::model::drift::{DriftLevel, PSI_MAJOR, drift};
    let opts = netvigil::ingest::ReadOptions { lenient: true, ..Default::default() };
    let read = |rel: &str| netvigil::ingest::read_flows(&[crate::common::shared(rel)], &opts).unwrap();
    let corrected = read("cicids2017-improved");
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<f32> = corrected
        .features()
        .chunks_exact(N_FEATURES)
        .filter(|r| seen.insert(r.iter().map(|v| v.to_bits()).collect::<Vec<_>>()))
        .flatten()
        .copied()
        .collect();
    let pre = netvigil::model::Preprocessor::fit(&distinct).unwrap();

    let own = drift(&pre, corrected.features()).unwrap();
    assert_eq!(own.level(), DriftLevel::Stable, "{}", own.headline());
    for rel in ["unb-live/2017-10-17_online.csv", "unb-live/2017-12-15_online.csv", "cicids2017-original"] {
        let report = drift(&pre, read(rel).features()).unwrap();
        assert_eq!(report.level(), DriftLevel::Major, "{rel}: {}", report.headline());
        assert!(
            report.drifted(PSI_MAJOR).len() * 2 > report.features.len(),
            "{rel}: most features drift: {}",
            report.headline()
        );
    }
}

/// The alert threshold is chosen on validation rows: the trained model's own threshold keeps
/// its one source within the allowed validation false-positive rate, the scorer uses it, and
/// the report's test results are at it.
#[test]
fn training_chooses_the_alert_threshold_on_validation_rows() {
    let t = trained();
    let report: netvigil::train::TrainingReport = serde_json::from_value(t.bundle.metrics["report"].clone()).unwrap();
    let alert = report.alert.expect("training chose a threshold");
    assert_eq!(alert.max_fpr, 0.01);
    assert_eq!(alert.decided_by, ["cicids2017-improved"]);
    assert!(alert.threshold >= 0.5 && alert.threshold <= 1.0, "{}", alert.threshold);
    let valid = &alert.valid[0];
    assert!(valid.benign >= 100, "{} validation benign flows", valid.benign);
    assert!(valid.false_positive_rate.unwrap() <= 0.01, "{valid:?}");
    assert_eq!(valid.benign + valid.attacks, report.valid_rows);
    assert_eq!(t.bundle.alert_threshold(), alert.threshold);
    assert_eq!(Scorer::new(&t.bundle, &cpu()).threshold, alert.threshold);
    // The test results at 0.5 never flag fewer flows than those at a higher threshold.
    let (half, chosen) = (&alert.test_at_half[0], &report.by_source[0]);
    assert!(half.false_positive_rate >= chosen.false_positive_rate && half.recall >= chosen.recall);
}

/// The rule itself: the lowest threshold from 0.5 up at which every source with enough
/// benign rows flags at most its share; a source too small to measure it has no say.
#[test]
fn the_alert_threshold_is_the_lowest_that_keeps_every_measurable_source_within_its_rate() {
    use netvigil::train::threshold::choose;
    let (b, a) = (AttackFamily::Benign, AttackFamily::Dos);
    // Source 0: 200 benign flows, the highest at 0.9, 0.8, 0.7; at 1 % two may stay flagged.
    let mut p: Vec<f32> = (0..197).map(|i| i as f32 / 1000.0).collect();
    p.extend([0.9, 0.8, 0.7]);
    let mut truth = vec![b; 200];
    let mut source = vec![0u32; 200];
    // Attacks never move it; source 1's 50 benign flows (all at 0.99) are too few to vote.
    p.extend([0.95; 10]);
    truth.extend([a; 10]);
    source.extend([0; 10]);
    p.extend([0.99; 50]);
    truth.extend([b; 50]);
    source.extend([1; 50]);
    let (t, voters) = choose(&p, &truth, &source, 0.01);
    assert_eq!(voters, [0]);
    assert_eq!(t, 0.7f32.next_up());
    let flagged = p[..200].iter().filter(|&&x| x >= t).count();
    assert_eq!(flagged, 2);
    // Never below 0.5, however quiet the benign flows.
    assert_eq!(choose(&p[..197], &truth[..197], &source[..197], 0.01).0, 0.5);
}

/// `netvigil threshold` for a bundle trained before: the split is rebuilt from the same files
/// (a different set is refused), the new threshold lands in metrics.json and is loaded with
/// the model, and the weights stay as they were.
#[test]
fn a_bundle_gets_its_threshold_again_from_the_files_it_was_trained_on() {
    let paths = [improved("BENIGN_5000.csv"), improved("Portscan_5000.csv")];
    let table = read_flows(&paths, &ReadOptions::default()).unwrap();
    // The model's seed and the split's apart: the median and `threshold` below must use split 9.
    let training = TrainingConfig::new().with_epochs(1).with_batch_size(256).with_seed(5).with_split_seed(Some(9));
    let (bundle, report) = crate::common::fit_on_cpu(&table, &small_config(), &training, None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    bundle.save(&path).unwrap();
    let weights = std::fs::read(path.join("weights.bpk")).unwrap();

    let history = tempfile::tempdir().unwrap();
    let mut store = netvigil::store::Store::open(history.path()).unwrap();
    netvigil::service::models::register(&mut store, "small", &path, None, &bundle.metrics).unwrap();
    drop(store);

    // Training keeps the median of every feature over its benign training rows.
    let prepared = netvigil::train::pipeline::prepare(&table, SplitKind::Random, &[], &[], 9, None).unwrap();
    let by_model_seed = netvigil::train::pipeline::prepare(&table, SplitKind::Random, &[], &[], 5, None).unwrap();
    assert_ne!(prepared.parts.train, by_model_seed.parts.train, "seeds 5 and 9 draw different splits");
    let families = table.families().unwrap();
    let benign: Vec<usize> =
        prepared.parts.train.iter().copied().filter(|&r| families[r] == AttackFamily::Benign).collect();
    assert!(benign.len() > 1000, "{} benign training rows", benign.len());
    for j in 0..N_FEATURES {
        let mut column: Vec<f32> = benign.iter().map(|&r| table.row(r)[j]).filter(|v| v.is_finite()).collect();
        column.sort_by(f32::total_cmp);
        assert_eq!(bundle.preprocessor.benign_median[j], column[(column.len() - 1) / 2], "feature {j}");
    }
    // A bundle written before that field gets it from `threshold`, from the same rows.
    let mut older = bundle.preprocessor.clone();
    older.benign_median.clear();
    std::fs::write(path.join("preprocess.json"), serde_json::to_vec_pretty(&older).unwrap()).unwrap();
    assert!(ModelBundle::load(&path, &cpu_device()).unwrap().preprocessor.benign_median.is_empty());

    let wrong =
        netvigil::service::threshold::rethreshold(&path, &paths[..1], &ReadOptions::default(), 0.02).unwrap_err();
    assert!(format!("{wrong:#}").contains("pass the files it was trained on"), "{wrong:#}");

    let again = netvigil::service::threshold::rethreshold(&path, &paths, &ReadOptions::default(), 0.02).unwrap();
    assert_eq!(again.before, report.alert.as_ref().unwrap().threshold);
    assert_eq!(again.alert.max_fpr, 0.02);
    assert_eq!(again.alert.decided_by, ["cicids2017-improved"]);
    let benign = again.alert.valid[0].benign;
    assert!(benign >= 50, "{benign}");
    let flagged = (again.alert.valid[0].false_positive_rate.unwrap() * benign as f64).round() as usize;
    assert!(flagged <= (benign as f64 * 0.02).floor() as usize);
    let loaded = ModelBundle::load(&path, &cpu_device()).unwrap();
    assert!(again.benign_median_added);
    assert_eq!(loaded.preprocessor.benign_median, bundle.preprocessor.benign_median);
    assert_eq!(loaded.alert_threshold(), again.alert.threshold);
    assert_eq!(netvigil::model::bundle::alert_threshold_in(&path), again.alert.threshold);
    assert_eq!(std::fs::read(path.join("weights.bpk")).unwrap(), weights);
    let stored: netvigil::train::TrainingReport = serde_json::from_value(loaded.metrics["report"].clone()).unwrap();
    assert_eq!(stored.by_source, again.by_source);
    // The history's registry entry follows; a name it does not know is left alone.
    assert!(netvigil::service::threshold::record(history.path(), "small", &path).unwrap());
    assert!(!netvigil::service::threshold::record(history.path(), "other", &path).unwrap());
    let entry = netvigil::store::Store::open(history.path()).unwrap().model("small").unwrap().unwrap();
    assert_eq!(netvigil::model::bundle::alert_threshold_of(&entry.metrics), again.alert.threshold);
    assert_eq!(entry.metrics["training_config"]["alert_max_fpr"], 0.02);
}

/// Multiplies every float parameter by a factor, keeping its id (as an optimiser step does).
struct Scale(f64);

impl burn::module::ModuleMapper for Scale {
    fn map_float<const D: usize>(
        &mut self,
        p: burn::module::Param<burn::tensor::Tensor<D>>,
    ) -> burn::module::Param<burn::tensor::Tensor<D>> {
        let f = self.0;
        p.map(|t| t * f)
    }
}

/// Every float parameter's values, in visiting order.
#[derive(Default)]
struct Values(Vec<f32>);

impl burn::module::ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<burn::tensor::Tensor<D>>) {
        self.0.extend(p.val().into_data().try_to_vec::<f32>().unwrap());
    }
}

fn values(m: &netvigil::model::MoeModel) -> Vec<f32> {
    let mut v = Values::default();
    burn::module::Module::visit(m, &mut v);
    v.0
}

#[test]
fn the_weight_average_blends_every_parameter() {
    use burn::module::Module;
    use netvigil::train::averaging::WeightAverage;
    let start = small_config().init(&cpu_device());
    let doubled = start.clone().map(&mut Scale(2.0));
    let mut average = WeightAverage::new(start.clone(), 0.99);
    // The first update's decay is (1 + 1) / (10 + 1): a·2/11 + 2a·9/11 = a·20/11.
    average.update(&doubled);
    let (a, avg) = (values(&start), values(average.model()));
    assert_eq!(a.len(), avg.len());
    assert!(a.len() > 10_000, "{} parameters", a.len());
    for (x, y) in a.iter().zip(&avg) {
        assert!((x * 20.0 / 11.0 - y).abs() <= 1e-5 * (1.0 + x.abs()), "{x} → {y}");
    }
    // Many updates later the decay is the one asked for: one more step moves 1 % of the way.
    for _ in 0..2_000 {
        average.update(&doubled);
    }
    let settled = values(average.model());
    average.update(&start);
    for ((x, s), y) in a.iter().zip(&settled).zip(values(average.model())) {
        assert!((s * 0.99 + x * 0.01 - y).abs() <= 1e-5 * (1.0 + x.abs()), "{s} → {y}");
    }
}

#[test]
fn training_keeps_the_weight_average_by_default_and_the_last_step_when_asked() {
    let run = |training: TrainingConfig| crate::common::fit_on_cpu(small_table(), &small_config(), &training, None);
    let base = TrainingConfig::new().with_epochs(3).with_batch_size(64).with_seed(7);
    let (averaged, report) = run(base.clone());
    let (last_step, _) = run(base.with_weight_average(0.0));
    assert!(report.test.f1 > 0.95, "test F1 {}", report.test.f1);
    assert_eq!(averaged.metrics["training_config"]["weight_average"], 0.998);
    assert_eq!(last_step.metrics["training_config"]["weight_average"], 0.0);
    // The same seed and steps: only which weights are kept differs.
    let rows = &small_table().features()[..300 * N_FEATURES];
    assert_ne!(Scorer::new(&averaged, &cpu()).score_raw(rows), Scorer::new(&last_step, &cpu()).score_raw(rows));
}
