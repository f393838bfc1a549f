//! Micro-batching for the server: requests arriving together are scored in one forward pass.
//! A model scores a batch of 16 flows in little more time than one (batch 1 runs at 7,000
//! flows/s, batch 256 at 22,000 on these 2 cores), so under concurrent load the server drains
//! every request waiting in the queue into one batch. It never waits for company: a lone
//! request is scored at once, so batching adds no latency (the adaptive batching of
//! BentoML and Triton, without their delay window).

use std::sync::mpsc::{Receiver, Sender, channel};

use crate::features::N_FEATURES;
use crate::model::Verdict;
use crate::service::served::ServedBatch;
use crate::service::{self, LoadedModel};

/// Rows scored in one pass at most; more requests wait for the next.
const MAX_BATCH_ROWS: usize = 8192;

struct Job {
    rows: Vec<f32>,
    reply: tokio::sync::oneshot::Sender<Vec<Verdict>>,
}

/// The queue in front of the scoring thread.
pub struct Batcher {
    /// `None` once dropping.
    tx: std::sync::Mutex<Option<Sender<Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Batcher {
    /// Starts the scoring thread for `model`, counting what it scores in the server's batch
    /// `session`; it ends when the batcher is dropped, finishing the batch.
    pub fn start(model: LoadedModel, session: ServedBatch) -> anyhow::Result<Self> {
        let (tx, rx) = channel::<Job>();
        let thread =
            std::thread::Builder::new().name("netvigil-score".into()).spawn(move || work(&model, &rx, session))?;
        Ok(Batcher { tx: std::sync::Mutex::new(Some(tx)), thread: Some(thread) })
    }

    /// Scores row-major raw features; `None` if the scoring thread is gone.
    pub async fn score(&self, rows: Vec<f32>) -> Option<Vec<Verdict>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx.lock().ok()?.as_ref()?.send(Job { rows, reply }).ok()?;
        answer.await.ok()
    }
}

impl Drop for Batcher {
    /// Ends the scoring thread and waits for it to record the session's batch as finished
    /// (`netvigil serve` exits right after).
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn work(model: &LoadedModel, rx: &Receiver<Job>, mut session: ServedBatch) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut rows = jobs[0].rows.len() / N_FEATURES;
        while rows < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job.rows.len() / N_FEATURES;
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let lengths: Vec<usize> = jobs.iter().map(|j| j.rows.len() / N_FEATURES).collect();
        let all: Vec<f32> = if jobs.len() == 1 {
            std::mem::take(&mut jobs[0].rows)
        } else {
            jobs.iter().flat_map(|j| j.rows.iter().copied()).collect()
        };
        // A panic in the model would leave every waiting request without an answer; caught,
        // their senders drop and each gets a 500 instead.
        let started = std::time::Instant::now();
        let scored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            service::task::quietly(|task| service::scoring::score_rows(model, &all, task))
        }));
        let Ok(Ok(mut rest)) = scored else { continue };
        session.scored(&rest, started.elapsed().as_secs_f64());
        for (job, n) in jobs.into_iter().zip(lengths) {
            let tail = rest.split_off(n.min(rest.len()));
            let _ = job.reply.send(rest);
            rest = tail;
        }
    }
    session.finish();
}
