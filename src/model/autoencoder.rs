//! An autoencoder over the 72 preprocessed features: detection without attack labels. It learns
//! to reconstruct benign flows only; a flow it reconstructs badly is unlike the benign traffic
//! it saw, and its reconstruction error is its anomaly score.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::features::N_FEATURES;

#[derive(Config, Debug)]
pub struct AutoencoderConfig {
    /// Widths of the encoder's layers down to the bottleneck; the decoder mirrors them.
    #[config(default = "vec![64, 16]")]
    pub encoder: Vec<usize>,
}

/// Encoder and decoder as one stack of linear layers (ReLU between, none on the output, which
/// reconstructs standardised features of either sign).
#[derive(Module, Debug)]
pub struct Autoencoder {
    pub(super) layers: Vec<Linear>,
}

impl AutoencoderConfig {
    /// Random initial weights, drawn while nothing else draws (see `MoeConfig::init`).
    pub fn init(&self, device: &Device) -> Autoencoder {
        let held = super::seeded_rng();
        self.init_holding(device, &held)
    }

    /// [`AutoencoderConfig::init`] for a caller that already holds burn's random numbers.
    pub fn init_holding(&self, device: &Device, _held: &super::HeldRng) -> Autoencoder {
        let mut widths = vec![N_FEATURES];
        widths.extend(&self.encoder);
        widths.extend(self.encoder.iter().rev().skip(1));
        widths.push(N_FEATURES);
        let layers = widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        Autoencoder { layers }
    }
}

impl Autoencoder {
    /// `[batch, 72]` → its reconstruction, `[batch, 72]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |h, (i, layer)| {
            let out = layer.forward(h);
            if i == last { out } else { relu(out) }
        })
    }

    /// Mean squared reconstruction error per row, `[batch]`.
    pub fn errors(&self, x: Tensor<2>) -> Tensor<1> {
        self.squared_errors(x).mean_dim(1).squeeze_dim(1)
    }

    /// Squared reconstruction error per feature, `[batch, 72]`.
    pub fn squared_errors(&self, x: Tensor<2>) -> Tensor<2> {
        let diff = self.forward(x.clone()) - x;
        diff.clone() * diff
    }
}

/// Runs `f` over row-major preprocessed `x` in batches and gathers its `[batch, k]` outputs.
fn batched(x: &[f32], device: &Device, batch_size: usize, f: impl Fn(Tensor<2>) -> Tensor<2>) -> Vec<f32> {
    let n = x.len() / N_FEATURES;
    let mut out = Vec::new();
    for start in (0..n).step_by(batch_size.max(1)) {
        let end = (start + batch_size.max(1)).min(n);
        let data = TensorData::new(x[start * N_FEATURES..end * N_FEATURES].to_vec(), [end - start, N_FEATURES]);
        // f32 tensors throughout, so the conversion cannot fail on a dtype mismatch.
        out.extend(
            f(Tensor::<2>::from_data(data, device))
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap_or_default(),
        );
    }
    out
}

/// Mean squared error of every feature over the rows of `x`: how well benign traffic is
/// reconstructed, feature by feature.
pub fn feature_error_scale(model: &Autoencoder, x: &[f32], device: &Device, batch_size: usize) -> Vec<f32> {
    let squared = batched(x, device, batch_size, |t| model.squared_errors(t));
    let n = (squared.len() / N_FEATURES).max(1) as f64;
    let mut sum = vec![0f64; N_FEATURES];
    for row in squared.chunks_exact(N_FEATURES) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    sum.into_iter().map(|s| (s / n) as f32).collect()
}

/// Anomaly score of every row: the mean over features of the squared reconstruction error,
/// each divided by that feature's typical benign error (`scale`), so a feature the model
/// always reconstructs loosely does not drown out one it reconstructs tightly.
pub fn anomaly_scores(model: &Autoencoder, scale: &[f32], x: &[f32], device: &Device, batch_size: usize) -> Vec<f32> {
    // A floor keeps near-perfectly reconstructed (e.g. constant) features from dividing by ~0.
    let inverse: Vec<f32> = scale.iter().map(|&s| 1.0 / s.max(1e-4)).collect();
    let weights = Tensor::<2>::from_data(TensorData::new(inverse, [1, N_FEATURES]), device);
    batched(x, device, batch_size, |t| (model.squared_errors(t) * weights.clone()).mean_dim(1))
}
