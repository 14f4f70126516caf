//! EVE `http` objects in Suricata's field names for a lone head: a response packet gives
//! `protocol`, `status`, `http_content_type` and `length` (its `Content-Length`); a request
//! packet without a flow gives `hostname`, `url`, `http_user_agent`, `http_refer`,
//! `http_method`, `protocol`.
//!
//! A request of a flow waits for its response and both are written as one transaction
//! (`http_tx`); a head is written alone here when it has no partner (a response with no
//! request waiting, a packet outside any flow). Written by the EVE writer on the output thread.

use std::io;

use super::json::Obj;
use super::Body;
use crate::engine::applayer::HttpRecord;

pub(super) struct Http<'a>(pub &'a HttpRecord);

impl Body for Http<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let mut o = m.obj("http");
        match self.0 {
            HttpRecord::Request(r) => {
                if let Some(h) = &r.host {
                    o.str("hostname", h);
                }
                o.str("url", &r.uri);
                if let Some(ua) = &r.user_agent {
                    o.str("http_user_agent", ua);
                }
                if let Some(ct) = &r.content_type {
                    o.str("http_content_type", ct);
                }
                if let Some(re) = &r.referer {
                    o.str("http_refer", re);
                }
                o.str("http_method", &r.method);
                o.str("protocol", &r.protocol);
            }
            HttpRecord::Response(r) => {
                if let Some(ct) = &r.content_type {
                    o.str("http_content_type", ct);
                }
                if let Some(loc) = &r.location {
                    o.str("redirect", loc);
                }
                o.str("protocol", &r.protocol);
                o.u64("status", r.status);
                if let Some(n) = r.content_length {
                    o.u64("length", n);
                }
            }
        }
        o.close();
        Ok(())
    }
}
