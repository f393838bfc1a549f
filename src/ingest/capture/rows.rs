//! Finished flows as the table holds them, gathered while a capture is still being read.
//!
//! A [`FlowRecord`] keeps its 72 features in f64 (the precision the official tools' CSVs are
//! compared at) and takes about 640 bytes; a table row is 288 bytes of f32 features and its
//! packed metadata. A 1 GB capture of 7.5 million flows held its records whole until the end
//! and then built the table beside them: 7.1 GB at the peak. Here each record becomes a row
//! as soon as the extractor finishes it, and the rows are put in start order once, in place.

use std::path::Path;

use super::extractor::FlowRecord;
use super::report::CaptureReport;
use crate::features::N_FEATURES;
use crate::ingest::dialect::Dialect;
use crate::ingest::table::{FlowId, FlowMeta, FlowTable, SourceFile};
use crate::ingest::validate::ValidationReport;

/// Table rows of finished flows, in the order they finished.
#[derive(Debug, Clone, Default)]
pub struct FlowRows {
    features: Vec<f32>,
    meta: Vec<FlowMeta>,
}

impl FlowRows {
    /// Appends `records` as rows: features as f32, metadata with the first packet's number
    /// as `line`.
    pub fn extend<'a>(&mut self, records: impl IntoIterator<Item = &'a FlowRecord>) {
        for r in records {
            self.features.extend(r.features.iter().map(|&v| v as f32));
            let mut m = FlowMeta::at_line(r.first_packet);
            (m.src_port, m.dst_port, m.protocol) = (Some(r.sport), Some(r.dport), Some(r.proto));
            m.set_src_ip(Some(r.src));
            m.set_dst_ip(Some(r.dst));
            m.set_timestamp_us(Some(r.start_us));
            // The ID is `flow_id()`'s, rebuilt from the 5-tuple when asked for.
            m.set_id(if r.id_is_forward() { FlowId::Forward } else { FlowId::Reversed });
            self.meta.push(m);
        }
    }

    /// The rows sorted by start time (then first packet), as the table of `path`.
    pub fn into_sorted_table(mut self, path: &Path, report: &CaptureReport) -> FlowTable {
        self.sort();
        self.into_table(path, report)
    }

    /// The rows in the order they were added, as the table of `path` (one source, dialect
    /// `Capture`, the report's counts as its warnings).
    pub fn into_table(self, path: &Path, report: &CaptureReport) -> FlowTable {
        let rows = self.meta.len();
        let validation = ValidationReport { rows: rows as u64, warnings: super::capture_warnings(report), ..ValidationReport::default() };
        let source = SourceFile { path: path.to_path_buf(), dialect: Dialect::Capture, rows, report: validation };
        FlowTable::from_parts(self.features, self.meta, None, vec![source])
    }

    /// Puts the rows in order of start time, then first packet's number (`line`; unique per
    /// flow), without a second copy of the features.
    fn sort(&mut self) {
        let mut order: Vec<usize> = (0..self.meta.len()).collect();
        order.sort_unstable_by_key(|&i| (self.meta[i].timestamp_us(), self.meta[i].line));
        if order.iter().enumerate().all(|(i, &o)| i == o) {
            return;
        }
        permute_in_place(&mut order, &mut self.features, &mut self.meta);
    }
}

/// Rearranges the rows so that row `i` becomes the row that was at `order[i]`, by following
/// the permutation's cycles with one row held aside: the features of 7.5 million flows are
/// 2.2 GB, and gathering them into a new vector would double that. (The `permutation` crate
/// does this for one slice of items; here two arrays, one of them in rows of 72 values, move
/// together, which is a dozen lines, not a dependency.) `order` is used up (marked visited).
fn permute_in_place(order: &mut [usize], features: &mut [f32], meta: &mut [FlowMeta]) {
    const DONE: usize = usize::MAX;
    let mut held = [0f32; N_FEATURES];
    for start in 0..order.len() {
        if order[start] == DONE || order[start] == start {
            continue;
        }
        held.copy_from_slice(&features[start * N_FEATURES..(start + 1) * N_FEATURES]);
        let held_meta = meta[start].clone();
        let mut at = start;
        loop {
            let from = order[at];
            order[at] = DONE;
            if from == start {
                features[at * N_FEATURES..(at + 1) * N_FEATURES].copy_from_slice(&held);
                meta[at] = held_meta;
                break;
            }
            features.copy_within(from * N_FEATURES..(from + 1) * N_FEATURES, at * N_FEATURES);
            meta[at] = meta[from].clone();
            at = from;
        }
    }
}
