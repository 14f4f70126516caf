//! Table tests of the heuristics and anomalies over synthetic packets.

use super::super::anomaly::AnomalyDetector;
use super::super::config::DetectConfig;
use super::super::testutil::{dns_query, icmp_echo, tcp, tcp_payload, udp};
use super::super::{FlowCtx, StatefulDetector};
use super::*;
use crate::engine::alert::Alert;
use crate::engine::packet::TcpFlags;
use crate::engine::record::Analyzed;

const S: u16 = TcpFlags::SYN;
const A: u16 = TcpFlags::ACK;
const F: u16 = TcpFlags::FIN;
const R: u16 = TcpFlags::RST;
const P: u16 = TcpFlags::PSH;
const U: u16 = TcpFlags::URG;

fn run(det: &mut dyn StatefulDetector, pkts: &[Analyzed]) -> Vec<Alert> {
    let mut out = Vec::new();
    for p in pkts {
        det.observe(p, None, &mut out);
    }
    out
}

fn categories(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(|a| a.category.to_string()).collect()
}

#[test]
fn flag_anomalies_classify_and_alert_once_per_source_and_window() {
    let cfg = DetectConfig::default();
    let cases: &[(u16, Option<&str>)] = &[
        (F | P | U, Some("xmas_scan")),
        (0, Some("null_scan")),
        (F, Some("fin_scan")),
        (S | F, Some("syn_fin")),
        (S | R, Some("invalid_flags")),
        (P | U, Some("invalid_flags")),
        (S, None),
        (S | A, None),
        (F | A, None),
        (R, None),
        (R | A, None),
        (P | A, None),
    ];
    for &(flags, want) in cases {
        let mut det = AnomalyDetector::new(&cfg.anomaly, &cfg.limits);
        // 100 probes in 10 s, then one more after the 60 s window.
        let mut pkts: Vec<Analyzed> = (0..100)
            .map(|i| tcp(i * 100, "10.0.0.1", 40000, "10.0.0.2", 1 + i as u16, flags))
            .collect();
        pkts.push(tcp(80_000, "10.0.0.1", 40000, "10.0.0.2", 7, flags));
        let alerts = run(&mut det, &pkts);
        match want {
            Some(cat) => {
                assert_eq!(categories(&alerts), vec![cat, cat], "flags {flags:#x}");
                assert_eq!(alerts[0].packet, pkts[0].pcap_cnt);
                assert!(
                    alerts[1]
                        .explanation
                        .contains("100 packets in the previous window"),
                    "{}",
                    alerts[1].explanation
                );
            }
            None => assert!(
                alerts.is_empty(),
                "flags {flags:#x} gave {:?}",
                categories(&alerts)
            ),
        }
    }
}

#[test]
fn lone_fin_inside_an_established_flow_is_not_a_scan_and_land_is_caught() {
    let cfg = DetectConfig::default();
    let mut det = AnomalyDetector::new(&cfg.anomaly, &cfg.limits);
    let est = FlowCtx {
        established: true,
        ..FlowCtx::default()
    };
    let mut out = Vec::new();
    det.observe(
        &tcp(0, "10.0.0.1", 1000, "10.0.0.2", 80, F),
        Some(&est),
        &mut out,
    );
    assert!(out.is_empty());
    det.observe(&tcp(1, "10.0.0.9", 139, "10.0.0.9", 139, S), None, &mut out);
    assert_eq!(categories(&out), vec!["land"]);
}

