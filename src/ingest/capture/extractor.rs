//! The flow table: packets in (roughly) time order → finished flows.
//!
//! Memory is bounded by the number of active flows (`max_flows`), the reordering window
//! (`max_pending` packets) and the fragment table (`MAX_FRAGMENTS`), never by the file size.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::IpAddr;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use super::flow::{Close, Compat, FlowBuilder, FlowParams};
use super::packet::{Decoded, FragKey, FragmentInfo, PacketInfo, ShortHead, flag};
use super::report::{CaptureReport, SkipReason};
use crate::features::N_FEATURES;

/// Fragment table bound; older entries are dropped first.
const MAX_FRAGMENTS: usize = 65_536;
/// How long a first fragment waits for the rest (µs), as common reassembly timeouts.
const FRAGMENT_TIMEOUT_US: i64 = 30_000_000;
/// Recent packets remembered to recognise exact duplicates.
const DUP_MEMORY: usize = 8;

/// Extraction settings. Defaults are the corrected CICFlowMeter's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractOptions {
    pub compat: Compat,
    /// A flow older than this (from its first packet) ends at its next packet (µs).
    pub flow_timeout_us: i64,
    /// A gap longer than this ends an active period (µs).
    pub activity_timeout_us: i64,
    /// Packets up to this much older than the newest one are put back in order (µs).
    pub reorder_window_us: i64,
    /// At most this many packets wait in the reordering window.
    pub max_pending: usize,
    /// At most this many flows are tracked at once; beyond it the least recently seen are
    /// finished early (and reported).
    pub max_flows: usize,
    /// Flows with fewer packets are not output. 1 in the default mode: scans and spoofed
    /// floods are made of single-packet flows, and dropping them would hide exactly those
    /// attacks. 2 in the compat modes, because both official CICFlowMeters drop 1-packet
    /// flows (the report counts what that leaves out).
    pub min_packets: u64,
    /// Drop exact duplicates of recent packets (kept, but counted, in `Cicids2017` mode).
    pub drop_duplicates: bool,
    /// Count as payload the bytes a wire pads short Ethernet frames with (up to the 60-byte
    /// minimum), as the 2017 CICFlowMeter did on the CICIDS2017 testbed's mirrored captures:
    /// it took everything after the transport header, trailer included, so its SYN and RST
    /// probes carry 2 or 6 bytes. A capture made where frames are not padded (loopback, veth,
    /// the sending host) holds no such bytes; this adds them, so that its flows read as the
    /// testbed's would (the lab captures' 2017-tool flows for training, `scripts/lab_flows.sh`).
    pub ethernet_padding: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            compat: Compat::Corrected,
            flow_timeout_us: 120_000_000,
            activity_timeout_us: 5_000_000,
            reorder_window_us: 100_000,
            max_pending: 65_536,
            max_flows: 1_000_000,
            min_packets: 1,
            drop_duplicates: true,
            ethernet_padding: false,
        }
    }
}

impl ExtractOptions {
    /// Defaults for a compatibility mode.
    pub fn for_compat(compat: Compat) -> Self {
        ExtractOptions {
            compat,
            drop_duplicates: compat == Compat::Corrected,
            min_packets: Self::default_min_packets(compat),
            ..Self::default()
        }
    }

    /// Every flow in the default mode; the official tools' 2-packet minimum in theirs.
    pub fn default_min_packets(compat: Compat) -> u64 {
        match compat {
            Compat::Corrected => 1,
            Compat::Cicids2017 | Compat::CicFlowMeter4 => 2,
        }
    }
}

/// Ethernet's smallest payload: a shorter IP datagram is padded to it on the wire.
const ETHERNET_MIN_PAYLOAD: u32 = 46;
/// The IPv4 header without options (`PacketInfo` does not keep its length; options are rare).
const IPV4_HEADER: u32 = 20;
/// The most padding an IPv4 TCP segment without data gets on the wire (no TCP options: 6
/// bytes), which the 2017 tool counted as payload.
pub const TCP_ETHERNET_PADDING_MAX: u32 = ETHERNET_MIN_PAYLOAD - IPV4_HEADER - 20;

/// The padding a wire adds to `p`'s frame; no IPv6 datagram with a transport header is
/// short enough to be padded.
fn ethernet_padding(p: &PacketInfo) -> u32 {
    if !p.src.is_ipv4() || p.fragment.is_some() {
        return 0;
    }
    ETHERNET_MIN_PAYLOAD.saturating_sub(IPV4_HEADER + p.header + p.payload)
}

