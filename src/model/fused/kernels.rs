//! The fused forward pass's numeric kernels: products, reductions, LayerNorm, attention
//! scores, the periodic embedding, each compiled for AVX2+FMA and for the baseline CPU where
//! it is a `kernel!` (see there why).

use crate::features::N_FEATURES;

/// Every LayerNorm of the model is built with `LayerNormConfig`'s default epsilon.
const LAYER_NORM_EPS: f32 = 1e-5;

thread_local! {
    /// Set (by tests) to run the baseline twins on a CPU that has AVX2, so both get checked.
    static BASELINE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread's kernels take their AVX2+FMA twins.
#[cfg(target_arch = "x86_64")]
fn use_avx2() -> bool {
    !BASELINE_ONLY.get() && std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Runs `f` with the kernels on this thread in their baseline build, as on a CPU without AVX2
/// (or not x86), for the tests that hold that build to burn's results too.
pub fn with_baseline_kernels<R>(f: impl FnOnce() -> R) -> R {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            BASELINE_ONLY.set(false);
        }
    }
    BASELINE_ONLY.set(true);
    let _restore = Restore;
    f()
}

/// Defines a kernel `$name` twice: compiled for AVX2 and FMA, chosen at run time where the
/// CPU has them, and for the baseline target. Kernels take their arrays as slice parameters:
/// LLVM then knows they do not overlap and keeps the eight-lane loops vectorised, which it did
/// not where the same loops read arrays through the model's structs (measured: scalar code,
/// a third slower).
macro_rules! kernel {
    ($(#[$doc:meta])* fn $name:ident / $avx:ident ($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments, unused_unsafe)]
        pub(super) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if use_avx2() {
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

/// C (m×n, row stride `crs`) = A (m×k) · B (k×n) + beta·C, strides as (row, column).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm(
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
pub(super) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// A dot product in eight lanes, so that it vectorises (a plain float sum may not be reordered).
#[inline(always)]
pub(super) fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
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
pub(super) fn sum(a: &[f32]) -> f32 {
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
pub(super) fn head_scores<const FMA: bool>(tokens: &[f32], u: &[f32], scores: &mut [f32], d: usize, scale: f32) {
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
pub(super) unsafe fn head_scores_avx2(tokens: &[f32], u: &[f32], scores: &mut [f32], d: usize, scale: f32) {
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
pub(super) fn hsum8(v: [std::arch::x86_64::__m256; 8]) -> std::arch::x86_64::__m256 {
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
pub(super) fn layer_norm_8_rows(x: &mut [f32], gamma: &[f32], beta: &[f32]) {
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
        let inv =
            _mm256_div_ps(_mm256_set1_ps(1.0), _mm256_sqrt_ps(_mm256_add_ps(var, _mm256_set1_ps(LAYER_NORM_EPS))));
        let mut invs = [0f32; 8];
        _mm256_storeu_ps(invs.as_mut_ptr(), inv);
        for k in 0..8 {
            let (mean, inv) = (_mm256_set1_ps(means[k]), _mm256_set1_ps(invs[k]));
            for c in (0..d).step_by(8) {
                let v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p.add(k * d + c)), mean), inv);
                let y =
                    _mm256_fmadd_ps(v, _mm256_loadu_ps(gamma.as_ptr().add(c)), _mm256_loadu_ps(beta.as_ptr().add(c)));
                _mm256_storeu_ps(p.add(k * d + c), y);
            }
        }
    }
}

/// y += alpha · x
#[inline(always)]
pub(super) fn axpy<const FMA: bool>(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = madd::<FMA>(alpha, *x, *y);
    }
}

#[inline(always)]
pub(super) fn softmax_in_place(v: &mut [f32]) {
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
pub(super) fn sincos(a: f32) -> (f32, f32) {
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
pub(super) fn periodic_features(x: f32, freqs: &[f32], v: &mut [f32]) {
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
pub(super) fn periodic_row<const L: usize, const FMA: bool>(
    v: &[f32],
    pw: &[f32],
    pb: &[f32],
    x: f32,
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
) {
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
pub(super) fn periodic_row_any(v: &[f32], pw: &[f32], pb: &[f32], x: f32, w: &[f32], b: &[f32], out: &mut [f32]) {
    let d = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        let dot: f32 = v.iter().enumerate().map(|(kk, &vk)| vk * pw[kk * d + i]).sum();
        *o = (dot + pb[i]).max(0.0) + (x * w[i] + b[i]);
    }
}

/// Above this the three-part reduction loses precision; such angles go to libm.
pub(super) const SINCOS_LIMIT: f32 = 8192.0;
