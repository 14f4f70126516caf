//! TCP stream reassembly: per flow and direction, segments put back in sequence order so that
//! detection can look across segment boundaries.
//!
//! Modelled on Suricata's `stream.reassembly`: each direction is reassembled up to `depth`
//! bytes (past it the direction is no longer followed, counted once); segments that arrive
//! ahead of the next expected byte are held (at most `MAX_HELD_SEGMENTS` and `MAX_HELD_BYTES`
//! per direction) until the hole before them fills; a global `memcap` bounds every byte held
//! (out-of-order segments and the context kept behind the last delivered byte) — at the cap
//! new data is not held and `memcap_drops` rises.
//!
//! Overlap policy: **first data wins** (the BSD-like policy Suricata uses by default). A byte
//! once received — delivered, or held out of order — is never replaced by a later copy. A
//! retransmission that repeats bytes is an `overlap`; one whose bytes differ from the first
//! copy (where the first copy is still known: held, or within the kept context) is also an
//! `overlap_conflict`, a stream anomaly (an evasion attempt or a broken stack).
//!
//! A hole that is never filled is a `gap`: when the held segments outgrow their bounds the
//! stream skips to the first held segment, and when the direction ends (FIN, RST, the flow
//! ends) with segments still held. After a gap the kept context is dropped, so no match is
//! made across missing bytes.
//!
//! Sequence numbers wrap: every position is kept as a 64-bit offset from the first byte seen,
//! reached from the 32-bit sequence number by its signed distance to the next expected byte.
//!
//! Pure: bytes and sequence numbers in, contiguous pieces out. Run on the aggregator thread.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

/// Segments held out of order per direction, at most.
pub const MAX_HELD_SEGMENTS: usize = 64;
/// Bytes held out of order per direction, at most.
pub const MAX_HELD_BYTES: usize = 256 * 1024;

/// Limits of the reassembler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Bytes reassembled per direction; past them the direction is no longer followed.
    pub depth: u64,
    /// Bytes held at once across all flows (out-of-order segments and kept context).
    pub memcap: usize,
    /// Bytes kept behind the last delivered byte, handed back before each new piece.
    pub context: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            depth: 1024 * 1024,
            memcap: 64 * 1024 * 1024,
            context: 2048,
        }
    }
}

/// What the reassembler counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// TCP segments with payload offered.
    pub segments: u64,
    /// Bytes delivered in sequence.
    pub reassembled_bytes: u64,
    /// Segments that arrived ahead of the next expected byte.
    pub out_of_order: u64,
    /// Segments that repeated bytes already received.
    pub overlaps: u64,
    /// Overlaps whose bytes differ from the first copy.
    pub overlap_conflicts: u64,
    /// Holes that were never filled.
    pub gaps: u64,
    /// Directions that reached the depth.
    pub depth_reached: u64,
    /// Segments (or kept context) not held because the memcap was reached.
    pub memcap_drops: u64,
}

/// One TCP segment as the reassembler needs it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub flow_id: u64,
    pub to_server: bool,
    pub seq: u32,
    pub syn: bool,
    /// FIN or RST: the direction ends after this segment's data.
    pub ends: bool,
    pub payload: &'a [u8],
}

/// A piece of data that became contiguous, with the kept context before it.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    /// The kept context, then the new bytes.
    pub window: &'a [u8],
    /// Where the new bytes start in `window` (0: no context).
    pub new_from: usize,
    /// `window` starts at the first byte of the direction's stream.
    pub at_start: bool,
}

impl Piece<'_> {
    pub fn context(&self) -> &[u8] {
        &self.window[..self.new_from]
    }
    pub fn new_bytes(&self) -> &[u8] {
        &self.window[self.new_from..]
    }
}

/// One direction of one flow.
#[derive(Debug, Default)]
struct Direction {
    /// Sequence number and stream offset of the next expected byte.
    next_seq: u32,
    next_off: u64,
    /// The last delivered bytes, at most `context` of them once a piece has been handed out.
    tail: Vec<u8>,
    /// Out-of-order segments by stream offset; they never overlap each other.
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    /// Past the depth: data is ignored.
    done: bool,
}

impl Direction {
    fn start(seq: u32) -> Self {
        Direction {
            next_seq: seq,
            ..Direction::default()
        }
    }

    /// The stream offset of sequence number `seq`, by its signed distance to the next byte.
    fn offset_of(&self, seq: u32) -> i64 {
        // The distance as a signed 32-bit value is what makes wraparound work.
        let d = i64::from(seq.wrapping_sub(self.next_seq) as i32);
        i64::try_from(self.next_off)
            .unwrap_or(i64::MAX)
            .saturating_add(d)
    }

    fn memory(&self) -> usize {
        self.tail.len() + self.held_bytes
    }
}

