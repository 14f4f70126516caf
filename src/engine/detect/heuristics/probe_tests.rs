//! Table tests over synthetic packets of OS fingerprinting (nmap's probe set) and unsolicited
//! DNS answers.

use super::super::config::DetectConfig;
use super::super::testutil::{packet, run_flows, udp, Seen};
use super::super::FlowCtx;
use super::*;
use crate::engine::packet::{DnsInfo, DnsQuestion, IcmpInfo, TcpFlags, TcpInfo, Transport};

const F: u16 = TcpFlags::FIN;
const S: u16 = TcpFlags::SYN;
const R: u16 = TcpFlags::RST;
const P: u16 = TcpFlags::PSH;
const A: u16 = TcpFlags::ACK;
const U: u16 = TcpFlags::URG;
const E: u16 = TcpFlags::ECE;
const W: u16 = TcpFlags::CWR;

/// A TCP segment from `src` to `dst` port `dport` with `flags`, window `window` and, when
/// `ts`, a timestamp option; it opens its flow.
fn seg(ms: i64, src: &str, dst: &str, dport: u16, flags: u16, window: u16, ts: bool) -> Seen {
    let t = TcpInfo {
        src_port: 50000 + (ms % 1000) as u16,
        dst_port: dport,
        flags: TcpFlags(flags),
        window,
        timestamps: ts,
        ..TcpInfo::default()
    };
    (packet(ms, src, dst, 6, Transport::Tcp(t), b""), true)
}

fn echo(ms: i64, src: &str, dst: &str, code: u8) -> Seen {
    let t = Transport::Icmp(IcmpInfo { icmp_type: 8, code });
    (packet(ms, src, dst, 1, t, &[0; 120]), true)
}

fn u1(ms: i64, src: &str, dst: &str) -> Seen {
    let t = Transport::Udp(crate::engine::packet::UdpInfo {
        src_port: 50001,
        dst_port: 81,
    });
    let mut p = packet(ms, src, dst, 17, t, &[b'C'; 300]);
    if let Some(ip) = p.decoded.ip.as_mut() {
        ip.total_len = 328;
    }
    (p, true)
}

/// nmap -O's probes from 10.0.0.1 to 10.0.0.2 (open port 80, closed 81), 100 ms apart.
fn nmap_probes() -> Vec<Seen> {
    let (a, v) = ("10.0.0.1", "10.0.0.2");
    let mut out: Vec<Seen> = [1, 63, 4, 4, 16, 512]
        .iter()
        .enumerate()
        .map(|(i, &w)| seg(i as i64 * 100, a, v, 80, S, w, true))
        .collect();
    out.push(echo(700, a, v, 9));
    out.push(echo(701, a, v, 0));
    out.push(seg(800, a, v, 80, S | E | W, 3, false));
    out.push(seg(900, a, v, 80, 0, 128, false));
    out.push(seg(1000, a, v, 80, S | F | U | P, 256, false));
    out.push(seg(1100, a, v, 80, A, 1024, false));
    out.push(seg(1200, a, v, 81, S, 31337, false));
    out.push(seg(1300, a, v, 81, A, 32768, false));
    out.push(seg(1400, a, v, 81, F | P | U, 65535, false));
    out.push(u1(1500, a, v));
    out
}

#[test]
fn each_nmap_probe_is_recognised_and_ordinary_packets_are_not() {
    let kinds: Vec<Option<&str>> = nmap_probes()
        .iter()
        .map(|(p, new)| {
            let ctx = FlowCtx {
                is_new: *new,
                ..FlowCtx::default()
            };
            os_fingerprint::probe_kind(p, Some(&ctx)).map(|k| os_fingerprint::KINDS[k].0)
        })
        .collect();
    let want = [
        "SEQ", "SEQ", "SEQ", "SEQ", "SEQ", "SEQ", "IE", "-", "ECN", "T2", "T3", "T4", "T5", "T6",
        "T7", "U1",
    ];
    let got: Vec<&str> = kinds.iter().map(|k| k.unwrap_or("-")).collect();
    assert_eq!(got, want);
    let (a, v) = ("10.0.0.1", "10.0.0.2");
    let ordinary: Vec<(&str, Seen)> = vec![
        ("linux syn", seg(0, a, v, 80, S, 64240, true)),
        ("ecn syn of linux", seg(0, a, v, 80, S | E | W, 64240, true)),
        (
            "syn window 4 without options",
            seg(0, a, v, 80, S, 4, false),
        ),
        ("rst", seg(0, a, v, 80, R, 0, false)),
        ("ack in a flow, window 1024", {
            let (p, _) = seg(0, a, v, 80, A, 1024, false);
            (p, false)
        }),
        ("ack in a flow, window 32768", {
            let (p, _) = seg(0, a, v, 80, A, 32768, false);
            (p, false)
        }),
        ("fin-ack", seg(0, a, v, 80, F | A, 65535, false)),
        ("ping", echo(0, a, v, 0)),
        ("udp", (udp(0, a, 5000, v, 81), true)),
    ];
    for (name, (p, new)) in ordinary {
        let ctx = FlowCtx {
            is_new: new,
            ..FlowCtx::default()
        };
        assert_eq!(os_fingerprint::probe_kind(&p, Some(&ctx)), None, "{name}");
    }
}

