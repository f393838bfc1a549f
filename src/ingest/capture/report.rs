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
    /// Bytes of the (decompressed) capture consumed.
    pub bytes: u64,
    pub flows: u64,
    /// Largest number of flows held at once (memory is proportional to it).
    pub peak_active_flows: u64,
    /// Reasons, in a stable order.
    pub reasons: BTreeMap<SkipReason, ReasonCount>,
}

impl CaptureReport {
    /// Records one occurrence of `reason` at `packet` (1-based).
    pub fn note(&mut self, reason: SkipReason, packet: u64) {
        self.note_n(reason, packet, 1);
    }

    pub fn note_n(&mut self, reason: SkipReason, packet: u64, n: u64) {
        let e = self.reasons.entry(reason).or_insert(ReasonCount {
            count: 0,
            first_packet: packet,
        });
        e.count += n;
    }

    pub fn count(&self, reason: SkipReason) -> u64 {
        self.reasons.get(&reason).map_or(0, |r| r.count)
    }

    /// Packets that did not reach a flow, over all loss reasons.
    pub fn skipped(&self) -> u64 {
        self.packets.saturating_sub(self.packets_in_flows)
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
            "{}: {} packets, {} in {} flows, {} in flows too small to output (peak {} active flows), link types {:?}",
            self.format,
            self.packets,
            self.packets_in_flows,
            self.flows,
            self.packets_in_small_flows,
            self.peak_active_flows,
            self.link_types
        )?;
        for (reason, rc) in &self.reasons {
            writeln!(
                f,
                "  {reason}: {} (first at packet {})",
                rc.count, rc.first_packet
            )?;
        }
        Ok(())
    }
}
