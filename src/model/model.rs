//! The Mixture-of-Experts detector: an FT-Transformer over the tabular features, a 1D-CNN over
//! the temporal ones, and a gate over all 72 that weighs the two experts' logits per flow.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Distribution, Tensor};

use super::config::{ExpertSet, FtTransformerConfig, MoeConfig, TemporalCnnConfig};
use crate::features::{N_TABULAR, N_TEMPORAL, TABULAR, TEMPORAL};

/// Per-feature linear tokenizer: token_j = x_j · W_j + b_j, each feature with its own W_j, b_j.
#[derive(Module, Debug)]
pub struct FeatureTokenizer {
    pub(super) weight: Param<Tensor<2>>,
    pub(super) bias: Param<Tensor<2>>,
}

impl FeatureTokenizer {
    fn new(n_features: usize, d_token: usize, device: &Device) -> Self {
        // rtdl initialises both uniformly in ±1/sqrt(d_token).
        let bound = 1.0 / (d_token as f64).sqrt();
        let init =
            |shape: [usize; 2]| Param::from_tensor(Tensor::random(shape, Distribution::Uniform(-bound, bound), device));
        Self { weight: init([n_features, d_token]), bias: init([n_features, d_token]) }
    }

    /// `[batch, n_features]` → `[batch, n_features, d_token]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<3> {
        let w = self.weight.val().unsqueeze_dim::<3>(0);
        let b = self.bias.val().unsqueeze_dim::<3>(0);
        x.unsqueeze_dim::<3>(2) * w + b
    }
}

/// Periodic embedding of each scalar feature, ReLU(Linear([sin 2πcx, cos 2πcx])) with learned
/// frequencies c per feature (Gorishniy et al. 2022, "On Embeddings for Numerical Features in
/// Tabular Deep Learning", PLR). A linear token is a straight line in the feature's value; the
/// flows of another release or network differ from the training sample in exactly the places
/// (window sizes, header lengths, packet sizes) where a line cannot separate attack from benign
/// but a tree model's thresholds can. The periodic term gives the transformer such
/// non-monotonic per-feature shapes; it is added to the linear token.
#[derive(Module, Debug)]
pub struct PeriodicTokenizer {
    pub(super) frequencies: Param<Tensor<2>>,
    pub(super) weight: Param<Tensor<3>>,
    pub(super) bias: Param<Tensor<2>>,
}

impl PeriodicTokenizer {
    fn new(n_features: usize, k: usize, sigma: f64, d_token: usize, device: &Device) -> Self {
        let bound = 1.0 / ((2 * k) as f64).sqrt();
        Self {
            frequencies: Param::from_tensor(Tensor::random([n_features, k], Distribution::Normal(0.0, sigma), device)),
            weight: Param::from_tensor(Tensor::random(
                [n_features, 2 * k, d_token],
                Distribution::Uniform(-bound, bound),
                device,
            )),
            bias: Param::from_tensor(Tensor::random(
                [n_features, d_token],
                Distribution::Uniform(-bound, bound),
                device,
            )),
        }
    }

    /// `[batch, n_features]` → `[batch, n_features, d_token]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<3> {
        let angles =
            x.unsqueeze_dim::<3>(2) * self.frequencies.val().unsqueeze_dim::<3>(0) * (2.0 * std::f64::consts::PI);
        let v = Tensor::cat(vec![angles.clone().sin(), angles.cos()], 2);
        // One small matmul per feature: [features, batch, 2k] × [features, 2k, d].
        let out = v.swap_dims(0, 1).matmul(self.weight.val()).swap_dims(0, 1);
        relu(out + self.bias.val().unsqueeze_dim::<3>(0))
    }
}

/// Multi-head self-attention with dropout on the attention probabilities.
#[derive(Module, Debug)]
pub struct SelfAttention {
    pub(super) query: Linear,
    pub(super) key_value: Linear,
    pub(super) output: Linear,
    pub(super) dropout: Dropout,
    pub(super) n_heads: usize,
}

