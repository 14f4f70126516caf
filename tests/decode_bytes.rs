//! Decoder tests from hand-written bytes: every link type, VLAN stacks, IPv4 options and
//! fragments, IPv6 extension headers, TCP flags and options, UDP, ICMP, ARP, DNS over UDP and
//! TCP, truncation at every layer, and "never panics" properties over arbitrary bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nsm_tui::engine::decode::decode;
use nsm_tui::engine::packet::{DecodeIssue, Decoded, Fragment, Proto, TcpFlags, Transport};
use nsm_tui::engine::{LinkType, RawFrame, Ts};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    assert!(digits.len() % 2 == 0, "odd hex digit count in {s:?}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn frame(linktype: u32, data: Vec<u8>) -> RawFrame {
    RawFrame {
        ts: Ts(0),
        linktype: LinkType(linktype),
        iface: 0,
        orig_len: data.len() as u32,
        data,
    }
}

fn dec(linktype: u32, data: Vec<u8>) -> Decoded {
    decode(&frame(linktype, data))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const ETH_HDR: &str = "00 11 22 33 44 55  66 77 88 99 aa bb";

fn eth(ethertype: u16, body: &[u8]) -> Vec<u8> {
    cat(&[&hex(ETH_HDR), &ethertype.to_be_bytes(), body])
}

/// IPv4 header 10.0.0.1 → 10.0.0.2, TTL 64, with `options` and correct IHL and total length.
fn ipv4(proto: u8, frag: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert!(options.len() % 4 == 0);
    let ihl = 5 + options.len() / 4;
    let total = (ihl * 4 + payload.len()) as u16;
    let mut h = vec![0x40 | ihl as u8, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&hex("ab cd"));
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&hex("0a000001 0a000002"));
    cat(&[&h, options, payload])
}

/// IPv6 header 2001:db8::1 → 2001:db8::2, hop limit 64; `payload` includes extension headers.
fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = hex("60000000");
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&hex(
        "20010db8000000000000000000000001 20010db8000000000000000000000002",
    ));
    cat(&[&h, payload])
}

/// A Linux SYN: ports 50000 → 80, seq 1, MSS 1460, SACK-permitted, timestamps, NOP, wscale 7.
const TCP_SYN: &str = "c350 0050 00000001 00000000 a0 02 faf0 0000 0000
                       020405b4 0402 080a 00000001 00000000 01 030307";

fn udp(sport: u16, dport: u16, body: &[u8]) -> Vec<u8> {
    let len = (8 + body.len()) as u16;
    cat(&[
        &sport.to_be_bytes(),
        &dport.to_be_bytes(),
        &len.to_be_bytes(),
        &[0, 0],
        body,
    ])
}

fn v4(d: &Decoded) -> (Ipv4Addr, Ipv4Addr) {
    match d.ip.map(|ip| (ip.src, ip.dst)) {
        Some((IpAddr::V4(s), IpAddr::V4(t))) => (s, t),
        other => panic!("expected IPv4, got {other:?}"),
    }
}

