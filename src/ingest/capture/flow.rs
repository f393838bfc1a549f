//! One bidirectional flow and its CICFlowMeter statistics.
//!
//! Written by hand because no crate computes CICFlowMeter's features; the formulas follow the
//! official Java tool (BasicFlow.java: Apache Commons `SummaryStatistics`, so standard
//! deviations use n − 1; times in microseconds; "packet length" = transport payload bytes;
//! header length = transport header bytes). Where the tools differ, [`Compat`] selects:
//! - `Corrected` reproduces the corrected CICFlowMeter of Engelen et al. (2021) that produced
//!   the training data (`cicids2017-improved`), including the quirks still visible in that
//!   data (checked column by column on its 43,419 rows, see docs/capture-results.md):
//!   subflow values = total ÷ packet count (integer), bulk averages integer, the first
//!   packet not counted in `act_data_pkt_fwd`, initial windows 0 when a side sent nothing.
//!   A TCP connection ends on FIN from both sides or RST and then keeps its teardown's last
//!   ACKs and retransmissions (that data has no flows made of such leftovers).
//! - `Cicids2017` reproduces the official tool that produced the 2017 release and the
//!   reference outputs of test.pcap (flags of the first packet only, printed in Java
//!   HashMap order; first packet counted twice in the length statistics; integer down/up
//!   ratio; bulk always 0; subflows = totals; the backward initial window of the last
//!   backward packet, -1 when none).
//! - `CicFlowMeter4` reproduces the later official CICFlowMeter-V4 that produced the single
//!   CICIDS2017 sample flow (first FIN ends a flow; flags counted over the flow but PSH/URG
//!   per direction from the first packet only; subflows split at gaps over a second, which
//!   also update active/idle; integer bulk and subflow averages; first packet counted twice
//!   in the length statistics and the last backward window, as the 2017 tool).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::packet::{PROTO_TCP, PacketInfo, flag};
use crate::features::{FeatureId, N_FEATURES};

/// Which CICFlowMeter to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// Corrected CICFlowMeter (Engelen et al. 2021): TCP flows end on FIN from both sides or
    /// on RST; flags, PSH and URG counted over the whole flow.
    #[default]
    Corrected,
    /// The original 2017 tool (CICIDS2017 and its reference outputs): a flow ends on the first
    /// FIN, RST is ignored.
    Cicids2017,
    /// The later official CICFlowMeter-V4 (the single CICIDS2017 sample flow): first FIN ends
    /// a flow, flags counted over the flow, subflows split at gaps over one second.
    #[value(name = "cicflowmeter4")]
    #[serde(rename = "cicflowmeter4")]
    CicFlowMeter4,
}

impl Compat {
    /// A flow ends on the first FIN (both official tools).
    fn first_fin_closes(self) -> bool {
        matches!(self, Compat::Cicids2017 | Compat::CicFlowMeter4)
    }
}

/// Running statistics as Apache Commons' `SummaryStatistics` keeps them (Welford updates;
/// sample standard deviation).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    n: u64,
    mean: f64,
    m2: f64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Stats {
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        if self.n == 1 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self.sum += x;
    }
    pub fn n(&self) -> u64 {
        self.n
    }
    pub fn sum(&self) -> f64 {
        self.sum
    }
    pub fn mean(&self) -> f64 {
        if self.n > 0 { self.mean } else { 0.0 }
    }
    pub fn std(&self) -> f64 {
        if self.n > 1 { (self.m2 / (self.n - 1) as f64).max(0.0).sqrt() } else { 0.0 }
    }
    pub fn min(&self) -> f64 {
        if self.n > 0 { self.min } else { 0.0 }
    }
    pub fn max(&self) -> f64 {
        if self.n > 0 { self.max } else { 0.0 }
    }
}

