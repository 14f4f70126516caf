//! HTTP over reassembled streams through `nsm-tui read`: a POST body split over two segments,
//! a chunked body, and the third request of a keep-alive connection each alert exactly once
//! on their `http.*` signatures; the EVE `http` event joins each request with its response's
//! status, and a request whose response never comes is still written when the flow ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::Path;

use serde_json::Value;

/// The bundled body signatures: "UNION SELECT" and "SELECT … FROM" in a request body.
const BODY_UNION: u64 = 1_000_201;
const BODY_SELECT_FROM: u64 = 1_000_203;

/// Signatures of this test: an anchored URI signature and a response-body one.
const RULES: &str = r#"[
 {"signature_id":91,"description":"admin URI with a quote","pattern":"^/admin/[^?]*\\?id=[^&]*'","severity":"High","type":"web","buffer":"http.uri"},
 {"signature_id":92,"description":"leaked hash in a response","pattern":"root:\\$6\\$[a-z]+\\$","severity":"High","type":"web","buffer":"http.response_body"}
]"#;

/// One segment: client to server or back, with its payload.
type Seg<'a> = (bool, &'a [u8]);

/// A TCP connection 10.0.0.1:40000 → 10.0.0.2:80: handshake, `segs` in order with their
/// sequence numbers, then FIN from both sides unless `open`.
fn capture(path: &Path, segs: &[Seg<'_>], open: bool) {
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut frames = Vec::new();
    let mut frame = |to_server: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
        let (c, sv) = (([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 80));
        let (from, to) = if to_server { (c, sv) } else { (sv, c) };
        frames.push(common::tcp_frame(from, to, seq, ack, flags, payload));
    };
    frame(true, cseq, 0, "S", b"");
    frame(false, sseq, cseq + 1, "SA", b"");
    cseq += 1;
    sseq += 1;
    frame(true, cseq, sseq, "A", b"");
    for &(to_server, payload) in segs {
        let n = u32::try_from(payload.len()).unwrap();
        if to_server {
            frame(true, cseq, sseq, "PA", payload);
            cseq += n;
        } else {
            frame(false, sseq, cseq, "PA", payload);
            sseq += n;
        }
    }
    if !open {
        frame(true, cseq, sseq, "FA", b"");
        frame(false, sseq, cseq + 1, "FA", b"");
    }
    common::write_pcap(path, &frames);
}

fn alert_ids(eve: &[Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = eve
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| e["alert"]["signature_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn http_events(eve: &[Value]) -> Vec<&Value> {
    eve.iter()
        .filter(|e| e["event_type"] == "http")
        .map(|e| &e["http"])
        .collect()
}

fn run(name: &str, segs: &[Seg<'_>], open: bool, rules: bool) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join(format!("{name}.pcap"));
    capture(&pcap, segs, open);
    if rules {
        let file = dir.path().join("rules.json");
        std::fs::write(&file, RULES).unwrap();
        common::read_eve(&pcap, &["--signatures", file.to_str().unwrap()])
    } else {
        common::read_eve(&pcap, &[])
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok";

#[test]
fn a_post_body_split_over_two_segments_alerts_once() {
    let body = b"user=admin&pass=x%27+UNION+SELECT+username%2C+password+FROM+users--+";
    let head = format!(
        "POST /login.php HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // "…x%27+UNI" | "ON+SELECT…": neither segment holds the injection.
    let cut = body.windows(3).position(|w| w == b"UNI").unwrap() + 3;
    let first = [head.as_bytes(), &body[..cut]].concat();
    let eve = run(
        "post",
        &[(true, &first), (true, &body[cut..]), (false, OK)],
        false,
        false,
    );
    assert_eq!(alert_ids(&eve), [BODY_UNION, BODY_SELECT_FROM], "{eve:#?}");
    let alert = eve.iter().find(|e| e["event_type"] == "alert").unwrap();
    assert_eq!(
        alert["pcap_cnt"], 5,
        "raised on the segment that ends the body"
    );
    // The whole body in one segment: the per-packet pass alerts, the stream pass does not again.
    let whole = [head.as_bytes(), body].concat();
    let eve = run("whole", &[(true, &whole), (false, OK)], false, false);
    assert_eq!(alert_ids(&eve), [BODY_UNION, BODY_SELECT_FROM], "{eve:#?}");
}

#[test]
fn a_chunked_body_is_dechunked_and_alerts_once() {
    let segs: [Seg<'_>; 4] = [
        (
            true,
            b"POST /api HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nq=1 UNION\r\n",
        ),
        (true, b"7\r\n SELECT\r\n"),
        (true, b"e\r\n name FROM t--\r\n0\r\n\r\n"),
        (false, OK),
    ];
    let eve = run("chunked", &segs, false, false);
    assert_eq!(alert_ids(&eve), [BODY_UNION, BODY_SELECT_FROM], "{eve:#?}");
    // The whole chunked body in one segment: the chunk sizes split "UNION SELECT" for the
    // per-packet pass; the de-chunked body alerts, once.
    let one = b"POST /api HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nq=1 UNION\r\n7\r\n SELECT\r\n0\r\n\r\n";
    let eve = run("chunked1", &[(true, one), (false, OK)], false, false);
    assert_eq!(alert_ids(&eve), [BODY_UNION], "{eve:#?}");
}

#[test]
fn the_third_keep_alive_request_matches_an_anchored_uri_signature_once() {
    let r1: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: shop\r\n\r\n";
    // The second request's segment also opens the third, whose head ends in the next one.
    let r23: &[u8] = b"GET /admin/users HTTP/1.1\r\nHost: shop\r\n\r\nGET /admin/users?id=1'";
    let r3: &[u8] = b"%20OR%201=1 HTTP/1.1\r\nHost: shop\r\n\r\n";
    let segs = [
        (true, r1),
        (false, OK),
        (true, r23),
        (false, OK),
        (true, r3),
        (
            false,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" as &[u8],
        ),
    ];
    let eve = run("keepalive", &segs, false, true);
    assert_eq!(alert_ids(&eve), [91], "{eve:#?}");
    // The same three requests each in a segment of its own: the per-packet pass alerts once.
    let r3whole: &[u8] = b"GET /admin/users?id=1'%20OR%201=1 HTTP/1.1\r\nHost: shop\r\n\r\n";
    let segs = [
        (true, r1),
        (false, OK),
        (
            true,
            b"GET /admin/users HTTP/1.1\r\nHost: shop\r\n\r\n" as &[u8],
        ),
        (false, OK),
        (true, r3whole),
        (false, OK),
    ];
    let eve = run("keepalive2", &segs, false, true);
    assert_eq!(alert_ids(&eve), [91], "{eve:#?}");
}

#[test]
fn a_response_body_over_segments_alerts_once() {
    let segs: [Seg<'_>; 3] = [
        (true, b"GET /etc HTTP/1.1\r\nHost: shop\r\n\r\n"),
        (
            false,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\nroot:$6",
        ),
        (false, b"$saltsalt$hashhash"),
    ];
    let eve = run("response", &segs, false, true);
    assert_eq!(alert_ids(&eve), [92], "{eve:#?}");
}

#[test]
fn eve_http_events_are_transactions_with_the_response_status() {
    let segs: [Seg<'_>; 4] = [
        (
            true,
            b"GET /a HTTP/1.1\r\nHost: shop\r\nUser-Agent: t/1\r\n\r\n",
        ),
        (false, OK),
        (true, b"GET /b HTTP/1.1\r\nHost: shop\r\n\r\n"),
        (
            false,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        ),
    ];
    let eve = run("tx", &segs, false, false);
    let http = http_events(&eve);
    assert_eq!(http.len(), 2, "{http:#?}");
    assert_eq!(
        (&http[0]["url"], &http[0]["status"], &http[0]["length"]),
        (&Value::from("/a"), &Value::from(200), &Value::from(2))
    );
    assert_eq!(http[0]["http_content_type"], "text/html");
    assert_eq!(http[0]["http_user_agent"], "t/1");
    assert_eq!(
        (&http[1]["url"], &http[1]["status"]),
        (&Value::from("/b"), &Value::from(404))
    );
    let tx = eve.iter().find(|e| e["event_type"] == "http").unwrap();
    assert_eq!(tx["src_ip"], "10.0.0.1", "oriented as the request");
    assert_eq!(tx["dest_port"], 80);
    // A request without a response: written when the flow ends, without a status.
    let eve = run(
        "noresp",
        &[(true, b"GET /lost HTTP/1.1\r\nHost: shop\r\n\r\n")],
        true,
        false,
    );
    let http = http_events(&eve);
    assert_eq!(http.len(), 1, "{eve:#?}");
    assert_eq!(http[0]["url"], "/lost");
    assert!(http[0].get("status").is_none());
}

#[test]
fn eve_http_events_for_messages_that_start_inside_a_segment_or_whose_first_line_is_split() {
    let segs: [Seg<'_>; 5] = [
        // Two pipelined requests in one segment: the second starts inside it.
        (
            true,
            b"GET /one HTTP/1.1\r\nHost: shop\r\n\r\nGET /two HTTP/1.1\r\nHost: shop\r\nUser-Agent: t/2\r\n\r\n",
        ),
        // Both answers in one segment: the second starts inside it.
        (
            false,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        ),
        // A request whose first line is split over two segments: no packet holds it whole.
        (true, b"GET /thr"),
        (true, b"ee HTTP/1.1\r\nHost: shop\r\n\r\n"),
        (
            false,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        ),
    ];
    let eve = run("midsegment", &segs, false, false);
    let http = http_events(&eve);
    let got: Vec<(&Value, &Value)> = http.iter().map(|h| (&h["url"], &h["status"])).collect();
    assert_eq!(
        got,
        [
            (&Value::from("/one"), &Value::from(200)),
            (&Value::from("/two"), &Value::from(403)),
            (&Value::from("/three"), &Value::from(404)),
        ],
        "{eve:#?}"
    );
    assert_eq!(http[1]["http_user_agent"], "t/2");
    assert_eq!(http[2]["hostname"], "shop");
}
