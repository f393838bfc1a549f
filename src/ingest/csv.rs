//! CICFlowMeter CSV files read with polars, in bounded-memory chunks.
//!
//! The file is cut into chunks of whole lines (`ReadOptions::chunk_bytes`), each parsed by
//! polars with an explicit schema and turned into rows of the 72-feature matrix before the
//! next is read, so a file of several GB needs memory for its output plus one chunk.
//! Cutting chunks ourselves (rather than polars' own batching) keeps exact line numbers for
//! every row, which error messages and the flow metadata need.
//! CICFlowMeter never quotes fields, so a newline always ends a record.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use polars::prelude::*;

use super::dialect::{self, Dialect};
use super::error::IngestError;
use super::label::{AttackFamily, FlowLabel, is_no_label};
use super::table::{FlowMeta, FlowTable, SourceFile};
use super::timestamp::parse_timestamp;
use super::validate::{ColumnCounts, DroppedRow, ValidationReport, clean_value};
use super::ReadOptions;
use crate::features::{FEATURES, N_FEATURES, normalize_column_name};

/// The longest header line accepted; CICFlowMeter headers are about 1.5 KB.
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// Metadata columns, by every spelling of the supported dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetaColumn {
    FlowId,
    SrcIp,
    SrcPort,
    DstIp,
    DstPort,
    Protocol,
    Timestamp,
    Label,
}

impl MetaColumn {
    fn from_name(normalized: &str) -> Option<MetaColumn> {
        Some(match normalized {
            "flow id" => MetaColumn::FlowId,
            "source ip" | "src ip" => MetaColumn::SrcIp,
            "source port" | "src port" => MetaColumn::SrcPort,
            "destination ip" | "dst ip" => MetaColumn::DstIp,
            "destination port" | "dst port" => MetaColumn::DstPort,
            "protocol" => MetaColumn::Protocol,
            "timestamp" => MetaColumn::Timestamp,
            "label" => MetaColumn::Label,
            _ => return None,
        })
    }
    fn is_numeric(self) -> bool {
        matches!(self, MetaColumn::SrcPort | MetaColumn::DstPort | MetaColumn::Protocol)
    }
}

/// Every spelling of every feature, normalised, to its schema index.
static FEATURE_BY_NAME: LazyLock<HashMap<String, usize>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for (i, f) in FEATURES.iter().enumerate() {
        for s in f.spellings() {
            map.insert(normalize_column_name(s), i);
        }
    }
    map
});

/// Which header column feeds which feature or metadata field.
#[derive(Debug)]
struct ColumnPlan {
    header: Vec<String>,
    feature_col: [Option<usize>; N_FEATURES],
    meta_cols: Vec<(MetaColumn, usize)>,
    imputed: Vec<String>,
    ignored: Vec<String>,
    warnings: Vec<String>,
}

impl ColumnPlan {
    fn meta(&self, m: MetaColumn) -> Option<usize> {
        self.meta_cols.iter().find(|(k, _)| *k == m).map(|(_, c)| *c)
    }
    fn is_numeric_col(&self, col: usize) -> bool {
        self.feature_col.contains(&Some(col))
            || self.meta_cols.iter().any(|(k, c)| *c == col && k.is_numeric())
    }
    fn polars_name(col: usize) -> PlSmallStr {
        format!("c{col}").into()
    }
    fn schema(&self) -> Schema {
        (0..self.header.len())
            .map(|c| {
                let dtype = if self.is_numeric_col(c) { DataType::Float32 } else { DataType::String };
                Field::new(Self::polars_name(c), dtype)
            })
            .collect()
    }
    fn projection(&self) -> Vec<usize> {
        let mut cols: Vec<usize> = self.feature_col.iter().flatten().copied().collect();
        cols.extend(self.meta_cols.iter().map(|(_, c)| *c));
        cols.sort_unstable();
        cols.dedup();
        cols
    }
}

