//! `CaptureReport`: what a capture contained and everything that was skipped, by reason,
//! with the first packet number where each reason occurred (so an analyst can open the
//! capture in Wireshark at that frame).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a packet (or a stretch of bytes) was not turned into flow statistics, or was
/// noted while it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The file ends in the middle of a packet record or block.
    TruncatedRecord,
    /// A record header with impossible fields (length, timestamp); the reader resynchronised.
    DamagedRecord,
    /// A pcapng block that could not be parsed and was skipped.
    DamagedBlock,
    /// A record with a captured or original length of zero.
    ZeroLength,
    /// Captured shorter than on the wire (snap length); still used when its headers survive.
    CutBySnapLength,
    /// Cut by the snap length before the transport header: nothing to key a flow on.
    CutBeforeTransport,
    /// A link type this reader does not decode.
    UnknownLinkType,
    /// Link, network or transport header that does not parse.
    MalformedHeader,
    /// Not IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP payload other than TCP, UDP, ICMP, ICMPv6.
    OtherProtocol,
    /// A non-first IP fragment whose first fragment was never seen.
    OrphanFragment,
    /// An exact repeat of a recent packet (same headers and timestamp); dropped.
    Duplicate,
    /// Arrived earlier in time than packets already processed, beyond the reordering window;
    /// processed at the time of the latest packet.
    OutOfOrder,
    /// Reordered within the window (not an error, reported for transparency).
    Reordered,
    /// Flow evicted early because the active-flow limit was reached.
    FlowEvicted,
    /// A pcapng simple packet block carries no timestamp; the previous one was used.
    NoTimestamp,
    /// Reading the file failed (I/O or decompression error); the rest was not read.
    ReadError,
}

impl SkipReason {
    /// Whether packets with this reason are still part of a flow (notes, not losses).
    pub fn is_note(self) -> bool {
        matches!(
            self,
            SkipReason::CutBySnapLength
                | SkipReason::Reordered
                | SkipReason::OutOfOrder
                | SkipReason::NoTimestamp
                | SkipReason::FlowEvicted
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            SkipReason::TruncatedRecord => "truncated last record",
            SkipReason::DamagedRecord => "damaged record header (resynchronised)",
            SkipReason::DamagedBlock => "damaged pcapng block",
            SkipReason::ZeroLength => "zero length",
            SkipReason::CutBySnapLength => "cut by snap length (headers kept)",
            SkipReason::CutBeforeTransport => "cut by snap length before the transport header",
            SkipReason::UnknownLinkType => "unknown link type",
            SkipReason::MalformedHeader => "malformed header",
            SkipReason::NotIp => "not IP",
            SkipReason::OtherProtocol => "other IP protocol",
            SkipReason::OrphanFragment => "IP fragment without its first fragment",
            SkipReason::Duplicate => "duplicate packet",
            SkipReason::OutOfOrder => "out of order beyond the reordering window",
            SkipReason::Reordered => "reordered within the window",
            SkipReason::FlowEvicted => "flow evicted at the active-flow limit",
            SkipReason::NoTimestamp => "no timestamp (simple packet block)",
            SkipReason::ReadError => "read error",
        };
        f.write_str(s)
    }
}

/// Count and first occurrence of one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub count: u64,
    /// 1-based number of the first packet (record/block) where it happened.
    pub first_packet: u64,
}

/// Output flows by their number of packets. Scans and spoofed floods show up as a large
/// first bucket; the buckets are wide where the count says little about the kind of flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowsByPackets {
    #[serde(rename = "1")]
    pub one: u64,
    #[serde(rename = "2")]
    pub two: u64,
    #[serde(rename = "3-10")]
    pub three_to_ten: u64,
    #[serde(rename = "11-100")]
    pub eleven_to_hundred: u64,
    #[serde(rename = ">100")]
    pub over_hundred: u64,
}

