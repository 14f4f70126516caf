//! The flow table from decoded packets: keys, directions, TCP states, timeouts, eviction.

use std::net::IpAddr;

use super::*;
use crate::engine::packet::{Decoded, IcmpInfo, IpInfo, TcpFlags, TcpInfo, Transport, UdpInfo};

const S: u16 = TcpFlags::SYN;
const A: u16 = TcpFlags::ACK;
const F: u16 = TcpFlags::FIN;
const R: u16 = TcpFlags::RST;

fn ip(src: &str, dst: &str, proto: u8) -> IpInfo {
    IpInfo {
        src: src.parse().expect("test address"),
        dst: dst.parse().expect("test address"),
        proto,
        ttl: 64,
        total_len: 60,
        fragment: None,
        has_options: false,
        ext_headers: 0,
    }
}

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u16) -> Decoded {
    Decoded {
        ip: Some(ip(src, dst, 6)),
        transport: Transport::Tcp(TcpInfo {
            src_port: sport,
            dst_port: dport,
            flags: TcpFlags(flags),
            ..TcpInfo::default()
        }),
        ..Decoded::default()
    }
}

fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Decoded {
    Decoded {
        ip: Some(ip(src, dst, 17)),
        transport: Transport::Udp(UdpInfo {
            src_port: sport,
            dst_port: dport,
        }),
        ..Decoded::default()
    }
}

fn icmp(src: &str, dst: &str, icmp_type: u8) -> Decoded {
    Decoded {
        ip: Some(ip(src, dst, 1)),
        transport: Transport::Icmp(IcmpInfo { icmp_type, code: 0 }),
        ..Decoded::default()
    }
}

fn at(secs: i64) -> Ts {
    Ts::from_parts(secs, 0)
}

fn table(idle: u64, max: usize) -> FlowTable {
    FlowTable::new(FlowConfig {
        idle_timeout_secs: idle,
        max_flows: max,
    })
}

fn up(t: &mut FlowTable, secs: i64, d: &Decoded, len: u32) -> FlowUpdate {
    t.update(at(secs), d, len, &[])
        .expect("an IP packet has a flow")
}

#[test]
fn both_directions_map_to_one_flow_with_counts() {
    let mut t = table(60, 100);
    let a = up(&mut t, 100, &udp("10.0.0.1", 5000, "10.0.0.2", 53), 80);
    let b = up(&mut t, 100, &udp("10.0.0.2", 53, "10.0.0.1", 5000), 120);
    let c = up(&mut t, 101, &udp("10.0.0.1", 5000, "10.0.0.2", 53), 90);
    assert!(a.is_new && !b.is_new && !c.is_new);
    assert_eq!(a.flow_id, b.flow_id);
    assert_ne!(a.flow_id, 0);
    assert_eq!(
        (a.direction, b.direction),
        (Direction::ToServer, Direction::ToClient)
    );
    assert!(c.to_server);
    assert_eq!(
        (
            c.pkts_toserver,
            c.pkts_toclient,
            c.bytes_toserver,
            c.bytes_toclient
        ),
        (2, 1, 170, 120)
    );
    assert!(!a.established && b.established);
    assert_eq!(a.meta.app_proto, Some(AppProto::Dns));
    assert_eq!(a.meta.community_id, b.meta.community_id);
    assert_eq!(t.len(), 1);
    let recs = t.drain();
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(
        (r.src_ip, r.src_port, r.dest_port),
        ("10.0.0.1".parse::<IpAddr>().expect("addr"), 5000, 53)
    );
    assert_eq!(
        (r.pkts_toserver, r.pkts_toclient, r.bytes(), r.age_secs()),
        (2, 1, 290, 1)
    );
    assert_eq!(
        (r.reason, r.state),
        (EndReason::Shutdown, FlowState::Established)
    );
    assert!(t.is_empty());
}

