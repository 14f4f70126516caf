//! The flow table over real captures: Community ID against the spec's published value,
//! orientation and TCP states against what the capture is known to contain, and packet/byte
//! conservation under timeouts and eviction.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::collections::HashSet;
use std::net::IpAddr;

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;
use nsm_tui::engine::community_id::community_id_v1_icmp;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::flow::{EndReason, FlowConfig, FlowRecord, FlowState, FlowTable, TcpState};
use nsm_tui::engine::frame::RawFrame;
use nsm_tui::engine::packet::{Decoded, Transport};

/// Frames of a capture with their decoding, or `None` when the shared data or the capture is
/// absent (a skip note, or a failure under CI; see `common::prerequisite`).
#[track_caller]
fn load(rel: &str) -> Option<Vec<(RawFrame, Decoded)>> {
    let path = common::shared_data()?.join(rel);
    if !common::prerequisite(path.is_file(), &format!("the shared capture {rel}")) {
        return None;
    }
    let mut src = FileSource::open(&path).expect("shared capture opens");
    let mut out = Vec::new();
    while let Some(f) = src.next_frame().expect("shared capture reads") {
        let d = decode(&f);
        out.push((f, d));
    }
    Some(out)
}

struct Run {
    records: Vec<FlowRecord>,
    table: FlowTable,
    /// Packets and bytes the table accepted.
    pkts: u64,
    bytes: u64,
    max_active: usize,
}

/// Feed every frame through a table, expiring as the aggregator does, then drain it.
fn run(frames: &[(RawFrame, Decoded)], cfg: FlowConfig) -> Run {
    let mut table = FlowTable::new(cfg);
    let (mut records, mut pkts, mut bytes, mut max_active) = (Vec::new(), 0, 0, 0);
    for (f, d) in frames {
        if table.update(f.ts, d, f.orig_len, &[]).is_some() {
            pkts += 1;
            bytes += u64::from(f.orig_len);
        }
        records.extend(table.expire(f.ts));
        max_active = max_active.max(table.len());
    }
    records.extend(table.drain());
    Run {
        records,
        table,
        pkts,
        bytes,
        max_active,
    }
}

fn assert_conserved(r: &Run) {
    let pkts: u64 = r.records.iter().map(FlowRecord::pkts).sum();
    let bytes: u64 = r.records.iter().map(FlowRecord::bytes).sum();
    assert_eq!(
        pkts, r.pkts,
        "every accepted packet ends up in exactly one flow record"
    );
    assert_eq!(bytes, r.bytes);
    let ids: HashSet<u64> = r.records.iter().map(|x| x.flow_id).collect();
    assert_eq!(ids.len(), r.records.len(), "flow ids are unique");
    assert_eq!(
        r.table.stats().created,
        r.records.len() as u64,
        "every created flow ended once"
    );
    assert!(r.table.is_empty());
}

