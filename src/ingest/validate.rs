//! The one value policy of ingest, and the report that counts every time it applied.
//!
//! CICFlowMeter output carries a few well-known defects. Each is repaired the same way in
//! every file, and counted per column so the analyst can see what was touched:
//!
//! | found in a feature cell            | becomes | counted as  | why |
//! |------------------------------------|---------|-------------|-----|
//! | `NaN`                              | 0       | `nan`       | CICFlowMeter writes NaN for rates of zero-length flows; 0 keeps "nothing measured" |
//! | `Infinity` / `-Infinity`           | 0       | `infinite`  | a rate divided by a zero duration; `Flow Duration` = 0 already carries that fact |
//! | empty cell                         | 0       | `empty`     | nothing was written; 0 is CICFlowMeter's own default |
//! | `-1` in an initial-window column   | -1      | `sentinel`  | CICFlowMeter's "no packet seen" marker, kept distinct from a real zero window |
//! | any other negative value           | 0 (-1 for sentinel columns) | `negative` | counts and times cannot be negative: 32-bit overflows and clock steps of the 2017 tool |
//!
//! Text in a numeric cell is not repaired: it is an error naming file, line and column,
//! unless `--lenient` is given, which drops the row and counts it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::features::{FEATURES, N_FEATURES, Sign};

/// What the policy did to one column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ColumnCounts {
    pub nan: u64,
    pub infinite: u64,
    pub empty: u64,
    pub sentinel: u64,
    pub negative: u64,
}

impl ColumnCounts {
    pub fn total(&self) -> u64 {
        self.nan + self.infinite + self.empty + self.sentinel + self.negative
    }
    pub fn add(&mut self, o: &ColumnCounts) {
        self.nan += o.nan;
        self.infinite += o.infinite;
        self.empty += o.empty;
        self.sentinel += o.sentinel;
        self.negative += o.negative;
    }
}

/// A row dropped by `--lenient`, kept for the report (only the first few are stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedRow {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// Everything ingest noticed about one file (or, merged, about several).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    pub rows: u64,
    /// Per feature (canonical name) that needed the value policy at least once.
    pub columns: BTreeMap<String, ColumnCounts>,
    /// Optional features missing from the file, imputed with 0 for every row.
    pub imputed_columns: Vec<String>,
    /// Columns of the file that are not features and not metadata (ignored).
    pub ignored_columns: Vec<String>,
    pub dropped_rows: u64,
    pub dropped_examples: Vec<DroppedRow>,
    /// Rows whose features and label exactly repeat an earlier row.
    pub duplicate_rows: u64,
    /// Lines that repeat the header (files concatenated with their headers, as some of
    /// CSE-CIC-IDS2018's are): skipped, not errors.
    pub repeated_headers: u64,
    /// Lines of empty cells only (a row of commas): skipped, not errors.
    pub empty_records: u64,
    /// Why the Label column was not read (`ReadOptions::labels_if_known`): its first label of
    /// no known family.
    pub labels_not_read: Option<String>,
    /// Free-text warnings (header only, label oddities, ...).
    pub warnings: Vec<String>,
}

const MAX_DROPPED_EXAMPLES: usize = 20;

impl ValidationReport {
    pub fn record_dropped(&mut self, row: DroppedRow) {
        self.dropped_rows += 1;
        if self.dropped_examples.len() < MAX_DROPPED_EXAMPLES {
            self.dropped_examples.push(row);
        }
    }

    /// Adds the counts of a per-column tally made while cleaning a chunk.
    pub fn add_counts(&mut self, counts: &[ColumnCounts; N_FEATURES]) {
        for (spec, c) in FEATURES.iter().zip(counts) {
            if c.total() > 0 {
                self.columns.entry(spec.name.to_string()).or_default().add(c);
            }
        }
    }

    /// What of the file did not become flows, in a sentence ("288602 lines of empty cells
    /// skipped, 1 line repeating the header skipped"), or `None` when every line did.
    pub fn skipped_summary(&self) -> Option<String> {
        let lines = |n: u64| if n == 1 { "1 line".to_string() } else { format!("{n} lines") };
        let mut parts: Vec<String> =
            self.labels_not_read.iter().map(|why| format!("shown without labels ({why})")).collect();
        parts.extend(
            [
                (self.empty_records, "of empty cells skipped"),
                (self.repeated_headers, "repeating the header skipped"),
                (self.dropped_rows, "dropped (--lenient: not numbers, wrong field counts, unknown labels)"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{} {what}", lines(*n))),
        );
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Combines the reports of several files into one summary.
    pub fn merge(&mut self, other: &ValidationReport) {
        self.rows += other.rows;
        for (k, v) in &other.columns {
            self.columns.entry(k.clone()).or_default().add(v);
        }
        for c in &other.imputed_columns {
            if !self.imputed_columns.contains(c) {
                self.imputed_columns.push(c.clone());
            }
        }
        for c in &other.ignored_columns {
            if !self.ignored_columns.contains(c) {
                self.ignored_columns.push(c.clone());
            }
        }
        self.dropped_rows += other.dropped_rows;
        for d in &other.dropped_examples {
            if self.dropped_examples.len() < MAX_DROPPED_EXAMPLES {
                self.dropped_examples.push(d.clone());
            }
        }
        self.duplicate_rows += other.duplicate_rows;
        self.repeated_headers += other.repeated_headers;
        self.empty_records += other.empty_records;
        if self.labels_not_read.is_none() {
            self.labels_not_read = other.labels_not_read.clone();
        }
        self.warnings.extend(other.warnings.iter().cloned());
    }
}

/// A value the policy leaves as it is (finite, not negative); `None` where it applies.
#[inline]
pub fn as_is(value: Option<f32>) -> Option<f32> {
    value.filter(|v| *v >= 0.0 && v.is_finite())
}

/// Applies the value policy to one feature value of feature `col`, counting what it did.
/// `None` is an empty cell.
#[inline]
pub fn clean_value(value: Option<f32>, col: usize, counts: &mut ColumnCounts) -> f32 {
    if let Some(v) = as_is(value) {
        return v;
    }
    let Some(v) = value else {
        counts.empty += 1;
        return 0.0;
    };
    if v.is_nan() {
        counts.nan += 1;
        return 0.0;
    }
    if v.is_infinite() {
        counts.infinite += 1;
        return 0.0;
    }
    match FEATURES[col].sign {
        Sign::SentinelMinusOne if v == -1.0 => {
            counts.sentinel += 1;
            -1.0
        }
        Sign::SentinelMinusOne => {
            counts.negative += 1;
            -1.0
        }
        Sign::NonNegative => {
            counts.negative += 1;
            0.0
        }
    }
}
