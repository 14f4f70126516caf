//! The flow key: a packet's 5-tuple (plus VLAN tags) in a canonical order, so both directions
//! of a conversation find the same flow.
//!
//! Built by the flow table on the aggregator thread for every IP packet; small and `Copy`, it
//! hashes as two `u128` addresses and a few integers.

use std::net::IpAddr;

use crate::engine::packet::{Decoded, Transport};

/// Direction-free identity of a flow.
///
/// TCP and UDP key on addresses, ports and protocol. ICMP, ICMPv6 and every other IP protocol
/// key on addresses and protocol only (ports are 0): an echo request and its reply, or all GRE
/// between two hosts, form one flow. The two outermost VLAN ids are part of the key, so the
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
    matches!(proto, 1 | 6 | 17 | 58)
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
        Transport::Icmp(_) | Transport::Icmpv6(_) => (0, 0),
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
