//! Training and comparison as whole tasks: every run, epoch, model and comparison row is
//! recorded as it happens, so a crash at any moment leaves a truthful record (`running`
//! rows of dead processes become `interrupted` at the next start) and the model registry
//! never points to a partial bundle (a bundle is registered only after it was renamed into
//! place).

use std::path::{Path, PathBuf};
use std::sync::mpsc::channel;
use std::time::Instant;

use anyhow::Context;

use super::task::{AsProgress, Progress, Task};
use crate::ingest::{FlowTable, ReadOptions, read_flows};
use crate::model::{DeviceChoice, MoeConfig, select_device};
use crate::store::{COMPARE_KIND, NewRun, RunStatus, Store};
use crate::train::compare::{CompareConfig, CompareEvent, Comparison, compare};
use crate::train::pipeline::{TrainingReport, fit};
use crate::train::split::SplitKind;
use crate::train::training::{TrainEvent, TrainingConfig};

/// One training run to perform.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub inputs: Vec<PathBuf>,
    pub read: ReadOptions,
    pub split: SplitKind,
    pub model: MoeConfig,
    pub training: TrainingConfig,
    pub device: DeviceChoice,
    /// Where the bundle is written (atomically).
    pub bundle_dir: PathBuf,
    /// Registry name of the resulting model.
    pub name: String,
    /// `train` or `finetune`.
    pub kind: String,
    /// Fine-tuning: the bundle whose weights and preprocessing training starts from (its
    /// config replaces `model`).
    pub start_from: Option<PathBuf>,
}

/// What a finished (or cancelled-with-a-best-epoch) run produced.
#[derive(Debug, Clone)]
pub struct TrainResult {
    pub run_id: i64,
    pub name: String,
    pub bundle_dir: PathBuf,
    pub report: TrainingReport,
}

/// Records the datasets of `table` (path, SHA-256, rows, dialect, report) and returns their ids.
pub fn record_datasets(store: &mut Store, table: &FlowTable) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for s in &table.sources {
        let sha = crate::ingest::hash::sha256_file(&s.path).with_context(|| format!("hashing {}", s.path.display()))?;
        let report = serde_json::to_string(&s.report)?;
        ids.push(store.record_dataset(&s.path, &sha, s.rows, &format!("{:?}", s.dialect), &report)?);
    }
    Ok(ids)
}

/// Reads the data, trains, saves and registers the model, recording everything in the
/// history in `data_dir`. The task sees every training event; cancelling it stops training
/// at the next step (the best epoch so far is kept and saved).
pub fn train_recorded(data_dir: &Path, req: &TrainRequest, task: &Task<TrainEvent>) -> anyhow::Result<TrainResult> {
    let mut store = Store::open(data_dir)?;
    let table = read_flows(&req.inputs, &req.read)?;
    let datasets = record_datasets(&mut store, &table)?;
    let selected = select_device(req.device)?;
    let start = req
        .start_from
        .as_deref()
        .map(|dir| {
            crate::model::ModelBundle::load(dir, &selected.device)
                .with_context(|| format!("model bundle {}", dir.display()))
        })
        .transpose()?;
    let parent = match &req.start_from {
        Some(dir) => Some(serde_json::json!({
            "bundle": dir.display().to_string(),
            "sha256": crate::ingest::hash::sha256_file(&dir.join("manifest.json"))?,
        })),
        None => None,
    };
    let config_json = serde_json::json!({
        "model": serde_json::from_str::<serde_json::Value>(&burn::config::config_to_json(start.as_ref().map_or(&req.model, |b| &b.config)))?,
        "training": serde_json::from_str::<serde_json::Value>(&burn::config::config_to_json(&req.training))?,
        "name": req.name,
        "parent": parent,
    });
    let run_id = store.start_run(&NewRun {
        kind: req.kind.clone(),
        config_json: config_json.to_string(),
        split: req.split.name(),
        seed: req.training.seed,
        backend: selected.description.clone(),
        datasets,
    })?;
    let started = Instant::now();
    let outcome = train_and_save(data_dir, req, &table, &selected.device, run_id, start.as_ref(), task);
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(report) => {
            let status = if report.cancelled { RunStatus::Cancelled } else { RunStatus::Finished };
            let metrics = serde_json::json!({
                "test": report.test,
                "valid": report.valid,
                "best_epoch": report.best_epoch,
                "before": report.before,
                "parent": parent,
            });
            super::models::register(&mut store, &req.name, &req.bundle_dir, Some(run_id), &metrics)?;
            store.finish_run(run_id, status, seconds, Some(&metrics.to_string()), None)?;
            Ok(TrainResult { run_id, name: req.name.clone(), bundle_dir: req.bundle_dir.clone(), report })
        }
        Err(e) => {
            let status = if task.is_cancelled() { RunStatus::Cancelled } else { RunStatus::Failed };
            store.finish_run(run_id, status, seconds, None, Some(&format!("{e:#}")))?;
            Err(e)
        }
    }
}

