//! Streaming reader for pcap, pcapng and gzip-compressed captures.
//!
//! Record and block parsing is pcap-file's (`PcapParser`, `PcapNgParser`). We drive those
//! slice parsers over our own bounded buffer instead of using `PcapReader`/`PcapNgReader`,
//! because the crate's readers cannot get past a damaged record (they return the same error
//! forever), reject legitimate snap-length captures (`orig_len > snaplen`) and read pcapng
//! timestamps as nanoseconds whatever the interface's `if_tsresol`. Resynchronising after
//! damage is the part no crate does, so it is written here.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use pcap_file::pcap::{PcapHeader, PcapParser};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{Endianness, TsResolution};

use super::report::{CaptureReport, SkipReason};

/// Largest packet record accepted (bytes). Bigger captured lengths are treated as damage:
/// no link layer we decode carries more (the common snap length maximum is 262,144).
pub const MAX_RECORD: usize = 262_144;
/// Largest pcapng block accepted.
const MAX_BLOCK: usize = MAX_RECORD + 4096;
/// Read buffer: a few maximal records, so memory does not depend on the file.
const BUF_SIZE: usize = 4 * MAX_BLOCK;
/// Timestamps this far (seconds) from the last good one mark a candidate header as garbage
/// while resynchronising.
const RESYNC_MAX_SKEW_S: i64 = 7 * 86_400;

const PCAPNG_MAGIC: u32 = 0x0A0D_0D0A;

/// Link-layer header types (LINKTYPE_* values) the decoder understands.
pub mod link {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW: u32 = 101;
    /// Raw IP as written by some BSDs (DLT_RAW 12/14 leaked into files).
    pub const RAW_BSD: u32 = 12;
    pub const RAW_BSD2: u32 = 14;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug)]
pub struct Frame<'a> {
    /// 1-based record/packet number in the file (Wireshark's frame number for pcap).
    pub number: u64,
    /// Microseconds since the Unix epoch (UTC).
    pub ts_us: i64,
    pub link_type: u32,
    pub data: &'a [u8],
    pub orig_len: u32,
}

/// Cheap check by magic bytes: pcap (both byte orders, micro- and nanosecond), pcapng, gzip.
pub fn is_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    match File::open(path).and_then(|mut f| f.read_exact(&mut magic)) {
        Ok(()) if magic[..2] == [0x1f, 0x8b] => {
            // gzip: a capture only if what it holds starts like one (a .csv.gz is not).
            let mut inner = [0u8; 4];
            File::open(path)
                .map(|f| flate2::read::MultiGzDecoder::new(BufReader::new(f)))
                .and_then(|mut gz| gz.read_exact(&mut inner))
                .is_ok_and(|()| is_capture_magic(&inner))
        }
        Ok(()) => is_capture_magic(&magic),
        Err(_) => false,
    }
}

fn is_capture_magic(m: &[u8; 4]) -> bool {
    let be = u32::from_be_bytes(*m);
    matches!(be, 0xA1B2_C3D4 | 0xD4C3_B2A1 | 0xA1B2_3C4D | 0x4D3C_B2A1 | PCAPNG_MAGIC)
}

/// Per-interface facts a pcapng packet needs.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    /// `if_tsresol` byte (default 6: microseconds).
    tsresol: u8,
    /// `if_tsoffset`, seconds.
    tsoffset: i64,
}

enum Format {
    /// Before the file header has been read.
    Pending,
    Pcap {
        parser: PcapParser,
        header: PcapHeader,
    },
    PcapNg {
        parser: PcapNgParser,
        interfaces: Vec<Interface>,
    },
}

/// Streaming capture reader: memory is `BUF_SIZE` plus the decompressor, whatever the file size.
pub struct CaptureReader {
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    format: Format,
    /// Number of the last record handed out or skipped.
    number: u64,
    last_ts_us: i64,
    have_ts: bool,
    consumed: u64,
    /// Set when the rest of the file cannot be read; iteration ends.
    finished: bool,
}

/// Why a capture could not be opened at all (damage inside a capture is reported instead).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    // The I/O error is shown in the message, not chained as a source, so it prints once.
    #[error("cannot read: {0}")]
    Io(io::Error),
    #[error("not a pcap/pcapng capture (magic {0:02x?})")]
    NotACapture([u8; 4]),
    #[error("damaged capture header: {0}")]
    BadHeader(String),
}

