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
