//! The command line's side of the service's progress-and-cancel contract: one progress bar
//! for any task, and Ctrl+C cancels it (the task stops at its next step and records itself
//! as cancelled; a second Ctrl+C ends the process at once).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::service::{AsProgress, Task};

/// Runs `work` as a task drawn as one progress bar on standard error (hidden with `quiet`).
pub fn with_progress_bar<E: AsProgress, R>(quiet: bool, work: impl FnOnce(&Task<E>) -> R) -> R {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let cancel = cancel_on_ctrl_c();
    let report = |event: E| {
        if let Some(p) = event.as_progress() {
            bar.set_length(p.total.unwrap_or(0));
            bar.set_position(p.done);
            bar.set_message(p.stage);
        }
    };
    let result = work(&Task::new(&report, cancel));
    bar.finish_and_clear();
    result
}

/// A flag set by the first Ctrl+C (SIGINT) of the process.
pub(super) fn cancel_on_ctrl_c() -> &'static AtomicBool {
    static CANCEL: AtomicBool = AtomicBool::new(false);
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // A small runtime of its own waits for the signal: the CLI has no other.
        let _ = std::thread::Builder::new().name("ctrl-c".into()).spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("\ncancelling (Ctrl+C again to quit at once)...");
                    CANCEL.store(true, Ordering::Relaxed);
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(130);
                    }
                }
            });
        });
    });
    &CANCEL
}
