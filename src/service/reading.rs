//! Reading flow files as a task: what the window's Open and `predict` do before scoring. A
//! progress line per file, a capture's packets with their rate and the time left as it is
//! extracted, and cancellation: between files, and inside a capture every few thousand
//! packets.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::task::{Cancelled, Progress, Task};
use crate::ingest::{FlowTable, ReadOptions, capture, expand_inputs, read_file};

/// What was read when reading may stop early.
pub struct ReadOutcome {
    pub table: FlowTable,
    /// `None` when every file was read whole; otherwise what was left out, for the analyst.
    pub stopped: Option<String>,
}

/// Where the flows read so far go while a capture is extracted: `sink` gets the whole table
/// so far (earlier files, and the capture's finished and open flows) `after` the capture's
/// start and then every `every`. A large CSV file read first gives `sink` its first rows.
pub struct ShowFlows<'a> {
    pub after: Duration,
    pub every: Duration,
    pub sink: &'a (dyn Fn(FlowTable) + Sync),
}

/// A flow CSV this large shows its first rows at once while the whole is read (the 595 MB
/// file of a million flows takes about two seconds on two cores, ten million twenty).
const PREVIEW_CSV_BYTES: u64 = 64 << 20;
const PREVIEW_CSV_ROWS: usize = 10_000;

/// The first rows of a plain CSV file, or `None` (a compressed file, or any problem, which
/// the whole read then reports).
fn csv_preview(path: &std::path::Path, opts: &ReadOptions) -> Option<FlowTable> {
    if path.extension().is_some_and(|e| e == "gz") {
        return None;
    }
    let mut stream = crate::ingest::CsvStream::new(path, std::fs::File::open(path).ok()?, opts).ok()?;
    let mut preview = FlowTable::default();
    while preview.len() < PREVIEW_CSV_ROWS {
        match stream.next_batch(PREVIEW_CSV_ROWS - preview.len()) {
            Ok(Some(rows)) if !rows.is_empty() => preview.append(rows),
            _ => break,
        }
    }
    (!preview.is_empty()).then_some(preview)
}

/// Reads files, folders and globs into one table (sources in order); cancelling fails it.
pub fn read(inputs: &[PathBuf], opts: &ReadOptions, task: &Task) -> anyhow::Result<FlowTable> {
    let outcome = read_keeping(inputs, opts, task, None)?;
    match outcome.stopped {
        Some(_) => Err(Cancelled.into()),
        None => Ok(outcome.table),
    }
}

/// Like [`read`], but cancelling keeps what was read: the files before, and the flows of the
/// packets of a capture read so far (the window shows them and says what is missing).
pub fn read_keeping(
    inputs: &[PathBuf],
    opts: &ReadOptions,
    task: &Task,
    show: Option<&ShowFlows<'_>>,
) -> anyhow::Result<ReadOutcome> {
    read_files(&expand_inputs(inputs)?, opts, task, show, None)
}

/// Where the flows of captures go as soon as they finish, for work done on them while the
/// rest is read (`service::scored_reading` scores them).
pub(super) trait RowsAlong {
    /// Features of flows that finished since the last call (row-major, 72 a row), in the
    /// order they finished.
    fn rows(&mut self, features: &[f32]);
    /// Every flow of the capture was handed on; row `i` of its table is the `order[i]`-th.
    fn capture_done(&mut self, order: Vec<usize>);
}

/// [`read_keeping`] of `files` (already expanded), handing the captures' flows to `along`
/// as they finish.
pub(super) fn read_files(
    files: &[PathBuf],
    opts: &ReadOptions,
    task: &Task,
    show: Option<&ShowFlows<'_>>,
    mut along: Option<&mut dyn RowsAlong>,
) -> anyhow::Result<ReadOutcome> {
    let mut table = FlowTable::default();
    for (i, path) in files.iter().enumerate() {
        if task.is_cancelled() {
            let rest = files.len() - i;
            return Ok(ReadOutcome {
                table,
                stopped: Some(format!("cancelled: {rest} of {} files not read", files.len())),
            });
        }
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let stage = if files.len() > 1 {
            format!("reading {name} ({} of {})", i + 1, files.len())
        } else {
            format!("reading {name}")
        };
        task.report(Progress::new(stage.clone(), 0, Some(size)));
        if capture::is_capture(path) {
            let mut rate = CaptureRate::new(size, path.extension().is_some_and(|e| e == "gz"));
            let mut on_packets = |bytes: u64, packets: u64| {
                if let Some(line) = rate.line(bytes, packets) {
                    task.report(Progress::new(format!("{stage}: {line}"), bytes.min(size), Some(size)));
                }
                if task.is_cancelled() { capture::Proceed::Break(()) } else { capture::Proceed::Continue(()) }
            };
            let mut show_sink = |flows: FlowTable| {
                if let Some(show) = show {
                    let mut so_far = table.clone();
                    so_far.append(flows);
                    (show.sink)(so_far);
                }
            };
            let showing = show.map(|s| capture::Showing { after: s.after, every: s.every, sink: &mut show_sink });
            let (flows, report) = match along.as_deref_mut() {
                Some(along) => {
                    let (flows, report, order) = capture::extract_table_handing_on(
                        path,
                        &opts.capture,
                        &mut on_packets,
                        showing,
                        &mut |rows| along.rows(rows),
                    )?;
                    along.capture_done(order);
                    (flows, report)
                }
                None => capture::extract_table(path, &opts.capture, &mut on_packets, showing)?,
            };
            let extracted = flows.len();
            table.append(flows);
            if report.stopped_early {
                let rest = files.len() - i - 1;
                let mut why = format!("cancelled: {name} stopped after {} packets ({extracted} flows)", report.packets);
                if rest > 0 {
                    why.push_str(&format!(", {rest} more files not read"));
                }
                return Ok(ReadOutcome { table, stopped: Some(why) });
            }
        } else {
            if let Some(show) = show.filter(|_| table.is_empty() && size >= PREVIEW_CSV_BYTES) {
                if let Some(preview) = csv_preview(path, opts) {
                    (show.sink)(preview);
                }
            }
            table.append(read_file(path, opts)?);
        }
        task.report(Progress::new(stage, size, Some(size)));
    }
    Ok(ReadOutcome { table, stopped: None })
}

/// Packets per second and the time left of one capture's extraction, at most a few lines a
/// second (the extractor calls back every few thousand packets).
struct CaptureRate {
    started: Instant,
    last: Option<Instant>,
    size: u64,
    /// A gzip-compressed capture's progress is in decompressed bytes: no time left then.
    compressed: bool,
}

impl CaptureRate {
    fn new(size: u64, compressed: bool) -> Self {
        CaptureRate { started: Instant::now(), last: None, size, compressed }
    }

    fn line(&mut self, bytes: u64, packets: u64) -> Option<String> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < Duration::from_millis(200)) {
            return None;
        }
        self.last = Some(now);
        let seconds = (now - self.started).as_secs_f64().max(1e-6);
        let mut line = format!("{packets} packets, {:.0} packets/s", packets as f64 / seconds);
        if !self.compressed && bytes > 0 && bytes < self.size {
            let left = (self.size - bytes) as f64 / (bytes as f64 / seconds);
            line.push_str(&format!(", about {left:.0} s left"));
        }
        Some(line)
    }
}
