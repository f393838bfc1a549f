//! The seven detectors. Each selects the flows that count for it, groups them by a key (sorted,
//! so groups and findings come out in the same order every run), slides a time window over
//! each group and turns each dense stretch into a [`Finding`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::thresholds::{
    ADDR_SCAN_HOSTS, ADDR_SCAN_WINDOW_US, FAILED_LOGIN_MAX_REPLY_BYTES, FLOOD_RATE_FLOWS, FLOOD_RATE_WINDOW_US,
    FLOOD_SOURCES, FLOOD_SOURCES_WINDOW_US, PORT_SCAN_PORTS, PORT_SCAN_WINDOW_US, SCANNER_WINDOW_US,
    SQLI_NOTICE_REQUESTS, SQLI_WINDOW_US, WEB_SCAN_CLIENT_ERRORS, WEB_SCAN_WINDOW_US, login_service,
};
use super::window::{dense_ranges, heavy_ranges, merge};
use super::{Finding, FindingKind};
use crate::features::FeatureId;
use crate::ingest::capture::FlowRecord;
use crate::ingest::capture::http::HttpEvidence;
use crate::ingest::{AttackFamily, FlowTable};

const TCP: u8 = 6;
const UDP: u8 = 17;

/// What a flow was, as far as host-level detection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attempt {
    /// A connection attempt that failed: TCP with a SYN and no payload in either direction
    /// (no packet with more than `ETHERNET_PADDING_MAX` bytes, the 2017 tool's Ethernet padding)
    /// (Zeek's scan.zeek counts exactly these: rejected, unanswered, or reset before data),
    /// or UDP that got no packet back (the UDP form of an unanswered SYN; Zeek's scan
    /// detection is TCP-only, nmap's UDP scan is not). The SYN is read from the SYN or the
    /// PSH count: the 2017 CICFlowMeter prints the first packet's flags in Java HashMap
    /// order, which puts its SYN in the PSH column (see `capture::flow`), and a PSH without
    /// any payload does not occur in the other tools' flows. Requiring the SYN keeps out the
    /// payload-less leftovers of connections (a last ACK, a lone FIN) that the 2017 tool
    /// makes flows of: on the UNB benign days they would be taken for sweeps to port 443.
    Failed,
    /// TCP to a login service with data both ways and a short reply: a rejected guess.
    FailedLogin,
    /// Anything else (a real exchange, ICMP, other protocols): not counted by any detector.
    Other,
}

/// One flow with everything the detectors need.
#[derive(Debug, Clone, Copy)]
pub(super) struct HostFlow {
    pub row: u32,
    pub t: i64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub dport: u16,
    pub proto: u8,
    pub attempt: Attempt,
    /// What the flow's HTTP said (captures only; see `ingest::capture::http`).
    pub http: HttpEvidence,
}

/// The flows of `table` that have source and destination address, destination port,
/// protocol and start time, towards a single host (multicast and broadcast destinations are
/// not victims: many hosts sending to 239.255.255.250 is how SSDP works).
pub(super) fn usable_flows(table: &FlowTable) -> Vec<HostFlow> {
    let mut out = Vec::with_capacity(table.len());
    for (r, m) in table.meta().iter().enumerate() {
        let (Some(src), Some(dst), Some(dport), Some(proto), Some(t)) =
            (m.src_ip(), m.dst_ip(), m.dst_port, m.protocol, m.timestamp_us())
        else {
            continue;
        };
        let Ok(row) = u32::try_from(r) else { break };
        let attempt = if is_single_host(dst) { classify(proto, dport, table.row(r)) } else { Attempt::Other };
        let http = table.sources.get(m.source as usize).map(|s| s.payload.http_at(m.line)).unwrap_or_default();
        out.push(HostFlow { row, t, src, dst, dport, proto, attempt, http });
    }
    out
}

/// [`usable_flows`] of the records of a capture as the extractor gives them (row `i` is record
/// `i`), with their addresses as they are: a server that reads captures without addresses
/// (`serve`) can still look across their flows.
pub(super) fn usable_records(records: &[FlowRecord]) -> Vec<HostFlow> {
    let mut out = Vec::with_capacity(records.len());
    let mut row_values = [0f32; crate::features::N_FEATURES];
    for (r, rec) in records.iter().enumerate() {
        let Ok(row) = u32::try_from(r) else { break };
        let attempt = if is_single_host(rec.dst) {
            row_values.iter_mut().zip(&rec.features).for_each(|(v, &f)| *v = f as f32);
            classify(rec.proto, rec.dport, &row_values)
        } else {
            Attempt::Other
        };
        let (src, dst, dport, proto, t, http) = (rec.src, rec.dst, rec.dport, rec.proto, rec.start_us, rec.http);
        out.push(HostFlow { row, t, src, dst, dport, proto, attempt, http });
    }
    out
}

