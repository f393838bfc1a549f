//! Choosing a trained bundle's alert threshold again, on the validation rows of its own split
//! (`train::threshold`): for bundles trained before training chose one, or for another
//! `--max-fpr`. The weights are untouched; only `metrics.json` changes (atomically), and
//! every front end loads the new threshold with the model.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::ingest::{ReadOptions, read_flows};
use crate::model::{DeviceChoice, ModelBundle, select_device};
use crate::train::metrics::SourceMetrics;
use crate::train::pipeline::{Judged, benign_rows, judge, prepare};
use crate::train::split::SplitKind;
use crate::train::threshold::AlertThreshold;

/// What `rethreshold` chose and changed.
#[derive(Debug, Clone)]
pub struct Rethresholded {
    pub before: f32,
    pub alert: AlertThreshold,
    /// Test rows per source at the new threshold.
    pub by_source: Vec<SourceMetrics>,
    /// Whether the bundle, older than the field, got the median benign training flow as its
    /// explanation baseline (from the same training rows).
    pub benign_median_added: bool,
}

/// Reproduces the split `dir`'s model was trained on from `inputs` (the files it was trained
/// on: the split's seed, kind, held-out files and masked features come from the bundle),
/// chooses the alert threshold on its validation rows for `max_fpr`, and rewrites the
/// bundle's test results at it. Refuses inputs that do not give the recorded split.
pub fn rethreshold(dir: &Path, inputs: &[PathBuf], read: &ReadOptions, max_fpr: f64) -> anyhow::Result<Rethresholded> {
    let max_fpr = crate::train::threshold::checked_max_fpr(max_fpr, "--max-fpr").map_err(anyhow::Error::msg)?;
    let device = select_device(DeviceChoice::Cpu)?.device;
    let bundle = ModelBundle::load(dir, &device).with_context(|| format!("model bundle {}", dir.display()))?;
    let recorded = |key: &str| bundle.metrics.pointer(&format!("/report/{key}")).and_then(serde_json::Value::as_u64);
    let training = SplitRecord::deserialize(&bundle.metrics["training_config"]).with_context(|| {
        format!("{}: metrics.json has no training configuration to reproduce the split from", dir.display())
    })?;
    let kind = SplitKind::from_name(&bundle.manifest.split)
        .with_context(|| format!("{}: unknown split '{}' in the manifest", dir.display(), bundle.manifest.split))?;
    let table = read_flows(inputs, read)?;
    let prepared = prepare(
        &table,
        kind,
        &training.test_files,
        &training.masked_features,
        crate::train::training::seed_of_split(training.seed, training.split_seed),
        Some(&bundle.preprocessor),
    )?;
    for (key, rows) in [("valid_rows", prepared.valid.len()), ("test_rows", prepared.test.len())] {
        let expected = recorded(key);
        anyhow::ensure!(
            expected == Some(rows as u64),
            "these inputs give {rows} {} rows where the model's training had {}: pass the files it was trained on",
            &key[..key.len() - 5],
            expected.map_or("none recorded".into(), |n| n.to_string())
        );
    }
    let Judged { alert, test, by_source, .. } = judge(
        &table,
        &prepared.parts,
        &bundle.members,
        bundle.familiarity.as_ref(),
        (&prepared.valid, &prepared.test),
        max_fpr,
        &device,
    );
    let mut metrics = bundle.metrics.clone();
    metrics["report"]["alert"] = serde_json::to_value(&alert)?;
    metrics["report"]["test"] = serde_json::to_value(&test)?;
    metrics["report"]["by_source"] = serde_json::to_value(&by_source)?;
    metrics["training_config"]["alert_max_fpr"] = serde_json::json!(max_fpr);
    let text = serde_json::to_vec_pretty(&metrics)?;
    crate::ingest::export::write_atomically(&dir.join("metrics.json"), |f| std::io::Write::write_all(f, &text))?;
    // A bundle trained before training stored its benign median gets it from the same rows
    // training would have taken it from, so its explanations start from benign traffic.
    let benign_median_added = bundle.preprocessor.benign_median.is_empty() && {
        let pre = bundle.preprocessor.clone().with_benign_median(&benign_rows(&table, &prepared.parts.train));
        let text = serde_json::to_vec_pretty(&pre)?;
        crate::ingest::export::write_atomically(&dir.join("preprocess.json"), |f| std::io::Write::write_all(f, &text))?;
        !pre.benign_median.is_empty()
    };
    Ok(Rethresholded { before: bundle.alert_threshold(), alert, by_source, benign_median_added })
}

/// After `rethreshold` of the bundle in `dir`: if the history in `data_dir` has it registered
/// as `name`, its registry entry gets the new metrics too (the History view and `history
/// models` show them). Returns whether it was registered.
pub fn record(data_dir: &Path, name: &str, dir: &Path) -> anyhow::Result<bool> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("model bundle {}", dir.display()))?;
    let metrics = std::fs::read_to_string(dir.join("metrics.json"))
        .with_context(|| format!("{}", dir.join("metrics.json").display()))?;
    Ok(crate::store::Store::open(data_dir)?.update_model_metrics(name, &dir, &metrics)?)
}

/// What reproducing a split needs of a bundle's training configuration (read alone, so bundles
/// written before later settings existed still parse).
#[derive(Deserialize)]
struct SplitRecord {
    seed: u64,
    #[serde(default)]
    split_seed: Option<u64>,
    #[serde(default)]
    test_files: Vec<String>,
    #[serde(default)]
    masked_features: Vec<String>,
}
