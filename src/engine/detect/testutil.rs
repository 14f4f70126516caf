//! Builders of synthetic analysed packets for the detectors' table tests.

use std::net::IpAddr;

use crate::engine::frame::{LinkType, RawFrame, Ts};
use crate::engine::packet::{
    Decoded, DnsInfo, DnsQuestion, IcmpInfo, IpInfo, TcpFlags, TcpInfo, Transport, UdpInfo,
};
use crate::engine::record::Analyzed;

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A packet at `ms` milliseconds of capture time whose frame bytes are the payload itself.
pub(crate) fn packet(
    ms: i64,
    src: &str,
    dst: &str,
    proto: u8,
    transport: Transport,
    payload: &[u8],
) -> Analyzed {
    let decoded = Decoded {
        ethertype: Some(if ip(src).is_ipv4() { 0x0800 } else { 0x86dd }),
        ip: Some(IpInfo {
            src: ip(src),
            dst: ip(dst),
            proto,
            ttl: 64,
            total_len: 40 + payload.len() as u32,
            fragment: None,
            has_options: false,
            ext_headers: 0,
        }),
        transport,
        payload_offset: 0,
        payload_len: payload.len(),
        ..Decoded::default()
    };
    let frame = RawFrame {
        ts: Ts(ms * 1_000_000),
        linktype: LinkType::RAW,
        iface: 0,
        orig_len: payload.len() as u32,
        data: payload.to_vec(),
    };
    Analyzed {
        pcap_cnt: u64::try_from(ms).unwrap_or(0) + 1,
        frame,
        decoded,
        alerts: vec![],
        stream_http: Vec::new(),
    }
}

pub(crate) fn tcp(ms: i64, src: &str, sport: u16, dst: &str, dport: u16, flags: u16) -> Analyzed {
    tcp_payload(ms, src, sport, dst, dport, flags, b"")
}

pub(crate) fn tcp_payload(
    ms: i64,
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    flags: u16,
    payload: &[u8],
) -> Analyzed {
    let t = TcpInfo {
        src_port: sport,
        dst_port: dport,
        flags: TcpFlags(flags),
        ..TcpInfo::default()
    };
    packet(ms, src, dst, 6, Transport::Tcp(t), payload)
}

pub(crate) fn udp(ms: i64, src: &str, sport: u16, dst: &str, dport: u16) -> Analyzed {
    packet(
        ms,
        src,
        dst,
        17,
        Transport::Udp(UdpInfo {
            src_port: sport,
            dst_port: dport,
        }),
        b"x",
    )
}

pub(crate) fn icmp_echo(ms: i64, src: &str, dst: &str) -> Analyzed {
    packet(
        ms,
        src,
        dst,
        1,
        Transport::Icmp(IcmpInfo {
            icmp_type: 8,
            code: 0,
        }),
        b"ping",
    )
}

pub(crate) fn dns_query(ms: i64, src: &str, dst: &str, name: &str, qtype: u16) -> Analyzed {
    let mut a = udp(ms, src, 40000, dst, 53);
    a.decoded.dns = Some(Box::new(DnsInfo {
        id: 1,
        questions: vec![DnsQuestion {
            name: name.to_string(),
            qtype,
        }],
        ..DnsInfo::default()
    }));
    a
}

/// A packet and whether it opens its flow.
pub(crate) type Seen = (Analyzed, bool);

/// Every packet observed by `det` as the first of its flow (`new`) or as a later one; the
/// alerts raised.
pub(crate) fn run_flows(
    det: &mut dyn super::StatefulDetector,
    pkts: &[Seen],
) -> Vec<crate::engine::alert::Alert> {
    let mut out = Vec::new();
    for (p, new) in pkts {
        let ctx = super::FlowCtx {
            is_new: *new,
            ..super::FlowCtx::default()
        };
        det.observe(p, Some(&ctx), &mut out);
    }
    out
}