impl CaptureReader {
    /// Opens a file, transparently decompressing gzip.
    pub fn open(path: &Path, report: &mut CaptureReport) -> Result<Self, OpenError> {
        let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(OpenError::Io)?);
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut file, &mut magic).map_err(OpenError::Io)?;
        let head = io::Cursor::new(magic[..n].to_vec());
        let gz = n == 2 && magic == [0x1f, 0x8b];
        let src: Box<dyn Read + Send> =
            if gz { Box::new(flate2::read::MultiGzDecoder::new(head.chain(file))) } else { Box::new(head.chain(file)) };
        Self::from_reader(src, gz, report)
    }

    /// Reads from any byte source (already decompressed, or gzip when `gz`).
    pub fn from_reader(src: Box<dyn Read + Send>, gz: bool, report: &mut CaptureReport) -> Result<Self, OpenError> {
        let mut r = CaptureReader {
            src,
            buf: vec![0; BUF_SIZE],
            pos: 0,
            len: 0,
            eof: false,
            format: Format::Pending,
            number: 0,
            last_ts_us: 0,
            have_ts: false,
            consumed: 0,
            finished: false,
        };
        r.ensure(4).map_err(OpenError::Io)?;
        let mut magic = [0u8; 4];
        let avail = r.avail();
        magic[..avail.len().min(4)].copy_from_slice(&avail[..avail.len().min(4)]);
        if !is_capture_magic(&magic) {
            return Err(OpenError::NotACapture(magic));
        }
        let pcapng = u32::from_be_bytes(magic) == PCAPNG_MAGIC;
        r.format = if pcapng { r.open_pcapng()? } else { r.open_pcap()? };
        report.format = format!("{}{}", if pcapng { "pcapng" } else { "pcap" }, if gz { "+gzip" } else { "" });
        if let Format::Pcap { header, .. } = &r.format {
            report.add_link_type(u32::from(header.datalink));
        }
        Ok(r)
    }

    fn open_pcap(&mut self) -> Result<Format, OpenError> {
        self.ensure(24).map_err(OpenError::Io)?;
        let avail = self.avail();
        if avail.len() < 24 {
            return Err(OpenError::BadHeader(format!(
                "the file ends inside the 24-byte pcap header ({} bytes)",
                avail.len()
            )));
        }
        let (rem, parser) = PcapParser::new(avail).map_err(|e| OpenError::BadHeader(e.to_string()))?;
        let used = avail.len() - rem.len();
        let header = parser.header();
        self.advance(used);
        Ok(Format::Pcap { parser, header })
    }

    fn open_pcapng(&mut self) -> Result<Format, OpenError> {
        // The section header's length is at offset 4; read enough for it.
        self.ensure(12).map_err(OpenError::Io)?;
        let shb_len = self.avail().get(4..8).map_or(0, |b| {
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            if be as usize > MAX_BLOCK { be.swap_bytes() } else { be }
        }) as usize;
        if !(28..=MAX_BLOCK).contains(&shb_len) {
            return Err(OpenError::BadHeader(format!("pcapng section header length {shb_len}")));
        }
        self.ensure(shb_len).map_err(OpenError::Io)?;
        let avail = self.avail();
        let parsed = catch_unwind(AssertUnwindSafe(|| PcapNgParser::new(avail).map(|(rem, p)| (rem.len(), p))));
        let (rem_len, parser) = match parsed {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(OpenError::BadHeader(e.to_string())),
            Err(_) => return Err(OpenError::BadHeader("pcapng section header".into())),
        };
        let used = avail.len() - rem_len;
        self.advance(used);
        Ok(Format::PcapNg { parser, interfaces: Vec::new() })
    }

    /// Bytes consumed so far (of the decompressed stream).
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Next frame, or `None` at the end (or when the rest cannot be read; see the report).
    pub fn next_frame(&mut self, report: &mut CaptureReport) -> Option<Frame<'_>> {
        if self.finished {
            return None;
        }
        let found = match self.format {
            Format::Pcap { .. } => self.next_pcap(report),
            Format::PcapNg { .. } => self.next_pcapng(report),
            Format::Pending => None,
        };
        match found {
            Some((start, len, ts_us, link_type, orig_len)) => Some(Frame {
                number: self.number,
                ts_us,
                link_type,
                data: self.buf.get(start..start + len).unwrap_or(&[]),
                orig_len,
            }),
            None => {
                self.finished = true;
                None
            }
        }
    }

    // ---------------------------------------------------------------- pcap

    /// Returns (buffer offset, length, ts, link, orig_len) of the next usable record.
    fn next_pcap(&mut self, report: &mut CaptureReport) -> Option<(usize, usize, i64, u32, u32)> {
        let header = match &self.format {
            Format::Pcap { header, .. } => *header,
            _ => return None,
        };
        loop {
            if !self.ensure_or_report(16, report) {
                return None;
            }
            let fields = RecordFields::read(self.avail(), header.endianness);
            let number = self.number + 1;
            // Damage is reported at the number the next packet will get, and is not itself
            // counted as a packet, so numbers stay those of the intact records.
            if !fields.plausible(&header, self.have_ts.then_some(self.last_ts_us)) {
                report.note(SkipReason::DamagedRecord, number);
                self.resync_pcap(&header);
                continue;
            }
            let total = 16 + fields.incl_len as usize;
            if !self.ensure_or_report(total, report) {
                return None;
            }
            let Format::Pcap { parser, .. } = &self.format else {
                return None;
            };
            let parsed = parser
                .next_raw_packet(&self.buf[self.pos..self.len])
                .map(|(_, raw)| (raw.ts_sec, raw.ts_frac, raw.data.len(), raw.orig_len));
            let (ts_sec, ts_frac, data_len, orig_len) = match parsed {
                Ok(v) => v,
                Err(_) => {
                    report.note(SkipReason::DamagedRecord, number);
                    self.resync_pcap(&header);
                    continue;
                }
            };
            let ts_us = pcap_ts_us(ts_sec, ts_frac, header.ts_resolution);
            let start = self.pos + 16;
            self.advance(total);
            self.number = number;
            report.packets += 1;
            if data_len == 0 || orig_len == 0 {
                report.note(SkipReason::ZeroLength, number);
                continue;
            }
            self.last_ts_us = ts_us;
            self.have_ts = true;
            return Some((start, data_len, ts_us, u32::from(header.datalink), orig_len));
        }
    }

    /// Skips forward byte by byte to the next offset where two consecutive plausible record
    /// headers (or one followed by the end of the file) start.
    fn resync_pcap(&mut self, header: &PcapHeader) {
        let last = self.have_ts.then_some(self.last_ts_us);
        self.advance(1);
        loop {
            if self.ensure(16).is_err() || self.avail().len() < 16 {
                // Too little left for any record: the tail is garbage.
                self.advance(self.avail().len());
                return;
            }
            let first = RecordFields::read(self.avail(), header.endianness);
            if first.plausible(header, last) {
                let next_at = 16 + first.incl_len as usize;
                let _ = self.ensure(next_at + 16);
                let avail = self.avail();
                if avail.len() == next_at {
                    return;
                }
                if let Some(rest) = avail.get(next_at..)
                    && rest.len() >= 16
                    && RecordFields::read(rest, header.endianness).plausible(header, last)
                {
                    return;
                }
            }
            self.advance(1);
        }
    }

    // ---------------------------------------------------------------- pcapng

    fn next_pcapng(&mut self, report: &mut CaptureReport) -> Option<(usize, usize, i64, u32, u32)> {
        loop {
            if !self.ensure_or_report(12, report) {
                return None;
            }
            let endianness = match &self.format {
                Format::PcapNg { parser, .. } => parser.section().endianness,
                _ => return None,
            };
            let declared = block_len(self.avail(), endianness);
            if declared.is_some_and(|l| l <= MAX_BLOCK) {
                let l = declared.unwrap_or(0);
                if !self.ensure_or_report(l, report) {
                    return None;
                }
            }
            let number = self.number + 1;
            let step = self.parse_block(report);
            match step {
                BlockStep::Packet { start, len, ts_us, link_type, orig_len, used } => {
                    self.advance(used);
                    self.number = number;
                    report.packets += 1;
                    if len == 0 || orig_len == 0 {
                        report.note(SkipReason::ZeroLength, number);
                        continue;
                    }
                    report.add_link_type(link_type);
                    return Some((start, len, ts_us, link_type, orig_len));
                }
                BlockStep::Other { used } => self.advance(used),
                BlockStep::Damaged => {
                    report.note(SkipReason::DamagedBlock, number);
                    self.skip_damaged_block(declared, endianness);
                }
            }
        }
    }

    fn parse_block(&mut self, report: &mut CaptureReport) -> BlockStep {
        let base = self.buf.as_ptr() as usize;
        let last_ts = self.last_ts_us;
        let Format::PcapNg { parser, interfaces } = &mut self.format else {
            return BlockStep::Damaged;
        };
        let avail = &self.buf[self.pos..self.len];
        let parsed = catch_unwind(AssertUnwindSafe(|| {
            parser.next_block(avail).map(|(rem, block)| (avail.len() - rem.len(), block))
        }));
        let (used, block) = match parsed {
            Ok(Ok(v)) => v,
            Ok(Err(_)) | Err(_) => return BlockStep::Damaged,
        };
        let offset_of = |data: &[u8]| (data.as_ptr() as usize).saturating_sub(base);
        match block {
            Block::SectionHeader(_) => {
                interfaces.clear();
                BlockStep::Other { used }
            }
            Block::InterfaceDescription(idb) => {
                interfaces.push(interface_of(&idb));
                BlockStep::Other { used }
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = interfaces.get(epb.interface_id as usize).copied() else {
                    return BlockStep::Damaged;
                };
                // pcap-file hands the raw 64-bit tick count back as "nanoseconds".
                let ticks = epb.timestamp.as_nanos() as u64;
                let ts_us = ticks_to_us(ticks, iface.tsresol).saturating_add(iface.tsoffset.saturating_mul(1_000_000));
                BlockStep::Packet {
                    start: offset_of(&epb.data),
                    len: epb.data.len(),
                    ts_us,
                    link_type: iface.link_type,
                    orig_len: epb.original_len,
                    used,
                }
            }
            Block::Packet(pb) => {
                let Some(iface) = interfaces.get(pb.interface_id as usize).copied() else {
                    return BlockStep::Damaged;
                };
                let ticks = pb.timestamp;
                BlockStep::Packet {
                    start: offset_of(&pb.data),
                    len: pb.data.len(),
                    ts_us: ticks_to_us(ticks, iface.tsresol),
                    link_type: iface.link_type,
                    orig_len: pb.original_len,
                    used,
                }
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = interfaces.first().copied() else {
                    return BlockStep::Damaged;
                };
                // The block body is padded to 4 bytes; the captured part is bounded by the
                // original length and the interface snap length.
                let mut len = spb.data.len().min(spb.original_len as usize);
                if iface.snaplen > 0 {
                    len = len.min(iface.snaplen as usize);
                }
                report.note(SkipReason::NoTimestamp, self.number + 1);
                BlockStep::Packet {
                    start: offset_of(&spb.data),
                    len,
                    ts_us: last_ts,
                    link_type: iface.link_type,
                    orig_len: spb.original_len,
                    used,
                }
            }
            _ => BlockStep::Other { used },
        }
        .inspect_ts(&mut self.last_ts_us)
    }

    /// After a block that does not parse: skip it by its declared length when that length is
    /// sane, else scan (4-byte aligned) for the next well-formed block.
    fn skip_damaged_block(&mut self, declared: Option<usize>, endianness: Endianness) {
        if let Some(l) = declared
            && l >= 12
            && l % 4 == 0
            && l <= self.avail().len()
            && trailer_matches(self.avail(), l, endianness)
        {
            self.advance(l);
            return;
        }
        self.advance(4);
        loop {
            if self.ensure(12).is_err() || self.avail().len() < 12 {
                self.advance(self.avail().len());
                return;
            }
            let avail = self.avail();
            let ty = read_u32(avail, 0, endianness);
            if let Some(l) = block_len(avail, endianness)
                && KNOWN_BLOCKS.contains(&ty)
                && (12..=MAX_BLOCK).contains(&l)
            {
                let _ = self.ensure(l);
                if trailer_matches(self.avail(), l, endianness) {
                    return;
                }
            }
            self.advance(4);
        }
    }

    // ---------------------------------------------------------------- buffer

    fn avail(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }

    fn advance(&mut self, n: usize) {
        let n = n.min(self.len - self.pos);
        self.pos += n;
        self.consumed += n as u64;
    }

    /// Makes at least `n` bytes available unless the source ends first.
    fn ensure(&mut self, n: usize) -> io::Result<()> {
        let n = n.min(self.buf.len());
        while self.len - self.pos < n && !self.eof {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.pos = 0;
            }
            match self.src.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.len += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// `ensure`, turning a short read at the end of the file into a report entry.
    fn ensure_or_report(&mut self, n: usize, report: &mut CaptureReport) -> bool {
        if let Err(_e) = self.ensure(n) {
            report.note(SkipReason::ReadError, self.number + 1);
            return false;
        }
        let have = self.avail().len();
        if have >= n {
            return true;
        }
        if have > 0 {
            report.packets += 1;
            report.note(SkipReason::TruncatedRecord, self.number + 1);
            self.advance(have);
        }
        false
    }
}

