//! Reproducible synthetic traffic: a realistic mix of TCP sessions with HTTP payloads, DNS,
//! UDP and ICMP, with a configurable share of attacks (port scans, Xmas/Null probes, SSH brute
//! force, SQL injection and command injection requests, DNS tunnelling, a SYN flood).
//!
//! Used by `nsm-tui generate` to make the benchmark capture and the bundled demo capture.
//! Deterministic: the same seed and options give byte-identical frames.

mod attack_load;
mod build;
mod rng;
mod scenarios;

pub use rng::Rng;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::frame::{LinkType, RawFrame, Ts};

/// Which traffic the generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Ordinary sessions (web, DNS, NTP, ping, TLS), `attack_share` of them attacks: about 6.6
    /// packets per flow.
    #[default]
    Mixed,
    /// A network under attack: scans, floods, random-subdomain DNS and injection requests in
    /// many short flows from many sources, about 3 packets per flow.
    Attack,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "mixed" => Ok(Profile::Mixed),
            "attack" => Ok(Profile::Attack),
            _ => Err(format!("profile {s:?}: expected mixed or attack")),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthOptions {
    pub profile: Profile,
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
            profile: Profile::Mixed,
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
        let session = if self.opts.profile == Profile::Attack {
            attack_load::flow(&mut self.rng, self.now_us)
        } else if self.rng.chance(self.opts.attack_share) {
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

    #[test]
    fn the_attack_profile_is_many_short_flows_of_mid_sized_packets() {
        let opts = SynthOptions {
            profile: Profile::Attack,
            packets: 60_000,
            ..SynthOptions::default()
        };
        let frames: Vec<RawFrame> = Generator::new(opts).collect();
        assert_eq!(frames.len(), 60_000);
        assert!(frames.windows(2).all(|w| w[0].ts <= w[1].ts));
        let mean = frames.iter().map(|f| f.data.len()).sum::<usize>() / frames.len();
        assert!((350..=500).contains(&mean), "mean packet {mean} bytes");
        // Flows by unordered address and port pair (every flow of the profile has its own).
        let flows: std::collections::HashSet<Vec<u8>> = frames
            .iter()
            .filter_map(|f| {
                let ip = f.data.get(14..34)?;
                let ports = f.data.get(34..38)?;
                let (mut a, mut b) = (ip[12..16].to_vec(), ip[16..20].to_vec());
                let (mut pa, mut pb) = (ports[0..2].to_vec(), ports[2..4].to_vec());
                if (a.clone(), pa.clone()) > (b.clone(), pb.clone()) {
                    std::mem::swap(&mut a, &mut b);
                    std::mem::swap(&mut pa, &mut pb);
                }
                Some([a, pa, b, pb, vec![ip[9]]].concat())
            })
            .collect();
        let per_flow = frames.len() as f64 / flows.len() as f64;
        assert!(
            (2.5..=3.5).contains(&per_flow),
            "{per_flow} packets per flow"
        );
    }
}
