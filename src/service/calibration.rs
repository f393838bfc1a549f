//! Calibration on a known-good baseline: the analyst hands NetVigil traffic of their own
//! network that holds no attacks; the model's alert threshold becomes the lowest P(attack) at
//! which no more than the chosen share of that traffic is flagged. Stored with the model in the
//! history, it is the threshold every front end loads with the model (`models::load_calibrated`).

use std::path::{Path, PathBuf};

use super::models::{self, LoadedModel};
use super::task::{Progress, Task};
use crate::ingest::{ReadOptions, hash::sha256_file};
use crate::store::{CalibrationRecord, NewCalibration, Store};

/// The default false-positive rate to calibrate for: 0.1 %.
pub const DEFAULT_FPR: f64 = 0.001;

pub use crate::train::threshold::threshold_for;

/// Share of `scores` at or above `threshold`.
pub fn flagged_share(scores: &[f32], threshold: f32) -> f64 {
    if scores.is_empty() {
        0.0
    } else {
        scores.iter().filter(|&&s| s >= threshold).count() as f64 / scores.len() as f64
    }
}

/// Scores `baseline` with `model`, sets the threshold for `target_fpr` and records it as the
/// model's active calibration in the history in `data_dir` (registering the model first if
/// it was given as a bundle folder that the registry does not hold yet).
pub fn calibrate(
    data_dir: &Path,
    model: &LoadedModel,
    baseline: &[PathBuf],
    target_fpr: f64,
    read: &ReadOptions,
    task: &Task,
) -> anyhow::Result<CalibrationRecord> {
    anyhow::ensure!((0.0..1.0).contains(&target_fpr), "--fpr {target_fpr} is not a rate in [0, 1)");
    let table = super::reading::read(baseline, read, task)?;
    anyhow::ensure!(!table.is_empty(), "the baseline holds no flows");
    let verdicts = super::score(model, &table, task)?;
    let scores: Vec<f32> = verdicts.iter().map(|v| v.p_attack).collect();
    let threshold = threshold_for(&scores, target_fpr).unwrap_or(model.threshold);
    task.report(Progress::stage(format!(
        "threshold {threshold:.6} for {:.3} % of {} flows",
        target_fpr * 100.0,
        scores.len()
    )));
    let mut store = Store::open(data_dir)?;
    if store.model(&model.name)?.is_none() {
        models::register(&mut store, &model.name, &model.dir, None, &model.metrics)?;
    }
    let files: Vec<&PathBuf> = table.sources.iter().map(|s| &s.path).collect();
    let hashes = files.iter().map(|p| sha256_file(p)).collect::<Result<Vec<_>, _>>()?;
    let id = store.save_calibration(&NewCalibration {
        model_name: model.name.clone(),
        threshold,
        target_fpr,
        baseline: files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n"),
        baseline_sha256: hashes.join("\n"),
        flows: scores.len(),
        fpr_before: flagged_share(&scores, model.threshold),
        fpr_after: flagged_share(&scores, threshold),
    })?;
    store
        .active_calibration(&model.name)?
        .filter(|c| c.id == id)
        .ok_or_else(|| anyhow::anyhow!("the calibration was not recorded"))
}

/// How a calibration holds on traffic the analyst knows to be good: its flagged share
/// against the calibration's target.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationCheck {
    pub flagged_share: f64,
    pub past_target: bool,
    pub message: String,
}

/// Checks `calibration` on the verdicts of known-good flows (scored with it).
pub fn check(calibration: &CalibrationRecord, verdicts: &[crate::model::BriefVerdict]) -> CalibrationCheck {
    let flagged = verdicts.iter().filter(|v| v.is_attack()).count();
    let share = if verdicts.is_empty() { 0.0 } else { flagged as f64 / verdicts.len() as f64 };
    // One flow over the allowance is noise on a small file: past the target means more than
    // the target's share plus one flow.
    let allowance = calibration.target_fpr + 1.0 / verdicts.len().max(1) as f64;
    let past_target = share > allowance;
    let message = format!(
        "{flagged} of {} known-good flows flagged ({:.3} %) at threshold {:.4}, calibrated for {:.3} %{}",
        verdicts.len(),
        share * 100.0,
        calibration.threshold,
        calibration.target_fpr * 100.0,
        if past_target {
            format!(
                ": {:.3} points past the target; recalibrate on recent known-good traffic",
                (share - calibration.target_fpr) * 100.0
            )
        } else {
            ": within the target".to_string()
        }
    );
    CalibrationCheck { flagged_share: share, past_target, message }
}