#[test]
fn port_scan_fast_slow_sweep_and_quiet_traffic() {
    let cfg = DetectConfig::default();
    // (name, packets, expected categories)
    let fast: Vec<Analyzed> = (0..50)
        .map(|i| tcp(i * 10, "10.0.0.1", 5555, "10.0.0.2", 1000 + i as u16, S))
        .collect();
    let slow: Vec<Analyzed> = (0..40)
        .map(|i| tcp(i * 20_000, "10.0.0.1", 5555, "10.0.0.2", 1000 + i as u16, S))
        .collect();
    let sweep: Vec<Analyzed> = (0..30)
        .map(|i| tcp(i * 10, "10.0.0.1", 5555, &format!("10.0.1.{i}"), 445, S))
        .collect();
    let v6: Vec<Analyzed> = (0..25)
        .map(|i| udp(i * 10, "2001:db8::1", 40000, "2001:db8::2", 100 + i as u16))
        .collect();
    let below: Vec<Analyzed> = (0..19)
        .map(|i| tcp(i * 10, "10.0.0.1", 5555, "10.0.0.2", 1 + i as u16, S))
        .collect();
    let one_server: Vec<Analyzed> = (0..200)
        .map(|i| tcp(i * 10, "10.0.0.1", 10000 + i as u16, "10.0.0.2", 443, S))
        .collect();
    let established: Vec<Analyzed> = (0..100)
        .map(|i| tcp(i * 10, "10.0.0.1", 5555, "10.0.0.2", 1 + i as u16, A))
        .collect();
    let cases: Vec<(&str, Vec<Analyzed>, Vec<&str>)> = vec![
        ("fast vertical", fast, vec!["port_scan"]),
        ("slow vertical", slow, vec!["port_scan"]),
        ("horizontal", sweep, vec!["host_sweep"]),
        ("udp over ipv6", v6, vec!["port_scan"]),
        ("below threshold", below, vec![]),
        ("one server port", one_server, vec![]),
        ("acks without flow context", established, vec![]),
    ];
    for (name, pkts, want) in cases {
        let mut det = ScanDetector::new(&cfg.scan, &cfg.limits);
        let alerts = run(&mut det, &pkts);
        assert_eq!(categories(&alerts), want, "{name}");
        if let Some(a) = alerts.first() {
            assert!(
                a.explanation.contains("threshold"),
                "{name}: {}",
                a.explanation
            );
        }
    }
}

#[test]
fn slow_scan_says_so_and_counts_its_window() {
    let cfg = DetectConfig::default();
    let mut det = ScanDetector::new(&cfg.scan, &cfg.limits);
    let pkts: Vec<Analyzed> = (0..40)
        .map(|i| tcp(i * 20_000, "10.0.0.1", 5555, "10.0.0.2", 1000 + i as u16, S))
        .collect();
    let alerts = run(&mut det, &pkts);
    assert_eq!(alerts.len(), 1);
    assert_eq!(&*alerts[0].description, "Slow port scan");
    assert_eq!(alerts[0].evidence["distinct_ports"], 30);
    assert_eq!(alerts[0].evidence["window_secs"], 900);
}

#[test]
fn brute_force_by_connections_and_by_ftp_failures() {
    let cfg = DetectConfig::default();
    let ssh: Vec<Analyzed> = (0..12)
        .map(|i| tcp(i * 2000, "10.0.0.5", 40000 + i as u16, "10.0.0.2", 22, S))
        .collect();
    let retrans: Vec<Analyzed> = (0..30)
        .map(|i| tcp(i * 1000, "10.0.0.5", 40000, "10.0.0.2", 22, S))
        .collect();
    let mut ftp: Vec<Analyzed> = (0..6)
        .map(|i| {
            tcp_payload(
                i * 3000,
                "10.0.0.2",
                21,
                "10.0.0.5",
                40000,
                P | A,
                b"530 Login incorrect.\r\n",
            )
        })
        .collect();
    // The alert waits for the client's next packet, so that the packet's source is the attacker.
    ftp.push(tcp_payload(
        20_000,
        "10.0.0.5",
        40000,
        "10.0.0.2",
        21,
        P | A,
        b"USER a\r\n",
    ));
    let web: Vec<Analyzed> = (0..50)
        .map(|i| tcp(i * 100, "10.0.0.5", 40000 + i as u16, "10.0.0.2", 80, S))
        .collect();
    // Ten connections need 135 s here, longer than the window.
    let slow: Vec<Analyzed> = (0..12)
        .map(|i| tcp(i * 15_000, "10.0.0.5", 40000 + i as u16, "10.0.0.2", 22, S))
        .collect();
    // hydra against OpenSSH: four connections, then a 32 s wait, again and again.
    let hydra: Vec<Analyzed> = (0..16)
        .map(|i| {
            let at = (i / 4) * 32_000 + (i % 4) * 10;
            tcp(at, "10.0.0.5", 40000 + i as u16, "10.0.0.2", 22, S)
        })
        .collect();
    let cases: Vec<(&str, Vec<Analyzed>, usize)> = vec![
        ("ssh", ssh, 1),
        ("retransmitted syn", retrans, 0),
        ("ftp 530", ftp, 1),
        ("web", web, 0),
        ("slow", slow, 0),
        ("hydra", hydra, 1),
    ];
    for (name, pkts, want) in cases {
        let mut det = BruteForceDetector::new(&cfg.brute_force, &cfg.limits);
        let alerts = run(&mut det, &pkts);
        assert_eq!(alerts.len(), want, "{name}: {:?}", categories(&alerts));
        for a in &alerts {
            assert_eq!(&*a.category, "brute_force");
            assert_eq!(a.evidence["src"], "10.0.0.5", "{name}");
            let sender = pkts
                .iter()
                .find(|p| p.pcap_cnt == a.packet)
                .and_then(|p| p.decoded.ip);
            assert_eq!(
                sender.map(|ip| ip.src.to_string()).as_deref(),
                Some("10.0.0.5"),
                "{name}"
            );
        }
    }
}