#[test]
fn community_id_matches_the_spec_vector() {
    let mut t = table(60, 100);
    let u = up(&mut t, 1, &udp("8.8.8.8", 53, "192.168.1.52", 54585), 60);
    assert_eq!(&*u.meta.community_id, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
}

#[test]
fn tcp_handshake_close_and_flags() {
    let mut t = table(60, 100);
    let c = ("10.1.1.1", 40000);
    let s = ("10.1.1.2", 80);
    let pkts = [
        (true, S),
        (false, S | A),
        (true, A),
        (true, A | TcpFlags::PSH),
        (true, F | A),
        (false, F | A),
        (true, A),
    ];
    let mut last = None;
    for (to_server, fl) in pkts {
        let d = if to_server {
            tcp(c.0, c.1, s.0, s.1, fl)
        } else {
            tcp(s.0, s.1, c.0, c.1, fl)
        };
        last = Some(up(&mut t, 10, &d, 60));
    }
    let last = last.expect("packets were sent");
    assert_eq!(last.tcp_state, Some(TcpState::Closed));
    assert!(
        t.expire(at(10)).is_empty(),
        "a closed flow lingers within its second"
    );
    let ended = t.expire(at(12));
    assert_eq!(ended.len(), 1);
    let r = &ended[0];
    assert_eq!((r.reason, r.state), (EndReason::Closed, FlowState::Closed));
    let tcp = r.tcp.expect("a TCP flow has TCP details");
    assert_eq!(tcp.flags_ts, 0x1b, "SYN FIN PSH ACK from the client");
    assert_eq!(tcp.flags_tc, 0x13, "SYN FIN ACK from the server");
    assert_eq!(tcp.flags(), 0x1b);
    assert_eq!(t.closed_count(), 1);
}

#[test]
fn syn_ack_first_makes_its_receiver_the_client() {
    let mut t = table(60, 100);
    let u = up(
        &mut t,
        1,
        &tcp("10.0.0.9", 443, "10.0.0.5", 51000, S | A),
        60,
    );
    assert_eq!(u.direction, Direction::ToClient);
    let r = t.drain().pop().expect("one flow");
    assert_eq!((r.src_port, r.dest_port), (51000, 443));
    assert_eq!(r.tcp.map(|x| x.state), Some(TcpState::SynRecv));
}

#[test]
fn syn_on_a_reset_flow_starts_a_new_one() {
    let mut t = table(60, 100);
    let first = up(&mut t, 1, &tcp("10.0.0.1", 1234, "10.0.0.2", 22, S), 60);
    up(&mut t, 1, &tcp("10.0.0.2", 22, "10.0.0.1", 1234, R | A), 60);
    let again = up(&mut t, 1, &tcp("10.0.0.1", 1234, "10.0.0.2", 22, S), 60);
    assert!(again.is_new);
    assert_ne!(first.flow_id, again.flow_id);
    let ended = t.expire(at(1));
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (ended[0].flow_id, ended[0].reason),
        (first.flow_id, EndReason::Closed)
    );
    assert_eq!(ended[0].pkts(), 2);
}

#[test]
fn idle_expiry_follows_capture_time() {
    let mut t = table(30, 100);
    let a = up(&mut t, 1000, &udp("10.0.0.1", 1, "10.0.0.2", 2), 60);
    let b = up(&mut t, 1010, &udp("10.0.0.3", 1, "10.0.0.4", 2), 60);
    assert!(
        t.expire(at(1030)).is_empty(),
        "30 s idle is not more than 30 s"
    );
    let ended = t.expire(at(1031));
    assert_eq!(
        ended.iter().map(|r| r.flow_id).collect::<Vec<_>>(),
        [a.flow_id]
    );
    assert_eq!(ended[0].reason, EndReason::Timeout);
    // A packet keeps flow b alive past its first deadline.
    up(&mut t, 1035, &udp("10.0.0.4", 2, "10.0.0.3", 1), 60);
    assert!(t.expire(at(1041)).is_empty());
    // Time going backwards (reordered capture) neither expires nor panics.
    assert!(t.expire(at(900)).is_empty());
    let ended = t.expire(at(1066));
    assert_eq!(
        ended.iter().map(|r| r.flow_id).collect::<Vec<_>>(),
        [b.flow_id]
    );
    assert_eq!(t.stats().timed_out, 2);
    assert_eq!(t.stats().active, 0);
}