/// CICFlowMeter's bulk detector for one direction: four or more payload packets with gaps
/// under a second, not interrupted by a bulk packet of the other direction.
#[derive(Debug, Clone, Copy, Default)]
struct Bulk {
    start: i64,
    last: i64,
    helper_packets: u64,
    helper_bytes: u64,
    bulks: u64,
    packets: u64,
    bytes: u64,
    duration: i64,
}

impl Bulk {
    fn add(&mut self, ts: i64, size: u64, other_last: i64) {
        if other_last > self.start {
            self.start = 0;
        }
        if size == 0 {
            return;
        }
        if self.start == 0 || ts - self.last > 1_000_000 {
            self.start = ts;
            self.last = ts;
            self.helper_packets = 1;
            self.helper_bytes = size;
            return;
        }
        self.helper_packets += 1;
        self.helper_bytes += size;
        if self.helper_packets == 4 {
            self.bulks += 1;
            self.packets += self.helper_packets;
            self.bytes += self.helper_bytes;
            self.duration += ts - self.start;
        } else if self.helper_packets > 4 {
            self.packets += 1;
            self.bytes += size;
            self.duration += ts - self.last;
        }
        self.last = ts;
    }

    /// (bytes per bulk, packets per bulk, bytes per second), integer as the tools print them.
    fn averages(&self) -> [f64; 3] {
        if self.bulks == 0 {
            return [0.0; 3];
        }
        let rate = if self.duration > 0 { (self.bytes as f64 / (self.duration as f64 / 1e6)).trunc() } else { 0.0 };
        [(self.bytes / self.bulks) as f64, (self.packets / self.bulks) as f64, rate]
    }
}

/// Per-direction accumulators.
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    len: Stats,
    iat: Stats,
    last_ts: i64,
    header_bytes: u64,
    psh: u32,
    urg: u32,
    init_win: Option<u16>,
    bulk: Bulk,
}

/// Settings every flow needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowParams {
    pub compat: Compat,
    /// Gap (µs) that ends an active period.
    pub activity_timeout_us: i64,
}

/// A flow under construction. Direction is fixed by its first packet.
#[derive(Debug, Clone)]
pub struct FlowBuilder {
    compat: Compat,
    activity_timeout_us: i64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub first_packet: u64,
    pub start_ts: i64,
    pub last_ts: i64,
    fwd: Side,
    bwd: Side,
    all_len: Stats,
    flow_iat: Stats,
    flags: [u32; 8],
    first_flags: u8,
    act_data_fwd: u64,
    min_seg_fwd: u32,
    active: Stats,
    idle: Stats,
    start_active: i64,
    end_active: i64,
    fin_fwd: bool,
    fin_bwd: bool,
    /// Gaps over one second (CICFlowMeter-V4's subflow count).
    subflow_gaps: u64,
    /// Corrected mode: FIN seen from both sides, or RST. The flow stays open to take the
    /// teardown's last ACKs and retransmissions (the corrected data has no flows made of
    /// such leftovers) until a new SYN, the timeouts or the end of the capture.
    terminated: bool,
    /// The flow's HTTP requests and responses, counted per segment that starts one.
    http: super::http::HttpTally,
}

/// Whether the packet just added ends the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    Open,
    Closed,
}

impl FlowBuilder {
    /// Starts a flow whose forward direction is the packet's.
    pub fn new(p: &PacketInfo, params: FlowParams) -> Self {
        Self::oriented(p, params, true)
    }

