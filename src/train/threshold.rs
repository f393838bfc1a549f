//! The alert threshold a model ships with, chosen on its own validation rows.
//!
//! Training weighs benign flows heavily, yet a model's P(attack) at the textbook 0.5 still
//! flagged 1.6 % of the original release's held-back benign flows (README, results). The
//! operating point is a hyperparameter like any other, so it is chosen where hyperparameters
//! are: on the validation rows, never on the test rows. The rule: the lowest P(attack) from
//! 0.5 up at which no source folder (network, release, tool) flags more than `max_fpr` of its
//! validation benign flows. `max_fpr` defaults to half of the 1 % the cross-source targets
//! allow, because validation rows come from the same files as the training rows and a
//! held-out day or network is flagged more often than they are. A folder with too few
//! validation benign flows to measure that rate (fewer than 1 / `max_fpr`) has no say. The
//! analyst's own calibration (`netvigil calibrate`) replaces this threshold when there is one.

use serde::{Deserialize, Serialize};

use super::metrics::SourceMetrics;
use crate::ingest::label::AttackFamily;
use crate::ingest::table::FlowTable;
use crate::model::ATTACK_THRESHOLD;

/// The validation false-positive rate per source that the shipped threshold keeps to.
pub const DEFAULT_MAX_FPR: f64 = 0.005;

/// `max_fpr` when it is a share the rule can keep to (strictly between 0 and 1); else why not,
/// naming `option`, the setting it came from.
pub fn checked_max_fpr(max_fpr: f64, option: &str) -> Result<f64, String> {
    if max_fpr > 0.0 && max_fpr < 1.0 {
        Ok(max_fpr)
    } else {
        Err(format!("{option} {max_fpr} must be between 0 and 1"))
    }
}

/// What was chosen, and what it does, as stored in the bundle's `metrics.json`
/// (`report.alert`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertThreshold {
    /// P(attack) at which a flow is an attack.
    pub threshold: f32,
    /// The largest validation false-positive rate any voting source may have.
    pub max_fpr: f64,
    /// The source folders that decided it (the others had too few benign flows).
    pub decided_by: Vec<String>,
    /// Validation rows per source at the chosen threshold.
    pub valid: Vec<SourceMetrics>,
    /// Test rows per source at 0.5, to compare with the report's `by_source` (at the chosen
    /// threshold).
    pub test_at_half: Vec<SourceMetrics>,
}

impl AlertThreshold {
    /// The threshold and why, in one line.
    pub fn describe(&self) -> String {
        let deciders =
            if self.decided_by.is_empty() { "none: too few benign flows".into() } else { self.decided_by.join(", ") };
        format!(
            "alert threshold {:.4}: the lowest from 0.5 at which no source flags over {:.2} % of its validation benign flows (decided by {deciders})",
            self.threshold,
            self.max_fpr * 100.0
        )
    }
}

/// The lowest threshold ≥ 0.5 at which every source with at least `1 / max_fpr` benign rows
/// flags at most `max_fpr` of them. `p_attack`, `truth` and `source` are parallel, one entry
/// per validation row; `source` is any per-row key of the row's source folder. Returns the
/// threshold and the keys of the sources that voted.
pub fn choose(p_attack: &[f32], truth: &[AttackFamily], source: &[u32], max_fpr: f64) -> (f32, Vec<u32>) {
    let mut benign: std::collections::BTreeMap<u32, Vec<f32>> = Default::default();
    for ((&p, t), &s) in p_attack.iter().zip(truth).zip(source) {
        if !t.is_attack() {
            benign.entry(s).or_default().push(p);
        }
    }
    let mut threshold = ATTACK_THRESHOLD;
    let mut voters = Vec::new();
    for (s, scores) in benign {
        if max_fpr <= 0.0 || (scores.len() as f64) * max_fpr < 1.0 {
            continue;
        }
        voters.push(s);
        if let Some(t) = threshold_for(&scores, max_fpr) {
            threshold = threshold.max(t);
        }
    }
    (threshold, voters)
}

/// The lowest threshold at which at most `target_fpr` of `scores` (P(attack) of known-good
/// flows) reach it. Ties are never split: if the flows at the boundary score alike, all stay
/// below, except at 1: the threshold is at most 1, so a flow scored 1 is always flagged, and
/// where more than the allowed share of `scores` is 1 (a classifier with few distinct scores,
/// such as a decision tree) the target cannot be met and the threshold is 1. `None` for an
/// empty baseline.
pub fn threshold_for(scores: &[f32], target_fpr: f64) -> Option<f32> {
    if scores.is_empty() {
        return None;
    }
    let mut sorted: Vec<f32> = scores.iter().copied().filter(|s| s.is_finite()).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let allowed = (target_fpr.clamp(0.0, 1.0) * sorted.len() as f64).floor() as usize;
    let Some(&boundary) = sorted.get(allowed) else { return Some(f32::MIN_POSITIVE) };
    // Just above the first flow that must not be flagged.
    Some(boundary.next_up().clamp(f32::MIN_POSITIVE, 1.0))
}

/// Rows of a table with the model's P(attack) for each, their truth, their data folder
/// (`Dataset::origin`) and which ones the familiarity check calls unfamiliar (empty when the
/// bundle has none); all parallel.
pub struct ScoredRows<'a> {
    pub rows: &'a [usize],
    pub p_attack: &'a [f32],
    pub truth: &'a [AttackFamily],
    pub origin: &'a [u32],
    pub unfamiliar: &'a [bool],
}

impl<'a> ScoredRows<'a> {
    /// `data`'s rows (`rows` of the table, in order) with their P(attack).
    pub fn of(data: &'a super::data::Dataset, rows: &'a [usize], p_attack: &'a [f32], unfamiliar: &'a [bool]) -> Self {
        ScoredRows { rows, p_attack, truth: &data.y, origin: &data.origin, unfamiliar }
    }
}

impl ScoredRows<'_> {
    fn metrics_at(&self, table: &FlowTable, threshold: f32) -> Vec<SourceMetrics> {
        let flagged: Vec<bool> = self.p_attack.iter().map(|&p| p >= threshold).collect();
        SourceMetrics::by_source(table, self.rows, &flagged, self.truth, self.unfamiliar)
    }
}

/// The threshold chosen on `valid` (see the module comment) and the source folders that
/// decided it, sorted.
pub fn choose_on_rows(table: &FlowTable, valid: &ScoredRows, max_fpr: f64) -> (f32, Vec<String>) {
    let (names, _) = super::data::folders(table);
    let (threshold, voters) = choose(valid.p_attack, valid.truth, valid.origin, max_fpr);
    let mut decided_by: Vec<String> = voters.iter().filter_map(|&k| names.get(k as usize).cloned()).collect();
    decided_by.sort();
    (threshold, decided_by)
}

/// The threshold for the validation rows of `table`, with what it does to them and, at 0.5,
/// to the test rows.
pub fn choose_for_rows(table: &FlowTable, valid: &ScoredRows, test: &ScoredRows, max_fpr: f64) -> AlertThreshold {
    let (threshold, decided_by) = choose_on_rows(table, valid, max_fpr);
    AlertThreshold {
        threshold,
        max_fpr,
        decided_by,
        valid: valid.metrics_at(table, threshold),
        test_at_half: test.metrics_at(table, ATTACK_THRESHOLD),
    }
}
