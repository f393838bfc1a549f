//! Decoding one frame into the few facts a flow needs, with etherparse's lax slicer (lax so a
//! frame cut by the snap length still yields its headers and true lengths).

use std::net::IpAddr;

use etherparse::{
    EtherType, LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket, LinuxSllProtocolType, LinuxSllSlice, TcpSlice,
    TransportSlice, UdpSlice,
};

use super::reader::{Frame, link};
use super::report::SkipReason;

/// TCP flag bits, in header order.
pub mod flag {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// What a flow needs from one packet.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketInfo {
    /// 1-based frame number in the capture.
    pub number: u64,
    /// Microseconds since the epoch.
    pub ts_us: i64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    /// Transport payload bytes, from the IP length fields (not the captured bytes), as
    /// CICFlowMeter's "packet length".
    pub payload: u32,
    /// Transport header bytes (TCP data offset × 4, 8 for UDP and ICMP).
    pub header: u32,
    pub flags: u8,
    pub window: u16,
    /// IP identification (IPv4) or flow label (IPv6) and TCP sequence number: with the other
    /// fields they tell a duplicated frame from a retransmission.
    pub ip_id: u32,
    pub seq: u32,
    /// Set on a first fragment that has more fragments coming.
    pub fragment: Option<FragKey>,
    /// What the TCP segment's data starts: an HTTP request or response ([`super::http`]).
    pub http: super::http::SegmentMark,
}

/// Identifies the fragments of one IP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub id: u32,
}

/// A non-first fragment: bytes that belong to the flow its first fragment opened.
#[derive(Debug, Clone, PartialEq)]
pub struct FragmentInfo {
    pub number: u64,
    pub ts_us: i64,
    pub key: FragKey,
    pub payload: u32,
    /// Where its bytes start in the datagram's IP payload.
    pub offset: u32,
    /// Its first bytes (up to a TCP header's most), for a first fragment too short to hold
    /// the transport header (`ShortHead`).
    pub head: Box<[u8]>,
}

/// A first fragment too short to hold its transport header: `nmap -f` splits a probe's TCP
/// header over IP fragments of 8 bytes, so its flags and window are only known once the
/// following fragments are read ([`ShortHead::complete`]). The ports are in its first four
/// bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ShortHead {
    /// The packet as far as known (addresses, protocol, ports, fragment key).
    pub info: PacketInfo,
    /// The transport header bytes so far, from offset 0.
    pub bytes: Vec<u8>,
    /// The first fragment's IP payload length.
    pub ip_payload_len: u32,
}

/// The most bytes a transport header takes (TCP with every option).
pub const MAX_TRANSPORT_HEADER: usize = 60;