#[test]
fn floods_by_destination() {
    let cfg = DetectConfig::default();
    let spoofed: Vec<Analyzed> = (0..300)
        .map(|i| {
            tcp(
                i,
                &format!("10.{}.{}.1", i / 250, i % 250),
                1024,
                "10.9.9.9",
                80,
                S,
            )
        })
        .collect();
    let handshakes: Vec<Analyzed> = (0..300)
        .flat_map(|i| {
            [
                tcp(i * 10, "10.0.0.1", 1024 + i as u16, "10.9.9.9", 80, S),
                tcp(i * 10 + 1, "10.0.0.1", 1024 + i as u16, "10.9.9.9", 80, A),
            ]
        })
        .collect();
    let pings: Vec<Analyzed> = (0..150)
        .map(|i| icmp_echo(i * 10, "10.0.0.1", "10.9.9.9"))
        .collect();
    let slow_pings: Vec<Analyzed> = (0..150)
        .map(|i| icmp_echo(i * 1000, "10.0.0.1", "10.9.9.9"))
        .collect();
    let udp_flood: Vec<Analyzed> = (0..1200)
        .map(|i| udp(i, "10.0.0.1", 1234, "10.9.9.9", 9))
        .collect();
    let dns_answers: Vec<Analyzed> = (0..1200)
        .flat_map(|i| {
            [
                udp(i * 2, "10.9.9.9", 40000, "10.0.0.53", 53),
                udp(i * 2 + 1, "10.0.0.53", 53, "10.9.9.9", 40000),
            ]
        })
        .collect();
    let random_dst: Vec<Analyzed> = (0..120)
        .map(|i| {
            tcp(
                i,
                &format!("10.1.{}.1", i % 250),
                1024,
                &format!("10.2.{}.9", i % 250),
                80,
                S,
            )
        })
        .collect();
    let cases: Vec<(&str, Vec<Analyzed>, Vec<&str>)> = vec![
        ("spoofed syn flood", spoofed, vec!["syn_flood"]),
        (
            "random sources and destinations",
            random_dst,
            vec!["syn_flood"],
        ),
        ("completed handshakes", handshakes, vec![]),
        ("icmp flood", pings, vec!["icmp_flood"]),
        ("one ping a second", slow_pings, vec![]),
        ("udp flood", udp_flood, vec!["udp_flood"]),
        ("answers to own dns queries", dns_answers, vec![]),
    ];
    for (name, pkts, want) in cases {
        let mut det = FloodDetector::new(&cfg.flood, &cfg.limits);
        let mut alerts = run(&mut det, &pkts);
        // Only floods toward the victim are in question (500 queries/s do load the resolver).
        alerts.retain(|a| a.evidence["dst"] == "10.9.9.9" || a.evidence["dst"] == "many");
        assert_eq!(categories(&alerts), want, "{name}");
        for a in &alerts {
            assert!(
                a.explanation.contains("/s") && a.explanation.contains("threshold"),
                "{}",
                a.explanation
            );
        }
    }
}

