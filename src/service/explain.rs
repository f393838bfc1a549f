//! Explaining a batch of verdicts (`predict --explain K`, the server's `explain=K`): one
//! integrated-gradients explanation per flow, on every core, with progress and cancel.

use super::models::LoadedModel;
use super::task::{Cancelled, Progress, Task};
use crate::features::N_FEATURES;
use crate::model::explain::Explanation;

/// Flows explained between two progress reports and cancellation checks.
const STEP: usize = 64;

/// Explains every row of row-major raw `rows`.
pub fn explain_rows(model: &LoadedModel, rows: &[f32], task: &Task) -> Result<Vec<Explanation>, Cancelled> {
    let n = rows.len() / N_FEATURES;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 16).min(n.max(1));
    let per_thread = n.div_ceil(threads).max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let parts: Vec<Result<Vec<Explanation>, Cancelled>> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(per_thread * N_FEATURES)
            .map(|part| {
                let done = &done;
                scope.spawn(move || {
                    // Each thread its own copy of the model on the autodiff device.
                    let explainer = model.scorer.explainer();
                    let mut out = Vec::with_capacity(part.len() / N_FEATURES);
                    for chunk in part.chunks(STEP * N_FEATURES) {
                        task.check()?;
                        for raw in chunk.chunks_exact(N_FEATURES) {
                            let mut r = [0f32; N_FEATURES];
                            r.copy_from_slice(raw);
                            out.push(explainer.explain(&model.scorer.preprocess_row(&r)));
                        }
                        let so_far = done.fetch_add(chunk.len() / N_FEATURES, std::sync::atomic::Ordering::Relaxed);
                        task.report(Progress::new(
                            format!("explaining {n} verdicts"),
                            (so_far + chunk.len() / N_FEATURES) as u64,
                            Some(n as u64),
                        ));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let mut all = Vec::with_capacity(n);
    for part in parts {
        all.extend(part?);
    }
    Ok(all)
}
