//! Signature matching over whole HTTP messages of a reassembled stream: the `http.*` buffers
//! of each request and response, its body whole (over any number of segments) and de-chunked,
//! and each request of a keep-alive connection on its own.
//!
//! Only what the per-packet pass could not have reported is: a message the per-packet pass saw
//! whole in its first segment is skipped, and a signature that also matches the per-packet
//! view of that first segment (the head, and the part of the body it holds) alerted there.
//!
//! Called from the stream detector on the aggregator thread, once per complete message.

use super::{alert, view_of, Buffer, Hit, Scratch, SignatureSet, Views, SCRATCH};
use crate::engine::alert::Alert;
use crate::engine::applayer::http_stream::HttpMessage;
use crate::engine::applayer::{self, AppRecord, HttpRecord};
use crate::engine::packet::Decoded;
use crate::engine::record::Analyzed;

/// The buffers a parsed HTTP message fills.
fn http_buffer(b: Buffer) -> bool {
    matches!(
        b,
        Buffer::HttpUri
            | Buffer::HttpMethod
            | Buffer::HttpHeader
            | Buffer::HttpUserAgent
            | Buffer::HttpHost
            | Buffer::HttpRequestBody
            | Buffer::HttpResponseBody
    )
}

/// `d` with the message's record as its application layer, and the message as one payload
/// (head, then the de-chunked body, with `Content-Length` saying where it ends).
fn message_packet(d: &Decoded, m: &HttpMessage) -> (Decoded, Vec<u8>) {
    let mut record = m.record.clone();
    let (offset, length) = match &mut record {
        HttpRecord::Request(r) => (&mut r.body_offset, &mut r.content_length),
        HttpRecord::Response(r) => (&mut r.body_offset, &mut r.content_length),
    };
    *offset = Some(m.head.len());
    *length = Some(m.body.len() as u64);
    let mut md = d.clone();
    md.app = Some(Box::new(AppRecord::Http(record)));
    let mut payload = Vec::with_capacity(m.head.len() + m.body.len());
    payload.extend_from_slice(&m.head);
    payload.extend_from_slice(&m.body);
    (md, payload)
}

impl SignatureSet {
    /// The `http.*` signatures that match message `m` but not what the per-packet pass saw of
    /// it; `d` is the packet that completed the message (its protocol and ports filter).
    pub fn http_message_matches(&self, d: &Decoded, m: &HttpMessage) -> Vec<Hit> {
        if m.seen_whole() || !self.sigs.iter().any(|s| http_buffer(s.buffer)) {
            return Vec::new();
        }
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.message_with(&mut s, d, m),
            Err(_) => self.message_with(&mut Scratch::default(), d, m),
        })
    }

    fn message_with(&self, s: &mut Scratch, d: &Decoded, m: &HttpMessage) -> Vec<Hit> {
        let (md, payload) = message_packet(d, m);
        let mut views: Views<'_> = Default::default();
        let Scratch { lower, flags } = s;
        flags.clear();
        flags.resize(self.sigs.len(), 0);
        for g in self.groups.iter().filter(|g| http_buffer(g.buffer)) {
            if let Some(v) = view_of(&mut views, g.buffer, &md, &payload) {
                g.mark(v, lower, flags);
            }
        }
        // The per-packet pass's packet: the message's first segment as the decoder parsed it.
        let seen = m.first_segment.as_deref().map(|p| {
            let mut sd = d.clone();
            sd.app = applayer::parse_tcp(p);
            (sd, p)
        });
        let mut hits = Vec::new();
        for (i, sig) in self.sigs.iter().enumerate() {
            let need = self.need[i];
            if !http_buffer(sig.buffer) || flags[i] & need != need || !sig.applies(d) {
                continue;
            }
            let Some(hit) =
                view_of(&mut views, sig.buffer, &md, &payload).and_then(|v| sig.find(v))
            else {
                continue;
            };
            let seen_there = seen.as_ref().is_some_and(|(sd, p)| {
                sig.buffer
                    .view(sd, p)
                    .is_some_and(|v| sig.find(&v).is_some())
            });
            if !seen_there {
                hits.push(hit);
            }
        }
        hits
    }

    /// Push one alert per signature `http_message_matches` reports, on the packet `a` that
    /// completed the message.
    pub fn check_http_message(&self, a: &Analyzed, m: &HttpMessage, out: &mut Vec<Alert>) {
        for hit in self.http_message_matches(&a.decoded, m) {
            if let Some(sig) = self.sigs.iter().find(|s| s.id == hit.id) {
                let mut al = alert(sig, &hit, a);
                let what = match (&m.record, m.chunked) {
                    (HttpRecord::Request(_), false) => "HTTP request",
                    (HttpRecord::Request(_), true) => "chunked HTTP request",
                    (HttpRecord::Response(_), false) => "HTTP response",
                    (HttpRecord::Response(_), true) => "chunked HTTP response",
                };
                let at = al
                    .explanation
                    .rfind(" (signature ")
                    .unwrap_or(al.explanation.len());
                al.explanation
                    .insert_str(at, &format!(" of the reassembled {what}"));
                out.push(al);
            }
        }
    }
}
