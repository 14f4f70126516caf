//! EVE `tls` objects in Suricata's field names: a ClientHello gives `sni`, `version`, `ja3`,
//! `ja4` and `client_alpns`; a ServerHello gives `version`, `ja3s` and `server_alpns`.
//!
//! Suricata writes one event per handshake with both sides; without stream reassembly each
//! hello is its own event, tied to its partner by `flow_id`. A ClientHello's `version` is the
//! highest it offers, a ServerHello's the one it chose. Written by the EVE writer on the
//! output thread.

use std::io;

use super::json::Obj;
use super::Body;
use crate::engine::applayer::tls::{version_name, Hello, TlsRecord};

pub(super) struct Tls<'a>(pub &'a TlsRecord);

impl Body for Tls<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let t = self.0;
        let mut o = m.obj("tls");
        if let Some(sni) = &t.sni {
            o.str("sni", sni);
        }
        o.plain("version", version_name(t.version).as_bytes());
        let (ja3_key, alpn_key) = match t.hello {
            Hello::Client => ("ja3", "client_alpns"),
            Hello::Server => ("ja3s", "server_alpns"),
        };
        if let Some(j) = &t.ja3 {
            let mut f = o.obj(ja3_key);
            f.plain("hash", j.hash.as_bytes());
            f.str("string", &j.string);
            f.close();
        }
        if let Some(j) = &t.ja4 {
            o.str("ja4", j);
        }
        if !t.alpn.is_empty() {
            let mut a = o.arr(alpn_key);
            for p in &t.alpn {
                a.str(p);
            }
            a.close();
        }
        o.close();
        Ok(())
    }
}
