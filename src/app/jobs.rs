//! Background work for the window: loading, scoring and training run on the tokio runtime's
//! blocking pool, report progress through a channel and honour a cancel flag. The UI thread
//! only polls, so it never waits on a job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Instant;

/// What a running job says about itself.
pub enum JobMessage<T, P> {
    Progress(P),
    Done(Result<T, String>),
}

/// A job's handle on the UI side.
pub struct Job<T, P = String> {
    pub label: String,
    pub started: Instant,
    cancel: Arc<AtomicBool>,
    rx: Receiver<JobMessage<T, P>>,
}

/// What the job's closure gets: a way to report progress and to see cancellation.
pub struct JobContext<T, P> {
    tx: Sender<JobMessage<T, P>>,
    cancel: Arc<AtomicBool>,
    ctx: egui::Context,
}

impl<T, P> JobContext<T, P> {
    pub fn progress(&self, p: P) {
        let _ = self.tx.send(JobMessage::Progress(p));
        self.ctx.request_repaint();
    }
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }
}

impl<T: Send, P: Send> JobContext<T, P> {
    /// Runs a service task inside this job: its events become the job's progress, and the
    /// job's Cancel button cancels it.
    pub fn run_task<R>(&self, f: impl FnOnce(&crate::service::Task<P>) -> R) -> R {
        let report = |p: P| self.progress(p);
        f(&crate::service::Task::new(&report, &self.cancel))
    }
}

/// Outcome of one poll.
pub enum Poll<T, P> {
    Running(Vec<P>),
    Done(Vec<P>, Result<T, String>),
}

impl<T: Send + 'static, P: Send + 'static> Job<T, P> {
    /// Starts `work` on the runtime's blocking pool.
    pub fn spawn(
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        label: impl Into<String>,
        work: impl FnOnce(&JobContext<T, P>) -> Result<T, String> + Send + 'static,
    ) -> Self {
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let job_ctx = JobContext { tx, cancel: cancel.clone(), ctx: ctx.clone() };
        runtime.spawn_blocking(move || {
            // A panic in a job must not take the window down: it becomes the job's error.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&job_ctx)))
                .unwrap_or_else(|p| Err(panic_message(p)));
            let _ = job_ctx.tx.send(JobMessage::Done(result));
            job_ctx.ctx.request_repaint();
        });
        Job { label: label.into(), started: Instant::now(), cancel, rx }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Drains messages without blocking: the progress so far, and the result once done.
    pub fn poll_split(&self) -> (Vec<P>, Option<Result<T, String>>) {
        match self.poll() {
            Poll::Running(p) => (p, None),
            Poll::Done(p, r) => (p, Some(r)),
        }
    }

    /// Drains messages without blocking.
    pub fn poll(&self) -> Poll<T, P> {
        let mut progress = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(JobMessage::Progress(p)) => progress.push(p),
                Ok(JobMessage::Done(r)) => return Poll::Done(progress, r),
                Err(TryRecvError::Empty) => return Poll::Running(progress),
                Err(TryRecvError::Disconnected) => {
                    return Poll::Done(progress, Err(format!("{}: the job stopped without a result", self.label)));
                }
            }
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    let text = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown error".into());
    format!("internal error: {text}")
}

/// The result of the job in `slot` once it has finished (the slot is emptied then); its
/// progress is dropped. For jobs whose progress the window does not show.
pub fn take_finished<T: Send + 'static, P: Send + 'static>(slot: &mut Option<Job<T, P>>) -> Option<Result<T, String>> {
    let (_, done) = slot.as_ref()?.poll_split();
    if done.is_some() {
        *slot = None;
    }
    done
}
