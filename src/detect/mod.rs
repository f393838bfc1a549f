//! Host-level detection: attacks that no single flow shows but the flows of one host do.
//!
//! A port scan is a thousand flows of one packet each, every one of them unremarkable; a SYN
//! flood is the same flow from a thousand spoofed sources. The model scores flows one at a
//! time, so these are found here, over all flows of a table at once, by seven detectors:
//!
//! - **vertical scan**: one source, failed connection attempts to many ports of one host;
//! - **horizontal scan**: one source, failed attempts to one port of many hosts;
//! - **flood**: failed attempts towards one service of one host at a high rate, or from many
//!   sources (dos with one source, ddos with several);
//! - **brute force**: many short login exchanges from one source to one login service;
//! - **SQL injection**: HTTP requests whose URI Zeek's pattern tags as SQL injection, from one
//!   source to one web service;
//! - **scanner User-Agent**: HTTP requests whose User-Agent names a security scanner (OWASP
//!   CRS's list), from one source to one web service;
//! - **web scan**: many 4xx answers to one source from one web service within 90 seconds
//!   (OSSEC's rule).
//!
//! The last three read HTTP in the packets, so they run on captures only: flow records carry
//! no payload.
//!
//! Each rests on the flows' metadata (addresses, ports, protocol, start time) and a few
//! features (SYN count, payload bytes); the thresholds and their origins are in
//! [`thresholds`]. Everything is sorted before it is grouped, so the result is the same on
//! every run; the cost is one sort of the flows per detector, O(n log n).

mod detectors;
pub mod thresholds;
mod window;

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::ingest::capture::FlowRecord;
use crate::ingest::timestamp::format_timestamp;
use crate::ingest::{AttackFamily, FlowTable};

/// The kind of pattern a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    VerticalScan,
    HorizontalScan,
    Flood,
    BruteForce,
    SqlInjection,
    ScannerAgent,
    WebScan,
}

impl FindingKind {
    /// Short tag, the second half of a finding's label ("portscan:vertical").
    pub fn tag(self) -> &'static str {
        match self {
            FindingKind::VerticalScan => "vertical",
            FindingKind::HorizontalScan => "horizontal",
            FindingKind::Flood => "flood",
            FindingKind::BruteForce => "guessing",
            FindingKind::SqlInjection => "sqli",
            FindingKind::ScannerAgent => "scanner",
            FindingKind::WebScan => "webscan",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::VerticalScan => "vertical scan",
            FindingKind::HorizontalScan => "horizontal scan",
            FindingKind::Flood => "flood",
            FindingKind::BruteForce => "brute force",
            FindingKind::SqlInjection => "SQL injection",
            FindingKind::ScannerAgent => "scanner User-Agent",
            FindingKind::WebScan => "web scan",
        }
    }
}

/// One pattern over many flows: who, against what, when, and the flows it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub family: AttackFamily,
    /// The source address, or `None` for many (then `sources` says how many).
    pub source: Option<IpAddr>,
    pub sources: usize,
    /// The target address, or `None` for many (a horizontal scan; `targets` says how many).
    pub target: Option<IpAddr>,
    pub targets: usize,
    /// IP protocol of the flows (6 TCP, 17 UDP).
    pub protocol: u8,
    /// Distinct destination ports of the flows, ascending.
    pub ports: Vec<u16>,
    /// Start of the first and of the last flow, µs (the table's clock).
    pub first_us: i64,
    pub last_us: i64,
    /// Number of flows, `rows.len()`.
    pub flows: usize,
    /// Rows of the table the finding rests on, ascending.
    pub rows: Vec<u32>,
    /// The rule that fired: what was counted, the threshold and where it comes from.
    pub rule: String,
}

impl Finding {
    /// "portscan:vertical", "ddos:flood", "bruteforce:guessing": the family the model would
    /// name and the pattern.
    pub fn label(&self) -> String {
        format!("{}:{}", self.family.name(), self.kind.tag())
    }

    pub fn source_text(&self) -> String {
        match self.source {
            Some(a) => a.to_string(),
            None => format!("many ({} sources)", self.sources),
        }
    }

    pub fn target_text(&self) -> String {
        let host = match self.target {
            Some(a) => a.to_string(),
            None => format!("many ({} hosts)", self.targets),
        };
        format!("{host} {}", self.ports_text())
    }

    /// The ports, listed when few, else counted with their range.
    pub fn ports_text(&self) -> String {
        let proto = match self.protocol {
            6 => "tcp",
            17 => "udp",
            _ => "ip",
        };
        match self.ports.as_slice() {
            [] => String::new(),
            [p] => format!("{proto}/{p}"),
            ps if ps.len() <= 5 => {
                let list: Vec<String> = ps.iter().map(u16::to_string).collect();
                format!("{proto}/{}", list.join(","))
            }
            ps => format!("{} {proto} ports ({}-{})", ps.len(), ps[0], ps[ps.len() - 1]),
        }
    }

    /// Seconds from the first flow's start to the last one's.
    pub fn span_seconds(&self) -> f64 {
        (self.last_us - self.first_us) as f64 / 1e6
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} -> {}, {} flows, {} to {} ({:.1} s)",
            self.label(),
            self.source_text(),
            self.target_text(),
            self.flows,
            format_timestamp(self.first_us),
            format_timestamp(self.last_us),
            self.span_seconds()
        )
    }
}

/// Everything host-level detection found in one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Findings {
    /// Ordered by start time, then kind, source and target.
    pub findings: Vec<Finding>,
    /// Flows with addresses, destination port, protocol and start time: the ones looked at.
    pub flows_considered: usize,
    /// Flows without them (not looked at).
    pub flows_without_context: usize,
    /// Why nothing could be looked for, when nothing could.
    pub not_run: Option<String>,
    /// What could not be looked for in these flows, and why.
    pub notes: Vec<String>,
}

