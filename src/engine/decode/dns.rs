//! DNS messages (over UDP, and over TCP when a whole length-prefixed message is in one segment)
//! into `DnsInfo`: header fields, questions and the answer section, with record data rendered
//! as text for A, AAAA, CNAME, NS, PTR, MX and TXT.
//!
//! Called from `transport` on an analysis worker thread. Parsing is simple-dns's; a message it
//! rejects yields `None` and is not a decode issue, since DNS ports carry other traffic too.
//! This is the only part of decoding that allocates.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::{RData, TXT};
use simple_dns::{Name, Packet};

use crate::engine::packet::{DnsAnswer, DnsInfo, DnsQuestion};

const HEADER_LEN: usize = 12;
/// Smallest wire size of a question (root name, type, class) and of a resource record
/// (root name, type, class, TTL, rdata length).
const MIN_QUESTION: usize = 5;
const MIN_RECORD: usize = 11;

/// A DNS message over TCP: a 2-byte length, then the message, which must be whole here.
pub(super) fn parse_tcp(segment: &[u8]) -> Option<Box<DnsInfo>> {
    let [hi, lo, rest @ ..] = segment else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    parse(rest.get(..len)?)
}

/// A DNS message as carried in one UDP datagram.
pub(super) fn parse(msg: &[u8]) -> Option<Box<DnsInfo>> {
    if !counts_fit(msg) {
        return None;
    }
    let packet = Packet::parse(msg).ok()?;
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let questions = packet
        .questions
        .iter()
        .map(|q| DnsQuestion {
            name: render_name(&q.qname),
            qtype: q.qtype.into(),
        })
        .collect();
    let answers = packet
        .answers
        .iter()
        .map(|rr| DnsAnswer {
            name: render_name(&rr.name),
            rtype: rr.rdata.type_code().into(),
            ttl: rr.ttl,
            data: render_rdata(&rr.rdata),
        })
        .collect();
    Some(Box::new(DnsInfo {
        id: u16::from_be_bytes([msg[0], msg[1]]),
        is_response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0x0f) as u8,
        rcode: (flags & 0x0f) as u8,
        questions,
        answers,
    }))
}

/// Reject before parsing any message whose section counts could not fit in its length: the
/// parser reserves room for every counted record up front, so junk on port 53 with counts
/// near 65535 would otherwise cost megabytes of allocation per packet.
fn counts_fit(msg: &[u8]) -> bool {
    let Some(header) = msg.get(..HEADER_LEN) else {
        return false;
    };
    let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
    let needed = count(4) * MIN_QUESTION + (count(6) + count(8) + count(10)) * MIN_RECORD;
    needed <= msg.len() - HEADER_LEN
}

/// Lower-case presentation form without the trailing dot; the root is the empty string.
/// Dots inside a label and bytes outside printable ASCII are escaped as `dig` does.
fn render_name(name: &Name) -> String {
    let mut out = String::new();
    for (i, label) in name.as_bytes().enumerate() {
        if i > 0 {
            out.push('.');
        }
        for &b in label {
            match b {
                b'.' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x21..=0x7e => out.push(char::from(b.to_ascii_lowercase())),
                _ => {
                    let _ = write!(out, "\\{b:03}");
                }
            }
        }
    }
    out
}

fn render_rdata(rdata: &RData) -> String {
    match rdata {
        RData::A(a) => Ipv4Addr::from(a.address).to_string(),
        RData::AAAA(a) => Ipv6Addr::from(a.address).to_string(),
        RData::CNAME(n) => render_name(&n.0),
        RData::NS(n) => render_name(&n.0),
        RData::PTR(n) => render_name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, render_name(&mx.exchange)),
        RData::TXT(txt) => render_txt(txt),
        _ => String::new(),
    }
}

/// The character-strings concatenated, as SPF and DKIM consumers read them.
fn render_txt(txt: &TXT) -> String {
    String::try_from(txt.clone()).unwrap_or_else(|_| {
        let mut bytes = Vec::new();
        for (key, value) in txt.iter_raw() {
            bytes.extend_from_slice(key);
            if let Some(v) = value {
                bytes.push(b'=');
                bytes.extend_from_slice(v);
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
