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
//!   376 libm calls of each per flow.

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;

use super::autoencoder::Autoencoder;
use super::config::N_EXPERTS;
use super::model::{ConvBlock, FtTransformer, MoeModel, TemporalCnn, TransformerBlock};
use crate::features::{N_FEATURES, N_TEMPORAL, TABULAR, TEMPORAL};

/// Defines a kernel `$name` twice: compiled for AVX2 and FMA, chosen at run time where the
/// CPU has them, and for the baseline target. Kernels take their arrays as slice parameters:
/// LLVM then knows they do not overlap and keeps the eight-lane loops vectorised, which it did
/// not where the same loops read arrays through the model's structs (measured: scalar code,
/// a third slower).
macro_rules! kernel {
    ($(#[$doc:meta])* fn $name:ident / $avx:ident ($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments, unused_unsafe)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has both features the twin is compiled for.
                return unsafe { $avx($($arg),*) };
            }
            // Without FMA in hardware, `mul_add` would be a libm call.
            #[allow(dead_code)]
            const FMA: bool = false;
            $body
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[inline(never)]
        #[allow(clippy::too_many_arguments, unused_unsafe)]
        fn $avx($($arg: $ty),*) {
            #[allow(dead_code)]
            const FMA: bool = true;
            $body
        }
    };
}

kernel! {
    /// Tokens of one feature for `m` flows (rows `stride` apart in `h`): periodic embedding of
    /// the feature's value plus its linear token.
    fn feature_rows / feature_rows_avx2(x: &[f32], col: usize, m: usize, stride: usize, h: &mut [f32], freqs: &[f32], pw: &[f32], pb: &[f32], w: &[f32], bias: &[f32], v: &mut [f32]) {
        let d = w.len();
        for b in 0..m {
            let xv = x[b * N_FEATURES + col];
            periodic_features(xv, freqs, v);
            let row = &mut h[b * stride..][..d];
            match d {
                16 => periodic_row::<2, FMA>(v, pw, pb, xv, w, bias, row),
                32 => periodic_row::<4, FMA>(v, pw, pb, xv, w, bias, row),
                64 => periodic_row::<8, FMA>(v, pw, pb, xv, w, bias, row),
                _ => periodic_row_any(v, pw, pb, xv, w, bias, row),
            }
        }
    }
}

kernel! {
    /// The [CLS] query's attention over each flow's `t` tokens: per head, the softmax of
    /// token · u_h into `scores`, and the probability-weighted sum of the tokens into `r`.
    fn attend_cls / attend_cls_avx2(normed: &[f32], u: &[f32], r: &mut [f32], scores: &mut [f32], t: usize, d: usize, heads: usize, scale: f32) {
        let m = r.len() / (heads * d);
        r.fill(0.0);
        for b in 0..m {
            let tokens = &normed[b * t * d..(b + 1) * t * d];
            for hh in 0..heads {
                let uh = &u[(b * heads + hh) * d..][..d];
                head_scores::<FMA>(tokens, uh, scores, d, scale);
                softmax_in_place(scores);
                let rh = &mut r[(b * heads + hh) * d..][..d];
                for (&p, tok) in scores.iter().zip(tokens.chunks_exact(d)) {
                    axpy::<FMA>(p, tok, rh);
                }
            }
        }
    }
}

kernel! {
    /// LayerNorm of each row of `src` into `dst` (biased variance, as burn).
    fn layer_norm_rows / layer_norm_rows_avx2(src: &[f32], dst: &mut [f32], gamma: &[f32], beta: &[f32]) {
        let d = gamma.len();
        for (s, o) in src.chunks_exact(d).zip(dst.chunks_exact_mut(d)) {
            let mean = sum(s) / d as f32;
            for (o, &x) in o.iter_mut().zip(s) {
                *o = x - mean;
            }
            let var = dot::<FMA>(o, o) / d as f32;
            let inv = 1.0 / (var + LAYER_NORM_EPS).sqrt();
            for ((o, g), b) in o.iter_mut().zip(gamma).zip(beta) {
                *o = *o * inv * g + b;
            }
        }
    }
}