impl SelfAttention {
    fn new(d: usize, n_heads: usize, dropout: f64, device: &Device) -> Self {
        Self {
            query: LinearConfig::new(d, d).init(device),
            key_value: LinearConfig::new(d, 2 * d).init(device),
            output: LinearConfig::new(d, d).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            n_heads,
        }
    }

    /// Queries from `q_src` `[b, tq, d]` attend over `kv_src` `[b, t, d]`.
    fn forward(&self, q_src: Tensor<3>, kv_src: Tensor<3>) -> Tensor<3> {
        let [b, tq, d] = q_src.dims();
        let t = kv_src.dims()[1];
        let dh = d / self.n_heads;
        let heads = |x: Tensor<3>, len: usize| x.reshape([b, len, self.n_heads, dh]).swap_dims(1, 2);
        let q = heads(self.query.forward(q_src), tq);
        let kv = self.key_value.forward(kv_src);
        let k = heads(kv.clone().narrow(2, 0, d), t);
        let v = heads(kv.narrow(2, d, d), t);
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt());
        let probs = self.dropout.forward(softmax(scores, 3));
        let context = probs.matmul(v).swap_dims(1, 2).reshape([b, tq, d]);
        self.output.forward(context)
    }
}

/// Pre-norm transformer block with a ReGLU feed-forward.
#[derive(Module, Debug)]
pub struct TransformerBlock {
    /// `None` in the first block: the paper drops that norm since the tokenizer output is raw.
    pub(super) attention_norm: Option<LayerNorm>,
    pub(super) attention: SelfAttention,
    pub(super) ffn_norm: LayerNorm,
    pub(super) ffn_in: Linear,
    pub(super) ffn_out: Linear,
    pub(super) ffn_dropout: Dropout,
    pub(super) residual_dropout: Dropout,
}

impl TransformerBlock {
    fn new(config: &FtTransformerConfig, first: bool, device: &Device) -> Self {
        let d = config.d_token;
        let d_ffn = config.d_ffn();
        Self {
            attention_norm: (!first).then(|| LayerNormConfig::new(d).init(device)),
            attention: SelfAttention::new(d, config.n_heads, config.attention_dropout, device),
            ffn_norm: LayerNormConfig::new(d).init(device),
            ffn_in: LinearConfig::new(d, 2 * d_ffn).init(device),
            ffn_out: LinearConfig::new(d_ffn, d).init(device),
            ffn_dropout: DropoutConfig::new(config.ffn_dropout).init(),
            residual_dropout: DropoutConfig::new(config.residual_dropout).init(),
        }
    }

    /// With `cls_only`, only the last ([CLS]) token is updated: the last block's other outputs
    /// feed nothing, so skipping them is exact and saves most of its cost (as rtdl does).
    fn forward(&self, x: Tensor<3>, cls_only: bool) -> Tensor<3> {
        let normed = match &self.attention_norm {
            Some(norm) => norm.forward(x.clone()),
            None => x.clone(),
        };
        let (query_src, residual) = if cls_only {
            let t = x.dims()[1];
            (normed.clone().narrow(1, t - 1, 1), x.narrow(1, t - 1, 1))
        } else {
            (normed.clone(), x)
        };
        let attended = self.attention.forward(query_src, normed);
        let x = residual + self.residual_dropout.forward(attended);
        let h = self.ffn_in.forward(self.ffn_norm.forward(x.clone()));
        let half = h.dims()[2] / 2;
        // ReGLU: a · relu(b) over the two halves of the projection.
        let gated = h.clone().narrow(2, 0, half) * relu(h.narrow(2, half, half));
        let h = self.ffn_out.forward(self.ffn_dropout.forward(gated));
        x + self.residual_dropout.forward(h)
    }
}

/// The tabular expert.
#[derive(Module, Debug)]
pub struct FtTransformer {
    pub(super) tokenizer: FeatureTokenizer,
    pub(super) periodic: Option<PeriodicTokenizer>,
    pub(super) cls: Param<Tensor<1>>,
    pub(super) blocks: Vec<TransformerBlock>,
    pub(super) head_norm: LayerNorm,
    pub(super) head: Linear,
}