/// The reassembler of every TCP flow seen.
#[derive(Debug)]
pub struct Reassembler {
    limits: StreamLimits,
    dirs: HashMap<(u64, bool), Direction>,
    /// Bytes held across all directions.
    memuse: usize,
    counters: StreamCounters,
}

impl Reassembler {
    pub fn new(limits: StreamLimits) -> Self {
        Reassembler {
            limits,
            dirs: HashMap::new(),
            memuse: 0,
            counters: StreamCounters::default(),
        }
    }

    pub fn counters(&self) -> StreamCounters {
        self.counters
    }
    /// Bytes held now across all flows.
    pub fn memuse(&self) -> usize {
        self.memuse
    }
    /// Directions followed now.
    pub fn directions(&self) -> usize {
        self.dirs.len()
    }

    /// Take one segment; `deliver` is called for each piece of data that became contiguous, in
    /// stream order: each piece holds one segment's bytes not received before.
    pub fn push(&mut self, s: &Segment<'_>, mut deliver: impl FnMut(Piece<'_>)) {
        let key = (s.flow_id, s.to_server);
        if s.payload.is_empty() {
            if s.syn && !self.dirs.contains_key(&key) {
                self.dirs
                    .insert(key, Direction::start(s.seq.wrapping_add(1)));
            }
            if s.ends {
                self.end_direction(key);
            }
            return;
        }
        self.counters.segments += 1;
        // Data on a SYN starts after the SYN's sequence number.
        let seq = if s.syn { s.seq.wrapping_add(1) } else { s.seq };
        let mut dir = self
            .dirs
            .remove(&key)
            .unwrap_or_else(|| Direction::start(seq));
        self.memuse -= dir.memory();
        if !dir.done {
            self.take(&mut dir, seq, s.payload, &mut deliver);
        }
        self.memuse += dir.memory();
        self.dirs.insert(key, dir);
        if s.ends {
            self.end_direction(key);
        }
    }

    /// Both directions of the flow end (the flow ended or was reset).
    pub fn end_flow(&mut self, flow_id: u64) {
        self.end_direction((flow_id, true));
        self.end_direction((flow_id, false));
    }

    fn end_direction(&mut self, key: (u64, bool)) {
        if let Some(d) = self.dirs.remove(&key) {
            self.memuse -= d.memory();
            if !d.held.is_empty() {
                self.counters.gaps += 1;
            }
        }
    }

    fn take(
        &mut self,
        dir: &mut Direction,
        seq: u32,
        payload: &[u8],
        deliver: &mut impl FnMut(Piece<'_>),
    ) {
        let start = dir.offset_of(seq);
        let next = i64::try_from(dir.next_off).unwrap_or(i64::MAX);
        let end = start.saturating_add(i64::try_from(payload.len()).unwrap_or(i64::MAX));
        if end <= next {
            // Wholly received before: a retransmission.
            self.overlap_with_delivered(dir, start, payload);
            return;
        }
        if start > next {
            self.counters.out_of_order += 1;
            let off = u64::try_from(start).unwrap_or(0);
            self.hold(dir, off, payload);
            if dir.held_bytes > MAX_HELD_BYTES || dir.held.len() > MAX_HELD_SEGMENTS {
                // The hole is not going to fill: skip to the first held segment.
                self.skip_gap(dir);
                self.drain(dir, deliver);
            }
            return;
        }
        // Starts at or before the next byte and reaches past it.
        let skip = usize::try_from(next - start).unwrap_or(0);
        if skip > 0 {
            self.overlap_with_delivered(dir, start, &payload[..skip]);
        }
        let fresh = &payload[skip..];
        // Held bytes are first: only what lies before the first held segment is new.
        let fresh_end = dir.next_off + fresh.len() as u64;
        let cut = match dir.held.range(..fresh_end).next() {
            Some((&off, _)) => usize::try_from(off - dir.next_off).unwrap_or(fresh.len()),
            None => fresh.len(),
        };
        let at = dir.next_off;
        self.compare_with_held(dir, at, fresh);
        self.append(dir, &fresh[..cut], deliver);
        if cut < fresh.len() && !dir.done {
            // Bytes past the first held segment fill the holes between held ones.
            self.insert_uncovered(dir, at + cut as u64, &fresh[cut..]);
        }
        self.drain(dir, deliver);
    }

    /// Count an overlap of `bytes` at `start` with bytes already delivered, comparing them
    /// with the kept context where it still holds them.
    fn overlap_with_delivered(&mut self, dir: &Direction, start: i64, bytes: &[u8]) {
        self.counters.overlaps += 1;
        let tail_start = dir.next_off as i64 - dir.tail.len() as i64;
        let (lo, hi) = (start.max(tail_start), (start + bytes.len() as i64));
        if lo < hi {
            let a = &dir.tail[(lo - tail_start) as usize..(hi - tail_start) as usize];
            let b = &bytes[(lo - start) as usize..(hi - start) as usize];
            if a != b {
                self.counters.overlap_conflicts += 1;
            }
        }
    }

    /// Count overlaps of `bytes` at stream offset `off` with held segments.
    fn compare_with_held(&mut self, dir: &Direction, off: u64, bytes: &[u8]) {
        let end = off + bytes.len() as u64;
        let mut overlapped = false;
        let mut conflict = false;
        // The segment that starts before `off` may reach into it.
        let first = dir.held.range(..off).next_back().map(|(&k, _)| k);
        let from = first.unwrap_or(off);
        for (&k, v) in dir.held.range(from..end) {
            let (lo, hi) = (k.max(off), (k + v.len() as u64).min(end));
            if lo < hi {
                overlapped = true;
                conflict |= v[(lo - k) as usize..(hi - k) as usize]
                    != bytes[(lo - off) as usize..(hi - off) as usize];
            }
        }
        if overlapped {
            self.counters.overlaps += 1;
            self.counters.overlap_conflicts += u64::from(conflict);
        }
    }

    /// Hold `payload` at `off`, counting its overlaps with held segments.
    fn hold(&mut self, dir: &mut Direction, off: u64, payload: &[u8]) {
        if self.limits.depth <= off {
            return;
        }
        self.compare_with_held(dir, off, payload);
        self.insert_uncovered(dir, off, payload);
    }

    /// Hold the parts of `payload` at `off` that no held segment covers yet (first wins).
    fn insert_uncovered(&mut self, dir: &mut Direction, off: u64, payload: &[u8]) {
        let end = off + payload.len() as u64;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut at = off;
        let first = dir.held.range(..off).next_back().map(|(&k, _)| k);
        for (&k, v) in dir.held.range(first.unwrap_or(off)..end) {
            if k > at {
                pieces.push((at, k.min(end)));
            }
            at = at.max(k + v.len() as u64);
        }
        if at < end {
            pieces.push((at, end));
        }
        for (lo, hi) in pieces {
            let len = (hi - lo) as usize;
            if self.memuse + dir.memory() + len > self.limits.memcap {
                self.counters.memcap_drops += 1;
                continue;
            }
            let bytes = payload[(lo - off) as usize..(hi - off) as usize].to_vec();
            dir.held_bytes += len;
            dir.held.insert(lo, bytes);
        }
    }

    /// The hole before the first held segment will not fill: count it and move past it.
    fn skip_gap(&mut self, dir: &mut Direction) {
        if let Some((&off, _)) = dir.held.iter().next() {
            self.counters.gaps += 1;
            let d = off - dir.next_off;
            dir.next_seq = dir.next_seq.wrapping_add(d as u32);
            dir.next_off = off;
            dir.tail.clear();
        }
    }

    /// Deliver the held segments that are now contiguous.
    fn drain(&mut self, dir: &mut Direction, deliver: &mut impl FnMut(Piece<'_>)) {
        while let Some(entry) = dir.held.first_entry() {
            if *entry.key() > dir.next_off || dir.done {
                break;
            }
            let (off, bytes) = entry.remove_entry();
            dir.held_bytes -= bytes.len();
            let skip = usize::try_from(dir.next_off - off).unwrap_or(bytes.len());
            if let Some(rest) = bytes.get(skip..) {
                self.append(dir, rest, deliver);
            }
        }
        if dir.done {
            dir.held.clear();
            dir.held_bytes = 0;
        }
    }

    /// Deliver `bytes` as the next piece of the stream, after the kept context.
    fn append(&mut self, dir: &mut Direction, bytes: &[u8], deliver: &mut impl FnMut(Piece<'_>)) {
        let room = self.limits.depth.saturating_sub(dir.next_off);
        let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if n < bytes.len() {
            dir.done = true;
            self.counters.depth_reached += 1;
        }
        if n == 0 {
            return;
        }
        let bytes = &bytes[..n];
        // Keep no more context than the limit before the new piece.
        let keep = dir.tail.len().min(self.limits.context);
        dir.tail.drain(..dir.tail.len() - keep);
        let new_from = dir.tail.len();
        dir.tail.extend_from_slice(bytes);
        deliver(Piece {
            window: &dir.tail,
            new_from,
            at_start: dir.next_off == new_from as u64,
        });
        dir.next_off += n as u64;
        dir.next_seq = dir.next_seq.wrapping_add(n as u32);
        self.counters.reassembled_bytes += n as u64;
        let keep = dir.tail.len().min(self.limits.context);
        dir.tail.drain(..dir.tail.len() - keep);
        if self.memuse + dir.memory() > self.limits.memcap {
            self.counters.memcap_drops += 1;
            dir.tail.clear();
        }
    }
}