/// Reads one CSV file into a table of one source.
pub fn read_csv(path: &Path, opts: &ReadOptions) -> Result<FlowTable, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let len = file.metadata().map_err(|e| IngestError::io(path, e))?.len();
    if len == 0 {
        return Err(IngestError::Empty { path: path.to_path_buf() });
    }
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reject_binary(path, reader.fill_buf().map_err(|e| IngestError::io(path, e))?)?;
    let header = read_header(path, &mut reader)?;
    let dialect = detect_dialect(path, &header)?;
    let mut state = FileState::new(path, opts, plan_columns(path, dialect, header)?);

    let mut buf: Vec<u8> = Vec::new();
    let mut next_line = 2u64; // the header is line 1
    loop {
        let want = opts.chunk_bytes.saturating_sub(buf.len()).max(1) as u64;
        let got = (&mut reader).take(want).read_to_end(&mut buf).map_err(|e| IngestError::io(path, e))?;
        let eof = got == 0;
        let cut = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(p) => p + 1,
                None => continue, // a line longer than a chunk: read on
            }
        };
        let rest = buf.split_off(cut);
        let chunk = std::mem::replace(&mut buf, rest);
        if !chunk.is_empty() {
            state.parse_chunk(&chunk, next_line)?;
            next_line += count_lines(&chunk);
        }
        if eof {
            break;
        }
    }
    Ok(state.finish(dialect))
}

fn count_lines(chunk: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', chunk).count() as u64;
    if chunk.last() == Some(&b'\n') { n } else { n + 1 }
}

fn reject_binary(path: &Path, head: &[u8]) -> Result<(), IngestError> {
    match memchr::memchr(0, &head[..head.len().min(8192)]) {
        Some(offset) => Err(IngestError::Binary { path: path.to_path_buf(), offset }),
        None => Ok(()),
    }
}

fn read_header(path: &Path, reader: &mut BufReader<File>) -> Result<Vec<String>, IngestError> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_HEADER_BYTES)
        .read_until(b'\n', &mut line)
        .map_err(|e| IngestError::io(path, e))?;
    let text = String::from_utf8_lossy(&line);
    let text = text.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']);
    Ok(text.split(',').map(|h| h.trim().trim_matches('"').trim().to_string()).collect())
}

fn detect_dialect(path: &Path, header: &[String]) -> Result<Dialect, IngestError> {
    dialect::detect(header).ok_or_else(|| {
        let recognised = header
            .iter()
            .filter(|h| FEATURE_BY_NAME.contains_key(&normalize_column_name(h)))
            .count();
        let mut preview = header.iter().take(6).map(|h| format!("'{h}'")).collect::<Vec<_>>().join(", ");
        preview.truncate(200);
        IngestError::UnknownHeader { path: path.to_path_buf(), recognised, preview }
    })
}

/// Matches header columns to features and metadata by name, never by position.
fn plan_columns(path: &Path, dialect: Dialect, header: Vec<String>) -> Result<ColumnPlan, IngestError> {
    let mut plan = ColumnPlan { header, feature_col: [None; N_FEATURES], meta_cols: Vec::new(), imputed: Vec::new(), ignored: Vec::new(), warnings: Vec::new() };
    for (col, name) in plan.header.iter().enumerate() {
        let key = normalize_column_name(name);
        if let Some(&f) = FEATURE_BY_NAME.get(&key) {
            if plan.feature_col[f].is_none() {
                plan.feature_col[f] = Some(col);
            } else {
                // The 2017 release writes `Fwd Header Length` twice, byte-identical.
                plan.warnings.push(format!("column {} '{name}' repeats an earlier column; the first is used", col + 1));
            }
        } else if let Some(m) = MetaColumn::from_name(&key) {
            if plan.meta(m).is_none() {
                plan.meta_cols.push((m, col));
            }
        } else {
            plan.ignored.push(name.clone());
        }
    }
    let spelling = |i: usize| match dialect {
        Dialect::CicFlowMeterV3 => FEATURES[i].v3,
        Dialect::CicFlowMeterV4 => FEATURES[i].v4,
        Dialect::Improved2021 => FEATURES[i].improved,
        _ => FEATURES[i].name,
    };
    let missing: Vec<String> = (0..N_FEATURES)
        .filter(|&i| plan.feature_col[i].is_none() && !FEATURES[i].optional)
        .map(|i| spelling(i).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns { path: path.to_path_buf(), dialect: dialect.to_string(), missing });
    }
    plan.imputed = (0..N_FEATURES).filter(|&i| plan.feature_col[i].is_none()).map(|i| FEATURES[i].name.to_string()).collect();
    Ok(plan)
}