fn is_single_host(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => !(v.is_multicast() || v.is_broadcast() || v.is_unspecified()),
        IpAddr::V6(v) => !(v.is_multicast() || v.is_unspecified()),
    }
}

/// The most payload bytes a packet that carries none shows in the 2017 CICFlowMeter's flows:
/// that tool counted the Ethernet trailer of short frames as payload. A frame is at least 60
/// bytes (IEEE 802.3, without the FCS), an IPv4 TCP segment without data 54 (6 bytes of
/// padding) or 58 with an MSS option (2). The original release's port scans are SYN → RST
/// flows of "2" and "6" bytes; read as payload, no scan of that release was ever seen (and
/// its probes of an open SSH port were taken for login guesses). Our extractor and the
/// corrected tool count IP payload only, so for their flows this changes nothing but a
/// handshake whose every packet carries at most 6 real bytes, which is no exchange of data
/// either.
const ETHERNET_PADDING_MAX: f32 = crate::ingest::capture::extractor::TCP_ETHERNET_PADDING_MAX as f32;

fn classify(proto: u8, dport: u16, row: &[f32]) -> Attempt {
    let f = |id: FeatureId| row[id as usize];
    let sent = f(FeatureId::TotalLenFwdPackets);
    let replied = f(FeatureId::TotalLenBwdPackets);
    let no_data =
        f(FeatureId::FwdPacketLenMax) <= ETHERNET_PADDING_MAX && f(FeatureId::BwdPacketLenMax) <= ETHERNET_PADDING_MAX;
    match proto {
        TCP if (f(FeatureId::SynFlagCount) >= 1.0 || f(FeatureId::PshFlagCount) >= 1.0) && no_data => Attempt::Failed,
        TCP if login_service(dport).is_some()
            && sent > 0.0
            && replied > 0.0
            && replied <= FAILED_LOGIN_MAX_REPLY_BYTES =>
        {
            Attempt::FailedLogin
        }
        UDP if f(FeatureId::TotalBwdPackets) == 0.0 => Attempt::Failed,
        _ => Attempt::Other,
    }
}

/// The flows of kind `attempt`, sorted by `key`, then time and row, and split into groups of
/// equal key.
fn groups<K: Ord + Copy>(flows: &[HostFlow], attempt: Attempt, key: impl Fn(&HostFlow) -> K) -> Vec<Vec<HostFlow>> {
    groups_where(flows, |f| f.attempt == attempt, key)
}

/// [`groups`] of the flows that pass `keep`.
fn groups_where<K: Ord + Copy>(
    flows: &[HostFlow],
    keep: impl Fn(&HostFlow) -> bool,
    key: impl Fn(&HostFlow) -> K,
) -> Vec<Vec<HostFlow>> {
    let mut selected: Vec<HostFlow> = flows.iter().filter(|f| keep(f)).copied().collect();
    selected.sort_by(|a, b| (key(a), a.t, a.row).cmp(&(key(b), b.t, b.row)));
    selected.chunk_by(|a, b| key(a) == key(b)).map(<[HostFlow]>::to_vec).collect()
}

fn times(group: &[HostFlow]) -> Vec<i64> {
    group.iter().map(|f| f.t).collect()
}

/// A finding over `flows` (one dense stretch of one group).
fn finding(kind: FindingKind, family: AttackFamily, flows: &[HostFlow], rule: String) -> Finding {
    let sources: BTreeSet<IpAddr> = flows.iter().map(|f| f.src).collect();
    let targets: BTreeSet<IpAddr> = flows.iter().map(|f| f.dst).collect();
    let ports: BTreeSet<u16> = flows.iter().map(|f| f.dport).collect();
    let mut rows: Vec<u32> = flows.iter().map(|f| f.row).collect();
    rows.sort_unstable();
    let single = |set: &BTreeSet<IpAddr>| if set.len() == 1 { set.iter().next().copied() } else { None };
    Finding {
        kind,
        family,
        source: single(&sources),
        sources: sources.len(),
        target: single(&targets),
        targets: targets.len(),
        protocol: flows.first().map_or(0, |f| f.proto),
        ports: ports.into_iter().collect(),
        first_us: flows.iter().map(|f| f.t).min().unwrap_or(0),
        last_us: flows.iter().map(|f| f.t).max().unwrap_or(0),
        flows: rows.len(),
        rows,
        rule,
    }
}

