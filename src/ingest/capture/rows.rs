//! Finished flows as the table holds them, gathered while a capture is still being read.
//!
//! A [`FlowRecord`] keeps its 72 features in f64 (the precision the official tools' CSVs are
//! compared at) and takes about 640 bytes; a table row is 288 bytes of f32 features and its
//! packed metadata. A 1 GB capture of 7.5 million flows held its records whole until the end
//! and then built the table beside them: 7.1 GB at the peak. Here each record becomes a row
//! as soon as the extractor finishes it, and the rows are put in start order once, in place.

use std::path::Path;

use super::extractor::FlowRecord;
use super::http::HttpEvidence;
use super::report::CaptureReport;
use crate::features::N_FEATURES;
use crate::ingest::dialect::Dialect;
use crate::ingest::table::{FlowId, FlowMeta, FlowTable, PayloadEvidence, SourceFile};
use crate::ingest::validate::ValidationReport;

/// Table rows of finished flows, in the order they finished.
#[derive(Debug, Clone, Default)]
pub struct FlowRows {
    features: Vec<f32>,
    meta: Vec<FlowMeta>,
    /// (first packet, evidence) of the flows whose HTTP said something (few, so kept apart
    /// from the rows and keyed by what sorting does not change).
    http: Vec<(u64, HttpEvidence)>,
}

impl FlowRows {
    /// Appends `records` as rows: features as f32, metadata with the first packet's number
    /// as `line`.
    pub fn extend<'a>(&mut self, records: impl IntoIterator<Item = &'a FlowRecord>) {
        records.into_iter().for_each(|r| self.push(r, true));
    }

    /// [`FlowRows::extend`] without addresses, and so without flow IDs (which name them).
    pub fn extend_without_addresses<'a>(&mut self, records: impl IntoIterator<Item = &'a FlowRecord>) {
        records.into_iter().for_each(|r| self.push(r, false));
    }

    fn push(&mut self, r: &FlowRecord, addresses: bool) {
        self.features.extend(r.features.iter().map(|&v| v as f32));
        let mut m = FlowMeta::at_line(r.first_packet);
        (m.src_port, m.dst_port, m.protocol) = (Some(r.sport), Some(r.dport), Some(r.proto));
        m.set_timestamp_us(Some(r.start_us));
        if addresses {
            m.set_src_ip(Some(r.src));
            m.set_dst_ip(Some(r.dst));
            // The ID is `flow_id()`'s, rebuilt from the 5-tuple when asked for.
            m.set_id(if r.id_is_forward() { FlowId::Forward } else { FlowId::Reversed });
        }
        self.meta.push(m);
        if !r.http.is_empty() {
            self.http.push((r.first_packet, r.http));
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The features of the rows from `first` on (row-major, 72 a row).
    pub fn features_from(&self, first: usize) -> &[f32] {
        &self.features[first * N_FEATURES..]
    }

    /// The rows sorted by start time (then first packet), as the table of `path`.
    pub fn into_sorted_table(mut self, path: &Path, report: &CaptureReport) -> FlowTable {
        self.sort();
        self.into_table(path, report)
    }

    /// [`FlowRows::into_sorted_table`], and the order it put the rows in: row `i` of the table
    /// is the `order[i]`-th row added ([`permute`] puts anything kept per added row, such as
    /// verdicts computed while the capture was read, in the table's order).
    pub fn into_sorted_table_and_order(mut self, path: &Path, report: &CaptureReport) -> (FlowTable, Vec<usize>) {
        let order = self.sort();
        (self.into_table(path, report), order)
    }

    /// The rows in the order they were added, as the table of `path` (one source, dialect
    /// `Capture`, the report's counts as its warnings).
    pub fn into_table(mut self, path: &Path, report: &CaptureReport) -> FlowTable {
        let rows = self.meta.len();
        let validation = ValidationReport {
            rows: rows as u64,
            warnings: super::capture_warnings(report),
            ..ValidationReport::default()
        };
        self.http.sort_unstable_by_key(|&(line, _)| line);
        let payload = PayloadEvidence { http: self.http };
        let source =
            SourceFile { path: path.to_path_buf(), dialect: Dialect::Capture, rows, report: validation, payload };
        FlowTable::from_parts(self.features, self.meta, None, vec![source])
    }

    /// Puts the rows in order of start time, then first packet's number (`line`; unique per
    /// flow), without a second copy of the features; returns the order (see
    /// [`FlowRows::into_sorted_table_and_order`]).
    fn sort(&mut self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.meta.len()).collect();
        order.sort_unstable_by_key(|&i| (self.meta[i].timestamp_us(), self.meta[i].line));
        let (features, meta) = (&mut self.features, &mut self.meta);
        let mut held = ([0f32; N_FEATURES], FlowMeta::default());
        follow_cycles(&order, |step| match step {
            Step::Hold(at) => {
                held.0.copy_from_slice(&features[at * N_FEATURES..(at + 1) * N_FEATURES]);
                held.1 = meta[at].clone();
            }
            Step::Move { from, to } => {
                features.copy_within(from * N_FEATURES..(from + 1) * N_FEATURES, to * N_FEATURES);
                meta[to] = meta[from].clone();
            }
            Step::Release(to) => {
                features[to * N_FEATURES..(to + 1) * N_FEATURES].copy_from_slice(&held.0);
                meta[to] = held.1.clone();
            }
        });
        order
    }
}

/// Rearranges `items` so that item `i` becomes the one that was at `order[i]`, in place.
pub fn permute<T: Clone>(order: &[usize], items: &mut [T]) {
    assert_eq!(order.len(), items.len(), "an order for another number of rows");
    let mut held: Option<T> = None;
    follow_cycles(order, |step| match step {
        Step::Hold(at) => held = Some(items[at].clone()),
        Step::Move { from, to } => items[to] = items[from].clone(),
        Step::Release(to) => {
            if let Some(item) = held.take() {
                items[to] = item;
            }
        }
    });
}

/// One move of [`follow_cycles`].
enum Step {
    /// Set row `.0` aside.
    Hold(usize),
    Move {
        from: usize,
        to: usize,
    },
    /// The row set aside goes to `.0`.
    Release(usize),
}

/// Rearranges rows so that row `i` becomes the row that was at `order[i]`, by following the
/// permutation's cycles with one row held aside: the features of 7.5 million flows are
/// 2.2 GB, and gathering them into a new vector would double that. (The `permutation` crate
/// does this for one slice of items; here two arrays, one of them in rows of 72 values, move
/// together, and verdicts may follow later by the same order, which is a dozen lines, not a
/// dependency.) Visited rows are marked in a bit set, so `order` stays whole for reuse.
fn follow_cycles(order: &[usize], mut step: impl FnMut(Step)) {
    let mut done = vec![0u64; order.len().div_ceil(64)];
    for start in 0..order.len() {
        if order[start] == start || done[start / 64] & (1 << (start % 64)) != 0 {
            continue;
        }
        step(Step::Hold(start));
        let mut at = start;
        loop {
            done[at / 64] |= 1 << (at % 64);
            let from = order[at];
            if from == start {
                step(Step::Release(at));
                break;
            }
            step(Step::Move { from, to: at });
            at = from;
        }
    }
}
