//! CICFlowMeter CSV files, read in bounded-memory chunks by a purpose-built parser.
//!
//! Why not polars here (the house rule is polars for CSV): on these 2 cores polars 0.55 (and
//! Python polars 2.1) need 4.3 s for a 1,000,000-row, 595 MB CICIDS2017 file, no faster than
//! pandas.read_csv (4.4 s), because the file is 91 wide columns of mostly numbers it must
//! first materialise as columns. CICFlowMeter output never quotes a field and never breaks
//! a record over lines, so a line splitter that parses each numeric field straight into the
//! row-major f32 matrix (plain decimals on a fast path, fast-float for the rest), on every
//! core, does the whole job several times faster (figures in README). polars still writes
//! every CSV and Parquet output.
//!
//! The file is cut into chunks of whole lines (`ReadOptions::chunk_bytes`), read by a reader
//! thread while the cores parse the chunk before, so a file of several GB needs memory for
//! its output plus three chunks. Each chunk is cut at line boundaries into parts that the
//! cores take in turn, each writing its rows straight into the output. Every row keeps its
//! exact line number, which error messages and the flow metadata need.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::mem::MaybeUninit;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use super::ReadOptions;
use super::dialect::Dialect;
use super::error::IngestError;
use super::label::{AttackFamily, FlowLabel, LabelColumn, is_no_label};
use super::table::{FlowMeta, FlowTable, SourceFile};
use super::validate::{ColumnCounts, DroppedRow, ValidationReport, as_is, clean_value};
use crate::features::N_FEATURES;

mod cells;
mod header;
// Not in the fuzz crate, which compiles this module from these sources without polars.
#[cfg(not(fuzzing))]
mod parquet;
mod records;
mod stream;

use cells::{RowTexts, apply_meta, field_end, numeric_field, trim};
use header::{ColumnPlan, FEATURE_BY_NAME, MetaColumn, detect_dialect, plan_columns, read_header};

#[cfg(not(fuzzing))]
pub use parquet::{is_parquet, read_parquet};
pub use records::{JsonFlowError, read_json_flows};
pub use stream::CsvStream;

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
    let body_bytes = len.saturating_sub(reader.stream_position().map_err(|e| IngestError::io(path, e))?);
    read_body(path, reader, dialect, header, opts, body_bytes)
}

/// Reads CSV from any reader (a request body, a pipe): `name` stands for the file in
/// messages and in the table's source.
pub fn read_csv_from(name: &Path, reader: impl Read + Send, opts: &ReadOptions) -> Result<FlowTable, IngestError> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let head = reader.fill_buf().map_err(|e| IngestError::io(name, e))?;
    if head.is_empty() {
        return Err(IngestError::Empty { path: name.to_path_buf() });
    }
    reject_binary(name, head)?;
    let header = read_header(name, &mut reader)?;
    let dialect = detect_dialect(name, &header)?;
    read_body(name, reader, dialect, header, opts, 0)
}

/// Parses everything after the header; `body_bytes` (0 when unknown) sizes the output.
fn read_body(
    path: &Path,
    reader: impl Read + Send,
    dialect: Dialect,
    header: Vec<String>,
    opts: &ReadOptions,
    body_bytes: u64,
) -> Result<FlowTable, IngestError> {
    let mut state = FileState::new(path, opts, plan_columns(path, dialect, header, opts.addresses)?, body_bytes);

    // A reader thread fills the next chunk, and finds its lines, while the cores parse this
    // one; three buffers circulate (parsed, queued, being read), so memory stays at three
    // chunks.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<std::io::Result<Chunk>>(1);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let chunk_bytes = opts.chunk_bytes.max(1 << 16);
    std::thread::scope(|scope| -> Result<(), IngestError> {
        scope.spawn(move || read_chunks(reader, chunk_bytes, &full_tx, &empty_rx));
        let mut next_line = 2u64; // the header is line 1
        for message in full_rx {
            let chunk = message.map_err(|e| IngestError::io(path, e))?;
            next_line += state.parse_chunk(&chunk, next_line)?;
            let _ = empty_tx.send(chunk.buf);
        }
        Ok(())
    })?;
    Ok(state.finish(dialect))
}

