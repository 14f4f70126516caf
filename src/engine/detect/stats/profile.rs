//! What is normal for one host (or for hosts in general): a baseline per window feature, the
//! hours it is active, the service ports it uses, the destinations it has talked to, its
//! protocol mix, and the most bytes it sends one destination over an exfiltration window.
//!
//! Pure, serialisable (profiles persist between runs). Bounded: ports stop at `MAX_PORTS`,
//! destinations live in a 1024-bit Bloom filter (a false "seen" hides a new destination now
//! and then; it never raises an alert).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::ewma::Ewma;
use crate::engine::features::flow::fnv1a;
use crate::engine::features::window::{HostWindow, N_WINDOW};

/// Service ports remembered per host.
pub const MAX_PORTS: usize = 64;
const BLOOM_WORDS: usize = 16;

/// A host's learned behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Windows learned (windows in which the host was active).
    pub windows: u64,
    /// Index of the last window learned (capture seconds / window length).
    pub last_window: i64,
    pub features: [Ewma; N_WINDOW],
    /// Flows started per hour of day (UTC).
    pub hours: [u64; 24],
    /// Service ports used as a client, sorted.
    pub ports: Vec<u16>,
    bloom: [u64; BLOOM_WORDS],
    /// Protocol shares (TCP, UDP, ICMP, other), smoothed.
    pub proto_mix: [f64; 4],
    /// Most bytes sent to one destination within an exfiltration window.
    pub peak_dest_bytes: Ewma,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            windows: 0,
            last_window: i64::MIN,
            features: [Ewma::default(); N_WINDOW],
            hours: [0; 24],
            ports: Vec::new(),
            bloom: [0; BLOOM_WORDS],
            proto_mix: [0.0; 4],
            peak_dest_bytes: Ewma::default(),
        }
    }
}

fn bloom_bits(ip: IpAddr) -> [usize; 3] {
    let h = match ip {
        IpAddr::V4(a) => fnv1a(a.octets()),
        IpAddr::V6(a) => fnv1a(a.octets()),
    };
    let bits = (BLOOM_WORDS * 64) as u64;
    [
        (h % bits) as usize,
        ((h >> 21) % bits) as usize,
        ((h >> 42) % bits) as usize,
    ]
}

impl Profile {
    pub fn knows_destination(&self, ip: IpAddr) -> bool {
        bloom_bits(ip)
            .iter()
            .all(|&b| self.bloom[b / 64] & (1 << (b % 64)) != 0)
    }

    pub fn knows_port(&self, port: u16) -> bool {
        self.ports.binary_search(&port).is_ok()
    }

    /// Learn one window of `w` (window index `idx`). Only windows in which the host was
    /// active are learned: the baseline says how much it does when it does something, so a
    /// host that is busy for one minute an hour is not held to an average of near zero.
    pub fn learn(&mut self, idx: i64, w: &HostWindow, alpha: f64) {
        for (e, x) in self.features.iter_mut().zip(w.features()) {
            e.update(x, alpha);
        }
        self.windows += 1;
        self.last_window = idx;
        for (h, n) in self.hours.iter_mut().zip(w.hours) {
            *h += u64::from(n);
        }
        for &p in &w.ports {
            if let Err(at) = self.ports.binary_search(&p) {
                if self.ports.len() < MAX_PORTS {
                    self.ports.insert(at, p);
                }
            }
        }
        for &d in &w.dsts {
            for b in bloom_bits(d) {
                self.bloom[b / 64] |= 1 << (b % 64);
            }
        }
        let total = w.proto.iter().sum::<u64>();
        if total > 0 {
            for (m, &n) in self.proto_mix.iter_mut().zip(&w.proto) {
                let share = n as f64 / total as f64;
                *m = if self.windows <= 1 {
                    share
                } else {
                    *m + alpha * (share - *m)
                };
            }
        }
    }

    /// Share of this host's flows that started in `hour` (UTC), over everything learned.
    pub fn hour_share(&self, hour: usize) -> f64 {
        let total: u64 = self.hours.iter().sum();
        if total == 0 {
            return 0.0;
        }
        self.hours.get(hour).copied().unwrap_or(0) as f64 / total as f64
    }
}

/// Jensen-Shannon divergence (base 2, 0–1) between two distributions over the same slots.
pub fn js_divergence(p: &[f64; 4], q: &[f64; 4]) -> f64 {
    let norm = |d: &[f64; 4]| {
        let s: f64 = d.iter().sum();
        if s > 0.0 {
            d.map(|x| x / s)
        } else {
            [0.0; 4]
        }
    };
    let (p, q) = (norm(p), norm(q));
    let kl = |a: &[f64; 4], m: &[f64; 4]| -> f64 {
        a.iter()
            .zip(m)
            .filter(|(&x, &y)| x > 0.0 && y > 0.0)
            .map(|(&x, &y)| x * (x / y).log2())
            .sum()
    };
    let m: [f64; 4] = std::array::from_fn(|i| (p[i] + q[i]) / 2.0);
    ((kl(&p, &m) + kl(&q, &m)) / 2.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::testutil::flow;

    #[test]
    fn learns_ports_destinations_hours_and_mix() {
        let mut p = Profile::default();
        let mut w = HostWindow::default();
        w.add(
            &flow(
                [10, 0, 0, 1],
                [10, 0, 0, 2],
                443,
                7200,
                1.0,
                (5, 5),
                (500, 5000),
            ),
            true,
        );
        p.learn(10, &w, 0.1);
        assert!(p.knows_port(443) && !p.knows_port(22));
        assert!(p.knows_destination("10.0.0.2".parse().unwrap()));
        assert!(!p.knows_destination("10.0.0.9".parse().unwrap()));
        assert_eq!(p.hour_share(2), 1.0);
        assert_eq!(p.proto_mix, [1.0, 0.0, 0.0, 0.0]);
        // Silent windows in between are not learned.
        p.learn(14, &w, 0.5);
        assert_eq!(p.windows, 2);
        assert_eq!(p.features[0].mean, 1.0);
    }

    #[test]
    fn divergence_is_zero_for_equal_and_one_for_disjoint_mixes() {
        let a = [1.0, 0.0, 0.0, 0.0];
        assert!(js_divergence(&a, &a).abs() < 1e-12);
        assert!((js_divergence(&a, &[0.0, 1.0, 0.0, 0.0]) - 1.0).abs() < 1e-12);
        let half = js_divergence(&a, &[0.5, 0.5, 0.0, 0.0]);
        assert!(half > 0.2 && half < 0.4, "{half}");
    }
}