/// One finished flow.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub proto: u8,
    /// First packet's time, µs since the epoch (UTC).
    pub start_us: i64,
    /// Frame number of the first packet.
    pub first_packet: u64,
    pub features: [f64; N_FEATURES],
    /// What the flow's HTTP requests and responses said (not CICFlowMeter features: evidence
    /// for host-level detection, `detect`).
    pub http: super::http::HttpEvidence,
}

impl FlowRecord {
    /// CICFlowMeter's flow id: the two endpoints ordered by address, then ports, protocol.
    pub fn flow_id(&self) -> String {
        let (a, pa, b, pb) = if self.id_is_forward() {
            (self.src, self.sport, self.dst, self.dport)
        } else {
            (self.dst, self.dport, self.src, self.sport)
        };
        format!("{a}-{b}-{pa}-{pb}-{}", self.proto)
    }

    /// Whether [`FlowRecord::flow_id`] names the source first (else the destination).
    pub fn id_is_forward(&self) -> bool {
        ip_bytes_gt(&self.src, &self.dst)
    }
}

fn ip_bytes_gt(a: &IpAddr, b: &IpAddr) -> bool {
    let bytes = |ip: &IpAddr| match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    };
    bytes(a) > bytes(b)
}

/// A packet waiting in the reordering window, ordered by (time, frame number).
struct Pending {
    ts: i64,
    number: u64,
    item: Decoded,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.number) == (other.ts, other.number)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ts, self.number).cmp(&(other.ts, other.number))
    }
}

/// Direction-independent flow key: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    a: IpAddr,
    b: IpAddr,
    pa: u16,
    pb: u16,
    proto: u8,
}

impl FlowKey {
    fn of(p: &PacketInfo) -> Self {
        if (p.src, p.sport) <= (p.dst, p.dport) {
            FlowKey { a: p.src, b: p.dst, pa: p.sport, pb: p.dport, proto: p.proto }
        } else {
            FlowKey { a: p.dst, b: p.src, pa: p.dport, pb: p.sport, proto: p.proto }
        }
    }
}

/// Streaming flow builder: feed decoded packets with [`FlowExtractor::push`], then
/// [`FlowExtractor::finish`].
pub struct FlowExtractor {
    opts: ExtractOptions,
    params: FlowParams,
    flows: HashMap<FlowKey, FlowBuilder, FxBuildHasher>,
    fragments: HashMap<FragKey, (u16, u16, i64), FxBuildHasher>,
    /// First fragments waiting for the rest of their transport header, with the fragments
    /// read since (bounded as `fragments`).
    short_heads: HashMap<FragKey, (ShortHead, Vec<FragmentInfo>), FxBuildHasher>,
    /// Fragments that came before their first fragment (senders and tools that send a
    /// datagram's fragments last to first), until it comes; orphans if it never does.
    parked: HashMap<FragKey, Vec<FragmentInfo>, FxBuildHasher>,
    parked_count: usize,
    /// Reordering window: packets that arrived in time order (sorted by construction) ...
    pending: VecDeque<Pending>,
    /// ... and those that arrived late (a heap, so a badly ordered capture costs O(log n)
    /// per packet, never a shift of the whole window).
    late: BinaryHeap<Reverse<Pending>>,
    newest_ts: i64,
    released_ts: i64,
    recent: [u64; DUP_MEMORY],
    recent_at: usize,
    last_sweep_ts: i64,
    done: Vec<FlowRecord>,
    /// Flows finished so far, taken or not.
    finished: u64,
}

impl FlowExtractor {
    pub fn new(opts: ExtractOptions) -> Self {
        let params = FlowParams { compat: opts.compat, activity_timeout_us: opts.activity_timeout_us };
        FlowExtractor {
            opts,
            params,
            flows: HashMap::with_hasher(FxBuildHasher),
            fragments: HashMap::with_hasher(FxBuildHasher),
            short_heads: HashMap::with_hasher(FxBuildHasher),
            parked: HashMap::with_hasher(FxBuildHasher),
            parked_count: 0,
            pending: VecDeque::new(),
            late: BinaryHeap::new(),
            newest_ts: i64::MIN,
            released_ts: i64::MIN,
            recent: [0; DUP_MEMORY],
            recent_at: 0,
            last_sweep_ts: i64::MIN,
            done: Vec::new(),
            finished: 0,
        }
    }