impl FtTransformer {
    pub fn new(config: &FtTransformerConfig, n_classes: usize, device: &Device) -> Self {
        let d = config.d_token;
        let bound = 1.0 / (d as f64).sqrt();
        Self {
            tokenizer: FeatureTokenizer::new(config.n_features, d, device),
            periodic: config
                .periodic_frequencies
                .filter(|&k| k > 0)
                .map(|k| PeriodicTokenizer::new(config.n_features, k, config.periodic_sigma.unwrap_or(1.0), d, device)),
            cls: Param::from_tensor(Tensor::random([d], Distribution::Uniform(-bound, bound), device)),
            blocks: (0..config.n_blocks).map(|i| TransformerBlock::new(config, i == 0, device)).collect(),
            head_norm: LayerNormConfig::new(d).init(device),
            head: LinearConfig::new(d, n_classes).init(device),
        }
    }

    /// `[batch, 47]` standardised tabular features → `[batch, n_classes]` logits.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let b = x.dims()[0];
        let tokens = match &self.periodic {
            Some(p) => self.tokenizer.forward(x.clone()) + p.forward(x),
            None => self.tokenizer.forward(x),
        };
        let d = tokens.dims()[2];
        // [CLS] goes last, as in rtdl, so the last block can keep just that position.
        let cls = self.cls.val().reshape([1, 1, d]).expand([b, 1, d]);
        let mut h = Tensor::cat(vec![tokens, cls], 1);
        let n = self.blocks.len();
        for (i, block) in self.blocks.iter().enumerate() {
            h = block.forward(h, i + 1 == n);
        }
        let cls_out = h.reshape([b, d]);
        self.head.forward(relu(self.head_norm.forward(cls_out)))
    }
}

/// conv → norm → activation, channels last (`[batch, length, channels]`).
///
/// The convolution ("same" padding, stride 1) is written as im2col + one matmul: the `kernel`
/// shifted copies of the zero-padded sequence are concatenated along channels and projected.
/// That is exactly a 1-D convolution, and about ten times faster than burn-ndarray's direct
/// conv kernel, which dominated the CPU profile. The norm is a LayerNorm over channels at
/// each position, so a flow's score never depends on the other flows of its batch.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// `[channels_in · kernel, channels_out]` weights of the convolution.
    pub(super) conv: Linear,
    pub(super) norm: LayerNorm,
    pub(super) kernel: usize,
}

impl ConvBlock {
    fn new(c_in: usize, c_out: usize, kernel: usize, device: &Device) -> Self {
        Self {
            conv: LinearConfig::new(c_in * kernel, c_out).init(device),
            norm: LayerNormConfig::new(c_out).init(device),
            kernel,
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, l, c] = x.dims();
        let left = (self.kernel - 1) / 2;
        let right = self.kernel - 1 - left;
        let device = x.device();
        let mut parts = Vec::with_capacity(3);
        if left > 0 {
            parts.push(Tensor::zeros([b, left, c], &device));
        }
        parts.push(x);
        if right > 0 {
            parts.push(Tensor::zeros([b, right, c], &device));
        }
        let padded = Tensor::cat(parts, 1);
        let windows: Vec<Tensor<3>> = (0..self.kernel).map(|k| padded.clone().narrow(1, k, l)).collect();
        let y = self.conv.forward(Tensor::cat(windows, 2));
        relu(self.norm.forward(y))
    }
}

/// The temporal expert.
#[derive(Module, Debug)]
pub struct TemporalCnn {
    pub(super) blocks: Vec<ConvBlock>,
    pub(super) dropout: Dropout,
    pub(super) head: Linear,
}