kernel! {
    /// LayerNorm of each row of `x` in place (no copy of the rows first).
    fn layer_norm_in_place / layer_norm_in_place_avx2(x: &mut [f32], gamma: &[f32], beta: &[f32]) {
        let d = gamma.len();
        #[cfg(target_arch = "x86_64")]
        if FMA && d % 8 == 0 && d <= 256 {
            let mut groups = x.chunks_exact_mut(8 * d);
            for group in &mut groups {
                // SAFETY: FMA is true only in the twin compiled for AVX2 and FMA, run only
                // after the CPU was found to have both.
                unsafe { layer_norm_8_rows(group, gamma, beta) };
            }
            // The last rows padded to eight, so they get the same arithmetic as the others.
            let rest = groups.into_remainder();
            if !rest.is_empty() {
                let mut padded = [0f32; 8 * 256];
                padded[..rest.len()].copy_from_slice(rest);
                // SAFETY: as above.
                unsafe { layer_norm_8_rows(&mut padded[..8 * d], gamma, beta) };
                rest.copy_from_slice(&padded[..rest.len()]);
            }
            return;
        }
        for o in x.chunks_exact_mut(d) {
            let mean = sum(o) / d as f32;
            o.iter_mut().for_each(|v| *v -= mean);
            let var = dot::<FMA>(o, o) / d as f32;
            let inv = 1.0 / (var + LAYER_NORM_EPS).sqrt();
            for ((o, g), b) in o.iter_mut().zip(gamma).zip(beta) {
                *o = *o * inv * g + b;
            }
        }
    }
}

kernel! {
    /// The "same"-padded windows of `k` positions of each flow's sequence (`l` positions of
    /// `c` channels) side by side: a 1-D convolution becomes one product.
    fn im2col / im2col_avx2(cur: &[f32], cols: &mut [f32], l: usize, c: usize, k: usize) {
        let left = (k - 1) / 2;
        let m = cur.len() / (l * c);
        for b in 0..m {
            for p in 0..l {
                for kk in 0..k {
                    let at = ((b * l + p) * k + kk) * c;
                    let src = (p + kk).checked_sub(left).filter(|&src| src < l);
                    // One value per position in the first block: no slice copy (a call).
                    match (src, c) {
                        (Some(src), 1) => cols[at] = cur[b * l + src],
                        (None, 1) => cols[at] = 0.0,
                        (Some(src), _) => cols[at..at + c].copy_from_slice(&cur[(b * l + src) * c..][..c]),
                        (None, _) => cols[at..at + c].fill(0.0),
                    }
                }
            }
        }
    }
}

kernel! {
    /// Global mean and max over each flow's `l` positions, side by side.
    fn pool / pool_avx2(cur: &[f32], pooled: &mut [f32], l: usize, c: usize) {
        for (seq, out) in cur.chunks_exact(l * c).zip(pooled.chunks_exact_mut(2 * c)) {
            let (mean, max) = out.split_at_mut(c);
            mean.fill(0.0);
            max.fill(f32::NEG_INFINITY);
            for row in seq.chunks_exact(c) {
                for ((me, mx), &v) in mean.iter_mut().zip(max.iter_mut()).zip(row) {
                    *me += v;
                    *mx = mx.max(v);
                }
            }
            mean.iter_mut().for_each(|v| *v /= l as f32);
        }
    }
}

kernel! {
    /// Mean over features of the squared reconstruction error, each weighted, per row.
    fn scaled_errors / scaled_errors_avx2(rec: &[f32], x: &[f32], inverse_scale: &[f32], out: &mut [f32]) {
        for ((rec, row), o) in rec.chunks_exact(N_FEATURES).zip(x.chunks_exact(N_FEATURES)).zip(out.iter_mut()) {
            let mut acc = [0f32; N_FEATURES];
            for (((acc, r), x), w) in acc.iter_mut().zip(rec).zip(row).zip(inverse_scale) {
                let diff = r - x;
                *acc = diff * diff * w;
            }
            *o = sum(&acc) / N_FEATURES as f32;
        }
    }
}

/// Every LayerNorm of the model is built with `LayerNormConfig`'s default epsilon.
const LAYER_NORM_EPS: f32 = 1e-5;

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

/// C (m×n, row stride `crs`) = A (m×k) · B (k×n) + beta·C, strides as (row, column).
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (ars, acs): (usize, usize),
    b: &[f32],
    (brs, bcs): (usize, usize),
    beta: f32,
    c: &mut [f32],
    crs: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(a.len() > (m - 1) * ars + (k - 1) * acs, "gemm: A too short");
    assert!(b.len() > (k - 1) * brs + (n - 1) * bcs, "gemm: B too short");
    assert!(c.len() > (m - 1) * crs + (n - 1), "gemm: C too short");
    // SAFETY: the asserts keep every element sgemm reads or writes inside the three slices, and
    // `c` is a unique borrow, so it aliases neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            ars as isize,
            acs as isize,
            b.as_ptr(),
            brs as isize,
            bcs as isize,
            beta,
            c.as_mut_ptr(),
            crs as isize,
            1,
        );
    }
}

