//! Slow exfiltration: bytes a host sends one destination add up over `exfil_window_secs`;
//! past `exfil_min_bytes` and `anomaly_threshold` spreads above the host's usual peak (or
//! hosts' usual peak), an alert. Each window's peaks teach the next.

use std::collections::HashMap;
use std::net::IpAddr;

use ahash::RandomState;
use serde_json::json;

use super::{BaselineDetector, POPULATION_ALPHA};
use crate::engine::detect::builtin;
use crate::engine::detect::FlowAlert;
use crate::engine::features::human_bytes;
use crate::engine::flow::FlowRecord;

impl BaselineDetector {
    pub(super) fn exfiltration(&mut self, r: &FlowRecord, out: &mut Vec<FlowAlert>) {
        let span = i64::try_from(self.cfg.exfil_window_secs.max(1)).unwrap_or(3600);
        let idx = r.end.secs().div_euclid(span);
        if self.exfil_window.is_some_and(|w| idx > w) {
            self.close_exfil_window();
        }
        // Flows end out of order: only a later window moves the current one on.
        self.exfil_window = Some(self.exfil_window.map_or(idx, |w| w.max(idx)));
        let key = (r.src_ip, r.dest_ip);
        if !self.exfil.contains_key(&key) && self.exfil.len() >= self.cfg.max_hosts.max(1) {
            // Keep the largest sums: they are the ones that may still cross the line.
            let mut sums: Vec<u64> = self.exfil.values().copied().collect();
            let n = sums.len() / 16;
            sums.select_nth_unstable(n);
            let cut = sums[n];
            self.exfil.retain(|_, b| *b > cut);
        }
        let sum = self.exfil.entry(key).or_default();
        *sum += r.bytes_toserver;
        let bytes = *sum;
        if bytes < self.cfg.exfil_min_bytes || self.exfil_alerted.contains(&key) {
            return;
        }
        let own = self
            .profiles
            .get(&r.src_ip)
            .map(|p| p.peak_dest_bytes)
            .filter(|e| e.n >= 3);
        let (base, whose) = match own {
            Some(e) => (e, "its usual peak"),
            None if self.population.peak_dest_bytes.n >= 3 => {
                (self.population.peak_dest_bytes, "hosts' usual peak")
            }
            None => return,
        };
        let z = base.z(bytes as f64, 0.5, 1_048_576.0);
        if z < self.params.anomaly_threshold {
            return;
        }
        self.exfil_alerted.insert(key);
        if self.quiet {
            return;
        }
        let fa = FlowAlert::of_flow(
            builtin::EXFILTRATION.alert_at(
                r.end,
                format!(
                    "{} sent {} to {} within {} min vs {whose} of {} ± {}, z = {z:.1}",
                    r.src_ip,
                    human_bytes(bytes as f64),
                    r.dest_ip,
                    span / 60,
                    human_bytes(base.mean),
                    human_bytes(base.std()),
                ),
                json!({"bytes_out": bytes, "baseline_mean": base.mean, "baseline_std": base.std(), "z": z}),
            ),
            r,
        );
        out.push(fa);
    }

    /// Teach each host's (and hosts' in general) peak bytes to one destination, then start over.
    pub(super) fn close_exfil_window(&mut self) {
        let mut peak: HashMap<IpAddr, u64, RandomState> = HashMap::default();
        for ((host, _), b) in self.exfil.drain() {
            let e = peak.entry(host).or_default();
            *e = (*e).max(b);
        }
        // In address order, as the window baselines learn (the EWMA depends on the order).
        let mut peak: Vec<(IpAddr, u64)> = peak.into_iter().collect();
        peak.sort_unstable();
        for (host, b) in peak {
            if let Some(p) = self.profiles.get_mut(&host) {
                p.peak_dest_bytes.update(b as f64, self.cfg.alpha);
            }
            self.population
                .peak_dest_bytes
                .update(b as f64, POPULATION_ALPHA);
        }
        self.exfil_alerted.clear();
    }
}
