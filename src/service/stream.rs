//! The streaming scorer (`netvigil predict - -o -`): CSV flows in, verdict rows out, in input
//! order, batch by batch as the input arrives, so other programs (a SIEM's pipeline, a Spark
//! partition) can pipe flows through NetVigil without files. Host-level findings need a whole
//! file, so the stream carries verdicts only (the `Finding` column of `predict` on files is
//! absent). `score_stream_recorded` keeps the stream in the history as a batch: its counts and
//! threshold, not its rows, since a stream need not end.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use polars::prelude::{CsvWriter, SerWriter};

use super::models::LoadedModel;
use super::scoring::{count_into, score, summarise};
use super::task::{Progress, Task};
use crate::ingest::export::metadata_frame;
use crate::ingest::{CsvStream, ReadOptions, ValidationReport};
use crate::model::inference::BriefVerdict;
use crate::model::output::verdict_frame;
use crate::store::{FinishedBatch, Store};

/// Lines per batch at most: large enough for full-speed scoring, small enough to keep
/// memory flat on an endless stream.
pub const MAX_BATCH_LINES: usize = 16_384;

/// What a finished stream read and flagged.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    /// Flows, flagged flows and flows per predicted family, as the history records them.
    pub counts: FinishedBatch,
    pub unfamiliar: usize,
    pub report: ValidationReport,
}

/// Scores the CSV on `input` (named `name` in messages) and writes verdict rows to `output`,
/// flushing after each batch. Stops with the input's end, a bad line (naming it), or
/// cancellation.
fn score_stream(
    model: &LoadedModel,
    name: &Path,
    input: impl Read,
    output: &mut impl Write,
    read: &ReadOptions,
    task: &Task,
) -> anyhow::Result<StreamSummary> {
    let mut stream = CsvStream::new(name, input, read)?;
    let counts = summarise(&[], None, 0.0, model.threshold);
    let mut summary = StreamSummary { counts, unfamiliar: 0, report: ValidationReport::default() };
    let quiet = |_: Progress| {};
    while let Some(table) = stream.next_batch(MAX_BATCH_LINES)? {
        task.check()?;
        if table.is_empty() {
            continue;
        }
        let verdicts = score(model, &table, &Task::new(&quiet, task.cancel_flag()))?;
        let mut frame = verdict_frame(metadata_frame(&table)?, &verdicts)?;
        CsvWriter::new(&mut *output).include_header(summary.counts.flows == 0).finish(&mut frame)?;
        output.flush()?;
        count_into(&mut summary.counts, verdicts.iter().map(BriefVerdict::from));
        summary.unfamiliar += verdicts.iter().filter(|v| v.unfamiliar).count();
        let flows = summary.counts.flows;
        task.report(Progress::new(format!("{flows} flows scored"), flows as u64, None));
    }
    summary.report = stream.report();
    Ok(summary)
}

/// [`score_stream`], recorded in the history of `data_dir` as a batch of input "`name`
/// (stream)": running while it runs, then finished with its counts, flows per second and
/// threshold, or failed with the reason (a bad line, cancellation, a closed output).
pub fn score_stream_recorded(
    data_dir: &Path,
    model: &LoadedModel,
    name: &Path,
    input: impl Read,
    output: &mut impl Write,
    read: &ReadOptions,
    task: &Task,
) -> anyhow::Result<StreamSummary> {
    let mut store = Store::open(data_dir)?;
    let batch_id = store.start_batch(&format!("{} (stream)", name.display()), &model.name)?;
    let started = Instant::now();
    match score_stream(model, name, input, output, read, task) {
        Ok(mut summary) => {
            summary.counts.flows_per_s = summary.counts.flows as f64 / started.elapsed().as_secs_f64().max(1e-9);
            store.finish_batch(batch_id, &summary.counts)?;
            Ok(summary)
        }
        Err(e) => {
            let reason = if task.is_cancelled() { "cancelled".to_string() } else { format!("{e:#}") };
            store.fail_batch(batch_id, &reason)?;
            Err(e)
        }
    }
}
