//! Link-layer decoders: Ethernet (with 802.1Q/802.1ad tag stacks, LLC/SNAP and MPLS), Linux
//! cooked captures (SLL, SLL2), BSD NULL/LOOP and raw IP. Each finds the network protocol and
//! its offset and hands over to `network`.
//!
//! Called from `decode` on an analysis worker thread. Hand-written rather than etherparse's
//! link parsers because those stop at two VLAN tags and know neither SLL2 nor NULL nor MPLS.

use super::{be16, network, note, Cx};
use crate::engine::packet::{DecodeIssue, Decoded};

pub(super) const ETH_IPV4: u16 = 0x0800;
pub(super) const ETH_IPV6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;
const ETH_MPLS_UNICAST: u16 = 0x8847;
const ETH_MPLS_MULTICAST: u16 = 0x8848;
/// 802.1Q, 802.1ad, and the pre-standard QinQ TPIDs some switches still emit.
const VLAN_TPIDS: [u16; 4] = [0x8100, 0x88a8, 0x9100, 0x9200];
/// Linux's ETH_P_802_3 / ETH_P_802_2 pseudo-protocols, as SLL writes them for frames that carry
/// a length instead of an ethertype; Ethernet 802.3 frames are reported under the same values.
const PSEUDO_802_3: u16 = 0x0001;
const PSEUDO_802_2: u16 = 0x0004;

/// Ethernet II / 802.3 (LINKTYPE_ETHERNET).
pub(super) fn ethernet(cx: &Cx, d: &mut Decoded) {
    let Some(et) = be16(cx.data, 12) else {
        return note(d, DecodeIssue::Truncated("ethernet"));
    };
    if et >= 0x0600 {
        return ether_payload(cx, 14, et, d);
    }
    // A length field: 802.3 with an LLC header. Only SNAP with a zero OUI carries an ethertype.
    let llc = cx.from(14);
    match llc {
        [0xaa, 0xaa, 0x03, 0, 0, 0, hi, lo, ..] => {
            ether_payload(cx, 22, u16::from_be_bytes([*hi, *lo]), d);
        }
        [0xff, 0xff, ..] => unknown_ethertype(d, PSEUDO_802_3),
        _ => unknown_ethertype(d, PSEUDO_802_2),
    }
}

/// Linux cooked capture v1 (LINKTYPE_LINUX_SLL): 16-byte header, protocol in the last two bytes.
pub(super) fn sll(cx: &Cx, d: &mut Decoded) {
    match be16(cx.data, 14) {
        Some(proto) => ether_payload(cx, 16, proto, d),
        None => note(d, DecodeIssue::Truncated("sll")),
    }
}

/// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): 20-byte header, protocol first.
pub(super) fn sll2(cx: &Cx, d: &mut Decoded) {
    match (be16(cx.data, 0), cx.data.len() >= 20) {
        (Some(proto), true) => ether_payload(cx, 20, proto, d),
        _ => note(d, DecodeIssue::Truncated("sll2")),
    }
}

/// BSD loopback (LINKTYPE_NULL, LINKTYPE_LOOP): a 4-byte address family. NULL writes it in the
/// writer's byte order and LOOP in network order, but captures disagree, so both are tried.
pub(super) fn null(cx: &Cx, d: &mut Decoded) {
    let Some(head) = cx.data.get(..4) else {
        return note(d, DecodeIssue::Truncated("null"));
    };
    let bytes = [head[0], head[1], head[2], head[3]];
    let family = [u32::from_le_bytes(bytes), u32::from_be_bytes(bytes)]
        .into_iter()
        .find_map(family_ethertype);
    match family {
        Some(et) => {
            d.ethertype = Some(et);
            network::ip(cx, 4, et, d);
        }
        None => note(d, DecodeIssue::Malformed("null.family")),
    }
}

/// AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS).
fn family_ethertype(family: u32) -> Option<u16> {
    match family {
        2 => Some(ETH_IPV4),
        24 | 28 | 30 => Some(ETH_IPV6),
        _ => None,
    }
}

/// Raw IP: `version` is fixed by LINKTYPE_IPV4/IPV6, or read from the first nibble.
pub(super) fn raw(cx: &Cx, d: &mut Decoded, version: Option<u8>) {
    let Some(first) = cx.data.first() else {
        return note(d, DecodeIssue::Truncated("ip"));
    };
    let et = match (version, first >> 4) {
        (None | Some(4), 4) => ETH_IPV4,
        (None | Some(6), 6) => ETH_IPV6,
        (Some(4), _) => return note(d, DecodeIssue::Malformed("ipv4.version")),
        (Some(_), _) => return note(d, DecodeIssue::Malformed("ipv6.version")),
        (None, _) => return note(d, DecodeIssue::Malformed("ip.version")),
    };
    d.ethertype = Some(et);
    network::ip(cx, 0, et, d);
}

/// Walk any stack of VLAN tags, then dispatch on the inner ethertype found at `off`.
fn ether_payload(cx: &Cx, mut off: usize, mut et: u16, d: &mut Decoded) {
    while VLAN_TPIDS.contains(&et) {
        d.ethertype = Some(et);
        let (Some(tci), Some(inner)) = (be16(cx.data, off), be16(cx.data, off + 2)) else {
            return note(d, DecodeIssue::Truncated("vlan"));
        };
        d.vlans.push(tci & 0x0fff);
        et = inner;
        off += 4;
    }
    d.ethertype = Some(et);
    match et {
        ETH_IPV4 | ETH_IPV6 => network::ip(cx, off, et, d),
        ETH_ARP => network::arp(cx, off, d),
        ETH_MPLS_UNICAST | ETH_MPLS_MULTICAST => mpls(cx, off, d),
        other => unknown_ethertype(d, other),
    }
}

fn unknown_ethertype(d: &mut Decoded, et: u16) {
    d.ethertype = Some(et);
    note(d, DecodeIssue::UnknownEtherType(et));
}

/// MPLS: pop labels to the bottom of the stack, then guess IPv4/IPv6 from the version nibble.
/// Anything else under the labels (pseudowires, control words) stays unknown under the MPLS
/// ethertype.
fn mpls(cx: &Cx, mut off: usize, d: &mut Decoded) {
    loop {
        let Some(label) = cx.data.get(off..off + 4) else {
            return note(d, DecodeIssue::Truncated("mpls"));
        };
        off += 4;
        if label[2] & 0x01 != 0 {
            break;
        }
    }
    match cx.data.get(off).map(|b| b >> 4) {
        Some(4) => network::ip(cx, off, ETH_IPV4, d),
        Some(6) => network::ip(cx, off, ETH_IPV6, d),
        Some(_) => note(
            d,
            DecodeIssue::UnknownEtherType(d.ethertype.unwrap_or(ETH_MPLS_UNICAST)),
        ),
        None => note(d, DecodeIssue::Truncated("mpls")),
    }
}