impl Findings {
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// One entry per row of the table (`rows` long): the labels of the findings the flow is
    /// part of, comma-separated, or empty.
    pub fn per_flow(&self, rows: usize) -> Vec<String> {
        self.per_flow_rows(0..rows)
    }

    /// [`Findings::per_flow`] of the flows in `rows` only, indexed from `rows.start`.
    pub fn per_flow_rows(&self, rows: std::ops::Range<usize>) -> Vec<String> {
        self.labels_at(rows.len(), |r| (r as usize).checked_sub(rows.start))
    }

    /// [`Findings::per_flow`] of the flows `rows` (rows of the table, in any order), in their order.
    pub fn per_flow_of(&self, rows: &[u32]) -> Vec<String> {
        let mut positions: Vec<(u32, usize)> = rows.iter().enumerate().map(|(i, &r)| (r, i)).collect();
        positions.sort_unstable();
        self.labels_at(rows.len(), |r| positions.binary_search_by_key(&r, |&(row, _)| row).ok().map(|i| positions[i].1))
    }

    /// `n` cells of finding labels, a flow of row `r` going to cell `position(r)` (if any).
    fn labels_at(&self, n: usize, position: impl Fn(u32) -> Option<usize>) -> Vec<String> {
        let mut out = vec![String::new(); n];
        for f in &self.findings {
            let label = f.label();
            for &r in &f.rows {
                let Some(cell) = position(r).and_then(|i| out.get_mut(i)) else { continue };
                if cell.split(',').any(|l| l == label) {
                    continue;
                }
                if !cell.is_empty() {
                    cell.push(',');
                }
                cell.push_str(&label);
            }
        }
        out
    }

    /// One line for a summary: how many findings, or why there are none.
    pub fn headline(&self) -> String {
        if let Some(why) = &self.not_run {
            return format!("host-level detection not run: {why}");
        }
        let n = self.findings.len();
        format!(
            "{n} finding{} over {} flows{}",
            if n == 1 { "" } else { "s" },
            self.flows_considered,
            if self.flows_without_context > 0 {
                format!(" ({} flows without addresses or start time not looked at)", self.flows_without_context)
            } else {
                String::new()
            }
        )
    }
}

/// Runs every detector over `table`.
pub fn detect(table: &FlowTable) -> Findings {
    if let Some(nothing) = cannot_run(table.len()) {
        return nothing;
    }
    let flows = detectors::usable_flows(table);
    let without = table.len() - flows.len();
    if flows.is_empty() {
        return Findings {
            flows_without_context: without,
            not_run: Some(missing_context(table)),
            ..Findings::default()
        };
    }
    run(&flows, without)
}

/// Runs every detector over the flows of a capture as the extractor gives them (finding rows
/// are indices into `records`), addresses included whatever the table built from them keeps.
pub fn detect_records(records: &[FlowRecord]) -> Findings {
    if let Some(nothing) = cannot_run(records.len()) {
        return nothing;
    }
    run(&detectors::usable_records(records), 0)
}

/// The empty findings of `n` flows that cannot be looked at (none, or more than finding rows
/// of 32 bits can name), saying why; `None` when they can.
fn cannot_run(n: usize) -> Option<Findings> {
    let why = if n == 0 {
        "no flows".to_string()
    } else if u32::try_from(n).is_err() {
        format!("{n} flows are more than row indices of 32 bits can name")
    } else {
        return None;
    };
    Some(Findings { not_run: Some(why), ..Findings::default() })
}

/// Every detector over `flows` (non-empty); `without` flows had no context to look at.
fn run(flows: &[detectors::HostFlow], without: usize) -> Findings {
    let mut notes = Vec::new();
    let resolution = detectors::clock_resolution_us(flows);
    // Whole seconds still tell which flows share a second; whole minutes do not.
    let by_rate = resolution <= thresholds::FLOOD_RATE_WINDOW_US;
    if !by_rate {
        notes.push(
            "start times are whole minutes: floods are looked for by their number of sources, not by their rate per second"
                .into(),
        );
    }
    let mut findings = Vec::new();
    findings.extend(detectors::vertical_scans(flows));
    findings.extend(detectors::horizontal_scans(flows));
    findings.extend(detectors::floods(flows, by_rate));
    findings.extend(detectors::brute_force(flows));
    findings.extend(detectors::sql_injections(flows));
    findings.extend(detectors::scanner_agents(flows));
    findings.extend(detectors::web_scans(flows));
    findings.sort_by(|a, b| {
        (a.first_us, a.kind, a.source, a.target, &a.ports).cmp(&(b.first_us, b.kind, b.source, b.target, &b.ports))
    });
    Findings { findings, flows_considered: flows.len(), flows_without_context: without, not_run: None, notes }
}

/// Why no flow of `table` can be looked at, in the analyst's terms.
fn missing_context(table: &FlowTable) -> String {
    let meta = table.meta();
    if !meta.iter().any(|m| m.src_ip().is_some() && m.dst_ip().is_some()) {
        "the flows carry no source and destination addresses (the MachineLearningCVE files, \
         for one, keep only the destination port); scans, floods and brute force are patterns \
         across hosts"
            .into()
    } else if !meta.iter().any(|m| m.timestamp_us().is_some()) {
        "the flows carry no start times; scans, floods and brute force are counted within time windows".into()
    } else {
        "no flow has addresses, destination port, protocol and start time together".into()
    }
}