    pub fn active_flows(&self) -> usize {
        self.flows.len()
    }

    /// Takes one decoded packet (in file order).
    pub fn push(&mut self, item: Decoded, report: &mut CaptureReport) {
        let (ts, number) = match item {
            Decoded::ShortHead(head) => return self.hold_short_head(head, report),
            Decoded::Fragment(f) if self.short_heads.contains_key(&f.key) => {
                return self.continue_short_head(f, report);
            }
            Decoded::Packet(ref p) => (p.ts_us, p.number),
            Decoded::Fragment(ref f) => (f.ts_us, f.number),
        };
        if let Decoded::Packet(p) = &item
            && self.is_duplicate(p)
        {
            report.note(SkipReason::Duplicate, number);
            if self.opts.drop_duplicates {
                return;
            }
        }
        self.enqueue(ts, number, item, Some(&mut *report));
        self.release(false, report);
    }

    /// Holds a first fragment until the fragments after it complete its transport header.
    fn hold_short_head(&mut self, head: ShortHead, report: &mut CaptureReport) {
        if self.short_heads.len() >= MAX_FRAGMENTS {
            for (_, (head, fragments)) in self.short_heads.drain() {
                Self::note_incomplete(&head, &fragments, report);
            }
        }
        match head.info.fragment {
            Some(key) => {
                self.short_heads.insert(key, (head, Vec::new()));
            }
            None => report.note(SkipReason::MalformedHeader, head.info.number),
        }
    }

    /// A fragment of a held first fragment: once the header is whole, the first fragment goes
    /// on as a packet at its own time, then its fragments, each counting the bytes it carries
    /// beyond the header.
    fn continue_short_head(&mut self, f: FragmentInfo, report: &mut CaptureReport) {
        let key = f.key;
        let Some((head, fragments)) = self.short_heads.get_mut(&key) else { return };
        fragments.push(f);
        let Some(packet) = head.complete(fragments) else { return };
        let Some((_, fragments)) = self.short_heads.remove(&key) else { return };
        let header = packet.header;
        self.enqueue(packet.ts_us, packet.number, Decoded::Packet(packet), None);
        for mut f in fragments {
            let end = f.offset.saturating_add(f.payload);
            f.payload = end.saturating_sub(f.offset.max(header));
            self.enqueue(f.ts_us, f.number, Decoded::Fragment(f), None);
        }
        self.release(false, report);
    }

    fn note_incomplete(head: &ShortHead, fragments: &[FragmentInfo], report: &mut CaptureReport) {
        report.note(SkipReason::MalformedHeader, head.info.number);
        for f in fragments {
            report.note(SkipReason::OrphanFragment, f.number);
        }
    }

    /// Into the reordering window; `report` notes a packet that arrives late.
    fn enqueue(&mut self, ts: i64, number: u64, item: Decoded, report: Option<&mut CaptureReport>) {
        if ts >= self.newest_ts {
            self.newest_ts = ts;
            self.pending.push_back(Pending { ts, number, item });
        } else {
            if let Some(report) = report {
                report
                    .note(if ts >= self.released_ts { SkipReason::Reordered } else { SkipReason::OutOfOrder }, number);
            }
            self.late.push(Reverse(Pending { ts, number, item }));
        }
    }

    /// The flows finished since the last call, in the order they finished (a caller that
    /// keeps them in a smaller form takes them as it goes; see `rows`).
    pub fn take_finished(&mut self) -> Vec<FlowRecord> {
        self.finished += self.done.len() as u64;
        std::mem::take(&mut self.done)
    }

    /// Processes everything left and returns the flows not taken yet, sorted by start time;
    /// the report counts every flow, taken or not.
    pub fn finish(mut self, report: &mut CaptureReport) -> Vec<FlowRecord> {
        for (_, (head, fragments)) in std::mem::take(&mut self.short_heads) {
            Self::note_incomplete(&head, &fragments, report);
        }
        self.release(true, report);
        self.orphan_parked(report);
        let flows: Vec<FlowBuilder> = self.flows.drain().map(|(_, f)| f).collect();
        for f in flows {
            Self::emit(&mut self.done, &self.opts, f, report);
        }
        self.done.sort_by_key(|r| (r.start_us, r.first_packet));
        report.flows = self.finished + self.done.len() as u64;
        report.min_packets = self.opts.min_packets;
        self.done
    }

