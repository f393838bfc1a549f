//! The one algorithm under every detector: slide a time window over one group's flows (in
//! time order) and keep the stretches where the window holds enough distinct values (or,
//! for counts carried by the flows, a large enough sum). Linear in the group's flows (two
//! pointers and a count per distinct value).

use std::collections::HashMap;
use std::hash::Hash;

use rustc_hash::FxBuildHasher;

/// Index ranges `[start, end]` (inclusive) of `times` (sorted ascending) where some window of
/// `width_us` holds at least `threshold` distinct `values`. Windows that overlap are one range,
/// so a sustained scan is one range, not one per flow.
pub fn dense_ranges<V: Hash + Eq + Copy>(
    times: &[i64],
    values: &[V],
    width_us: i64,
    threshold: usize,
) -> Vec<(usize, usize)> {
    debug_assert_eq!(times.len(), values.len());
    let mut counts: HashMap<V, u32, FxBuildHasher> = HashMap::with_hasher(FxBuildHasher);
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for (end, (&t, &v)) in times.iter().zip(values).enumerate() {
        *counts.entry(v).or_insert(0) += 1;
        // The window is (t - width, t]: flows `width` or more older leave it.
        while t.saturating_sub(times[start]) >= width_us && start < end {
            let old = values[start];
            if let Some(c) = counts.get_mut(&old) {
                *c -= 1;
                if *c == 0 {
                    counts.remove(&old);
                }
            }
            start += 1;
        }
        if counts.len() >= threshold {
            match ranges.last_mut() {
                Some(last) if start <= last.1 => last.1 = end,
                _ => ranges.push((start, end)),
            }
        }
    }
    ranges
}

/// Index ranges `[start, end]` (inclusive) of `times` (sorted ascending) where some window of
/// `width_us` holds items whose `weights` sum to at least `threshold`; overlapping windows
/// are one range, as in [`dense_ranges`].
pub fn heavy_ranges(times: &[i64], weights: &[u32], width_us: i64, threshold: u64) -> Vec<(usize, usize)> {
    debug_assert_eq!(times.len(), weights.len());
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let (mut start, mut sum) = (0, 0u64);
    for (end, (&t, &w)) in times.iter().zip(weights).enumerate() {
        sum += u64::from(w);
        while t.saturating_sub(times[start]) >= width_us && start < end {
            sum -= u64::from(weights[start]);
            start += 1;
        }
        if sum >= threshold {
            match ranges.last_mut() {
                Some(last) if start <= last.1 => last.1 = end,
                _ => ranges.push((start, end)),
            }
        }
    }
    ranges
}

/// Merges ranges from several rules over the same flows into disjoint ranges, in order.
pub fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}
