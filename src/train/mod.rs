//! Training (issue 3): splits, batching, the loop, metrics, and the train-to-bundle pipeline;
//! the model comparison (issue 7): classical baselines and the autoencoder beside the MoE.

pub mod autoencoder;
pub mod baselines;
pub mod compare;
pub mod data;
pub mod metrics;
pub mod pipeline;
pub mod split;
pub mod training;

pub use metrics::Metrics;
pub use pipeline::{TrainingReport, fit};
pub use split::{Split, SplitKind, split};
pub use training::{TrainEvent, TrainOutcome, TrainingConfig, train};

/// burn seeds a device's random numbers for the whole process (`Device::seed`): two trainings
/// at once in one process (the window's Train and Compare, tests running side by side) would
/// draw from one stream, and neither would be reproducible from its seed. Each training holds
/// this lock from seeding its device to its last step.
static SEEDED_TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits until no other training of this process uses the seeded random numbers.
pub(crate) fn seeded_training() -> std::sync::MutexGuard<'static, ()> {
    // A training that panicked left nothing half-written behind the lock: take it anyway.
    SEEDED_TRAINING.lock().unwrap_or_else(|e| e.into_inner())
}
