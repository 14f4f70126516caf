//! The console's filter language: every example of the issue, parsed and evaluated against a
//! small model with one packet of each kind, plus errors with their positions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod tui_support;

use nsm_tui::engine::filter::{parse, FilterError};
use nsm_tui::engine::model::Model;

/// The pcap numbers of the sample packets a filter keeps.
fn keeps(m: &Model, text: &str) -> Vec<u64> {
    let f = parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
    m.rows()
        .iter()
        .filter(|r| f.as_ref().is_none_or(|f| f.matches(r)))
        .map(|r| r.pcap_cnt)
        .collect()
}

#[test]
fn every_example_selects_the_right_packets() {
    // Sample: 1 tcp 10.0.0.5→192.168.1.9:80 (HTTP), 2 udp 10.0.0.5→8.8.8.8:53 (DNS),
    // 3 tcp 8.8.8.8:443→10.0.0.5 (High), 4 icmp 192.168.1.9→10.0.0.5 (Low),
    // 5 arp 10.0.0.1→10.0.0.5, 6 udp 192.168.1.9→8.8.8.8:9999 (Critical).
    let m = tui_support::sample_model();
    let table: &[(&str, &[u64])] = &[
        ("", &[1, 2, 3, 4, 5, 6]),
        ("tcp", &[1, 3]),
        ("udp", &[2, 6]),
        ("udp port 53", &[2]),
        ("src 10.0.0.5", &[1, 2]),
        ("dst 10.0.0.5", &[3, 4, 5]),
        ("host 8.8.8.8", &[2, 3, 6]),
        ("net 10.0.0.0/8", &[1, 2, 3, 4, 5]),
        ("net 192.168.0.0/16", &[1, 4, 6]),
        ("src net 192.168.0.0/16", &[4, 6]),
        ("port 80", &[1]),
        ("dst port 53", &[2]),
        ("src port 443", &[3]),
        ("sev>=high", &[3, 6]),
        ("sev>high", &[6]),
        ("sev=low", &[4]),
        ("sev<=high", &[3, 4]),
        ("sev<medium", &[4]),
        ("alert", &[3, 4, 6]),
        ("dns", &[2]),
        ("arp", &[5]),
        ("icmp", &[4]),
        ("not arp", &[1, 2, 3, 4, 6]),
        ("tcp or udp", &[1, 2, 3, 6]),
        ("tcp and not alert", &[1]),
        ("not (tcp or udp)", &[4, 5]),
        ("(tcp or icmp) and dst 10.0.0.5", &[3, 4]),
        ("udp && !dns", &[6]),
        ("tcp || arp", &[1, 3, 5]),
        ("10.0.0.1", &[5]),
        ("TCP AND PORT 80", &[1]),
        ("alert and sev>=critical", &[6]),
        ("not not tcp", &[1, 3]),
    ];
    for (text, want) in table {
        assert_eq!(keeps(&m, text), *want, "filter {text:?}");
    }
}

#[test]
fn errors_name_the_position_and_reason() {
    let cases: &[(&str, usize, &str)] = &[
        ("tcpx", 0, "unknown term"),
        ("udp port", 8, "port number"),
        ("port 99999", 5, "not a port"),
        ("src 10.0.0.999", 4, "not an IP address"),
        ("net 10.0.0.0/33", 4, "prefix length"),
        ("sev>=urgent", 5, "unknown severity"),
        ("sev high", 4, "expected >="),
        ("(tcp", 0, "unclosed"),
        ("tcp)", 3, "unexpected `)`"),
        ("tcp and", 7, "expected a term"),
        ("tcp $ udp", 4, "unexpected character"),
    ];
    for (text, pos, reason) in cases {
        let e: FilterError = parse(text).expect_err(text);
        assert_eq!(e.pos, *pos, "{text:?}: {e}");
        assert!(e.reason.contains(reason), "{text:?}: {e}");
    }
}

#[test]
fn blank_input_means_no_filter() {
    assert_eq!(parse("   "), Ok(None));
}

/// A ClientHello to www.bing.com from the shared benchmark capture (packet 139644), as hex.
const BING_CLIENT_HELLO: &str =
    "16030300d0010000cc03036232f3a283070b774544997345ef2249d714ab2821ae0e036d2e6328b33c902c20ce\
1500000bfda92c84b73fb9faea7d118b05b61a7beaf3301d672d9e9925ca740034c028c027c014c013009f009e\
00390033009d009c003d003c0035002fc02cc02bc024c023c00ac009006a004000380032000a00130100004f00\
000011000f00000c7777772e62696e672e636f6d000500050100000000000a0006000400170018000b00020100\
000d0014001204010501060102010403050306030203020200170000ff01000100";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn application_layer_terms_select_http_tls_and_ssh_packets() {
    use nsm_tui::engine::model::ModelConfig;
    use tui_support::{analyzed, feed, tcp};
    let mut m = Model::new(ModelConfig::default());
    let mut g = nsm_tui::engine::incident::Grouper::default();
    let (a, b) = ([10, 0, 0, 5], [192, 168, 1, 9]);
    let hello = unhex(BING_CLIENT_HELLO);
    let payloads: [(u16, u16, &[u8]); 6] = [
        (
            40000,
            80,
            b"GET / HTTP/1.1\r\nHost: www.Example.com:8080\r\n\r\n",
        ),
        (80, 40000, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        (40001, 443, &hello),
        (40002, 22, b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n"),
        (40003, 80, b"GET / HTTP/1.1\r\nHost: notexample.com\r\n\r\n"),
        (40004, 25, b"EHLO example.com\r\n"),
    ];
    for (i, (sp, dp, p)) in payloads.into_iter().enumerate() {
        let n = i as u64 + 1;
        feed(
            &mut m,
            &mut g,
            &analyzed(n, tcp(i as i64, a, b, sp, dp, p), vec![]),
        );
    }
    let table: &[(&str, &[u64])] = &[
        ("http", &[1, 2, 5]),
        ("tls", &[3]),
        ("ssl", &[3]),
        ("ssh", &[4]),
        ("host example.com", &[1]),
        ("host www.example.com", &[1]),
        ("host EXAMPLE.COM and not tls", &[1]),
        ("host notexample.com", &[5]),
        ("sni bing.com", &[3]),
        ("sni www.bing.com", &[3]),
        ("sni ing.com", &[]),
        ("http or ssh", &[1, 2, 4, 5]),
        ("host 10.0.0.5 and tls", &[3]),
    ];
    for (text, want) in table {
        assert_eq!(keeps(&m, text), *want, "filter {text:?}");
    }
    let e = parse("src host example.com").expect_err("a name has no direction");
    assert_eq!(e.pos, 9, "{e}");
    assert!(parse("sni").is_err());
}
