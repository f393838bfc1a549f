//! Captures in, CICFlowMeter flows out: pcap (both byte orders, µs and ns), pcapng (several
//! interfaces, enhanced/simple/obsolete packet blocks), gzip-compressed either way.
//!
//! `reader` (records and blocks, damage) → `packet` (headers) → `extractor` (flow table,
//! reordering, timeouts, fragments, duplicates) → `flow` (the 72 statistics). Everything
//! skipped is counted in a [`CaptureReport`] with the first packet number per reason.

pub mod carve;
pub mod extractor;
pub mod flow;
pub mod http;
pub mod packet;
pub mod reader;
pub mod report;
mod rows;

use std::path::Path;

pub use extractor::{ExtractOptions, FlowExtractor, FlowRecord};
pub use flow::Compat;
pub use reader::is_capture;
pub use report::{CaptureReport, FlowsByPackets, ReasonCount, SkipReason};
pub use rows::{FlowRows, permute};

use super::table::FlowTable;

/// A capture that could not be read at all (damage inside one is reported, not an error).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{}: {reason}", path.display())]
    Open { path: std::path::PathBuf, reason: reader::OpenError },
}

/// How often (in packets) progress is reported and cancellation looked at: a few hundred times
/// a second at the extractor's speed, each a function call.
pub const PROGRESS_EVERY: u64 = 1 << 12;

/// What a progress callback says: go on, or stop here and keep the flows of the packets read.
pub type Proceed = std::ops::ControlFlow<()>;

/// A progress callback that never stops the extraction.
pub fn keep_going(_bytes: u64, _packets: u64) -> Proceed {
    Proceed::Continue(())
}

/// Extracts the flows of one capture. `progress(bytes, packets)` is called every
/// [`PROGRESS_EVERY`] packets with the bytes of (decompressed) capture consumed; when it
/// breaks, extraction stops there: the flows of the packets read so far are finished and
/// returned, and the report says so (`stopped_early`).
pub fn extract_file(
    path: &Path,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(u64, u64) -> Proceed,
) -> Result<(Vec<FlowRecord>, CaptureReport), CaptureError> {
    let (reader, mut report) = open(path)?;
    let extractor = run(reader, &mut report, opts, progress, &mut |_| {});
    let flows = extractor.finish(&mut report);
    Ok((flows, report))
}

/// Flows handed out while a capture is extracted: `sink` gets the table of the flows so far
/// (finished and open ones, as [`FlowExtractor::snapshot`] makes them) `after` the start,
/// then every `every`, from the progress ticks.
pub struct Showing<'a> {
    pub after: std::time::Duration,
    pub every: std::time::Duration,
    pub sink: &'a mut dyn FnMut(FlowTable),
}

/// [`extract_file`] straight into a table: each flow becomes a table row as it finishes
/// ([`FlowRows`]), so a capture's flows never wait whole as f64 records; `showing` gets the
/// flows so far as it goes (the window shows a large capture's first verdicts long before
/// its end).
pub fn extract_table(
    path: &Path,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(u64, u64) -> Proceed,
    showing: Option<Showing<'_>>,
) -> Result<(FlowTable, CaptureReport), CaptureError> {
    let (rows, report) = extract_rows(path, opts, progress, showing, None)?;
    Ok((rows.into_sorted_table(path, &report), report))
}

/// [`extract_table`], handing each flow's features on as it finishes: `on_rows` gets the
/// rows finished since its last call (row-major, 72 values a row), in the order they
/// finished, so that work on them (scoring) runs while the rest of the capture is read. Also
/// returns the order the table put them in: row `i` of the table is the `order[i]`-th row
/// handed on ([`rows::permute`] puts results kept per row in the table's order).
pub fn extract_table_handing_on(
    path: &Path,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(u64, u64) -> Proceed,
    showing: Option<Showing<'_>>,
    on_rows: &mut dyn FnMut(&[f32]),
) -> Result<(FlowTable, CaptureReport, Vec<usize>), CaptureError> {
    let (rows, report) = extract_rows(path, opts, progress, showing, Some(on_rows))?;
    let (table, order) = rows.into_sorted_table_and_order(path, &report);
    Ok((table, report, order))
}

fn extract_rows(
    path: &Path,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(u64, u64) -> Proceed,
    mut showing: Option<Showing<'_>>,
    mut on_rows: Option<&mut dyn FnMut(&[f32])>,
) -> Result<(FlowRows, CaptureReport), CaptureError> {
    let (reader, mut report) = open(path)?;
    let mut rows = FlowRows::default();
    let started = std::time::Instant::now();
    let mut next_show = showing.as_ref().map(|s| s.after);
    let mut hand_on = |rows: &mut FlowRows, records: &[FlowRecord]| {
        let first = rows.len();
        rows.extend(records);
        if let Some(on_rows) = on_rows.as_mut().filter(|_| rows.len() > first) {
            on_rows(rows.features_from(first));
        }
    };
    let extractor = run(reader, &mut report, opts, progress, &mut |extractor| {
        hand_on(&mut rows, &extractor.take_finished());
        if let (Some(s), Some(at)) = (showing.as_mut(), next_show)
            && started.elapsed() >= at
        {
            let mut so_far = rows.clone();
            so_far.extend(&extractor.snapshot());
            (s.sink)(so_far.into_sorted_table(path, &CaptureReport::default()));
            next_show = Some(started.elapsed() + s.every);
        }
    });
    let last = extractor.finish(&mut report);
    hand_on(&mut rows, &last);
    Ok((rows, report))
}

