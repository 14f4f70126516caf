//! Network-layer decoders: IPv4 (options, fragments, AH), IPv6 (extension headers, fragment
//! header) and ARP. IP headers are sliced with etherparse's lax parsers, which bound the payload
//! by the header's length field (so Ethernet padding is excluded) and keep what they could
//! parse when a later header is cut short.
//!
//! Called from `link` on an analysis worker thread.

use std::net::{IpAddr, Ipv4Addr};

use etherparse::err::{ip_auth, ipv4, ipv6, ipv6_exts};
use etherparse::{ip_number, Ipv6ExtensionsSlice, LaxIpPayloadSlice, LaxIpv4Slice, LaxIpv6Slice};

use super::link::ETH_IPV4;
use super::{be16, note, transport, Cx};
use crate::engine::packet::{ArpInfo, DecodeIssue, Decoded, Fragment, IpInfo, Transport};

/// IPv4 or IPv6 at `off`, as the link layer's `ethertype` says.
pub(super) fn ip(cx: &Cx, off: usize, ethertype: u16, d: &mut Decoded) {
    if ethertype == ETH_IPV4 {
        ipv4(cx, off, d);
    } else {
        ipv6(cx, off, d);
    }
}

fn ipv4(cx: &Cx, off: usize, d: &mut Decoded) {
    let (ip, auth_err) = match LaxIpv4Slice::from_slice(cx.from(off)) {
        Ok(parsed) => parsed,
        Err(ipv4::HeaderSliceError::Len(_)) => return note(d, DecodeIssue::Truncated("ipv4")),
        Err(ipv4::HeaderSliceError::Content(e)) => return note(d, ipv4_content_issue(&e)),
    };
    let h = ip.header();
    let payload = ip.payload();
    let header_len = h.slice().len();
    let total_len = h.total_len();
    let fragment = h.is_fragmenting_payload().then(|| Fragment {
        id: u32::from(h.identification()),
        offset: h.fragments_offset().value().saturating_mul(8),
        more: h.more_fragments(),
    });
    d.ip = Some(IpInfo {
        src: IpAddr::V4(h.source_addr()),
        dst: IpAddr::V4(h.destination_addr()),
        proto: payload.ip_number.0,
        ttl: h.ttl(),
        total_len: u32::from(total_len),
        fragment,
        has_options: header_len > 20,
        ext_headers: 0,
    });
    // A zero total length is what TCP segmentation offload leaves in locally sent packets.
    if total_len != 0 && usize::from(total_len) < header_len {
        note(d, DecodeIssue::Malformed("ipv4.total_len"));
    }
    if let Some(e) = auth_err {
        return note(d, auth_issue(&e));
    }
    ip_payload(cx, payload, "ipv4_payload", d);
}

fn ipv4_content_issue(e: &ipv4::HeaderError) -> DecodeIssue {
    match e {
        ipv4::HeaderError::UnexpectedVersion { .. } => DecodeIssue::Malformed("ipv4.version"),
        ipv4::HeaderError::HeaderLengthSmallerThanHeader { .. } => {
            DecodeIssue::Malformed("ipv4.ihl")
        }
    }
}

fn auth_issue(e: &ip_auth::HeaderSliceError) -> DecodeIssue {
    match e {
        ip_auth::HeaderSliceError::Len(_) => DecodeIssue::Truncated("ah"),
        ip_auth::HeaderSliceError::Content(_) => DecodeIssue::Malformed("ah.length"),
    }
}

fn ipv6(cx: &Cx, off: usize, d: &mut Decoded) {
    let (ip, ext_err) = match LaxIpv6Slice::from_slice(cx.from(off)) {
        Ok(parsed) => parsed,
        Err(ipv6::HeaderSliceError::Len(_)) => return note(d, DecodeIssue::Truncated("ipv6")),
        Err(ipv6::HeaderSliceError::Content(_)) => {
            return note(d, DecodeIssue::Malformed("ipv6.version"))
        }
    };
    let h = ip.header();
    let payload = ip.payload();
    let (ext_headers, fragment) = walk_ipv6_exts(ip.extensions());
    d.ip = Some(IpInfo {
        src: IpAddr::V6(h.source_addr()),
        dst: IpAddr::V6(h.destination_addr()),
        proto: payload.ip_number.0,
        ttl: h.hop_limit(),
        total_len: 40 + u32::from(h.payload_length()),
        fragment,
        has_options: false,
        ext_headers,
    });
    if let Some((e, _layer)) = ext_err {
        return note(d, ext_issue(&e));
    }
    ip_payload(cx, payload, "ipv6_payload", d);
}

