//! Reading captures and scoring their flows at once. A capture's flows finish while its
//! packets are read: instead of waiting for the last packet and then scoring every flow, the
//! flows go to the model in steps of [`STEP_ROWS`] as they finish, on a thread of their own,
//! so that extraction (one core) and scoring (the other) overlap and opening a capture takes
//! about as long as extracting it. The verdicts are put in the table's order (start time) at
//! the end and recorded by [`super::scoring::score_recorded_along`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use super::models::LoadedModel;
use super::reading::{ReadOutcome, RowsAlong, ShowFlows, read_files};
use super::task::Task;
use crate::features::N_FEATURES;
use crate::ingest::capture::{self, permute};
use crate::ingest::{ReadOptions, expand_inputs};
use crate::model::{Scorer, Verdict};

/// Rows handed to the scorer at a time, at least: enough for its tiles on both threads,
/// few enough that the last step after the final packet is short.
const STEP_ROWS: usize = 16_384;

/// ... and at most: while the scorer is busy, rows gather into one step up to the block in
/// which scoring finds repeated flows (`model::distinct`), so that a capture of millions of
/// repeats (a flood) is scored in blocks as large as when it is scored after reading. Past
/// that, reading waits for the scorer instead of queueing copies of the rows without bound.
const STEP_ROWS_MAX: usize = crate::model::inference::DISTINCT_BLOCK_ROWS;

/// Verdicts computed while the flows were read, in the table's row order.
pub struct ScoredAlong {
    /// The scorer that computed them: the batch is recorded with them only when its model
    /// is the same one, loaded once (a reload or a new calibration is another scorer).
    pub scorer: Arc<Scorer>,
    pub verdicts: Vec<Verdict>,
    /// Seconds the model spent on them.
    pub seconds: f64,
}

/// Reads `inputs` as [`super::reading::read_keeping`] does and, when every file is a capture,
/// scores their flows with `model` while they are read. The verdicts are `None` for flow
/// files (read in a second or two, then scored as usual), or when the reading stopped early.
pub fn read_scoring(
    inputs: &[PathBuf],
    opts: &ReadOptions,
    model: &LoadedModel,
    task: &Task,
    show: Option<&ShowFlows<'_>>,
) -> anyhow::Result<(ReadOutcome, Option<ScoredAlong>)> {
    let files = expand_inputs(inputs)?;
    if files.is_empty() || !files.iter().all(|f| capture::is_capture(f)) {
        return Ok((read_files(&files, opts, task, show, None)?, None));
    }
    // A rendezvous: a step is taken only when the scorer is ready for it.
    let (tx, rx) = mpsc::sync_channel::<Vec<f32>>(0);
    let cancel = task.cancel_flag();
    std::thread::scope(|scope| {
        let scorer = scope.spawn(move || score_steps(model, rx, cancel));
        let mut handing = HandOn { tx: Some(tx), step: Vec::new(), handed: 0, captures: Vec::new() };
        let read = read_files(&files, opts, task, show, Some(&mut handing));
        handing.send_step();
        drop(handing.tx.take()); // the scorer's last step
        let HandOn { captures, handed, .. } = handing;
        let scored = scorer.join().map_err(|_| anyhow::anyhow!("the scoring thread failed"))?;
        let outcome = read?;
        let whole = outcome.stopped.is_none() && handed == outcome.table.len();
        let along = scored.filter(|(v, _)| whole && v.len() == handed).map(|(mut verdicts, seconds)| {
            put_in_table_order(&mut verdicts, &captures);
            ScoredAlong { scorer: model.scorer.clone(), verdicts, seconds }
        });
        Ok((outcome, along))
    })
}

/// The captures' rows, a step at a time, to the scoring thread.
struct HandOn {
    /// `None` once the scorer is gone (it only goes when the reading ends).
    tx: Option<mpsc::SyncSender<Vec<f32>>>,
    step: Vec<f32>,
    /// Rows handed on, and each capture's rows and table order.
    handed: usize,
    captures: Vec<(usize, Vec<usize>)>,
}

impl HandOn {
    /// Sends the rows gathered, waiting for the scorer to take them.
    fn send_step(&mut self) {
        let step = std::mem::take(&mut self.step);
        if !step.is_empty() && self.tx.as_ref().is_some_and(|tx| tx.send(step).is_err()) {
            self.tx = None;
        }
    }

    /// Sends the rows gathered if the scorer is waiting for them; else they keep gathering.
    fn offer_step(&mut self) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(std::mem::take(&mut self.step)) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(step)) => self.step = step,
            Err(mpsc::TrySendError::Disconnected(_)) => self.tx = None,
        }
    }
}

impl RowsAlong for HandOn {
    fn rows(&mut self, features: &[f32]) {
        self.handed += features.len() / N_FEATURES;
        for row in features.chunks(N_FEATURES) {
            self.step.extend_from_slice(row);
            if self.step.len() >= STEP_ROWS_MAX * N_FEATURES {
                self.send_step();
            }
        }
        if self.step.len() >= STEP_ROWS * N_FEATURES {
            self.offer_step();
        }
    }

    fn capture_done(&mut self, order: Vec<usize>) {
        self.captures.push((order.len(), order));
    }
}

/// The scoring thread: every step in the order sent, and the seconds spent; `None` when the
/// task was cancelled (steps still sent are taken and dropped, so the reader never waits).
fn score_steps(
    model: &LoadedModel,
    steps: mpsc::Receiver<Vec<f32>>,
    cancel: &AtomicBool,
) -> Option<(Vec<Verdict>, f64)> {
    let (mut verdicts, mut seconds, mut whole) = (Vec::new(), 0.0, true);
    for step in steps {
        if !whole || cancel.load(Ordering::Relaxed) {
            whole = false;
            continue;
        }
        let started = Instant::now();
        verdicts.extend(model.scorer.score_raw(&step));
        seconds += started.elapsed().as_secs_f64();
    }
    whole.then_some((verdicts, seconds))
}

/// The verdicts came in the order the flows finished, capture after capture; each capture's
/// table is in order of start time.
fn put_in_table_order(verdicts: &mut [Verdict], captures: &[(usize, Vec<usize>)]) {
    let mut first = 0;
    for (rows, order) in captures {
        permute(order, &mut verdicts[first..first + rows]);
        first += rows;
    }
}
