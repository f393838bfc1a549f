//! "Unfamiliar": a flow far from everything the model was trained on. The MoE must put every
//! flow into one of its families; a flow unlike all of its training data (another tool's
//! output, a protocol never seen) would be forced into one. An autoencoder trained on every
//! training flow, benign and attack, reconstructs familiar flows well; a flow whose
//! reconstruction error is above what all but a small share of held-back flows reach is marked
//! unfamiliar instead, and shown as an attack of unknown family when it is flagged at all.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::autoencoder::{Autoencoder, AutoencoderConfig, anomaly_scores};

/// Share of held-back (validation) flows allowed above the threshold: one in a thousand of
/// the flows the model knows is called unfamiliar.
pub const FAMILIAR_MISS_RATE: f64 = 0.001;

/// What `familiarity.json` of a bundle holds beside the weights file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FamiliarityStats {
    pub config: AutoencoderConfig,
    /// Each feature's mean squared reconstruction error on the training flows.
    pub feature_scale: Vec<f32>,
    /// Anomaly score at or above which a flow is unfamiliar.
    pub threshold: f32,
    /// Share of the held-back flows over the threshold when it was set.
    pub held_back_rate: f64,
    pub weights_sha256: String,
    pub weights_bytes: u64,
}

/// The autoencoder and its threshold.
#[derive(Debug, Clone)]
pub struct Familiarity {
    pub model: Autoencoder,
    pub stats: FamiliarityStats,
}

impl Familiarity {
    /// Anomaly scores of preprocessed rows.
    pub fn scores(&self, x: &[f32], device: &Device) -> Vec<f32> {
        anomaly_scores(&self.model, &self.stats.feature_scale, x, device, 4096)
    }

    /// Whether each preprocessed row is unfamiliar.
    pub fn unfamiliar(&self, x: &[f32], device: &Device) -> Vec<bool> {
        self.scores(x, device).into_iter().map(|s| !(s < self.stats.threshold)).collect()
    }

    pub fn to_device(&self, device: &Device) -> Self {
        use burn::module::Module;
        Self { model: self.model.clone().to_device(device), stats: self.stats.clone() }
    }
}
