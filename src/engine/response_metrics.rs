//! Response metrics: actions by outcome and kind, the success rate, and the time from the
//! packet that triggered an automatic block to the block being live.
//!
//! Written by whoever carries out actions (the response worker, the console's `b`), read by the
//! EVE `stats` writer and the console's Overview tab, through one `SharedMetrics`.

use std::collections::{BTreeMap, VecDeque};

/// Latencies kept for the median; older ones still count in the mean and maximum.
const RECENT: usize = 256;

/// Counts and latencies of the run's response actions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseMetrics {
    /// By audit outcome (`executed`, `dry_run`, `refused`, `failed`, …).
    pub by_outcome: BTreeMap<String, u64>,
    /// By action (`block`, `rate_limit`, `quarantine`, `reset`, …).
    pub by_action: BTreeMap<String, u64>,
    /// Audit-trail or `blocks` table writes that failed (each one is a lost record).
    pub write_failures: u64,
    latency_count: u64,
    latency_sum_ms: f64,
    latency_max_ms: f64,
    latency_last_ms: f64,
    recent: VecDeque<f64>,
}

/// Time from the triggering packet to the block being live, over the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    /// Median of the most recent blocks.
    pub median_ms: f64,
    pub max_ms: f64,
    pub last_ms: f64,
}

/// Outcomes that mean the action was carried out (or, in a dry run, would have been).
const DONE: [&str; 4] = ["executed", "dry_run", "awaiting_confirmation", "confirmed"];

impl ResponseMetrics {
    /// One action and how it ended.
    pub fn record(&mut self, action: &str, outcome: &str) {
        *self.by_outcome.entry(outcome.to_string()).or_default() += 1;
        *self.by_action.entry(action.to_string()).or_default() += 1;
    }

    /// One automatic block live `ms` after its triggering packet.
    pub fn record_latency(&mut self, ms: f64) {
        let ms = ms.max(0.0);
        self.latency_count += 1;
        self.latency_sum_ms += ms;
        self.latency_max_ms = self.latency_max_ms.max(ms);
        self.latency_last_ms = ms;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
    }

    pub fn total(&self) -> u64 {
        self.by_outcome.values().sum()
    }

    fn count(&self, outcome: &str) -> u64 {
        self.by_outcome.get(outcome).copied().unwrap_or(0)
    }

    /// Share of attempted actions that were carried out: done / (done + failed). Refusals
    /// (allowlist, safety guard, caps) are decisions, not failures, and expiries are not
    /// attempts; `None` before the first attempt.
    pub fn success_rate(&self) -> Option<f64> {
        let done: u64 = DONE.iter().map(|o| self.count(o)).sum();
        let attempted = done + self.count("failed");
        (attempted > 0).then(|| done as f64 / attempted as f64)
    }

    /// Packet-to-block latency, once an automatic block has been made.
    pub fn latency(&self) -> Option<Latency> {
        if self.latency_count == 0 {
            return None;
        }
        let mut v: Vec<f64> = self.recent.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        let median_ms = match v.len() {
            0 => 0.0,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Some(Latency {
            count: self.latency_count,
            mean_ms: self.latency_sum_ms / self.latency_count as f64,
            median_ms,
            max_ms: self.latency_max_ms,
            last_ms: self.latency_last_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_rate_counts_attempts_not_refusals() {
        let mut m = ResponseMetrics::default();
        assert_eq!(m.success_rate(), None);
        m.record("block", "refused");
        assert_eq!(m.success_rate(), None, "a refusal is not an attempt");
        m.record("block", "executed");
        m.record("reset", "executed");
        m.record("block", "dry_run");
        m.record("block", "failed");
        m.record("block", "expired");
        assert_eq!(m.success_rate(), Some(0.75));
        assert_eq!(m.total(), 6);
        assert_eq!(m.by_action["block"], 5);
        assert_eq!(m.by_outcome["executed"], 2);
    }

    #[test]
    fn latency_keeps_mean_max_last_and_a_recent_median() {
        let mut m = ResponseMetrics::default();
        assert!(m.latency().is_none());
        for ms in [40.0, 10.0, 30.0, 20.0] {
            m.record_latency(ms);
        }
        let l = m.latency().expect("latency");
        assert_eq!((l.count, l.mean_ms, l.median_ms), (4, 25.0, 25.0));
        assert_eq!((l.max_ms, l.last_ms), (40.0, 20.0));
        for _ in 0..RECENT {
            m.record_latency(5.0);
        }
        let l = m.latency().expect("latency");
        assert_eq!(l.median_ms, 5.0, "the median covers the recent blocks only");
        assert_eq!(l.max_ms, 40.0);
        assert_eq!(l.count, 4 + RECENT as u64);
    }
}
