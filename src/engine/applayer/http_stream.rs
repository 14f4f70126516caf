//! HTTP/1.x messages over a reassembled TCP stream: each direction's bytes cut into messages
//! (head, then the body framed by `Content-Length`, chunked transfer-encoding — de-chunked here —
//! or the end of the connection), one after another on a keep-alive connection.
//!
//! A direction is followed only when its stream starts like HTTP (a method token, `HTTP/1.`),
//! so other flows cost one comparison on their first piece and no state. A head longer than
//! `MAX_HEAD`, a malformed head or chunk size, or a message that does not start like HTTP ends
//! the following of that direction. A body is kept up to the body limit (the stream depth in
//! practice), and the bodies of all flows together up to a memcap; the framing goes on past
//! either.
//!
//! Pure: bytes in, messages out. Fed by the stream detector on the aggregator thread.

use std::collections::{HashMap, VecDeque};

use super::http::{self, HttpRecord};

/// Bytes of a message head kept while waiting for its end.
pub const MAX_HEAD: usize = 16 * 1024;
/// Bytes of a chunk-size or trailer line, at most.
const MAX_LINE: usize = 1024;
/// Requests of one flow whose responses are awaited, at most (pipelining deeper than this
/// forgets the oldest).
const MAX_AWAITED: usize = 64;

/// One whole HTTP message of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMessage {
    /// The head's bytes, up to and including the empty line.
    pub head: Vec<u8>,
    pub record: HttpRecord,
    /// The body, de-chunked, at most the body limit.
    pub body: Vec<u8>,
    /// The body came in chunked transfer-encoding.
    pub chunked: bool,
    /// The payload of the segment the message started, when it started at that segment's
    /// first byte: the per-packet pass parsed the message from it.
    pub first_segment: Option<Vec<u8>>,
}

impl HttpMessage {
    /// Whether the per-packet pass saw the whole message in its first segment, exactly as
    /// here (head and an unchunked body).
    pub fn seen_whole(&self) -> bool {
        self.first_segment
            .as_ref()
            .is_some_and(|s| !self.chunked && self.head.len() + self.body.len() <= s.len())
    }
}

/// How the body of the message in progress ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Bytes left of a `Content-Length` body.
    Length(u64),
    /// Chunked: reading a size line, a chunk's bytes, the CRLF after them, or the trailer.
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailer,
    /// Until the connection closes (a response without length).
    UntilClose,
}

#[derive(Debug, Default)]
struct Direction {
    /// The head read so far (no message in progress), or the current line (chunked).
    buf: Vec<u8>,
    /// The message whose body is being read.
    msg: Option<(HttpMessage, Framing)>,
    /// The first segment of the head being read, when the head started it.
    first_segment: Option<Vec<u8>>,
}

/// The HTTP directions followed, by flow id and direction.
#[derive(Debug)]
pub struct HttpStreams {
    body_limit: usize,
    /// Body bytes kept across all directions, at most.
    memcap: usize,
    /// Body bytes kept now.
    memuse: usize,
    dirs: HashMap<(u64, bool), Direction, ahash::RandomState>,
    /// Per flow, for each request whose response has not started: whether it was `HEAD`,
    /// whose response has no body whatever its `Content-Length` says (RFC 9110 9.3.2).
    awaited: HashMap<u64, VecDeque<bool>, ahash::RandomState>,
}

impl HttpStreams {
    pub fn new(body_limit: usize, memcap: usize) -> Self {
        HttpStreams {
            body_limit,
            memcap,
            memuse: 0,
            dirs: HashMap::default(),
            awaited: HashMap::default(),
        }
    }

    /// Directions followed now.
    pub fn directions(&self) -> usize {
        self.dirs.len()
    }

