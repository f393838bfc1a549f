//! Feature preprocessing, fitted on training rows only and stored in the bundle: a signed log
//! for the heavy-tailed counts, durations and rates, then standardisation. At inference, raw
//! values are first clipped to the range seen in training, so an out-of-range flow cannot push
//! the network into regions it never saw.

use serde::{Deserialize, Serialize};

use crate::features::{FEATURES, N_FEATURES, Unit};

/// Smallest standard deviation used; a feature constant in training maps to 0.
const MIN_STD: f32 = 1e-6;

/// Fitted preprocessing statistics (one entry per schema feature).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Preprocessor {
    /// Schema names, checked at load so a bundle from another schema is refused.
    pub feature_names: Vec<String>,
    /// Whether the signed log `sign(x)·ln(1+|x|)` is applied before standardising.
    pub signed_log: Vec<bool>,
    /// Training range of the raw values, used for clipping.
    pub raw_min: Vec<f32>,
    pub raw_max: Vec<f32>,
    /// Mean and standard deviation after the log transform.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Per feature, the 0th..100th percentiles of the raw training values: the inspector
    /// shows where a value sits in the training data. Empty in bundles older than this field.
    #[serde(default)]
    pub quantiles: Vec<Vec<f32>>,
    /// Features the model never sees: they enter it as 0 (the training mean) whatever their
    /// value, because they carry a dataset's artefacts rather than the attack (chosen by the
    /// cross-source ablation, README). Empty in bundles older than this field: none masked.
    #[serde(default)]
    pub masked: Vec<bool>,
    /// Per feature, the median raw value of the benign training flows: the baseline flow of
    /// explanations (`explain`), typical traffic the model calls benign, so a verdict is
    /// explained from "nothing to report" rather than from the typical training flow, which
    /// in data of mostly attacks is itself likely an attack. Empty in bundles older than this
    /// field and when training had no benign flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benign_median: Vec<f32>,
}

/// Ratios are bounded; every other unit (µs, bytes, packets, rates, counts) spans orders of
/// magnitude in CICIDS2017 and is log-compressed.
fn wants_signed_log(unit: Unit) -> bool {
    unit != Unit::Ratio
}

fn signed_log(x: f32) -> f32 {
    x.signum() * x.abs().ln_1p()
}