enum BlockStep {
    Packet { start: usize, len: usize, ts_us: i64, link_type: u32, orig_len: u32, used: usize },
    Other { used: usize },
    Damaged,
}

impl BlockStep {
    fn inspect_ts(self, last: &mut i64) -> Self {
        if let BlockStep::Packet { ts_us, .. } = &self {
            *last = *ts_us;
        }
        self
    }
}

const KNOWN_BLOCKS: [u32; 7] = [0x0A0D_0D0A, 1, 2, 3, 4, 5, 6];

fn read_u32(b: &[u8], at: usize, e: Endianness) -> u32 {
    let Some(s) = b.get(at..at + 4) else { return 0 };
    let a = [s[0], s[1], s[2], s[3]];
    match e {
        Endianness::Big => u32::from_be_bytes(a),
        Endianness::Little => u32::from_le_bytes(a),
    }
}

fn block_len(b: &[u8], e: Endianness) -> Option<usize> {
    if b.len() < 8 {
        return None;
    }
    let ty = read_u32(b, 0, Endianness::Big);
    // A new section declares its own byte order through its magic.
    let e = if ty == PCAPNG_MAGIC {
        match b.get(8..12) {
            Some([0x1A, 0x2B, 0x3C, 0x4D]) => Endianness::Big,
            Some([0x4D, 0x3C, 0x2B, 0x1A]) => Endianness::Little,
            _ => e,
        }
    } else {
        e
    };
    Some(read_u32(b, 4, e) as usize)
}