#[test]
fn a_long_gap_expires_everything_once() {
    let mut t = table(10, 100);
    for i in 0..20u16 {
        up(&mut t, 5, &udp("10.0.0.1", 1000 + i, "10.0.0.2", 53), 60);
    }
    let ended = t.expire(at(1_000_000));
    assert_eq!(ended.len(), 20);
    assert!(t.is_empty());
    let u = up(
        &mut t,
        1_000_001,
        &udp("10.0.0.1", 1000, "10.0.0.2", 53),
        60,
    );
    assert!(u.is_new);
}

#[test]
fn eviction_at_cap_removes_the_least_recently_seen() {
    let mut t = table(60, 3);
    let a = up(&mut t, 1, &udp("10.0.0.1", 1, "10.0.0.9", 9), 60);
    let b = up(&mut t, 2, &udp("10.0.0.2", 1, "10.0.0.9", 9), 60);
    up(&mut t, 3, &udp("10.0.0.3", 1, "10.0.0.9", 9), 60);
    // Touch a so b becomes the oldest.
    up(&mut t, 4, &udp("10.0.0.1", 1, "10.0.0.9", 9), 60);
    up(&mut t, 5, &udp("10.0.0.4", 1, "10.0.0.9", 9), 60);
    assert_eq!(t.len(), 3);
    let ended = t.expire(at(5));
    assert_eq!(
        ended
            .iter()
            .map(|r| (r.flow_id, r.reason))
            .collect::<Vec<_>>(),
        [(b.flow_id, EndReason::Evicted)]
    );
    assert_eq!(t.stats().evicted, 1);
    assert_eq!(t.stats().created, 4);
    let rest: Vec<u64> = t.drain().iter().map(|r| r.flow_id).collect();
    assert!(rest.contains(&a.flow_id));
}

#[test]
fn eviction_prefers_closed_flows() {
    let mut t = table(60, 2);
    let closed = up(&mut t, 1, &tcp("10.0.0.1", 1, "10.0.0.2", 2, S), 60);
    up(&mut t, 2, &udp("10.0.0.5", 1, "10.0.0.6", 2), 60);
    up(&mut t, 3, &tcp("10.0.0.2", 2, "10.0.0.1", 1, R), 60);
    up(&mut t, 3, &udp("10.0.0.7", 1, "10.0.0.8", 2), 60);
    let ended = t.expire(at(3));
    assert_eq!(
        ended.iter().map(|r| r.flow_id).collect::<Vec<_>>(),
        [closed.flow_id]
    );
}