fn open(path: &Path) -> Result<(reader::CaptureReader, CaptureReport), CaptureError> {
    let mut report = CaptureReport::default();
    let reader = reader::CaptureReader::open(path, &mut report)
        .map_err(|reason| CaptureError::Open { path: path.to_path_buf(), reason })?;
    Ok((reader, report))
}

/// Extracts the flows of a capture held in memory (plain or gzip); used by the fuzz target.
pub fn extract_bytes(bytes: Vec<u8>, opts: &ExtractOptions) -> Result<(Vec<FlowRecord>, CaptureReport), CaptureError> {
    let mut report = CaptureReport::default();
    let gz = bytes.starts_with(&[0x1f, 0x8b]);
    let cursor = std::io::Cursor::new(bytes);
    let src: Box<dyn std::io::Read + Send> =
        if gz { Box::new(flate2::read::MultiGzDecoder::new(cursor)) } else { Box::new(cursor) };
    let reader = reader::CaptureReader::from_reader(src, gz, &mut report)
        .map_err(|reason| CaptureError::Open { path: "<memory>".into(), reason })?;
    let extractor = run(reader, &mut report, opts, &mut keep_going, &mut |_| {});
    let flows = extractor.finish(&mut report);
    Ok((flows, report))
}

/// Feeds every frame of `reader` to a new extractor; `tick` sees the extractor at every
/// progress report. Returns the extractor with the flows still open or not yet taken.
fn run(
    mut reader: reader::CaptureReader,
    report: &mut CaptureReport,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(u64, u64) -> Proceed,
    tick: &mut dyn FnMut(&mut FlowExtractor),
) -> FlowExtractor {
    let mut extractor = FlowExtractor::new(opts.clone());
    loop {
        let decoded = match reader.next_frame(report) {
            None => break,
            Some(frame) => {
                if frame.data.len() < frame.orig_len as usize {
                    report.note(SkipReason::CutBySnapLength, frame.number);
                }
                let number = frame.number;
                let link = frame.link_type;
                match packet::decode(&frame) {
                    Ok(d) => Some(d),
                    Err(reason) => {
                        if reason == SkipReason::UnknownLinkType {
                            report.add_link_type(link);
                        }
                        report.note(reason, number);
                        None
                    }
                }
            }
        };
        if let Some(d) = decoded {
            extractor.push(d, report);
        }
        if report.packets.is_multiple_of(PROGRESS_EVERY) {
            if progress(reader.consumed(), report.packets).is_break() {
                report.stopped_early = true;
                break;
            }
            tick(&mut extractor);
        }
    }
    report.bytes = reader.consumed();
    let _ = progress(report.bytes, report.packets);
    extractor
}

/// Reads a capture into a [`FlowTable`] (one source, dialect `Capture`), with its report.
pub fn read_capture(path: &Path, opts: &ExtractOptions) -> Result<(FlowTable, CaptureReport), CaptureError> {
    extract_table(path, opts, &mut keep_going, None)
}

/// Builds the table of `flows`, in their order: features as f32, metadata with the first
/// packet's number as `line`.
pub fn records_to_table(path: &Path, flows: &[FlowRecord], report: &CaptureReport) -> FlowTable {
    let mut rows = FlowRows::default();
    rows.extend(flows);
    rows.into_table(path, report)
}

/// [`records_to_table`] without the flows' addresses (see `ReadOptions::addresses`).
pub fn records_to_table_without_addresses(path: &Path, flows: &[FlowRecord], report: &CaptureReport) -> FlowTable {
    let mut rows = FlowRows::default();
    rows.extend_without_addresses(flows);
    rows.into_table(path, report)
}

/// The capture report as the free-text warnings of a validation report (what the GUI and
/// `inspect` already show for every source).
fn capture_warnings(report: &CaptureReport) -> Vec<String> {
    let mut w = vec![
        format!("{}: {} packets, {} in {} flows", report.format, report.packets, report.packets_in_flows, report.flows),
        format!("flows by packets: {}", report.flows_by_packets),
    ];
    if report.stopped_early {
        w.push(format!(
            "stopped when asked, after {} packets: the flows are those of the packets read",
            report.packets
        ));
    }
    w.extend(report.left_out());
    for (reason, rc) in &report.reasons {
        w.push(format!("{reason}: {} packet(s), first at packet {}", rc.count, rc.first_packet));
    }
    w
}
