//! Table tests of the attack classes over synthetic packets: ICMP reconnaissance, reflection
//! and backscatter, spoofed SYN floods, low-volume DNS tunnels, refused connections and
//! cleartext login failures.

use super::super::config::DetectConfig;
use super::super::testutil::{dns_query, packet, run_flows, tcp, tcp_payload, Seen};
use super::super::StatefulDetector;
use super::dns_tunnel::encoded_label;
use super::*;
use crate::engine::alert::Alert;
use crate::engine::packet::{IcmpInfo, TcpFlags, Transport};
use crate::engine::record::Analyzed;

const S: u16 = TcpFlags::SYN;
const A: u16 = TcpFlags::ACK;
const R: u16 = TcpFlags::RST;
const P: u16 = TcpFlags::PSH;

fn icmp(ms: i64, src: &str, dst: &str, icmp_type: u8) -> Analyzed {
    let t = Transport::Icmp(IcmpInfo { icmp_type, code: 0 });
    packet(ms, src, dst, 1, t, b"\0\0\0\0\0\0\0\0\0\0\0\0")
}

fn run(det: &mut dyn StatefulDetector, pkts: &[Analyzed]) -> Vec<Alert> {
    let mut out = Vec::new();
    for p in pkts {
        det.observe(p, None, &mut out);
    }
    out
}

#[test]
fn icmp_recon_requests_alert_once_per_source_and_window_naming_the_type() {
    let cfg = DetectConfig::default();
    let cases: &[(u8, Option<&str>)] = &[
        (13, Some("timestamp request")),
        (15, Some("information request")),
        (17, Some("address-mask request")),
        (8, None),
        (0, None),
        (14, None),
        (18, None),
        (3, None),
    ];
    for &(ty, want) in cases {
        let mut det = ReconIcmpDetector::new(&cfg.scan, &cfg.limits);
        // Five requests in 5 s, another after the 60 s window, and one from a second source.
        let mut pkts: Vec<Analyzed> = (0..5)
            .map(|i| icmp(i * 1000, "10.0.0.1", "10.0.0.2", ty))
            .collect();
        pkts.push(icmp(70_000, "10.0.0.1", "10.0.0.2", ty));
        pkts.push(icmp(70_001, "10.0.0.3", "10.0.0.2", ty));
        let alerts = run(&mut det, &pkts);
        match want {
            Some(name) => {
                assert_eq!(alerts.len(), 3, "type {ty}");
                for a in &alerts {
                    assert_eq!(&*a.category, "recon_icmp");
                    assert!(a.description.contains(name), "{}", a.description);
                    assert!(a.explanation.contains(name), "{}", a.explanation);
                    assert_eq!(a.evidence["icmp_type"], u64::from(ty));
                }
                assert_eq!(alerts[0].packet, pkts[0].pcap_cnt);
                assert_eq!(alerts[2].evidence["src"], "10.0.0.3");
            }
            None => assert!(alerts.is_empty(), "type {ty}"),
        }
    }
}

