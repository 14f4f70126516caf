//! Signatures on application-layer buffers (`buffer`): injections in a POST body, a Cookie or a
//! User-Agent alert with the shipped set; `tls.sni` and `dns.query` match only their field; an
//! unknown buffer is a load error; the old format (no `buffer`) still inspects the payload; and
//! a capture of a body and a Cookie injection replayed through `nsm-tui read` alerts on both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::Path;

use etherparse::PacketBuilder;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::detect::signature::{Buffer, Hit, SignatureSet};
use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
use nsm_tui::engine::packet::Decoded;

fn shipped() -> SignatureSet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures/basic_threats.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let (set, errors) = SignatureSet::from_sources(&[("basic_threats.json".into(), text)]);
    assert!(errors.is_empty(), "{errors:#?}");
    set
}

fn load(entries: &str) -> (SignatureSet, Vec<String>) {
    let (set, errors) = SignatureSet::from_sources(&[("rules.json".into(), entries.into())]);
    (set, errors.iter().map(ToString::to_string).collect())
}

/// An Ethernet frame built with etherparse, decoded by the real decoder.
fn packet(tcp: bool, dport: u16, payload: &[u8]) -> (Decoded, Vec<u8>) {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        64,
    );
    let mut data = Vec::new();
    if tcp {
        b.tcp(40000, dport, 1, 64240)
            .psh()
            .ack(1)
            .write(&mut data, payload)
            .unwrap();
    } else {
        b.udp(40000, dport).write(&mut data, payload).unwrap();
    }
    let frame = RawFrame {
        ts: Ts(1),
        linktype: LinkType::ETHERNET,
        iface: 0,
        orig_len: u32::try_from(data.len()).unwrap(),
        data,
    };
    let d = decode(&frame);
    (d, frame.data)
}

/// The hits of `set` on the packet; the prefilter and the reference must agree.
fn hits(set: &SignatureSet, tcp: bool, dport: u16, payload: &[u8]) -> Vec<Hit> {
    let (d, data) = packet(tcp, dport, payload);
    let p = d.payload(&data);
    assert_eq!(p, payload);
    let fast = set.matches(&d, p);
    assert_eq!(
        fast,
        set.matches_reference(&d, p),
        "prefilter and reference disagree"
    );
    fast
}

fn ids(hits: &[Hit]) -> Vec<u64> {
    hits.iter().map(|h| h.id.0).collect()
}

