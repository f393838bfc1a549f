//! The packets behind flows: one streaming pass over a capture that copies the frames of
//! chosen flows, unchanged, into a new pcap (what Wireshark, Zui's "Download Packets" and
//! Arkime's pcap export give an analyst).
//!
//! A flow is matched as those tools match a session: its 5-tuple in either direction and its
//! time span, first packet to first packet + Flow Duration. Memory stays bounded by the
//! number of chosen flows (one frame is held at a time). Fragments after the first carry no
//! ports: they go with their first fragment (same addresses, protocol and IP ID) when it was
//! written, and are otherwise left out (counted in the report).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

use super::packet::{self, Decoded, FragKey, PacketInfo};
use super::reader::CaptureReader;
use super::report::CaptureReport;
use crate::features::FeatureId;
use crate::ingest::table::FlowTable;

/// The endpoints (ordered, so both directions match) and protocol of a flow.
type TupleKey = (IpAddr, u16, IpAddr, u16, u8);

fn tuple_key(a: IpAddr, pa: u16, b: IpAddr, pb: u16, proto: u8) -> TupleKey {
    if (a, pa) <= (b, pb) { (a, pa, b, pb, proto) } else { (b, pb, a, pa, proto) }
}

/// Datagrams remembered at most (a carve of fragmented floods stays bounded); beyond, the
/// oldest go and their late fragments are left out, counted.
const MAX_DATAGRAMS: usize = 65_536;

/// One flow to carve: its tuple and time span in µs since the epoch (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowWindow {
    key: TupleKey,
    start_us: i64,
    end_us: i64,
}

impl FlowWindow {
    /// The window of row `i` of a table read from a capture; `None` when the row lacks the
    /// addresses, ports, protocol or start time (CSV rows of some dialects).
    pub fn of_row(table: &FlowTable, i: usize) -> Option<Self> {
        let m = table.meta().get(i)?;
        let duration = table.row(i)[FeatureId::FlowDuration as usize].max(0.0) as i64;
        let start = m.timestamp_us()?;
        Some(Self {
            key: tuple_key(m.src_ip()?, m.src_port?, m.dst_ip()?, m.dst_port?, m.protocol?),
            start_us: start,
            end_us: start + duration,
        })
    }
}

/// What a carve wrote and left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarveReport {
    pub frames_read: u64,
    pub frames_written: u64,
    /// Matching frames of another link type than the first one written (a pcap has one).
    pub other_link_type: u64,
    /// Non-first IP fragments whose first fragment was not written (no ports to match them by).
    pub fragments: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CarveError {
    #[error("{}: {reason}", path.display())]
    Open { path: std::path::PathBuf, reason: super::reader::OpenError },
    #[error("writing {}: {message}", path.display())]
    Write { path: std::path::PathBuf, message: String },
}

/// Copies every frame of `capture` that belongs to one of `flows` into the pcap `out`,
/// written atomically (a temporary file beside it, renamed when complete).
pub fn carve(capture: &Path, flows: &[FlowWindow], out: &Path) -> Result<CarveReport, CarveError> {
    let mut by_key: HashMap<TupleKey, Vec<(i64, i64)>> = HashMap::new();
    for f in flows {
        by_key.entry(f.key).or_default().push((f.start_us, f.end_us));
    }
    let mut capture_report = CaptureReport::default();
    let mut reader = CaptureReader::open(capture, &mut capture_report)
        .map_err(|reason| CarveError::Open { path: capture.to_path_buf(), reason })?;
    let mut report = CarveReport::default();
    let write_err = |e: &dyn std::fmt::Display| CarveError::Write { path: out.to_path_buf(), message: e.to_string() };
    let tmp = out.with_file_name(format!(
        ".{}.tmp-{}",
        out.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut writer: Option<(u32, PcapWriter<BufWriter<File>>)> = None;
        // Datagrams whose first fragment was written: their other fragments follow it.
        let mut written_datagrams: HashSet<FragKey> = HashSet::new();
        while let Some(frame) = reader.next_frame(&mut capture_report) {
            report.frames_read += 1;
            let mut of_flow = |p: &PacketInfo| {
                let key = tuple_key(p.src, p.sport, p.dst, p.dport, p.proto);
                let matched =
                    by_key.get(&key).is_some_and(|spans| spans.iter().any(|&(s, e)| (s..=e).contains(&p.ts_us)));
                if let Some(datagram) = p.fragment.filter(|_| matched) {
                    if written_datagrams.len() >= MAX_DATAGRAMS {
                        written_datagrams.clear();
                    }
                    written_datagrams.insert(datagram);
                }
                (matched, p.ts_us)
            };
            let (matched, ts_us) = match packet::decode(&frame) {
                Ok(Decoded::Packet(p)) => of_flow(&p),
                Ok(Decoded::ShortHead(head)) => of_flow(&head.info),
                Ok(Decoded::Fragment(f)) => {
                    let matched = written_datagrams.contains(&f.key);
                    report.fragments += u64::from(!matched);
                    (matched, f.ts_us)
                }
                Err(_) => continue,
            };
            if !matched {
                continue;
            }
            if writer.is_none() {
                let header = PcapHeader {
                    datalink: DataLink::from(frame.link_type),
                    ts_resolution: TsResolution::MicroSecond,
                    ..PcapHeader::default()
                };
                let file = File::create(&tmp).map_err(|e| write_err(&e))?;
                writer = Some((
                    frame.link_type,
                    PcapWriter::with_header(BufWriter::new(file), header).map_err(|e| write_err(&e))?,
                ));
            }
            let Some((link, w)) = writer.as_mut() else { unreachable!("created above") };
            if *link != frame.link_type {
                report.other_link_type += 1;
                continue;
            }
            let ts = Duration::from_micros(ts_us.max(0) as u64);
            w.write_packet(&PcapPacket::new(ts, frame.orig_len, frame.data)).map_err(|e| write_err(&e))?;
            report.frames_written += 1;
        }
        let file = match writer {
            Some((_, w)) => w.into_writer().into_inner().map_err(|e| write_err(&e))?,
            // No frame matched: still an empty, valid pcap (Ethernet), so the result opens.
            None => {
                let file = File::create(&tmp).map_err(|e| write_err(&e))?;
                PcapWriter::new(BufWriter::new(file))
                    .map_err(|e| write_err(&e))?
                    .into_writer()
                    .into_inner()
                    .map_err(|e| write_err(&e))?
            }
        };
        file.sync_all().map_err(|e| write_err(&e))?;
        std::fs::rename(&tmp, out).map_err(|e| write_err(&e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| report)
}