impl ShortHead {
    /// Appends a following fragment's first bytes when they continue the header (the
    /// fragments of one datagram may arrive in any order: `fragments` are all of them so far).
    /// Returns the packet once the header is whole.
    pub fn complete(&mut self, fragments: &mut [FragmentInfo]) -> Option<PacketInfo> {
        fragments.sort_by_key(|f| f.offset);
        for f in fragments.iter() {
            if f.offset as usize == self.bytes.len() && self.bytes.len() < MAX_TRANSPORT_HEADER {
                let take = f.head.len().min(MAX_TRANSPORT_HEADER - self.bytes.len());
                self.bytes.extend_from_slice(&f.head[..take]);
            }
        }
        let mut info = self.info.clone();
        let header_len = match info.proto {
            PROTO_TCP => fill_tcp(&mut info, &TcpSlice::from_slice(&self.bytes).ok()?),
            PROTO_UDP => fill_udp(&mut info, &UdpSlice::from_slice_lax(&self.bytes).ok()?),
            _ => return None,
        };
        info.header = clamp_u32(header_len);
        info.payload = self.ip_payload_len.saturating_sub(info.header);
        Some(info)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Packet(PacketInfo),
    Fragment(FragmentInfo),
    ShortHead(ShortHead),
}

/// Decodes a frame of any supported link type.
pub fn decode(frame: &Frame<'_>) -> Result<Decoded, SkipReason> {
    let sliced = match frame.link_type {
        link::ETHERNET => {
            let sliced = LaxSlicedPacket::from_ethernet(frame.data).map_err(|_| SkipReason::MalformedHeader)?;
            match pppoe_ip(&sliced) {
                Some(ip) => LaxSlicedPacket::from_ip(ip).map_err(|_| SkipReason::MalformedHeader)?,
                None => sliced,
            }
        }
        link::NULL | link::LOOP => {
            let body = frame.data.get(4..).ok_or(SkipReason::MalformedHeader)?;
            LaxSlicedPacket::from_ip(body).map_err(|_| not_ip_or_malformed(body))?
        }
        link::RAW | link::RAW_BSD | link::RAW_BSD2 | link::IPV4 | link::IPV6 => {
            LaxSlicedPacket::from_ip(frame.data).map_err(|_| not_ip_or_malformed(frame.data))?
        }
        link::LINUX_SLL => {
            let sll = LinuxSllSlice::from_slice(frame.data).map_err(|_| SkipReason::MalformedHeader)?;
            match sll.protocol_type() {
                LinuxSllProtocolType::EtherType(et) => LaxSlicedPacket::from_ether_type(et, sll.payload_slice()),
                _ => return Err(SkipReason::NotIp),
            }
        }
        link::LINUX_SLL2 => {
            // etherparse has no SLL2 slicer: the 20-byte header starts with the EtherType.
            let proto = frame.data.get(0..2).ok_or(SkipReason::MalformedHeader)?;
            let body = frame.data.get(20..).ok_or(SkipReason::MalformedHeader)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([proto[0], proto[1]])), body)
        }
        _ => return Err(SkipReason::UnknownLinkType),
    };
    from_sliced(frame, &sliced)
}

/// PPPoE session traffic (EtherType 0x8864), which etherparse does not slice: a 6-byte PPPoE
/// header and a 2-byte PPP protocol (0x0021 IPv4, 0x0057 IPv6) precede the IP packet.
fn pppoe_ip<'a>(sliced: &LaxSlicedPacket<'a>) -> Option<&'a [u8]> {
    if sliced.net.is_some() {
        return None;
    }
    let payload = match (sliced.link_exts.last(), &sliced.link) {
        (Some(etherparse::LaxLinkExtSlice::Vlan(v)), _) => v.payload(),
        (None, Some(etherparse::LinkSlice::Ethernet2(e))) => e.payload(),
        _ => return None,
    };
    if payload.ether_type != EtherType(0x8864) {
        return None;
    }
    let proto = payload.payload.get(6..8)?;
    match proto {
        [0x00, 0x21] | [0x00, 0x57] => payload.payload.get(8..),
        _ => None,
    }
}

fn not_ip_or_malformed(body: &[u8]) -> SkipReason {
    match body.first().map(|b| b >> 4) {
        Some(4) | Some(6) => SkipReason::MalformedHeader,
        _ => SkipReason::NotIp,
    }
}

/// Network-layer facts common to IPv4 and IPv6.
struct NetFacts<'a> {
    src: IpAddr,
    dst: IpAddr,
    payload: &'a LaxIpPayloadSlice<'a>,
    /// Transport bytes according to the IP header (survives snap-length cuts).
    ip_payload_len: usize,
    id: u32,
    /// Fragment offset in 8-byte units and more-fragments flag, when fragmented.
    frag: Option<(u16, bool)>,
}

