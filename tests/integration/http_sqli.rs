//! Zeek's SQL injection pattern on HTTP request lines (`ingest::capture::http`): sqlmap's
//! payloads are tagged, browsing is not, only request lines are read. The captures' own
//! requests are checked in `detect`.

use netvigil::ingest::capture::http::{is_sqli_request, request_target};

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
