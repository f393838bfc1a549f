//! A scoring server's session as one batch in the history, like a stream (`predict - -o -`):
//! a server answers requests for days, so the batch is the session, not each request (a
//! SIEM posting a flow a second would otherwise add 86,400 batches a day). It is `running`
//! while the server serves, with its counts brought up to date every
//! [`UPDATE_EVERY`], and `finished` with them when the server stops; a server killed
//! outright leaves it `interrupted` (the history marks rows of dead processes so). No
//! per-flow results: the requests' flows are the clients' to keep.

use std::path::Path;
use std::time::{Duration, Instant};

use super::models::LoadedModel;
use super::scoring::{count_into, summarise};
use crate::model::{BriefVerdict, Verdict};
use crate::store::{FinishedBatch, Store};

/// How often a running session's counts are written.
pub const UPDATE_EVERY: Duration = Duration::from_secs(30);

/// The session's batch and what was scored in it.
pub struct ServedBatch {
    store: Store,
    id: i64,
    counts: FinishedBatch,
    /// Seconds spent scoring (flows/s is the model's speed, not the request rate).
    seconds: f64,
    written: Instant,
    finished: bool,
}

impl ServedBatch {
    /// Records the start of a session of `model` serving on `address` in the history of
    /// `data_dir`.
    pub fn start(data_dir: &Path, model: &LoadedModel, address: &str) -> anyhow::Result<Self> {
        let mut store = Store::open(data_dir)?;
        let id = store.start_batch(&format!("served on http://{address} (POST /v1/score)"), &model.name)?;
        let counts = summarise(&[], None, 0.0, model.threshold);
        Ok(ServedBatch { store, id, counts, seconds: 0.0, written: Instant::now(), finished: false })
    }

    /// Counts `verdicts`, scored in `seconds`; writes the counts when they are older than
    /// [`UPDATE_EVERY`].
    pub fn scored(&mut self, verdicts: &[Verdict], seconds: f64) {
        count_into(&mut self.counts, verdicts.iter().map(BriefVerdict::from));
        self.seconds += seconds;
        self.counts.flows_per_s = self.counts.flows as f64 / self.seconds.max(1e-9);
        if self.written.elapsed() >= UPDATE_EVERY {
            self.written = Instant::now();
            if let Err(e) = self.store.update_running_batch(self.id, &self.counts) {
                tracing::warn!("the server's batch {} could not be updated in the history: {e:#}", self.id);
            }
        }
    }

    /// The server stopped: the batch is finished with every count.
    pub fn finish(mut self) {
        self.finished = true;
        if let Err(e) = self.store.finish_batch(self.id, &self.counts) {
            tracing::error!("the server's batch {} could not be finished in the history: {e:#}", self.id);
        }
    }
}

impl Drop for ServedBatch {
    /// A session dropped unfinished never served (its server failed to start).
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.store.fail_batch(self.id, "the server did not start");
        }
    }
}