#[test]
fn unsolicited_syn_acks_or_resets_from_many_sources_name_the_victim() {
    let cfg = DetectConfig::default();
    let victim = "10.9.9.9";
    let from_many = |flags: u16| -> Vec<Seen> {
        (0..300)
            .map(|i| {
                let src = format!("198.51.{}.{}", i / 200, i % 200 + 1);
                (tcp(i * 10, &src, 80, victim, 40000 + i as u16, flags), true)
            })
            .collect()
    };
    // Answers to the victim's own SYNs: the flows already exist.
    let solicited: Vec<Seen> = from_many(S | A)
        .into_iter()
        .map(|(p, _)| (p, false))
        .collect();
    // One busy server resetting one client: many packets, one source.
    let one_source: Vec<Seen> = (0..300)
        .map(|i| {
            (
                tcp(i * 10, "198.51.0.1", 80, victim, 40000 + i as u16, R | A),
                true,
            )
        })
        .collect();
    let few: Vec<Seen> = from_many(S | A).into_iter().take(50).collect();
    let cases: Vec<(&str, Vec<Seen>, usize)> = vec![
        ("syn-ack reflection", from_many(S | A), 1),
        ("rst backscatter", from_many(R), 1),
        ("rst-ack backscatter", from_many(R | A), 1),
        ("answers to own syns", solicited, 0),
        ("one source", one_source, 0),
        ("below the packet threshold", few, 0),
        ("syns are not backscatter", from_many(S), 0),
    ];
    for (name, pkts, want) in cases {
        let mut det = BackscatterDetector::new(&cfg.flood, &cfg.limits);
        let alerts = run_flows(&mut det, &pkts);
        assert_eq!(alerts.len(), want, "{name}");
        for a in &alerts {
            assert_eq!(&*a.category, "backscatter", "{name}");
            assert_eq!(a.evidence["victim"], victim, "{name}");
            assert!(
                a.evidence["distinct_sources"].as_u64() >= Some(20),
                "{name}"
            );
            assert!(a.description.contains(victim), "{}", a.description);
            assert!(
                a.explanation.contains("not the attacker")
                    || a.explanation.contains("rather than the attacker"),
                "{name}: {}",
                a.explanation
            );
        }
    }
}

#[test]
fn spoofed_syn_flood_names_the_target_and_the_number_of_sources() {
    let cfg = DetectConfig::default();
    let mut det = FloodDetector::new(&cfg.flood, &cfg.limits);
    let pkts: Vec<Analyzed> = (0..400)
        .map(|i| {
            let src = format!("10.{}.{}.1", i / 200, i % 200);
            tcp(i * 5, &src, 1024 + i as u16, "10.9.9.9", 80, S)
        })
        .collect();
    let alerts = run(&mut det, &pkts);
    let syn: Vec<&Alert> = alerts
        .iter()
        .filter(|a| &*a.category == "syn_flood")
        .collect();
    assert_eq!(syn.len(), 1, "{alerts:?}");
    assert_eq!(syn[0].evidence["dst"], "10.9.9.9");
    let sources = syn[0].evidence["distinct_sources"].as_u64().unwrap_or(0);
    assert!(sources >= 200, "{sources}");
    assert!(syn[0].explanation.contains("toward 10.9.9.9"));
    assert!(syn[0]
        .explanation
        .contains(&format!("from {sources} sources")));
}

/// A label of `n` characters of `alphabet` drawn by a fixed linear congruential generator.
fn random_label(seed: u64, n: usize, alphabet: &[u8]) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(alphabet[((x >> 33) as usize) % alphabet.len()])
        })
        .collect()
}

const HEX: &[u8] = b"0123456789abcdef";
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

#[test]
fn label_randomness_is_judged_against_its_own_alphabet() {
    let hex = random_label(1, 32, HEX);
    let b32 = random_label(2, 32, BASE32).to_ascii_lowercase();
    assert_eq!(encoded_label(&hex), Some("hex"), "{hex}");
    assert_eq!(encoded_label(&b32), Some("base32"), "{b32}");
    // 32 hex characters hold at most 4 bits each: a fixed 4.0 cut never sees them.
    assert!(dns_tunnel::entropy(&hex) < 4.0);
    for quiet in [
        "downloadcenter2",
        "safebrowsing2update",
        "deadbeef00000000",
        "aaaaaaaa22222222",
        "0123456789012345",
        "abcdefabcdefabcd",
        "r3---sn-4g5e6nsz",
        "e1234",
        "www",
    ] {
        assert_eq!(encoded_label(quiet), None, "{quiet}");
    }
}

