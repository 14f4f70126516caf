//! The EVE `alert` object: Suricata's fields plus nsm-tui's detector, explanation and
//! evidence under `alert.metadata`, every value an array of strings as Suricata writes rule
//! metadata, then the `flow` object with the flow's counters as of the alert (as Suricata writes it).
//!
//! Written by the EVE writer on the output thread, through the small JSON writer (no serde).

use std::io;

use serde_json::Value;

use super::fields::EveTime;
use super::json::{Arr, Obj};
use super::Body;
use crate::engine::alert::Alert;
use crate::engine::flow::FlowCounts;

/// Metadata keys nsm-tui writes itself; evidence keys with these names are left out.
const OWN_KEYS: [&str; 2] = ["detector", "explanation"];

pub(super) struct AlertBody<'a> {
    pub alert: &'a Alert,
    /// The flow's counters as of the alert's packet (Suricata's alert `flow` object).
    pub flow: Option<&'a FlowCounts>,
    pub app_proto: Option<&'static str>,
    pub payload: Option<&'a [u8]>,
}

impl Body for AlertBody<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let a = self.alert;
        let mut o = m.obj("alert");
        o.plain("action", b"allowed");
        o.u64("gid", 1u8);
        o.u64("signature_id", a.rule.0);
        o.u64("rev", 1u8);
        o.str("signature", &a.description);
        o.str("category", &a.category);
        o.u64("severity", a.severity.eve_level());
        metadata(&mut o, a);
        o.close();
        if let Some(p) = self.app_proto {
            m.str("app_proto", p);
        }
        if let Some(c) = self.flow {
            let mut f = m.obj("flow");
            f.u64("pkts_toserver", c.pkts_toserver);
            f.u64("pkts_toclient", c.pkts_toclient);
            f.u64("bytes_toserver", c.bytes_toserver);
            f.u64("bytes_toclient", c.bytes_toclient);
            f.plain("start", EveTime::new(c.start).as_bytes());
            f.close();
        }
        if let Some(p) = self.payload {
            m.printable("payload_printable", p);
        }
        Ok(())
    }
}

/// `metadata`: detector, explanation and evidence, every value an array of strings.
fn metadata(o: &mut Obj, a: &Alert) {
    let mut m = o.obj("metadata");
    let mut list = m.arr("detector");
    list.str(a.detector.as_str());
    list.close();
    if !a.explanation.is_empty() {
        let mut list = m.arr("explanation");
        list.str(&a.explanation);
        list.close();
    }
    match &a.evidence {
        Value::Null => {}
        Value::Object(fields) => {
            for (k, v) in fields
                .iter()
                .filter(|(k, v)| !v.is_null() && !OWN_KEYS.contains(&k.as_str()))
            {
                strings(m.arr_any(k), v);
            }
        }
        other => strings(m.arr("evidence"), other),
    }
    m.close();
}

/// A JSON value as an array of strings: arrays element by element, scalars as one element,
/// objects as their compact JSON text.
fn strings(mut list: Arr, v: &Value) {
    match v {
        Value::Array(items) => {
            for v in items.iter().filter(|v| !v.is_null()) {
                list.text_of(v);
            }
        }
        v => list.text_of(v),
    }
    list.close();
}
