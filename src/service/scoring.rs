//! Scoring as a whole task, the one place for it: the window, `predict` and the server all
//! score through [`score`], and record a batch through [`score_recorded`] (running row
//! first, failed on any error or cancellation, finished with counts and the per-flow results
//! file).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use polars::prelude::DataFrame;

use super::models::LoadedModel;
use super::scored_reading::ScoredAlong;
use super::task::{Cancelled, Progress, Task};
use crate::detect::Findings;
use crate::ingest::FlowTable;
use crate::ingest::export::metadata_frame_rows;
use crate::model::drift::{DriftReport, drift};
use crate::model::output::{verdict_frame, with_findings_of};
use crate::model::{BriefVerdict, Verdict};
use crate::store::{FinishedBatch, Store};

/// Rows scored between two progress reports and cancellation checks: small enough that
/// Cancel answers within a fraction of a second, large enough to keep every core busy.
const ROWS_PER_STEP: usize = 1 << 15;

/// Scores every flow of `table` with `model`, reporting progress between steps.
pub fn score(model: &LoadedModel, table: &FlowTable, task: &Task) -> Result<Vec<Verdict>, Cancelled> {
    score_rows(model, table.features(), task)
}

/// [`score`], keeping only the brief verdicts (what the window shows of a preview).
pub fn score_briefly(model: &LoadedModel, table: &FlowTable, task: &Task) -> Result<Vec<BriefVerdict>, Cancelled> {
    let mut verdicts = Vec::with_capacity(table.len());
    score_steps(model, table.features(), 0, table.len(), task, &mut |scored| {
        verdicts.extend(scored.iter().map(BriefVerdict::from))
    })?;
    Ok(verdicts)
}

/// Scores row-major `N×72` raw features.
pub fn score_rows(model: &LoadedModel, rows: &[f32], task: &Task) -> Result<Vec<Verdict>, Cancelled> {
    let n = rows.len() / crate::features::N_FEATURES;
    let mut verdicts = Vec::with_capacity(n);
    score_steps(model, rows, 0, n, task, &mut |scored| verdicts.extend_from_slice(scored))?;
    Ok(verdicts)
}

/// Scores `rows` (flows `first..` of `total`) a step at a time, checking for cancellation and
/// reporting progress before each, and hands each step's verdicts to `keep`.
fn score_steps(
    model: &LoadedModel,
    rows: &[f32],
    first: usize,
    total: usize,
    task: &Task,
    keep: &mut dyn FnMut(&[Verdict]),
) -> Result<(), Cancelled> {
    let stage = format!("scoring {total} flows with {}", model.name);
    let mut done = first;
    for chunk in rows.chunks(ROWS_PER_STEP * crate::features::N_FEATURES) {
        task.check()?;
        task.report(Progress::new(stage.clone(), done as u64, Some(total as u64)));
        let scored = model.scorer.score_raw(chunk);
        done += scored.len();
        keep(&scored);
    }
    if done == total {
        task.report(Progress::new(stage, total as u64, Some(total as u64)));
    }
    Ok(())
}

/// A scored and recorded batch.
pub struct ScoredBatch {
    pub batch_id: i64,
    pub verdicts: Vec<BriefVerdict>,
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
    output: Option<&mut dyn ResultsOutput>,
    task: &Task,
) -> anyhow::Result<ScoredBatch> {
    score_recorded_along(data_dir, model, table, findings, output, None, task)
}

