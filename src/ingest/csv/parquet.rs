//! Flow records in Parquet: NetVigil's own tables (`convert`, `extract`, `predict -o
//! x.parquet`), which it must read back, and columnar copies of the CIC datasets. Columns are
//! matched by name exactly as a CSV header is (`header::plan_columns`), values go through the
//! same value policy and labels through the same mapping; polars reads the file, a part of
//! the rows at a time, only the columns the plan uses.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use polars::prelude::{Column, DataFrame, DataType, ParquetReader, SerReader};

use super::cells::{parse_ip, to_u16};
use super::header::{ColumnPlan, MetaColumn, detect_dialect, plan_columns};
use super::{keep_rows, label_of};
use crate::features::N_FEATURES;
use crate::ingest::error::IngestError;
use crate::ingest::label::{FlowLabel, LabelColumn, is_no_label};
use crate::ingest::table::{FlowMeta, FlowTable, SourceFile};
use crate::ingest::timestamp::parse_timestamp_bytes;
use crate::ingest::validate::{ColumnCounts, DroppedRow, ValidationReport, clean_value};
use crate::ingest::{Dialect, ReadOptions};

/// Rows decoded at a time: the frame of a part is dropped before the next is read.
const PART_ROWS: usize = 1 << 18;

/// Whether `path` starts with Parquet's magic bytes.
pub fn is_parquet(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok_and(|()| &magic == b"PAR1")
}

fn failed(path: &Path, message: impl std::fmt::Display) -> IngestError {
    IngestError::Parquet { path: path.to_path_buf(), message: message.to_string() }
}

/// Runs a step of polars' Parquet reader: a damaged file is an error naming it, never a
/// crash. (polars-parquet 0.55 panics on some damaged footers, "thrift bool field", found by
/// flipping bytes of a file it wrote.)
fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T, IngestError>) -> Result<T, IngestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(failed(path, "the file is damaged: its metadata or pages cannot be decoded")))
}

/// Reads a Parquet file of flow records. Row numbers (1 for the first row) stand where a CSV
/// has line numbers: in `Source Line` and in messages.
pub fn read_parquet(path: &Path, opts: &ReadOptions) -> Result<FlowTable, IngestError> {
    let open = || File::open(path).map_err(|e| IngestError::io(path, e));
    let (schema, rows) = guarded(path, || {
        let mut reader = ParquetReader::new(open()?);
        let schema = reader.schema().map_err(|e| failed(path, e))?;
        Ok((schema, reader.num_rows().map_err(|e| failed(path, e))?))
    })?;
    let header: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let dialect = detect_dialect(path, &header).map_err(|e| match e {
        IngestError::UnknownHeader { recognised, preview, .. } => failed(
            path,
            format!("not CICFlowMeter columns ({recognised} of 72 feature columns recognised; they start: {preview})"),
        ),
        other => other,
    })?;
    let plan = plan_columns(path, dialect, header, opts.addresses)?;
    let mut columns: Vec<usize> =
        plan.feature_col.iter().flatten().copied().chain(plan.meta_cols.iter().map(|(_, c)| *c)).collect();
    columns.sort_unstable();
    let names: Vec<String> = columns.iter().map(|&c| plan.header[c].clone()).collect();
    let mut table = TableBuilder::new(path, opts, plan, rows);
    for start in (0..rows).step_by(PART_ROWS) {
        let frame = guarded(path, || {
            ParquetReader::new(open()?)
                .with_columns(Some(names.clone()))
                .with_slice(Some((start, PART_ROWS.min(rows - start))))
                .finish()
                .map_err(|e| failed(path, e))
        })?;
        table.add(&frame, start)?;
    }
    Ok(table.finish(dialect))
}

/// One feature column of a part: its values when none is missing, each value or none where
/// some are, or no column at all (an optional feature the file lacks).
enum Values<'a> {
    Dense(&'a [f32]),
    Sparse(Vec<Option<f32>>),
    Missing,
}

