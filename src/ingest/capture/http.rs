//! HTTP request lines in TCP payloads, and whether one is an SQL injection attempt.
//!
//! A web scanner's requests have the shape of browsing (section "Captures" of README: sqlmap's
//! item-page requests are 7 and 5 packets of a few hundred bytes, like a user's), so no flow
//! statistic tells them apart; the request itself does. A capture carries it, a flow record
//! does not. This reads the request line of a segment that starts one, unescapes its target
//! as Zeek does (`unescape_URI`: `%XX` decoded, anything else kept) and matches it against
//! Zeek's `HTTP::match_sql_injection_uri` (`policy/protocols/http/detect-sqli.zeek`), the
//! pattern by which Zeek tags a request `URI_SQLI` in http.log. The pattern is Zeek's, not
//! fitted to our captures; it is written here in the `regex` crate's syntax (case-insensitive
//! groups where Zeek spells `[hH][aA]...`). No maintained crate ships Zeek's signatures, and
//! an HTTP parser (httparse) would add nothing: only the first line is read, from one segment.

use std::sync::LazyLock;

use regex::bytes::Regex;

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
        format!(r#"[?&][^[:blank:]\x00-\x1f]+?=[\-0-9%]*{B}*['"]{B}*(?:-|=|\+|\|\|){B}*(?:[0-9]|\(?(?i:convert|cast))"#),
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
    let Some(target) = request_target(payload) else { return false };
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
    uri.iter().any(|&b| b <= b' ' || matches!(b, b'\'' | b'"' | b';' | b'(')) || memchr::memmem::find(uri, b"/*").is_some()
}