/// Whether a file's label column holds labels (decided by its first row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelMode {
    Undecided,
    Labelled,
    Unlabelled,
}

/// One problem found on one line by the exact (slow-path) scan.
#[derive(Debug)]
enum LineIssue {
    NotNumeric { column: usize, value: String },
    FieldCount { found: usize },
}

/// Accumulates the rows of one file.
struct FileState<'a> {
    path: &'a Path,
    opts: &'a ReadOptions,
    plan: ColumnPlan,
    schema: SchemaRef,
    projection: Arc<Vec<usize>>,
    features: Vec<f32>,
    meta: Vec<FlowMeta>,
    labels: Vec<FlowLabel>,
    label_mode: LabelMode,
    label_cache: HashMap<String, Option<FlowLabel>>,
    counts: [ColumnCounts; N_FEATURES],
    report: ValidationReport,
}

impl<'a> FileState<'a> {
    fn new(path: &'a Path, opts: &'a ReadOptions, plan: ColumnPlan) -> Self {
        let label_mode = if plan.meta(MetaColumn::Label).is_some() { LabelMode::Undecided } else { LabelMode::Unlabelled };
        let mut report = ValidationReport::default();
        report.imputed_columns = plan.imputed.clone();
        report.ignored_columns = plan.ignored.clone();
        report.warnings = plan.warnings.clone();
        FileState {
            path,
            opts,
            schema: Arc::new(plan.schema()),
            projection: Arc::new(plan.projection()),
            plan,
            features: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
            label_mode,
            label_cache: HashMap::new(),
            counts: [ColumnCounts::default(); N_FEATURES],
            report,
        }
    }

    fn polars_parse(&self, bytes: &[u8]) -> PolarsResult<DataFrame> {
        CsvReadOptions::default()
            .with_has_header(false)
            .with_schema(Some(self.schema.clone()))
            .with_projection(Some(self.projection.clone()))
            .with_parse_options(CsvParseOptions::default().with_encoding(CsvEncoding::LossyUtf8))
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
    }

    /// Parses one chunk of whole lines starting at `first_line`.
    fn parse_chunk(&mut self, chunk: &[u8], first_line: u64) -> Result<(), IngestError> {
        let parsed = self.polars_parse(chunk);
        // Fast path: polars parsed everything, there are no blank lines and no nulls to
        // explain, so row i is line first_line + i.
        if let Ok(df) = &parsed {
            let clean = df.height() as u64 == count_lines(chunk) && !has_nulls(df);
            if clean {
                let lines: Vec<u64> = (0..df.height() as u64).map(|i| first_line + i).collect();
                return self.convert(df, &lines);
            }
        }
        // Slow path: find exactly which lines are at fault.
        let (good, lines, bad) = self.scan_lines(chunk, first_line);
        if let Some((line, issue)) = bad.first() {
            if !self.opts.lenient {
                return Err(self.issue_error(*line, issue));
            }
        }
        for (line, issue) in &bad {
            let (column, reason) = match issue {
                LineIssue::NotNumeric { column, value } => (self.plan.header[*column].clone(), format!("'{value}' is not a number")),
                LineIssue::FieldCount { found } => (String::new(), format!("{found} fields, header has {}", self.plan.header.len())),
            };
            self.report.record_dropped(DroppedRow { line: *line, column, reason });
        }
        if lines.is_empty() {
            return Ok(());
        }
        let df = match (parsed, bad.is_empty() && lines.len() as u64 == count_lines(chunk)) {
            (Ok(df), true) => df,
            _ => self.polars_parse(&good).map_err(|e| IngestError::Parse { path: self.path.to_path_buf(), message: e.to_string() })?,
        };
        if df.height() != lines.len() {
            return Err(IngestError::Parse {
                path: self.path.to_path_buf(),
                message: format!("lines {first_line}..: parsed {} rows from {} lines", df.height(), lines.len()),
            });
        }
        self.convert(&df, &lines)
    }

