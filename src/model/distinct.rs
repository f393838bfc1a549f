//! Rows scored once per distinct value.
//!
//! A flood or a scan is thousands of flows with the very same 72 features (one SYN, no
//! reply, the same sizes): in the real-tool captures of `data/captures` 96.6 % of the flows
//! repeat another flow of their file exactly, in the original release's files 7.2 %, in the
//! other network's benign days 0.2 %. Scoring is deterministic per row (a flow's verdict does
//! not depend on the rows scored with it, `tests/integration/fused.rs`), so each distinct row
//! is scored once and its verdict copied to its repeats. Rows are compared by their bits, so
//! only identical inputs share a verdict.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use rustc_hash::FxBuildHasher;

use crate::features::N_FEATURES;

/// Below this share of repeats, finding them costs more than it saves: the rows are scored
/// as they are. (Hashing a row takes tens of nanoseconds, scoring it ten microseconds; an
/// eighth of the rows saved is worth the copy of the distinct ones.)
const MIN_REPEATED_SHARE: f64 = 0.125;

/// Fewer rows than this are scored as they are (a what-if edit, a small request).
const MIN_ROWS: usize = 64;

/// The distinct rows of a block and, for every row, which of them it is.
pub struct DistinctRows {
    /// Row-major `M×72`, in order of first appearance.
    pub rows: Vec<f32>,
    /// For each input row, its index in `rows`.
    pub slot: Vec<u32>,
}

/// A row compared and hashed by the bits of its values.
struct RowBits<'a>(&'a [f32]);

impl Hash for RowBits<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for v in self.0 {
            state.write_u32(v.to_bits());
        }
    }
}

impl PartialEq for RowBits<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for RowBits<'_> {}

/// The distinct rows of `rows` (row-major `N×72`), or `None` when fewer than
/// [`MIN_REPEATED_SHARE`] of them repeat another (or there are too few rows to bother).
pub fn distinct_rows(rows: &[f32]) -> Option<DistinctRows> {
    let n = rows.len() / N_FEATURES;
    if n < MIN_ROWS {
        return None;
    }
    let mut seen: HashMap<RowBits<'_>, u32, FxBuildHasher> = HashMap::with_capacity_and_hasher(n, FxBuildHasher);
    let mut slot = Vec::with_capacity(n);
    let mut first = Vec::new();
    for (i, row) in rows.chunks_exact(N_FEATURES).enumerate() {
        let next = first.len() as u32;
        let s = *seen.entry(RowBits(row)).or_insert(next);
        if s == next {
            first.push(i);
        }
        slot.push(s);
    }
    if (first.len() as f64) > (1.0 - MIN_REPEATED_SHARE) * n as f64 {
        return None;
    }
    let mut distinct = Vec::with_capacity(first.len() * N_FEATURES);
    for &i in &first {
        distinct.extend_from_slice(&rows[i * N_FEATURES..(i + 1) * N_FEATURES]);
    }
    Some(DistinctRows { rows: distinct, slot })
}
