//! Who talked to whom: the conversations (one per pair of addresses and protocol) and the
//! endpoints (one per address) of a loaded batch, as Wireshark's Statistics → Conversations
//! and Endpoints show them, with NetVigil's verdicts added; and the pivots that narrow the
//! flows table to one of them. Computed here, off the UI thread, so the window only draws.
//!
//! Counts come from the flow records: packets and bytes are CICFlowMeter's per-direction
//! totals (bytes are its "Total Length of ... Packets", the packets' payload), not frame
//! sizes as in Wireshark.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::detect::Findings;
use crate::features::FeatureId;
use crate::ingest::{AttackFamily, FlowMeta, FlowTable};
use crate::model::BriefVerdict;

/// Attack families as a bit set (bit = `AttackFamily::index()`), so an aggregate carries
/// them without an allocation each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FamilySet(u16);

impl FamilySet {
    pub fn insert(&mut self, f: AttackFamily) {
        self.0 |= 1 << f.index();
    }
    pub fn contains(self, f: AttackFamily) -> bool {
        self.0 & (1 << f.index()) != 0
    }
    pub fn iter(self) -> impl Iterator<Item = AttackFamily> {
        AttackFamily::ALL.into_iter().filter(move |f| self.contains(*f))
    }
    /// "dos, portscan", or "" when empty.
    pub fn names(self) -> String {
        self.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
    }
}

/// One pair of addresses and a protocol: every flow between them, either way.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// The lower of the two addresses (Wireshark's "Address A").
    pub a: IpAddr,
    pub b: IpAddr,
    pub protocol: Option<u8>,
    pub flows: usize,
    pub packets_ab: u64,
    pub packets_ba: u64,
    pub bytes_ab: u64,
    pub bytes_ba: u64,
    /// Start of the first flow and end of the last, µs in the table's clock.
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    pub flagged: usize,
    pub max_p_attack: Option<f32>,
    /// Families of the flagged flows.
    pub families: FamilySet,
}

impl Conversation {
    pub fn duration_s(&self) -> Option<f64> {
        Some((self.end_us? - self.start_us?) as f64 / 1e6)
    }
    pub fn pivot(&self) -> Pivot {
        Pivot::Conversation { a: self.a, b: self.b, protocol: self.protocol }
    }
}

/// One address: every flow it sent or received.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub address: IpAddr,
    pub flows: usize,
    /// Flows this address started (it is the flow's source).
    pub flows_started: usize,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Distinct addresses it exchanged flows with.
    pub peers: usize,
    /// Distinct destination ports of the flows it started (how widely it reached out).
    pub ports_touched: usize,
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    pub flagged: usize,
    /// Host-level findings naming it as their source or target.
    pub findings: usize,
    pub families: FamilySet,
}

/// Conversations and endpoints of one batch, with what was left out.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub conversations: Vec<Conversation>,
    pub endpoints: Vec<Endpoint>,
    /// Flows without both addresses (MachineLearningCVE files carry none).
    pub without_addresses: usize,
}

struct Directional {
    packets_fwd: u64,
    packets_bwd: u64,
    bytes_fwd: u64,
    bytes_bwd: u64,
    start: Option<i64>,
    end: Option<i64>,
}

fn directional(table: &FlowTable, r: usize) -> Directional {
    let row = table.row(r);
    // Counts are whole numbers in the records; a negative or NaN one (bad input that was
    // let through) counts as zero rather than wrapping.
    let count = |f: FeatureId| row[f as usize].max(0.0) as u64;
    let start = table.meta()[r].timestamp_us();
    let duration = row[FeatureId::FlowDuration as usize].max(0.0) as i64;
    Directional {
        packets_fwd: count(FeatureId::TotalFwdPackets),
        packets_bwd: count(FeatureId::TotalBwdPackets),
        bytes_fwd: count(FeatureId::TotalLenFwdPackets),
        bytes_bwd: count(FeatureId::TotalLenBwdPackets),
        start,
        end: start.map(|s| s.saturating_add(duration)),
    }
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.into_iter().chain(b).min()
}

fn latest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.into_iter().chain(b).max()
}

/// A span of flow start times, µs in the table's clock, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub start_us: i64,
    pub end_us: i64,
}