    /// Splits a chunk into its good lines (re-joined), their line numbers, and the bad ones.
    fn scan_lines(&self, chunk: &[u8], first_line: u64) -> (Vec<u8>, Vec<u64>, Vec<(u64, LineIssue)>) {
        let mut good = Vec::with_capacity(chunk.len());
        let mut lines = Vec::new();
        let mut bad = Vec::new();
        let text = chunk.strip_suffix(b"\n").unwrap_or(chunk);
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = first_line + i as u64;
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match self.check_line(line) {
                Some(issue) => bad.push((line_no, issue)),
                None => {
                    good.extend_from_slice(line);
                    good.push(b'\n');
                    lines.push(line_no);
                }
            }
        }
        (good, lines, bad)
    }

    fn check_line(&self, line: &[u8]) -> Option<LineIssue> {
        let fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
        if fields.len() != self.plan.header.len() {
            return Some(LineIssue::FieldCount { found: fields.len() });
        }
        for (col, field) in fields.iter().enumerate() {
            if !self.plan.is_numeric_col(col) {
                continue;
            }
            let text = String::from_utf8_lossy(field);
            let t = text.trim();
            if !t.is_empty() && t.parse::<f32>().is_err() {
                return Some(LineIssue::NotNumeric { column: col, value: t.chars().take(60).collect() });
            }
        }
        None
    }

    fn issue_error(&self, line: u64, issue: &LineIssue) -> IngestError {
        let path = self.path.to_path_buf();
        match issue {
            LineIssue::NotNumeric { column, value } => {
                IngestError::NotNumeric { path, line, column: self.plan.header[*column].clone(), value: value.clone() }
            }
            LineIssue::FieldCount { found } => {
                IngestError::FieldCount { path, line, found: *found, expected: self.plan.header.len() }
            }
        }
    }

    /// Turns a parsed chunk into feature rows, metadata and labels.
    fn convert(&mut self, df: &DataFrame, lines: &[u64]) -> Result<(), IngestError> {
        let n = df.height();
        let keep = self.convert_labels(df, lines)?;
        let base = self.features.len();
        self.features.resize(base + n * N_FEATURES, 0.0);
        let out = &mut self.features[base..];
        for f in 0..N_FEATURES {
            let Some(col) = self.plan.feature_col[f] else { continue };
            let counts = &mut self.counts[f];
            for_each_f32(df, col, |r, v| out[r * N_FEATURES + f] = clean_value(v, f, counts))
                .map_err(|e| IngestError::Parse { path: self.path.to_path_buf(), message: e.to_string() })?;
        }
        let meta = build_meta(df, &self.plan, lines)
            .map_err(|e| IngestError::Parse { path: self.path.to_path_buf(), message: e.to_string() })?;
        match keep {
            None => self.meta.extend(meta),
            Some(keep) => self.retain_rows(base, meta, &keep),
        }
        Ok(())
    }

    /// Keeps only the rows flagged in `keep` of the rows just appended at `base`.
    fn retain_rows(&mut self, base: usize, meta: Vec<FlowMeta>, keep: &[bool]) {
        let mut write = base;
        for (r, m) in meta.into_iter().enumerate() {
            if keep[r] {
                let src = base + r * N_FEATURES;
                self.features.copy_within(src..src + N_FEATURES, write);
                write += N_FEATURES;
                self.meta.push(m);
            }
        }
        self.features.truncate(write);
    }

    /// Reads the label column. Returns the rows to keep when some were dropped (lenient).
    fn convert_labels(&mut self, df: &DataFrame, lines: &[u64]) -> Result<Option<Vec<bool>>, IngestError> {
        let Some(col) = self.plan.meta(MetaColumn::Label) else { return Ok(None) };
        if self.label_mode == LabelMode::Unlabelled {
            return Ok(None);
        }
        let ca = str_column(df, col).map_err(|e| IngestError::Parse { path: self.path.to_path_buf(), message: e.to_string() })?;
        let mut keep: Option<Vec<bool>> = None;
        for (r, raw) in ca.iter().enumerate() {
            let raw = raw.unwrap_or("");
            if self.label_mode == LabelMode::Undecided {
                self.label_mode = if is_no_label(raw) { LabelMode::Unlabelled } else { LabelMode::Labelled };
                if self.label_mode == LabelMode::Unlabelled {
                    self.report.warnings.push("the Label column holds no labels ('No Label'): read as unlabelled".into());
                    return Ok(None);
                }
            }
            let label = self
                .label_cache
                .entry(raw.to_string())
                .or_insert_with(|| {
                    AttackFamily::from_label(raw).map(|family| FlowLabel { raw: Arc::from(raw.trim()), family })
                })
                .clone();
            match label {
                Some(l) => self.labels.push(l),
                None if self.opts.lenient => {
                    let k = keep.get_or_insert_with(|| vec![true; df.height()]);
                    k[r] = false;
                    self.report.record_dropped(DroppedRow { line: lines[r], column: "Label".into(), reason: format!("unknown label '{raw}'") });
                }
                None => {
                    return Err(IngestError::UnknownLabel { path: self.path.to_path_buf(), line: lines[r], value: raw.to_string() });
                }
            }
        }
        Ok(keep)
    }

    fn finish(mut self, dialect: Dialect) -> FlowTable {
        self.report.add_counts(&self.counts);
        self.report.rows = self.meta.len() as u64;
        if self.meta.is_empty() {
            self.report.warnings.push("the file has a header but no data rows".into());
        }
        let labels = (self.label_mode == LabelMode::Labelled).then_some(self.labels);
        let source = SourceFile { path: self.path.to_path_buf(), dialect, rows: self.meta.len(), report: self.report };
        FlowTable::from_parts(self.features, self.meta, labels, vec![source])
    }
}