#[test]
fn a_dozen_encoded_queries_are_a_low_volume_dns_tunnel() {
    let cfg = DetectConfig::default();
    let queries = |alphabet: &[u8], parent: &str, n: usize| -> Vec<Analyzed> {
        (0..n)
            .map(|i| {
                let label = random_label(i as u64 + 7, 32, alphabet);
                let name = format!("{label}.{parent}");
                dns_query(i as i64 * 5000, "10.0.0.5", "10.0.0.53", &name, 1)
            })
            .collect()
    };
    let same_hash: Vec<Analyzed> = (0..30)
        .map(|i| {
            let name = "3f2a9c0e1b7d4c6a8e5f0a1b2c3d4e5f.updates.com";
            dns_query(i * 5000, "10.0.0.5", "10.0.0.53", name, 1)
        })
        .collect();
    let cdn: Vec<Analyzed> = (0..30)
        .map(|i| {
            let name = format!("static-assets-{i}.images.cdn-provider.net");
            dns_query(i * 5000, "10.0.0.5", "10.0.0.53", &name, 1)
        })
        .collect();
    // (name, queries, alphabet and encoded queries at the alert): base32 labels of 32
    // characters also pass the fixed entropy cut, whose five queries come first.
    type Case<'a> = (&'a str, Vec<Analyzed>, Option<(&'a str, u64)>);
    let cases: Vec<Case> = vec![
        ("hex", queries(HEX, "h.example", 12), Some(("hex", 10))),
        (
            "base32",
            queries(BASE32, "t.example", 12),
            Some(("base32", 5)),
        ),
        ("a few hex", queries(HEX, "h.example", 8), None),
        ("one hash asked again and again", same_hash, None),
        ("numbered cdn names", cdn, None),
    ];
    for (name, pkts, want) in cases {
        let mut det = DnsTunnelDetector::new(&cfg.dns_tunnel, &cfg.limits);
        let alerts = run(&mut det, &pkts);
        match want {
            Some((alpha, encoded)) => {
                assert_eq!(alerts.len(), 1, "{name}");
                assert_eq!(&*alerts[0].category, "dns_tunnel");
                assert_eq!(alerts[0].evidence["encoded_alphabet"], alpha, "{name}");
                assert_eq!(alerts[0].evidence["encoded_queries"], encoded, "{name}");
            }
            None => assert!(alerts.is_empty(), "{name}: {alerts:?}"),
        }
    }
}

/// An ICMP destination unreachable (code 3, port) from `router` quoting the SYN `client:sport`
/// → `server:dport`.
fn unreachable(
    ms: i64,
    router: &str,
    client: [u8; 4],
    sport: u16,
    server: [u8; 4],
    dport: u16,
) -> Analyzed {
    let mut quoted = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0];
    quoted.extend_from_slice(&client);
    quoted.extend_from_slice(&server);
    quoted.extend_from_slice(&sport.to_be_bytes());
    quoted.extend_from_slice(&dport.to_be_bytes());
    quoted.extend_from_slice(&[0, 0, 0, 1]);
    let dst = std::net::Ipv4Addr::from(client).to_string();
    let t = Transport::Icmp(IcmpInfo {
        icmp_type: 3,
        code: 3,
    });
    packet(ms, router, &dst, 1, t, &quoted)
}

/// A client at 10.0.0.5 and a server at 10.0.0.2:`port`: for each of `n` connections the SYN,
/// then what `then` adds at that time.
fn connections_with(n: i64, port: u16, then: impl Fn(i64, u16) -> Vec<Analyzed>) -> Vec<Analyzed> {
    let mut out = Vec::new();
    for i in 0..n {
        let at = i * 2000;
        let sport = 40000 + i as u16;
        out.push(tcp(at, "10.0.0.5", sport, "10.0.0.2", port, S));
        out.extend(then(at, sport));
    }
    // The client's next packet, on which a pending alert lands.
    out.push(tcp(n * 2000 + 500, "10.0.0.5", 50000, "10.0.0.2", port, A));
    out
}