impl TemporalCnn {
    pub fn new(config: &TemporalCnnConfig, n_classes: usize, device: &Device) -> Self {
        let mut blocks = Vec::new();
        let mut c_in = 1;
        for &c_out in &config.channels {
            blocks.push(ConvBlock::new(c_in, c_out, config.kernel_size, device));
            c_in = c_out;
        }
        Self {
            blocks,
            dropout: DropoutConfig::new(config.dropout).init(),
            // Global average and global max pooling, concatenated.
            head: LinearConfig::new(2 * c_in, n_classes).init(device),
        }
    }

    /// `[batch, 25]` standardised temporal features → `[batch, n_classes]` logits.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, l] = x.dims();
        let mut h = x.reshape([b, l, 1]);
        for block in &self.blocks {
            h = block.forward(h);
        }
        let c = h.dims()[2];
        let pooled = Tensor::cat(vec![h.clone().mean_dim(1).reshape([b, c]), h.max_dim(1).reshape([b, c])], 1);
        self.head.forward(self.dropout.forward(pooled))
    }
}

/// Softmax weights per expert per flow, from all 72 features.
#[derive(Module, Debug)]
pub struct Gate {
    pub(super) hidden: Linear,
    pub(super) output: Linear,
}

impl Gate {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        softmax(self.output.forward(relu(self.hidden.forward(x))), 1)
    }
}

/// What one forward pass gives for a batch.
#[derive(Debug, Clone)]
pub struct MoeOutput {
    /// Gate-weighted mix of the experts' logits, `[batch, n_classes]`.
    pub logits: Tensor<2>,
    /// Each expert's own logits (`None` when the expert is not in the set).
    pub tabular_logits: Option<Tensor<2>>,
    pub temporal_logits: Option<Tensor<2>>,
    /// `[batch, 2]`: weight of the tabular expert, then of the temporal one.
    pub gate: Tensor<2>,
}

/// The detector.
#[derive(Module, Debug)]
pub struct MoeModel {
    pub(super) tabular: Option<FtTransformer>,
    pub(super) temporal: Option<TemporalCnn>,
    pub(super) gate: Option<Gate>,
}

impl MoeConfig {
    /// A model of random initial weights, drawn while no other training or initialisation
    /// draws (tests and the window run several side by side).
    pub fn init(&self, device: &Device) -> MoeModel {
        let held = super::seeded_rng();
        self.init_holding(device, &held)
    }

    /// [`MoeConfig::init`] for a caller that already holds burn's random numbers (a training,
    /// which seeds them first and draws dropout masks after).
    pub fn init_holding(&self, device: &Device, _held: &super::HeldRng) -> MoeModel {
        let n = self.n_classes;
        let with_tab = self.experts != ExpertSet::TemporalOnly;
        let with_temp = self.experts != ExpertSet::TabularOnly;
        MoeModel {
            tabular: with_tab.then(|| FtTransformer::new(&self.tabular, n, device)),
            temporal: with_temp.then(|| TemporalCnn::new(&self.temporal, n, device)),
            gate: (self.experts == ExpertSet::Both).then(|| Gate {
                hidden: LinearConfig::new(self.n_features, self.gate_hidden).init(device),
                output: LinearConfig::new(self.gate_hidden, 2).init(device),
            }),
        }
    }
}

impl MoeModel {
    /// `x`: `[batch, 72]` preprocessed features in schema order.
    pub fn forward(&self, x: Tensor<2>) -> MoeOutput {
        let [b, _] = x.dims();
        let device = x.device();
        let tabular_logits = self.tabular.as_ref().map(|m| m.forward(x.clone().narrow(1, TABULAR.start, N_TABULAR)));
        let temporal_logits =
            self.temporal.as_ref().map(|m| m.forward(x.clone().narrow(1, TEMPORAL.start, N_TEMPORAL)));
        let (logits, gate) = match (&self.gate, &tabular_logits, &temporal_logits) {
            (Some(gate), Some(tab), Some(temp)) => {
                let g = gate.forward(x);
                let mixed = tab.clone() * g.clone().narrow(1, 0, 1) + temp.clone() * g.clone().narrow(1, 1, 1);
                (mixed, g)
            }
            (_, Some(tab), None) => (tab.clone(), one_hot_gate(b, 0, &device)),
            (_, None, Some(temp)) => (temp.clone(), one_hot_gate(b, 1, &device)),
            _ => unreachable!("MoeConfig::init builds at least one expert, and the gate only with both"),
        };
        MoeOutput { logits, tabular_logits, temporal_logits, gate }
    }