/// Whole lines read by the reader thread, cut into parts for the cores.
struct Chunk {
    buf: Vec<u8>,
    /// Each part's bytes in `buf` and its number of lines.
    parts: Vec<(Range<usize>, usize)>,
    /// How many threads parse the parts.
    threads: usize,
}

impl Chunk {
    /// The first `cut` bytes of `buf` (whole lines), split for the cores. Counting lines here
    /// keeps that pass off the parsing thread's serial path.
    fn new(buf: Vec<u8>, cut: usize) -> Chunk {
        let threads =
            if cut < MIN_PARALLEL_BYTES { 1 } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
        let pieces = if threads > 1 { threads * PARTS_PER_THREAD } else { 1 };
        let parts = split_at_lines(&buf[..cut], pieces)
            .into_iter()
            .map(|range| {
                let lines = count_lines(&buf[range.clone()]) as usize;
                (range, lines)
            })
            .collect();
        Chunk { buf, parts, threads }
    }

    fn bytes(&self) -> usize {
        self.parts.last().map_or(0, |(range, _)| range.end)
    }

    fn lines(&self) -> usize {
        self.parts.iter().map(|(_, n)| n).sum()
    }
}

/// Sends chunks of whole lines until the file ends; the partial last line of each buffer
/// starts the next. Stops when the parser hangs up.
fn read_chunks(
    mut reader: impl Read,
    chunk_bytes: usize,
    full: &std::sync::mpsc::SyncSender<std::io::Result<Chunk>>,
    empty: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut carry: Vec<u8> = Vec::new();
    // The cores wait for the first chunk; every later one is read while they parse the one
    // before. So the first is small and the sizes double up to `chunk_bytes`: each read
    // (into a fresh buffer, at first) then takes no longer than the parse it overlaps.
    // Buffers are allocated at full size (zeroed lazily by the kernel) and filled only as
    // far as the read goes, so the short first reads cost no extra buffers.
    let mut size = (chunk_bytes / 16).max(1 << 16);
    loop {
        let want = size.max(carry.len() * 2); // twice a line longer than a chunk
        let mut buf = empty.try_recv().unwrap_or_else(|_| vec![0u8; chunk_bytes.max(want)]);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        size = (size * 2).min(chunk_bytes);
        buf[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        let got = match read_full(&mut reader, &mut buf[filled..want]) {
            Ok(n) => n,
            Err(e) => {
                let _ = full.send(Err(e));
                return;
            }
        };
        filled += got;
        let eof = filled < want;
        let cut = if eof { filled } else { memchr::memrchr(b'\n', &buf[..filled]).map_or(filled, |p| p + 1) };
        carry.clear();
        carry.extend_from_slice(&buf[cut..filled]);
        if !eof && cut == filled && memchr::memrchr(b'\n', &buf[..filled]).is_none() {
            // No line end in a whole buffer: keep reading into a bigger one.
            carry.clear();
            carry.extend_from_slice(&buf[..filled]);
            continue;
        }
        if cut > 0 && full.send(Ok(Chunk::new(buf, cut))).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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

/// How a line maps onto a row.
#[derive(Debug)]
struct LineLayout {
    /// Per column.
    actions: Vec<Action>,
    /// Features no column holds: empty cells of every row.
    imputed: Vec<usize>,
}

/// What the parser does with one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Skip,
    Feature(usize),
    Meta(MetaColumn),
}

/// Whether a file's label column holds labels (decided by its first row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelMode {
    Undecided,
    Labelled,
    Unlabelled,
}

/// One problem found on one line.
#[derive(Debug, Clone)]
enum LineIssue {
    NotNumeric { column: usize, value: String },
    FieldCount { found: usize },
}

/// Chunks smaller than this are parsed on one thread (spawning costs more than it saves).
const MIN_PARALLEL_BYTES: usize = 1 << 20;

/// Parts a chunk is cut into per parse thread. The threads take parts as they get free, so a
/// core that is also running the reader thread (or anything else) simply parses fewer; with
/// one part per thread, the whole chunk waited for the slowest.
const PARTS_PER_THREAD: usize = 8;

/// What one thread reports about the slice of a chunk it parsed. Its rows were written in
/// place, at the front of the output slots it was given.
struct ParsedPart {
    rows: usize,
    /// Per row, an index into `labels` (the distinct raw labels of this part).
    label_ids: Vec<u32>,
    labels: Vec<String>,
    counts: [ColumnCounts; N_FEATURES],
    issues: Vec<(u64, LineIssue)>,
    /// Lines of empty cells only (commas), skipped.
    empty_records: u64,
}

/// Accumulates the rows of one file.
struct FileState {
    path: std::path::PathBuf,
    opts: ReadOptions,
    plan: ColumnPlan,
    layout: LineLayout,
    /// Row-major feature slots; rows beyond `meta.len()` are spare (see `make_room`).
    features: Vec<f32>,
    meta: Vec<FlowMeta>,
    /// Bytes of the file not yet parsed, to size the output.
    bytes_left: u64,
    labels: LabelColumn,
    label_mode: LabelMode,
    label_cache: HashMap<String, Option<FlowLabel>>,
    counts: [ColumnCounts; N_FEATURES],
    report: ValidationReport,
}

impl FileState {
    fn new(path: &Path, opts: &ReadOptions, plan: ColumnPlan, bytes_left: u64) -> Self {
        let label_mode = if plan.meta(MetaColumn::Label).is_some() && !opts.ignore_labels {
            LabelMode::Undecided
        } else {
            LabelMode::Unlabelled
        };
        let report = plan.first_report();
        FileState {
            path: path.to_path_buf(),
            opts: opts.clone(),
            layout: plan.layout(),
            plan,
            features: Vec::new(),
            meta: Vec::new(),
            bytes_left,
            labels: LabelColumn::default(),
            label_mode,
            label_cache: HashMap::new(),
            counts: [ColumnCounts::default(); N_FEATURES],
            report,
        }
    }

    /// Gives every line of `chunk` a feature slot and room for its metadata after the rows
    /// so far.
    ///
    /// The feature matrix (three quarters of the output) is allocated once, zeroed by the
    /// kernel: its pages are then first touched, and faulted in, by the parse threads, on
    /// every core. Growing it per chunk made one thread zero each chunk's 10 MB while the
    /// other cores waited. Its size is this chunk's bytes per line projected over the rest
    /// of the file, plus a margin; should that fall short, it grows. The metadata is written
    /// by the parse threads into reserved capacity (see `MetaSlots`), for the same reason.
    fn make_room(&mut self, chunk: &Chunk) {
        let rows = self.meta.len() + chunk.lines();
        self.bytes_left = self.bytes_left.saturating_sub(chunk.bytes() as u64);
        if self.features.len() < rows * N_FEATURES {
            let per_line = (chunk.bytes() / chunk.lines().max(1)).max(1) as u64;
            let expected = rows + (self.bytes_left / per_line + self.bytes_left / per_line / 16) as usize;
            self.meta.reserve(expected - self.meta.len());
            if self.features.is_empty() {
                self.features = vec![0.0; expected * N_FEATURES];
            } else {
                self.features.resize(expected * N_FEATURES, 0.0);
            }
        }
        self.meta.reserve(chunk.lines());
    }

    /// Parses one chunk of whole lines starting at `first_line`, on every core, straight into
    /// the output: each thread fills its own slots, then the slots are closed up.
    fn parse_chunk(&mut self, chunk: &Chunk, first_line: u64) -> Result<u64, IngestError> {
        let base = self.meta.len();
        let total = chunk.lines();
        self.make_room(chunk);
        let features = &mut self.features[base * N_FEATURES..(base + total) * N_FEATURES];
        let parsed =
            parse_parts(chunk, first_line, &self.layout, features, &mut self.meta.spare_capacity_mut()[..total]);
        // SAFETY: the `total` slots after the first `base` all hold a value. `parse_parts`
        // handed each part of the chunk its own run of them, one per line, covering all
        // `total`, as a `MetaSlots`, which writes the part's rows from the front and, when
        // dropped, a default into every slot left; and it returned, so every part is done
        // (a panic in a parse thread is re-raised there, and this line is never reached).
        unsafe { self.meta.set_len(base + total) };
        // Close up: part i's rows sit at the front of its slots.
        let (mut write, mut slot) = (base, base);
        for (part, (_, n)) in parsed.iter().zip(&chunk.parts) {
            self.move_rows(slot, write, part.rows);
            write += part.rows;
            slot += n;
        }
        self.meta.truncate(write);
        for part in &parsed {
            for (sum, c) in self.counts.iter_mut().zip(&part.counts) {
                sum.add(c);
            }
            self.report.empty_records += part.empty_records;
        }
        self.apply_policies(&parsed, base)?;
        Ok(total as u64)
    }

    /// Applies to the lines just parsed (rows from `base`), in line order, the policies for
    /// bad lines (a cell that is no number, a wrong field count) and for labels (unknown ones
    /// drop rows under --lenient). In line order, so strict mode stops at the first problem
    /// of the file and the report keeps the first examples, whatever the chunk size.
    fn apply_policies(&mut self, parsed: &[ParsedPart], base: usize) -> Result<(), IngestError> {
        let mut keep = Vec::with_capacity(self.meta.len() - base);
        let mut row = base;
        for part in parsed {
            let resolved: Vec<Option<FlowLabel>> = part.labels.iter().map(|raw| self.resolve_label(raw)).collect();
            let mut issues = part.issues.iter().peekable();
            for r in 0..part.rows {
                let line = self.meta[row].line;
                while let Some((at, issue)) = issues.next_if(|(at, _)| *at < line) {
                    self.record_issue(*at, issue)?;
                }
                keep.push(self.keep_label(part, &resolved, r, line)?);
                row += 1;
            }
            for (at, issue) in issues {
                self.record_issue(*at, issue)?;
            }
        }
        keep_rows(&mut self.features, &mut self.meta, base, &keep);
        Ok(())
    }

    /// Moves `n` rows from row `from` down to row `to` (`to <= from`).
    fn move_rows(&mut self, from: usize, to: usize, n: usize) {
        if from == to || n == 0 {
            return;
        }
        self.features.copy_within(from * N_FEATURES..(from + n) * N_FEATURES, to * N_FEATURES);
        for i in 0..n {
            self.meta.swap(to + i, from + i);
        }
    }

    /// A bad line: an error (strict), or a dropped row in the report (lenient). A line that
    /// repeats the header is neither: it is skipped and counted.
    fn record_issue(&mut self, line: u64, issue: &LineIssue) -> Result<(), IngestError> {
        if self.repeats_header(issue) {
            self.report.repeated_headers += 1;
            return Ok(());
        }
        if !self.opts.lenient {
            return Err(self.issue_error(line, issue));
        }
        let (column, reason) = match issue {
            LineIssue::NotNumeric { column, value } => {
                (self.plan.header[*column].clone(), format!("'{value}' is not a number"))
            }
            LineIssue::FieldCount { found } => {
                (String::new(), format!("{found} fields, header has {}", self.plan.header.len()))
            }
        };
        self.report.record_dropped(DroppedRow { line, column, reason });
        Ok(())
    }

    /// Whether the first cell a line failed on holds its own column's name: the line is the
    /// header again (data never holds a column name where a number or address belongs).
    fn repeats_header(&self, issue: &LineIssue) -> bool {
        match issue {
            LineIssue::NotNumeric { column, value } => {
                self.plan.header.get(*column).is_some_and(|name| !name.trim().is_empty() && name.trim() == value.trim())
            }
            LineIssue::FieldCount { .. } => false,
        }
    }

    fn resolve_label(&mut self, raw: &str) -> Option<FlowLabel> {
        self.label_cache.entry(raw.to_string()).or_insert_with(|| label_of(raw)).clone()
    }

    /// Applies the label policy to row `r`: false drops it (lenient), an error stops (strict).
    fn keep_label(
        &mut self,
        part: &ParsedPart,
        resolved: &[Option<FlowLabel>],
        r: usize,
        line: u64,
    ) -> Result<bool, IngestError> {
        let Some(&id) = part.label_ids.get(r) else { return Ok(true) };
        let raw = &part.labels[id as usize];
        if self.label_mode == LabelMode::Undecided {
            self.label_mode = if is_no_label(raw) { LabelMode::Unlabelled } else { LabelMode::Labelled };
            if self.label_mode == LabelMode::Unlabelled {
                self.report
                    .warnings
                    .push(format!("the Label column holds no labels ('{}'): read as unlabelled", raw.trim()));
            }
        }
        if self.label_mode == LabelMode::Unlabelled {
            return Ok(true);
        }
        match &resolved[id as usize] {
            Some(l) => {
                self.labels.push(l.clone());
                Ok(true)
            }
            None if self.opts.lenient => {
                self.report.record_dropped(DroppedRow {
                    line,
                    column: "Label".into(),
                    reason: format!("unknown label '{raw}'"),
                });
                Ok(false)
            }
            None => Err(IngestError::UnknownLabel { path: self.path.to_path_buf(), line, value: raw.clone() }),
        }
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

    fn finish(mut self, dialect: Dialect) -> FlowTable {
        self.features.truncate(self.meta.len() * N_FEATURES);
        self.report.add_counts(&self.counts);
        self.report.rows = self.meta.len() as u64;
        if self.meta.is_empty() {
            self.report.warnings.push("the file has a header but no data rows".into());
        }
        let labels = (self.label_mode == LabelMode::Labelled).then_some(self.labels);
        let source = SourceFile::of_records(self.path.to_path_buf(), dialect, self.meta.len(), self.report);
        FlowTable::from_parts(self.features, self.meta, labels, vec![source])
    }
}

/// The label a raw label cell stands for; `None` for one of no known family.
pub(super) fn label_of(raw: &str) -> Option<FlowLabel> {
    AttackFamily::from_label(raw).map(|family| FlowLabel { raw: Arc::from(raw.trim()), family })
}

/// Drops the rows from `base` whose `keep` is false, closing up: `meta` is truncated to the
/// rows kept, `features` (row-major) keeps its length for the caller to trim or reuse.
pub(super) fn keep_rows(features: &mut [f32], meta: &mut Vec<FlowMeta>, base: usize, keep: &[bool]) {
    if !keep.contains(&false) {
        return;
    }
    let mut w = base;
    for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        let r = base + i;
        features.copy_within(r * N_FEATURES..(r + 1) * N_FEATURES, w * N_FEATURES);
        meta.swap(w, r);
        w += 1;
    }
    meta.truncate(w);
}

/// Parses the parts of `chunk` on its threads, each into its own run of the slots (one per
/// line, in order); returns what each part reports, in order.
fn parse_parts(
    chunk: &Chunk,
    first_line: u64,
    layout: &LineLayout,
    mut features: &mut [f32],
    mut meta: &mut [MaybeUninit<FlowMeta>],
) -> Vec<ParsedPart> {
    let mut jobs = Vec::with_capacity(chunk.parts.len());
    let mut line = first_line;
    for (range, n) in &chunk.parts {
        let (f, f_rest) = std::mem::take(&mut features).split_at_mut(n * N_FEATURES);
        let (m, m_rest) = std::mem::take(&mut meta).split_at_mut(*n);
        features = f_rest;
        meta = m_rest;
        jobs.push((&chunk.buf[range.clone()], line, f, MetaSlots { slots: m, filled: 0 }));
        line += *n as u64;
    }
    let jobs = Mutex::new(jobs.into_iter().enumerate());
    // The lock is held only to take a job, not while it runs.
    let next_job = || jobs.lock().unwrap_or_else(PoisonError::into_inner).next();
    let work = || {
        let mut done = Vec::new();
        while let Some((i, (part, start, f, m))) = next_job() {
            done.push((i, parse_part(part, start, layout, f, m)));
        }
        done
    };
    // This thread is one of the workers: one spawn fewer per chunk, and no thread that sits
    // waiting for the others.
    let mut done: Vec<(usize, ParsedPart)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..chunk.threads).map(|_| scope.spawn(work)).collect();
        let mut done = work();
        for helper in helpers {
            done.extend(helper.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        done
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, part)| part).collect()
}

