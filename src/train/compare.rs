//! The model comparison: the MoE, the classical baselines and the autoencoder, each trained on
//! the same split of the same data and measured on the same test rows with the same metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::autoencoder::{AnomalyConfig, fit_anomaly};
use super::baselines::{self, Baseline, BaselineError, FeatureMatrix};
use super::data::Dataset;
use super::metrics::{BinaryMetrics, SourceMetrics};
use super::pipeline::{PipelineError, PreparedSplit, prepare};
use super::split::SplitKind;
use super::threshold::{ScoredRows, choose_on_rows};
use super::training::{TrainError, TrainEvent, TrainingConfig, train};
use crate::features::N_FEATURES;
use crate::ingest::label::AttackFamily;
use crate::ingest::table::FlowTable;
use crate::model::MoeConfig;
use crate::model::inference::{ATTACK_THRESHOLD, predict_preprocessed};

/// One model of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contender {
    Moe,
    Baseline(Baseline),
    /// Trained on benign flows only.
    Autoencoder,
}

impl Contender {
    /// Every model, in table order.
    pub fn all() -> Vec<Contender> {
        let mut all = vec![Contender::Moe];
        all.extend(Baseline::ALL.iter().map(|&b| Contender::Baseline(b)));
        all.push(Contender::Autoencoder);
        all
    }

    pub fn label(self) -> &'static str {
        match self {
            Contender::Moe => "MoE (FT-Transformer + 1D-CNN, burn)",
            Contender::Baseline(b) => b.label(),
            Contender::Autoencoder => "autoencoder (burn, benign only)",
        }
    }
}

/// What to compare, and how.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    pub split: SplitKind,
    /// Seed of the split and of every learner.
    pub seed: u64,
    pub contenders: Vec<Contender>,
    pub moe: MoeConfig,
    pub training: TrainingConfig,
    pub anomaly: AnomalyConfig,
}

/// One line of the comparison table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComparisonRow {
    pub model: String,
    /// Trained without attack labels.
    pub unsupervised: bool,
    #[serde(flatten)]
    pub metrics: BinaryMetrics,
    pub train_seconds: f64,
    /// Test flows scored per second (preprocessed input, one thread pool, this machine).
    pub flows_per_second: f64,
    /// The score at or above which a flow is flagged: for the classifiers, the P(attack) chosen
    /// on the validation rows by the rule that sets a trained model's alert threshold
    /// (`train::threshold`, `TrainingConfig::alert_max_fpr`), so that each is judged at an
    /// operating point of its own chosen the same way; for the autoencoder, the
    /// reconstruction error set on held-back benign flows.
    pub threshold: f32,
    /// The same metrics per data folder (network, release, tool) of the test rows.
    #[serde(default)]
    pub by_source: Vec<SourceMetrics>,
}

/// A whole comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub split: String,
    pub seed: u64,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub test_rows: usize,
    pub test_attacks: usize,
    pub duplicates_removed: usize,
    pub rows: Vec<ComparisonRow>,
}

/// Progress, as a comparison runs.
#[derive(Debug, Clone)]
pub enum CompareEvent {
    Started {
        models: Vec<String>,
        train_rows: usize,
        test_rows: usize,
    },
    Training {
        index: usize,
        model: String,
    },
    /// Epoch-level progress of the MoE.
    Moe(TrainEvent),
    Finished(ComparisonRow),
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("{0}: {1}")]
    Train(&'static str, TrainError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error("comparison cancelled")]
    Cancelled,
}