/// One source, failed attempts to many ports of one host.
pub(super) fn vertical_scans(flows: &[HostFlow]) -> Vec<Finding> {
    let mut out = Vec::new();
    for group in groups(flows, Attempt::Failed, |f| (f.src, f.dst, f.proto)) {
        let ports: Vec<u16> = group.iter().map(|f| f.dport).collect();
        for (s, e) in dense_ranges(&times(&group), &ports, PORT_SCAN_WINDOW_US, PORT_SCAN_PORTS) {
            let part = &group[s..=e];
            let rule = format!(
                "failed connection attempts to at least {PORT_SCAN_PORTS} distinct ports of one host within 5 minutes \
                 (Zeek scan.zeek port_scan_threshold)"
            );
            out.push(finding(FindingKind::VerticalScan, AttackFamily::Portscan, part, rule));
        }
    }
    out
}

/// One source, failed attempts to one port of many hosts.
pub(super) fn horizontal_scans(flows: &[HostFlow]) -> Vec<Finding> {
    let mut out = Vec::new();
    for group in groups(flows, Attempt::Failed, |f| (f.src, f.proto, f.dport)) {
        let hosts: Vec<IpAddr> = group.iter().map(|f| f.dst).collect();
        for (s, e) in dense_ranges(&times(&group), &hosts, ADDR_SCAN_WINDOW_US, ADDR_SCAN_HOSTS) {
            let rule = format!(
                "failed connection attempts to one port of at least {ADDR_SCAN_HOSTS} distinct hosts within 5 minutes \
                 (Zeek scan.zeek addr_scan_threshold)"
            );
            out.push(finding(FindingKind::HorizontalScan, AttackFamily::Portscan, &group[s..=e], rule));
        }
    }
    out
}

/// Failed attempts towards one service of one host, at a flood's rate or from many sources.
/// `by_rate` is false when the start times are too coarse to count flows per second.
pub(super) fn floods(flows: &[HostFlow], by_rate: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for group in groups(flows, Attempt::Failed, |f| (f.dst, f.proto, f.dport)) {
        let t = times(&group);
        let rows: Vec<u32> = group.iter().map(|f| f.row).collect();
        let sources: Vec<IpAddr> = group.iter().map(|f| f.src).collect();
        let by_rate =
            if by_rate { dense_ranges(&t, &rows, FLOOD_RATE_WINDOW_US, FLOOD_RATE_FLOWS) } else { Vec::new() };
        let by_sources = dense_ranges(&t, &sources, FLOOD_SOURCES_WINDOW_US, FLOOD_SOURCES);
        for (s, e) in merge(by_rate.iter().chain(&by_sources).copied().collect()) {
            let rate = by_rate.iter().any(|&(a, b)| a <= e && s <= b);
            let spread = by_sources.iter().any(|&(a, b)| a <= e && s <= b);
            let why = match (rate, spread) {
                (true, true) => format!(
                    "at least {FLOOD_RATE_FLOWS} per second (Snort rate_filter example) and from at least \
                     {FLOOD_SOURCES} sources within 5 minutes"
                ),
                (true, false) => format!("at least {FLOOD_RATE_FLOWS} per second (Snort rate_filter example)"),
                _ => format!("from at least {FLOOD_SOURCES} distinct sources within 5 minutes"),
            };
            let part = &group[s..=e];
            let one_source = part.iter().all(|f| f.src == part[0].src);
            // One attacking host is a DoS; more than one (or spoofed ones) a DDoS.
            let family = if one_source { AttackFamily::Dos } else { AttackFamily::Ddos };
            let rule = format!("failed connection attempts towards one service of one host {why}");
            out.push(finding(FindingKind::Flood, family, part, rule));
        }
    }
    out
}

/// Many rejected-looking logins from one source to one login service of one host.
pub(super) fn brute_force(flows: &[HostFlow]) -> Vec<Finding> {
    let mut out = Vec::new();
    for group in groups(flows, Attempt::FailedLogin, |f| (f.src, f.dst, f.dport)) {
        let Some(service) = group.first().and_then(|f| login_service(f.dport)) else { continue };
        let rows: Vec<u32> = group.iter().map(|f| f.row).collect();
        for (s, e) in dense_ranges(&times(&group), &rows, service.window_us, service.attempts) {
            let rule = format!(
                "at least {} {} logins with at most {FAILED_LOGIN_MAX_REPLY_BYTES} bytes of reply within {} minutes ({})",
                service.attempts,
                service.name,
                service.window_us / 60_000_000,
                service.origin
            );
            out.push(finding(FindingKind::BruteForce, AttackFamily::Bruteforce, &group[s..=e], rule));
        }
    }
    out
}