impl TimeRange {
    /// The range between two instants given in either order.
    pub fn between(a: i64, b: i64) -> Self {
        TimeRange { start_us: a.min(b), end_us: a.max(b) }
    }

    /// Whether a flow that started at `t` is in the range (a flow without a start is not).
    pub fn contains(&self, t: Option<i64>) -> bool {
        t.is_some_and(|t| t >= self.start_us && t <= self.end_us)
    }
}

impl std::fmt::Display for TimeRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::ingest::timestamp::format_timestamp;
        write!(f, "flows started from {} to {}", format_timestamp(self.start_us), format_timestamp(self.end_us))
    }
}

/// Aggregates the flows of `table` (with the verdicts when scored), those started within
/// `range` when one is given, into conversations and endpoints, in order of first appearance.
pub fn traffic(
    table: &FlowTable,
    verdicts: Option<&[BriefVerdict]>,
    findings: Option<&Findings>,
    range: Option<TimeRange>,
) -> Traffic {
    let mut out = Traffic::default();
    let mut conv_index: HashMap<(IpAddr, IpAddr, Option<u8>), usize> = HashMap::new();
    let mut end_index: HashMap<IpAddr, usize> = HashMap::new();
    let mut peers: HashSet<(usize, IpAddr)> = HashSet::new();
    let mut ports: HashSet<(usize, u16)> = HashSet::new();
    for (r, meta) in table.meta().iter().enumerate() {
        if range.is_some_and(|t| !t.contains(meta.timestamp_us())) {
            continue;
        }
        let (Some(src), Some(dst)) = (meta.src_ip(), meta.dst_ip()) else {
            out.without_addresses += 1;
            continue;
        };
        let d = directional(table, r);
        let verdict = verdicts.and_then(|v| v.get(r));
        let flagged = verdict.is_some_and(|v| v.is_attack());
        let (a, b, forward) = if src <= dst { (src, dst, true) } else { (dst, src, false) };
        let i = *conv_index.entry((a, b, meta.protocol)).or_insert_with(|| {
            out.conversations.push(Conversation {
                a,
                b,
                protocol: meta.protocol,
                flows: 0,
                packets_ab: 0,
                packets_ba: 0,
                bytes_ab: 0,
                bytes_ba: 0,
                start_us: None,
                end_us: None,
                flagged: 0,
                max_p_attack: None,
                families: FamilySet::default(),
            });
            out.conversations.len() - 1
        });
        let c = &mut out.conversations[i];
        c.flows += 1;
        let (ab, ba) = if forward {
            ((d.packets_fwd, d.bytes_fwd), (d.packets_bwd, d.bytes_bwd))
        } else {
            ((d.packets_bwd, d.bytes_bwd), (d.packets_fwd, d.bytes_fwd))
        };
        c.packets_ab += ab.0;
        c.bytes_ab += ab.1;
        c.packets_ba += ba.0;
        c.bytes_ba += ba.1;
        c.start_us = earliest(c.start_us, d.start);
        c.end_us = latest(c.end_us, d.end);
        if let Some(v) = verdict {
            c.max_p_attack = Some(c.max_p_attack.map_or(v.p_attack, |m| m.max(v.p_attack)));
        }
        if flagged {
            c.flagged += 1;
            c.families.insert(verdict.map_or(AttackFamily::UnknownAttack, |v| v.family));
        }
        for (addr, peer, sent) in [(src, dst, true), (dst, src, false)] {
            let e = *end_index.entry(addr).or_insert_with(|| {
                out.endpoints.push(Endpoint {
                    address: addr,
                    flows: 0,
                    flows_started: 0,
                    packets_sent: 0,
                    packets_received: 0,
                    bytes_sent: 0,
                    bytes_received: 0,
                    peers: 0,
                    ports_touched: 0,
                    start_us: None,
                    end_us: None,
                    flagged: 0,
                    findings: 0,
                    families: FamilySet::default(),
                });
                out.endpoints.len() - 1
            });
            let ep = &mut out.endpoints[e];
            ep.flows += 1;
            // The flow's forward direction is what its source sent.
            let (tx, rx) = if sent {
                ((d.packets_fwd, d.bytes_fwd), (d.packets_bwd, d.bytes_bwd))
            } else {
                ((d.packets_bwd, d.bytes_bwd), (d.packets_fwd, d.bytes_fwd))
            };
            ep.packets_sent += tx.0;
            ep.bytes_sent += tx.1;
            ep.packets_received += rx.0;
            ep.bytes_received += rx.1;
            ep.start_us = earliest(ep.start_us, d.start);
            ep.end_us = latest(ep.end_us, d.end);
            if peers.insert((e, peer)) {
                ep.peers += 1;
            }
            if sent {
                ep.flows_started += 1;
                if let Some(port) = meta.dst_port {
                    if ports.insert((e, port)) {
                        ep.ports_touched += 1;
                    }
                }
            }
            if flagged {
                ep.flagged += 1;
                ep.families.insert(verdict.map_or(AttackFamily::UnknownAttack, |v| v.family));
            }
        }
    }
    if let Some(findings) = findings {
        for f in &findings.findings {
            for addr in f.source.into_iter().chain(f.target) {
                if let Some(&e) = end_index.get(&addr) {
                    out.endpoints[e].findings += 1;
                }
            }
        }
    }
    out
}