fn trailer_matches(b: &[u8], l: usize, e: Endianness) -> bool {
    l >= 12 && b.len() >= l && read_u32(b, l - 4, e) as usize == l && l.is_multiple_of(4)
}

fn interface_of(idb: &pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock<'_>) -> Interface {
    let mut iface = Interface { link_type: u32::from(idb.linktype), snaplen: idb.snaplen, tsresol: 6, tsoffset: 0 };
    for opt in &idb.options {
        match opt {
            InterfaceDescriptionOption::IfTsResol(r) => iface.tsresol = *r,
            InterfaceDescriptionOption::IfTsOffset(o) => iface.tsoffset = i64::try_from(*o).unwrap_or(0),
            _ => {}
        }
    }
    iface
}

/// Converts pcapng ticks at resolution `tsresol` (10^-n, or 2^-n with the high bit) to µs.
fn ticks_to_us(ticks: u64, tsresol: u8) -> i64 {
    let t = ticks as u128;
    let us = if tsresol & 0x80 == 0 {
        let n = u32::from(tsresol);
        if n <= 6 { t.saturating_mul(10u128.saturating_pow(6 - n)) } else { t / 10u128.saturating_pow((n - 6).min(38)) }
    } else {
        let n = u32::from(tsresol & 0x7f).min(127);
        t.saturating_mul(1_000_000) >> n
    };
    i64::try_from(us).unwrap_or(i64::MAX)
}

