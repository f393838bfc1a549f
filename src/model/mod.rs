//! The Mixture-of-Experts detector (issue 3): sizes (`config`), modules (`model`),
//! preprocessing, the on-disk bundle and inference; and the autoencoder for unlabelled traffic.

pub mod autoencoder;
pub mod bundle;
pub mod config;
pub mod familiarity;
pub mod inference;
#[allow(clippy::module_inception)]
pub mod model;
pub mod output;
pub mod preprocess;
pub mod ranges;

pub use bundle::{BundleError, DataFile, Manifest, ModelBundle};
pub use config::{ExpertSet, FtTransformerConfig, MoeConfig, TemporalCnnConfig};
pub use inference::{DeviceChoice, Scorer, SelectedDevice, Verdict, select_device};
pub use model::{MoeModel, MoeOutput};
pub use preprocess::Preprocessor;