fn net_facts<'a>(net: &'a LaxNetSlice<'a>) -> Option<NetFacts<'a>> {
    match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let payload = v4.payload();
            let ip_payload_len = if payload.incomplete {
                h.payload_len().map_or(payload.payload.len(), usize::from)
            } else {
                payload.payload.len()
            };
            let offset = h.fragments_offset().value();
            let frag = (offset != 0 || h.more_fragments()).then_some((offset, h.more_fragments()));
            Some(NetFacts {
                src: IpAddr::from(h.source_addr()),
                dst: IpAddr::from(h.destination_addr()),
                payload,
                ip_payload_len,
                id: u32::from(h.identification()),
                frag,
            })
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let payload = v6.payload();
            let exts = v6.extensions();
            let ip_payload_len = if payload.incomplete {
                usize::from(h.payload_length()).saturating_sub(exts.slice().len())
            } else {
                payload.payload.len()
            };
            let (frag, id) = match ipv6_fragment(h.next_header().0, exts.slice()) {
                Some((offset, more, id)) => (Some((offset, more)), id),
                None => (None, h.flow_label().value()),
            };
            Some(NetFacts {
                src: IpAddr::from(h.source_addr()),
                dst: IpAddr::from(h.destination_addr()),
                payload,
                ip_payload_len,
                id,
                frag,
            })
        }
        LaxNetSlice::Arp(_) => None,
    }
}

/// Finds the IPv6 fragment header among the extension headers etherparse sliced.
///
/// Walked here with bounds checks because etherparse 0.21's extension iterator assumes a
/// well-formed chain and reads out of bounds on some lax-parsed packets (found by fuzzing).
fn ipv6_fragment(first: u8, exts: &[u8]) -> Option<(u16, bool, u32)> {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const AUTH: u8 = 51;
    const DEST_OPTS: u8 = 60;
    let mut next = first;
    let mut at = 0usize;
    loop {
        let rest = exts.get(at..)?;
        let len = match next {
            FRAGMENT => {
                let f = etherparse::Ipv6FragmentHeaderSlice::from_slice(rest).ok()?;
                return f
                    .is_fragmenting_payload()
                    .then(|| (f.fragment_offset().value(), f.more_fragments(), f.identification()));
            }
            HOP_BY_HOP | ROUTING | DEST_OPTS => (usize::from(*rest.get(1)?) + 1) * 8,
            AUTH => (usize::from(*rest.get(1)?) + 2) * 4,
            _ => return None,
        };
        next = *rest.first()?;
        at += len;
    }
}

fn from_sliced(frame: &Frame<'_>, sliced: &LaxSlicedPacket<'_>) -> Result<Decoded, SkipReason> {
    let Some(net) = &sliced.net else {
        return Err(if sliced.stop_err.is_some() { SkipReason::MalformedHeader } else { SkipReason::NotIp });
    };
    let facts = net_facts(net).ok_or(SkipReason::NotIp)?;
    let proto = facts.payload.ip_number.0;
    if !matches!(proto, PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ICMPV6) {
        return Err(SkipReason::OtherProtocol);
    }
    let frag_key = FragKey { src: facts.src, dst: facts.dst, proto, id: facts.id };
    if let Some((offset, _)) = facts.frag
        && offset != 0
    {
        let data = facts.payload.payload;
        return Ok(Decoded::Fragment(FragmentInfo {
            number: frame.number,
            ts_us: frame.ts_us,
            key: frag_key,
            payload: clamp_u32(facts.ip_payload_len),
            offset: u32::from(offset) * 8,
            head: data[..data.len().min(MAX_TRANSPORT_HEADER)].into(),
        }));
    }
    let first_of_more = matches!(facts.frag, Some((0, true)));
    let mut info = match transport(frame, &facts, sliced, proto) {
        Ok(info) => info,
        Err(SkipReason::MalformedHeader) if first_of_more && matches!(proto, PROTO_TCP | PROTO_UDP) => {
            return Ok(Decoded::ShortHead(short_head(frame, &facts, proto, frag_key)));
        }
        Err(e) => return Err(e),
    };
    if first_of_more {
        info.fragment = Some(frag_key);
    }
    Ok(Decoded::Packet(info))
}