fn has_nulls(df: &DataFrame) -> bool {
    df.columns().iter().any(|c| c.null_count() > 0)
}

fn str_column(df: &DataFrame, col: usize) -> PolarsResult<&StringChunked> {
    df.column(&ColumnPlan::polars_name(col))?.str()
}

/// Calls `f(row, value)` for every cell of a Float32 column, `None` for empty cells.
fn for_each_f32(df: &DataFrame, col: usize, mut f: impl FnMut(usize, Option<f32>)) -> PolarsResult<()> {
    let ca = df.column(&ColumnPlan::polars_name(col))?.f32()?;
    if ca.null_count() == 0 {
        let mut row = 0;
        for arr in ca.downcast_iter() {
            for &v in arr.values().iter() {
                f(row, Some(v));
                row += 1;
            }
        }
    } else {
        for (row, v) in ca.iter().enumerate() {
            f(row, v);
        }
    }
    Ok(())
}

fn build_meta(df: &DataFrame, plan: &ColumnPlan, lines: &[u64]) -> PolarsResult<Vec<FlowMeta>> {
    let mut meta: Vec<FlowMeta> = lines.iter().map(|&line| FlowMeta { line, ..FlowMeta::default() }).collect();
    for &(kind, col) in &plan.meta_cols {
        match kind {
            MetaColumn::FlowId => for_each_str(df, col, |r, s| meta[r].flow_id = Some(Arc::from(s)))?,
            MetaColumn::SrcIp => for_each_str(df, col, |r, s| meta[r].src_ip = s.parse::<IpAddr>().ok())?,
            MetaColumn::DstIp => for_each_str(df, col, |r, s| meta[r].dst_ip = s.parse::<IpAddr>().ok())?,
            MetaColumn::Timestamp => for_each_str(df, col, |r, s| meta[r].timestamp_us = parse_timestamp(s))?,
            MetaColumn::SrcPort => for_each_f32(df, col, |r, v| meta[r].src_port = v.and_then(to_u16))?,
            MetaColumn::DstPort => for_each_f32(df, col, |r, v| meta[r].dst_port = v.and_then(to_u16))?,
            MetaColumn::Protocol => {
                for_each_f32(df, col, |r, v| meta[r].protocol = v.and_then(to_u16).and_then(|p| u8::try_from(p).ok()))?
            }
            MetaColumn::Label => {}
        }
    }
    Ok(meta)
}

fn for_each_str(df: &DataFrame, col: usize, mut f: impl FnMut(usize, &str)) -> PolarsResult<()> {
    for (r, s) in str_column(df, col)?.iter().enumerate() {
        if let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) {
            f(r, s);
        }
    }
    Ok(())
}

fn to_u16(v: f32) -> Option<u16> {
    (v >= 0.0 && v <= u16::MAX as f32 && v.fract() == 0.0).then_some(v as u16)
}
