//! A hand-written CPU forward pass of the MoE and of the familiarity autoencoder, for scoring.
//!
//! Why by hand: burn-ndarray runs the graph one op at a time, each op a pass over the whole
//! batch with a fresh allocation, and the FT-Transformer's `[batch, 48, 64]` keys and values
//! leave the cache as the batch grows (measured: 22,900 flows/s at batch 256 on the reference
//! 2 cores, 5,900 at 4,096; PyTorch eager 26,000–31,000). No burn CPU backend fuses these
//! small layers, so this module runs the fixed architecture directly, and
//! `tests/integration/fused.rs` checks it against burn's own forward pass (probabilities,
//! gates and anomaly scores), for the shipped bundle and for other sizes of the architecture.
//! What makes it fast, each measured in `netvigil bench`:
//! - a tile of flows at a time (`Scorer::batch_size`), so a tile's tokens stay in L2;
//! - in the last transformer block, where only the [CLS] query is kept, keys and values are
//!   never formed: q·(W_k t + b_k) = (W_kᵀq)·t + const, and the constant cancels in the
//!   softmax; Σ p_j (W_v t_j + b_v) = W_v (Σ p_j t_j) + b_v since the p_j sum to 1. Exact
//!   algebra that turns 48 key/value projections per flow into two weighted sums per head;
//! - every product of more than a few rows through matrixmultiply's sgemm, which picks its
//!   AVX2/FMA kernel at run time; the loops around them are compiled a second time for AVX2
//!   and chosen at run time as well;
//! - sin/cos of the periodic embedding by a Cephes polynomial that vectorises, instead of
//!   376 libm calls of each per flow;
//! - the attention scores and LayerNorms reduced eight rows at a time (`kernels`).

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;

use super::autoencoder::Autoencoder;
use super::config::N_EXPERTS;
use super::model::{ConvBlock, FtTransformer, MoeModel, TemporalCnn, TransformerBlock};
use crate::features::{N_FEATURES, N_TEMPORAL, TABULAR, TEMPORAL};

mod kernels;

pub use kernels::with_baseline_kernels;
use kernels::*;

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    // The model holds f32 tensors only, so the conversion cannot fail on a dtype mismatch.
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

fn param<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f32> {
    to_vec(p.val())
}

/// `v` resized to `n` values (contents unspecified) and borrowed as a slice.
fn resized(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    v.resize(n, 0.0);
    &mut v[..n]
}

/// A linear layer as plain arrays: `w` is `[d_in, d_out]` row-major, as burn stores it.
#[derive(Debug, Clone)]
struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    d_in: usize,
    d_out: usize,
}

impl Dense {
    fn new(l: &Linear) -> Self {
        let [d_in, d_out] = l.weight.val().dims();
        Self { w: param(&l.weight), b: l.bias.as_ref().map(param).unwrap_or_else(|| vec![0.0; d_out]), d_in, d_out }
    }

    /// `out` (rows × d_out) = `input` (rows × d_in) · W + b.
    fn forward(&self, rows: usize, input: &[f32], out: &mut Vec<f32>) {
        let out = resized(out, rows * self.d_out);
        self.add_to(rows, input, self.d_in, out, self.d_out, true);
    }

    /// `out` += `input` · W (+ b), rows of the given strides (for residual connections).
    fn add_to(
        &self,
        rows: usize,
        input: &[f32],
        in_stride: usize,
        out: &mut [f32],
        out_stride: usize,
        overwrite: bool,
    ) {
        let beta = if overwrite { 0.0 } else { 1.0 };
        gemm(rows, self.d_in, self.d_out, input, (in_stride, 1), &self.w, (self.d_out, 1), beta, out, out_stride);
        // The bias after the product: copying it into each row first costs a memcpy call a row.
        for r in 0..rows {
            let row = &mut out[r * out_stride..r * out_stride + self.d_out];
            row.iter_mut().zip(&self.b).for_each(|(o, b)| *o += b);
        }
    }
}