/// Runs every contender of `config` on one split of `table`.
pub fn compare(
    table: &FlowTable,
    config: &CompareConfig,
    device: &Device,
    events: Option<&Sender<CompareEvent>>,
    cancel: &AtomicBool,
) -> Result<Comparison, CompareError> {
    let send = |e: CompareEvent| {
        if let Some(tx) = events {
            let _ = tx.send(e);
        }
    };
    let prepared =
        prepare(table, config.split, &config.training.test_files, &config.training.masked_features, config.seed, None)?;
    let test_attack: Vec<bool> = prepared.test.y.iter().map(|f| f.is_attack()).collect();
    let models = config.contenders.iter().map(|c| c.label().to_string()).collect();
    send(CompareEvent::Started { models, train_rows: prepared.train.len(), test_rows: prepared.test.len() });
    let mut rows = Vec::new();
    for (index, &contender) in config.contenders.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(CompareError::Cancelled);
        }
        send(CompareEvent::Training { index, model: contender.label().into() });
        let scored = match contender {
            Contender::Moe => run_moe(&prepared, config, device, events, cancel)?.at_validation_threshold(
                table,
                &prepared,
                config.training.alert_max_fpr,
            ),
            Contender::Baseline(b) => run_baseline(b, &prepared, config.seed)?.at_validation_threshold(
                table,
                &prepared,
                config.training.alert_max_fpr,
            ),
            Contender::Autoencoder => run_autoencoder(&prepared, &config.anomaly, device, cancel)?,
        };
        let row = scored.into_row(contender, &test_attack, table, &prepared);
        send(CompareEvent::Finished(row.clone()));
        rows.push(row);
    }
    Ok(Comparison {
        split: config.split.name(),
        seed: config.seed,
        train_rows: prepared.train.len(),
        valid_rows: prepared.valid.len(),
        test_rows: prepared.test.len(),
        test_attacks: test_attack.iter().filter(|&&a| a).count(),
        duplicates_removed: prepared.parts.duplicates_removed,
        rows,
    })
}

fn attack_targets(data: &Dataset) -> Vec<bool> {
    data.y.iter().map(|f| f.is_attack()).collect()
}

/// What one contender gave on the test rows (and, for the classifiers, on the validation rows).
struct Scored {
    scores: Vec<f32>,
    valid_scores: Vec<f32>,
    threshold: f32,
    train_seconds: f64,
    score_seconds: f64,
}

impl Scored {
    /// Flags at the threshold chosen on the validation rows' scores.
    fn at_validation_threshold(self, table: &FlowTable, prepared: &PreparedSplit, max_fpr: f64) -> Scored {
        let valid = ScoredRows::of(&prepared.valid, &prepared.parts.valid, &self.valid_scores, &[]);
        let (threshold, _) = choose_on_rows(table, &valid, max_fpr);
        Scored { threshold, ..self }
    }

    fn into_row(
        self,
        contender: Contender,
        test_attack: &[bool],
        table: &FlowTable,
        prepared: &PreparedSplit,
    ) -> ComparisonRow {
        let flagged: Vec<bool> = self.scores.iter().map(|&s| s >= self.threshold).collect();
        let by_source = SourceMetrics::by_source(table, &prepared.parts.test, &flagged, &prepared.test.y, &[]);
        ComparisonRow {
            model: contender.label().into(),
            unsupervised: contender == Contender::Autoencoder,
            metrics: BinaryMetrics::from_scores(&self.scores, self.threshold, test_attack),
            train_seconds: self.train_seconds,
            flows_per_second: self.scores.len() as f64 / self.score_seconds.max(1e-9),
            threshold: self.threshold,
            by_source,
        }
    }
}

fn run_moe(
    prepared: &PreparedSplit,
    config: &CompareConfig,
    device: &Device,
    events: Option<&Sender<CompareEvent>>,
    cancel: &AtomicBool,
) -> Result<Scored, CompareError> {
    let training = TrainingConfig { seed: config.seed, ..config.training.clone() };
    let start = Instant::now();
    let outcome = std::thread::scope(|scope| {
        // Forward the MoE's epoch progress as comparison events.
        let (tx, rx) = channel::<TrainEvent>();
        scope.spawn(move || {
            for e in rx {
                if let Some(out) = events {
                    let _ = out.send(CompareEvent::Moe(e));
                }
            }
        });
        train(&config.moe, &training, &prepared.train, &prepared.valid, device, Some(&tx), cancel, None)
    });
    let outcome = outcome.map_err(|e| match e {
        TrainError::Cancelled => CompareError::Cancelled,
        e => CompareError::Train("MoE", e),
    })?;
    if outcome.cancelled {
        return Err(CompareError::Cancelled);
    }
    let train_seconds = start.elapsed().as_secs_f64();
    let plain = device.clone().without_autodiff();
    let start = Instant::now();
    let p_attack = |x: &[f32]| -> Vec<f32> {
        let (probs, _) = predict_preprocessed(std::slice::from_ref(&outcome.model), x, &plain, 2048);
        let benign = AttackFamily::Benign.index();
        probs.chunks_exact(AttackFamily::N_CLASSES).map(|p| (1.0 - p[benign]).clamp(0.0, 1.0)).collect()
    };
    let scores = p_attack(&prepared.test.x);
    let score_seconds = start.elapsed().as_secs_f64();
    let valid_scores = p_attack(&prepared.valid.x);
    Ok(Scored { scores, valid_scores, threshold: ATTACK_THRESHOLD, train_seconds, score_seconds })
}