#[test]
fn ethernet_ipv4_tcp_syn_with_options() {
    let d = dec(1, eth(0x0800, &ipv4(6, 0, &[], &hex(TCP_SYN))));
    assert_eq!(d.issue, None);
    assert_eq!(d.ethertype, Some(0x0800));
    assert_eq!(
        v4(&d),
        (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
    );
    let ip = d.ip.unwrap();
    assert_eq!(
        (ip.proto, ip.ttl, ip.total_len, ip.has_options, ip.fragment),
        (6, 64, 60, false, None)
    );
    let t = d.transport.tcp().copied().expect("tcp");
    assert_eq!(
        (t.src_port, t.dst_port, t.seq, t.ack, t.window),
        (50000, 80, 1, 0, 0xfaf0)
    );
    assert_eq!(t.flags, TcpFlags(TcpFlags::SYN));
    assert_eq!(t.flags.to_string(), "S");
    assert_eq!(
        (t.mss, t.wscale, t.sack_permitted, t.timestamps),
        (Some(1460), Some(7), true, true)
    );
    assert_eq!((d.payload_offset, d.payload_len), (14 + 20 + 40, 0));
    assert_eq!(d.proto(), Proto::Tcp);
}

#[test]
fn tcp_all_flags_including_ns_ece_cwr_and_payload() {
    // Data offset 5 with NS set, then CWR ECE URG ACK PSH RST SYN FIN all set.
    let seg = hex("0050 c350 11223344 55667788 51 ff 0100 0000 0000  68656c6c6f");
    let d = dec(1, eth(0x0800, &ipv4(6, 0, &[], &seg)));
    let t = d.transport.tcp().copied().unwrap();
    assert_eq!(t.flags.0, 0x1ff);
    for bit in [
        TcpFlags::NS,
        TcpFlags::CWR,
        TcpFlags::ECE,
        TcpFlags::FIN,
        TcpFlags::URG,
    ] {
        assert!(t.flags.has(bit));
    }
    assert_eq!(
        (t.seq, t.ack, t.window, t.mss),
        (0x11223344, 0x55667788, 256, None)
    );
    let data = eth(0x0800, &ipv4(6, 0, &[], &seg));
    assert_eq!(d.payload(&data), b"hello");
}

#[test]
fn tcp_unknown_options_are_skipped_and_broken_ones_flagged() {
    // Kind 34 (TCP Fast Open cookie, len 4) then MSS; doff 7 = 8 option bytes.
    let ok = hex("0050 c350 00000001 00000000 70 02 1000 0000 0000  2204 abcd 0204 0218");
    let d = dec(1, eth(0x0800, &ipv4(6, 0, &[], &ok)));
    assert_eq!(d.issue, None);
    assert_eq!(d.transport.tcp().unwrap().mss, Some(536));
    // An option whose length runs past the header.
    let bad = hex("0050 c350 00000001 00000000 60 02 1000 0000 0000  0208 0000");
    let d = dec(1, eth(0x0800, &ipv4(6, 0, &[], &bad)));
    assert_eq!(d.issue, Some(DecodeIssue::Malformed("tcp.options")));
    assert!(d.transport.tcp().is_some(), "the header is kept");
    let small_doff = hex("0050 c350 00000001 00000000 40 02 1000 0000 0000");
    let d = dec(1, eth(0x0800, &ipv4(6, 0, &[], &small_doff)));
    assert_eq!(d.issue, Some(DecodeIssue::Malformed("tcp.data_offset")));
    assert_eq!(d.ip.unwrap().proto, 6);
}

#[test]
fn ipv4_options_and_padding_excluded_from_payload() {
    // Router alert option (4 bytes); 6 bytes of Ethernet padding after the datagram.
    let packet = ipv4(17, 0, &hex("94040000"), &udp(1000, 2000, b"abcd"));
    let data = cat(&[&eth(0x0800, &packet), &[0u8; 6]]);
    let d = dec(1, data.clone());
    assert_eq!(d.issue, None);
    assert!(d.ip.unwrap().has_options);
    assert_eq!(d.ports(), Some((1000, 2000)));
    assert_eq!(d.payload(&data), b"abcd");
    assert_eq!(d.payload_offset, 14 + 24 + 8);
}

#[test]
fn ipv4_fragments_first_and_later() {
    let first = ipv4(17, 0x2000, &[], &udp(5000, 6000, &[7u8; 16]));
    let d = dec(1, eth(0x0800, &first));
    assert_eq!(
        d.ip.unwrap().fragment,
        Some(Fragment {
            id: 0xabcd,
            offset: 0,
            more: true
        })
    );
    assert_eq!(
        d.ports(),
        Some((5000, 6000)),
        "the first fragment still has ports"
    );
    // Offset 185 * 8 = 1480 bytes, last fragment.
    let later = ipv4(17, 185, &[], &[9u8; 24]);
    let data = eth(0x0800, &later);
    let d = dec(1, data.clone());
    assert_eq!(
        d.ip.unwrap().fragment,
        Some(Fragment {
            id: 0xabcd,
            offset: 1480,
            more: false
        })
    );
    assert_eq!(d.transport, Transport::Other(17));
    assert_eq!(d.ports(), None);
    assert_eq!(d.payload(&data), &[9u8; 24]);
    assert_eq!(d.issue, None);
    // DF alone is not a fragment.
    let df = dec(1, eth(0x0800, &ipv4(17, 0x4000, &[], &udp(1, 2, &[]))));
    assert_eq!(df.ip.unwrap().fragment, None);
}

#[test]
fn ipv6_extension_headers_and_fragments() {
    // Hop-by-hop (8 bytes, PadN) → destination options (8 bytes) → UDP.
    let hbh = hex("3c 00 01 04 00000000");
    let dst = hex("11 00 01 04 00000000");
    let data = eth(
        0x86dd,
        &ipv6(0, &cat(&[&hbh, &dst, &udp(53000, 9999, b"xy")])),
    );
    let d = dec(1, data.clone());
    assert_eq!(d.issue, None);
    let ip = d.ip.unwrap();
    assert_eq!(
        (ip.version(), ip.proto, ip.ext_headers, ip.ttl, ip.fragment),
        (6, 17, 2, 64, None)
    );
    assert_eq!(
        ip.src,
        IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(d.ports(), Some((53000, 9999)));
    assert_eq!(d.payload(&data), b"xy");

    // Fragment header: offset 1448 (181 * 8), more fragments, id 0xdeadbeef.
    let frag = hex("3a 00 05a9 deadbeef");
    let d = dec(1, eth(0x86dd, &ipv6(44, &cat(&[&frag, &[0u8; 16]]))));
    let ip = d.ip.unwrap();
    assert_eq!(
        ip.fragment,
        Some(Fragment {
            id: 0xdeadbeef,
            offset: 1448,
            more: true
        })
    );
    assert_eq!((ip.proto, ip.ext_headers), (58, 1));
    assert_eq!(d.transport, Transport::Other(58));

    // Atomic fragment (offset 0, no more): counted as a header, not as fragmentation.
    let atomic = hex("3a 00 0000 00000001");
    let d = dec(
        1,
        eth(
            0x86dd,
            &ipv6(44, &cat(&[&atomic, &hex("8000 0000 0001 0001")])),
        ),
    );
    assert_eq!(d.ip.unwrap().fragment, None);
    assert_eq!(d.ip.unwrap().ext_headers, 1);
    assert_eq!(d.proto(), Proto::Icmpv6);
}

#[test]
fn icmp_and_icmpv6() {
    let echo = hex("08 00 0000 1234 0001 6162");
    let d = dec(1, eth(0x0800, &ipv4(1, 0, &[], &echo)));
    assert_eq!(
        d.transport,
        Transport::Icmp(nsm_tui::engine::packet::IcmpInfo {
            icmp_type: 8,
            code: 0
        })
    );
    assert_eq!(d.payload_len, 2);
    let ns = hex("87 00 0000 00000000 20010db8000000000000000000000002");
    let d = dec(1, eth(0x86dd, &ipv6(58, &ns)));
    assert_eq!(
        d.transport,
        Transport::Icmpv6(nsm_tui::engine::packet::IcmpInfo {
            icmp_type: 135,
            code: 0
        })
    );
    assert_eq!((d.payload_len, d.proto()), (16, Proto::Icmpv6));
}

#[test]
fn arp_request() {
    let arp = hex("0001 0800 06 04 0001 0a0b0c0d0e0f c0a80101 000000000000 c0a80102");
    let d = dec(1, eth(0x0806, &cat(&[&arp, &[0u8; 18]])));
    assert_eq!(d.issue, None);
    let a = d.arp.expect("arp");
    assert_eq!(a.operation, 1);
    assert_eq!(a.sender_mac, [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
    assert_eq!(
        (a.sender_ip, a.target_ip),
        (Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 2))
    );
    assert_eq!(d.proto(), Proto::Arp);
    let d = dec(1, eth(0x0806, &arp[..20]));
    assert_eq!(d.issue, Some(DecodeIssue::Truncated("arp")));
    let odd = hex("0001 0800 08 04 0001");
    assert_eq!(
        dec(1, eth(0x0806, &odd)).issue,
        Some(DecodeIssue::Malformed("arp.addr_len"))
    );
}

#[test]
fn vlan_single_qinq_deeper_and_vlan_zero() {
    let inner = ipv4(17, 0, &[], &udp(1, 2, &[]));
    let one = eth(0x8100, &cat(&[&hex("0064 0800"), &inner]));
    let d = dec(1, one);
    assert_eq!(
        (d.vlans.clone(), d.ethertype, d.issue),
        (vec![100], Some(0x0800), None)
    );
    assert_eq!(d.ports(), Some((1, 2)));
    let qinq = eth(
        0x88a8,
        &cat(&[&hex("a00a 8100"), &hex("2014 0800"), &inner]),
    );
    let d = dec(1, qinq);
    assert_eq!(d.vlans, vec![10, 20], "priority bits are masked off");
    assert!(d.ip.is_some());
    let three = eth(
        0x9100,
        &cat(&[&hex("0001 8100 0002 8100 0003 86dd"), &ipv6(59, &[])]),
    );
    let d = dec(1, three);
    assert_eq!(
        (d.vlans.clone(), d.ethertype),
        (vec![1, 2, 3], Some(0x86dd))
    );
    assert_eq!(d.ip.unwrap().proto, 59);
    let zero = eth(0x8100, &cat(&[&hex("6000 0800"), &inner]));
    assert_eq!(dec(1, zero).vlans, vec![0]);
}

#[test]
fn mpls_label_stack_over_ethernet() {
    // Two labels, the second with bottom-of-stack set, then IPv4.
    let labels = hex("00010 0 40  00020 1 40");
    let d = dec(
        1,
        eth(0x8847, &cat(&[&labels, &ipv4(6, 0, &[], &hex(TCP_SYN))])),
    );
    assert_eq!((d.ethertype, d.issue), (Some(0x8847), None));
    assert_eq!(d.ports(), Some((50000, 80)));
    let d = dec(1, eth(0x8847, &hex("00010 0 40")));
    assert_eq!(d.issue, Some(DecodeIssue::Truncated("mpls")));
}

#[test]
fn unknown_ethertype_and_llc() {
    let d = dec(1, eth(0x88cc, &[0u8; 30]));
    assert_eq!(
        (d.ethertype, d.issue),
        (Some(0x88cc), Some(DecodeIssue::UnknownEtherType(0x88cc)))
    );
    assert_eq!(d.proto(), Proto::OtherEther(0x88cc));
    // 802.3 length field with an STP LLC header.
    let d = dec(1, eth(0x0026, &hex("424203 0000 00")));
    assert_eq!(d.issue, Some(DecodeIssue::UnknownEtherType(0x0004)));
    // 802.3 + SNAP with a zero OUI carries a real ethertype.
    let d = dec(
        1,
        eth(
            0x0030,
            &cat(&[
                &hex("aaaa03 000000 0800"),
                &ipv4(17, 0, &[], &udp(7, 8, &[])),
            ]),
        ),
    );
    assert_eq!((d.ethertype, d.ports()), (Some(0x0800), Some((7, 8))));
}

#[test]
fn linux_sll_and_sll2() {
    let sll = hex("0000 0001 0006 001122334455 0000 0800");
    let d = dec(113, cat(&[&sll, &ipv4(6, 0, &[], &hex(TCP_SYN))]));
    assert_eq!((d.issue, d.ports()), (None, Some((50000, 80))));
    assert_eq!(d.payload_offset, 16 + 20 + 40);
    let sll2 = hex("86dd 0000 00000002 0001 04 06 001122334455 0000");
    let d = dec(276, cat(&[&sll2, &ipv6(17, &udp(1, 2, b"z"))]));
    assert_eq!(
        (d.issue, d.ethertype, d.ports(), d.payload_len),
        (None, Some(0x86dd), Some((1, 2)), 1)
    );
    let d = dec(
        113,
        cat(&[
            &hex("0000 0304 0000 0000000000000000 0806"),
            &hex("0001 0800 0604 0002"),
        ]),
    );
    assert_eq!(d.issue, Some(DecodeIssue::Truncated("arp")));
}

#[test]
fn bsd_null_and_loop_in_both_byte_orders() {
    let v4 = ipv4(17, 0, &[], &udp(1, 2, &[]));
    let v6 = ipv6(17, &udp(3, 4, &[]));
    for (lt, head, body, port) in [
        (0, "02000000", &v4, 1),
        (0, "00000002", &v4, 1),
        (108, "00000002", &v4, 1),
        (0, "18000000", &v6, 3),
        (0, "1c000000", &v6, 3),
        (0, "0000001e", &v6, 3),
        (108, "00000018", &v6, 3),
    ] {
        let d = dec(lt, cat(&[&hex(head), body]));
        assert_eq!(
            (d.issue, d.ports().map(|p| p.0)),
            (None, Some(port)),
            "linktype {lt} family {head}"
        );
    }
    assert_eq!(
        dec(0, cat(&[&hex("07000000"), &v4])).issue,
        Some(DecodeIssue::Malformed("null.family"))
    );
    assert_eq!(
        dec(0, hex("0200")).issue,
        Some(DecodeIssue::Truncated("null"))
    );
}

#[test]
fn raw_ip_link_types() {
    let v4 = ipv4(17, 0, &[], &udp(1, 2, &[]));
    let v6 = ipv6(17, &udp(3, 4, &[]));
    for lt in [101, 12, 14] {
        assert_eq!(
            dec(lt, v4.clone()).ip.map(|i| i.version()),
            Some(4),
            "linktype {lt}"
        );
        assert_eq!(
            dec(lt, v6.clone()).ip.map(|i| i.version()),
            Some(6),
            "linktype {lt}"
        );
    }
    assert_eq!(dec(228, v4.clone()).ports(), Some((1, 2)));
    assert_eq!(dec(229, v6.clone()).ports(), Some((3, 4)));
    assert_eq!(
        dec(228, v6).issue,
        Some(DecodeIssue::Malformed("ipv4.version"))
    );
    assert_eq!(
        dec(229, v4).issue,
        Some(DecodeIssue::Malformed("ipv6.version"))
    );
    assert_eq!(
        dec(101, hex("50")).issue,
        Some(DecodeIssue::Malformed("ip.version"))
    );
    assert_eq!(dec(101, vec![]).issue, Some(DecodeIssue::Truncated("ip")));
    assert_eq!(
        dec(147, v4_bytes()).issue,
        Some(DecodeIssue::UnsupportedLinkType(147))
    );
}

fn v4_bytes() -> Vec<u8> {
    ipv4(17, 0, &[], &udp(1, 2, &[]))
}

#[test]
fn truncation_at_every_layer_keeps_what_came_before() {
    let full = eth(0x0800, &ipv4(6, 0, &[], &hex(TCP_SYN)));
    let cases: [(usize, &str); 4] = [
        (10, "ethernet"),
        (14 + 12, "ipv4"),
        (14 + 20 + 10, "tcp"),
        (14 + 20 + 30, "tcp"),
    ];
    for (cut, layer) in cases {
        let d = dec(1, full[..cut].to_vec());
        assert_eq!(d.issue, Some(DecodeIssue::Truncated(layer)), "cut at {cut}");
        assert!(d.issue.unwrap().is_error());
        if cut > 14 + 20 {
            assert_eq!(d.ip.map(|i| i.proto), Some(6), "IP kept when TCP is cut");
            assert_eq!(d.transport, Transport::None);
            assert_eq!(d.proto(), Proto::OtherIp(6));
        }
    }
    let cut_udp = eth(0x0800, &ipv4(17, 0, &[], &udp(1, 2, &[])));
    assert_eq!(
        dec(1, cut_udp[..14 + 20 + 5].to_vec()).issue,
        Some(DecodeIssue::Truncated("udp"))
    );
    let cut_icmp = eth(0x0800, &ipv4(1, 0, &[], &hex("0800 0000 0001")));
    assert_eq!(dec(1, cut_icmp).issue, Some(DecodeIssue::Truncated("icmp")));
    let cut_icmp6 = eth(0x86dd, &ipv6(58, &hex("8000")));
    assert_eq!(
        dec(1, cut_icmp6).issue,
        Some(DecodeIssue::Truncated("icmpv6"))
    );
    let v6 = eth(0x86dd, &ipv6(17, &udp(1, 2, &[])));
    assert_eq!(
        dec(1, v6[..14 + 39].to_vec()).issue,
        Some(DecodeIssue::Truncated("ipv6"))
    );
    let ext = eth(0x86dd, &ipv6(0, &hex("11 01 0000")));
    let d = dec(1, ext);
    assert_eq!(d.issue, Some(DecodeIssue::Truncated("ipv6_ext")));
    assert!(d.ip.is_some());
    let vlan = eth(0x8100, &hex("0064"));
    let d = dec(1, vlan);
    assert_eq!(
        (d.issue, d.ethertype),
        (Some(DecodeIssue::Truncated("vlan")), Some(0x8100))
    );
    assert_eq!(
        dec(113, vec![0; 15]).issue,
        Some(DecodeIssue::Truncated("sll"))
    );
    assert_eq!(
        dec(276, vec![0; 19]).issue,
        Some(DecodeIssue::Truncated("sll2"))
    );
}

#[test]
fn ip_length_beyond_the_capture() {
    // The IP header claims 40 more bytes than were on the wire.
    let mut packet = ipv4(17, 0, &[], &udp(1, 2, b"abc"));
    packet[3] += 40;
    let d = dec(101, packet.clone());
    assert_eq!(d.issue, Some(DecodeIssue::Truncated("ipv4_payload")));
    assert_eq!((d.ports(), d.payload_len), (Some((1, 2)), 3));
    // The same bytes cut by a snap length are not an issue of the packet.
    let mut snapped = frame(101, packet);
    snapped.orig_len += 40;
    assert_eq!(decode(&snapped).issue, None);
}

#[test]
fn malformed_ip_headers() {
    let mut bad_ihl = ipv4(17, 0, &[], &udp(1, 2, &[]));
    bad_ihl[0] = 0x43;
    assert_eq!(
        dec(1, eth(0x0800, &bad_ihl)).issue,
        Some(DecodeIssue::Malformed("ipv4.ihl"))
    );
    let mut bad_total = ipv4(17, 0, &[], &udp(1, 2, &[]));
    bad_total[2..4].copy_from_slice(&10u16.to_be_bytes());
    let d = dec(1, eth(0x0800, &bad_total));
    assert_eq!(d.issue, Some(DecodeIssue::Malformed("ipv4.total_len")));
    assert!(d.ip.is_some());
    let v6_in_v4 = eth(0x0800, &ipv6(17, &udp(1, 2, &[])));
    assert_eq!(
        dec(1, v6_in_v4).issue,
        Some(DecodeIssue::Malformed("ipv4.version"))
    );
    // A hop-by-hop header after another extension header.
    let late_hbh = ipv6(
        60,
        &cat(&[&hex("00 00 01 04 00000000"), &hex("11 00 01 04 00000000")]),
    );
    assert_eq!(
        dec(1, eth(0x86dd, &late_hbh)).issue,
        Some(DecodeIssue::Malformed("ipv6.hop_by_hop"))
    );
}

/// DNS name in wire form.
fn qname(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn dns_query() -> Vec<u8> {
    cat(&[
        &hex("1234 0100 0001 0000 0000 0000"),
        &qname("WWW.Example.COM."),
        &hex("0001 0001"),
    ])
}

/// Answer for www.example.com: CNAME → example.com, A, AAAA, TXT, and an SOA (not rendered).
fn dns_answer() -> Vec<u8> {
    let header = hex("1234 8180 0001 0005 0000 0000");
    let question = cat(&[&qname("www.example.com"), &hex("0001 0001")]);
    // The question name sits at offset 12; "example.com" inside it at offset 16.
    let cname = cat(&[&hex("c00c 0005 0001 00000e10 0002 c010")]);
    let a = hex("c010 0001 0001 0000012c 0004 5db8d822");
    let aaaa = hex("c010 001c 0001 0000012c 0010 26062800022000010248189325c81946");
    let txt = cat(&[
        &hex("c010 0010 0001 0000003c 0010 0b"),
        b"v=spf1 -all",
        &hex("03"),
        b"abc",
    ]);
    let soa = cat(&[&hex(
        "c010 0006 0001 0000003c 0016 00 00 00000001 00000002 00000003 00000004 00000005",
    )]);
    cat(&[&header, &question, &cname, &a, &aaaa, &txt, &soa])
}

#[test]
fn dns_over_udp_query_and_answer() {
    let q = dec(
        1,
        eth(0x0800, &ipv4(17, 0, &[], &udp(40000, 53, &dns_query()))),
    );
    let dns = q.dns.expect("dns query");
    assert_eq!(
        (dns.id, dns.is_response, dns.opcode, dns.rcode),
        (0x1234, false, 0, 0)
    );
    assert_eq!(dns.questions.len(), 1);
    assert_eq!(
        (dns.questions[0].name.as_str(), dns.questions[0].qtype),
        ("www.example.com", 1)
    );
    assert!(dns.answers.is_empty());

    let r = dec(1, eth(0x86dd, &ipv6(17, &udp(53, 40000, &dns_answer()))));
    let dns = r.dns.expect("dns answer");
    assert!(dns.is_response);
    let got: Vec<(&str, u16, u32, &str)> = dns
        .answers
        .iter()
        .map(|a| (a.name.as_str(), a.rtype, a.ttl, a.data.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("www.example.com", 5, 3600, "example.com"),
            ("example.com", 1, 300, "93.184.216.34"),
            ("example.com", 28, 300, "2606:2800:220:1:248:1893:25c8:1946"),
            ("example.com", 16, 60, "v=spf1 -allabc"),
            ("example.com", 6, 60, ""),
        ]
    );
}

#[test]
fn dns_over_tcp_needs_the_whole_message() {
    let msg = dns_answer();
    let framed = cat(&[&(msg.len() as u16).to_be_bytes(), &msg]);
    let tcp_hdr = hex("0035 c350 00000001 00000001 50 18 1000 0000 0000");
    let d = dec(1, eth(0x0800, &ipv4(6, 0, &[], &cat(&[&tcp_hdr, &framed]))));
    assert_eq!(d.dns.as_ref().map(|x| x.answers.len()), Some(5));
    let partial = &framed[..framed.len() - 1];
    let d = dec(1, eth(0x0800, &ipv4(6, 0, &[], &cat(&[&tcp_hdr, partial]))));
    assert_eq!((d.dns, d.issue), (None, None));
}

#[test]
fn mdns_llmnr_and_non_dns_ports() {
    for port in [5353, 5355] {
        let d = dec(
            1,
            eth(0x0800, &ipv4(17, 0, &[], &udp(port, port, &dns_query()))),
        );
        assert_eq!(d.dns.map(|x| x.questions[0].qtype), Some(1), "port {port}");
    }
    let d = dec(
        1,
        eth(0x0800, &ipv4(17, 0, &[], &udp(4000, 4001, &dns_query()))),
    );
    assert!(d.dns.is_none());
}

#[test]
fn malformed_dns_is_not_a_packet_error() {
    let mut junk = dns_query();
    junk.truncate(20);
    let d = dec(1, eth(0x0800, &ipv4(17, 0, &[], &udp(1234, 53, &junk))));
    assert_eq!(
        (d.dns.is_none(), d.issue, d.ports()),
        (true, None, Some((1234, 53)))
    );
    // Section counts that cannot fit in the message.
    let huge = hex("0000 0000 ffff ffff ffff ffff 00");
    assert!(dec(1, eth(0x0800, &ipv4(17, 0, &[], &udp(53, 53, &huge))))
        .dns
        .is_none());
}

fn check_invariants(d: &Decoded, len: usize) {
    assert!(
        d.payload_offset + d.payload_len <= len,
        "{d:?} over {len} bytes"
    );
    if d.issue.is_none() && d.ip.is_none() && d.arp.is_none() {
        assert!(d.ethertype.is_some(), "nothing decoded yet no issue: {d:?}");
    }
}

const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(lt in prop::sample::select(LINK_TYPES.to_vec()),
                                       data in prop::collection::vec(any::<u8>(), 0..200)) {
        let len = data.len();
        check_invariants(&dec(lt, data), len);
    }

    #[test]
    fn never_panics_below_valid_headers(prefix in prop::sample::select(vec![
                                            eth(0x0800, &[]), eth(0x86dd, &[]), eth(0x8100, &hex("0001 0800")),
                                            eth(0x8847, &[]), eth(0x0806, &[]), vec![2, 0, 0, 0]]),
                                        ip_head in prop::sample::select(vec![
                                            hex("45000000 0000 0000 4006 0000 0a000001 0a000002"),
                                            hex("45000000 0000 2000 4011 0000 0a000001 0a000002"),
                                            hex("60000000 0000 0040 20010db8000000000000000000000001 20010db8000000000000000000000002"),
                                            hex("60000000 0000 2c40 20010db8000000000000000000000001 20010db8000000000000000000000002"),
                                            hex("60000000 0000 0640 20010db8000000000000000000000001 20010db8000000000000000000000002"),
                                            vec![]]),
                                        tail in prop::collection::vec(any::<u8>(), 0..120),
                                        total in any::<u16>()) {
        let mut packet = cat(&[&ip_head, &tail]);
        if packet.len() >= 4 {
            packet[2..4].copy_from_slice(&(total % 300).to_be_bytes());
        }
        let lt = if prefix.len() == 4 { 0 } else { 1 };
        let data = cat(&[&prefix, &packet]);
        let len = data.len();
        check_invariants(&dec(lt, data), len);
    }

    #[test]
    fn never_panics_on_dns_payloads(body in prop::collection::vec(any::<u8>(), 0..300), tcp in any::<bool>()) {
        let seg = if tcp {
            cat(&[&hex("0035 0035 00000001 00000001 50 18 1000 0000 0000"), &(body.len() as u16).to_be_bytes(), &body])
        } else {
            udp(53, 53, &body)
        };
        let data = eth(0x0800, &ipv4(if tcp { 6 } else { 17 }, 0, &[], &seg));
        let len = data.len();
        check_invariants(&dec(1, data), len);
    }
}