    /// Starts a flow; `forward` false makes the first packet a backward one (the 2017 tool
    /// keeps the old direction when a flow times out and restarts).
    pub fn oriented(p: &PacketInfo, params: FlowParams, forward: bool) -> Self {
        let compat = params.compat;
        let (src, sport, dst, dport) =
            if forward { (p.src, p.sport, p.dst, p.dport) } else { (p.dst, p.dport, p.src, p.sport) };
        let mut f = FlowBuilder {
            compat,
            activity_timeout_us: params.activity_timeout_us,
            src,
            dst,
            sport,
            dport,
            proto: p.proto,
            first_packet: p.number,
            start_ts: p.ts_us,
            last_ts: p.ts_us,
            fwd: Side::default(),
            bwd: Side::default(),
            all_len: Stats::default(),
            flow_iat: Stats::default(),
            flags: [0; 8],
            first_flags: p.flags,
            act_data_fwd: 0,
            min_seg_fwd: p.header,
            active: Stats::default(),
            idle: Stats::default(),
            start_active: p.ts_us,
            end_active: p.ts_us,
            fin_fwd: false,
            fin_bwd: false,
            subflow_gaps: 0,
            terminated: false,
            http: super::http::HttpTally::default(),
        };
        if forward {
            f.fwd.last_ts = p.ts_us;
            f.fwd.bulk.add(p.ts_us, u64::from(p.payload), 0);
        } else {
            f.bwd.last_ts = p.ts_us;
            f.bwd.bulk.add(p.ts_us, u64::from(p.payload), 0);
        }
        if compat.first_fin_closes() {
            // Both official tools add the first packet's length to the flow statistics twice.
            f.all_len.add(f64::from(p.payload));
        }
        f.account(p, forward);
        f
    }

    /// Whether `p` travels in the flow's forward direction.
    pub fn is_forward(&self, p: &PacketInfo) -> bool {
        p.src == self.src && p.sport == self.sport && p.dst == self.dst && p.dport == self.dport
    }

    /// Whether the TCP connection has ended (corrected mode); see `terminated`.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// What the flow's HTTP said so far (see [`super::http`]).
    pub fn http_evidence(&self) -> super::http::HttpEvidence {
        self.http.evidence()
    }

    pub fn packets(&self) -> u64 {
        self.fwd.len.n() + self.bwd.len.n()
    }

    /// Adds a later packet (time order is the caller's job).
    pub fn add(&mut self, p: &PacketInfo) -> Close {
        let forward = self.is_forward(p);
        let ts = p.ts_us;
        let fin = p.flags & flag::FIN != 0;
        let closes_now = self.compat.first_fin_closes() && fin;
        if self.compat == Compat::CicFlowMeter4 && ts - self.last_ts > 1_000_000 {
            // V4 starts a subflow after a second of silence and updates active/idle there,
            // closing FIN included.
            self.subflow_gaps += 1;
            self.update_active_idle(ts);
        }
        if !closes_now {
            // The official generator updates active/idle before every packet but a closing FIN.
            self.update_active_idle(ts);
        }
        if forward {
            let other = self.bwd.bulk.last;
            self.fwd.bulk.add(ts, u64::from(p.payload), other);
            if p.payload >= 1 {
                self.act_data_fwd += 1;
            }
            self.min_seg_fwd = self.min_seg_fwd.min(p.header);
            if self.fwd.len.n() >= 1 {
                self.fwd.iat.add((ts - self.fwd.last_ts) as f64);
            }
            self.fwd.last_ts = ts;
        } else {
            let other = self.fwd.bulk.last;
            self.bwd.bulk.add(ts, u64::from(p.payload), other);
            if self.bwd.len.n() >= 1 {
                self.bwd.iat.add((ts - self.bwd.last_ts) as f64);
            }
            self.bwd.last_ts = ts;
        }
        self.flow_iat.add((ts - self.last_ts) as f64);
        self.last_ts = ts;
        self.account(p, forward);
        self.close_decision(p, forward)
    }

    /// Counters every packet updates, the first one included.
    fn account(&mut self, p: &PacketInfo, forward: bool) {
        self.http.add(p.http, forward, p.seq);
        let payload = f64::from(p.payload);
        self.all_len.add(payload);
        let side = if forward { &mut self.fwd } else { &mut self.bwd };
        side.len.add(payload);
        side.header_bytes += u64::from(p.header);
        // Both official tools overwrite the backward initial window with every backward packet.
        let overwrite = !forward && self.compat.first_fin_closes();
        if p.proto == PROTO_TCP && (side.init_win.is_none() || overwrite) {
            side.init_win = Some(p.window);
        }
        if self.compat == Compat::Corrected {
            if p.flags & flag::PSH != 0 {
                side.psh += 1;
            }
            if p.flags & flag::URG != 0 {
                side.urg += 1;
            }
        }
        if self.compat != Compat::Cicids2017 {
            for (bit, count) in self.flags.iter_mut().enumerate() {
                if p.flags & (1 << bit) != 0 {
                    *count += 1;
                }
            }
        }
    }

