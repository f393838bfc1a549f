//! HTTP in TCP payloads: request lines, User-Agent headers and response status lines, and
//! what host-level detection (`detect`) reads from them.
//!
//! A web scanner's requests have the shape of browsing (section "Captures" of README: sqlmap's
//! item-page requests are 7 and 5 packets of a few hundred bytes, like a user's), so no flow
//! statistic tells them apart; the requests and answers themselves do. A capture carries them,
//! a flow record does not. Three long-used, openly published rules are applied, each to what
//! one segment starts with:
//!
//! - **SQL injection**: the request target, unescaped as Zeek does (`unescape_URI`: `%XX`
//!   decoded, anything else kept), matched against Zeek's `HTTP::match_sql_injection_uri`
//!   (`policy/protocols/http/detect-sqli.zeek`), the pattern by which Zeek tags a request
//!   `URI_SQLI` in http.log; written here in the `regex` crate's syntax (case-insensitive
//!   groups where Zeek spells `[hH][aA]...`);
//! - **scanner User-Agent**: the request's User-Agent holds the name of a security scanner,
//!   as OWASP CRS rule 913100 ("Found User-Agent associated with security scanner") checks
//!   with its `scanners-user-agents.data` (case-insensitive substrings); [`SCANNERS`] keeps the
//!   entries of that list that name one tool;
//! - **client errors**: a response with a 4xx status, as OSSEC/Wazuh rule 31101 ("Web server
//!   400 error code") counts them in access logs (here the statuses of [`PROBE_ANSWERS`]),
//!   except for the request targets its rule 31102 ignores (images, style sheets, scripts,
//!   `favicon.ico`, `robots.txt`: what a browser asks for whether or not the page has it; here
//!   also fonts, icons and source maps, [`IGNORED_ON_ERROR`]). A response is paired with the
//!   flow's oldest request still unanswered (HTTP/1.1 answers in order).
//!
//! The patterns are the published ones, not fitted to our captures. No maintained crate ships
//! Zeek's, CRS's or OSSEC's rules, and an HTTP parser (httparse) would add little: a first
//! line and one header are read, from one segment, without reassembling the stream (a
//! request or response that does not start a segment is not seen).

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::Regex;
use serde::Serialize;

use crate::ingest::AttackFamily;

/// Methods whose request line is looked at (RFC 9110's, and PATCH).
const METHODS: [&[u8]; 9] =
    [b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"TRACE ", b"CONNECT "];

/// Longest request target read (a request line of more is still matched on this much).
const MAX_TARGET: usize = 8192;

/// Zeek's `HTTP::match_sql_injection_uri`, alternative by alternative. `B` is Zeek's
/// `([[:blank:]\x00-\x1f]|\/\*.*?\*\/)`: a blank, a control byte or an SQL comment.
static SQLI_URI: LazyLock<Regex> = LazyLock::new(|| {
    const B: &str = r"(?:[[:blank:]\x00-\x1f]|/\*.*?\*/)";
    const KEYWORDS: &str = "(?i:having|union|exec|select|delete|drop|declare|create|insert)";
    let alternatives = [
        format!(
            r#"[?&][^[:blank:]\x00-\x1f|]+?=[\-[:alnum:]%]+{B}*['"]?(?:[[:blank:]\x00-\x1f]|/\*.*?\*/|\)?;)+.*?{KEYWORDS}{B}+"#
        ),
        format!(
            r#"[?&][^[:blank:]\x00-\x1f|]+?=[\-0-9%]+{B}*['"]?(?:[[:blank:]\x00-\x1f]|/\*.*?\*/|\)?;)+(?i:x?or|n?and){B}+['"]?(?:(?:[^a-zA-Z&]+)?=|(?i:exists))"#
        ),
        format!(
            r#"[?&][^[:blank:]\x00-\x1f]+?=[\-0-9%]*{B}*['"]{B}*(?:-|=|\+|\|\|){B}*(?:[0-9]|\(?(?i:convert|cast))"#
        ),
        format!(
            r#"[?&][^[:blank:]\x00-\x1f|]+?={B}*['"](?:[[:blank:]\x00-\x1f]|/\*.*?\*/|;)*(?i:x?or|n?and|having|union|exec|select|delete|drop|declare|create|regexp|insert)(?:[[:blank:]\x00-\x1f]|/\*.*?\*/|[\[(])+[a-zA-Z&]{{2,}}"#
        ),
        r"[?&][^[:blank:]\x00-\x1f]+?=[^.]*?(?i:char|ascii|substring|truncate|version|length)\(".to_string(),
        r"/\*![0-9]{5}.*?\*/".to_string(),
    ];
    let pattern = format!("(?-u)(?s:{})", alternatives.map(|a| format!("(?:{a})")).join("|"));
    Regex::new(&pattern).expect("Zeek's SQL injection pattern is a valid regex")
});

