//! Drift: how far a batch's features are from the training data's, as the population
//! stability index (PSI) per feature over bins cut at the training deciles that every bundle
//! stores (`Preprocessor::quantiles`). PSI = Σ (a − e)·ln(a / e) over the bins, a and e the
//! batch's and the training data's shares; the usual reading is < 0.1 stable, 0.1–0.25 a
//! moderate shift, > 0.25 a major one. Masked features are left out: the model never sees them.

use serde::Serialize;

use super::preprocess::Preprocessor;
use crate::features::{FEATURES, N_FEATURES};

/// PSI from which a feature's shift is worth a look.
pub const PSI_MODERATE: f64 = 0.1;
/// PSI from which the model's verdicts on this traffic should not be trusted blindly.
pub const PSI_MAJOR: f64 = 0.25;
/// Shares are floored here so an empty bin does not make the index infinite.
const FLOOR: f64 = 1e-4;

/// One bin: values above the previous bin's `upper`, up to and including this one's
/// (`None`: no upper bound).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftBin {
    pub upper: Option<f32>,
    /// Share of the training data in the bin.
    pub expected: f64,
    /// Share of the batch in the bin.
    pub actual: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    /// Index into `FEATURES`.
    pub feature: usize,
    pub name: &'static str,
    pub psi: f64,
    pub bins: Vec<DriftBin>,
}

/// How far a batch is from the training data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum DriftLevel {
    Stable,
    Moderate,
    Major,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub flows: usize,
    /// Distinct flows (exact duplicates counted once), over which the shares are taken.
    pub distinct: usize,
    /// Every feature the model reads, in schema order.
    pub features: Vec<FeatureDrift>,
}

impl DriftReport {
    /// Features at or past `psi`, most drifted first.
    pub fn drifted(&self, psi: f64) -> Vec<&FeatureDrift> {
        let mut v: Vec<&FeatureDrift> = self.features.iter().filter(|f| f.psi >= psi).collect();
        v.sort_by(|a, b| b.psi.total_cmp(&a.psi));
        v
    }

    pub fn level(&self) -> DriftLevel {
        let max = self.features.iter().map(|f| f.psi).fold(0.0, f64::max);
        if max >= PSI_MAJOR {
            DriftLevel::Major
        } else if max >= PSI_MODERATE {
            DriftLevel::Moderate
        } else {
            DriftLevel::Stable
        }
    }

    /// One line for the analyst.
    pub fn headline(&self) -> String {
        let major = self.drifted(PSI_MAJOR);
        let moderate = self.drifted(PSI_MODERATE).len() - major.len();
        let top: Vec<String> =
            self.drifted(PSI_MODERATE).iter().take(4).map(|f| format!("{} {:.2}", f.name, f.psi)).collect();
        match self.level() {
            DriftLevel::Stable => {
                format!("no drift: every feature within PSI {PSI_MODERATE} of the training data ({} flows)", self.flows)
            }
            _ => format!(
                "drift: {} feature(s) past PSI {PSI_MAJOR}, {moderate} more past {PSI_MODERATE} (of {}): {}",
                major.len(),
                self.features.len(),
                top.join(", ")
            ),
        }
    }
}

/// The drift of row-major raw `rows` against the training data of `pre`; `None` for bundles
/// without stored quantiles or an empty batch.
pub fn drift(pre: &Preprocessor, rows: &[f32]) -> Option<DriftReport> {
    let n = rows.len() / N_FEATURES;
    if n == 0 || pre.quantiles.len() != N_FEATURES || pre.quantiles.iter().any(|q| q.len() != 101) {
        return None;
    }
    // Training statistics are taken over distinct flows (training removes exact duplicates),
    // so the batch is compared as distinct flows too: a flood of identical flows is one
    // shape, and does not read as the whole network having changed.
    // The set holds row numbers, not copies (gigabytes at ten million distinct flows) nor
    // references (16 bytes each where a number is 4): 80 MB at ten million.
    let row = |r: u32| &rows[r as usize * N_FEATURES..(r as usize + 1) * N_FEATURES];
    let mut seen = hashbrown::HashTable::<u32>::new();
    let mut distinct = Vec::new();
    for r in 0..n as u32 {
        let hash = row_hash(row(r));
        let same = |&s: &u32| row(s).iter().zip(row(r)).all(|(a, b)| a.to_bits() == b.to_bits());
        if let hashbrown::hash_table::Entry::Vacant(slot) = seen.entry(hash, same, |&s| row_hash(row(s))) {
            slot.insert(r);
            distinct.push(r);
        }
    }
    drop(seen);
    let features = (0..N_FEATURES)
        .filter(|&j| !pre.masked.get(j).copied().unwrap_or(false))
        .map(|j| feature_drift(j, &pre.quantiles[j], distinct.iter().map(|&r| row(r)[j])))
        .collect();
    Some(DriftReport { flows: n, distinct: distinct.len(), features })
}

/// A row's hash by the bits of its values (so NaN equals NaN, as a repeat should).
fn row_hash(row: &[f32]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    row.iter().for_each(|v| h.write_u32(v.to_bits()));
    h.finish()
}

fn feature_drift(j: usize, q: &[f32], values: impl Iterator<Item = f32>) -> FeatureDrift {
    // Upper edges at the distinct training deciles; ties (a feature mostly 0) merge bins.
    let mut cuts: Vec<f32> = (1..10).map(|d| q[d * 10]).collect();
    cuts.dedup();
    // Share of training values at or below `c`: the last percentile not above it.
    let cdf = |c: f32| (q.iter().filter(|&&x| x <= c).count().saturating_sub(1) as f64 / 100.0).clamp(0.0, 1.0);
    let mut expected = Vec::with_capacity(cuts.len() + 1);
    let mut below = 0.0;
    for &c in &cuts {
        let f = cdf(c);
        expected.push(f - below);
        below = f;
    }
    expected.push(1.0 - below);
    let mut counts = vec![0usize; cuts.len() + 1];
    let mut total = 0usize;
    for v in values.filter(|v| v.is_finite()) {
        counts[cuts.partition_point(|&c| c < v)] += 1;
        total += 1;
    }
    let actual: Vec<f64> = counts.iter().map(|&k| if total == 0 { 0.0 } else { k as f64 / total as f64 }).collect();
    let psi = expected
        .iter()
        .zip(&actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum();
    let bins = expected
        .iter()
        .zip(&actual)
        .enumerate()
        .map(|(i, (&e, &a))| DriftBin { upper: cuts.get(i).copied(), expected: e, actual: a })
        .collect();
    FeatureDrift { feature: j, name: FEATURES[j].name, psi, bins }
}