    /// Take the next contiguous bytes of one direction (`stream_start`: they are its first);
    /// `done` gets each message they complete.
    pub fn feed(
        &mut self,
        flow_id: u64,
        to_server: bool,
        bytes: &[u8],
        stream_start: bool,
        mut done: impl FnMut(HttpMessage),
    ) {
        let key = (flow_id, to_server);
        if stream_start && http::looks_like_http(bytes) {
            self.dirs.insert(key, Direction::default());
        }
        let Some(dir) = self.dirs.get_mut(&key) else {
            return;
        };
        let room = self.memcap.saturating_sub(self.memuse);
        let mut budget = room;
        let mut freed = 0;
        let mut done = |m: HttpMessage| {
            freed += m.body.len();
            done(m);
        };
        let awaited = self.awaited.entry(flow_id).or_default();
        let more = dir.take(bytes, self.body_limit, &mut budget, awaited, &mut done);
        self.memuse = (self.memuse + (room - budget)).saturating_sub(freed);
        if !more {
            if let Some(d) = self.dirs.remove(&key) {
                self.memuse -= d.kept().min(self.memuse);
            }
        }
    }

    /// The direction ended: a body read until the close, or cut short, is handed out as it is.
    pub fn end(&mut self, flow_id: u64, to_server: bool, mut done: impl FnMut(HttpMessage)) {
        if let Some(dir) = self.dirs.remove(&(flow_id, to_server)) {
            self.memuse -= dir.kept().min(self.memuse);
            if let Some((m, _)) = dir.msg {
                done(m);
            }
        }
        if !self.dirs.contains_key(&(flow_id, !to_server)) {
            self.awaited.remove(&flow_id);
        }
    }

    /// Both directions of the flow are forgotten.
    pub fn end_flow(&mut self, flow_id: u64) {
        self.awaited.remove(&flow_id);
        for to_server in [true, false] {
            if let Some(d) = self.dirs.remove(&(flow_id, to_server)) {
                self.memuse -= d.kept().min(self.memuse);
            }
        }
    }

    /// Body bytes kept now across all directions.
    pub fn memuse(&self) -> usize {
        self.memuse
    }
}

impl Direction {
    /// Body bytes of the message in progress.
    fn kept(&self) -> usize {
        self.msg.as_ref().map_or(0, |(m, _)| m.body.len())
    }

