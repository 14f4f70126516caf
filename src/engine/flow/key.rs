//! The flow key: a packet's 5-tuple (plus VLAN tags) in a canonical order, so both directions
//! of a conversation find the same flow.
//!
//! Built by the flow table on the aggregator thread for every IP packet; small and `Copy`, it
//! hashes as two `u128` addresses and a few integers.

use std::net::IpAddr;

use crate::engine::packet::{Decoded, Transport};

/// Direction-free identity of a flow.
///
/// TCP, UDP and SCTP key on addresses, ports and protocol. ICMP and ICMPv6 key on addresses and
/// the message type with its counterpart in the place of ports, as Suricata keys them
/// (`icmp_s.type`/`icmp_d.type`): an echo request and its reply are one flow, a destination
/// unreachable (no counterpart) another. Every other IP protocol keys on addresses and
/// protocol only (ports are 0): all GRE between two hosts is one flow. The two outermost VLAN ids are part of the key, so the
/// same tuple on two VLANs is two flows (as in Suricata's default `vlan.use-for-tracking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: u128,
    hi: u128,
    lo_port: u16,
    hi_port: u16,
    proto: u8,
    v6: bool,
    vlan: [u16; 2],
    nvlan: u8,
}

impl FlowKey {
    /// The IP protocol number.
    pub fn proto(&self) -> u8 {
        self.proto
    }
    /// The VLAN ids that are part of the key (outermost first, at most two).
    pub fn vlans(&self) -> &[u16] {
        &self.vlan[..usize::from(self.nvlan).min(2)]
    }
}

/// A packet's key and which end of it the packet came from.
#[derive(Debug, Clone, Copy)]
pub(super) struct PacketKey {
    pub key: FlowKey,
    /// The packet's source is the key's `lo` endpoint.
    pub src_is_lo: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// Port-bearing protocols whose packets without a readable transport header (truncated,
/// non-first fragments) are left out rather than keyed as a portless flow.
fn needs_transport(proto: u8) -> bool {
    matches!(proto, 1 | 6 | 17 | 58 | 132)
}

/// Suricata's request/reply pairs of ICMPv4 types (`ICMPv4GetCounterpart`): echo,
/// timestamp, information, router solicitation/advertisement, address mask.
fn icmp4_counterpart(t: u8) -> Option<u8> {
    const PAIRS: [(u8, u8); 5] = [(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)];
    counterpart(&PAIRS, t)
}

/// Suricata's request/reply pairs of ICMPv6 types (`ICMPv6GetCounterpart`): echo, neighbour
/// and router discovery, MLD, node information, home agent discovery, mobile prefix,
/// certification path, multicast router discovery, duplicate address.
fn icmp6_counterpart(t: u8) -> Option<u8> {
    const PAIRS: [(u8, u8); 10] = [
        (128, 129),
        (135, 136),
        (133, 134),
        (130, 131),
        (139, 140),
        (144, 145),
        (146, 147),
        (148, 149),
        (151, 152),
        (157, 158),
    ];
    counterpart(&PAIRS, t)
}

fn counterpart(pairs: &[(u8, u8)], t: u8) -> Option<u8> {
    pairs.iter().find_map(|&(a, b)| {
        if a == t {
            Some(b)
        } else if b == t {
            Some(a)
        } else {
            None
        }
    })
}

/// The type pair standing in for ports: the packet's type and its counterpart (0 when it has
/// none, as Suricata leaves `icmp_d.type`). A reply's pair is its request's reversed, so the
/// canonical order puts both in one flow.
fn icmp_pair(t: u8, v6: bool) -> (u16, u16) {
    let other = if v6 {
        icmp6_counterpart(t)
    } else {
        icmp4_counterpart(t)
    };
    (u16::from(t), u16::from(other.unwrap_or(0)))
}

fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// The key of a decoded packet, or `None` when it has no IP layer or its transport header
/// (which the key needs) could not be read.
#[inline]
pub(super) fn packet_key(d: &Decoded) -> Option<PacketKey> {
    let ip = d.ip.as_ref()?;
    let (sport, dport) = match &d.transport {
        Transport::Tcp(t) => (t.src_port, t.dst_port),
        Transport::Udp(u) => (u.src_port, u.dst_port),
        Transport::Sctp(s) => (s.src_port, s.dst_port),
        Transport::Icmp(i) => icmp_pair(i.icmp_type, false),
        Transport::Icmpv6(i) => icmp_pair(i.icmp_type, true),
        Transport::Other(_) | Transport::None if needs_transport(ip.proto) => return None,
        Transport::Other(_) | Transport::None => (0, 0),
    };
    let (s, t) = (bits(ip.src), bits(ip.dst));
    let src_is_lo = (s, sport) <= (t, dport);
    let (lo, hi, lo_port, hi_port) = if src_is_lo {
        (s, t, sport, dport)
    } else {
        (t, s, dport, sport)
    };
    let vlan = [
        d.vlans.first().copied().unwrap_or(0),
        d.vlans.get(1).copied().unwrap_or(0),
    ];
    let nvlan = u8::try_from(d.vlans.len().min(2)).unwrap_or(2);
    let key = FlowKey {
        lo,
        hi,
        lo_port,
        hi_port,
        proto: ip.proto,
        v6: ip.src.is_ipv6(),
        vlan,
        nvlan,
    };
    Some(PacketKey {
        key,
        src_is_lo,
        src: ip.src,
        dst: ip.dst,
    })
}
