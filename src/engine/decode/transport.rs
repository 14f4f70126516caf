//! Transport-layer decoders: TCP (flags, sequence numbers, options), UDP, SCTP's ports, ICMP and
//! ICMPv6, and
//! the hand-off of DNS ports to `dns` and of other TCP payloads to `engine::applayer`.
//!
//! Called from `network` on an analysis worker thread with the IP payload, already bounded by
//! the IP length fields. TCP and UDP headers are sliced with etherparse; TCP options are walked
//! here because etherparse stops at the first option kind it does not know.

use etherparse::err::tcp;
use etherparse::{TcpSlice, UdpSlice};

use super::{dns, note, Cx};
use crate::engine::applayer;
use crate::engine::packet::{
    DecodeIssue, Decoded, IcmpInfo, SctpInfo, TcpFlags, TcpInfo, Transport, UdpInfo, PROTO_SCTP,
};

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

const DNS_PORT: u16 = 53;
const MDNS_PORT: u16 = 5353;
const LLMNR_PORT: u16 = 5355;

/// Decode the transport header of protocol `proto` at the start of `payload`.
pub(super) fn decode(cx: &Cx, proto: u8, payload: &[u8], d: &mut Decoded) {
    match proto {
        PROTO_TCP => tcp(cx, payload, d),
        PROTO_UDP => udp(cx, payload, d),
        PROTO_ICMP => icmp(cx, payload, d, false),
        PROTO_ICMPV6 => icmp(cx, payload, d, true),
        PROTO_SCTP => sctp(cx, payload, d),
        other => {
            d.transport = Transport::Other(other);
            cx.set_payload(d, payload);
        }
    }
}

fn tcp(cx: &Cx, payload: &[u8], d: &mut Decoded) {
    let t = match TcpSlice::from_slice(payload) {
        Ok(t) => t,
        Err(tcp::HeaderSliceError::Len(_)) => return note(d, DecodeIssue::Truncated("tcp")),
        Err(tcp::HeaderSliceError::Content(_)) => {
            return note(d, DecodeIssue::Malformed("tcp.data_offset"))
        }
    };
    let header = t.header_slice();
    // Byte 12's low bit is NS; byte 13 holds CWR ECE URG ACK PSH RST SYN FIN.
    let flags = (u16::from(header[12] & 0x01) << 8) | u16::from(header[13]);
    let mut info = TcpInfo {
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        flags: TcpFlags(flags),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        window: t.window_size(),
        ..TcpInfo::default()
    };
    let options_ok = read_tcp_options(t.options(), &mut info);
    d.transport = Transport::Tcp(info);
    if !options_ok {
        note(d, DecodeIssue::Malformed("tcp.options"));
    }
    let body = t.payload();
    cx.set_payload(d, body);
    if info.src_port == DNS_PORT || info.dst_port == DNS_PORT {
        d.dns = dns::parse_tcp(body);
    } else {
        d.app = applayer::parse_tcp(body);
    }
}

/// Walk the TCP option list, filling the options `TcpInfo` keeps. Returns false when an option
/// runs past the header or has an impossible length.
fn read_tcp_options(mut opts: &[u8], info: &mut TcpInfo) -> bool {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return true,
            1 => {
                opts = &opts[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = opts.get(1) else {
            return false;
        };
        let len = usize::from(len);
        if len < 2 {
            return false;
        }
        let Some(body) = opts.get(2..len) else {
            return false;
        };
        match (kind, body) {
            (2, [hi, lo]) => info.mss = Some(u16::from_be_bytes([*hi, *lo])),
            (3, [shift]) => info.wscale = Some(*shift),
            (4, []) => info.sack_permitted = true,
            (8, [_, _, _, _, _, _, _, _]) => info.timestamps = true,
            (2 | 3 | 4 | 8, _) => return false,
            _ => {}
        }
        opts = &opts[len..];
    }
    true
}

fn udp(cx: &Cx, payload: &[u8], d: &mut Decoded) {
    let Ok(u) = UdpSlice::from_slice_lax(payload) else {
        return note(d, DecodeIssue::Truncated("udp"));
    };
    let info = UdpInfo {
        src_port: u.source_port(),
        dst_port: u.destination_port(),
    };
    d.transport = Transport::Udp(info);
    let body = u.payload();
    cx.set_payload(d, body);
    let dns_port = |p: u16| matches!(p, DNS_PORT | MDNS_PORT | LLMNR_PORT);
    if dns_port(info.src_port) || dns_port(info.dst_port) {
        d.dns = dns::parse(body);
    }
}

/// SCTP's 12-byte common header: ports, verification tag, checksum. The ports key the flow
/// (as Suricata and the Community ID specification key it); the chunks are the payload.
fn sctp(cx: &Cx, payload: &[u8], d: &mut Decoded) {
    let (Some(h), Some(body)) = (payload.get(..4), payload.get(12..)) else {
        return note(d, DecodeIssue::Truncated("sctp"));
    };
    d.transport = Transport::Sctp(SctpInfo {
        src_port: u16::from_be_bytes([h[0], h[1]]),
        dst_port: u16::from_be_bytes([h[2], h[3]]),
    });
    cx.set_payload(d, body);
}

/// ICMP and ICMPv6 share the 8-byte header layout: type, code, checksum, 4 type-specific bytes.
fn icmp(cx: &Cx, payload: &[u8], d: &mut Decoded, v6: bool) {
    let (Some(&icmp_type), Some(&code), Some(body)) =
        (payload.first(), payload.get(1), payload.get(8..))
    else {
        return note(
            d,
            DecodeIssue::Truncated(if v6 { "icmpv6" } else { "icmp" }),
        );
    };
    let info = IcmpInfo { icmp_type, code };
    d.transport = if v6 {
        Transport::Icmpv6(info)
    } else {
        Transport::Icmp(info)
    };
    cx.set_payload(d, body);
}