#[derive(Debug, Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    fn new(n: &LayerNorm) -> Self {
        let gamma = param(&n.gamma);
        let beta = n.beta.as_ref().map(param).unwrap_or_else(|| vec![0.0; gamma.len()]);
        Self { gamma, beta }
    }

    /// LayerNorm of each row of `src` into `dst`.
    fn rows(&self, src: &[f32], dst: &mut [f32]) {
        dst.copy_from_slice(src);
        self.rows_in_place(dst);
    }

    fn rows_in_place(&self, x: &mut [f32]) {
        layer_norm_in_place(x, &self.gamma, &self.beta);
    }
}

/// Buffers reused from tile to tile (one set per thread).
#[derive(Default)]
pub struct Scratch {
    tokens: Vec<f32>,
    normed: Vec<f32>,
    angles: Vec<f32>,
    q: Vec<f32>,
    kv: Vec<f32>,
    u: Vec<f32>,
    r: Vec<f32>,
    scores: Vec<f32>,
    ctx: Vec<f32>,
    cls: Vec<f32>,
    ffn: Vec<f32>,
    gated: Vec<f32>,
    tmp: Vec<f32>,
    conv_a: Vec<f32>,
    conv_b: Vec<f32>,
    cols: Vec<f32>,
    pooled: Vec<f32>,
    tab_logits: Vec<f32>,
    temp_logits: Vec<f32>,
    gate_hidden: Vec<f32>,
    gate: Vec<f32>,
    ae_a: Vec<f32>,
    ae_b: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Block {
    attention_norm: Option<Norm>,
    query: Dense,
    key_value: Dense,
    output: Dense,
    ffn_norm: Norm,
    ffn_in: Dense,
    ffn_out: Dense,
    heads: usize,
}

impl Block {
    fn new(b: &TransformerBlock) -> Self {
        Self {
            attention_norm: b.attention_norm.as_ref().map(Norm::new),
            query: Dense::new(&b.attention.query),
            key_value: Dense::new(&b.attention.key_value),
            output: Dense::new(&b.attention.output),
            ffn_norm: Norm::new(&b.ffn_norm),
            ffn_in: Dense::new(&b.ffn_in),
            ffn_out: Dense::new(&b.ffn_out),
            heads: b.attention.n_heads,
        }
    }

    /// The tokens the attention reads: normed, or as they are in the first block.
    #[inline(always)]
    fn normed<'a>(&self, h: &'a [f32], buf: &'a mut Vec<f32>) -> &'a [f32] {
        match &self.attention_norm {
            Some(norm) => {
                let out = resized(buf, h.len());
                norm.rows(h, out);
                out
            }
            None => h,
        }
    }

    /// A full block over every token of `m` flows of `t` tokens (blocks before the last).
    #[inline(always)]
    fn forward_all(&self, h: &mut [f32], m: usize, t: usize, s: &mut Scratch) {
        let d = self.query.d_in;
        let (heads, dh) = (self.heads, d / self.heads);
        let rows = m * t;
        let normed = self.normed(h, &mut s.normed);
        self.query.forward(rows, normed, &mut s.q);
        self.key_value.forward(rows, normed, &mut s.kv);
        let ctx = resized(&mut s.ctx, rows * d);
        ctx.fill(0.0);
        let scores = resized(&mut s.scores, t);
        let scale = 1.0 / (dh as f32).sqrt();
        for b in 0..m {
            for hh in 0..heads {
                for i in 0..t {
                    let q = &s.q[(b * t + i) * d + hh * dh..][..dh];
                    for (j, sc) in scores.iter_mut().enumerate() {
                        *sc = dot::<false>(q, &s.kv[(b * t + j) * 2 * d + hh * dh..][..dh]) * scale;
                    }
                    softmax_in_place(scores);
                    let out = &mut ctx[(b * t + i) * d + hh * dh..][..dh];
                    for (j, &p) in scores.iter().enumerate() {
                        axpy::<false>(p, &s.kv[(b * t + j) * 2 * d + d + hh * dh..][..dh], out);
                    }
                }
            }
        }
        self.output.add_to(rows, ctx, d, h, d, false);
        self.ffn(h, rows, s);
    }

