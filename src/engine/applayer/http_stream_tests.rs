//! Messages cut from byte streams fed piece by piece: bodies over several pieces, chunked
//! bodies, keep-alive requests, responses to the close, and streams that are not HTTP.

use super::*;

/// Every message of one direction fed in `pieces`, then ended.
fn messages(pieces: &[&[u8]]) -> Vec<HttpMessage> {
    let mut s = HttpStreams::new(1 << 20, 1 << 20);
    let mut out = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        s.feed(7, true, p, i == 0, |m| out.push(m));
    }
    s.end(7, true, |m| out.push(m));
    assert_eq!(s.directions(), 0);
    out
}

fn uri(m: &HttpMessage) -> &str {
    match &m.record {
        HttpRecord::Request(r) => &r.uri,
        HttpRecord::Response(_) => "",
    }
}

#[test]
fn a_body_over_two_pieces_is_one_message() {
    let ms = messages(&[
        b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\nuser=ad",
        b"min&pass=x'--",
    ]);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].body, b"user=admin&pass=x'--");
    assert!(!ms[0].chunked);
    assert!(ms[0].first_segment.is_some());
    assert!(!ms[0].seen_whole());
}

#[test]
fn chunked_bodies_are_dechunked_across_pieces() {
    let ms = messages(&[
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nq=1 U\r\n",
        b"8;ext=1\r\nNION SEL\r\n4\r",
        b"\nECT \r\n0\r\nX-Trailer: t\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    ]);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].body, b"q=1 UNION SELECT ");
    assert!(ms[0].chunked);
    assert_eq!(uri(&ms[1]), "/next");
    assert!(ms[1].first_segment.is_none(), "it starts mid-segment");
}

#[test]
fn keep_alive_requests_each_make_a_message() {
    let ms = messages(&[
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3?id=1'%20OR%20",
        b"'1'='1 HTTP/1.1\r\nHost: a\r\n\r\n",
    ]);
    let uris: Vec<&str> = ms.iter().map(uri).collect();
    assert_eq!(uris, ["/1", "/2", "/3?id=1'%20OR%20'1'='1"]);
    assert!(ms[0].seen_whole() && ms[1].seen_whole());
    assert!(ms[2].first_segment.is_none());
}

#[test]
fn responses_end_by_length_by_status_or_at_the_close() {
    let mut s = HttpStreams::new(4, 1 << 20);
    let mut out = Vec::new();
    s.feed(
        1,
        false,
        b"HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef",
        true,
        |m| out.push(m),
    );
    s.feed(
        1,
        false,
        b"HTTP/1.0 200 OK\r\n\r\nto the close",
        false,
        |m| {
            out.push(m);
        },
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].body, b"abcd", "kept up to the body limit");
    s.end(1, false, |m| out.push(m));
    assert_eq!(out.len(), 3);
    assert_eq!(out[2].body, b"to t");
}

#[test]
fn streams_that_are_not_http_are_not_followed() {
    let mut s = HttpStreams::new(100, 100);
    let mut n = 0;
    s.feed(1, true, b"\x16\x03\x01 not http", true, |_| n += 1);
    assert_eq!(s.directions(), 0);
    s.feed(1, true, b"GET / HTTP/1.1\r\n\r\n", false, |_| n += 1);
    assert_eq!(
        (n, s.directions()),
        (0, 0),
        "only the stream's first bytes decide"
    );
    // HTTP first, then something else: following stops.
    s.feed(
        2,
        true,
        b"GET / HTTP/1.1\r\n\r\n\x00\x01binary junk",
        true,
        |_| n += 1,
    );
    assert_eq!((n, s.directions()), (1, 0));
    // A bad chunk size hands out the body so far and stops.
    let ms =
        messages(&[b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"]);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].body, b"abc");
}

#[test]
fn bodies_of_all_flows_together_stay_within_the_memcap() {
    let mut s = HttpStreams::new(1 << 20, 10);
    let mut out = Vec::new();
    let head = b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789";
    s.feed(1, true, head, true, |m| out.push(m));
    s.feed(2, true, head, true, |m| out.push(m));
    assert_eq!(s.memuse(), 10, "the second flow's body finds no room");
    s.end(1, true, |m| out.push(m));
    s.end(2, true, |m| out.push(m));
    let bodies: Vec<&[u8]> = out.iter().map(|m| &m.body[..]).collect();
    assert_eq!(bodies, [&b"0123456789"[..], b""]);
    assert_eq!(s.memuse(), 0);
}

/// The response to `HEAD` has no body whatever its `Content-Length` says: the next response on
/// the connection is a message of its own, not that body.
#[test]
fn a_response_to_head_has_no_body() {
    let mut s = HttpStreams::new(1 << 20, 1 << 20);
    let mut out = Vec::new();
    s.feed(
        3,
        true,
        b"HEAD /big HTTP/1.1\r\nHost: a\r\n\r\nGET /small HTTP/1.1\r\nHost: a\r\n\r\n",
        true,
        |m| out.push(m),
    );
    assert_eq!(out.len(), 2);
    s.feed(
        3,
        false,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
        true,
        |m| out.push(m),
    );
    s.feed(
        3,
        false,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        false,
        |m| out.push(m),
    );
    let responses: Vec<&HttpMessage> = out
        .iter()
        .filter(|m| matches!(m.record, HttpRecord::Response(_)))
        .collect();
    assert_eq!(responses.len(), 3, "{out:?}");
    assert!(responses[0].body.is_empty());
    assert_eq!(responses[2].body, b"hi");
    s.end_flow(3);
    assert!(s.awaited.is_empty());
}
