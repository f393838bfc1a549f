//! Whole tasks, between the domain layers and the front ends: score and record a batch,
//! train and compare (recorded), register, activate and load models, resolve the start-up
//! model, save and read investigations. The window, the command line and the server call
//! these and hold no task logic of their own; long tasks follow one progress-and-cancel
//! contract ([`task::Task`]).

pub mod calibration;
pub mod explain;
pub mod export;
pub mod flow_query;
pub mod investigations;
pub mod models;
pub mod packets;
pub mod reading;
pub mod scored_reading;
pub mod scoring;
pub mod served;
pub mod server;
pub mod stream;
pub mod task;
pub mod threshold;
pub mod traffic;
pub mod training;

pub use investigations::{FlowRef, Investigation};
pub use models::LoadedModel;
pub use scoring::{ResultsOutput, ScoredBatch, score, score_recorded, score_recorded_along};
pub use task::{AsProgress, Cancelled, Progress, Task};
pub use training::{CompareRequest, TrainRequest, TrainResult, compare_recorded, train_recorded};