/// One part's run of reserved, uninitialised metadata slots. Rows are written from the
/// front; when it is dropped, every slot left (lines that were dropped or blank) gets
/// `FlowMeta::default()`. So once a part is done all its slots hold a value, which is what
/// lets `parse_chunk` mark them as the vector's. Written in place by the parse threads, the
/// 96 bytes a row are faulted in on every core, not zeroed first on one.
struct MetaSlots<'a> {
    slots: &'a mut [MaybeUninit<FlowMeta>],
    filled: usize,
}

impl MetaSlots<'_> {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn push(&mut self, meta: FlowMeta) {
        self.slots[self.filled].write(meta);
        self.filled += 1;
    }
}

impl Drop for MetaSlots<'_> {
    fn drop(&mut self) {
        for slot in &mut self.slots[self.filled..] {
            slot.write(FlowMeta::default());
        }
    }
}

/// Splits `chunk` into at most `n` ranges of whole lines.
fn split_at_lines(chunk: &[u8], n: usize) -> Vec<Range<usize>> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for i in (1..n).rev() {
        let rest = chunk.len() - start;
        let target = start + rest - rest * i / (i + 1);
        match memchr::memchr(b'\n', &chunk[target..]) {
            Some(p) => {
                parts.push(start..target + p + 1);
                start = target + p + 1;
            }
            None => break,
        }
    }
    parts.push(start..chunk.len());
    parts.retain(|p| !p.is_empty());
    parts
}

