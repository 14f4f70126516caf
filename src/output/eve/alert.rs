//! The EVE `alert` object: Suricata's fields plus nsm-tui's detector, explanation and
//! evidence under `alert.metadata`, every value an array of strings as Suricata writes rule
//! metadata.
//!
//! Serialized by the EVE writer on the output thread.

use std::io;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::fields::Printable;
use super::json::Obj;
use super::Body;
use crate::engine::alert::Alert;

/// Metadata keys nsm-tui writes itself; evidence keys with these names are left out.
const OWN_KEYS: [&str; 2] = ["detector", "explanation"];

pub(super) struct AlertBody<'a> {
    pub alert: &'a Alert,
    pub app_proto: Option<&'static str>,
    pub payload: Option<&'a [u8]>,
}

impl Body for AlertBody<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        m.value("alert", &AlertObj(self.alert))?;
        if let Some(p) = self.app_proto {
            m.str("app_proto", p);
        }
        if let Some(p) = self.payload {
            m.value("payload_printable", &Printable(p))?;
        }
        Ok(())
    }
}

struct AlertObj<'a>(&'a Alert);

impl Serialize for AlertObj<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("action", "allowed")?;
        m.serialize_entry("gid", &1u8)?;
        m.serialize_entry("signature_id", &a.rule.0)?;
        m.serialize_entry("rev", &1u8)?;
        m.serialize_entry("signature", &*a.description)?;
        m.serialize_entry("category", &*a.category)?;
        m.serialize_entry("severity", &a.severity.eve_level())?;
        m.serialize_entry("metadata", &Metadata(a))?;
        m.end()
    }
}

struct Metadata<'a>(&'a Alert);

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("detector", &[a.detector.as_str()])?;
        if !a.explanation.is_empty() {
            m.serialize_entry("explanation", &[a.explanation.as_str()])?;
        }
        match &a.evidence {
            Value::Null => {}
            Value::Object(fields) => {
                for (k, v) in fields
                    .iter()
                    .filter(|(k, v)| !v.is_null() && !OWN_KEYS.contains(&k.as_str()))
                {
                    m.serialize_entry(k, &Strings(v))?;
                }
            }
            other => m.serialize_entry("evidence", &Strings(other))?,
        }
        m.end()
    }
}

/// A JSON value as an array of strings: arrays element by element, scalars as one element,
/// objects as their compact JSON text.
struct Strings<'a>(&'a Value);

impl Serialize for Strings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items.iter().filter(|v| !v.is_null()) {
                    seq.serialize_element(&OneString(v))?;
                }
                seq.end()
            }
            v => {
                let mut seq = s.serialize_seq(Some(1))?;
                seq.serialize_element(&OneString(v))?;
                seq.end()
            }
        }
    }
}

struct OneString<'a>(&'a Value);

impl Serialize for OneString<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(t) => s.serialize_str(t),
            // Numbers, booleans, nested arrays and objects: their JSON text.
            v => s.collect_str(v),
        }
    }
}