#[test]
fn dns_tunnel_signals_and_benign_lookups() {
    let cfg = DetectConfig::default();
    let long: Vec<Analyzed> = (0..6)
        .map(|i| {
            dns_query(
                i * 100,
                "10.0.0.7",
                "10.0.0.53",
                &format!("{i}{}.t.evil.co.uk", "a".repeat(50)),
                1,
            )
        })
        .collect();
    let entropy: Vec<Analyzed> = (0..6)
        .map(|i| {
            dns_query(
                i * 100,
                "10.0.0.7",
                "10.0.0.53",
                &format!("x{i}k9QzP2mW7rT4vB8nL1cY6hJ3.evil.com"),
                16,
            )
        })
        .collect();
    let null: Vec<Analyzed> = (0..6)
        .map(|i| {
            dns_query(
                i * 100,
                "10.0.0.7",
                "10.0.0.53",
                &format!("q{i}.t1.evil.com"),
                10,
            )
        })
        .collect();
    let unique: Vec<Analyzed> = (0..40)
        .map(|i| {
            dns_query(
                i * 100,
                "10.0.0.7",
                "10.0.0.53",
                &format!("{i}-{i}.id.evil.com"),
                5,
            )
        })
        .collect();
    let benign: Vec<Analyzed> = [
        "www.example.com",
        "mail.example.com",
        "www.example.com",
        "api.example.co.uk",
    ]
    .iter()
    .cycle()
    .take(200)
    .enumerate()
    .map(|(i, n)| dns_query(i as i64 * 100, "10.0.0.7", "10.0.0.53", n, 1))
    .collect();
    let ptr: Vec<Analyzed> = (0..100)
        .map(|i| {
            dns_query(
                i * 100,
                "10.0.0.7",
                "10.0.0.53",
                &format!("{i}.{i}.168.192.in-addr.arpa"),
                12,
            )
        })
        .collect();
    let cases: Vec<(&str, Vec<Analyzed>, Vec<&str>)> = vec![
        ("long labels", long, vec!["dns_tunnel"]),
        ("high entropy", entropy, vec!["dns_tunnel"]),
        ("NULL queries", null, vec!["dns_tunnel"]),
        ("unique CNAME subdomains", unique, vec!["dns_tunnel"]),
        ("ordinary lookups", benign, vec![]),
        ("reverse lookups", ptr, vec![]),
    ];
    for (name, pkts, want) in cases {
        let mut det = DnsTunnelDetector::new(&cfg.dns_tunnel, &cfg.limits);
        let alerts = run(&mut det, &pkts);
        assert_eq!(categories(&alerts), want, "{name}");
    }
    assert_eq!(
        dns_tunnel::split_domain("a.b.evil.co.uk"),
        Some(("evil.co.uk".into(), "a.b".into()))
    );
    assert_eq!(
        dns_tunnel::split_domain("x.example.com."),
        Some(("example.com".into(), "x".into()))
    );
    assert!(dns_tunnel::entropy("aaaa") < 0.01);
    assert!((dns_tunnel::entropy("abcd") - 2.0).abs() < 1e-9);
}

#[test]
fn state_stays_bounded_and_counts_drops() {
    let mut cfg = DetectConfig::default();
    cfg.limits.max_entries = 100;
    let mut det = FloodDetector::new(&cfg.flood, &cfg.limits);
    let pkts: Vec<Analyzed> = (0..1000)
        .map(|i| icmp_echo(i, "10.0.0.1", &format!("10.{}.{}.1", i / 250, i % 250)))
        .collect();
    run(&mut det, &pkts);
    let c: std::collections::HashMap<_, _> = det.counters().into_iter().collect();
    assert!(c["flood.tracked"] <= 100);
    assert!(c["flood.dropped"] > 0);
}

#[test]
fn protocol_scan_needs_many_protocols_to_one_host_and_alerts_once() {
    use super::super::testutil::packet;
    use crate::engine::packet::Transport;
    let cfg = DetectConfig::default();
    let mut det = ProtocolScanDetector::new(&cfg.scan, &cfg.limits);
    // A VPN peer: TCP, UDP, ICMP, ESP, GRE, many packets each.
    let peer: Vec<Analyzed> = (0..500)
        .map(|i| {
            let proto = [6, 17, 1, 50, 47][i % 5];
            packet(
                i as i64,
                "10.0.0.9",
                "10.0.0.2",
                proto,
                Transport::Other(proto),
                b"x",
            )
        })
        .collect();
    assert!(run(&mut det, &peer).is_empty());
    // nmap -sO: one empty packet per protocol number, 256 of them.
    let scan: Vec<Analyzed> = (0..=255u8)
        .map(|p| {
            packet(
                1000 + i64::from(p),
                "10.0.0.1",
                "10.0.0.2",
                p,
                Transport::Other(p),
                b"",
            )
        })
        .collect();
    let alerts = run(&mut det, &scan);
    assert_eq!(categories(&alerts), vec!["protocol_scan"]);
    // 0-5 and 7-10 are ten protocols other than TCP (6) and UDP (17).
    assert_eq!(
        alerts[0].packet, scan[10].pcap_cnt,
        "fires at the tenth protocol"
    );
    assert!(
        alerts[0]
            .explanation
            .contains("10 distinct IP protocols other than TCP and UDP to 10.0.0.2"),
        "{}",
        alerts[0].explanation
    );
    // Broadcast and multicast chatter never counts.
    let mut quiet = ProtocolScanDetector::new(&cfg.scan, &cfg.limits);
    let chatter: Vec<Analyzed> = (0..=255u8)
        .map(|p| {
            packet(
                i64::from(p),
                "10.0.0.1",
                "224.0.0.5",
                p,
                Transport::Other(p),
                b"",
            )
        })
        .collect();
    assert!(run(&mut quiet, &chatter).is_empty());
}

