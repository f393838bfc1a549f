//! Where a value sits in the training data, and which values a what-if sweep visits: both
//! come from the statistics the preprocessor stored at fit time.

use super::Preprocessor;
use crate::features::N_FEATURES;

/// Percentiles 0..=100 of each feature's finite raw values in a row-major `N×72` matrix.
pub fn quantiles(rows: &[f32]) -> Vec<Vec<f32>> {
    (0..N_FEATURES)
        .map(|j| {
            let mut col: Vec<f32> = rows.chunks_exact(N_FEATURES).map(|r| r[j]).filter(|v| v.is_finite()).collect();
            if col.is_empty() {
                return vec![0.0; 101];
            }
            col.sort_by(f32::total_cmp);
            (0..=100).map(|p| col[(p * (col.len() - 1)) / 100]).collect()
        })
        .collect()
}

impl Preprocessor {
    /// Percentile (0–100) of `value` for feature `j` in the training data, or `None` for a
    /// bundle without quantiles.
    pub fn percentile(&self, j: usize, value: f32) -> Option<f32> {
        let q = self.quantiles.get(j).filter(|q| q.len() == 101)?;
        // The share of training quantiles at or below the value, interpolated between ties.
        let below = q.iter().filter(|&&x| x < value).count();
        let at_or_below = q.iter().filter(|&&x| x <= value).count();
        Some(((below + at_or_below) as f32 / 2.0 / q.len() as f32 * 100.0).clamp(0.0, 100.0))
    }

    /// `steps` values of feature `j` across its training range, log-spaced for the
    /// log-transformed (heavy-tailed) features so small values are not skipped.
    pub fn sweep_values(&self, j: usize, steps: usize) -> Vec<f32> {
        let (lo, hi) = (self.raw_min[j], self.raw_max[j]);
        let steps = steps.max(2);
        if hi <= lo {
            return vec![lo];
        }
        (0..steps)
            .map(|i| {
                let t = i as f32 / (steps - 1) as f32;
                if self.signed_log[j] && lo >= 0.0 {
                    ((lo.ln_1p()) + t * (hi.ln_1p() - lo.ln_1p())).exp_m1()
                } else {
                    lo + t * (hi - lo)
                }
            })
            .collect()
    }
}
