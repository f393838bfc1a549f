//! Scoring as a whole task, the one place for it: the window, `predict` and the server all
//! score through [`score`], and record a batch through [`score_recorded`] (running row
//! first, failed on any error or cancellation, finished with counts and the per-flow results
//! file).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use polars::prelude::DataFrame;

use super::models::LoadedModel;
use super::task::{Cancelled, Progress, Task};
use crate::detect::Findings;
use crate::ingest::FlowTable;
use crate::ingest::export::metadata_frame_rows;
use crate::model::Verdict;
use crate::model::drift::{DriftReport, drift};
use crate::model::output::{verdict_frame, with_findings_of};
use crate::store::{FinishedBatch, Store};

/// Rows scored between two progress reports and cancellation checks: small enough that
/// Cancel answers within a fraction of a second, large enough to keep every core busy.
const ROWS_PER_STEP: usize = 1 << 15;

/// Scores every flow of `table` with `model`, reporting progress between steps.
pub fn score(model: &LoadedModel, table: &FlowTable, task: &Task) -> Result<Vec<Verdict>, Cancelled> {
    score_rows(model, table.features(), task)
}

/// Scores row-major `N×72` raw features.
pub fn score_rows(model: &LoadedModel, rows: &[f32], task: &Task) -> Result<Vec<Verdict>, Cancelled> {
    let n = rows.len() / crate::features::N_FEATURES;
    let mut verdicts = Vec::with_capacity(n);
    let stage = format!("scoring {n} flows with {}", model.name);
    for chunk in rows.chunks(ROWS_PER_STEP * crate::features::N_FEATURES) {
        task.check()?;
        task.report(Progress::new(stage.clone(), verdicts.len() as u64, Some(n as u64)));
        verdicts.extend(model.scorer.score_raw(chunk));
    }
    task.report(Progress::new(stage, n as u64, Some(n as u64)));
    Ok(verdicts)
}

/// A scored and recorded batch.
pub struct ScoredBatch {
    pub batch_id: i64,
    pub verdicts: Vec<Verdict>,
    /// Seconds spent scoring (not reading or recording).
    pub seconds: f64,
    /// How far the flows are from the model's training data (recorded with the batch).
    pub drift: Option<DriftReport>,
}

impl ScoredBatch {
    pub fn flows_per_s(&self) -> f64 {
        self.verdicts.len() as f64 / self.seconds.max(1e-9)
    }
}

/// Scores `table` with `model` and records the batch in the history in `data_dir`: a
/// `running` row first (a crash leaves it `interrupted`), then the per-flow results and the
/// counts; on any error or cancellation the row says `failed`, with the reason. `output`,
/// when given, receives the per-flow frame and the verdicts (e.g. to write `predict`'s file)
/// before the batch counts as finished, so a failed write is a failed batch.
pub fn score_recorded(
    data_dir: &Path,
    model: &LoadedModel,
    table: &FlowTable,
    findings: &Findings,
    output: Option<&mut dyn FnMut(&mut DataFrame, &[Verdict]) -> anyhow::Result<()>>,
    task: &Task,
) -> anyhow::Result<ScoredBatch> {
    let mut store = Store::open(data_dir)?;
    let batch_id = store.start_batch(&describe_input(table), &model.name)?;
    match score_and_save(&store, model, table, findings, output, task) {
        Ok((verdicts, results, seconds)) => {
            task.report(Progress::stage("comparing the flows with the training data (drift)"));
            let drift = drift(&model.preprocessor, table.features());
            let mut finished = summarise(&verdicts, Some(results), seconds);
            finished.drift_json = drift.as_ref().map(serde_json::to_string).transpose()?;
            store.finish_batch(batch_id, &finished)?;
            Ok(ScoredBatch { batch_id, verdicts, seconds, drift })
        }
        Err(e) => {
            let reason = if task.is_cancelled() { "cancelled".to_string() } else { format!("{e:#}") };
            store.fail_batch(batch_id, &reason)?;
            Err(e)
        }
    }
}

type Scored = (Vec<Verdict>, (String, String), f64);

fn score_and_save(
    store: &Store,
    model: &LoadedModel,
    table: &FlowTable,
    findings: &Findings,
    output: Option<&mut dyn FnMut(&mut DataFrame, &[Verdict]) -> anyhow::Result<()>>,
    task: &Task,
) -> anyhow::Result<Scored> {
    let started = Instant::now();
    let verdicts = score(model, table, task)?;
    let seconds = started.elapsed().as_secs_f64();
    task.report(Progress::stage("saving the results"));
    let n = table.len();
    let results = match output {
        Some(write) => {
            let mut frame = results_frame(table, &verdicts, findings, 0..n)?;
            write(&mut frame, &verdicts)?;
            store.save_results(&mut frame)?
        }
        // Without an output to write, the results go to the history a part at a time.
        None => {
            let parts = (0..n.max(1)).step_by(RESULT_ROWS_PER_PART).map(|start| start..(start + RESULT_ROWS_PER_PART).min(n));
            store.save_results_parts(parts.map(|rows| results_frame(table, &verdicts, findings, rows)))?
        }
    };
    Ok((verdicts, results, seconds))
}

/// Rows of the per-flow results built and written at a time (about 50 MB of frame).
const RESULT_ROWS_PER_PART: usize = 1 << 18;

/// Metadata, verdicts and findings of the flows in `rows`, as the history keeps them.
fn results_frame(table: &FlowTable, verdicts: &[Verdict], findings: &Findings, rows: std::ops::Range<usize>) -> polars::prelude::PolarsResult<DataFrame> {
    let frame = verdict_frame(metadata_frame_rows(table, rows.clone())?, &verdicts[rows.clone()])?;
    with_findings_of(frame, findings, rows)
}

/// The input as the history shows it: the files read, one per line.
pub fn describe_input(table: &FlowTable) -> String {
    table.sources.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>().join("\n")
}

/// Counts per predicted family and flagged flows of a batch.
pub fn summarise(verdicts: &[Verdict], results_file: Option<(String, String)>, seconds: f64) -> FinishedBatch {
    let mut family_counts = BTreeMap::new();
    for v in verdicts {
        *family_counts.entry(v.family.name().to_string()).or_insert(0) += 1;
    }
    FinishedBatch {
        flows: verdicts.len(),
        flagged: verdicts.iter().filter(|v| v.is_attack()).count(),
        family_counts,
        results_file,
        flows_per_s: verdicts.len() as f64 / seconds.max(1e-9),
        drift_json: None,
    }
}
