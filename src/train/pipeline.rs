//! From a labelled table to a saved-ready bundle: split, fit preprocessing on the training rows,
//! train, evaluate on the held-out test rows.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::{SystemTime, UNIX_EPOCH};

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::autoencoder::fit_familiarity;
use super::data::Dataset;
use super::metrics::{Metrics, SourceMetrics};
use super::split::{Split, SplitError, SplitKind, split};
use super::threshold::{AlertThreshold, ScoredRows, choose_for_rows};
use super::training::{EpochRecord, TrainError, TrainEvent, TrainOutcome, TrainingConfig, dataset_verdicts, train};
use crate::ingest::hash::sha256_file;
use crate::ingest::label::AttackFamily;
use crate::ingest::table::FlowTable;
use crate::model::bundle::{DataFile, FORMAT, FORMAT_VERSION, Manifest, MemberWeights, ModelBundle};
use crate::model::familiarity::Familiarity;
use crate::model::{ATTACK_THRESHOLD, MoeConfig, MoeModel, Preprocessor};

/// `metrics.json` of a bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingReport {
    pub split: String,
    pub seed: u64,
    pub experts: String,
    /// Trainable parameters.
    pub params: usize,
    pub duplicates_removed: usize,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub test_rows: usize,
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub cancelled: bool,
    pub train_seconds: f64,
    pub seconds_per_epoch: f64,
    pub history: Vec<EpochRecord>,
    pub valid: Metrics,
    pub test: Metrics,
    /// Test results per data folder (network, release, tool).
    #[serde(default)]
    pub by_source: Vec<SourceMetrics>,
    /// Files whose rows were all test rows.
    #[serde(default)]
    pub test_files: Vec<String>,
    /// Features the model does not see.
    #[serde(default)]
    pub masked_features: Vec<String>,
    /// The alert threshold chosen on the validation rows (`train::threshold`); `test` and
    /// `by_source` are at that threshold. Absent in bundles trained before it (0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertThreshold>,
    /// Fine-tuning: the starting model's metrics on the same test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Metrics>,
    /// An ensemble's members, in order (`best_epoch`, `epochs_run` and `history` above are the
    /// first member's); empty for a single model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberReport>,
}

/// How one member of an ensemble trained.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberReport {
    pub seed: u64,
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub train_seconds: f64,
    /// Validation F1 at 0.5 of its best epoch.
    pub valid_f1: f64,
}

/// The members a bundle's training gave, the first one's outcome kept whole for the report.
struct Trained {
    members: Vec<MoeModel>,
    first: TrainOutcome,
    reports: Vec<MemberReport>,
    cancelled: bool,
    seconds: f64,
}