    fn release(&mut self, all: bool, report: &mut CaptureReport) {
        let horizon = self.newest_ts.saturating_sub(self.opts.reorder_window_us);
        loop {
            let from_late = match (self.pending.front(), self.late.peek()) {
                (Some(a), Some(Reverse(b))) => b < a,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (None, None) => break,
            };
            let oldest = if from_late { self.late.peek().map(|r| r.0.ts) } else { self.pending.front().map(|p| p.ts) };
            let crowded = self.pending.len() + self.late.len() > self.opts.max_pending;
            if !(all || oldest.is_some_and(|t| t <= horizon) || crowded) {
                break;
            }
            let next = if from_late { self.late.pop().map(|r| r.0) } else { self.pending.pop_front() };
            let Some(Pending { ts, item, .. }) = next else {
                break;
            };
            // A packet that arrives after later ones were processed is handled at the
            // latest processed time so that no interval becomes negative.
            let ts = ts.max(self.released_ts);
            self.released_ts = ts;
            match item {
                Decoded::Packet(mut p) => {
                    p.ts_us = ts;
                    self.process(p, report);
                }
                Decoded::Fragment(mut f) => {
                    f.ts_us = ts;
                    self.process_fragment(f, report);
                }
                // Held by `push` until whole; never queued.
                Decoded::ShortHead(head) => report.note(SkipReason::MalformedHeader, head.info.number),
            }
        }
    }

    fn process_fragment(&mut self, f: FragmentInfo, report: &mut CaptureReport) {
        let Some(&(sport, dport, _)) = self.fragments.get(&f.key) else {
            self.park(f, report);
            return;
        };
        let p = PacketInfo {
            number: f.number,
            ts_us: f.ts_us,
            src: f.key.src,
            dst: f.key.dst,
            sport,
            dport,
            proto: f.key.proto,
            payload: f.payload,
            header: 0,
            flags: 0,
            window: 0,
            ip_id: f.key.id,
            seq: 0,
            fragment: None,
            http: super::http::SegmentMark::default(),
        };
        self.process(p, report);
    }

    /// Keeps a fragment whose first fragment has not come (yet).
    fn park(&mut self, f: FragmentInfo, report: &mut CaptureReport) {
        if self.parked_count >= MAX_FRAGMENTS {
            self.orphan_parked(report);
        }
        self.parked_count += 1;
        self.parked.entry(f.key).or_default().push(f);
    }

    fn orphan_parked(&mut self, report: &mut CaptureReport) {
        for f in self.parked.drain().flat_map(|(_, v)| v) {
            report.note(SkipReason::OrphanFragment, f.number);
        }
        self.parked_count = 0;
    }

    fn remember_fragment(&mut self, key: FragKey, p: &PacketInfo) {
        if self.fragments.len() >= MAX_FRAGMENTS {
            let cutoff = p.ts_us - FRAGMENT_TIMEOUT_US;
            self.fragments.retain(|_, (_, _, ts)| *ts >= cutoff);
            if self.fragments.len() >= MAX_FRAGMENTS {
                self.fragments.clear();
            }
        }
        self.fragments.insert(key, (p.sport, p.dport, p.ts_us));
    }

    /// A packet into its flow; a first fragment then takes along the fragments parked for it.
    fn process(&mut self, p: PacketInfo, report: &mut CaptureReport) {
        let (first_of, ts) = (p.fragment, p.ts_us);
        self.process_packet(p, report);
        if let Some(parked) = first_of.and_then(|key| self.parked.remove(&key)) {
            self.parked_count -= parked.len();
            for mut f in parked {
                f.ts_us = ts;
                self.process_fragment(f, report);
            }
        }
    }