    /// Class probabilities and gate weights, `[batch, n_classes]` and `[batch, 2]`.
    pub fn predict(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        predict_mean(std::slice::from_ref(self), x)
    }
}

/// The mean of `members`' mixed logits and of their gates, `[batch, n_classes]` and
/// `[batch, 2]`: how a bundle of several models trained on the same rows scores a flow (one
/// member: that model's own output). Logits rather than probabilities are averaged so that the
/// ensemble's attack log-odds are one differentiable function of the flow, whose integrated
/// gradients stay complete (`model::explain`).
pub fn forward_mean(members: &[MoeModel], x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let (first, rest) = members.split_first().expect("a bundle has at least one member (ModelBundle::load checks)");
    let out = first.forward(x.clone());
    let (mut logits, mut gate) = (out.logits, out.gate);
    for member in rest {
        let out = member.forward(x.clone());
        logits = logits + out.logits;
        gate = gate + out.gate;
    }
    if rest.is_empty() {
        return (logits, gate);
    }
    let scale = 1.0 / members.len() as f32;
    (logits.mul_scalar(scale), gate.mul_scalar(scale))
}

/// Class probabilities and gates of the mean of `members` (see [`forward_mean`]).
pub fn predict_mean(members: &[MoeModel], x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let (logits, gate) = forward_mean(members, x);
    (softmax(logits, 1), gate)
}

/// A constant gate for a single-expert model: all weight on the expert present.
fn one_hot_gate(batch: usize, expert: usize, device: &Device) -> Tensor<2> {
    let mut data = vec![0.0f32; batch * 2];
    for row in data.chunks_mut(2) {
        row[expert] = 1.0;
    }
    Tensor::from_data(burn::tensor::TensorData::new(data, [batch, 2]), device)
}

/// Multiply-adds ×2 per flow of one forward pass, for the speed report's FLOP/s share.
pub fn flops_per_flow(config: &MoeConfig) -> u64 {
    let mut flops = 0u64;
    if config.experts != ExpertSet::TemporalOnly {
        let t = &config.tabular;
        let (d, f) = (t.d_token as u64, t.d_ffn() as u64);
        let tokens = t.n_features as u64 + 1;
        flops += 2 * t.n_features as u64 * d; // tokenizer
        if let Some(k) = t.periodic_frequencies {
            flops += 2 * t.n_features as u64 * 2 * k as u64 * d; // periodic embedding
        }
        for i in 0..t.n_blocks {
            let q = if i + 1 == t.n_blocks { 1 } else { tokens };
            flops += 2 * tokens * d * 2 * d; // keys and values
            flops += 2 * q * d * d; // queries
            flops += 2 * 2 * q * tokens * d; // scores and context
            flops += 2 * q * d * d; // output projection
            flops += 2 * q * d * 2 * f + 2 * q * f * d; // ReGLU feed-forward
        }
        flops += 2 * d * config.n_classes as u64;
    }
    if config.experts != ExpertSet::TabularOnly {
        let c = &config.temporal;
        let mut c_in = 1u64;
        for &c_out in &c.channels {
            flops += 2 * c.length as u64 * c_in * c_out as u64 * c.kernel_size as u64;
            c_in = c_out as u64;
        }
        flops += 2 * 2 * c_in * config.n_classes as u64;
    }
    if config.experts == ExpertSet::Both {
        flops += 2 * config.n_features as u64 * config.gate_hidden as u64 + 2 * config.gate_hidden as u64 * 2;
    }
    flops
}

impl MoeModel {
    /// Whether this model mixes two experts through a learned gate.
    pub fn has_gate(&self) -> bool {
        self.gate.is_some()
    }
}