/// Flows with HTTP requests tagged as SQL injection, from one source to one service of one
/// host; tagged flows within Zeek's 5-minute interval of each other are one finding.
pub(super) fn sql_injections(flows: &[HostFlow]) -> Vec<Finding> {
    let mut out = Vec::new();
    for group in groups_where(flows, |f| f.http.sqli_requests > 0, |f| (f.src, f.dst, f.proto, f.dport)) {
        let rows: Vec<u32> = group.iter().map(|f| f.row).collect();
        for (s, e) in dense_ranges(&times(&group), &rows, SQLI_WINDOW_US, 1) {
            let part = &group[s..=e];
            let requests: u32 = part.iter().map(|f| f.http.sqli_requests).sum();
            let peak = most_requests_within(part, SQLI_WINDOW_US);
            let notice = if peak >= SQLI_NOTICE_REQUESTS { "reaches" } else { "is short of" };
            let rule = format!(
                "{requests} HTTP requests whose unescaped URI matches Zeek's HTTP::match_sql_injection_uri \
                 (detect-sqli.zeek tags each one URI_SQLI); at most {peak} within 5 minutes, which {notice} \
                 the {SQLI_NOTICE_REQUESTS} of Zeek's SQL_Injection_Attacker notice"
            );
            out.push(finding(FindingKind::SqlInjection, AttackFamily::Webattack, part, rule));
        }
    }
    out
}

/// Flows with requests whose User-Agent names a security scanner, from one source to one
/// service of one host, one tool at a time.
pub(super) fn scanner_agents(flows: &[HostFlow]) -> Vec<Finding> {
    let mut out = Vec::new();
    let tool = |f: &HostFlow| f.http.scanner.map_or("", |s| s.token);
    for group in groups_where(flows, |f| f.http.scanner.is_some(), |f| (f.src, f.dst, f.proto, f.dport, tool(f))) {
        let Some(scanner) = group.first().and_then(|f| f.http.scanner) else { continue };
        let rows: Vec<u32> = group.iter().map(|f| f.row).collect();
        for (s, e) in dense_ranges(&times(&group), &rows, SCANNER_WINDOW_US, 1) {
            let part = &group[s..=e];
            let requests: u32 = part.iter().map(|f| f.http.scanner_requests).sum();
            let rule = format!(
                "{requests} HTTP requests whose User-Agent names {} (\"{}\"; OWASP CRS rule 913100, \
                 scanners-user-agents.data)",
                scanner.name, scanner.token
            );
            out.push(finding(FindingKind::ScannerAgent, scanner.family, part, rule));
        }
    }
    out
}

/// Flows whose HTTP answers to one source from one web service were 4xx, at OSSEC's
/// web-scan rate. A flow carries no time per response, so its answers count at its start.
pub(super) fn web_scans(flows: &[HostFlow]) -> Vec<Finding> {
    let mut out = Vec::new();
    for group in groups_where(flows, |f| f.http.client_errors > 0, |f| (f.src, f.dst, f.proto, f.dport)) {
        let errors: Vec<u32> = group.iter().map(|f| f.http.client_errors).collect();
        let threshold = u64::from(WEB_SCAN_CLIENT_ERRORS);
        for (s, e) in heavy_ranges(&times(&group), &errors, WEB_SCAN_WINDOW_US, threshold) {
            let answers: u32 = errors[s..=e].iter().sum();
            let rule = format!(
                "{answers} HTTP answers 401, 403, 404, 405 or 410 to one source from one web service, at least \
                 {WEB_SCAN_CLIENT_ERRORS} within 90 seconds (OSSEC/Wazuh rule 31151, web_scan, which counts every \
                 4xx); answers for images, style sheets, scripts, favicon.ico and robots.txt (rule 31102), fonts and \
                 source maps not counted"
            );
            out.push(finding(FindingKind::WebScan, AttackFamily::Webattack, &group[s..=e], rule));
        }
    }
    out
}

/// The most tagged requests of `flows` (in time order) that start within one `width_us`.
fn most_requests_within(flows: &[HostFlow], width_us: i64) -> u32 {
    let (mut start, mut sum, mut most) = (0, 0u32, 0u32);
    for f in flows {
        sum += f.http.sqli_requests;
        while f.t.saturating_sub(flows[start].t) >= width_us {
            sum -= flows[start].http.sqli_requests;
            start += 1;
        }
        most = most.max(sum);
    }
    most
}

/// The coarsest of minute, second, millisecond and microsecond of which every start time is
/// a multiple: the 2017 release prints start times to the minute, so 600 flows of one
/// minute share one time and a rate per second cannot be read from them.
pub(super) fn clock_resolution_us(flows: &[HostFlow]) -> i64 {
    if flows.len() < 2 {
        return 1;
    }
    [60_000_000, 1_000_000, 1_000].into_iter().find(|&r| flows.iter().all(|f| f.t % r == 0)).unwrap_or(1)
}
