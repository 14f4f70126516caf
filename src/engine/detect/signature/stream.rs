//! Signature matching over reassembled TCP data: the payload signatures (buffer `packet`, the
//! default, and `stream`) run on a window of kept context followed by a newly contiguous piece,
//! and only what the per-packet pass could not have seen is reported.
//!
//! A signature is reported on a window when it matches the window but neither the context
//! alone (matched, and reported, before) nor the new piece alone (the per-packet pass sees
//! it in its own segment). So a pattern split over two segments alerts once, and a pattern
//! inside one segment is not alerted twice. Anchored signatures (`^GET\s…`) run only on
//! windows that start at the first byte of the stream, where `^` means what it does on the
//! first packet. The HTTP buffers (`http.*`), `dns.query` and `tls.sni` are not run here.
//!
//! Called from the stream detector on the aggregator thread.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{alert, http, Buffer, Hit, Scratch, SignatureSet, View, SCRATCH};
use crate::engine::alert::Alert;
use crate::engine::packet::Decoded;
use crate::engine::record::Analyzed;

/// The view of payload bytes the per-packet pass would make of them.
fn payload_view(bytes: &[u8]) -> View<'_> {
    View {
        raw: Cow::Borrowed(bytes),
        decoded: http::decoded_request(bytes),
    }
}

impl SignatureSet {
    /// The payload signatures that match `window` but neither `window[..new_from]` nor
    /// `window[new_from..]` alone; `at_start`: the window starts the stream.
    pub fn stream_matches(
        &self,
        d: &Decoded,
        window: &[u8],
        new_from: usize,
        at_start: bool,
    ) -> Vec<Hit> {
        if new_from == 0 || new_from >= window.len() || self.sigs.is_empty() {
            return Vec::new();
        }
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.stream_with(&mut s, d, window, new_from, at_start),
            Err(_) => self.stream_with(&mut Scratch::default(), d, window, new_from, at_start),
        })
    }

    fn stream_with(
        &self,
        s: &mut Scratch,
        d: &Decoded,
        window: &[u8],
        new_from: usize,
        at_start: bool,
    ) -> Vec<Hit> {
        let Scratch { lower, flags } = s;
        flags.clear();
        flags.resize(self.sigs.len(), 0);
        let whole = payload_view(window);
        let payload_buffer = |b: Buffer| matches!(b, Buffer::Packet | Buffer::Stream);
        for g in self.groups.iter().filter(|g| payload_buffer(g.buffer)) {
            g.mark(&whole, lower, flags);
        }
        let mut parts: Option<(View<'_>, View<'_>)> = None;
        let mut hits = Vec::new();
        for (i, sig) in self.sigs.iter().enumerate() {
            let need = self.need[i];
            if !payload_buffer(sig.buffer)
                || flags[i] & need != need
                || (sig.prefixes.is_some() && !at_start)
                || !sig.applies(d)
            {
                continue;
            }
            let Some(mut hit) = sig.find(&whole) else {
                continue;
            };
            let (before, after) = parts.get_or_insert_with(|| {
                (
                    payload_view(&window[..new_from]),
                    payload_view(&window[new_from..]),
                )
            });
            if sig.find(before).is_none() && sig.find(after).is_none() {
                hit.buffer = Buffer::Stream;
                hits.push(hit);
            }
        }
        hits
    }

    /// Push one alert per signature `stream_matches` reports, on the packet `a` whose segment
    /// completed the window.
    pub fn check_stream(
        &self,
        a: &Analyzed,
        window: &[u8],
        new_from: usize,
        at_start: bool,
        out: &mut Vec<Alert>,
    ) {
        for hit in self.stream_matches(&a.decoded, window, new_from, at_start) {
            if let Some(sig) = self.sigs.iter().find(|s| s.id == hit.id) {
                let mut al = alert(sig, &hit, a);
                let mut explanation = format!(
                    "matched \"{}\" across TCP segments, at offset {} of the reassembled stream",
                    super::escape(&hit.matched),
                    hit.offset
                );
                let _ = write!(explanation, " (signature {} in {})", sig.id, sig.file);
                al.explanation = explanation;
                out.push(al);
            }
        }
    }
}