/// a · b + c, fused into one instruction where the kernel is compiled for FMA.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// A dot product in eight lanes, so that it vectorises (a plain float sum may not be reordered).
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b[..a.len()].as_chunks::<8>();
    let mut acc = [0f32; 8];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..8 {
            acc[l] = madd::<FMA>(x[l], y[l], acc[l]);
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<8>();
    let mut acc = [0f32; 8];
    for x in ca {
        for l in 0..8 {
            acc[l] += x[l];
        }
    }
    acc.iter().sum::<f32>() + ra.iter().sum::<f32>()
}

/// scale · (token · u) for each of the `scores.len()` tokens (rows of `d` values).
#[inline(always)]
fn head_scores<const FMA: bool>(tokens: &[f32], u: &[f32], scores: &mut [f32], d: usize, scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if FMA && d % 8 == 0 {
        // SAFETY: FMA is true only in the kernels compiled for AVX2 and FMA, which run only
        // after the CPU was found to have both.
        unsafe { head_scores_avx2(tokens, u, scores, d, scale) };
        return;
    }
    for (sc, tok) in scores.iter_mut().zip(tokens.chunks_exact(d)) {
        *sc = dot::<FMA>(tok, u) * scale;
    }
}

/// `head_scores` eight tokens at a time: eight dot products side by side, then one
/// transposing horizontal sum (three rounds of `hadd`) instead of eight separate reductions,
/// which took most of the attention's time. By hand because no crate offers it for stable Rust
/// and LLVM does not find it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn head_scores_avx2(tokens: &[f32], u: &[f32], scores: &mut [f32], d: usize, scale: f32) {
    use std::arch::x86_64::*;
    let t = scores.len();
    assert!(d % 8 == 0 && tokens.len() >= t * d && u.len() >= d, "head_scores: shapes");
    let full = t / 8 * 8;
    for j in (0..full).step_by(8) {
        // SAFETY: the assert bounds every load below: rows j..j+8 < t of d values, u of d.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); 8];
            for c in (0..d).step_by(8) {
                let uc = _mm256_loadu_ps(u.as_ptr().add(c));
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(_mm256_loadu_ps(tokens.as_ptr().add((j + k) * d + c)), uc, *a);
                }
            }
            let sums = _mm256_mul_ps(hsum8(acc), _mm256_set1_ps(scale));
            _mm256_storeu_ps(scores.as_mut_ptr().add(j), sums);
        }
    }
    for (sc, tok) in scores[full..].iter_mut().zip(tokens[full * d..].chunks_exact(d)) {
        *sc = dot::<true>(tok, u) * scale;
    }
}

/// Lane k of the result: the sum of the eight lanes of `v[k]`, added in the same order for
/// every k (so a row's result never depends on its place among the eight).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn hsum8(v: [std::arch::x86_64::__m256; 8]) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let ab = _mm256_hadd_ps(v[0], v[1]);
    let cd = _mm256_hadd_ps(v[2], v[3]);
    let ef = _mm256_hadd_ps(v[4], v[5]);
    let gh = _mm256_hadd_ps(v[6], v[7]);
    let (abcd, efgh) = (_mm256_hadd_ps(ab, cd), _mm256_hadd_ps(ef, gh));
    let low = _mm256_permute2f128_ps::<0x20>(abcd, efgh);
    let high = _mm256_permute2f128_ps::<0x31>(abcd, efgh);
    _mm256_add_ps(low, high)
}