/// The columns the conversations table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversationColumn {
    AddressA,
    AddressB,
    Protocol,
    Flows,
    PacketsAb,
    PacketsBa,
    BytesAb,
    BytesBa,
    Start,
    End,
    Duration,
    Flagged,
    MaxPAttack,
}

/// The columns the endpoints table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointColumn {
    Address,
    Flows,
    PacketsSent,
    PacketsReceived,
    BytesSent,
    BytesReceived,
    Peers,
    PortsTouched,
    Start,
    Flagged,
    Findings,
}

/// A filter and an order for one of the aggregate tables.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateQuery<C> {
    /// Part of an address, a protocol name or a family name.
    pub text: String,
    /// Only rows with at least one flagged flow.
    pub flagged_only: bool,
    pub sort: C,
    pub descending: bool,
}

impl<C> AggregateQuery<C> {
    pub fn new(sort: C) -> Self {
        AggregateQuery { text: String::new(), flagged_only: false, sort, descending: true }
    }
}

fn ordered(ord: Ordering, descending: bool) -> Ordering {
    if descending { ord.reverse() } else { ord }
}

fn text_matches(needle: &str, fields: &[String]) -> bool {
    needle.is_empty() || fields.iter().any(|f| f.to_lowercase().contains(needle))
}

/// Indices into `conversations` that pass `query`, in its order (ties keep first appearance).
pub fn conversation_order(conversations: &[Conversation], query: &AggregateQuery<ConversationColumn>) -> Vec<u32> {
    let needle = query.text.trim().to_lowercase();
    let mut order: Vec<u32> = (0..conversations.len() as u32)
        .filter(|&i| {
            let c = &conversations[i as usize];
            (!query.flagged_only || c.flagged > 0)
                && text_matches(
                    &needle,
                    &[c.a.to_string(), c.b.to_string(), protocol_name(c.protocol), c.families.names()],
                )
        })
        .collect();
    use ConversationColumn as C;
    order.sort_by(|&x, &y| {
        let (x, y) = (&conversations[x as usize], &conversations[y as usize]);
        let ord = match query.sort {
            C::AddressA => x.a.cmp(&y.a),
            C::AddressB => x.b.cmp(&y.b),
            C::Protocol => x.protocol.cmp(&y.protocol),
            C::Flows => x.flows.cmp(&y.flows),
            C::PacketsAb => x.packets_ab.cmp(&y.packets_ab),
            C::PacketsBa => x.packets_ba.cmp(&y.packets_ba),
            C::BytesAb => x.bytes_ab.cmp(&y.bytes_ab),
            C::BytesBa => x.bytes_ba.cmp(&y.bytes_ba),
            C::Start => x.start_us.cmp(&y.start_us),
            C::End => x.end_us.cmp(&y.end_us),
            C::Duration => x.duration_s().unwrap_or(-1.0).total_cmp(&y.duration_s().unwrap_or(-1.0)),
            C::Flagged => x.flagged.cmp(&y.flagged),
            C::MaxPAttack => x.max_p_attack.unwrap_or(-1.0).total_cmp(&y.max_p_attack.unwrap_or(-1.0)),
        };
        ordered(ord, query.descending)
    });
    order
}