    /// The last block, for the [CLS] token only (the last of each flow's `t` tokens), into
    /// `out` (m × d). See the module note for the algebra.
    #[inline(always)]
    fn forward_cls(&self, h: &[f32], m: usize, t: usize, s: &mut Scratch, out: &mut [f32]) {
        let d = self.query.d_in;
        let (heads, dh) = (self.heads, d / self.heads);
        let normed = self.normed(h, &mut s.normed);
        let q = resized(&mut s.q, m * d);
        self.query.add_to(m, &normed[(t - 1) * d..], t * d, q, d, true);
        // u_h = W_k,h · q_h: W_k is the first d columns of the [d, 2d] key/value weights.
        let u = resized(&mut s.u, m * heads * d);
        let wkv = &self.key_value.w;
        for hh in 0..heads {
            gemm(m, dh, d, &q[hh * dh..], (d, 1), &wkv[hh * dh..], (1, 2 * d), 0.0, &mut u[hh * d..], heads * d);
        }
        let r = resized(&mut s.r, m * heads * d);
        attend_cls(normed, u, r, resized(&mut s.scores, t), t, d, heads, 1.0 / (dh as f32).sqrt());
        // context_h = r_h · W_v,h + b_v,h (W_v: the last d columns).
        let ctx = resized(&mut s.ctx, m * d);
        for row in ctx.chunks_exact_mut(d) {
            row.copy_from_slice(&self.key_value.b[d..]);
        }
        for hh in 0..heads {
            gemm(m, d, dh, &r[hh * d..], (heads * d, 1), &wkv[d + hh * dh..], (2 * d, 1), 1.0, &mut ctx[hh * dh..], d);
        }
        for b in 0..m {
            out[b * d..(b + 1) * d].copy_from_slice(&h[(b * t + t - 1) * d..][..d]);
        }
        self.output.add_to(m, ctx, d, out, d, false);
        self.ffn(out, m, s);
    }

    /// x += ReGLU feed-forward of LayerNorm(x), over `rows` rows.
    #[inline(always)]
    fn ffn(&self, x: &mut [f32], rows: usize, s: &mut Scratch) {
        let d = self.query.d_in;
        let normed = resized(&mut s.tmp, rows * d);
        self.ffn_norm.rows(&x[..rows * d], normed);
        self.ffn_in.forward(rows, normed, &mut s.ffn);
        let f = self.ffn_out.d_in;
        let gated = resized(&mut s.gated, rows * f);
        for (g, h) in gated.chunks_exact_mut(f).zip(s.ffn.chunks_exact(2 * f)) {
            let (a, b) = h.split_at(f);
            for ((g, a), b) in g.iter_mut().zip(a).zip(b) {
                *g = a * b.max(0.0);
            }
        }
        self.ffn_out.add_to(rows, gated, f, x, d, false);
    }
}

#[derive(Debug, Clone)]
struct Periodic {
    frequencies: Vec<f32>,
    weight: Vec<f32>,
    bias: Vec<f32>,
    k: usize,
}

#[derive(Debug, Clone)]
struct Tabular {
    token_w: Vec<f32>,
    token_b: Vec<f32>,
    periodic: Option<Periodic>,
    cls: Vec<f32>,
    blocks: Vec<Block>,
    head_norm: Norm,
    head: Dense,
    n: usize,
    d: usize,
}

impl Tabular {
    fn new(ft: &FtTransformer) -> Self {
        let [n, d] = ft.tokenizer.weight.val().dims();
        Self {
            token_w: param(&ft.tokenizer.weight),
            token_b: param(&ft.tokenizer.bias),
            periodic: ft.periodic.as_ref().map(|p| Periodic {
                frequencies: param(&p.frequencies),
                weight: param(&p.weight),
                bias: param(&p.bias),
                k: p.frequencies.val().dims()[1],
            }),
            cls: param(&ft.cls),
            blocks: ft.blocks.iter().map(Block::new).collect(),
            head_norm: Norm::new(&ft.head_norm),
            head: Dense::new(&ft.head),
            n,
            d,
        }
    }