fn pcap_ts_us(sec: u32, frac: u32, res: TsResolution) -> i64 {
    let frac_us = match res {
        TsResolution::MicroSecond => i64::from(frac),
        TsResolution::NanoSecond => i64::from(frac / 1000),
    };
    i64::from(sec) * 1_000_000 + frac_us
}

/// The four fields of a pcap record header, read without trusting them.
struct RecordFields {
    ts_sec: u32,
    ts_frac: u32,
    incl_len: u32,
    orig_len: u32,
}

impl RecordFields {
    fn read(b: &[u8], e: Endianness) -> Self {
        RecordFields {
            ts_sec: read_u32(b, 0, e),
            ts_frac: read_u32(b, 4, e),
            incl_len: read_u32(b, 8, e),
            orig_len: read_u32(b, 12, e),
        }
    }

    /// Whether these fields can belong to a real record: lengths within the snap length and
    /// `MAX_RECORD`, captured ≤ original, fraction below one second, time near the last packet.
    fn plausible(&self, h: &PcapHeader, last_ts_us: Option<i64>) -> bool {
        let frac_max = match h.ts_resolution {
            TsResolution::MicroSecond => 1_000_000,
            TsResolution::NanoSecond => 1_000_000_000,
        };
        let cap = if h.snaplen == 0 { MAX_RECORD } else { (h.snaplen as usize).clamp(65_535, MAX_RECORD) };
        // An original length of 0 is a zero-length record (skipped and reported as such), not
        // a reason to resynchronise.
        let orig_too_short = self.orig_len != 0 && self.orig_len < self.incl_len;
        if self.ts_frac >= frac_max || self.incl_len as usize > cap || orig_too_short {
            return false;
        }
        if self.orig_len as usize > MAX_RECORD.max(cap) {
            return false;
        }
        match last_ts_us {
            Some(last) => (i64::from(self.ts_sec) - last / 1_000_000).abs() <= RESYNC_MAX_SKEW_S,
            None => true,
        }
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