/// The packet's network facts, before its transport header is read.
fn bare_packet(frame: &Frame<'_>, facts: &NetFacts<'_>, proto: u8) -> PacketInfo {
    PacketInfo {
        number: frame.number,
        ts_us: frame.ts_us,
        src: facts.src,
        dst: facts.dst,
        sport: 0,
        dport: 0,
        proto,
        payload: 0,
        header: 0,
        flags: 0,
        window: 0,
        ip_id: facts.id,
        seq: 0,
        fragment: None,
        http: super::http::SegmentMark::default(),
    }
}

/// A first fragment whose transport header continues in the next fragments.
fn short_head(frame: &Frame<'_>, facts: &NetFacts<'_>, proto: u8, key: FragKey) -> ShortHead {
    let bytes = facts.payload.payload;
    let port = |at: usize| bytes.get(at..at + 2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    ShortHead {
        info: PacketInfo { sport: port(0), dport: port(2), fragment: Some(key), ..bare_packet(frame, facts, proto) },
        bytes: bytes[..bytes.len().min(MAX_TRANSPORT_HEADER)].to_vec(),
        ip_payload_len: clamp_u32(facts.ip_payload_len),
    }
}

/// Reads the transport header: from etherparse's slice when it sliced one, else (first
/// fragments, which etherparse does not slice) from the IP payload directly.
fn transport(
    frame: &Frame<'_>,
    facts: &NetFacts<'_>,
    sliced: &LaxSlicedPacket<'_>,
    proto: u8,
) -> Result<PacketInfo, SkipReason> {
    let mut info = bare_packet(frame, facts, proto);
    let bytes = facts.payload.payload;
    let cut = |e: SkipReason| {
        if facts.payload.incomplete { SkipReason::CutBeforeTransport } else { e }
    };
    let header_len = match (&sliced.transport, proto) {
        (Some(TransportSlice::Tcp(t)), _) => fill_tcp(&mut info, t),
        (None, PROTO_TCP) => {
            let t = TcpSlice::from_slice(bytes).map_err(|_| cut(SkipReason::MalformedHeader))?;
            fill_tcp(&mut info, &t)
        }
        (Some(TransportSlice::Udp(u)), _) => fill_udp(&mut info, u),
        (None, PROTO_UDP) => {
            let u = UdpSlice::from_slice_lax(bytes).map_err(|_| cut(SkipReason::MalformedHeader))?;
            fill_udp(&mut info, &u)
        }
        (Some(TransportSlice::Icmpv4(_) | TransportSlice::Icmpv6(_)), _) | (None, PROTO_ICMP | PROTO_ICMPV6) => {
            if bytes.len() < 8 && facts.ip_payload_len < 8 {
                return Err(cut(SkipReason::MalformedHeader));
            }
            8
        }
        _ => return Err(cut(SkipReason::MalformedHeader)),
    };
    info.header = clamp_u32(header_len);
    info.payload = clamp_u32(facts.ip_payload_len.saturating_sub(header_len));
    if proto == PROTO_TCP && info.payload > 0 {
        // The captured bytes (a short snap length may hold less than the segment).
        info.http = bytes.get(header_len..).map_or_else(Default::default, super::http::mark_segment);
    }
    Ok(info)
}

fn fill_tcp(info: &mut PacketInfo, t: &TcpSlice<'_>) -> usize {
    info.sport = t.source_port();
    info.dport = t.destination_port();
    info.window = t.window_size();
    info.seq = t.sequence_number();
    let mut f = 0;
    for (on, bit) in [
        (t.fin(), flag::FIN),
        (t.syn(), flag::SYN),
        (t.rst(), flag::RST),
        (t.psh(), flag::PSH),
        (t.ack(), flag::ACK),
        (t.urg(), flag::URG),
        (t.ece(), flag::ECE),
        (t.cwr(), flag::CWR),
    ] {
        if on {
            f |= bit;
        }
    }
    info.flags = f;
    t.header_len()
}

fn fill_udp(info: &mut PacketInfo, u: &UdpSlice<'_>) -> usize {
    info.sport = u.source_port();
    info.dport = u.destination_port();
    8
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