/// Trains `training.members` models (or, fine-tuning, one from each of `start`'s members) on
/// the same rows, member k with seed `training.seed + k`. A cancel keeps the members already
/// trained.
fn train_members(
    model_config: &MoeConfig,
    training: &TrainingConfig,
    (train_set, valid_set): (&Dataset, &Dataset),
    device: &Device,
    events: Option<&Sender<TrainEvent>>,
    cancel: &AtomicBool,
    start: Option<&ModelBundle>,
) -> Result<Trained, PipelineError> {
    let starts: Vec<Option<&MoeModel>> = match start {
        Some(b) => b.members.iter().map(Some).collect(),
        None => vec![None; training.members.max(1)],
    };
    let of = starts.len();
    let (mut members, mut reports, mut first, mut cancelled) =
        (Vec::with_capacity(of), Vec::with_capacity(of), None, false);
    for (k, from) in starts.into_iter().enumerate() {
        let seed = training.seed + k as u64;
        if of > 1 {
            if let Some(tx) = events {
                let _ = tx.send(TrainEvent::Member { index: k, of, seed });
            }
        }
        let cfg = TrainingConfig { seed, ..training.clone() };
        let outcome = match train(model_config, &cfg, train_set, valid_set, device, events, cancel, from) {
            Ok(o) => o,
            Err(TrainError::Cancelled) if k > 0 => {
                cancelled = true;
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let valid_f1 = outcome.history.iter().find(|e| e.epoch == outcome.best_epoch).map_or(0.0, |e| e.valid_f1);
        reports.push(MemberReport {
            seed,
            best_epoch: outcome.best_epoch,
            epochs_run: outcome.history.len(),
            train_seconds: outcome.seconds,
            valid_f1,
        });
        members.push(outcome.model.clone());
        cancelled |= outcome.cancelled;
        first.get_or_insert(outcome);
        if cancelled {
            break;
        }
    }
    let seconds = reports.iter().map(|r| r.train_seconds).sum();
    let first = first.ok_or(PipelineError::Train(TrainError::Cancelled))?;
    Ok(Trained { members, first, reports, cancelled, seconds })
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("preprocessing: {0}")]
    Preprocess(String),
    #[error("reading {path} for its checksum: {source}")]
    Checksum { path: std::path::PathBuf, source: std::io::Error },
}

/// Provenance of every source file of `table`: name, rows, SHA-256.
pub fn data_files(table: &FlowTable) -> Result<Vec<DataFile>, PipelineError> {
    table
        .sources
        .iter()
        .map(|s| {
            let sha256 =
                sha256_file(&s.path).map_err(|source| PipelineError::Checksum { path: s.path.clone(), source })?;
            let name = s.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(DataFile { name, rows: s.rows, sha256 })
        })
        .collect()
}

/// One split of a labelled table, preprocessed with statistics of its training rows only.
#[derive(Debug, Clone)]
pub struct PreparedSplit {
    pub parts: Split,
    pub preprocessor: Preprocessor,
    pub train: Dataset,
    pub valid: Dataset,
    pub test: Dataset,
}

/// Splits `table` and preprocesses each part: the shared start of training and comparison,
/// so every model of a comparison sees exactly the MoE's rows. `test_files` go to the test set
/// whole; `masked_features` (names or groups) are hidden from every model.
pub fn prepare(
    table: &FlowTable,
    split_kind: SplitKind,
    test_files: &[String],
    masked_features: &[String],
    seed: u64,
    fixed: Option<&Preprocessor>,
) -> Result<PreparedSplit, PipelineError> {
    let masked = crate::features::resolve_features(masked_features).map_err(PipelineError::Preprocess)?;
    let parts = split(table, split_kind, test_files, seed)?;
    // A fine-tuned model keeps the preprocessing its weights were trained with.
    let preprocessor = match fixed {
        Some(p) => p.clone(),
        None => fit_preprocessor(table, &parts.train)?.with_masked(&masked),
    };
    let train = Dataset::from_table(table, &parts.train, &preprocessor);
    let valid = Dataset::from_table(table, &parts.valid, &preprocessor);
    let test = Dataset::from_table(table, &parts.test, &preprocessor);
    Ok(PreparedSplit { parts, preprocessor, train, valid, test })
}

/// Preprocessing statistics of the training rows `rows` of `table`, with the median benign
/// training flow as the explanation baseline.
pub fn fit_preprocessor(table: &FlowTable, rows: &[usize]) -> Result<Preprocessor, PipelineError> {
    let mut all = Vec::with_capacity(rows.len() * crate::features::N_FEATURES);
    for &r in rows {
        all.extend_from_slice(table.row(r));
    }
    Ok(Preprocessor::fit(&all).map_err(PipelineError::Preprocess)?.with_benign_median(&benign_rows(table, rows)))
}

/// The raw features of the benign rows among `rows` (row-major `N×72`).
pub fn benign_rows(table: &FlowTable, rows: &[usize]) -> Vec<f32> {
    let families = table.families().unwrap_or_default();
    let mut benign = Vec::new();
    for &r in rows.iter().filter(|&&r| families.get(r) == Some(&AttackFamily::Benign)) {
        benign.extend_from_slice(table.row(r));
    }
    benign
}

/// Trains a model on `table` and returns the bundle (not yet saved) and its report.
pub fn fit(
    table: &FlowTable,
    model_config: &MoeConfig,
    training: &TrainingConfig,
    split_kind: SplitKind,
    device: &Device,
    events: Option<&Sender<TrainEvent>>,
    cancel: &AtomicBool,
    start: Option<&ModelBundle>,
) -> Result<(ModelBundle, TrainingReport), PipelineError> {
    let PreparedSplit { parts, preprocessor, train: train_set, valid: valid_set, test: test_set } = prepare(
        table,
        split_kind,
        &training.test_files,
        &training.masked_features,
        training.seed_of_split(),
        start.map(|b| &b.preprocessor),
    )?;
    let model_config = start.map_or(model_config, |b| &b.config);
    let plain = device.clone().without_autodiff();
    // The starting model on the same held-back rows, to show what fine-tuning changed.
    let before = start.map(|b| {
        let members: Vec<MoeModel> = b.members.iter().map(|m| m.clone().to_device(&plain)).collect();
        let verdicts = dataset_verdicts(&members, &test_set, &plain, b.alert_threshold());
        Metrics::compute(&verdicts, &test_set.y)
    });
    let Trained { members, first: outcome, reports, cancelled, seconds } =
        train_members(model_config, training, (&train_set, &valid_set), device, events, cancel, start)?;
    let familiarity = match start.and_then(|b| b.familiarity.clone()) {
        Some(f) => f,
        None => fit_familiarity(&train_set.x, &valid_set.x, training.seed, device, cancel)?,
    };
    let judged =
        judge(table, &parts, &members, Some(&familiarity), (&valid_set, &test_set), training.alert_max_fpr, &plain);
    let epochs_run = outcome.history.len();
    let report = TrainingReport {
        split: split_kind.name(),
        seed: training.seed,
        experts: model_config.experts.name().into(),
        params: members.iter().map(|m| m.num_params()).sum(),
        duplicates_removed: parts.duplicates_removed,
        train_rows: train_set.len(),
        valid_rows: valid_set.len(),
        test_rows: test_set.len(),
        best_epoch: outcome.best_epoch,
        epochs_run,
        cancelled,
        train_seconds: seconds,
        seconds_per_epoch: outcome.history.iter().map(|e| e.seconds).sum::<f64>() / epochs_run.max(1) as f64,
        history: outcome.history,
        valid: judged.valid,
        test: judged.test,
        by_source: judged.by_source,
        alert: Some(judged.alert),
        test_files: training.test_files.clone(),
        masked_features: preprocessor.masked_names().iter().map(|n| n.to_string()).collect(),
        before,
        members: if reports.len() > 1 { reports.clone() } else { Vec::new() },
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        netvigil_version: env!("CARGO_PKG_VERSION").into(),
        weights_file: String::new(),
        weights_sha256: String::new(),
        weights_bytes: 0,
        training_data: data_files(table)?,
        split: split_kind.name(),
        seed: training.seed,
        created_unix: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        semantics: table.semantics(),
        more_members: reports
            .iter()
            .skip(1)
            .map(|r| MemberWeights {
                weights_file: String::new(),
                weights_sha256: String::new(),
                weights_bytes: 0,
                seed: r.seed,
            })
            .collect(),
    };
    let metrics = serde_json::json!({ "report": &report, "training_config": training });
    let bundle = ModelBundle {
        config: model_config.clone(),
        preprocessor,
        manifest,
        metrics,
        members,
        familiarity: Some(familiarity),
    };
    Ok((bundle, report))
}

/// A trained model's test results at the alert threshold chosen on its validation rows.
pub struct Judged {
    pub alert: AlertThreshold,
    /// The validation rows at 0.5, as early stopping saw them.
    pub valid: Metrics,
    pub test: Metrics,
    pub by_source: Vec<SourceMetrics>,
}

/// Chooses the alert threshold on the validation rows of `parts` and scores the test rows at
/// it: the end of training, and `netvigil threshold` for a bundle trained before thresholds
/// were chosen. `sets` are the preprocessed (validation, test) rows of `parts`.
pub fn judge(
    table: &FlowTable,
    parts: &Split,
    members: &[MoeModel],
    familiarity: Option<&Familiarity>,
    sets: (&Dataset, &Dataset),
    max_fpr: f64,
    device: &Device,
) -> Judged {
    let (valid_set, test_set) = sets;
    let p_attack = |v: &[crate::model::Verdict]| -> Vec<f32> { v.iter().map(|v| v.p_attack).collect() };
    let unfamiliar = |set: &Dataset| familiarity.map(|f| f.unfamiliar(&set.x, device)).unwrap_or_default();
    let valid_at_half = dataset_verdicts(members, valid_set, device, ATTACK_THRESHOLD);
    let valid_p = p_attack(&valid_at_half);
    let at_half = dataset_verdicts(members, test_set, device, ATTACK_THRESHOLD);
    let (valid_unfamiliar, test_unfamiliar) = (unfamiliar(valid_set), unfamiliar(test_set));
    let valid = ScoredRows::of(valid_set, &parts.valid, &valid_p, &valid_unfamiliar);
    let test_p = p_attack(&at_half);
    let test_rows = ScoredRows::of(test_set, &parts.test, &test_p, &test_unfamiliar);
    let alert = choose_for_rows(table, &valid, &test_rows, max_fpr);
    let test_verdicts: Vec<crate::model::Verdict> =
        at_half.iter().map(|v| crate::model::Verdict::from_probs(v.family_probs, v.gate, alert.threshold)).collect();
    let test = Metrics::compute(&test_verdicts, &test_set.y);
    let flagged: Vec<bool> = test_verdicts.iter().map(|v| v.is_attack()).collect();
    let by_source = SourceMetrics::by_source(table, &parts.test, &flagged, &test_set.y, &test_unfamiliar);
    Judged { alert, valid: Metrics::compute(&valid_at_half, &valid_set.y), test, by_source }
}