#[test]
fn three_probe_kinds_to_one_host_are_os_fingerprinting_once_per_pair_and_window() {
    let cfg = DetectConfig::default();
    let probes = nmap_probes();
    let (a, v) = ("10.0.0.1", "10.0.0.2");
    // Two kinds to one host, a third to another: no pair reaches three.
    let spread: Vec<Seen> = vec![
        seg(0, a, v, 80, 0, 128, false),
        seg(100, a, v, 80, S | F | U | P, 256, false),
        seg(200, a, "10.0.0.3", 81, S, 31337, false),
    ];
    // Many probes of one kind (the six SEQ SYNs and the second echo) are one kind.
    let one_kind: Vec<Seen> = probes[..8]
        .iter()
        .filter(|(p, _)| p.pcap_cnt != 701)
        .cloned()
        .collect();
    let mut again = probes.clone();
    again.extend(nmap_probes().into_iter().map(|(mut p, n)| {
        p.frame.ts = crate::engine::frame::Ts(p.frame.ts.0 + 120 * 1_000_000_000);
        p.pcap_cnt += 120_000;
        (p, n)
    }));
    type Case = (&'static str, Vec<Seen>, usize, &'static str);
    let cases: Vec<Case> = vec![
        ("full probe set", probes, 1, "SEQ, ECN, IE"),
        ("two kinds per pair", spread, 0, ""),
        ("one kind repeated", one_kind, 0, ""),
        ("a second window", again, 2, "SEQ, ECN, IE"),
    ];
    for (name, pkts, want, kinds) in cases {
        let mut det = OsFingerprintDetector::new(&cfg.scan, &cfg.limits);
        let alerts = run_flows(&mut det, &pkts);
        assert_eq!(alerts.len(), want, "{name}: {alerts:?}");
        for al in &alerts {
            assert_eq!(&*al.category, "os_fingerprint", "{name}");
            assert_eq!(al.severity, crate::engine::alert::Severity::Medium);
            assert_eq!(al.evidence["src"], a, "{name}");
            assert_eq!(al.evidence["dst"], v, "{name}");
            assert!(al.description.contains(kinds), "{name}: {}", al.description);
            assert!(al
                .explanation
                .contains("ECN (SYN with ECE and CWR, window 3)"));
        }
    }
}

/// A DNS answer from `server:53` to `client:port` for www.example.com.
fn answer(ms: i64, server: &str, client: &str, port: u16, new: bool) -> Seen {
    let mut p = udp(ms, server, 53, client, port);
    p.decoded.dns = Some(Box::new(DnsInfo {
        id: 7,
        is_response: true,
        questions: vec![DnsQuestion {
            name: "www.example.com".to_string(),
            qtype: 1,
        }],
        ..DnsInfo::default()
    }));
    (p, new)
}

#[test]
fn answers_no_query_asked_for_are_unsolicited_from_the_fifth_on() {
    let cfg = DetectConfig::default();
    let sprayed = |n: i64, new: bool| -> Vec<Seen> {
        (0..n)
            .map(|i| answer(i * 200, "10.0.0.53", "10.0.0.5", 33000 + i as u16, new))
            .collect()
    };
    let mut from_port_5353 = sprayed(8, true);
    for (p, _) in &mut from_port_5353 {
        p.decoded.transport = Transport::Udp(crate::engine::packet::UdpInfo {
            src_port: 5353,
            dst_port: 5353,
        });
    }
    let mut queries = sprayed(8, true);
    for (p, _) in &mut queries {
        if let Some(d) = p.decoded.dns.as_mut() {
            d.is_response = false;
        }
    }
    let mut spread = sprayed(8, true);
    for (i, (p, _)) in spread.iter_mut().enumerate() {
        if let Some(ip) = p.decoded.ip.as_mut() {
            ip.dst = format!("10.0.1.{i}").parse().unwrap();
        }
    }
    let cases: Vec<(&str, Vec<Seen>, usize)> = vec![
        ("eight sprayed answers", sprayed(8, true), 1),
        ("four sprayed answers", sprayed(4, true), 0),
        ("answers to queries", sprayed(20, false), 0),
        ("mdns", from_port_5353, 0),
        ("queries", queries, 0),
        ("one answer each to many hosts", spread, 0),
    ];
    for (name, pkts, want) in cases {
        let mut det = DnsUnsolicitedDetector::new(&cfg.dns_tunnel, &cfg.limits);
        let alerts = run_flows(&mut det, &pkts);
        assert_eq!(alerts.len(), want, "{name}: {alerts:?}");
        for al in &alerts {
            assert_eq!(&*al.category, "dns_unsolicited");
            assert_eq!(al.severity, crate::engine::alert::Severity::Low);
            assert_eq!(al.evidence["dst"], "10.0.0.5");
            assert_eq!(al.evidence["answers"], 5);
            assert_eq!(al.packet, pkts[4].0.pcap_cnt, "{name}");
            assert!(al.description.contains("10.0.0.5"), "{}", al.description);
            assert!(
                al.explanation.contains("no query of its own"),
                "{}",
                al.explanation
            );
        }
    }
}