impl FlowsByPackets {
    /// Counts one flow of `packets` packets.
    pub fn add(&mut self, packets: u64) {
        match packets {
            0 | 1 => self.one += 1,
            2 => self.two += 1,
            3..=10 => self.three_to_ten += 1,
            11..=100 => self.eleven_to_hundred += 1,
            _ => self.over_hundred += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.one + self.two + self.three_to_ten + self.eleven_to_hundred + self.over_hundred
    }
}

impl fmt::Display for FlowsByPackets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "1: {}, 2: {}, 3-10: {}, 11-100: {}, >100: {}",
            self.one, self.two, self.three_to_ten, self.eleven_to_hundred, self.over_hundred
        )
    }
}

/// Everything one capture file yielded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaptureReport {
    /// "pcap", "pcapng", with "+gzip" when compressed.
    pub format: String,
    /// Link types seen (numeric LINKTYPE_ values).
    pub link_types: Vec<u32>,
    /// Packet records/blocks read (including skipped ones).
    pub packets: u64,
    /// Packets that went into an output flow.
    pub packets_in_flows: u64,
    /// Packets of flows too small to output (fewer than `min_packets`).
    pub packets_in_small_flows: u64,
    /// Flows not output because they had fewer than `min_packets` packets (in the compat
    /// modes, the 1-packet flows the official tools drop).
    #[serde(default)]
    pub flows_left_out: u64,
    /// The smallest flow that was output, in packets (1 in the default mode).
    #[serde(default)]
    pub min_packets: u64,
    /// Output flows by packet count.
    #[serde(default)]
    pub flows_by_packets: FlowsByPackets,
    /// Bytes of the (decompressed) capture consumed.
    pub bytes: u64,
    pub flows: u64,
    /// Largest number of flows held at once (memory is proportional to it).
    pub peak_active_flows: u64,
    /// Reasons, in a stable order.
    pub reasons: BTreeMap<SkipReason, ReasonCount>,
    /// Extraction was stopped (cancelled) before the end of the capture.
    #[serde(default)]
    pub stopped_early: bool,
}

impl CaptureReport {
    /// Records one occurrence of `reason` at `packet` (1-based).
    pub fn note(&mut self, reason: SkipReason, packet: u64) {
        self.note_n(reason, packet, 1);
    }

    pub fn note_n(&mut self, reason: SkipReason, packet: u64, n: u64) {
        let e = self.reasons.entry(reason).or_insert(ReasonCount { count: 0, first_packet: packet });
        e.count += n;
    }

    pub fn count(&self, reason: SkipReason) -> u64 {
        self.reasons.get(&reason).map_or(0, |r| r.count)
    }

    /// Packets that did not reach a flow, over all loss reasons.
    pub fn skipped(&self) -> u64 {
        self.packets.saturating_sub(self.packets_in_flows)
    }

    /// What `min_packets` left out, in words; `None` when every flow was output.
    pub fn left_out(&self) -> Option<String> {
        (self.flows_left_out > 0).then(|| {
            format!(
                "{} flows of fewer than {} packets ({} packets) not output: the compat modes \
                 drop 1-packet flows as the official CICFlowMeters do; the default mode \
                 (--compat corrected) outputs every flow",
                self.flows_left_out, self.min_packets, self.packets_in_small_flows
            )
        })
    }

    pub fn add_link_type(&mut self, link: u32) {
        if !self.link_types.contains(&link) {
            self.link_types.push(link);
        }
    }
}

impl fmt::Display for CaptureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} packets, {} in {} flows (peak {} active flows), link types {:?}",
            self.format, self.packets, self.packets_in_flows, self.flows, self.peak_active_flows, self.link_types
        )?;
        writeln!(f, "  flows by packets: {}", self.flows_by_packets)?;
        if let Some(left_out) = self.left_out() {
            writeln!(f, "  left out: {left_out}")?;
        }
        for (reason, rc) in &self.reasons {
            writeln!(f, "  {reason}: {} (first at packet {})", rc.count, rc.first_packet)?;
        }
        Ok(())
    }
}