fn addr(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn ipv6_smtp_session_is_one_flow_with_the_spec_community_id() {
    let Some(frames) = load("pcaps/linktypes/ipv6/communityid_ipv6.pcap") else {
        return;
    };
    let r = run(&frames, FlowConfig::default());
    assert_conserved(&r);
    assert_eq!(r.records.len(), 1);
    let f = &r.records[0];
    // The same tuple is a row of the spec repository's baseline_deflt.json.
    assert_eq!(f.community_id.as_str(), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
    assert_eq!(
        (f.src_ip, f.src_port),
        (addr("2001:470:e5bf:dead:4957:2174:e82c:4887"), 63943)
    );
    assert_eq!(
        (f.dest_ip, f.dest_port),
        (addr("2607:f8b0:400c:c03::1a"), 25)
    );
    let client_frames: Vec<&RawFrame> = frames
        .iter()
        .filter(|(_, d)| d.ip.is_some_and(|ip| ip.src == f.src_ip))
        .map(|(fr, _)| fr)
        .collect();
    assert_eq!(f.pkts_toserver, client_frames.len() as u64);
    assert_eq!(
        f.bytes_toserver,
        client_frames
            .iter()
            .map(|fr| u64::from(fr.orig_len))
            .sum::<u64>()
    );
    assert_eq!(
        (f.pkts_toserver, f.pkts_toclient),
        (9, 8),
        "tcpdump counts 9 and 8"
    );
    let tcp = f.tcp.expect("TCP details");
    assert!(
        tcp.state.is_established(),
        "handshake completed: {:?}",
        tcp.state
    );
    assert_eq!(f.state, FlowState::Established);
    assert_eq!(tcp.flags_ts & 0x02, 0x02, "the client sent the SYN");
}

#[test]
fn idle_gaps_in_capture_time_split_a_flow() {
    let Some(frames) = load("pcaps/linktypes/ipv6/communityid_ipv6.pcap") else {
        return;
    };
    // The session pauses about 8 s after the greeting; a 5 s timeout ends the flow there.
    let r = run(
        &frames,
        FlowConfig {
            idle_timeout_secs: 5,
            max_flows: 100,
        },
    );
    assert_conserved(&r);
    assert!(r.records.len() >= 2, "{} records", r.records.len());
    assert_eq!(r.records[0].reason, EndReason::Timeout);
    assert_eq!(
        r.records[0].pkts(),
        5,
        "SYN, SYN/ACK, ACK, greeting, ACK before the pause"
    );
    assert!(r.records[1..]
        .iter()
        .all(|x| x.community_id == r.records[0].community_id));
    assert_eq!(r.table.stats().timed_out, r.records.len() as u64 - 1);
}

#[test]
fn icmpv6_ping_is_one_two_way_flow() {
    let Some(frames) = load("pcaps/linktypes/ipv6/icmp_icmp6-ping.pcap") else {
        return;
    };
    let r = run(&frames, FlowConfig::default());
    assert_conserved(&r);
    assert_eq!(r.records.len(), 1);
    let f = &r.records[0];
    assert_eq!((f.pkts_toserver, f.pkts_toclient), (4, 4));
    let icmp = f.icmp.expect("ICMP details");
    assert_eq!((icmp.icmp_type, icmp.response), (128, Some((129, 0))));
    // Computed from a reply, the ID must be the same as from the request.
    let reply = community_id_v1_icmp(0, f.dest_ip, f.src_ip, 58, 129, 0);
    assert_eq!(f.community_id.as_str(), reply);
}

#[test]
fn syn_scan_flows_start_at_the_scanner_and_never_establish() {
    let Some(frames) = load("pcaps/scans/nmap_tcp_syn_scan.pcap") else {
        return;
    };
    let r = run(&frames, FlowConfig::default());
    assert_conserved(&r);
    let scanner = addr("192.168.1.10");
    let tcp: Vec<&FlowRecord> = r.records.iter().filter(|x| x.ip_proto == 6).collect();
    let ports: HashSet<u16> = frames
        .iter()
        .filter_map(|(_, d)| match (&d.ip, &d.transport) {
            (Some(ip), Transport::Tcp(t)) if ip.src == scanner && t.flags.0 & 0x12 == 0x02 => {
                Some(t.dst_port)
            }
            _ => None,
        })
        .collect();
    assert!(
        ports.len() >= 1000,
        "nmap probes about 1000 ports, saw {}",
        ports.len()
    );
    assert!(
        tcp.len() >= ports.len(),
        "{} flows for {} probed ports",
        tcp.len(),
        ports.len()
    );
    assert!(
        tcp.iter().all(|x| x.src_ip == scanner),
        "the SYN sender is every flow's client"
    );
    // A SYN scan answers SYN/ACK with RST: no handshake ever completes.
    assert!(tcp.iter().all(|x| x.state != FlowState::Established));
    let closed = tcp
        .iter()
        .filter(|x| x.tcp.map(|t| t.state) == Some(TcpState::Closed))
        .count();
    let unanswered = tcp.iter().filter(|x| x.pkts_toclient == 0).count();
    assert!(
        closed > 900,
        "closed ports answer RST: {closed} closed flows"
    );
    assert_eq!(
        closed + unanswered,
        tcp.len(),
        "every flow was either reset or never answered"
    );
}

#[test]
fn eviction_at_a_small_cap_keeps_counts_exact() {
    let Some(frames) = load("pcaps/scans/nmap_tcp_syn_scan.pcap") else {
        return;
    };
    let r = run(
        &frames,
        FlowConfig {
            idle_timeout_secs: 600,
            max_flows: 16,
        },
    );
    assert_conserved(&r);
    assert!(
        r.max_active <= 16,
        "never more than the cap: {}",
        r.max_active
    );
    let evicted = r
        .records
        .iter()
        .filter(|x| x.reason == EndReason::Evicted)
        .count() as u64;
    assert!(evicted > 500, "{evicted} evicted");
    assert_eq!(r.table.stats().evicted, evicted);
}

#[test]
fn connect_scan_completes_handshakes_on_open_ports() {
    let Some(frames) = load("pcaps/scans/nmap_tcp_connect_scan.pcap") else {
        return;
    };
    let r = run(&frames, FlowConfig::default());
    assert_conserved(&r);
    // Open ports answer SYN/ACK; a connect scan then completes the handshake with an ACK
    // (unlike the SYN scan above), at least where the scanner's stack did not reset first.
    let open: Vec<_> = r
        .records
        .iter()
        .filter_map(|x| x.tcp)
        .filter(|t| t.flags_tc & 0x12 == 0x12)
        .collect();
    assert!(!open.is_empty(), "the capture has open ports");
    let acked = open.iter().filter(|t| t.flags_ts & 0x10 != 0).count();
    assert!(
        acked * 2 > open.len(),
        "the client ACKs most SYN/ACKs: {acked} of {}",
        open.len()
    );
}

mod random {
    use super::*;
    use nsm_tui::engine::frame::Ts;
    use nsm_tui::engine::packet::{IcmpInfo, IpInfo, TcpFlags, TcpInfo, UdpInfo};
    use proptest::prelude::*;

    fn packet(src: u8, dst: u8, sport: u16, dport: u16, kind: u8, flags: u16) -> Decoded {
        let proto = [6, 17, 1, 47][usize::from(kind % 4)];
        let ip = IpInfo {
            src: IpAddr::from([10, 0, 0, src]),
            dst: IpAddr::from([10, 0, 0, dst]),
            proto,
            ttl: 64,
            total_len: 60,
            fragment: None,
            has_options: false,
            ext_headers: 0,
        };
        let transport = match proto {
            6 => Transport::Tcp(TcpInfo {
                src_port: sport,
                dst_port: dport,
                flags: TcpFlags(flags),
                ..TcpInfo::default()
            }),
            17 => Transport::Udp(UdpInfo {
                src_port: sport,
                dst_port: dport,
            }),
            1 => Transport::Icmp(IcmpInfo {
                icmp_type: (flags % 20) as u8,
                code: 0,
            }),
            _ => Transport::Other(47),
        };
        Decoded {
            ip: Some(ip),
            transport,
            ..Decoded::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Whatever the traffic and clock (including time going backwards), every accepted
        /// packet lands in exactly one record, the cap holds, and every flow ends once.
        #[test]
        fn invariants_hold_for_any_traffic(
            idle in 1u64..20,
            cap in 1usize..8,
            pkts in proptest::collection::vec((0u8..5, 0u8..5, 0u16..3, 0u16..3, 0u8..4, 0u16..64, -3i64..25, 1u32..1500), 1..300),
        ) {
            let mut t = FlowTable::new(FlowConfig { idle_timeout_secs: idle, max_flows: cap });
            let (mut secs, mut accepted, mut bytes) = (1_000_000i64, 0u64, 0u64);
            let mut clock = secs;
            let mut records = Vec::new();
            for (s, d, sp, dp, kind, flags, dt, len) in pkts {
                secs += dt;
                let ts = Ts::from_parts(secs, 0);
                let u = t.update(ts, &packet(s, d, sp, dp, kind, flags), len, &[]);
                prop_assert!(u.is_some());
                accepted += 1;
                bytes += u64::from(len);
                clock = clock.max(secs);
                for r in t.expire(ts) {
                    if r.reason == EndReason::Timeout {
                        prop_assert!(clock - r.end.secs() > idle as i64, "timed out early");
                    }
                    records.push(r);
                }
                prop_assert!(t.len() <= cap);
            }
            records.extend(t.drain());
            prop_assert_eq!(records.iter().map(FlowRecord::pkts).sum::<u64>(), accepted);
            prop_assert_eq!(records.iter().map(FlowRecord::bytes).sum::<u64>(), bytes);
            prop_assert_eq!(t.stats().created, records.len() as u64);
            let ids: HashSet<u64> = records.iter().map(|r| r.flow_id).collect();
            prop_assert_eq!(ids.len(), records.len());
            prop_assert!(t.is_empty());
        }
    }
}

#[test]
fn dns_flows_keep_their_longest_question_name_for_the_features() {
    let Some(frames) = load("pcaps/dns_tunnel/dmachard_iodine.pcap") else {
        return;
    };
    let r = run(&frames, FlowConfig::default());
    let dns: Vec<_> = r
        .records
        .iter()
        .filter(|f| f.dest_port == 53 || f.src_port == 53)
        .collect();
    assert!(!dns.is_empty());
    for f in &dns {
        let name = f.shape.dns_name.expect("a DNS flow keeps a question name");
        assert!(name.len > 0 && name.labels > 0, "{name:?}");
    }
    // iodine carries its data in long encoded labels: the longest name is several times an
    // ordinary host name.
    let longest = dns
        .iter()
        .filter_map(|f| f.shape.dns_name)
        .max_by_key(|n| n.len)
        .unwrap();
    assert!(longest.len > 100 && longest.entropy > 3.0, "{longest:?}");
    let features = nsm_tui::engine::features::FlowFeatures::of(dns[0]);
    assert!(features.0[17] > 0.0 && features.0[18] > 0.0);
    assert!(r
        .records
        .iter()
        .filter(|f| f.dest_port != 53 && f.src_port != 53)
        .all(|f| f.shape.dns_name.is_none()));
}