#[test]
fn icmp_echo_and_reply_share_a_flow() {
    let mut t = table(60, 100);
    let req = up(&mut t, 1, &icmp("192.168.0.89", "192.168.0.1", 8), 98);
    let rep = up(&mut t, 1, &icmp("192.168.0.1", "192.168.0.89", 0), 98);
    assert_eq!(req.flow_id, rep.flow_id);
    assert_eq!(rep.direction, Direction::ToClient);
    assert_eq!(&*req.meta.community_id, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    t.mark_alerted(req.flow_id);
    let r = t.drain().pop().expect("one flow");
    let i = r.icmp.expect("ICMP details");
    assert_eq!((i.icmp_type, i.icmp_code, i.response), (8, 0, Some((0, 0))));
    assert!(r.alerted);
    assert!(!r.has_ports());
    assert_eq!(r.proto(), crate::engine::packet::Proto::Icmp);
    assert_eq!(t.stats().icmpv4, 1);
}

#[test]
fn packets_without_a_flow() {
    let mut t = table(60, 100);
    assert!(t.update(at(1), &Decoded::default(), 60, &[]).is_none());
    let mut frag = tcp("10.0.0.1", 0, "10.0.0.2", 0, 0);
    frag.transport = Transport::Other(6);
    assert!(t.update(at(1), &frag, 60, &[]).is_none());
    let mut gre = Decoded {
        ip: Some(ip("10.0.0.1", "10.0.0.2", 47)),
        ..Decoded::default()
    };
    gre.transport = Transport::Other(47);
    assert!(t.update(at(1), &gre, 60, &[]).is_some());
    assert_eq!(t.len(), 1);
}

#[test]
fn vlans_separate_flows() {
    let mut t = table(60, 100);
    let mut a = udp("10.0.0.1", 1, "10.0.0.2", 2);
    a.vlans = vec![10];
    let mut b = a.clone();
    b.vlans = vec![20];
    let x = up(&mut t, 1, &a, 60);
    let y = up(&mut t, 1, &b, 60);
    assert_ne!(x.flow_id, y.flow_id);
    let recs = t.drain();
    assert!(recs.iter().any(|r| r.vlans == [10]));
}

#[test]
fn ids_are_unique_and_nonzero() {
    let mut t = table(60, 10);
    let mut seen = std::collections::HashSet::new();
    for i in 0..5000u16 {
        let u = up(&mut t, i64::from(i), &udp("10.0.0.1", i, "10.0.0.2", 9), 60);
        assert!(u.flow_id != 0 && u.flow_id < (1 << 52));
        assert!(seen.insert(u.flow_id));
    }
    assert_eq!(t.len(), 10);
    assert_eq!(t.stats().created, 5000);
    assert_eq!(t.stats().evicted + t.stats().timed_out, 4990);
}

#[test]
fn alerts_mark_the_right_flow_recent_or_not() {
    let mut t = table(60, 100);
    let a = up(&mut t, 1, &udp("10.0.0.1", 1000, "10.0.0.2", 53), 60);
    let b = up(&mut t, 1, &udp("10.0.0.3", 1000, "10.0.0.4", 53), 60);
    // `a` is no longer the flow last updated: found by the slow path.
    t.mark_alerted(a.flow_id);
    // An id no live flow has changes nothing.
    t.mark_alerted(a.flow_id ^ b.flow_id ^ 1);
    let ended = t.drain();
    let alerted: Vec<(u64, bool)> = ended.iter().map(|r| (r.flow_id, r.alerted)).collect();
    assert!(alerted.contains(&(a.flow_id, true)));
    assert!(alerted.contains(&(b.flow_id, false)));
}

#[test]
fn chunked_drain_keeps_drain_order() {
    let fill = |t: &mut FlowTable| {
        // Flows ending earlier (a closed one) come first, then live ones oldest first.
        up(t, 1, &tcp("10.0.0.9", 40000, "10.0.0.2", 80, S), 60);
        up(t, 1, &tcp("10.0.0.9", 40000, "10.0.0.2", 80, R), 60);
        for i in 0..10u16 {
            up(
                t,
                i64::from(20 - i),
                &udp("10.0.0.1", 1000 + i, "10.0.0.2", 53),
                60,
            );
        }
        up(t, 40, &udp("10.0.0.3", 1, "10.0.0.4", 2), 60);
    };
    let (mut whole, mut chunked) = (table(60, 100), table(60, 100));
    fill(&mut whole);
    fill(&mut chunked);
    // Flow ids start at a random point per table: compare the flows by their endpoints.
    let key = |r: &FlowRecord| (r.src_ip, r.src_port, r.dest_ip, r.dest_port);
    let expected: Vec<_> = whole.drain().iter().map(key).collect();
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    chunked.drain_chunks(4, |part| {
        sizes.push(part.len());
        got.extend(part.iter().map(key));
    });
    assert_eq!(got, expected);
    assert!(sizes.iter().all(|&n| (1..=4).contains(&n)), "{sizes:?}");
    assert!(chunked.is_empty());
}