    /// Take `bytes`, keeping at most `budget` more body bytes (lowered by what is kept);
    /// false when the direction can no longer be followed.
    fn take(
        &mut self,
        bytes: &[u8],
        limit: usize,
        budget: &mut usize,
        awaited: &mut VecDeque<bool>,
        done: &mut impl FnMut(HttpMessage),
    ) -> bool {
        let mut rest = bytes;
        // A head's leftover (the body's first bytes) is owned: it came from `buf`.
        let mut owned: Vec<u8>;
        while !rest.is_empty() {
            let Some((msg, framing)) = &mut self.msg else {
                if self.buf.is_empty() && !rest.is_empty() && rest.len() == bytes.len() {
                    // The head starts this segment: the per-packet pass parses it too.
                    self.first_segment = Some(bytes.to_vec());
                }
                let from = self.buf.len().saturating_sub(3);
                self.buf.extend_from_slice(rest);
                if self.buf.len() >= 8 && !http::looks_like_http(&self.buf) {
                    return false;
                }
                let Some(end) = find(&self.buf[from..], b"\r\n\r\n").map(|i| from + i + 4) else {
                    return self.buf.len() <= MAX_HEAD;
                };
                owned = self.buf.split_off(end);
                let head = std::mem::take(&mut self.buf);
                let Some((m, framing)) = self.start(head, awaited) else {
                    return false;
                };
                match framing {
                    Some(f) => self.msg = Some((m, f)),
                    None => done(m),
                }
                rest = &owned;
                continue;
            };
            let n = match *framing {
                Framing::Length(left) | Framing::ChunkData(left) => {
                    let n = usize::try_from(left).map_or(rest.len(), |l| l.min(rest.len()));
                    keep(&mut msg.body, &rest[..n], limit, budget);
                    let left = left - n as u64;
                    *framing = match (*framing, left) {
                        (Framing::ChunkData(_), 0) => Framing::ChunkEnd,
                        (Framing::ChunkData(_), l) => Framing::ChunkData(l),
                        (_, l) => Framing::Length(l),
                    };
                    n
                }
                Framing::UntilClose => {
                    keep(&mut msg.body, rest, limit, budget);
                    rest.len()
                }
                Framing::ChunkSize | Framing::ChunkEnd | Framing::Trailer => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        self.buf.extend_from_slice(rest);
                        return self.buf.len() <= MAX_LINE;
                    };
                    self.buf.extend_from_slice(&rest[..nl]);
                    let line = std::mem::take(&mut self.buf);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    let next = match *framing {
                        Framing::ChunkEnd => Some(Framing::ChunkSize),
                        Framing::Trailer if line.is_empty() => Some(Framing::Length(0)),
                        Framing::Trailer => Some(Framing::Trailer),
                        _ => match chunk_size(line) {
                            Some(0) => Some(Framing::Trailer),
                            size => size.map(Framing::ChunkData),
                        },
                    };
                    let Some(next) = next else {
                        // A malformed chunk size: the body so far, and no more.
                        if let Some((m, _)) = self.msg.take() {
                            done(m);
                        }
                        return false;
                    };
                    *framing = next;
                    nl + 1
                }
            };
            rest = &rest[n..];
            if matches!(self.msg, Some((_, Framing::Length(0)))) {
                if let Some((m, _)) = self.msg.take() {
                    done(m);
                }
            }
        }
        true
    }

    /// The message a complete head opens and how its body ends (`None`: it has none). A
    /// request is noted in `awaited`; a final response (not 1xx) takes the oldest note.
    fn start(
        &mut self,
        head: Vec<u8>,
        awaited: &mut VecDeque<bool>,
    ) -> Option<(HttpMessage, Option<Framing>)> {
        let record = http::parse(&head)?;
        let answers_head = match &record {
            HttpRecord::Request(r) => {
                if awaited.len() >= MAX_AWAITED {
                    awaited.pop_front();
                }
                awaited.push_back(r.method.eq_ignore_ascii_case("HEAD"));
                false
            }
            HttpRecord::Response(r) if r.status >= 200 => awaited.pop_front().unwrap_or(false),
            HttpRecord::Response(_) => false,
        };
        let (headers, length) = match &record {
            HttpRecord::Request(r) => (&r.headers, r.content_length),
            HttpRecord::Response(r) => (&r.headers, r.content_length),
        };
        let chunked = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        });
        let framing = match (&record, chunked, length) {
            _ if answers_head => None,
            (_, true, _) => Some(Framing::ChunkSize),
            (_, false, Some(0)) => None,
            (_, false, Some(n)) => Some(Framing::Length(n)),
            (HttpRecord::Request(_), false, None) => None,
            (HttpRecord::Response(r), false, None) => {
                // 1xx, 204 and 304 have no body; any other without length runs to the close.
                let bodiless = r.status < 200 || r.status == 204 || r.status == 304;
                (!bodiless).then_some(Framing::UntilClose)
            }
        };
        let m = HttpMessage {
            head,
            record,
            body: Vec::new(),
            chunked,
            first_segment: self.first_segment.take(),
        };
        Some((m, framing))
    }
}

/// Append `bytes` to `body` up to `limit` bytes in all and `budget` more.
fn keep(body: &mut Vec<u8>, bytes: &[u8], limit: usize, budget: &mut usize) {
    let room = limit.saturating_sub(body.len()).min(*budget);
    let n = bytes.len().min(room);
    *budget -= n;
    body.extend_from_slice(&bytes[..n]);
}

/// A chunk-size line's size (hex, before any `;` extension).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let hex = line.split(|&b| b == b';').next()?;
    let hex = std::str::from_utf8(hex).ok()?.trim();
    u64::from_str_radix(hex, 16).ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "http_stream_tests.rs"]
mod tests;