/// The request target of `payload` when it starts with an HTTP request line.
pub fn request_target(payload: &[u8]) -> Option<&[u8]> {
    let method = METHODS.iter().find(|m| payload.starts_with(m))?;
    let rest = &payload[method.len()..payload.len().min(method.len() + MAX_TARGET)];
    let end = memchr::memchr3(b' ', b'\r', b'\n', rest).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Whether `payload` (one TCP segment's data) starts an HTTP request whose unescaped target
/// Zeek would tag `URI_SQLI`.
pub fn is_sqli_request(payload: &[u8]) -> bool {
    request_target(payload).is_some_and(is_sqli_target)
}

/// Whether the request target `target` (as sent) unescaped matches Zeek's pattern.
fn is_sqli_target(target: &[u8]) -> bool {
    // Every alternative needs a query (`?` or `&`) or a MySQL comment (`/*!`).
    if !target.iter().any(|&b| b == b'?' || b == b'&' || b == b'%') && memchr::memmem::find(target, b"/*!").is_none() {
        return false;
    }
    // Borrowed when there is nothing to unescape.
    let unescaped: std::borrow::Cow<'_, [u8]> = percent_encoding::percent_decode(target).into();
    could_be_sqli(&unescaped) && SQLI_URI.is_match(&unescaped)
}

/// What every alternative of the pattern needs somewhere after the `=` (a blank or control
/// byte, a quote, a `;`, a `(` or a comment's `/*`): most browsing URIs have none, and are
/// passed over without running the pattern.
fn could_be_sqli(uri: &[u8]) -> bool {
    uri.iter().any(|&b| b <= b' ' || matches!(b, b'\'' | b'"' | b';' | b'('))
        || memchr::memmem::find(uri, b"/*").is_some()
}

/// A security scanner that names itself in its requests' User-Agent.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Scanner {
    /// What CRS's list matches, case-insensitively, anywhere in the User-Agent.
    pub token: &'static str,
    /// The tool.
    pub name: &'static str,
    /// The family of what the tool does: web scanners and injectors `webattack`, port scanners
    /// and banner grabbers `portscan`, password guessers `bruteforce`.
    pub family: AttackFamily,
}

const fn scanner(token: &'static str, name: &'static str, family: AttackFamily) -> Scanner {
    Scanner { token, name, family }
}

/// The entries of OWASP CRS's `rules/scanners-user-agents.data` (coreruleset v4) that name one
/// tool, with the tool's family. Left out: the list's generic entries (a literal `user-agent`,
/// typos of "Mozilla"), names common as words (`vega`, `betabot`) and services rather than
/// tools. Matched in this order, so the first tool named wins.
pub static SCANNERS: [Scanner; 40] = {
    use AttackFamily::{Bruteforce, Portscan, Webattack};
    [
        scanner("sqlmap", "sqlmap", Webattack),
        scanner("nikto", "Nikto", Webattack),
        scanner("wapiti", "Wapiti", Webattack),
        scanner("w3af.org", "w3af", Webattack),
        scanner("arachni", "Arachni", Webattack),
        scanner("skipfish", "skipfish", Webattack),
        scanner("acunetix", "Acunetix", Webattack),
        scanner("netsparker", "Netsparker", Webattack),
        scanner("appscan", "IBM AppScan", Webattack),
        scanner("nessus", "Nessus", Webattack),
        scanner("openvas", "OpenVAS", Webattack),
        scanner("nuclei", "nuclei", Webattack),
        scanner("nettacker", "OWASP Nettacker", Webattack),
        scanner("dirbuster", "DirBuster", Webattack),
        scanner("gobuster", "gobuster", Webattack),
        scanner("feroxbuster", "feroxbuster", Webattack),
        scanner("fuzz faster", "ffuf", Webattack),
        scanner("wfuzz", "wfuzz", Webattack),
        scanner("wpscan", "WPScan", Webattack),
        scanner("joomscan", "JoomScan", Webattack),
        scanner("droopescan", "droopescan", Webattack),
        scanner("cmsmap", "CMSmap", Webattack),
        scanner("commix", "commix", Webattack),
        scanner("havij", "Havij", Webattack),
        scanner("sqlninja", "sqlninja", Webattack),
        scanner("ghauri", "Ghauri", Webattack),
        scanner("jsql", "jSQL Injection", Webattack),
        scanner("xsstrike", "XSStrike", Webattack),
        scanner("xsser", "XSSer", Webattack),
        scanner("fimap", "fimap", Webattack),
        scanner("dotdotpwn", "DotDotPwn", Webattack),
        scanner("lfisuite", "LFISuite", Webattack),
        scanner("whatweb", "WhatWeb", Webattack),
        scanner("zmeu", "ZmEu", Webattack),
        scanner("tsunamisecurityscanner", "Tsunami", Webattack),
        scanner("nmap", "Nmap Scripting Engine", Portscan),
        scanner("masscan", "masscan", Portscan),
        scanner("zgrab", "ZGrab", Portscan),
        scanner("mozilla/4.0 (hydra)", "THC Hydra", Bruteforce),
        scanner("libwhisker", "libwhisker", Webattack),
    ]
};

static SCANNER_TOKENS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    // A DFA: 40 short patterns make a small one, and it is the fastest kind to search.
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(AhoCorasickKind::DFA))
        .build(SCANNERS.iter().map(|s| s.token))
        .expect("a few dozen short literal patterns build")
});