#[test]
fn sql_injection_in_a_url_encoded_post_body_alerts() {
    let body = b"user=admin&pass=x%27+UNION+SELECT+username%2C+password+FROM+users--+";
    let mut p = format!(
        "POST /login.php HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    p.extend_from_slice(body);
    let h = hits(&shipped(), true, 80, &p);
    assert_eq!(ids(&h), [1000201, 1000203]);
    assert_eq!(h[0].buffer, Buffer::HttpRequestBody);
    assert!(h[0].decoded, "the body matched once URL-decoded");
    assert_eq!(h[0].matched, b"UNION SELECT");
    assert_eq!(h[0].offset, 19, "offset in the decoded body");
    // The same body past Content-Length is not the request body.
    let mut cut = p.clone();
    let at = cut.len() - body.len();
    cut.splice(at - 4 - 2..at - 4, b"10".iter().copied());
    assert_eq!(ids(&hits(&shipped(), true, 80, &cut)), Vec::<u64>::new());
}

#[test]
fn sql_injection_in_a_cookie_or_user_agent_header_alerts() {
    let cookie =
        b"GET /account HTTP/1.1\r\nHost: shop\r\nCookie: session=abc; uid=1' OR '1'='1\r\n\r\n";
    let h = hits(&shipped(), true, 80, cookie);
    assert_eq!(ids(&h), [1000102]);
    assert_eq!(h[0].buffer, Buffer::HttpHeader);
    assert_eq!(h[0].matched, b"' OR '1'='1");
    let ua = b"GET / HTTP/1.1\r\nHost: shop\r\nUser-Agent: Mozilla/5.0' UNION SELECT password FROM users--\r\n\r\n";
    assert_eq!(ids(&hits(&shipped(), true, 80, ua)), [1000101, 1000103]);
    // A user-agent signature sees that header alone.
    let (set, errors) = load(
        r#"[{"signature_id":7,"description":"ua","pattern":"(?i)^mozilla.*union","severity":"High","type":"t","buffer":"http.user_agent"}]"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ids(&hits(&set, true, 80, ua)), [7]);
    assert_eq!(ids(&hits(&set, true, 80, cookie)), Vec::<u64>::new());
    // Ordinary headers raise nothing.
    let plain = b"GET /index.html HTTP/1.1\r\nHost: shop\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html,*/*;q=0.8\r\nCookie: a=1; id=2; theme=dark\r\nReferer: http://shop/a/b.html\r\n\r\n";
    assert_eq!(ids(&hits(&shipped(), true, 80, plain)), Vec::<u64>::new());
}

/// A TLS 1.2 ClientHello naming `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut ext = vec![0, 0];
    let n = u16::try_from(name.len()).unwrap();
    ext.extend((n + 5).to_be_bytes());
    ext.extend((n + 3).to_be_bytes());
    ext.push(0);
    ext.extend(n.to_be_bytes());
    ext.extend(name);
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.push(0);
    body.extend([0, 2, 0x13, 0x01, 1, 0]);
    body.extend(u16::try_from(ext.len()).unwrap().to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1, 0];
    hs.extend(u16::try_from(body.len()).unwrap().to_be_bytes());
    hs.extend(body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend(u16::try_from(hs.len()).unwrap().to_be_bytes());
    rec.extend(hs);
    rec
}

#[test]
fn tls_sni_signatures_match_the_server_name_only() {
    let (set, errors) = load(
        r#"[{"signature_id":9,"description":"sni","pattern":"(?i)^evil-c2\\.example$","severity":"High","type":"t","buffer":"tls.sni"}]"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let h = hits(&set, true, 443, &client_hello("evil-c2.example"));
    assert_eq!(ids(&h), [9]);
    assert_eq!((h[0].buffer, h[0].offset), (Buffer::TlsSni, 0));
    assert_eq!(
        ids(&hits(&set, true, 443, &client_hello("good.example"))),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(&hits(&set, true, 443, b"evil-c2.example")),
        Vec::<u64>::new()
    );
}

/// A DNS query for `name` (type A).
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(u8::try_from(label.len()).unwrap());
        q.extend(label.as_bytes());
    }
    q.extend([0, 0, 1, 0, 1]);
    q
}

#[test]
fn dns_query_signatures_match_the_query_name() {
    let (set, errors) = load(
        r#"[{"signature_id":11,"description":"dga","pattern":"(?i)\\.badzone\\.example$","severity":"Medium","type":"t","protocol":"UDP","buffer":"dns.query"}]"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let h = hits(&set, false, 53, &dns_query("x1.badzone.example"));
    assert_eq!(ids(&h), [11]);
    assert_eq!(
        (h[0].buffer, &h[0].matched[..]),
        (Buffer::DnsQuery, &b".badzone.example"[..])
    );
    assert_eq!(
        ids(&hits(&set, false, 53, &dns_query("www.example.org"))),
        Vec::<u64>::new()
    );
}

#[test]
fn an_unknown_buffer_is_a_load_error_and_the_old_format_still_inspects_the_payload() {
    let (set, errors) = load(
        r#"[{"signature_id":1,"description":"d","pattern":"abc","severity":"High","type":"t","buffer":"http.cookie"},
            {"signature_id":2,"description":"d","pattern":"abc","severity":"High","type":"t","buffer":7},
            {"signature_id":3,"description":"old","pattern":"(?i)^(?:GET|POST)\\s[^\\r\\n]*\\bunion\\s+select\\b","severity":"High","type":"SQL Injection","protocol":"TCP"}]"#,
    );
    assert_eq!(
        errors,
        [
            r#"rules.json: entry [0] (signature_id 1): field "buffer": unknown buffer "http.cookie" (expected one of packet, stream, http.uri, http.method, http.header, http.user_agent, http.host, http.request_body, http.response_body, dns.query, tls.sni)"#,
            r#"rules.json: entry [1] (signature_id 2): field "buffer": expected a string, found 7"#,
        ]
    );
    assert_eq!(set.len(), 1);
    assert_eq!(set.signatures()[0].buffer, Buffer::Packet);
    let h = hits(&set, true, 80, b"GET /?q=1+UNION+SELECT+2 HTTP/1.1\r\n\r\n");
    assert_eq!(ids(&h), [3]);
    assert_eq!(
        (h[0].buffer, h[0].decoded, h[0].offset),
        (Buffer::Packet, true, 0)
    );
    // `stream` is the packet payload for now.
    let (set, errors) = load(
        r#"[{"signature_id":4,"description":"d","pattern":"marker","severity":"Low","type":"t","buffer":"stream"}]"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ids(&hits(&set, false, 9, b"a marker")), [4]);
}

#[test]
fn replayed_body_and_cookie_injections_alert_with_their_signature_ids() {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/http_buffers/post_body_and_cookie.pcap");
    let mut got: Vec<(u64, String, String)> = common::read_eve(&pcap, &[])
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| {
            (
                e["alert"]["signature_id"].as_u64().unwrap(),
                e["src_ip"].as_str().unwrap().to_string(),
                e["dest_port"].to_string(),
            )
        })
        .filter(|(id, _, _)| *id < 9_000_000)
        .collect();
    got.sort();
    let at = |id: u64| (id, "10.88.0.1".to_string(), "80".to_string());
    assert_eq!(got, [at(1000102), at(1000201), at(1000203)]);
}

mod agreement {
    use super::*;
    use proptest::prelude::*;

    /// Pieces of requests: attack words, their encodings, and ordinary text.
    const PIECES: &[&str] = &[
        "' OR '1'='1",
        "%27+OR+%271%27%3D%271",
        "UNION SELECT",
        "union%20select",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "<script>",
        "%3Cscript%3E",
        "../../",
        "..%2F..%2F",
        ";cat /etc/hosts",
        "javascript:",
        "alert(1)",
        "select a from b",
        "drop table t",
        "sleep(5)",
        "a",
        "x=1&y=2",
        "+",
        "%",
        "%4",
        "evil",
        "GET ",
        "\r\n",
        " ",
        "'--",
    ];

    /// A set with signatures on every buffer, some anchored, some without a usable literal.
    fn every_buffer() -> SignatureSet {
        let mut entries = Vec::new();
        let mut id = 1;
        for b in Buffer::ALL {
            for pattern in [
                r"(?i)union\\s+select",
                r"(?i)^evil",
                r"'\\s*(?:--|or)",
                r"(?i)passwd$",
            ] {
                entries.push(format!(
                    r#"{{"signature_id":{id},"description":"d","pattern":"{pattern}","severity":"Low","type":"t","buffer":"{}"}}"#,
                    b.name()
                ));
                id += 1;
            }
        }
        let (set, errors) = load(&format!("[{}]", entries.join(",")));
        assert!(errors.is_empty(), "{errors:?}");
        set
    }

    fn text(parts: &[usize]) -> String {
        parts.iter().map(|&i| PIECES[i % PIECES.len()]).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Whatever a request holds in its target, headers and body (and whether its
        /// Content-Length is right), the prefilter finds exactly what the reference finds, with
        /// the shipped set and with signatures on every buffer.
        #[test]
        fn prefilter_and_reference_agree_on_every_buffer(
            method in 0usize..3,
            uri in proptest::collection::vec(0usize..64, 0..4),
            header in proptest::collection::vec(0usize..64, 0..4),
            body in proptest::collection::vec(0usize..64, 0..5),
            slack in 0usize..3,
        ) {
            let body = text(&body);
            let uri = text(&uri).replace([' ', '\r', '\n'], "");
            let header = text(&header).replace(['\r', '\n'], "");
            let p = format!(
                "{} /{uri} HTTP/1.1\r\nHost: evil.example\r\nCookie: {header}\r\nContent-Length: {}\r\n\r\n{body}",
                ["GET", "POST", "PUT"][method],
                body.len().saturating_sub(slack),
            );
            static SETS: std::sync::OnceLock<[SignatureSet; 2]> = std::sync::OnceLock::new();
            for set in SETS.get_or_init(|| [shipped(), every_buffer()]) {
                // `hits` asserts the agreement.
                hits(set, true, 80, p.as_bytes());
            }
        }
    }
}