/// A BOOTREQUEST from `mac` with DHCP message type `t`.
fn dhcp_request(ms: i64, mac: [u8; 6], t: u8) -> Analyzed {
    use super::super::testutil::packet;
    use crate::engine::packet::{Transport, UdpInfo};
    let mut p = vec![0u8; 240];
    p[0] = 1; // BOOTREQUEST
    p[1] = 1; // Ethernet
    p[2] = 6; // hardware address length
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    p.extend_from_slice(&[53, 1, t, 0, 255]);
    let udp = Transport::Udp(UdpInfo {
        src_port: 68,
        dst_port: 67,
    });
    packet(ms, "0.0.0.0", "255.255.255.255", 17, udp, &p)
}

#[test]
fn dhcp_requests_parse_and_a_flood_from_one_client_alerts_once() {
    let req = dhcp::parse_request(
        dhcp_request(0, [0x90, 0xb1, 0x1c, 0x99, 0x49, 0x29], 3)
            .frame
            .data
            .as_slice(),
    )
    .expect("a request");
    assert_eq!(req.client(), "90:b1:1c:99:49:29");
    assert_eq!(req.message_type, Some(3));
    // A reply (op 2), a short payload and a missing cookie are not requests.
    let mut reply = dhcp_request(0, [1; 6], 2).frame.data;
    reply[0] = 2;
    assert!(dhcp::parse_request(&reply).is_none());
    assert!(dhcp::parse_request(&reply[..100]).is_none());
    let mut no_cookie = dhcp_request(0, [1; 6], 1).frame.data;
    no_cookie[236] = 0;
    assert!(dhcp::parse_request(&no_cookie).is_none());

    let cfg = DetectConfig::default();
    // Fifty machines booting at once: DISCOVER and REQUEST each, well under both thresholds.
    let mut det = DhcpFloodDetector::new(&cfg.flood, &cfg.limits);
    let boot: Vec<Analyzed> = (0..100)
        .map(|i| {
            dhcp_request(
                i * 20,
                [2, 0, 0, 0, 0, (i / 2) as u8],
                if i % 2 == 0 { 1 } else { 3 },
            )
        })
        .collect();
    assert!(run(&mut det, &boot).is_empty());
    // One client asking 50 times a second (the flood capture's rate).
    let mut det = DhcpFloodDetector::new(&cfg.flood, &cfg.limits);
    let flood: Vec<Analyzed> = (0..250)
        .map(|i| dhcp_request(i * 20, [0x90, 0xb1, 0x1c, 0x99, 0x49, 0x29], 3))
        .collect();
    let alerts = run(&mut det, &flood);
    assert_eq!(categories(&alerts), vec!["dhcp_flood", "dhcp_flood"]);
    assert_eq!(
        alerts[0].packet, flood[19].pcap_cnt,
        "the per-client threshold is 20"
    );
    assert!(alerts[0]
        .explanation
        .contains("from client 90:b1:1c:99:49:29"));
    assert_eq!(
        alerts[1].packet, flood[199].pcap_cnt,
        "the network-wide threshold is 200"
    );
    // Starvation: a new hardware address for every request.
    let mut det = DhcpFloodDetector::new(&cfg.flood, &cfg.limits);
    let starve: Vec<Analyzed> = (0..300)
        .map(|i| dhcp_request(i * 10, [2, 0, 0, 0, (i >> 8) as u8, i as u8], 1))
        .collect();
    let alerts = run(&mut det, &starve);
    assert_eq!(categories(&alerts), vec!["dhcp_flood"]);
    assert!(
        alerts[0]
            .explanation
            .contains("200 DHCP requests from 200 client addresses"),
        "{}",
        alerts[0].explanation
    );
}