/// Count the extension headers etherparse accepted and read the fragment header among them.
/// Walked here over the accepted bytes, because etherparse's own iterator follows the
/// next-header chain past them when parsing stopped early and then reads out of bounds.
fn walk_ipv6_exts(exts: &Ipv6ExtensionsSlice) -> (u8, Option<Fragment>) {
    let (mut rest, mut next) = (exts.slice(), exts.first_header());
    let (mut count, mut fragment) = (0u8, None);
    while let (Some(kind), Some(&nh), Some(&len)) = (next, rest.first(), rest.get(1)) {
        let size = match kind {
            ip_number::IPV6_FRAG => 8,
            ip_number::AUTH => (usize::from(len) + 2) * 4,
            _ => (usize::from(len) + 1) * 8,
        };
        if kind == ip_number::IPV6_FRAG {
            fragment = ipv6_fragment(rest);
        }
        count = count.saturating_add(1);
        rest = rest.get(size..).unwrap_or(&[]);
        next = Some(etherparse::IpNumber(nh));
    }
    (count, fragment)
}

/// The fragment header's fields, when it actually fragments (an atomic fragment does not).
fn ipv6_fragment(h: &[u8]) -> Option<Fragment> {
    let off_flags = be16(h, 2)?;
    let id = u32::from_be_bytes(h.get(4..8)?.try_into().ok()?);
    let (offset, more) = (off_flags & 0xfff8, off_flags & 1 == 1);
    (offset != 0 || more).then_some(Fragment { id, offset, more })
}

fn ext_issue(e: &ipv6_exts::HeaderSliceError) -> DecodeIssue {
    match e {
        ipv6_exts::HeaderSliceError::Len(_) => DecodeIssue::Truncated("ipv6_ext"),
        ipv6_exts::HeaderSliceError::Content(ipv6_exts::HeaderError::HopByHopNotAtStart) => {
            DecodeIssue::Malformed("ipv6.hop_by_hop")
        }
        ipv6_exts::HeaderSliceError::Content(ipv6_exts::HeaderError::IpAuth(_)) => {
            DecodeIssue::Malformed("ah.length")
        }
    }
}

/// Hand the IP payload to the transport decoders, unless it is a non-first fragment whose
/// transport header travelled in another packet.
fn ip_payload(cx: &Cx, payload: &LaxIpPayloadSlice, trunc_key: &'static str, d: &mut Decoded) {
    let proto = payload.ip_number.0;
    let non_first =
        d.ip.and_then(|ip| ip.fragment)
            .is_some_and(|f| f.offset != 0);
    if non_first {
        d.transport = Transport::Other(proto);
        cx.set_payload(d, payload.payload);
    } else {
        transport::decode(cx, proto, payload.payload, d);
    }
    // After the transport layer, so that a cut transport header is what gets reported.
    if payload.incomplete && cx.whole {
        note(d, DecodeIssue::Truncated(trunc_key));
    }
}

/// ARP for IPv4 over 6-byte hardware addresses; other address sizes are reported as malformed.
pub(super) fn arp(cx: &Cx, off: usize, d: &mut Decoded) {
    let b = cx.from(off);
    let (Some(operation), Some(&hlen), Some(&plen)) = (be16(b, 6), b.get(4), b.get(5)) else {
        return note(d, DecodeIssue::Truncated("arp"));
    };
    if hlen != 6 || plen != 4 {
        return note(d, DecodeIssue::Malformed("arp.addr_len"));
    }
    // 8 fixed bytes, then sender MAC, sender IP, target MAC, target IP.
    let Some(body) = b.get(8..28) else {
        return note(d, DecodeIssue::Truncated("arp"));
    };
    let mut sender_mac = [0u8; 6];
    sender_mac.copy_from_slice(&body[0..6]);
    let ip_at = |i: usize| Ipv4Addr::new(body[i], body[i + 1], body[i + 2], body[i + 3]);
    d.arp = Some(ArpInfo {
        operation,
        sender_mac,
        sender_ip: ip_at(6),
        target_ip: ip_at(16),
    });
}
