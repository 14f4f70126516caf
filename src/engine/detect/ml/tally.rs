//! Per-window tallies of the flows a model flagged: per key (a host, or a host and a class),
//! how many, and the one ranked highest, so that a window's flagged flows become one explained
//! alert per key rather than one per flow (a scan is a thousand flows, one finding).
//!
//! Shared by the Isolation Forest (`ForestDetector`, ranked by score) and the flow classifier
//! (`ClassifierDetector`, ranked by probability) on the aggregator thread. Bounded: past `cap`
//! keys in a window, new keys are counted as dropped.

use std::collections::HashMap;
use std::hash::Hash;

use ahash::RandomState;

use crate::engine::frame::Ts;

/// One key's flagged flows in a window.
pub struct Tally<T> {
    pub count: u64,
    /// The rank of `worst` (higher is worse).
    pub rank: f64,
    pub worst: T,
}

pub struct WindowTallies<K, T> {
    window_secs: i64,
    /// Index of the open window (capture seconds / window length).
    window: Option<i64>,
    tallies: HashMap<K, Tally<T>, RandomState>,
    cap: usize,
    /// Keys not tallied because the window already held `cap`.
    pub dropped: u64,
}

impl<K: Hash + Eq, T> WindowTallies<K, T> {
    pub fn new(window_secs: u64, cap: usize) -> Self {
        WindowTallies {
            window_secs: i64::try_from(window_secs.max(1)).unwrap_or(60),
            window: None,
            tallies: HashMap::default(),
            cap,
            dropped: 0,
        }
    }

    fn index(&self, t: Ts) -> i64 {
        t.secs().div_euclid(self.window_secs)
    }

    /// A flow ended at `t`. When `t` lies in a later window than the open one, that window
    /// closes and its tallies are returned. Flows end out of order (an idle one ends a timeout
    /// after its last packet): only a later window moves the open one on.
    pub fn flow_at(&mut self, t: Ts) -> Option<Vec<(K, Tally<T>)>> {
        let idx = self.index(t);
        let closed = self.window.is_some_and(|w| idx > w).then(|| self.drain());
        self.window = Some(self.window.map_or(idx, |w| w.max(idx)));
        closed
    }

    /// Capture time reached `now`: the open window closes when `now` has left it.
    pub fn tick(&mut self, now: Ts) -> Option<Vec<(K, Tally<T>)>> {
        let idx = self.index(now);
        if self.window.is_none_or(|w| idx <= w) {
            return None;
        }
        self.window = None;
        Some(self.drain())
    }

    /// Count a flagged flow of `key` ranked `rank`; `worst` makes what is kept of it, called
    /// only when the flow is the key's highest-ranked so far.
    pub fn note(&mut self, key: K, rank: f64, worst: impl FnOnce() -> T) {
        if let Some(t) = self.tallies.get_mut(&key) {
            t.count += 1;
            if rank > t.rank {
                t.rank = rank;
                t.worst = worst();
            }
        } else if self.tallies.len() < self.cap {
            self.tallies.insert(
                key,
                Tally {
                    count: 1,
                    rank,
                    worst: worst(),
                },
            );
        } else {
            self.dropped += 1;
        }
    }

    /// Every tally of the open window, which starts empty again.
    pub fn drain(&mut self) -> Vec<(K, Tally<T>)> {
        self.tallies.drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Ts {
        Ts::from_parts(s, 0)
    }

    #[test]
    fn keeps_the_worst_per_key_closes_on_a_later_window_only_and_caps_the_keys() {
        let mut t: WindowTallies<u8, &str> = WindowTallies::new(60, 2);
        assert!(t.flow_at(at(10)).is_none());
        t.note(1, 0.5, || "a");
        t.note(1, 0.9, || "b");
        t.note(1, 0.7, || "c");
        t.note(2, 0.1, || "d");
        t.note(3, 0.9, || "e");
        assert_eq!(t.dropped, 1);
        // A late flow of an earlier window keeps the open one open.
        assert!(t.flow_at(at(-30)).is_none());
        let mut closed = t
            .flow_at(at(61))
            .expect("a later window closes the open one");
        closed.sort_by_key(|(k, _)| *k);
        let got: Vec<(u8, u64, &str)> =
            closed.iter().map(|(k, v)| (*k, v.count, v.worst)).collect();
        assert_eq!(got, [(1, 3, "b"), (2, 1, "d")]);
        t.note(4, 0.2, || "f");
        assert!(t.tick(at(100)).is_none());
        let ticked = t.tick(at(121)).expect("time leaving the window closes it");
        assert_eq!(ticked.len(), 1);
        assert!(t.tick(at(500)).is_none(), "no window is open");
    }
}