/// [`score_recorded`] with the verdicts `along` computed while the flows were read
/// (`service::scored_reading`), when they are the same model's, for every row: then only the
/// recording is left to do.
pub fn score_recorded_along(
    data_dir: &Path,
    model: &LoadedModel,
    table: &FlowTable,
    findings: &Findings,
    output: Option<&mut dyn ResultsOutput>,
    along: Option<ScoredAlong>,
    task: &Task,
) -> anyhow::Result<ScoredBatch> {
    let along = along.filter(|a| std::sync::Arc::ptr_eq(&a.scorer, &model.scorer) && a.verdicts.len() == table.len());
    let mut store = Store::open(data_dir)?;
    let batch_id = store.start_batch(&describe_input(table), &model.name)?;
    match score_and_save(&store, model, table, findings, output, along, task) {
        Ok((verdicts, results, seconds)) => {
            task.report(Progress::stage("comparing the flows with the training data (drift)"));
            let drift = drift(&model.preprocessor, table.features());
            let mut finished = summarise(&verdicts, Some(results), seconds, model.threshold);
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

type Scored = (Vec<BriefVerdict>, (String, String), f64);

/// Where a recorded batch's results also go (`predict -o`), a part at a time as each part is
/// scored, in row order.
pub trait ResultsOutput {
    /// The rows `rows` of the table: their frame (metadata, verdicts, findings, as the history
    /// keeps them) and full verdicts. Columns added to `frame` are kept in the history too.
    fn part(&mut self, frame: &mut DataFrame, verdicts: &[Verdict], rows: std::ops::Range<usize>)
    -> anyhow::Result<()>;
}

/// The results go to the history, and to `output` when there is one, a part at a time as the
/// part is scored: only the brief verdicts of the whole are kept, never the whole's full ones
/// (a frame and full verdicts of ten million flows were 5 GB).
fn score_and_save(
    store: &Store,
    model: &LoadedModel,
    table: &FlowTable,
    findings: &Findings,
    mut output: Option<&mut dyn ResultsOutput>,
    along: Option<ScoredAlong>,
    task: &Task,
) -> anyhow::Result<Scored> {
    let n = table.len();
    let mut verdicts = Vec::with_capacity(n);
    let mut seconds = along.as_ref().map_or(0.0, |a| a.seconds);
    // A part that fails (cancelled, or the output refused it) ends the history's results file;
    // the batch then fails with that part's own error, not the file's.
    let mut failed: Option<anyhow::Error> = None;
    let parts = (0..n.max(1)).step_by(RESULT_ROWS_PER_PART).map(|start| {
        let rows = start..(start + RESULT_ROWS_PER_PART).min(n);
        let mut part = || -> anyhow::Result<DataFrame> {
            let scored = match &along {
                Some(along) => {
                    task.check()?;
                    task.report(Progress::new(
                        format!("recording {n} flows scored with {}", model.name),
                        rows.start as u64,
                        Some(n as u64),
                    ));
                    Cow::Borrowed(&along.verdicts[rows.clone()])
                }
                None => {
                    let started = Instant::now();
                    let mut scored = Vec::with_capacity(rows.len());
                    let features = &table.features()
                        [rows.start * crate::features::N_FEATURES..rows.end * crate::features::N_FEATURES];
                    score_steps(model, features, rows.start, n, task, &mut |part| scored.extend_from_slice(part))?;
                    seconds += started.elapsed().as_secs_f64();
                    Cow::Owned(scored)
                }
            };
            verdicts.extend(scored.iter().map(BriefVerdict::from));
            let mut frame = results_frame(table, &scored, findings, rows.clone())?;
            if let Some(out) = output.as_mut() {
                out.part(&mut frame, &scored, rows.clone())?;
            }
            Ok(frame)
        };
        part().map_err(|e| {
            let shown = format!("{e:#}");
            failed = Some(e);
            shown
        })
    });
    let saved = store.save_results_parts(parts);
    if let Some(e) = failed {
        return Err(e);
    }
    let results = saved?;
    Ok((verdicts, results, seconds))
}

/// Rows of the per-flow results built and written at a time (about 50 MB of frame).
const RESULT_ROWS_PER_PART: usize = 1 << 18;

/// Metadata, verdicts and findings of the flows in `rows` (`verdicts` are theirs), as the
/// history keeps them.
fn results_frame(
    table: &FlowTable,
    verdicts: &[Verdict],
    findings: &Findings,
    rows: std::ops::Range<usize>,
) -> polars::prelude::PolarsResult<DataFrame> {
    let frame = verdict_frame(metadata_frame_rows(table, rows.clone())?, verdicts)?;
    with_findings_of(frame, findings, rows)
}

/// The input as the history shows it: the files read, one per line.
pub fn describe_input(table: &FlowTable) -> String {
    table.sources.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>().join("\n")
}

/// Counts per predicted family and flagged flows of a batch, flagged at `threshold`.
pub fn summarise(
    verdicts: &[BriefVerdict],
    results_file: Option<(String, String)>,
    seconds: f64,
    threshold: f32,
) -> FinishedBatch {
    let mut batch = FinishedBatch {
        flows: 0,
        flagged: 0,
        family_counts: BTreeMap::new(),
        results_file,
        flows_per_s: 0.0,
        drift_json: None,
        threshold,
    };
    count_into(&mut batch, verdicts.iter().copied());
    batch.flows_per_s = batch.flows as f64 / seconds.max(1e-9);
    batch
}

/// Adds `verdicts` to a batch's counts of flows, flagged flows and families.
pub fn count_into(batch: &mut FinishedBatch, verdicts: impl IntoIterator<Item = BriefVerdict>) {
    for v in verdicts {
        batch.flows += 1;
        batch.flagged += usize::from(v.is_attack());
        *batch.family_counts.entry(v.family.name().to_string()).or_insert(0) += 1;
    }
}