/// Longest request head searched for the User-Agent header.
const MAX_HEAD: usize = 8192;

/// The scanner named in the User-Agent header of the request that `payload` starts (the
/// head's lines are walked to its end, the empty line, or to [`MAX_HEAD`] bytes).
fn scanner_in(payload: &[u8]) -> Option<u8> {
    const NAME: &[u8] = b"user-agent:";
    let head = &payload[..payload.len().min(MAX_HEAD)];
    let mut start = memchr::memchr(b'\n', head)? + 1;
    while start < head.len() {
        let end = memchr::memchr(b'\n', &head[start..]).map_or(head.len(), |i| start + i);
        let line = &head[start..end];
        if line.is_empty() || line == b"\r" {
            return None;
        }
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            let found = SCANNER_TOKENS.find(&line[NAME.len()..])?;
            return u8::try_from(found.pattern().as_usize()).ok();
        }
        start = end + 1;
    }
    None
}

/// The status code of the response that `payload` starts (`HTTP/1.x NNN`).
fn response_status(payload: &[u8]) -> Option<u16> {
    let rest = payload.strip_prefix(b"HTTP/1.")?;
    match rest {
        [_, b' ', a, b, c, ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// The 4xx statuses counted: what a request for something that is not there or not allowed
/// gets (401, 403, 404, 405, 410). OSSEC's rule 31101 counts every 4xx; 400 (bad request) and
/// 408 (request timeout) are left out here, because they answer requests that were malformed
/// or never finished, which is what slow-request DoS tools leave (200 of them in each of our
/// slowloris and slow-body captures), not a scan.
const PROBE_ANSWERS: [u16; 5] = [401, 403, 404, 405, 410];

/// OSSEC/Wazuh rule 31102's targets, whose 4xx answers are not counted (compared
/// case-insensitively at the end of the target's path, as its `<url>` pattern compares the
/// end of the URL), and the assets browsers ask for today that its 2009 list predates (icons,
/// SVG and WebP images, web fonts, source maps): a page that lacks one gets a 404 on every
/// visit, which is a broken page, not a scan.
const IGNORED_ON_ERROR: [&[u8]; 15] = [
    b".jpg",
    b".gif",
    b"favicon.ico",
    b".png",
    b"robots.txt",
    b".css",
    b".js",
    b".jpeg",
    b".ico",
    b".svg",
    b".webp",
    b".woff",
    b".woff2",
    b".ttf",
    b".map",
];

fn ignored_on_error(target: &[u8]) -> bool {
    let path = memchr::memchr(b'?', target).map_or(target, |q| &target[..q]);
    IGNORED_ON_ERROR
        .iter()
        .any(|end| path.len() >= end.len() && path[path.len() - end.len()..].eq_ignore_ascii_case(end))
}

/// What one TCP segment's data starts, as far as [`HttpTally`] cares (two bytes on every
/// packet; the default for a segment that starts no request or response).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentMark {
    bits: u8,
    /// Index into [`SCANNERS`] plus one, 0 for none.
    scanner: u8,
}

impl SegmentMark {
    const REQUEST: u8 = 1;
    const SQLI: u8 = 2;
    /// A request whose 4xx answer OSSEC ignores.
    const IGNORED_TARGET: u8 = 4;
    const RESPONSE: u8 = 8;
    const CLIENT_ERROR: u8 = 16;

    fn has(self, bit: u8) -> bool {
        self.bits & bit != 0
    }

    pub fn is_none(self) -> bool {
        self.bits == 0
    }
}

/// Reads what `payload` (one TCP segment's captured data) starts: a request (its target and
/// User-Agent checked) or a response (its status read).
pub fn mark_segment(payload: &[u8]) -> SegmentMark {
    // Requests start with an upper-case method, responses with "HTTP/": one byte rules out
    // most segments (TLS records, SSH, file data).
    if !payload.first().is_some_and(u8::is_ascii_uppercase) {
        return SegmentMark::default();
    }
    if let Some(target) = request_target(payload) {
        let mut bits = SegmentMark::REQUEST;
        if is_sqli_target(target) {
            bits |= SegmentMark::SQLI;
        }
        if ignored_on_error(target) {
            bits |= SegmentMark::IGNORED_TARGET;
        }
        let scanner = scanner_in(payload).map_or(0, |i| i + 1);
        return SegmentMark { bits, scanner };
    }
    match response_status(payload) {
        Some(status) if PROBE_ANSWERS.contains(&status) => {
            SegmentMark { bits: SegmentMark::RESPONSE | SegmentMark::CLIENT_ERROR, scanner: 0 }
        }
        Some(_) => SegmentMark { bits: SegmentMark::RESPONSE, scanner: 0 },
        None => SegmentMark::default(),
    }
}

/// What one flow's HTTP said (not CICFlowMeter features: evidence for `detect`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HttpEvidence {
    /// Requests Zeek would tag `URI_SQLI`.
    pub sqli_requests: u32,
    /// Requests whose User-Agent names a scanner of [`SCANNERS`] ...
    pub scanner_requests: u32,
    /// ... the first one named.
    pub scanner: Option<&'static Scanner>,
    /// Responses of a status of [`PROBE_ANSWERS`] to requests whose target OSSEC does not ignore.
    pub client_errors: u32,
}

impl HttpEvidence {
    pub fn is_empty(&self) -> bool {
        self.sqli_requests == 0 && self.scanner_requests == 0 && self.client_errors == 0
    }

    /// What the flow's HTTP said, one phrase per count that is not zero (for the inspector).
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.sqli_requests > 0 {
            out.push(format!("{} HTTP requests tagged SQL injection (Zeek's pattern)", self.sqli_requests));
        }
        if let Some(s) = self.scanner {
            out.push(format!("{} HTTP requests whose User-Agent names {} (CRS 913100)", self.scanner_requests, s.name));
        }
        if self.client_errors > 0 {
            out.push(format!("{} HTTP answers 401/403/404/405/410 (OSSEC 31101)", self.client_errors));
        }
        out
    }
}