    /// Tokens of `m` flows, `[m, n + 1, d]` with [CLS] last.
    #[inline(always)]
    fn tokenize(&self, x: &[f32], m: usize, h: &mut [f32], angles: &mut Vec<f32>) {
        let (n, d, t) = (self.n, self.d, self.n + 1);
        let value = |b: usize, j: usize| x[b * N_FEATURES + TABULAR.start + j];
        for j in 0..n {
            let (w, bias) = (&self.token_w[j * d..][..d], &self.token_b[j * d..][..d]);
            match &self.periodic {
                Some(p) => {
                    let k = p.k;
                    let freqs = &p.frequencies[j * k..][..k];
                    let (pw, pb) = (&p.weight[j * 2 * k * d..][..2 * k * d], &p.bias[j * d..][..d]);
                    let v = resized(angles, 2 * k);
                    feature_rows(x, TABULAR.start + j, m, t * d, &mut h[j * d..], freqs, pw, pb, w, bias, v);
                }
                None => {
                    for b in 0..m {
                        let xv = value(b, j);
                        let row = &mut h[(b * t + j) * d..][..d];
                        for ((o, w), bias) in row.iter_mut().zip(w).zip(bias) {
                            *o = xv * w + bias;
                        }
                    }
                }
            }
        }
        for b in 0..m {
            h[(b * t + n) * d..][..d].copy_from_slice(&self.cls);
        }
    }

    /// Logits `[m, n_classes]` into `s.tab_logits`.
    #[inline(always)]
    fn forward(&self, x: &[f32], m: usize, s: &mut Scratch) {
        let (d, t) = (self.d, self.n + 1);
        let mut tokens = std::mem::take(&mut s.tokens);
        let mut cls = std::mem::take(&mut s.cls);
        let h = resized(&mut tokens, m * t * d);
        self.tokenize(x, m, h, &mut s.angles);
        let last = self.blocks.len() - 1;
        for block in &self.blocks[..last] {
            block.forward_all(h, m, t, s);
        }
        let out = resized(&mut cls, m * d);
        self.blocks[last].forward_cls(h, m, t, s, out);
        self.head_norm.rows_in_place(out);
        out.iter_mut().for_each(|v| *v = v.max(0.0));
        self.head.forward(m, out, &mut s.tab_logits);
        s.tokens = tokens;
        s.cls = cls;
    }
}

#[derive(Debug, Clone)]
struct Conv {
    dense: Dense,
    norm: Norm,
    kernel: usize,
}

#[derive(Debug, Clone)]
struct Temporal {
    blocks: Vec<Conv>,
    head: Dense,
}

impl Temporal {
    fn new(cnn: &TemporalCnn) -> Self {
        let conv = |b: &ConvBlock| Conv { dense: Dense::new(&b.conv), norm: Norm::new(&b.norm), kernel: b.kernel };
        Self { blocks: cnn.blocks.iter().map(conv).collect(), head: Dense::new(&cnn.head) }
    }