/// Trains with per-epoch recording (from a second connection, as events arrive) and saves
/// the bundle.
fn train_and_save(
    data_dir: &Path,
    req: &TrainRequest,
    table: &FlowTable,
    device: &burn::tensor::Device,
    run_id: i64,
    start: Option<&crate::model::ModelBundle>,
    task: &Task<TrainEvent>,
) -> anyhow::Result<TrainingReport> {
    let (tx, rx) = channel::<TrainEvent>();
    let (bundle, report) = std::thread::scope(|scope| {
        let recorder = scope.spawn(move || -> anyhow::Result<()> {
            let mut store = Store::open(data_dir)?;
            for event in rx {
                if let TrainEvent::Epoch(e) = &event {
                    store.record_epoch(run_id, e.epoch as u32, e.train_loss, &serde_json::to_string(e)?)?;
                }
                task.report(event);
            }
            Ok(())
        });
        let fitted = fit(table, &req.model, &req.training, req.split, device, Some(&tx), task.cancel_flag(), start);
        drop(tx);
        let recorded = recorder.join().map_err(|_| anyhow::anyhow!("the epoch recorder stopped"))?;
        recorded?;
        fitted.map_err(anyhow::Error::from)
    })?;
    bundle.save(&req.bundle_dir)?;
    Ok(report)
}

/// One model comparison to perform.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    pub inputs: Vec<PathBuf>,
    pub read: ReadOptions,
    pub config: CompareConfig,
    pub device: DeviceChoice,
}

/// Reads the data and compares the models of `req`, recording the run, its datasets and each
/// model's line in the history in `data_dir` as it is measured.
pub fn compare_recorded(
    data_dir: &Path,
    req: &CompareRequest,
    task: &Task<CompareEvent>,
) -> anyhow::Result<(i64, Comparison)> {
    let mut store = Store::open(data_dir)?;
    let table = read_flows(&req.inputs, &req.read)?;
    let datasets = record_datasets(&mut store, &table)?;
    let selected = select_device(req.device)?;
    let config = &req.config;
    let config_json = serde_json::json!({
        "models": config.contenders,
        "moe": serde_json::from_str::<serde_json::Value>(&burn::config::config_to_json(&config.moe))?,
        "training": serde_json::from_str::<serde_json::Value>(&burn::config::config_to_json(&config.training))?,
        "autoencoder": serde_json::from_str::<serde_json::Value>(&burn::config::config_to_json(&config.anomaly))?,
    });
    let run_id = store.start_run(&NewRun {
        kind: COMPARE_KIND.into(),
        config_json: config_json.to_string(),
        split: config.split.name(),
        seed: config.seed,
        backend: selected.description.clone(),
        datasets,
    })?;
    let start = Instant::now();
    let (tx, rx) = channel::<CompareEvent>();
    let outcome = std::thread::scope(|scope| {
        let recorder = scope.spawn(move || -> anyhow::Result<()> {
            let mut store = Store::open(data_dir)?;
            let mut position = 0;
            for event in rx {
                if let CompareEvent::Finished(row) = &event {
                    store.record_comparison_row(run_id, position, row)?;
                    position += 1;
                }
                task.report(event);
            }
            Ok(())
        });
        let compared = compare(&table, config, &selected.device, Some(&tx), task.cancel_flag());
        drop(tx);
        let recorded = recorder.join().map_err(|_| anyhow::anyhow!("the comparison recorder stopped"))?;
        recorded?;
        compared.map_err(anyhow::Error::from)
    });
    let seconds = start.elapsed().as_secs_f64();
    match outcome {
        Ok(comparison) => {
            store.finish_run(run_id, RunStatus::Finished, seconds, Some(&serde_json::to_string(&comparison)?), None)?;
            Ok((run_id, comparison))
        }
        Err(e) => {
            let status = if task.is_cancelled() { RunStatus::Cancelled } else { RunStatus::Failed };
            store.finish_run(run_id, status, seconds, None, Some(&format!("{e:#}")))?;
            Err(e)
        }
    }
}

impl AsProgress for TrainEvent {
    fn as_progress(&self) -> Option<Progress> {
        match self {
            TrainEvent::Started { epochs, train_rows, .. } => {
                Some(Progress::new(format!("training on {train_rows} flows"), 0, Some(*epochs as u64)))
            }
            TrainEvent::Step { .. } => None,
            TrainEvent::Member { index, of, seed } => {
                Some(Progress::stage(format!("member {} of {of} (seed {seed})", index + 1)))
            }
            TrainEvent::Epoch(e) => Some(Progress::new(
                format!("epoch {}: loss {:.4}, validation F1 {:.4}", e.epoch, e.train_loss, e.valid_f1),
                e.epoch as u64,
                None,
            )),
            TrainEvent::Finished { best_epoch, epochs_run, cancelled } => Some(Progress::stage(format!(
                "{} after {epochs_run} epochs; best epoch {best_epoch}",
                if *cancelled { "cancelled" } else { "finished" }
            ))),
        }
    }
}

impl AsProgress for CompareEvent {
    fn as_progress(&self) -> Option<Progress> {
        match self {
            CompareEvent::Started { models, train_rows, test_rows } => Some(Progress::new(
                format!("comparing {} models ({train_rows} training flows, {test_rows} test flows)", models.len()),
                0,
                Some(models.len() as u64),
            )),
            CompareEvent::Training { index, model } => {
                Some(Progress::stage(format!("training {model} (model {})", index + 1)))
            }
            CompareEvent::Moe(e) => e.as_progress(),
            CompareEvent::Finished(row) => Some(Progress::stage(format!("{}: F1 {:.4}", row.model, row.metrics.f1))),
        }
    }
}