/// Most requests waiting for a response that a flow remembers (pipelined requests beyond
/// them, or requests whose response started inside a segment, fall out oldest first).
const MAX_PENDING: u8 = 32;

/// A flow's HTTP evidence as its packets come: the counts, the requests not yet answered and
/// the last counted segment per direction.
#[derive(Debug, Clone, Default)]
pub struct HttpTally {
    evidence: HttpEvidence,
    /// Whether each unanswered request's target is ignored on error, oldest in bit 0.
    pending: u32,
    pending_len: u8,
    /// Sequence number of the last marked segment, forward and backward: a retransmitted
    /// request or response is counted once, as Zeek, which reassembles the stream, counts it.
    last_seq: [Option<u32>; 2],
}

impl HttpTally {
    pub fn evidence(&self) -> HttpEvidence {
        self.evidence
    }

    /// Counts the segment marked `mark` (forward or backward, TCP sequence number `seq`).
    pub fn add(&mut self, mark: SegmentMark, forward: bool, seq: u32) {
        if mark.is_none() {
            return;
        }
        let last = &mut self.last_seq[usize::from(!forward)];
        if *last == Some(seq) {
            return;
        }
        *last = Some(seq);
        if mark.has(SegmentMark::REQUEST) {
            let e = &mut self.evidence;
            e.sqli_requests += u32::from(mark.has(SegmentMark::SQLI));
            if let Some(s) = mark.scanner.checked_sub(1).and_then(|i| SCANNERS.get(usize::from(i))) {
                e.scanner_requests += 1;
                e.scanner.get_or_insert(s);
            }
            self.push_pending(mark.has(SegmentMark::IGNORED_TARGET));
        } else if mark.has(SegmentMark::RESPONSE) {
            // A response with no request seen (the capture began mid-stream) is counted.
            let ignored = self.pop_pending().unwrap_or(false);
            if mark.has(SegmentMark::CLIENT_ERROR) && !ignored {
                self.evidence.client_errors += 1;
            }
        }
    }

    fn push_pending(&mut self, ignored: bool) {
        if self.pending_len == MAX_PENDING {
            self.pop_pending();
        }
        self.pending |= u32::from(ignored) << self.pending_len;
        self.pending_len += 1;
    }

    fn pop_pending(&mut self) -> Option<bool> {
        if self.pending_len == 0 {
            return None;
        }
        let oldest = self.pending & 1 != 0;
        self.pending >>= 1;
        self.pending_len -= 1;
        Some(oldest)
    }
}