    fn close_decision(&mut self, p: &PacketInfo, forward: bool) -> Close {
        if p.proto != PROTO_TCP {
            return Close::Open;
        }
        match self.compat {
            Compat::Cicids2017 | Compat::CicFlowMeter4 => {
                if p.flags & flag::FIN != 0 {
                    Close::Closed
                } else {
                    Close::Open
                }
            }
            Compat::Corrected => {
                if p.flags & flag::FIN != 0 {
                    if forward {
                        self.fin_fwd = true;
                    } else {
                        self.fin_bwd = true;
                    }
                }
                if p.flags & flag::RST != 0 || (self.fin_fwd && self.fin_bwd) {
                    self.terminated = true;
                }
                Close::Open
            }
        }
    }

    /// The official rule: a gap longer than the activity timeout ends an active period
    /// (recorded when it lasted at all) and is itself an idle period.
    fn update_active_idle(&mut self, ts: i64) {
        if ts - self.end_active > self.activity_timeout() {
            if self.end_active - self.start_active > 0 {
                self.active.add((self.end_active - self.start_active) as f64);
            }
            self.idle.add((ts - self.end_active) as f64);
            self.start_active = ts;
        }
        self.end_active = ts;
    }

    fn activity_timeout(&self) -> i64 {
        self.activity_timeout_us
    }

