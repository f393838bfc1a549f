//! The Mixture-of-Experts detector (issue 3): sizes (`config`), modules (`model`),
//! preprocessing, the on-disk bundle and inference; and the autoencoder for unlabelled traffic.

pub mod autoencoder;
pub mod bundle;
pub mod config;
pub mod distinct;
pub mod drift;
pub mod eve;
pub mod explain;
pub mod familiarity;
pub mod fused;
pub mod inference;
#[allow(clippy::module_inception)]
pub mod model;
pub mod output;
pub mod preprocess;
pub mod ranges;

pub use bundle::{BundleError, DataFile, Manifest, ModelBundle};
pub use config::{ExpertSet, ExpertSpec, FtTransformerConfig, MoeConfig, N_EXPERTS, TemporalCnnConfig};
pub use inference::{
    ATTACK_THRESHOLD, BriefVerdict, DeviceChoice, Scorer, SelectedDevice, Verdict, briefly, select_device,
};
pub use model::{MoeModel, MoeOutput, forward_mean, predict_mean};
pub use preprocess::Preprocessor;

/// burn draws a device's random numbers from one process-wide stream (`Device::seed`): a model
/// initialised (for training, or before a bundle's weights replace its random ones) while
/// another training runs takes numbers from that training's stream, and the training is no
/// longer reproducible from its seed (the window's Train and Compare, tests side by side).
/// Whatever seeds the stream or draws from it holds this lock meanwhile.
static SEEDED_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held while burn's random numbers are this holder's alone (see `SEEDED_RNG`). Drawing
/// initial weights asks for one (`MoeConfig::init_holding`), so no caller can forget the lock:
/// `MoeConfig::init` takes it itself.
pub struct HeldRng(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

/// Waits until nothing else in this process uses burn's random numbers.
pub fn seeded_rng() -> HeldRng {
    // A holder that panicked left nothing half-written behind the lock: take it anyway.
    HeldRng(SEEDED_RNG.lock().unwrap_or_else(|e| e.into_inner()))
}
