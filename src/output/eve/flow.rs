//! The EVE `flow` event body: `app_proto`, `flow {…}` and, for TCP, `tcp {…}`, named and
//! nested as Suricata's `output-json-flow.c` writes them.
//!
//! Serialized by the EVE writer on the aggregator thread when a flow ends.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::fields::{EveTime, Hex2};
use super::Body;
use crate::engine::flow::{EndReason, FlowRecord, TcpSummary};
use crate::engine::packet::TcpFlags;

pub(super) struct FlowBody<'a>(pub &'a FlowRecord);

impl Body for FlowBody<'_> {
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let r = self.0;
        if let Some(p) = r.app_proto {
            m.serialize_entry("app_proto", p.as_str())?;
        }
        m.serialize_entry("flow", &FlowObj(r))?;
        if let Some(t) = &r.tcp {
            m.serialize_entry("tcp", &TcpObj(t))?;
        }
        Ok(())
    }
}

struct FlowObj<'a>(&'a FlowRecord);

impl Serialize for FlowObj<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("pkts_toserver", &r.pkts_toserver)?;
        m.serialize_entry("pkts_toclient", &r.pkts_toclient)?;
        m.serialize_entry("bytes_toserver", &r.bytes_toserver)?;
        m.serialize_entry("bytes_toclient", &r.bytes_toclient)?;
        m.serialize_entry("start", &EveTime::new(r.start))?;
        m.serialize_entry("end", &EveTime::new(r.end))?;
        m.serialize_entry("age", &r.age_secs())?;
        if r.reason == EndReason::Evicted {
            // Suricata marks flows pushed out under table pressure this way.
            m.serialize_entry("emergency", &true)?;
        }
        m.serialize_entry("state", r.state.as_str())?;
        m.serialize_entry("reason", r.reason.eve_name())?;
        m.serialize_entry("alerted", &r.alerted)?;
        m.end()
    }
}

struct TcpObj<'a>(&'a TcpSummary);

/// Flag bits and the key Suricata's `JsonTcpFlags` sets to `true` for each.
const FLAG_KEYS: [(u16, &str); 8] = [
    (TcpFlags::SYN, "syn"),
    (TcpFlags::FIN, "fin"),
    (TcpFlags::RST, "rst"),
    (TcpFlags::PSH, "psh"),
    (TcpFlags::ACK, "ack"),
    (TcpFlags::URG, "urg"),
    (TcpFlags::ECE, "ecn"),
    (TcpFlags::CWR, "cwr"),
];

impl Serialize for TcpObj<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let all = t.flags();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("tcp_flags", &Hex2(all))?;
        m.serialize_entry("tcp_flags_ts", &Hex2(t.flags_ts))?;
        m.serialize_entry("tcp_flags_tc", &Hex2(t.flags_tc))?;
        for (bit, key) in FLAG_KEYS {
            if u16::from(all) & bit != 0 {
                m.serialize_entry(key, &true)?;
            }
        }
        m.serialize_entry("state", t.state.as_str())?;
        m.end()
    }
}
