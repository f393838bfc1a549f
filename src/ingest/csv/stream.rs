//! CSV flows from a stream (standard input, a pipe from another program), handed out in
//! batches as they arrive: the streaming scorer's input. Lines are parsed exactly as in a
//! file (same dialects, value policy, label policy and line numbers in errors).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{Chunk, FileState, LabelMode, ReadOptions, detect_dialect, plan_columns, read_header};
use crate::features::N_FEATURES;
use crate::ingest::dialect::Dialect;
use crate::ingest::error::IngestError;
use crate::ingest::table::{FlowTable, SourceFile};
use crate::ingest::validate::ValidationReport;

/// A CSV stream after its header: batches of flows in input order.
pub struct CsvStream<R> {
    reader: BufReader<R>,
    state: FileState,
    dialect: Dialect,
    /// Line number of the next line (the header is line 1).
    next_line: u64,
    rows: usize,
}

impl<R: Read> CsvStream<R> {
    /// Reads and matches the header; `name` stands for the stream in messages ("<stdin>").
    pub fn new(name: &Path, reader: R, opts: &ReadOptions) -> Result<Self, IngestError> {
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        let head = reader.fill_buf().map_err(|e| IngestError::io(name, e))?;
        if head.is_empty() {
            return Err(IngestError::Empty { path: name.to_path_buf() });
        }
        super::reject_binary(name, head)?;
        let header = read_header(name, &mut reader)?;
        let dialect = detect_dialect(name, &header)?;
        let state = FileState::new(name, opts, plan_columns(name, dialect, header, opts.addresses)?, 0);
        Ok(CsvStream { reader, state, dialect, next_line: 2, rows: 0 })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The next batch: at most `max_lines` lines, and no more than are already available.
    /// A batch ends early when the next line would mean waiting for the writer, so a slow
    /// producer gets its verdicts line by line while a fast one gets them in large batches.
    /// `None` at the end of the stream.
    pub fn next_batch(&mut self, max_lines: usize) -> Result<Option<FlowTable>, IngestError> {
        let mut buf = Vec::new();
        let mut lines = 0;
        while lines < max_lines.max(1) {
            let read = self.reader.read_until(b'\n', &mut buf).map_err(|e| IngestError::io(&self.state.path, e))?;
            if read == 0 {
                break;
            }
            lines += 1;
            if self.reader.buffer().is_empty() {
                break;
            }
        }
        if buf.is_empty() {
            return Ok(None);
        }
        if !buf.ends_with(b"\n") {
            buf.push(b'\n');
        }
        let cut = buf.len();
        let chunk = Chunk::new(buf, cut);
        self.next_line += self.state.parse_chunk(&chunk, self.next_line)?;
        Ok(Some(self.take_rows()))
    }

    /// What was read so far: counts, imputed and ignored columns, dropped lines.
    pub fn report(&self) -> ValidationReport {
        let mut report = self.state.report.clone();
        report.add_counts(&self.state.counts);
        report.rows = self.rows as u64;
        report
    }

    /// Moves the rows parsed so far out into a table of their own.
    fn take_rows(&mut self) -> FlowTable {
        let state = &mut self.state;
        let n = state.meta.len();
        let features = state.features[..n * N_FEATURES].to_vec();
        state.features.clear();
        let meta = std::mem::take(&mut state.meta);
        let labels = (state.label_mode == LabelMode::Labelled).then(|| std::mem::take(&mut state.labels));
        self.rows += n;
        let source = SourceFile::of_records(state.path.clone(), self.dialect, n, ValidationReport::default());
        FlowTable::from_parts(features, meta, labels, vec![source])
    }
}