    /// Logits `[m, n_classes]` into `s.temp_logits`: im2col + one product per block, as
    /// `ConvBlock` does in burn.
    #[inline(always)]
    fn forward(&self, x: &[f32], m: usize, s: &mut Scratch) {
        let l = N_TEMPORAL;
        let mut cur = std::mem::take(&mut s.conv_a);
        let mut next = std::mem::take(&mut s.conv_b);
        let input = resized(&mut cur, m * l);
        for b in 0..m {
            input[b * l..(b + 1) * l].copy_from_slice(&x[b * N_FEATURES + TEMPORAL.start..][..l]);
        }
        let mut c = 1;
        for block in &self.blocks {
            let k = block.kernel;
            let cols = resized(&mut s.cols, m * l * k * c);
            im2col(&cur[..m * l * c], cols, l, c, k);
            block.dense.forward(m * l, cols, &mut next);
            block.norm.rows_in_place(&mut next);
            next.iter_mut().for_each(|v| *v = v.max(0.0));
            std::mem::swap(&mut cur, &mut next);
            c = block.dense.d_out;
        }
        let pooled = resized(&mut s.pooled, m * 2 * c);
        pool(&cur[..m * l * c], pooled, l, c);
        self.head.forward(m, pooled, &mut s.temp_logits);
        s.conv_a = cur;
        s.conv_b = next;
    }
}

/// The familiarity autoencoder's anomaly score (`autoencoder::anomaly_scores`).
#[derive(Debug, Clone)]
pub struct FusedAutoencoder {
    layers: Vec<Dense>,
    inverse_scale: Vec<f32>,
}

impl FusedAutoencoder {
    pub fn new(model: &Autoencoder, feature_scale: &[f32]) -> Self {
        Self {
            layers: model.layers.iter().map(Dense::new).collect(),
            inverse_scale: feature_scale.iter().map(|&s| 1.0 / s.max(1e-4)).collect(),
        }
    }

    #[inline(always)]
    fn scores(&self, x: &[f32], m: usize, s: &mut Scratch, out: &mut Vec<f32>) {
        let mut a = std::mem::take(&mut s.ae_a);
        let mut b = std::mem::take(&mut s.ae_b);
        resized(&mut a, m * N_FEATURES).copy_from_slice(&x[..m * N_FEATURES]);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            layer.forward(m, &a, &mut b);
            if i != last {
                b.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            std::mem::swap(&mut a, &mut b);
        }
        let start = out.len();
        out.resize(start + m, 0.0);
        scaled_errors(&a[..m * N_FEATURES], &x[..m * N_FEATURES], &self.inverse_scale, &mut out[start..]);
        s.ae_a = a;
        s.ae_b = b;
    }
}

/// One MoE's forward pass as plain arrays, built once from a loaded model.
#[derive(Debug, Clone)]
struct FusedMember {
    tabular: Option<Tabular>,
    temporal: Option<Temporal>,
    gate: Option<(Dense, Dense)>,
}

/// The scoring forward pass of a bundle: one MoE, or an ensemble of MoEs trained on the same
/// rows, whose mixed logits and gates are averaged (as `model::ensemble` does in burn).
#[derive(Debug, Clone)]
pub struct FusedMoe {
    members: Vec<FusedMember>,
    n_classes: usize,
}

/// What one pass over flows gives: row-major probabilities, gates and (with an autoencoder)
/// anomaly scores.
#[derive(Debug, Default)]
pub struct FusedOutput {
    pub probs: Vec<f32>,
    pub gates: Vec<f32>,
    pub anomaly: Vec<f32>,
}

impl FusedMember {
    fn new(model: &MoeModel) -> Self {
        Self {
            tabular: model.tabular.as_ref().map(Tabular::new),
            temporal: model.temporal.as_ref().map(Temporal::new),
            gate: model.gate.as_ref().map(|g| (Dense::new(&g.hidden), Dense::new(&g.output))),
        }
    }

    fn n_classes(&self) -> usize {
        self.tabular.as_ref().map(|t| t.head.d_out).or(self.temporal.as_ref().map(|t| t.head.d_out)).unwrap_or(0)
    }

