//! Training the autoencoder on benign flows only, and setting its alarm threshold on held-back
//! benign flows for a target false-positive rate. No attack label is used anywhere.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::config::Config;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::training::TrainError;
use crate::features::N_FEATURES;
use crate::model::autoencoder::{Autoencoder, AutoencoderConfig, anomaly_scores, feature_error_scale};
use crate::model::familiarity::{FAMILIAR_MISS_RATE, Familiarity, FamiliarityStats};

#[derive(Config, Debug)]
pub struct AnomalyConfig {
    #[config(default = "AutoencoderConfig::new()")]
    pub model: AutoencoderConfig,
    #[config(default = 50)]
    pub epochs: usize,
    #[config(default = 256)]
    pub batch_size: usize,
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Share of held-back benign flows allowed above the threshold.
    #[config(default = 0.01)]
    pub target_fpr: f64,
    #[config(default = 42)]
    pub seed: u64,
}

/// A trained autoencoder and its threshold on the anomaly score.
#[derive(Debug, Clone)]
pub struct AnomalyDetector {
    pub model: Autoencoder,
    /// Each feature's mean squared reconstruction error on the benign training flows.
    pub feature_scale: Vec<f32>,
    pub threshold: f32,
    /// Benign flows it learnt from, and held-back benign flows that set the threshold.
    pub train_rows: usize,
    pub calibration_rows: usize,
}

impl AnomalyDetector {
    /// Anomaly scores of preprocessed rows (see [`anomaly_scores`]).
    pub fn scores(&self, x: &[f32], device: &Device) -> Vec<f32> {
        anomaly_scores(&self.model, &self.feature_scale, x, device, 4096)
    }
}

/// The smallest threshold that flags at most `target_fpr` of `benign_errors` (flagged means
/// error ≥ threshold, as for every scorer in the comparison).
pub fn threshold_for_fpr(benign_errors: &[f32], target_fpr: f64) -> f32 {
    let mut sorted: Vec<f32> = benign_errors.iter().copied().filter(|e| e.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let Some(&largest) = sorted.last() else { return f32::INFINITY };
    let allowed = (target_fpr.clamp(0.0, 1.0) * sorted.len() as f64).floor() as usize;
    if allowed == 0 {
        // Flag nothing of the held-back benign flows: just above the largest error.
        return largest.next_up();
    }
    // Flag exactly the `allowed` largest: the threshold sits just above the next one down.
    sorted[sorted.len() - allowed - 1].next_up()
}

/// Trains on `benign_train` (row-major preprocessed), sets the threshold on `benign_holdout`.
pub fn fit_anomaly(
    config: &AnomalyConfig,
    benign_train: &[f32],
    benign_holdout: &[f32],
    device: &Device,
    cancel: &AtomicBool,
) -> Result<AnomalyDetector, TrainError> {
    let n = benign_train.len() / N_FEATURES;
    if n == 0 || benign_holdout.is_empty() {
        return Err(TrainError::NoData);
    }
    let seeded = crate::model::seeded_rng();
    let ad_device = device.clone().autodiff();
    ad_device.seed(config.seed);
    let mut model = config.model.init_holding(&ad_device, &seeded);
    let mut optim = AdamWConfig::new().init();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = StdRng::seed_from_u64(config.seed);
    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        for rows in order.chunks(config.batch_size.max(1)) {
            if cancel.load(Ordering::Relaxed) {
                return Err(TrainError::Cancelled);
            }
            let x = batch(benign_train, rows, &ad_device);
            let loss = model.errors(x).mean();
            let value: f32 = loss.clone().into_scalar();
            if !value.is_finite() {
                return Err(TrainError::Diverged(value, epoch));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
        }
    }
    let model = model.valid();
    let plain = device.clone().without_autodiff();
    let feature_scale = feature_error_scale(&model, benign_train, &plain, 4096);
    let holdout_scores = anomaly_scores(&model, &feature_scale, benign_holdout, &plain, 4096);
    Ok(AnomalyDetector {
        threshold: threshold_for_fpr(&holdout_scores, config.target_fpr),
        model,
        feature_scale,
        train_rows: n,
        calibration_rows: holdout_scores.len(),
    })
}

fn batch(x: &[f32], rows: &[usize], device: &Device) -> Tensor<2> {
    let mut data = Vec::with_capacity(rows.len() * N_FEATURES);
    for &r in rows {
        data.extend_from_slice(&x[r * N_FEATURES..(r + 1) * N_FEATURES]);
    }
    Tensor::from_data(TensorData::new(data, [rows.len(), N_FEATURES]), device)
}

/// Epochs of the familiarity autoencoder: it learns the shape of the whole training set, a
/// coarser task than the benign-only detector, and its error levels off well before this.
const FAMILIARITY_EPOCHS: usize = 20;

/// Fits the autoencoder that marks unfamiliar flows: trained on every training row (benign and
/// attack, preprocessed), its threshold set on the validation rows so that
/// [`FAMILIAR_MISS_RATE`] of them are over it.
pub fn fit_familiarity(
    train: &[f32],
    valid: &[f32],
    seed: u64,
    device: &Device,
    cancel: &AtomicBool,
) -> Result<Familiarity, TrainError> {
    let config =
        AnomalyConfig::new().with_epochs(FAMILIARITY_EPOCHS).with_target_fpr(FAMILIAR_MISS_RATE).with_seed(seed);
    let detector = fit_anomaly(&config, train, valid, device, cancel)?;
    let plain = device.clone().without_autodiff();
    let valid_scores = detector.scores(valid, &plain);
    let over = valid_scores.iter().filter(|&&s| !(s < detector.threshold)).count();
    let stats = FamiliarityStats {
        config: config.model,
        feature_scale: detector.feature_scale,
        threshold: detector.threshold,
        held_back_rate: over as f64 / valid_scores.len().max(1) as f64,
        weights_sha256: String::new(),
        weights_bytes: 0,
    };
    Ok(Familiarity { model: detector.model, stats })
}
