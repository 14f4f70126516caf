//! Fuzz target for DNS parsing: the first byte picks the carrier (even: a UDP datagram to port
//! 53, odd: a TCP segment to port 53, whose first two bytes are then the length prefix), the
//! rest is the DNS message; it is wrapped in an IPv4 header and decoded as the pipeline decodes
//! a frame, so the DNS decoder is reached through its only entry points. Seeds: DNS messages of
//! the shared captures (benign, tunnels, malformed) in `fuzz/seeds/dns`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::{LinkType, RawFrame, Ts};

/// IPv4 header (no options) from 10.0.0.5 to 10.0.0.1 of `total` bytes carrying `proto`.
fn ipv4(total: usize, proto: u8) -> Vec<u8> {
    let total = u16::try_from(total).unwrap_or(u16::MAX);
    let [hi, lo] = total.to_be_bytes();
    vec![
        0x45, 0, hi, lo, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 5, 10, 0, 0, 1,
    ]
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, msg)) = input.split_first() else {
        return;
    };
    let mut data = if selector % 2 == 0 {
        let udp_len = u16::try_from(8 + msg.len()).unwrap_or(u16::MAX);
        let [hi, lo] = udp_len.to_be_bytes();
        let mut d = ipv4(28 + msg.len(), 17);
        d.extend_from_slice(&[0xc3, 0x50, 0, 53, hi, lo, 0, 0]);
        d
    } else {
        let mut d = ipv4(40 + msg.len(), 6);
        d.extend_from_slice(&[
            0xc3, 0x50, 0, 53, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        d
    };
    data.extend_from_slice(msg);
    let frame = RawFrame {
        ts: Ts(0),
        linktype: LinkType(228),
        iface: 0,
        orig_len: data.len() as u32,
        data,
    };
    let d = decode(&frame);
    assert!(d.payload_offset + d.payload_len <= frame.data.len());
    if let Some(dns) = &d.dns {
        let _ = format!("{dns:?}");
    }
});