    fn process_packet(&mut self, mut p: PacketInfo, report: &mut CaptureReport) {
        if self.opts.ethernet_padding {
            p.payload += ethernet_padding(&p);
        }
        if let Some(key) = p.fragment {
            self.remember_fragment(key, &p);
        }
        let key = FlowKey::of(&p);
        let ts = p.ts_us;
        let new_connection = p.flags & flag::SYN != 0 && p.flags & flag::ACK == 0;
        match self.flows.get_mut(&key) {
            Some(flow)
                if ts - flow.start_ts > self.opts.flow_timeout_us || (flow.is_terminated() && new_connection) =>
            {
                // Timed out, or a new connection on a finished one: finish it; this packet
                // starts the next flow. The official tools keep the old flow's direction on a
                // timeout, the corrected one takes the packet's.
                let forward = self.opts.compat == Compat::Corrected || flow.is_forward(&p);
                let next = FlowBuilder::oriented(&p, self.params, forward);
                let old = std::mem::replace(flow, next);
                Self::emit(&mut self.done, &self.opts, old, report);
            }
            Some(flow) => {
                if flow.add(&p) == Close::Closed
                    && let Some(f) = self.flows.remove(&key)
                {
                    Self::emit(&mut self.done, &self.opts, f, report);
                }
            }
            None => {
                self.flows.insert(key, FlowBuilder::new(&p, self.params));
                report.peak_active_flows = report.peak_active_flows.max(self.flows.len() as u64);
            }
        }
        self.maybe_sweep(ts, report);
    }

    /// Finishes flows that can only end by timeout anyway (so memory follows the active
    /// flows), and enforces `max_flows`.
    fn maybe_sweep(&mut self, now: i64, report: &mut CaptureReport) {
        let over = self.flows.len() > self.opts.max_flows;
        if !over && now.saturating_sub(self.last_sweep_ts) < 1_000_000 {
            return;
        }
        self.last_sweep_ts = now;
        let timeout = self.opts.flow_timeout_us;
        // A finished TCP connection quiet for an activity timeout takes no more leftovers.
        let linger = self.opts.activity_timeout_us;
        let expired: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now - f.start_ts > timeout || (f.is_terminated() && now - f.last_ts > linger))
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(f) = self.flows.remove(&k) {
                Self::emit(&mut self.done, &self.opts, f, report);
            }
        }
        if self.flows.len() > self.opts.max_flows {
            self.evict_oldest(report);
        }
    }

    fn evict_oldest(&mut self, report: &mut CaptureReport) {
        let target = self.opts.max_flows - self.opts.max_flows / 10;
        let mut by_age: Vec<(i64, FlowKey)> = self.flows.iter().map(|(k, f)| (f.last_ts, *k)).collect();
        let n = self.flows.len().saturating_sub(target);
        if n == 0 {
            return;
        }
        by_age.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        for (_, k) in by_age.into_iter().take(n) {
            if let Some(f) = self.flows.remove(&k) {
                report.note(SkipReason::FlowEvicted, f.first_packet);
                Self::emit(&mut self.done, &self.opts, f, report);
            }
        }
    }

    fn emit(done: &mut Vec<FlowRecord>, opts: &ExtractOptions, f: FlowBuilder, report: &mut CaptureReport) {
        if f.packets() < opts.min_packets {
            report.packets_in_small_flows += f.packets();
            report.flows_left_out += 1;
            return;
        }
        report.packets_in_flows += f.packets();
        report.flows_by_packets.add(f.packets());
        done.push(Self::record_of(&f));
    }

    fn record_of(f: &FlowBuilder) -> FlowRecord {
        FlowRecord {
            src: f.src,
            sport: f.sport,
            dst: f.dst,
            dport: f.dport,
            proto: f.proto,
            start_us: f.start_ts,
            first_packet: f.first_packet,
            features: f.features(),
            http: f.http_evidence(),
        }
    }

    /// The flows so far as if the capture ended here: the finished ones and those still open
    /// (their features up to now), sorted by start; the extraction goes on untouched. For
    /// showing a long capture while it is being read.
    pub fn snapshot(&self) -> Vec<FlowRecord> {
        let mut out = self.done.clone();
        out.extend(self.flows.values().filter(|f| f.packets() >= self.opts.min_packets).map(Self::record_of));
        out.sort_by_key(|r| (r.start_us, r.first_packet));
        out
    }

    /// Exact repeat of one of the last few packets: same time, addresses, ports, IP id,
    /// sequence number, flags and length.
    fn is_duplicate(&mut self, p: &PacketInfo) -> bool {
        let h = FxBuildHasher
            .hash_one((p.ts_us, p.src, p.dst, p.sport, p.dport, p.proto, p.ip_id, p.seq, p.flags, p.payload));
        let dup = self.recent.contains(&h);
        self.recent[self.recent_at] = h;
        self.recent_at = (self.recent_at + 1) % DUP_MEMORY;
        dup
    }
}
