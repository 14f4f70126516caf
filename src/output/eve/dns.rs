//! EVE `dns` objects in Suricata's version 2 format (the Suricata 5–7 default, which the
//! Filebeat, Logstash and Splunk Suricata pipelines parse): one `type: "query"` event per
//! question of a request, and one `type: "answer"` event per response with header flags,
//! `rcode` name, a detailed `answers` array and the `grouped` rdata by record type.
//!
//! Written by the EVE writer on the output thread.

use std::io;

use super::fields::{rcode_text, rrtype_text};
use super::json::Obj;
use super::Body;
use crate::engine::packet::{Decoded, DnsAnswer, DnsInfo, DnsQuestion, Transport};

const QR: u16 = 0x8000;
const AA: u16 = 0x0400;
const TC: u16 = 0x0200;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;

/// The 16-bit DNS header flags, read from the message itself when it is there (UDP payload,
/// or TCP payload after its length prefix) and its id matches; otherwise rebuilt from the
/// decoded QR, opcode and rcode.
pub(super) fn header_flags(d: &Decoded, frame: &[u8], info: &DnsInfo) -> u16 {
    let payload = d.payload(frame);
    let off = if matches!(d.transport, Transport::Tcp(_)) {
        2
    } else {
        0
    };
    match payload.get(off..off + 4) {
        Some(h) if u16::from_be_bytes([h[0], h[1]]) == info.id => u16::from_be_bytes([h[2], h[3]]),
        _ => {
            let qr = if info.is_response { QR } else { 0 };
            qr | (u16::from(info.opcode & 0x0f) << 11) | u16::from(info.rcode & 0x0f)
        }
    }
}

pub(super) struct Query<'a> {
    pub info: &'a DnsInfo,
    pub question: &'a DnsQuestion,
}

impl Body for Query<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let mut o = m.obj("dns");
        o.u64("version", 2u8);
        o.plain("type", b"query");
        o.u64("id", self.info.id);
        o.str("rrname", &self.question.name);
        o.str("rrtype", &rrtype_text(self.question.qtype));
        o.u64("opcode", self.info.opcode);
        o.close();
        Ok(())
    }
}

pub(super) struct Answer<'a> {
    pub info: &'a DnsInfo,
    pub flags: u16,
}

impl Body for Answer<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let (info, flags) = (self.info, self.flags);
        let mut o = m.obj("dns");
        o.u64("version", 2u8);
        o.plain("type", b"answer");
        o.u64("id", info.id);
        let (hex, len) = hex_digits(flags);
        o.plain("flags", &hex[..len]);
        for (bit, key) in [(QR, "qr"), (AA, "aa"), (TC, "tc"), (RD, "rd"), (RA, "ra")] {
            if flags & bit != 0 {
                o.bool(key, true);
            }
        }
        o.u64("opcode", info.opcode);
        if let Some(q) = info.questions.first() {
            o.str("rrname", &q.name);
            o.str("rrtype", &rrtype_text(q.qtype));
        }
        o.plain("rcode", rcode_text(info.rcode).as_bytes());
        if !info.answers.is_empty() {
            let mut list = o.arr("answers");
            for a in &info.answers {
                let mut d = list.obj();
                d.str("rrname", &a.name);
                d.str("rrtype", &rrtype_text(a.rtype));
                d.u64("ttl", a.ttl);
                if !a.data.is_empty() {
                    d.str("rdata", &a.data);
                }
                d.close();
            }
            list.close();
            if info.answers.iter().any(|a| !a.data.is_empty()) {
                grouped(&mut o, &info.answers);
            }
        }
        o.close();
        Ok(())
    }
}

/// `v` in lower-case hex without leading zeros (`format!("{v:x}")`), as digits and their count.
fn hex_digits(v: u16) -> ([u8; 4], usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 4];
    let mut len = 0;
    for shift in [12u16, 8, 4, 0] {
        let d = usize::from((v >> shift) & 0xf);
        if d != 0 || len > 0 || shift == 0 {
            out[len] = DIGITS[d];
            len += 1;
        }
    }
    (out, len)
}

/// Record types whose `grouped` entries Suricata writes as plain strings (A, NS, CNAME, PTR,
/// MX, TXT, AAAA, NULL). SOA, SRV and SSHFP are objects there, which nsm-tui does not build:
/// their rdata stays in `answers` only.
const GROUPED_AS_TEXT: [u16; 8] = [1, 2, 5, 12, 15, 16, 28, 10];

/// `"grouped": {"A": ["1.2.3.4", …], "CNAME": […]}`: rendered rdata by record type, types in
/// order of first appearance; nothing when no answer has a type grouped as text.
fn grouped(o: &mut Obj, answers: &[DnsAnswer]) {
    let mut types: Vec<u16> = Vec::new();
    for a in answers
        .iter()
        .filter(|a| !a.data.is_empty() && GROUPED_AS_TEXT.contains(&a.rtype))
    {
        if !types.contains(&a.rtype) {
            types.push(a.rtype);
        }
    }
    if types.is_empty() {
        return;
    }
    let mut g = o.obj("grouped");
    for t in types {
        let mut list = g.arr(&rrtype_text(t));
        for a in answers
            .iter()
            .filter(|a| a.rtype == t && !a.data.is_empty())
        {
            list.str(&a.data);
        }
        list.close();
    }
    g.close();
}

#[cfg(test)]
mod tests {
    use super::hex_digits;

    #[test]
    fn flags_in_hex_as_format_writes_them() {
        for v in [0u16, 1, 0xf, 0x10, 0x100, 0x8180, 0x8583, 0xffff] {
            let (d, n) = hex_digits(v);
            assert_eq!(std::str::from_utf8(&d[..n]).ok(), Some(&*format!("{v:x}")));
        }
    }
}
