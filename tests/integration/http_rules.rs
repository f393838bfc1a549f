//! The HTTP rules of `ingest::capture::http`: Zeek's SQL injection pattern on request lines
//! (sqlmap's payloads are tagged, browsing is not, only request lines are read), CRS's
//! scanner User-Agents, and OSSEC's count of 4xx answers with its ignored targets, paired
//! with their requests. The captures' own requests are checked in `detect`.

use netvigil::ingest::AttackFamily;
use netvigil::ingest::capture::http::{HttpTally, is_sqli_request, mark_segment, request_target};

fn request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 10.77.0.2\r\n\r\n").into_bytes()
}

#[test]
fn sqlmap_payloads_are_tagged() {
    for t in [
        "/cgi-bin/item.py?id=1%20AND%204100%3D4100",
        "/cgi-bin/item.py?id=1%20AND%208524%3D5122",
        "/cgi-bin/item.py?id=1%20UNION%20ALL%20SELECT%20NULL%2CNULL--%20x",
        "/cgi-bin/item.py?id=1%20AND%20%28SELECT%20CHAR%2876%2C73%29%29%3D%27xzCG%27",
        "/item?id=1%27%20OR%20%271%27%3D%271",
        "/x?a=1/*!50000UNION*/",
    ] {
        assert!(is_sqli_request(&request(t)), "{t}");
    }
}

#[test]
fn browsing_is_not_tagged() {
    for t in [
        "/",
        "/cgi-bin/item.py?id=4",
        "/cgi-bin/search.py?q=network+flow",
        "/cgi-bin/search.py?q=request%20server&page=2",
        "/docs/page0.html.bak",
        "/cgi-bin/search.py?q=union",
    ] {
        assert!(!is_sqli_request(&request(t)), "{t}");
    }
}

#[test]
fn only_request_lines_are_read() {
    assert_eq!(request_target(b"POST /a?b=c HTTP/1.1\r\n"), Some(&b"/a?b=c"[..]));
    assert_eq!(request_target(b"HTTP/1.1 200 OK\r\n"), None);
    assert_eq!(request_target(b"GET "), None);
    assert!(!is_sqli_request(b"\x16\x03\x01 binary ?id=1 AND 1=1"));
}

fn request_from(target: &str, agent: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 10.77.0.2\r\nAccept: */*\r\nuser-agent: {agent}\r\n\r\n").into_bytes()
}

fn response(status: &str) -> Vec<u8> {
    format!("HTTP/1.0 {status}\r\nServer: SimpleHTTP/0.6\r\n\r\n<html>").into_bytes()
}

/// The evidence of a flow whose segments are `segments` (forward when true), numbered in turn.
fn tally(segments: &[(bool, Vec<u8>)]) -> netvigil::ingest::capture::http::HttpEvidence {
    let mut t = HttpTally::default();
    for (seq, (forward, data)) in segments.iter().enumerate() {
        t.add(mark_segment(data), *forward, seq as u32 * 1000);
    }
    t.evidence()
}

#[test]
fn scanner_user_agents_name_their_tool_and_family() {
    let sqlmap = tally(&[(true, request_from("/cgi-bin/item.py?id=9787", "sqlmap/1.7.2#stable (https://sqlmap.org)"))]);
    assert_eq!(sqlmap.scanner_requests, 1);
    let tool = sqlmap.scanner.expect("sqlmap named");
    assert_eq!((tool.name, tool.family), ("sqlmap", AttackFamily::Webattack));
    let nse = tally(&[(
        true,
        request_from("/", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"),
    )]);
    assert_eq!(nse.scanner.map(|s| s.family), Some(AttackFamily::Portscan));
    for agent in [
        "Mozilla/5.0 (Windows NT 6.1; rv:45.0) Gecko/20100101 Firefox/45.0",
        "curl/7.88.1",
        "Wget/1.21.3",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ] {
        assert_eq!(tally(&[(true, request_from("/", agent))]).scanner, None, "{agent}");
    }
    // The header is read in the request's head only, not in its body or in a response.
    let body = b"POST /upload HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\n\r\nUser-Agent: sqlmap".to_vec();
    assert_eq!(tally(&[(true, body)]).scanner, None);
    assert_eq!(tally(&[(false, b"HTTP/1.1 200 OK\r\nUser-Agent: nikto\r\n\r\n".to_vec())]).scanner_requests, 0);
}

#[test]
fn client_errors_count_probe_answers_but_not_ignored_targets_or_bad_requests() {
    let agent = "Mozilla/5.0";
    let e = tally(&[
        (true, request_from("/docs/page0.bak", agent)),
        (false, response("404 File not found")),
        (true, request_from("/favicon.ico", agent)),
        (false, response("404 File not found")),
        (true, request_from("/admin/", agent)),
        (false, response("403 Forbidden")),
        (true, request_from("/index.html", agent)),
        (false, response("200 OK")),
        (true, request_from("/style.CSS", agent)),
        (false, response("404 File not found")),
        (true, request_from("/cgi-bin/search.py", agent)),
        (false, response("400 Bad request")),
        (true, request_from("/fonts/inter.woff2?v=3.19", agent)),
        (false, response("404 Not Found")),
        (true, request_from("/download.php?file=a.png", agent)),
        (false, response("404 Not Found")),
    ]);
    // The backup probe, the forbidden page and the script asked for a file named like an
    // image; not the favicon, the style sheet or the font (OSSEC's rule 31102, and today's
    // assets), not the 200, not the 400 of a request that never finished.
    assert_eq!(e.client_errors, 3, "{e:?}");
    // Pipelined: two requests in one go, the answers in order.
    let pipelined = tally(&[
        (true, request_from("/a.png", agent)),
        (true, request_from("/missing.html", agent)),
        (false, response("404 Not Found")),
        (false, response("404 Not Found")),
    ]);
    assert_eq!(pipelined.client_errors, 1, "the image's 404 is ignored, the page's counted");
}

#[test]
fn a_retransmitted_segment_is_counted_once() {
    let request = request_from("/cgi-bin/item.py?id=1%20AND%204100%3D4100", "sqlmap/1.7.2");
    let mut t = HttpTally::default();
    for _ in 0..3 {
        t.add(mark_segment(&request), true, 77);
    }
    t.add(mark_segment(&request), true, 500);
    let e = t.evidence();
    assert_eq!((e.sqli_requests, e.scanner_requests), (2, 2), "{e:?}");
    assert!(mark_segment(b"\x16\x03\x01\x02\x00 GET / HTTP/1.1").is_none());
    assert!(mark_segment(b"HTTP/1.1 2").is_none(), "a status line cut short");
}
