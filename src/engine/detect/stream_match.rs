//! Signatures over reassembled TCP streams: a `StatefulDetector` that feeds every TCP payload
//! to the reassembler and runs the payload signatures on each newly contiguous piece with up
//! to `CONTEXT` bytes of the stream before it, reporting what spans a segment boundary (see
//! `signature::stream`).
//!
//! The same pieces feed the HTTP message assembler (`applayer::http_stream`) on flows whose
//! streams start like HTTP; each complete request or response runs the `http.*` signatures
//! (`signature::http_message`): bodies over several segments or chunked, keep-alive requests.
//!
//! Runs on the aggregator thread, in capture order. Its memory is the reassembler's, bounded
//! by `[detector.stream] memcap`; a direction's state goes at FIN or RST, a flow's when the
//! flow ends.

use std::sync::Arc;

use super::config::StreamConfig;
use super::{FlowCtx, SignatureSource, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::applayer::http_stream::{HttpMessage, HttpStreams};
use crate::engine::applayer::{self, AppRecord, HttpRecord};
use crate::engine::packet::{TcpFlags, Transport};
use crate::engine::record::Analyzed;
use crate::engine::stream::{Reassembler, Segment, StreamLimits};

/// Bytes of the stream before a new piece that the signatures see with it: a pattern split
/// over segments is found when its part before the boundary lies within them.
pub const CONTEXT: usize = 2048;

/// The record of `m` when the per-packet pass did not parse it: the message started inside a
/// segment, or its first segment did not hold its whole first line.
fn unseen_by_packet_pass(m: HttpMessage) -> Option<HttpRecord> {
    let Some(first) = m.first_segment.as_deref() else {
        return Some(m.record);
    };
    // The whole head in the segment that starts it: the per-packet pass parsed it (no need to
    // parse it again); part of it: the per-packet pass parsed it only if its first line is there.
    if m.head.len() <= first.len() {
        return None;
    }
    match applayer::parse_tcp(first).as_deref() {
        Some(AppRecord::Http(_)) => None,
        _ => Some(m.record),
    }
}

/// The stream pass of the signatures.
pub struct StreamMatchDetector {
    handle: Arc<dyn SignatureSource>,
    reassembler: Reassembler,
    /// The HTTP messages of the flows whose streams start like HTTP.
    http: HttpStreams,
    /// Messages of the last packet the per-packet pass did not parse (`take_http`).
    unseen: Vec<HttpRecord>,
}

impl StreamMatchDetector {
    pub fn new(cfg: &StreamConfig, handle: Arc<dyn SignatureSource>) -> Self {
        let limits = StreamLimits {
            depth: cfg.depth,
            memcap: usize::try_from(cfg.memcap).unwrap_or(usize::MAX),
            context: CONTEXT,
        };
        StreamMatchDetector {
            handle,
            reassembler: Reassembler::new(limits),
            http: HttpStreams::new(
                usize::try_from(cfg.depth).unwrap_or(usize::MAX),
                limits.memcap,
            ),
            unseen: Vec::new(),
        }
    }
}

impl StatefulDetector for StreamMatchDetector {
    fn name(&self) -> &'static str {
        "stream"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let (Transport::Tcp(t), Some(f)) = (&a.decoded.transport, flow) else {
            return;
        };
        let payload = a.decoded.payload(&a.frame.data);
        let rst = t.flags.has(TcpFlags::RST);
        let seg = Segment {
            flow_id: f.flow_id,
            to_server: f.to_server,
            seq: t.seq,
            syn: t.flags.has(TcpFlags::SYN),
            ends: rst || t.flags.has(TcpFlags::FIN),
            payload,
        };
        let handle = &self.handle;
        let http = &mut self.http;
        let mut set = None;
        let mut messages: Vec<HttpMessage> = Vec::new();
        self.reassembler.push(&seg, |p| {
            http.feed(
                f.flow_id,
                f.to_server,
                p.new_bytes(),
                p.at_start && p.new_from == 0,
                |m| messages.push(m),
            );
            // A piece with no context is a segment's own bytes: the per-packet pass saw them.
            if p.new_from == 0 {
                return;
            }
            let set = set.get_or_insert_with(|| handle.current());
            set.check_stream(a, p.window, p.new_from, p.at_start, out);
        });
        if seg.ends {
            self.http.end(f.flow_id, f.to_server, |m| messages.push(m));
        }
        if rst {
            self.reassembler.end_flow(f.flow_id);
            self.http.end(f.flow_id, !f.to_server, |m| messages.push(m));
        }
        if !messages.is_empty() {
            let set = set.get_or_insert_with(|| handle.current());
            for m in &messages {
                set.check_http_message(a, m, out);
            }
            self.unseen
                .extend(messages.into_iter().filter_map(unseen_by_packet_pass));
        }
    }

    fn take_http(&mut self, out: &mut Vec<HttpRecord>) {
        out.append(&mut self.unseen);
    }

    fn flow_ended(&mut self, flow_id: u64) {
        self.reassembler.end_flow(flow_id);
        self.http.end_flow(flow_id);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = self.reassembler.counters();
        vec![
            ("stream_segments", c.segments),
            ("stream_reassembled_bytes", c.reassembled_bytes),
            ("stream_out_of_order", c.out_of_order),
            ("stream_overlaps", c.overlaps),
            ("stream_overlap_conflicts", c.overlap_conflicts),
            ("stream_gaps", c.gaps),
            ("stream_depth_reached", c.depth_reached),
            ("stream_memcap_drops", c.memcap_drops),
            ("stream_memuse", self.reassembler.memuse() as u64),
            ("stream_http_directions", self.http.directions() as u64),
            ("stream_http_memuse", self.http.memuse() as u64),
        ]
    }
}