#[test]
fn refused_connections_are_no_logins_and_cleartext_failures_are() {
    let cfg = DetectConfig::default();
    let server = |at: i64, sport: u16, port: u16, flags: u16, body: &[u8]| {
        tcp_payload(at, "10.0.0.2", port, "10.0.0.5", sport, flags, body)
    };
    let client = |at: i64, sport: u16, port: u16, body: &[u8]| {
        tcp_payload(at, "10.0.0.5", sport, "10.0.0.2", port, P | A, body)
    };
    type Case = (&'static str, Vec<Analyzed>, Option<&'static str>);
    let cases: Vec<Case> = vec![
        (
            "accepted ssh connections",
            connections_with(12, 22, |at, sp| {
                vec![
                    server(at + 1, sp, 22, S | A, b""),
                    tcp(at + 2, "10.0.0.5", sp, "10.0.0.2", 22, A),
                ]
            }),
            Some("connections"),
        ),
        (
            "refused by rst",
            connections_with(12, 22, |at, sp| vec![server(at + 1, sp, 22, R | A, b"")]),
            None,
        ),
        (
            "refused by icmp port unreachable",
            connections_with(12, 22, |at, sp| {
                vec![unreachable(
                    at + 1,
                    "10.0.0.1",
                    [10, 0, 0, 5],
                    sp,
                    [10, 0, 0, 2],
                    22,
                )]
            }),
            None,
        ),
        (
            "pop3 -ERR after PASS",
            connections_with(6, 110, |at, sp| {
                vec![
                    client(at + 1, sp, 110, b"PASS guess\r\n"),
                    server(
                        at + 2,
                        sp,
                        110,
                        P | A,
                        b"-ERR [AUTH] Authentication failed.\r\n",
                    ),
                ]
            }),
            Some("failed_logins"),
        ),
        (
            "pop3 -ERR for anything else",
            connections_with(6, 110, |at, sp| {
                vec![
                    client(at + 1, sp, 110, b"RETR 9\r\n"),
                    server(at + 2, sp, 110, P | A, b"-ERR no such message\r\n"),
                ]
            }),
            None,
        ),
        (
            "imap NO after LOGIN",
            connections_with(6, 143, |at, sp| {
                vec![
                    client(at + 1, sp, 143, b"a1 LOGIN root guess\r\n"),
                    server(
                        at + 2,
                        sp,
                        143,
                        P | A,
                        b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
                    ),
                ]
            }),
            Some("failed_logins"),
        ),
        (
            "http 401",
            connections_with(6, 80, |at, sp| {
                vec![
                    client(at + 1, sp, 80, b"GET /admin HTTP/1.1\r\n"),
                    server(at + 2, sp, 80, P | A, b"HTTP/1.1 401 Unauthorized\r\n"),
                ]
            }),
            Some("failed_logins"),
        ),
        (
            "http 200",
            connections_with(60, 80, |at, sp| {
                vec![server(at + 2, sp, 80, P | A, b"HTTP/1.1 200 OK\r\n")]
            }),
            None,
        ),
    ];
    for (name, pkts, want) in cases {
        let mut det = BruteForceDetector::new(&cfg.brute_force, &cfg.limits);
        let alerts = run(&mut det, &pkts);
        match want {
            Some(trigger) => {
                assert_eq!(alerts.len(), 1, "{name}: {alerts:?}");
                assert_eq!(&*alerts[0].category, "brute_force");
                assert_eq!(alerts[0].evidence["trigger"], trigger, "{name}");
                assert_eq!(alerts[0].evidence["src"], "10.0.0.5", "{name}");
                let sender = pkts.iter().find(|p| p.pcap_cnt == alerts[0].packet);
                let src = sender
                    .and_then(|p| p.decoded.ip)
                    .map(|ip| ip.src.to_string());
                assert_eq!(src.as_deref(), Some("10.0.0.5"), "{name}");
            }
            None => assert!(alerts.is_empty(), "{name}: {alerts:?}"),
        }
    }
}
