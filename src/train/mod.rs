//! Training (issue 3): splits, batching, the loop, metrics, and the train-to-bundle pipeline.

pub mod data;
pub mod metrics;
pub mod pipeline;
pub mod split;
pub mod training;

pub use metrics::Metrics;
pub use pipeline::{TrainingReport, fit};
pub use split::{Split, SplitKind, split};
pub use training::{TrainEvent, TrainOutcome, TrainingConfig, train};