/// Indices into `endpoints` that pass `query`, in its order (ties keep first appearance).
pub fn endpoint_order(endpoints: &[Endpoint], query: &AggregateQuery<EndpointColumn>) -> Vec<u32> {
    let needle = query.text.trim().to_lowercase();
    let mut order: Vec<u32> = (0..endpoints.len() as u32)
        .filter(|&i| {
            let e = &endpoints[i as usize];
            (!query.flagged_only || e.flagged > 0)
                && text_matches(&needle, &[e.address.to_string(), e.families.names()])
        })
        .collect();
    use EndpointColumn as C;
    order.sort_by(|&x, &y| {
        let (x, y) = (&endpoints[x as usize], &endpoints[y as usize]);
        let ord = match query.sort {
            C::Address => x.address.cmp(&y.address),
            C::Flows => x.flows.cmp(&y.flows),
            C::PacketsSent => x.packets_sent.cmp(&y.packets_sent),
            C::PacketsReceived => x.packets_received.cmp(&y.packets_received),
            C::BytesSent => x.bytes_sent.cmp(&y.bytes_sent),
            C::BytesReceived => x.bytes_received.cmp(&y.bytes_received),
            C::Peers => x.peers.cmp(&y.peers),
            C::PortsTouched => x.ports_touched.cmp(&y.ports_touched),
            C::Start => x.start_us.cmp(&y.start_us),
            C::Flagged => x.flagged.cmp(&y.flagged),
            C::Findings => x.findings.cmp(&y.findings),
        };
        ordered(ord, query.descending)
    });
    order
}

/// "TCP", "UDP", "ICMP", the number otherwise, "" when unknown.
pub fn protocol_name(p: Option<u8>) -> String {
    match p {
        Some(6) => "TCP".into(),
        Some(17) => "UDP".into(),
        Some(1) => "ICMP".into(),
        Some(58) => "ICMPv6".into(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// What a pivot narrows the flows table to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pivot {
    /// Every flow between two addresses (either way) over one protocol.
    Conversation { a: IpAddr, b: IpAddr, protocol: Option<u8> },
    /// Every flow from or to an address.
    Address(IpAddr),
    /// Every flow from or to a port.
    Port(u16),
    /// The flows a host-level finding rests on (`index` into the batch's findings; `label`
    /// is how the finding reads). The flows table applies it as `TableQuery::finding`.
    Finding { index: usize, label: String },
}

impl Pivot {
    pub fn matches(&self, m: &FlowMeta) -> bool {
        match self {
            &Pivot::Conversation { a, b, protocol } => {
                m.protocol == protocol
                    && ((m.src_ip() == Some(a) && m.dst_ip() == Some(b))
                        || (m.src_ip() == Some(b) && m.dst_ip() == Some(a)))
            }
            &Pivot::Address(x) => m.src_ip() == Some(x) || m.dst_ip() == Some(x),
            &Pivot::Port(p) => m.src_port == Some(p) || m.dst_port == Some(p),
            // Membership is by row, not by address: see `flow_query::compute_order`.
            Pivot::Finding { .. } => true,
        }
    }
}

impl std::fmt::Display for Pivot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pivot::Conversation { a, b, protocol } => {
                let p = protocol_name(*protocol);
                write!(f, "{a} and {b}{}", if p.is_empty() { String::new() } else { format!(" over {p}") })
            }
            Pivot::Address(a) => write!(f, "address {a}"),
            Pivot::Port(p) => write!(f, "port {p}"),
            Pivot::Finding { label, .. } => write!(f, "the finding {label}"),
        }
    }
}

/// A pivot as a filter: only its flows, or every flow but its.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PivotFilter {
    pub pivot: Pivot,
    pub exclude: bool,
}

impl PivotFilter {
    pub fn only(pivot: Pivot) -> Self {
        PivotFilter { pivot, exclude: false }
    }
    pub fn without(pivot: Pivot) -> Self {
        PivotFilter { pivot, exclude: true }
    }
    pub fn keeps(&self, m: &FlowMeta) -> bool {
        self.pivot.matches(m) != self.exclude
    }
}

impl std::fmt::Display for PivotFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exclude {
            write!(f, "every flow but those of {}", self.pivot)
        } else {
            write!(f, "the flows of {}", self.pivot)
        }
    }
}