    /// The 72 features, in schema order.
    pub fn features(&self) -> [f64; N_FEATURES] {
        let mut v = [0.0f64; N_FEATURES];
        let mut set = |id: FeatureId, x: f64| v[id as usize] = x;
        let duration = (self.last_ts - self.start_ts) as f64;
        let secs = duration / 1e6;
        let per_sec = |x: f64| if duration > 0.0 { x / secs } else { 0.0 };
        let nf = self.fwd.len.n();
        let nb = self.bwd.len.n();
        let n = nf + nb;
        let fwd_bytes = self.fwd.len.sum();
        let bwd_bytes = self.bwd.len.sum();

        set(FeatureId::FlowDuration, duration);
        set(FeatureId::FlowBytesPerSec, per_sec(fwd_bytes + bwd_bytes));
        set(FeatureId::FlowPacketsPerSec, per_sec(n as f64));
        set_stats4(
            &mut set,
            &self.flow_iat,
            [FeatureId::FlowIatMean, FeatureId::FlowIatStd, FeatureId::FlowIatMax, FeatureId::FlowIatMin],
        );
        // One inter-arrival time needs two packets in the direction; the tools leave it 0.
        if nf > 1 {
            set(FeatureId::FwdIatTotal, self.fwd.iat.sum());
            set_stats4(
                &mut set,
                &self.fwd.iat,
                [FeatureId::FwdIatMean, FeatureId::FwdIatStd, FeatureId::FwdIatMax, FeatureId::FwdIatMin],
            );
        }
        if nb > 1 {
            set(FeatureId::BwdIatTotal, self.bwd.iat.sum());
            set_stats4(
                &mut set,
                &self.bwd.iat,
                [FeatureId::BwdIatMean, FeatureId::BwdIatStd, FeatureId::BwdIatMax, FeatureId::BwdIatMin],
            );
        }
        set_stats4(
            &mut set,
            &self.active,
            [FeatureId::ActiveMean, FeatureId::ActiveStd, FeatureId::ActiveMax, FeatureId::ActiveMin],
        );
        set_stats4(
            &mut set,
            &self.idle,
            [FeatureId::IdleMean, FeatureId::IdleStd, FeatureId::IdleMax, FeatureId::IdleMin],
        );

        set(FeatureId::TotalFwdPackets, nf as f64);
        set(FeatureId::TotalBwdPackets, nb as f64);
        set(FeatureId::TotalLenFwdPackets, fwd_bytes);
        set(FeatureId::TotalLenBwdPackets, bwd_bytes);
        set(FeatureId::FwdPacketLenMax, self.fwd.len.max());
        set(FeatureId::FwdPacketLenMin, self.fwd.len.min());
        set(FeatureId::FwdPacketLenMean, self.fwd.len.mean());
        set(FeatureId::FwdPacketLenStd, self.fwd.len.std());
        set(FeatureId::BwdPacketLenMax, self.bwd.len.max());
        set(FeatureId::BwdPacketLenMin, self.bwd.len.min());
        set(FeatureId::BwdPacketLenMean, self.bwd.len.mean());
        set(FeatureId::BwdPacketLenStd, self.bwd.len.std());
        set(FeatureId::FwdHeaderLength, self.fwd.header_bytes as f64);
        set(FeatureId::BwdHeaderLength, self.bwd.header_bytes as f64);
        set(FeatureId::FwdPacketsPerSec, per_sec(nf as f64));
        set(FeatureId::BwdPacketsPerSec, per_sec(nb as f64));
        set(FeatureId::PacketLenMin, self.all_len.min());
        set(FeatureId::PacketLenMax, self.all_len.max());
        set(FeatureId::PacketLenMean, self.all_len.mean());
        set(FeatureId::PacketLenStd, self.all_len.std());
        self.set_flags(&mut set);
        self.set_ratios_and_subflows(&mut set, nf, nb, fwd_bytes, bwd_bytes);
        self.set_bulk(&mut set);
        let (init_fwd, init_bwd) = self.initial_windows();
        set(FeatureId::InitWinBytesFwd, init_fwd);
        set(FeatureId::InitWinBytesBwd, init_bwd);
        set(FeatureId::ActDataPktFwd, self.act_data_fwd as f64);
        set(FeatureId::MinSegSizeFwd, f64::from(self.min_seg_fwd));
        v
    }

    fn set_flags(&self, set: &mut impl FnMut(FeatureId, f64)) {
        // The bits in the schema's order of the flag counts: FIN SYN RST PSH ACK URG CWR ECE.
        let ids = crate::features::FLAG_COUNTS;
        let first = |bit: u8| if self.first_flags & bit != 0 { 1.0 } else { 0.0 };
        // V4 and the 2017 tool count PSH/URG per direction in the first packet only.
        let first_packet_psh_urg = |set: &mut dyn FnMut(FeatureId, f64)| {
            set(FeatureId::FwdPshFlags, first(flag::PSH));
            set(FeatureId::FwdUrgFlags, first(flag::URG));
        };
        match self.compat {
            Compat::Corrected | Compat::CicFlowMeter4 => {
                let bits = [flag::FIN, flag::SYN, flag::RST, flag::PSH, flag::ACK, flag::URG, flag::CWR, flag::ECE];
                for (id, bit) in ids.iter().zip(bits) {
                    set(*id, f64::from(self.flags[bit.trailing_zeros() as usize]));
                }
                if self.compat == Compat::Corrected {
                    set(FeatureId::FwdPshFlags, f64::from(self.fwd.psh));
                    set(FeatureId::BwdPshFlags, f64::from(self.bwd.psh));
                    set(FeatureId::FwdUrgFlags, f64::from(self.fwd.urg));
                    set(FeatureId::BwdUrgFlags, f64::from(self.bwd.urg));
                } else {
                    first_packet_psh_urg(set);
                }
            }
            Compat::Cicids2017 => {
                // The 2017 tool records the first packet's flags only and prints them by
                // iterating a Java HashMap, whose order is RST PSH ECE SYN ACK FIN URG CWR.
                let printed = [flag::RST, flag::PSH, flag::ECE, flag::SYN, flag::ACK, flag::FIN, flag::URG, flag::CWR];
                for (id, bit) in ids.iter().zip(printed) {
                    set(*id, first(bit));
                }
                first_packet_psh_urg(set);
            }
        }
    }