/// Parses every line of `bytes` (the first is line `first_line`) into `features` and `meta`,
/// one slot per line; kept rows fill the slots from the front.
fn parse_part(
    bytes: &[u8],
    first_line: u64,
    layout: &LineLayout,
    features: &mut [f32],
    mut meta: MetaSlots,
) -> ParsedPart {
    let mut part = ParsedPart {
        rows: 0,
        label_ids: Vec::with_capacity(meta.len()),
        labels: Vec::new(),
        counts: [ColumnCounts::default(); N_FEATURES],
        issues: Vec::new(),
        empty_records: 0,
    };
    let mut label_index: HashMap<&[u8], u32> = HashMap::new();
    let mut last_label: Option<(&[u8], u32)> = None;
    let mut repaired = Vec::new();
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
    let mut start = 0;
    for (i, end) in ends.enumerate() {
        let line_no = first_line + i as u64;
        let line = &text[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // A data line starts with a value; only a line starting blank can be all blank.
        if line.first().is_none_or(u8::is_ascii_whitespace) && line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // A record of empty cells is no flow: the 2017 release's Thursday web-attack file
        // (TrafficLabelling) ends in 288,602 lines of commas alone.
        // (A data line starts with a value, so this stops at its first byte.)
        if line.iter().all(|b| matches!(b, b',' | b'"') || b.is_ascii_whitespace()) {
            part.empty_records += 1;
            continue;
        }
        // Written straight into the next free slot; a dropped line's values are overwritten.
        let mut row = Row {
            features: &mut features[part.rows * N_FEATURES..(part.rows + 1) * N_FEATURES],
            repaired: &mut repaired,
            meta: FlowMeta::at_line(line_no),
            texts: RowTexts::default(),
        };
        row.repaired.clear();
        if let Err(issue) = parse_line(line, &layout.actions, &mut row) {
            part.issues.push((line_no, issue));
            continue;
        }
        // Counted only for rows that are kept.
        for (f, counts) in row.repaired.iter() {
            part.counts[*f].add(counts);
        }
        for &f in &layout.imputed {
            row.features[f] = clean_value(None, f, &mut part.counts[f]);
        }
        if let Some(id) = row.texts.flow_id {
            row.meta.set_flow_id(id);
        }
        if let Some(l) = row.texts.label {
            // Rows of one label come in runs: compare with the previous row's label first.
            let id = match last_label {
                Some((prev, id)) if prev == l => id,
                _ => {
                    let next = part.labels.len() as u32;
                    let id = *label_index.entry(l).or_insert_with(|| {
                        part.labels.push(String::from_utf8_lossy(l).into_owned());
                        next
                    });
                    last_label = Some((l, id));
                    id
                }
            };
            part.label_ids.push(id);
        }
        meta.push(row.meta);
        part.rows += 1;
    }
    part
}

/// What one line parses into, until the row is kept.
struct Row<'l, 'o> {
    /// The row's feature slot, written with values the policy has already cleaned.
    features: &'o mut [f32],
    /// The features the value policy changed, with what it counted for each.
    repaired: &'o mut Vec<(usize, ColumnCounts)>,
    meta: FlowMeta,
    texts: RowTexts<'l>,
}

impl Row<'_, '_> {
    /// The value policy applied to feature `f`'s value `v`, its counts noted.
    fn apply_policy(&mut self, f: usize, v: Option<f32>) -> f32 {
        if let Some(v) = as_is(v) {
            return v;
        }
        let mut counts = ColumnCounts::default();
        let cleaned = clean_value(v, f, &mut counts);
        self.repaired.push((f, counts));
        cleaned
    }
}

/// A numeric cell as parsed.
enum Cell {
    /// An unsigned plain decimal: finite and not negative, which the value policy keeps.
    Plain(f32),
    /// Anything else (a sign, an empty cell, NaN, an infinity, an exponent), for the policy.
    Other(Option<f32>),
}

/// Splits one line at commas and parses each field as its column says.
fn parse_line<'l>(line: &'l [u8], actions: &[Action], row: &mut Row<'l, '_>) -> Result<(), LineIssue> {
    let mut col = 0;
    let mut start = 0;
    loop {
        let Some(action) = actions.get(col) else {
            return Err(LineIssue::FieldCount { found: memchr::memchr_iter(b',', line).count() + 1 });
        };
        // Numbers are parsed while their end is found; other fields are cut at the next comma.
        let end = match *action {
            Action::Feature(f) => {
                let (cell, end) = numeric_field(line, start, col)?;
                row.features[f] = match cell {
                    Cell::Plain(v) => v,
                    Cell::Other(v) => row.apply_policy(f, v),
                };
                end
            }
            _ => {
                let end = field_end(line, start);
                if let Action::Meta(m) = *action {
                    apply_meta(m, trim(&line[start..end]), col, &mut row.meta, &mut row.texts)?;
                }
                end
            }
        };
        col += 1;
        if end >= line.len() {
            break;
        }
        start = end + 1;
    }
    if col != actions.len() {
        return Err(LineIssue::FieldCount { found: col });
    }
    Ok(())
}
