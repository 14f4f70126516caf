//! EVE `dns` objects in Suricata's version 2 format (the Suricata 5–7 default, which the
//! Filebeat, Logstash and Splunk Suricata pipelines parse): one `type: "query"` event per
//! question of a request, and one `type: "answer"` event per response with header flags,
//! `rcode` name, a detailed `answers` array and the `grouped` rdata by record type.
//!
//! Serialized by the EVE writer on the aggregator thread.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::fields::{Rcode, RrType};
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
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("dns", &QueryObj(self))
    }
}

struct QueryObj<'a>(&'a Query<'a>);

impl Serialize for QueryObj<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let q = self.0;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("type", "query")?;
        m.serialize_entry("id", &q.info.id)?;
        m.serialize_entry("rrname", &q.question.name)?;
        m.serialize_entry("rrtype", &RrType(q.question.qtype))?;
        m.serialize_entry("opcode", &q.info.opcode)?;
        m.end()
    }
}

pub(super) struct Answer<'a> {
    pub info: &'a DnsInfo,
    pub flags: u16,
}

impl Body for Answer<'_> {
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("dns", &AnswerObj(self))
    }
}

struct AnswerObj<'a>(&'a Answer<'a>);

impl Serialize for AnswerObj<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (info, flags) = (self.0.info, self.0.flags);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("version", &2u8)?;
        m.serialize_entry("type", "answer")?;
        m.serialize_entry("id", &info.id)?;
        m.serialize_entry("flags", &format_args!("{flags:x}"))?;
        for (bit, key) in [(QR, "qr"), (AA, "aa"), (TC, "tc"), (RD, "rd"), (RA, "ra")] {
            if flags & bit != 0 {
                m.serialize_entry(key, &true)?;
            }
        }
        m.serialize_entry("opcode", &info.opcode)?;
        if let Some(q) = info.questions.first() {
            m.serialize_entry("rrname", &q.name)?;
            m.serialize_entry("rrtype", &RrType(q.qtype))?;
        }
        m.serialize_entry("rcode", &Rcode(info.rcode))?;
        if !info.answers.is_empty() {
            m.serialize_entry("answers", &Answers(&info.answers))?;
            if info.answers.iter().any(|a| !a.data.is_empty()) {
                m.serialize_entry("grouped", &Grouped(&info.answers))?;
            }
        }
        m.end()
    }
}

struct Answers<'a>(&'a [DnsAnswer]);

impl Serialize for Answers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(AnswerDetail))
    }
}

struct AnswerDetail<'a>(&'a DnsAnswer);

impl Serialize for AnswerDetail<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("rrname", &a.name)?;
        m.serialize_entry("rrtype", &RrType(a.rtype))?;
        m.serialize_entry("ttl", &a.ttl)?;
        if !a.data.is_empty() {
            m.serialize_entry("rdata", &a.data)?;
        }
        m.end()
    }
}

/// `{"A": ["1.2.3.4", …], "CNAME": […]}`: rendered rdata by record type, types in order of
/// first appearance.
struct Grouped<'a>(&'a [DnsAnswer]);

impl Serialize for Grouped<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut types: Vec<u16> = Vec::new();
        for a in self.0.iter().filter(|a| !a.data.is_empty()) {
            if !types.contains(&a.rtype) {
                types.push(a.rtype);
            }
        }
        let mut m = s.serialize_map(Some(types.len()))?;
        for t in types {
            let data = self
                .0
                .iter()
                .filter(|a| a.rtype == t && !a.data.is_empty())
                .map(|a| a.data.as_str());
            m.serialize_entry(&RrType(t), &Seq(data))?;
        }
        m.end()
    }
}

/// Serializes an iterator as a JSON array (once; the iterator is cloned to serialize).
struct Seq<I>(I);

impl<'a, I: Iterator<Item = &'a str> + Clone> Serialize for Seq<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}