fn run_baseline(kind: Baseline, prepared: &PreparedSplit, seed: u64) -> Result<Scored, CompareError> {
    let x = FeatureMatrix::from_rows(&prepared.train.x);
    let y = attack_targets(&prepared.train);
    let start = Instant::now();
    let model = baselines::fit(kind, &x, &y, seed)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let scores = model.scores(&FeatureMatrix::from_rows(&prepared.test.x)).map_err(|e| baselines::failed(kind, e))?;
    let score_seconds = start.elapsed().as_secs_f64();
    let valid_scores =
        model.scores(&FeatureMatrix::from_rows(&prepared.valid.x)).map_err(|e| baselines::failed(kind, e))?;
    Ok(Scored { scores, valid_scores, threshold: ATTACK_THRESHOLD, train_seconds, score_seconds })
}

/// Benign rows of a dataset, row-major: the only rows the autoencoder ever sees in training.
fn benign_rows(data: &Dataset) -> Vec<f32> {
    let mut out = Vec::new();
    for (i, family) in data.y.iter().enumerate() {
        if *family == AttackFamily::Benign {
            out.extend_from_slice(&data.x[i * N_FEATURES..(i + 1) * N_FEATURES]);
        }
    }
    out
}

fn run_autoencoder(
    prepared: &PreparedSplit,
    config: &AnomalyConfig,
    device: &Device,
    cancel: &AtomicBool,
) -> Result<Scored, CompareError> {
    let start = Instant::now();
    let detector = fit_anomaly(config, &benign_rows(&prepared.train), &benign_rows(&prepared.valid), device, cancel)
        .map_err(|e| match e {
            TrainError::Cancelled => CompareError::Cancelled,
            e => CompareError::Train("autoencoder", e),
        })?;
    let train_seconds = start.elapsed().as_secs_f64();
    let plain = device.clone().without_autodiff();
    let start = Instant::now();
    let scores = detector.scores(&prepared.test.x, &plain);
    let score_seconds = start.elapsed().as_secs_f64();
    Ok(Scored { scores, valid_scores: Vec::new(), threshold: detector.threshold, train_seconds, score_seconds })
}

impl Comparison {
    /// The table as text, under a line about the split.
    pub fn to_text(&self) -> String {
        format!(
            "split {}  seed {}  train {}  valid {}  test {} ({} attacks)  duplicates removed {}\n\n{}",
            self.split,
            self.seed,
            self.train_rows,
            self.valid_rows,
            self.test_rows,
            self.test_attacks,
            self.duplicates_removed,
            table_text(&self.rows)
        ) + &by_source_text(&self.rows)
    }
}

/// Each model's false-positive rate and recall per data folder, when there are several.
fn by_source_text(rows: &[ComparisonRow]) -> String {
    if rows.iter().all(|r| r.by_source.len() < 2) {
        return String::new();
    }
    let mut s = String::from("\nby source (FPR / recall):\n");
    for r in rows {
        let cells: Vec<String> = r
            .by_source
            .iter()
            .map(|m| {
                format!(
                    "{} {} / {}",
                    m.source,
                    m.false_positive_rate.map_or("-".into(), |v| format!("{v:.4}")),
                    m.recall.map_or("-".into(), |v| format!("{v:.4}"))
                )
            })
            .collect();
        s.push_str(&format!("{:<38} {}\n", r.model, cells.join("   ")));
    }
    s
}

fn optional(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |a| format!("{a:.4}"))
}

/// Comparison lines as a text table, one line per model.
pub fn table_text(rows: &[ComparisonRow]) -> String {
    let mut s = format!(
        "{:<38} {:>7} {:>9} {:>7} {:>7} {:>9} {:>7} {:>13} {:>9} {:>10}\n",
        "model", "F1", "precision", "recall", "FPR", "threshold", "ROC-AUC", "recall@1%FPR", "train s", "flows/s"
    );
    for r in rows {
        let m = &r.metrics;
        s.push_str(&format!(
            "{:<38} {:>7.4} {:>9.4} {:>7.4} {:>7.4} {:>9.4} {:>7} {:>13} {:>9.1} {:>10.0}\n",
            r.model,
            m.f1,
            m.precision,
            m.recall,
            m.false_positive_rate,
            r.threshold,
            optional(m.roc_auc),
            optional(m.recall_at_1pct_fpr),
            r.train_seconds,
            r.flows_per_second
        ));
    }
    s
}