/// LayerNorm of eight rows of `d` values (a multiple of 8) in place: both reductions of all
/// eight rows end in one `hsum8`, where row by row they cost two horizontal sums each (a tenth
/// of the scoring time in the convolution's norms).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn layer_norm_8_rows(x: &mut [f32], gamma: &[f32], beta: &[f32]) {
    use std::arch::x86_64::*;
    let d = gamma.len();
    assert!(d % 8 == 0 && beta.len() == d && x.len() == 8 * d, "layer_norm_8_rows: shapes");
    let p = x.as_mut_ptr();
    // SAFETY: the assert bounds every access: rows k < 8 of d values, gamma and beta of d.
    unsafe {
        let zero = _mm256_setzero_ps();
        let n = _mm256_set1_ps(d as f32);
        let mut acc = [zero; 8];
        for (k, a) in acc.iter_mut().enumerate() {
            for c in (0..d).step_by(8) {
                *a = _mm256_add_ps(*a, _mm256_loadu_ps(p.add(k * d + c)));
            }
        }
        let mut means = [0f32; 8];
        _mm256_storeu_ps(means.as_mut_ptr(), _mm256_div_ps(hsum8(acc), n));
        let mut acc = [zero; 8];
        for (k, a) in acc.iter_mut().enumerate() {
            let mean = _mm256_set1_ps(means[k]);
            for c in (0..d).step_by(8) {
                let v = _mm256_sub_ps(_mm256_loadu_ps(p.add(k * d + c)), mean);
                *a = _mm256_fmadd_ps(v, v, *a);
            }
        }
        let var = _mm256_div_ps(hsum8(acc), n);
        let inv = _mm256_div_ps(_mm256_set1_ps(1.0), _mm256_sqrt_ps(_mm256_add_ps(var, _mm256_set1_ps(LAYER_NORM_EPS))));
        let mut invs = [0f32; 8];
        _mm256_storeu_ps(invs.as_mut_ptr(), inv);
        for k in 0..8 {
            let (mean, inv) = (_mm256_set1_ps(means[k]), _mm256_set1_ps(invs[k]));
            for c in (0..d).step_by(8) {
                let v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p.add(k * d + c)), mean), inv);
                let y = _mm256_fmadd_ps(v, _mm256_loadu_ps(gamma.as_ptr().add(c)), _mm256_loadu_ps(beta.as_ptr().add(c)));
                _mm256_storeu_ps(p.add(k * d + c), y);
            }
        }
    }
}

/// y += alpha · x
#[inline(always)]
fn axpy<const FMA: bool>(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = madd::<FMA>(alpha, *x, *y);
    }
}

#[inline(always)]
fn softmax_in_place(v: &mut [f32]) {
    let max = v.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut total = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        total += *x;
    }
    let inv = 1.0 / total;
    v.iter_mut().for_each(|x| *x *= inv);
}

/// sin and cos of `a` (|a| ≤ `SINCOS_LIMIT`) by Cephes' single-precision method: reduction by
/// π/4 in three parts (exact for these magnitudes), then its minimax polynomials. Within 2 ulp
/// of libm; written without branches so that a loop over values vectorises.
#[inline(always)]
fn sincos(a: f32) -> (f32, f32) {
    const FOPI: f32 = 1.273_239_5; // 4/π
    const DP1: f32 = 0.785_156_25;
    const DP2: f32 = 2.418_756_5e-4;
    const DP3: f32 = 3.774_895e-8;
    let x = a.abs().min(SINCOS_LIMIT);
    // SAFETY: 0 ≤ x·4/π ≤ 10,431 (NaN was clamped by `min`), well inside i32.
    let j = unsafe { (x * FOPI).to_int_unchecked::<i32>() };
    let j = (j + 1) & !1;
    let y = j as f32;
    let r = ((x - y * DP1) - y * DP2) - y * DP3;
    let z = r * r;
    let sp = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * r + r;
    let cp = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    let q = (j >> 1) & 3;
    let (s, c) = if q & 1 != 0 { (cp, sp) } else { (sp, cp) };
    let s = if ((q & 2 != 0) as u8 ^ (a < 0.0) as u8) != 0 { -s } else { s };
    let c = if (q + 1) & 2 != 0 { -c } else { c };
    (s, c)
}

/// `[sin 2πc_i x…, cos 2πc_i x…]` into `v` (2k values), the angles computed as burn does:
/// (x · c) · 2π in f32.
#[inline(always)]
fn periodic_features(x: f32, freqs: &[f32], v: &mut [f32]) {
    let k = freqs.len();
    let (sin, cos) = v.split_at_mut(k);
    for ((s, c), &f) in sin.iter_mut().zip(cos.iter_mut()).zip(freqs) {
        (*s, *c) = sincos(x * f * std::f32::consts::TAU);
    }
    // Rare: angles past the reduction's range go to libm, out of the loop above so that it
    // stays branch-free and vectorises.
    if freqs.iter().any(|&f| !((x * f * std::f32::consts::TAU).abs() <= SINCOS_LIMIT)) {
        for ((s, c), &f) in sin.iter_mut().zip(cos.iter_mut()).zip(freqs) {
            (*s, *c) = (x * f * std::f32::consts::TAU).sin_cos();
        }
    }
}

