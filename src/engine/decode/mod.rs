//! Frame decoding: link layer → network → transport → DNS, never panicking on any input.
//!
//! Called by each analysis worker thread once per frame; pure and non-blocking. The link layer
//! (`link`) finds the ethertype, `network` decodes ARP, IPv4 and IPv6 (headers sliced with
//! etherparse's lax parsers), `transport` decodes TCP, UDP, ICMP and ICMPv6, and `dns` turns a
//! DNS message into a `DnsInfo` with simple-dns. Everything decoded before a problem stays in
//! the result; the problem itself goes to `Decoded::issue`. Only VLAN tags and DNS allocate.

mod dns;
mod link;
mod network;
mod transport;

use super::frame::RawFrame;
use super::packet::{DecodeIssue, Decoded};

/// Decode one frame. Problems are reported in `Decoded::issue`, never as a panic.
pub fn decode(frame: &RawFrame) -> Decoded {
    let mut d = Decoded::default();
    let cx = Cx::new(frame);
    match frame.linktype.0 {
        1 => link::ethernet(&cx, &mut d),
        113 => link::sll(&cx, &mut d),
        276 => link::sll2(&cx, &mut d),
        0 | 108 => link::null(&cx, &mut d),
        12 | 14 | 101 => link::raw(&cx, &mut d, None),
        228 => link::raw(&cx, &mut d, Some(4)),
        229 => link::raw(&cx, &mut d, Some(6)),
        other => d.issue = Some(DecodeIssue::UnsupportedLinkType(other)),
    }
    d
}

/// What every layer needs to know about the frame being decoded.
pub(crate) struct Cx<'a> {
    /// The captured bytes; every offset in `Decoded` indexes into this.
    data: &'a [u8],
    /// Whether the capture kept the whole frame. Only then does an IP length beyond the captured
    /// bytes mean the packet itself is cut short, rather than the capture's snap length.
    whole: bool,
}

impl<'a> Cx<'a> {
    fn new(frame: &'a RawFrame) -> Self {
        let whole = usize::try_from(frame.orig_len).is_ok_and(|n| n == frame.data.len());
        Cx {
            data: &frame.data,
            whole,
        }
    }

    /// The bytes from `off` to the end (empty past the end).
    fn from(&self, off: usize) -> &'a [u8] {
        self.data.get(off..).unwrap_or(&[])
    }

    /// Offset of `sub` inside the frame; `sub` must have been sliced out of `self.data`.
    fn offset_of(&self, sub: &[u8]) -> usize {
        let start = self.data.as_ptr() as usize;
        (sub.as_ptr() as usize)
            .saturating_sub(start)
            .min(self.data.len())
    }

    /// Record the transport payload as the sub-slice `payload` of the frame.
    fn set_payload(&self, d: &mut Decoded, payload: &[u8]) {
        d.payload_offset = self.offset_of(payload);
        d.payload_len = payload.len().min(self.data.len() - d.payload_offset);
    }
}

/// Keep the first problem met: a later one is usually a consequence of it.
fn note(d: &mut Decoded, issue: DecodeIssue) {
    if d.issue.is_none() {
        d.issue = Some(issue);
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