    fn set_ratios_and_subflows(
        &self,
        set: &mut impl FnMut(FeatureId, f64),
        nf: u64,
        nb: u64,
        fwd_bytes: f64,
        bwd_bytes: f64,
    ) {
        let n = nf + nb;
        match self.compat {
            Compat::Corrected => {
                set(FeatureId::DownUpRatio, if nf > 0 { nb as f64 / nf as f64 } else { 0.0 });
                // The corrected tool's subflow counter increments on every packet (an operator
                // precedence slip), so each value is the total divided by the packet count.
                let div = |x: f64| (x as u64).checked_div(n).unwrap_or(0) as f64;
                set(FeatureId::SubflowFwdPackets, div(nf as f64));
                set(FeatureId::SubflowFwdBytes, div(fwd_bytes));
                set(FeatureId::SubflowBwdPackets, div(nb as f64));
                set(FeatureId::SubflowBwdBytes, div(bwd_bytes));
            }
            Compat::CicFlowMeter4 => {
                set(FeatureId::DownUpRatio, if nf > 0 { nb as f64 / nf as f64 } else { 0.0 });
                // Subflow count = gaps over one second; integer division; 0 without any gap.
                let div = |x: f64| (x as u64).checked_div(self.subflow_gaps).unwrap_or(0) as f64;
                set(FeatureId::SubflowFwdPackets, div(nf as f64));
                set(FeatureId::SubflowFwdBytes, div(fwd_bytes));
                set(FeatureId::SubflowBwdPackets, div(nb as f64));
                set(FeatureId::SubflowBwdBytes, div(bwd_bytes));
            }
            Compat::Cicids2017 => {
                set(FeatureId::DownUpRatio, nb.checked_div(nf).unwrap_or(0) as f64);
                // The 2017 tool never splits a flow into subflows: every subflow value equals
                // the flow's total (true of all 96 reference flows and the whole 2017 release).
                set(FeatureId::SubflowFwdPackets, nf as f64);
                set(FeatureId::SubflowFwdBytes, fwd_bytes);
                set(FeatureId::SubflowBwdPackets, nb as f64);
                set(FeatureId::SubflowBwdBytes, bwd_bytes);
            }
        }
    }

    fn set_bulk(&self, set: &mut impl FnMut(FeatureId, f64)) {
        if self.compat == Compat::Cicids2017 {
            return; // always 0 in the 2017 tool
        }
        let [fb, fp, fr] = self.fwd.bulk.averages();
        let [bb, bp, br] = self.bwd.bulk.averages();
        set(FeatureId::FwdBulkBytesAvg, fb);
        set(FeatureId::FwdBulkPacketsAvg, fp);
        set(FeatureId::FwdBulkRateAvg, fr);
        set(FeatureId::BwdBulkBytesAvg, bb);
        set(FeatureId::BwdBulkPacketsAvg, bp);
        set(FeatureId::BwdBulkRateAvg, br);
    }

    fn initial_windows(&self) -> (f64, f64) {
        let missing = match self.compat {
            Compat::Corrected | Compat::CicFlowMeter4 => 0.0,
            Compat::Cicids2017 => -1.0,
        };
        let w = |s: &Side| s.init_win.map_or(missing, f64::from);
        (w(&self.fwd), w(&self.bwd))
    }
}

fn set_stats4(set: &mut impl FnMut(FeatureId, f64), s: &Stats, ids: [FeatureId; 4]) {
    set(ids[0], s.mean());
    set(ids[1], s.std());
    set(ids[2], s.max());
    set(ids[3], s.min());
}
