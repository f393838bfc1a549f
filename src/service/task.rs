//! One contract for long work (training, comparison, reading and extracting captures,
//! scoring): a task reports what it is doing and how far it got, and stops at its next step
//! once cancelled. The window turns a task into a background job (a line, a spinner and a
//! Cancel button); the command line into one progress bar. Tasks never know which.

use std::sync::atomic::{AtomicBool, Ordering};

/// How far a task got: `done` of `total` units (rows, bytes, epochs) of its current stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What is happening, in words: "scoring 10,000 flows".
    pub stage: String,
    pub done: u64,
    /// `None` while the whole is unknown.
    pub total: Option<u64>,
}

impl Progress {
    pub fn new(stage: impl Into<String>, done: u64, total: Option<u64>) -> Self {
        Progress { stage: stage.into(), done, total }
    }

    /// A stage without a measurable amount.
    pub fn stage(stage: impl Into<String>) -> Self {
        Progress::new(stage, 0, None)
    }

    /// Done share in [0, 1], when the whole is known.
    pub fn fraction(&self) -> Option<f32> {
        self.total.filter(|&t| t > 0).map(|t| (self.done as f32 / t as f32).clamp(0.0, 1.0))
    }
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fraction() {
            Some(p) => write!(f, "{} ({:.0} %)", self.stage, p * 100.0),
            None => f.write_str(&self.stage),
        }
    }
}

/// Task-specific events (a training epoch, a comparison row) say how far the task got, so
/// one progress bar or status line serves every task.
pub trait AsProgress {
    fn as_progress(&self) -> Option<Progress>;
}

impl AsProgress for Progress {
    fn as_progress(&self) -> Option<Progress> {
        Some(self.clone())
    }
}

/// The task was cancelled before it finished.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// What a running task holds: where its events go and the flag that cancels it.
pub struct Task<'a, E = Progress> {
    report: &'a (dyn Fn(E) + Sync),
    cancel: &'a AtomicBool,
}

impl<'a, E> Task<'a, E> {
    pub fn new(report: &'a (dyn Fn(E) + Sync), cancel: &'a AtomicBool) -> Self {
        Task { report, cancel }
    }

    pub fn report(&self, event: E) {
        (self.report)(event);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once the task was cancelled: call between steps.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() { Err(Cancelled) } else { Ok(()) }
    }

    pub fn cancel_flag(&self) -> &'a AtomicBool {
        self.cancel
    }
}

/// Runs `f` with a task that reports nowhere and is never cancelled (tests, the server's
/// per-request scoring).
pub fn quietly<E, T>(f: impl FnOnce(&Task<E>) -> T) -> T {
    let never = AtomicBool::new(false);
    let report = |_: E| {};
    f(&Task::new(&report, &never))
}
