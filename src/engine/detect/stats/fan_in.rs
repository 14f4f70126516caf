//! Fan-in: how many distinct sources reached one destination within a window, held to that
//! destination's own fan-in baseline or, while it has none, to destinations in general — a
//! flood from spoofed or reflecting sources, each source too small to stand out on its own.
//!
//! Distinct sources are counted in a 1024-bit bitmap per destination (linear counting: exact
//! for a few sources, within a few percent up to thousands), so a destination costs 128 bytes
//! whatever reaches it; at most `max_hosts` destinations a window and as many own baselines
//! (a destination earns one once two or more sources reached it in a window). Multicast,
//! broadcast and unspecified destinations are not counted. Medium at z ≥ 2k against the
//! destination's own baseline, else Low; always Low against destinations in general (a
//! destination without a baseline of its own may simply be a busy server met first). The
//! sources are the flood's hands, not necessarily the attacker: the alert shows one as the
//! source and names the destination as the victim.

use std::collections::HashMap;
use std::net::IpAddr;

use ahash::RandomState;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ewma::Ewma;
use super::volume::Against;
use super::FLOOR_FRAC;
use crate::engine::alert::Severity;
use crate::engine::detect::builtin;
use crate::engine::detect::FlowAlert;
use crate::engine::features::flow::fnv1a;
use crate::engine::frame::Ts;

/// Least spread of the distinct-sources count.
pub const FLOOR: f64 = 10.0;
const BITS: usize = 1024;

/// What fan-in has learned, saved with the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FanInLearned {
    /// Every destination's windows.
    pub destinations: Ewma,
    /// Destinations with a baseline of their own, in address order.
    pub own: Vec<(IpAddr, Ewma)>,
}

/// Distinct sources of one destination in the open window.
#[derive(Clone)]
struct Sources {
    bits: [u64; BITS / 64],
    /// One source, shown in the alert.
    sample: IpAddr,
}

impl Sources {
    fn add(&mut self, ip: IpAddr) {
        let h = match ip {
            IpAddr::V4(a) => fnv1a(a.octets()),
            IpAddr::V6(a) => fnv1a(a.octets()),
        };
        // Mixed (MurmurHash3's finaliser): consecutive addresses would otherwise land on
        // consecutive bits, never colliding, which linear counting reads as more sources.
        let h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let h = (h ^ (h >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        let b = ((h ^ (h >> 33)) % BITS as u64) as usize;
        self.bits[b / 64] |= 1 << (b % 64);
    }

    /// Distinct sources, estimated from the share of bits still clear.
    fn count(&self) -> f64 {
        let set: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        let clear = (BITS as f64 - f64::from(set)).max(0.5);
        (BITS as f64 * (BITS as f64 / clear).ln()).round()
    }
}

/// Whether a destination can be the target of a fan-in (not a group or broadcast address).
fn countable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_multicast() || a.is_broadcast() || a.is_unspecified()),
        IpAddr::V6(a) => !(a.is_multicast() || a.is_unspecified()),
    }
}

#[derive(Default)]
pub struct FanIn {
    open: HashMap<IpAddr, Sources, RandomState>,
    destinations: Ewma,
    own: HashMap<IpAddr, Ewma, RandomState>,
    pub dropped: u64,
}

impl FanIn {
    pub fn with_learned(l: FanInLearned, cap: usize) -> Self {
        FanIn {
            destinations: l.destinations,
            own: l.own.into_iter().take(cap).collect(),
            ..FanIn::default()
        }
    }

    pub fn learned(&self) -> FanInLearned {
        let mut own: Vec<(IpAddr, Ewma)> = self.own.iter().map(|(ip, e)| (*ip, *e)).collect();
        own.sort_unstable_by_key(|(ip, _)| *ip);
        FanInLearned {
            destinations: self.destinations,
            own,
        }
    }