/// Rows `rows` of the feature columns into `out` (row-major, from the first of them) through
/// the value policy, a block of rows at a time, every feature of the block, so the rows being
/// written stay in cache (a column at a time strides the whole part 72 times).
fn clean_rows(values: &[Values<'_>], rows: std::ops::Range<usize>, out: &mut [f32]) -> [ColumnCounts; N_FEATURES] {
    const BLOCK: usize = 2048;
    let mut counts = [ColumnCounts::default(); N_FEATURES];
    let first = rows.start;
    for start in rows.clone().step_by(BLOCK) {
        let block = start..(start + BLOCK).min(rows.end);
        for (f, column) in values.iter().enumerate() {
            let slot = |i: usize| (i - first) * N_FEATURES + f;
            match column {
                Values::Dense(d) => {
                    block.clone().for_each(|i| out[slot(i)] = clean_value(Some(d[i]), f, &mut counts[f]))
                }
                Values::Sparse(s) => block.clone().for_each(|i| out[slot(i)] = clean_value(s[i], f, &mut counts[f])),
                Values::Missing => block.clone().for_each(|i| out[slot(i)] = clean_value(None, f, &mut counts[f])),
            }
        }
    }
    counts
}

/// The table of one file, a part at a time.
struct TableBuilder<'p> {
    path: &'p Path,
    opts: ReadOptions,
    plan: ColumnPlan,
    features: Vec<f32>,
    meta: Vec<FlowMeta>,
    labels: LabelColumn,
    /// Decided by the first label: a column of "no label" markers reads as unlabelled.
    labelled: Option<bool>,
    counts: [ColumnCounts; N_FEATURES],
    report: ValidationReport,
}

impl<'p> TableBuilder<'p> {
    fn new(path: &'p Path, opts: &ReadOptions, plan: ColumnPlan, rows: usize) -> Self {
        let report = plan.first_report();
        TableBuilder {
            path,
            opts: opts.clone(),
            plan,
            features: Vec::with_capacity(rows * N_FEATURES),
            meta: Vec::with_capacity(rows),
            labels: LabelColumn::default(),
            labelled: opts.ignore_labels.then_some(false),
            counts: [ColumnCounts::default(); N_FEATURES],
            report,
        }
    }