impl Preprocessor {
    /// Fits on a row-major `N×72` matrix. Non-finite values are ignored for the statistics.
    pub fn fit(rows: &[f32]) -> Result<Self, String> {
        if rows.is_empty() || rows.len() % N_FEATURES != 0 {
            return Err(format!("cannot fit preprocessing on {} values (need whole rows of {N_FEATURES})", rows.len()));
        }
        let signed_log: Vec<bool> = FEATURES.iter().map(|f| wants_signed_log(f.unit)).collect();
        let mut raw_min = vec![f32::INFINITY; N_FEATURES];
        let mut raw_max = vec![f32::NEG_INFINITY; N_FEATURES];
        let mut sum = vec![0f64; N_FEATURES];
        let mut sum_sq = vec![0f64; N_FEATURES];
        let mut count = vec![0u64; N_FEATURES];
        for row in rows.chunks_exact(N_FEATURES) {
            for (j, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    continue;
                }
                raw_min[j] = raw_min[j].min(v);
                raw_max[j] = raw_max[j].max(v);
                let t = if signed_log[j] { self::signed_log(v) } else { v } as f64;
                sum[j] += t;
                sum_sq[j] += t * t;
                count[j] += 1;
            }
        }
        let mut mean = vec![0f32; N_FEATURES];
        let mut std = vec![1f32; N_FEATURES];
        for j in 0..N_FEATURES {
            if count[j] == 0 {
                // Never finite in training: clip everything to 0 and standardise to 0.
                raw_min[j] = 0.0;
                raw_max[j] = 0.0;
                continue;
            }
            let n = count[j] as f64;
            let m = sum[j] / n;
            mean[j] = m as f32;
            std[j] = ((sum_sq[j] / n - m * m).max(0.0).sqrt() as f32).max(MIN_STD);
        }
        Ok(Self {
            feature_names: FEATURES.iter().map(|f| f.name.to_string()).collect(),
            signed_log,
            raw_min,
            raw_max,
            mean,
            std,
            quantiles: super::ranges::quantiles(rows),
            masked: vec![false; N_FEATURES],
            benign_median: Vec::new(),
        })
    }

    /// Stores the per-feature median of `benign_rows` (raw, row-major `N×72`) as the
    /// explanation baseline; none when there are no rows.
    pub fn with_benign_median(mut self, benign_rows: &[f32]) -> Self {
        self.benign_median = if benign_rows.len() < N_FEATURES {
            Vec::new()
        } else {
            super::ranges::quantiles(benign_rows).iter().map(|q| q[50]).collect()
        };
        self
    }

    /// Masks the features at `indices` (schema positions).
    pub fn with_masked(mut self, indices: &[usize]) -> Self {
        self.masked = vec![false; N_FEATURES];
        for &j in indices.iter().filter(|&&j| j < N_FEATURES) {
            self.masked[j] = true;
        }
        self
    }

    /// Names of the masked features.
    pub fn masked_names(&self) -> Vec<&'static str> {
        FEATURES.iter().zip(&self.masked).filter(|(_, m)| **m).map(|(f, _)| f.name).collect()
    }

    fn is_masked(&self, j: usize) -> bool {
        self.masked.get(j).copied().unwrap_or(false)
    }

    /// Checks a loaded preprocessor against this program's schema.
    pub fn validate(&self) -> Result<(), String> {
        let lens = [
            self.feature_names.len(),
            self.signed_log.len(),
            self.raw_min.len(),
            self.raw_max.len(),
            self.mean.len(),
            self.std.len(),
        ];
        if lens.iter().any(|&l| l != N_FEATURES) {
            return Err(format!("preprocessing has {lens:?} entries, expected {N_FEATURES} each"));
        }
        if !self.masked.is_empty() && self.masked.len() != N_FEATURES {
            return Err(format!("preprocessing masks {} features, expected {N_FEATURES} entries", self.masked.len()));
        }
        if !self.benign_median.is_empty()
            && (self.benign_median.len() != N_FEATURES || self.benign_median.iter().any(|v| !v.is_finite()))
        {
            return Err(format!(
                "preprocessing has a benign median of {} values, expected {N_FEATURES} finite ones",
                self.benign_median.len()
            ));
        }
        for (j, spec) in FEATURES.iter().enumerate() {
            if self.feature_names[j] != spec.name {
                return Err(format!(
                    "feature {j} is '{}' in the bundle but '{}' in this program",
                    self.feature_names[j], spec.name
                ));
            }
            let finite = [self.raw_min[j], self.raw_max[j], self.mean[j], self.std[j]].iter().all(|v| v.is_finite());
            if !finite || self.std[j] <= 0.0 || self.raw_min[j] > self.raw_max[j] {
                return Err(format!("invalid statistics for feature '{}'", spec.name));
            }
        }
        Ok(())
    }

    /// Transforms one raw row into `out`. NaN and masked features become the training mean (0
    /// after standardising).
    pub fn transform_row(&self, raw: &[f32], out: &mut [f32]) {
        for j in 0..N_FEATURES {
            let v = raw[j];
            out[j] = if v.is_nan() || self.is_masked(j) {
                0.0
            } else {
                let clipped = v.clamp(self.raw_min[j], self.raw_max[j]);
                let t = if self.signed_log[j] { signed_log(clipped) } else { clipped };
                (t - self.mean[j]) / self.std[j]
            };
        }
    }

    /// Transforms a row-major `N×72` matrix.
    pub fn transform(&self, rows: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; rows.len()];
        for (raw, dst) in rows.chunks_exact(N_FEATURES).zip(out.chunks_exact_mut(N_FEATURES)) {
            self.transform_row(raw, dst);
        }
        out
    }
}