    /// A flow from `src` to `dst` ended in the open window.
    pub fn add(&mut self, src: IpAddr, dst: IpAddr, cap: usize) {
        if !countable(dst) {
            return;
        }
        if !self.open.contains_key(&dst) && self.open.len() >= cap {
            self.dropped += 1;
            return;
        }
        self.open
            .entry(dst)
            .or_insert(Sources {
                bits: [0; BITS / 64],
                sample: src,
            })
            .add(src);
    }

    /// Close the window: judge each destination (when `judge`), then learn it.
    pub fn close(&mut self, p: Close, out: &mut Vec<FlowAlert>) {
        let mut open: Vec<(IpAddr, Sources)> = std::mem::take(&mut self.open).into_iter().collect();
        open.sort_unstable_by_key(|(ip, _)| *ip);
        for (dst, s) in open {
            let n = s.count();
            let own = self.own.get(&dst).filter(|e| e.n >= p.warmup).copied();
            let base = match own {
                Some(e) => Some((e, Against::Own)),
                None if p.judge && self.destinations.n >= p.warmup => {
                    Some((self.destinations, Against::Hosts))
                }
                None => None,
            };
            let mut anomalous = false;
            if let Some((e, whose)) = base.filter(|_| p.judge) {
                let z = e.z(n, FLOOR_FRAC, FLOOR);
                if z.is_finite() && z >= p.k {
                    anomalous = true;
                    out.push(alert(dst, &s, n, &e, z, whose, p));
                }
            }
            self.destinations.update(n, p.population_alpha);
            let alpha = if anomalous { p.alpha / 4.0 } else { p.alpha };
            if let Some(e) = self.own.get_mut(&dst) {
                e.update(n, alpha);
            } else if n >= 2.0 && self.own.len() < p.cap {
                let mut e = Ewma::default();
                e.update(n, alpha);
                self.own.insert(dst, e);
            }
        }
    }
}

/// What closing a window needs from the detector.
#[derive(Debug, Clone, Copy)]
pub struct Close {
    pub ts: Ts,
    /// Alert (false while learning quietly or before hosts in general are warm).
    pub judge: bool,
    pub k: f64,
    pub warmup: u64,
    pub alpha: f64,
    pub population_alpha: f64,
    pub cap: usize,
}

fn alert(
    dst: IpAddr,
    s: &Sources,
    n: f64,
    e: &Ewma,
    z: f64,
    whose: Against,
    p: Close,
) -> FlowAlert {
    let std = e.spread(FLOOR_FRAC, FLOOR);
    let whose_words = match whose {
        Against::Own => "its baseline",
        _ => "destinations in general",
    };
    let mut a = builtin::FAN_IN.alert_at(
        p.ts,
        format!(
            "{dst} (the victim) was reached by {n:.0} distinct sources in one window, against \
             {whose_words}: distinct sources {n:.1} vs {:.1} ± {std:.1}, z = {z:.1}; the source \
             shown ({}) is one of them, evidence rather than the attacker",
            e.mean, s.sample
        ),
        json!({"victim": dst.to_string(), "distinct_sources": n, "mean": e.mean, "std": std,
               "z": z, "baseline": whose_words, "sample_source": s.sample.to_string(),
               "source_is_attacker": false}),
    );
    let loud = z >= 2.0 * p.k && whose == Against::Own;
    if !loud {
        a.severity = Severity::Low;
    }
    FlowAlert::about(a, s.sample, Some(dst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_sources_closely() {
        let mut s = Sources {
            bits: [0; BITS / 64],
            sample: IpAddr::from([10, 0, 0, 1]),
        };
        for _ in 0..5 {
            s.add(IpAddr::from([10, 0, 0, 1]));
        }
        assert_eq!(s.count(), 1.0);
        for i in 0..500u32 {
            s.add(IpAddr::from((0xC633_0000u32 + i).to_be_bytes()));
        }
        let n = s.count();
        assert!((n - 501.0).abs() < 30.0, "{n}");
        assert!(!countable(IpAddr::from([255, 255, 255, 255])));
        assert!(!countable(IpAddr::from([224, 0, 0, 251])));
        assert!(countable(IpAddr::from([10, 0, 0, 1])));
    }
}
