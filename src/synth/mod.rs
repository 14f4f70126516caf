//! Reproducible synthetic traffic: a realistic mix of TCP sessions with HTTP payloads, DNS,
//! UDP and ICMP, with a configurable share of attacks (port scans, Xmas/Null probes, SSH brute
//! force, SQL injection and command injection requests, DNS tunnelling, a SYN flood).
//!
//! Used by `nsm-tui generate` to make the benchmark capture and the bundled demo capture.
//! Deterministic: the same seed and options give byte-identical frames.

mod build;
mod rng;
mod scenarios;

pub use rng::Rng;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::frame::{LinkType, RawFrame, Ts};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthOptions {
    pub packets: u64,
    pub seed: u64,
    /// Share of sessions that are attacks, 0.0..=1.0.
    pub attack_share: f64,
    /// Capture time of the first packet, seconds since the epoch.
    pub start_secs: i64,
    /// Mean gap between sessions in microseconds.
    pub session_gap_us: u64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            packets: 10_000,
            seed: 1,
            attack_share: 0.02,
            start_secs: 1_700_000_000,
            session_gap_us: 300,
        }
    }
}

/// An endless, deterministic stream of Ethernet frames, cut at `opts.packets`.
pub struct Generator {
    opts: SynthOptions,
    rng: Rng,
    now_us: u64,
    /// Pending frames by (time, insertion order), earliest first.
    queue: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    inserted: u64,
    emitted: u64,
}

impl Generator {
    pub fn new(opts: SynthOptions) -> Self {
        Generator {
            opts,
            rng: Rng::new(opts.seed),
            now_us: 0,
            queue: BinaryHeap::new(),
            inserted: 0,
            emitted: 0,
        }
    }

    fn refill(&mut self) {
        let gap = self.rng.below(self.opts.session_gap_us.max(1) * 2);
        self.now_us += gap;
        let session = if self.rng.chance(self.opts.attack_share) {
            scenarios::attack(&mut self.rng, self.now_us)
        } else {
            scenarios::benign(&mut self.rng, self.now_us)
        };
        for (t, frame) in session {
            self.inserted += 1;
            self.queue.push(Reverse((t, self.inserted, frame)));
        }
    }
}

impl Iterator for Generator {
    type Item = RawFrame;

    fn next(&mut self) -> Option<RawFrame> {
        if self.emitted >= self.opts.packets {
            return None;
        }
        // Sessions overlap in time: start new ones until no later session can begin before the
        // earliest pending frame, so frames come out in time order.
        while self
            .queue
            .peek()
            .is_none_or(|Reverse((t, _, _))| *t >= self.now_us)
        {
            self.refill();
        }
        let Reverse((t_us, _, data)) = self.queue.pop()?;
        self.emitted += 1;
        let ts = Ts::from_parts(self.opts.start_secs, 0).0
            + i64::try_from(t_us).unwrap_or(i64::MAX / 2) * 1000;
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Some(RawFrame {
            ts: Ts(ts),
            linktype: LinkType::ETHERNET,
            iface: 0,
            orig_len: len,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_frames_and_time_ordered() {
        let opts = SynthOptions {
            packets: 3000,
            attack_share: 0.2,
            ..SynthOptions::default()
        };
        let a: Vec<RawFrame> = Generator::new(opts).collect();
        let b: Vec<RawFrame> = Generator::new(opts).collect();
        assert_eq!(a.len(), 3000);
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| w[0].ts <= w[1].ts));
        let c: Vec<RawFrame> = Generator::new(SynthOptions { seed: 2, ..opts }).collect();
        assert_ne!(a, c);
    }
}
