//! EVE `http` transactions: a request is held until its flow's next response and written as
//! one event with the response's `status`, `length`, `http_content_type` and `redirect`, as
//! Suricata writes them; requests whose response never comes are written when the flow ends.
//!
//! Requests are paired with responses in order, per flow (HTTP/1.x answers in order on a
//! keep-alive connection). Bounded: at most `MAX_PER_FLOW` requests wait per flow and
//! `MAX_PENDING` (or `MAX_PENDING_BYTES`) in all; past them the oldest waiting request, or the
//! new one, is written without its response.
//! Kept by the EVE writer on the output thread.

use std::collections::{HashMap, VecDeque};
use std::io;

use super::json::Obj;
use super::{Body, Tuple};
use crate::engine::applayer::{HttpRequest, HttpResponse};
use crate::engine::frame::Ts;

/// Requests waiting for their response in one flow, at most.
const MAX_PER_FLOW: usize = 32;
/// Requests waiting in all flows, at most...
const MAX_PENDING: usize = 65_536;
/// ...and the bytes they hold (`Waiting::approx_bytes`): a request line can be as long as the
/// segment that carried it.
const MAX_PENDING_BYTES: usize = 16 << 20;

/// A request and the header fields of the packet it came in.
#[derive(Debug)]
pub(super) struct Waiting {
    pub req: HttpRequest,
    pub ts: Ts,
    pub pcap_cnt: Option<u64>,
    pub iface: usize,
    pub vlan: Vec<u16>,
    pub tuple: Option<Tuple>,
    pub community_id: String,
}

impl Waiting {
    /// The request of `req` as a transaction needs it: without its header list, which the
    /// event does not write.
    pub fn request(req: &HttpRequest) -> HttpRequest {
        HttpRequest {
            method: req.method.clone(),
            uri: req.uri.clone(),
            protocol: req.protocol.clone(),
            host: req.host.clone(),
            user_agent: req.user_agent.clone(),
            content_type: req.content_type.clone(),
            referer: req.referer.clone(),
            content_length: req.content_length,
            body_offset: req.body_offset,
            headers: Vec::new(),
        }
    }

    /// Bytes this waiting request holds, its strings included.
    fn approx_bytes(&self) -> usize {
        let r = &self.req;
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Self>()
            + r.method.len()
            + r.uri.len()
            + r.protocol.len()
            + opt(&r.host)
            + opt(&r.user_agent)
            + opt(&r.content_type)
            + opt(&r.referer)
            + self.community_id.len()
            + self.vlan.len() * 2
    }
}

/// The requests waiting for their responses, by flow.
#[derive(Debug, Default)]
pub(super) struct Pending {
    flows: HashMap<u64, VecDeque<Waiting>, ahash::RandomState>,
    count: usize,
    /// `approx_bytes` of every waiting request.
    bytes: usize,
}

impl Pending {
    /// Hold `w` for flow `flow_id`; returns a request to write now, without response (`w`
    /// itself when nothing more may wait, or the flow's oldest).
    pub fn push(&mut self, flow_id: u64, w: Waiting) -> Option<Waiting> {
        let size = w.approx_bytes();
        if self.count >= MAX_PENDING || self.bytes + size > MAX_PENDING_BYTES {
            return Some(w);
        }
        let q = self.flows.entry(flow_id).or_default();
        q.push_back(w);
        self.count += 1;
        self.bytes += size;
        if q.len() > MAX_PER_FLOW {
            let oldest = q.pop_front();
            self.forget(oldest.as_ref());
            return oldest;
        }
        None
    }

    fn forget(&mut self, w: Option<&Waiting>) {
        if let Some(w) = w {
            self.count -= 1;
            self.bytes -= w.approx_bytes().min(self.bytes);
        }
    }

    /// The flow's oldest waiting request.
    pub fn pop(&mut self, flow_id: u64) -> Option<Waiting> {
        let q = self.flows.get_mut(&flow_id)?;
        let w = q.pop_front();
        if q.is_empty() {
            self.flows.remove(&flow_id);
        }
        self.forget(w.as_ref());
        w
    }

    /// Every request of the flow still waiting, oldest first.
    pub fn take_flow(&mut self, flow_id: u64) -> VecDeque<Waiting> {
        let q = self.flows.remove(&flow_id).unwrap_or_default();
        for w in &q {
            self.forget(Some(w));
        }
        q
    }
}

/// One transaction: the request, and its response when it came.
pub(super) struct Transaction<'a> {
    pub req: &'a HttpRequest,
    pub resp: Option<&'a HttpResponse>,
}

impl Body for Transaction<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let (r, resp) = (self.req, self.resp);
        let mut o = m.obj("http");
        if let Some(h) = &r.host {
            o.str("hostname", h);
        }
        o.str("url", &r.uri);
        if let Some(ua) = &r.user_agent {
            o.str("http_user_agent", ua);
        }
        // Suricata's `http_content_type` is the response's.
        let content_type = match resp {
            Some(s) => s.content_type.as_ref(),
            None => r.content_type.as_ref(),
        };
        if let Some(ct) = content_type {
            o.str("http_content_type", ct);
        }
        if let Some(re) = &r.referer {
            o.str("http_refer", re);
        }
        o.str("http_method", &r.method);
        o.str("protocol", &r.protocol);
        if let Some(s) = resp {
            o.u64("status", s.status);
            if let Some(loc) = &s.location {
                o.str("redirect", loc);
            }
            if let Some(n) = s.content_length {
                o.u64("length", n);
            }
        }
        o.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(uri_len: usize) -> Waiting {
        let req = HttpRequest {
            method: "GET".into(),
            uri: "/".repeat(uri_len),
            protocol: "HTTP/1.1".into(),
            host: None,
            user_agent: None,
            content_type: None,
            referer: None,
            content_length: None,
            body_offset: None,
            headers: vec![("X".into(), "y".repeat(uri_len))],
        };
        Waiting {
            req: Waiting::request(&req),
            ts: Ts(0),
            pcap_cnt: None,
            iface: 0,
            vlan: Vec::new(),
            tuple: None,
            community_id: String::new(),
        }
    }

    /// Requests waiting for responses are bounded by their bytes, not only their count: past
    /// 16 MiB a new one is written at once, and answering one frees its room.
    #[test]
    fn waiting_requests_are_bounded_by_bytes() {
        let mut p = Pending::default();
        assert!(waiting(10).req.headers.is_empty(), "headers are not kept");
        let mut held = 0;
        for flow in 0..100u64 {
            if p.push(flow, waiting(1 << 20)).is_none() {
                held += 1;
            }
        }
        assert_eq!(held, 15, "16 MiB holds fifteen 1 MiB requests");
        assert!(p.bytes <= MAX_PENDING_BYTES);
        assert!(p.pop(0).is_some());
        assert!(p.push(500, waiting(1 << 20)).is_none(), "room again");
        for flow in 1..15u64 {
            assert_eq!(p.take_flow(flow).len(), 1);
        }
        assert!(p.pop(500).is_some());
        assert_eq!((p.count, p.bytes), (0, 0));
    }
}
