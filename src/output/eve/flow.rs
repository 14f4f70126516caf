//! The EVE `flow` event body: `app_proto`, `flow {…}` and, for TCP, `tcp {…}`, named and
//! nested as Suricata's `output-json-flow.c` writes them.
//!
//! Written by the EVE writer on the output thread when a flow ends.

use std::io;

use super::fields::{EveTime, Hex2};
use super::json::Obj;
use super::Body;
use crate::engine::flow::{EndReason, FlowRecord};
use crate::engine::packet::TcpFlags;

pub(super) struct FlowBody<'a>(pub &'a FlowRecord);

impl Body for FlowBody<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let r = self.0;
        if let Some(p) = r.app_proto {
            m.plain("app_proto", p.as_str().as_bytes());
        }
        let mut f = m.obj("flow");
        f.u64("pkts_toserver", r.pkts_toserver);
        f.u64("pkts_toclient", r.pkts_toclient);
        f.u64("bytes_toserver", r.bytes_toserver);
        f.u64("bytes_toclient", r.bytes_toclient);
        f.plain("start", EveTime::new(r.start).as_bytes());
        f.plain("end", EveTime::new(r.end).as_bytes());
        f.u64("age", r.age_secs().unsigned_abs());
        if r.reason == EndReason::Evicted {
            // Suricata marks flows pushed out under table pressure this way.
            f.bool("emergency", true);
        }
        f.plain("state", r.state.as_str().as_bytes());
        f.plain("reason", r.reason.eve_name().as_bytes());
        f.bool("alerted", r.alerted);
        f.close();
        if let Some(t) = &r.tcp {
            let all = t.flags();
            let mut o = m.obj("tcp");
            o.plain("tcp_flags", Hex2::new(all).as_bytes());
            o.plain("tcp_flags_ts", Hex2::new(t.flags_ts).as_bytes());
            o.plain("tcp_flags_tc", Hex2::new(t.flags_tc).as_bytes());
            for (bit, key) in FLAG_KEYS {
                if u16::from(all) & bit != 0 {
                    o.bool(key, true);
                }
            }
            o.plain("state", t.state.as_str().as_bytes());
            o.close();
        }
        Ok(())
    }
}

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
