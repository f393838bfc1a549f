//! Training (issue 3): splits, batching, the loop, metrics, and the train-to-bundle pipeline;
//! the model comparison (issue 7): classical baselines and the autoencoder beside the MoE.

pub mod autoencoder;
pub mod averaging;
pub mod baselines;
pub mod compare;
pub mod data;
pub mod metrics;
pub mod pipeline;
pub mod split;
pub mod threshold;
pub mod training;

pub use metrics::Metrics;
pub use pipeline::{TrainingReport, fit};
pub use split::{Split, SplitKind, split};
pub use training::{TrainEvent, TrainOutcome, TrainingConfig, train};