    /// The mixed logits (`m×nc`) and gates (`m×2`) of a tile `x`, added to `logits` and `gates`
    /// scaled by `weight`.
    fn add_tile(
        &self,
        x: &[f32],
        m: usize,
        nc: usize,
        s: &mut Scratch,
        weight: f32,
        logits: &mut [f32],
        gates: &mut [f32],
    ) {
        if let Some(t) = &self.tabular {
            t.forward(x, m, s);
        }
        if let Some(t) = &self.temporal {
            t.forward(x, m, s);
        }
        let gate = resized(&mut s.gate, m * N_EXPERTS);
        match &self.gate {
            Some((hidden, output)) => {
                hidden.forward(m, x, &mut s.gate_hidden);
                s.gate_hidden.iter_mut().for_each(|v| *v = v.max(0.0));
                output.add_to(m, &s.gate_hidden, hidden.d_out, gate, N_EXPERTS, true);
                gate.chunks_exact_mut(N_EXPERTS).for_each(softmax_in_place);
            }
            None => {
                let slot = if self.tabular.is_some() { 0 } else { 1 };
                gate.chunks_exact_mut(N_EXPERTS).for_each(|g| {
                    g.fill(0.0);
                    g[slot] = 1.0;
                });
            }
        }
        let tab = self.tabular.as_ref().map(|_| &s.tab_logits[..m * nc]);
        let temp = self.temporal.as_ref().map(|_| &s.temp_logits[..m * nc]);
        match (tab, temp) {
            (Some(tab), Some(temp)) => {
                let rows = logits.chunks_exact_mut(nc).zip(gate.chunks_exact(N_EXPERTS));
                for ((l, g), (a, b)) in rows.zip(tab.chunks_exact(nc).zip(temp.chunks_exact(nc))) {
                    let (ga, gb) = (weight * g[0], weight * g[1]);
                    for ((l, a), b) in l.iter_mut().zip(a).zip(b) {
                        *l += a * ga + b * gb;
                    }
                }
            }
            (Some(one), None) | (None, Some(one)) => {
                for (l, a) in logits.iter_mut().zip(one) {
                    *l += weight * a;
                }
            }
            (None, None) => {}
        }
        for (acc, g) in gates.iter_mut().zip(gate.iter()) {
            *acc += weight * g;
        }
    }
}

impl FusedMoe {
    pub fn new(model: &MoeModel) -> Self {
        Self::ensemble(std::slice::from_ref(model))
    }

    /// The mean of `members`' forward passes (one member: that model's own).
    pub fn ensemble(members: &[MoeModel]) -> Self {
        let members: Vec<FusedMember> = members.iter().map(FusedMember::new).collect();
        let n_classes = members.first().map_or(0, FusedMember::n_classes);
        Self { members, n_classes }
    }

    /// Scores preprocessed rows (`N×72`) `tile` flows at a time on this thread.
    pub fn run(&self, x: &[f32], tile: usize, autoencoder: Option<&FusedAutoencoder>) -> FusedOutput {
        let n = x.len() / N_FEATURES;
        let mut out = FusedOutput {
            probs: Vec::with_capacity(n * self.n_classes),
            gates: Vec::with_capacity(n * N_EXPERTS),
            anomaly: Vec::with_capacity(if autoencoder.is_some() { n } else { 0 }),
        };
        let mut scratch = Scratch::default();
        for chunk in x[..n * N_FEATURES].chunks(tile.max(1) * N_FEATURES) {
            self.tile(chunk, autoencoder, &mut scratch, &mut out);
        }
        out
    }

    fn tile(&self, x: &[f32], ae: Option<&FusedAutoencoder>, s: &mut Scratch, out: &mut FusedOutput) {
        let m = x.len() / N_FEATURES;
        let nc = self.n_classes;
        let (start, gate_start) = (out.probs.len(), out.gates.len());
        out.probs.resize(start + m * nc, 0.0);
        out.gates.resize(gate_start + m * N_EXPERTS, 0.0);
        let weight = 1.0 / self.members.len().max(1) as f32;
        for member in &self.members {
            member.add_tile(x, m, nc, s, weight, &mut out.probs[start..], &mut out.gates[gate_start..]);
        }
        out.probs[start..].chunks_exact_mut(nc).for_each(softmax_in_place);
        if let Some(ae) = ae {
            ae.scores(x, m, s, &mut out.anomaly);
        }
    }
}
