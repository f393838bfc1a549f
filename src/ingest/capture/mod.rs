//! Captures in, CICFlowMeter flows out: pcap (both byte orders, µs and ns), pcapng (several
//! interfaces, enhanced/simple/obsolete packet blocks), gzip-compressed either way.
//!
//! `reader` (records and blocks, damage) → `packet` (headers) → `extractor` (flow table,
//! reordering, timeouts, fragments, duplicates) → `flow` (the 72 statistics). Everything
//! skipped is counted in a [`CaptureReport`] with the first packet number per reason.

pub mod carve;
pub mod extractor;
pub mod flow;
pub mod packet;
pub mod reader;
pub mod report;

use std::path::Path;

pub use extractor::{ExtractOptions, FlowExtractor, FlowRecord};
pub use flow::Compat;
pub use reader::is_capture;
pub use report::{CaptureReport, FlowsByPackets, ReasonCount, SkipReason};

use super::dialect::Dialect;
use super::table::{FlowId, FlowMeta, FlowTable, SourceFile};
use super::validate::ValidationReport;
use crate::features::N_FEATURES;

/// A capture that could not be read at all (damage inside one is reported, not an error).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{}: {reason}", path.display())]
    Open {
        path: std::path::PathBuf,
        reason: reader::OpenError,
    },
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
    extract_file_showing(path, opts, progress, None)
}

/// Flows handed out while a capture is extracted: `sink` gets the flows so far (finished and
/// open ones, as [`FlowExtractor::snapshot`] makes them) `after` the start, then every
/// `every`, from the progress ticks.
pub struct Showing<'a> {
    pub after: std::time::Duration,
    pub every: std::time::Duration,
    pub sink: &'a mut dyn FnMut(Vec<FlowRecord>),
}

/// [`extract_file`], handing the flows so far to `showing` as it goes (the window shows a
/// large capture's first verdicts long before its end).
pub fn extract_file_showing(
    path: &Path,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(u64, u64) -> Proceed,
    showing: Option<Showing<'_>>,
) -> Result<(Vec<FlowRecord>, CaptureReport), CaptureError> {
    let mut report = CaptureReport::default();
    let reader =
        reader::CaptureReader::open(path, &mut report).map_err(|reason| CaptureError::Open {
            path: path.to_path_buf(),
            reason,
        })?;
    Ok(extract_from(reader, report, opts, progress, showing))
}

/// Extracts the flows of a capture held in memory (plain or gzip); used by the fuzz target.
pub fn extract_bytes(
    bytes: Vec<u8>,
    opts: &ExtractOptions,
) -> Result<(Vec<FlowRecord>, CaptureReport), CaptureError> {
    let mut report = CaptureReport::default();
    let gz = bytes.starts_with(&[0x1f, 0x8b]);
    let cursor = std::io::Cursor::new(bytes);
    let src: Box<dyn std::io::Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(cursor))
    } else {
        Box::new(cursor)
    };
    let reader = reader::CaptureReader::from_reader(src, gz, &mut report).map_err(|reason| {
        CaptureError::Open {
            path: "<memory>".into(),
            reason,
        }
    })?;
    Ok(extract_from(reader, report, opts, &mut keep_going, None))
}

fn extract_from(
    mut reader: reader::CaptureReader,
    mut report: CaptureReport,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(u64, u64) -> Proceed,
    mut showing: Option<Showing<'_>>,
) -> (Vec<FlowRecord>, CaptureReport) {
    let mut extractor = FlowExtractor::new(opts.clone());
    let started = std::time::Instant::now();
    let mut next_show = showing.as_ref().map(|s| s.after);
    loop {
        let decoded = match reader.next_frame(&mut report) {
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
            extractor.push(d, &mut report);
        }
        if report.packets.is_multiple_of(PROGRESS_EVERY) {
            if progress(reader.consumed(), report.packets).is_break() {
                report.stopped_early = true;
                break;
            }
            if let (Some(s), Some(at)) = (showing.as_mut(), next_show) {
                if started.elapsed() >= at {
                    (s.sink)(extractor.snapshot());
                    next_show = Some(started.elapsed() + s.every);
                }
            }
        }
    }
    report.bytes = reader.consumed();
    let flows = extractor.finish(&mut report);
    let _ = progress(report.bytes, report.packets);
    (flows, report)
}

/// Reads a capture into a [`FlowTable`] (one source, dialect `Capture`), with its report.
pub fn read_capture(
    path: &Path,
    opts: &ExtractOptions,
) -> Result<(FlowTable, CaptureReport), CaptureError> {
    let (flows, report) = extract_file(path, opts, &mut keep_going)?;
    Ok((records_to_table(path, &flows, &report), report))
}

/// Builds the table: features as f32, metadata with the first packet's number as `line`.
pub fn records_to_table(path: &Path, flows: &[FlowRecord], report: &CaptureReport) -> FlowTable {
    let mut features = Vec::with_capacity(flows.len() * N_FEATURES);
    let mut meta = Vec::with_capacity(flows.len());
    for r in flows {
        features.extend(r.features.iter().map(|&v| v as f32));
        let mut m = FlowMeta::at_line(r.first_packet);
        (m.src_port, m.dst_port, m.protocol) = (Some(r.sport), Some(r.dport), Some(r.proto));
        m.set_src_ip(Some(r.src));
        m.set_dst_ip(Some(r.dst));
        m.set_timestamp_us(Some(r.start_us));
        // The ID is `flow_id()`'s, rebuilt from the 5-tuple when asked for.
        m.set_id(if r.id_is_forward() { FlowId::Forward } else { FlowId::Reversed });
        meta.push(m);
    }
    let validation = ValidationReport {
        rows: flows.len() as u64,
        warnings: capture_warnings(report),
        ..ValidationReport::default()
    };
    let source = SourceFile {
        path: path.to_path_buf(),
        dialect: Dialect::Capture,
        rows: flows.len(),
        report: validation,
    };
    FlowTable::from_parts(features, meta, None, vec![source])
}

/// The capture report as the free-text warnings of a validation report (what the GUI and
/// `inspect` already show for every source).
fn capture_warnings(report: &CaptureReport) -> Vec<String> {
    let mut w = vec![
        format!(
            "{}: {} packets, {} in {} flows",
            report.format, report.packets, report.packets_in_flows, report.flows
        ),
        format!("flows by packets: {}", report.flows_by_packets),
    ];
    if report.stopped_early {
        w.push(format!("stopped when asked, after {} packets: the flows are those of the packets read", report.packets));
    }
    w.extend(report.left_out());
    for (reason, rc) in &report.reasons {
        w.push(format!(
            "{reason}: {} packet(s), first at packet {}",
            rc.count, rc.first_packet
        ));
    }
    w
}