    fn column<'f>(&self, frame: &'f DataFrame, col: usize) -> Result<&'f Column, IngestError> {
        frame.column(&self.plan.header[col]).map_err(|e| failed(self.path, e))
    }

    /// The rows of `frame`, the file's rows from `first` (0-based).
    fn add(&mut self, frame: &DataFrame, first: usize) -> Result<(), IngestError> {
        let n = frame.height();
        let base = self.meta.len();
        self.meta.extend((0..n).map(|i| FlowMeta::at_line((first + i + 1) as u64)));
        self.add_features(frame, base, n)?;
        let mut flow_ids = None;
        let mut labels = None;
        for (m, col) in self.plan.meta_cols.clone() {
            let column = self.column(frame, col)?;
            match m {
                MetaColumn::FlowId => flow_ids = Some(self.texts(column)?),
                MetaColumn::Label => labels = Some(self.texts(column)?),
                MetaColumn::SrcIp | MetaColumn::DstIp | MetaColumn::Timestamp => {
                    let texts = self.texts(column)?;
                    let texts = texts.str().map_err(|e| failed(self.path, e))?;
                    for (meta, text) in self.meta[base..].iter_mut().zip(texts.iter()) {
                        let bytes = text.unwrap_or("").trim().as_bytes();
                        match m {
                            MetaColumn::SrcIp => meta.set_src_ip(parse_ip(bytes)),
                            MetaColumn::DstIp => meta.set_dst_ip(parse_ip(bytes)),
                            _ => meta.set_timestamp_us(parse_timestamp_bytes(bytes)),
                        }
                    }
                }
                MetaColumn::SrcPort | MetaColumn::DstPort | MetaColumn::Protocol => {
                    let values = self.numbers(column, col)?;
                    for (meta, v) in
                        self.meta[base..].iter_mut().zip(values.f32().map_err(|e| failed(self.path, e))?.iter())
                    {
                        let v = v.and_then(to_u16);
                        match m {
                            MetaColumn::SrcPort => meta.src_port = v,
                            MetaColumn::DstPort => meta.dst_port = v,
                            _ => meta.protocol = v.and_then(|p| u8::try_from(p).ok()),
                        }
                    }
                }
            }
        }
        // After the 5-tuple: the ID is stored as its form when it repeats the tuple.
        if let Some(ids) = flow_ids {
            let ids = ids.str().map_err(|e| failed(self.path, e))?;
            for (meta, id) in self.meta[base..].iter_mut().zip(ids.iter()) {
                meta.set_flow_id(id.unwrap_or("").trim().as_bytes());
            }
        }
        match labels {
            Some(labels) => {
                let labels = labels.str().map_err(|e| failed(self.path, e))?;
                self.apply_labels(base, labels.iter())
            }
            None => Ok(()),
        }
    }

    /// The 72 features of the `n` rows from `base`, through the value policy.
    fn add_features(&mut self, frame: &DataFrame, base: usize, n: usize) -> Result<(), IngestError> {
        let mut casts = Vec::with_capacity(N_FEATURES);
        for f in 0..N_FEATURES {
            casts.push(match self.plan.feature_col[f] {
                Some(col) => Some(self.numbers(self.column(frame, col)?, col)?),
                None => None,
            });
        }
        let mut values = Vec::with_capacity(N_FEATURES);
        for cast in &casts {
            values.push(match cast {
                None => Values::Missing,
                Some(c) => {
                    let ca = c.f32().map_err(|e| failed(self.path, e))?;
                    match ca.cont_slice() {
                        Ok(dense) => Values::Dense(dense),
                        Err(_) => Values::Sparse(ca.iter().collect()),
                    }
                }
            });
        }
        self.features.resize((base + n) * N_FEATURES, 0.0);
        // Two halves of the rows on the two cores, each counting what the policy did.
        let half = n.div_ceil(2);
        let (first, second) = self.features[base * N_FEATURES..].split_at_mut(half * N_FEATURES);
        let values = &values;
        let counts = std::thread::scope(|scope| {
            let other = scope.spawn(move || clean_rows(values, 0..half, first));
            let mine = clean_rows(values, half..n, second);
            [other.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), mine]
        });
        for part in &counts {
            for (sum, c) in self.counts.iter_mut().zip(part) {
                sum.add(c);
            }
        }
        Ok(())
    }

    /// A feature or number column as `f32`; text where numbers belong is an error naming it.
    fn numbers(&self, column: &Column, col: usize) -> Result<Column, IngestError> {
        if !column.dtype().is_primitive_numeric() && !column.dtype().is_bool() && !column.dtype().is_null() {
            let message = format!("column '{}' holds {}, not numbers", self.plan.header[col], column.dtype());
            return Err(failed(self.path, message));
        }
        column.cast(&DataType::Float32).map_err(|e| failed(self.path, e))
    }

    /// A column as text (a text column as it is).
    fn texts(&self, column: &Column) -> Result<Column, IngestError> {
        column.cast(&DataType::String).map_err(|e| failed(self.path, e))
    }

    /// The label policy of CSV files: known labels are kept, unknown ones stop reading (or drop
    /// their row under --lenient), a column of "no label" markers is no label at all.
    fn apply_labels<'l>(
        &mut self,
        base: usize,
        labels: impl Iterator<Item = Option<&'l str>>,
    ) -> Result<(), IngestError> {
        let mut keep = vec![true; self.meta.len() - base];
        let mut known: std::collections::HashMap<&str, Option<FlowLabel>> = Default::default();
        for (i, raw) in labels.enumerate() {
            let raw = raw.unwrap_or("");
            let labelled = *self.labelled.get_or_insert_with(|| !is_no_label(raw));
            if !labelled {
                return Ok(());
            }
            let label = known.entry(raw).or_insert_with(|| label_of(raw));
            let row = self.meta[base + i].line;
            match label {
                Some(l) => self.labels.push(l.clone()),
                None if self.opts.lenient => {
                    let reason = format!("unknown label '{raw}'");
                    self.report.record_dropped(DroppedRow { line: row, column: "Label".into(), reason });
                    keep[i] = false;
                }
                None => {
                    return Err(IngestError::UnknownLabel {
                        path: self.path.to_path_buf(),
                        line: row,
                        value: raw.to_string(),
                    });
                }
            }
        }
        keep_rows(&mut self.features, &mut self.meta, base, &keep);
        self.features.truncate(self.meta.len() * N_FEATURES);
        Ok(())
    }

    fn finish(mut self, dialect: Dialect) -> FlowTable {
        self.report.add_counts(&self.counts);
        self.report.rows = self.meta.len() as u64;
        if self.meta.is_empty() {
            self.report.warnings.push("the file has columns but no rows".into());
        }
        let labels = (self.labelled == Some(true)).then_some(self.labels);
        let source = SourceFile::of_records(self.path.to_path_buf(), dialect, self.meta.len(), self.report);
        FlowTable::from_parts(self.features, self.meta, labels, vec![source])
    }
}