/// One flow's token for one feature: ReLU(v · W_p + b_p) + (x · w + b) for a token of `8·L`
/// values, the sums kept in `L` eight-lane registers (the width known at compile time, which
/// sgemm, called per feature, could not use; it spent more time packing than multiplying).
#[inline(always)]
fn periodic_row<const L: usize, const FMA: bool>(v: &[f32], pw: &[f32], pb: &[f32], x: f32, w: &[f32], b: &[f32], out: &mut [f32]) {
    let mut acc = [[0f32; 8]; L];
    for (acc, pb) in acc.iter_mut().zip(pb.chunks_exact(8)) {
        acc.copy_from_slice(pb);
    }
    for (&vk, row) in v.iter().zip(pw.chunks_exact(8 * L)) {
        for (acc, r) in acc.iter_mut().zip(row.chunks_exact(8)) {
            for l in 0..8 {
                acc[l] = madd::<FMA>(vk, r[l], acc[l]);
            }
        }
    }
    // Lane by lane from the registers (indexing `out` by c·8 + l made LLVM spill them and
    // reload one value at a time).
    for (((acc, o), w), b) in acc.iter().zip(out.chunks_exact_mut(8)).zip(w.chunks_exact(8)).zip(b.chunks_exact(8)) {
        for l in 0..8 {
            o[l] = acc[l].max(0.0) + madd::<FMA>(x, w[l], b[l]);
        }
    }
}

/// `periodic_row` for a token width without its own instance.
#[inline(always)]
fn periodic_row_any(v: &[f32], pw: &[f32], pb: &[f32], x: f32, w: &[f32], b: &[f32], out: &mut [f32]) {
    let d = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        let dot: f32 = v.iter().enumerate().map(|(kk, &vk)| vk * pw[kk * d + i]).sum();
        *o = (dot + pb[i]).max(0.0) + (x * w[i] + b[i]);
    }
}

/// Above this the three-part reduction loses precision; such angles go to libm.
const SINCOS_LIMIT: f32 = 8192.0;

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
    fn add_to(&self, rows: usize, input: &[f32], in_stride: usize, out: &mut [f32], out_stride: usize, overwrite: bool) {
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

    fn rows(&self, src: &[f32], dst: &mut [f32]) {
        layer_norm_rows(src, dst, &self.gamma, &self.beta);
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
        Self { layers: model.layers.iter().map(Dense::new).collect(), inverse_scale: feature_scale.iter().map(|&s| 1.0 / s.max(1e-4)).collect() }
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

/// The MoE's forward pass as plain arrays, built once from a loaded model.
#[derive(Debug, Clone)]
pub struct FusedMoe {
    tabular: Option<Tabular>,
    temporal: Option<Temporal>,
    gate: Option<(Dense, Dense)>,
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

impl FusedMoe {
    pub fn new(model: &MoeModel) -> Self {
        let tabular = model.tabular.as_ref().map(Tabular::new);
        let temporal = model.temporal.as_ref().map(Temporal::new);
        let n_classes = tabular.as_ref().map(|t| t.head.d_out).or(temporal.as_ref().map(|t| t.head.d_out)).unwrap_or(0);
        Self { tabular, temporal, gate: model.gate.as_ref().map(|g| (Dense::new(&g.hidden), Dense::new(&g.output))), n_classes }
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
        let start = out.probs.len();
        out.probs.resize(start + m * nc, 0.0);
        let probs = &mut out.probs[start..];
        match (&self.tabular, &self.temporal) {
            (Some(_), Some(_)) => {
                for (((l, g), tab), temp) in probs
                    .chunks_exact_mut(nc)
                    .zip(gate.chunks_exact(N_EXPERTS))
                    .zip(s.tab_logits.chunks_exact(nc))
                    .zip(s.temp_logits.chunks_exact(nc))
                {
                    for ((l, a), c) in l.iter_mut().zip(tab).zip(temp) {
                        *l = a * g[0] + c * g[1];
                    }
                }
            }
            (Some(_), None) => probs.copy_from_slice(&s.tab_logits[..m * nc]),
            _ => probs.copy_from_slice(&s.temp_logits[..m * nc]),
        }
        probs.chunks_exact_mut(nc).for_each(softmax_in_place);
        out.gates.extend_from_slice(gate);
        if let Some(ae) = ae {
            ae.scores(x, m, s, &mut out.anomaly);
        }
    }
}
