//! Machine-learning detection over flow features: the Isolation Forest scores every flow as
//! it ends; flows past its threshold are summed per host and window into one explained alert.
//!
//! `ForestDetector` is a `FlowDetector` on the aggregator thread. With a model learned from
//! normal traffic (`nsm-tui learn`) it scores from the first flow; without one it samples the
//! run's own flows (a reservoir of `train_flows`) and trains when the reservoir is full, then
//! again every `model_update_interval` seconds of capture time — a forest of 50 trees over
//! 256 flows trains in milliseconds, so the pipeline does not stall.

pub mod classifier;
pub mod crossval;
pub mod dbscan;
pub mod flat;
pub mod forest;
pub mod model;
pub mod rforest;
pub mod rng;
pub mod tally;
pub mod training;

use std::net::IpAddr;

use serde_json::json;

use self::flat::FlatForest;
use self::forest::{ForestParams, IsolationForest, Verdict};
use self::rng::Rng;
use self::tally::{Tally, WindowTallies};
use super::builtin;
use super::config::{ForestConfig, LearnParams};
use super::{FlowAlert, FlowDetector};
use crate::engine::features::{FlowFeatures, SCHEMA};
use crate::engine::flow::FlowRecord;
use crate::engine::frame::Ts;

/// Hosts with outliers summed in one window, at most.
const MAX_HOSTS: usize = 10_000;
/// `ml_outlier` alerts per window, at most (the hosts with the most unusual flows).
const ALERTS_PER_WINDOW: usize = 10;

/// A host's most unusual flow in the current window, explained.
struct Worst {
    verdict: Verdict,
    features: FlowFeatures,
    flow: FlowRecord,
}

pub struct ForestDetector {
    cfg: ForestConfig,
    params: LearnParams,
    forest: Option<IsolationForest>,
    /// `forest` laid out for scoring every flow.
    flat: Option<FlatForest>,
    /// The forest came from a learned model: keep it, do not retrain on this run's traffic.
    fixed: bool,
    reservoir: Vec<FlowFeatures>,
    seen: u64,
    rng: Rng,
    last_train: Option<i64>,
    /// Flows seen when the forest was last trained.
    seen_at_train: u64,
    /// Outliers per host in the current window.
    pending: WindowTallies<IpAddr, Worst>,
    scored: u64,
    outliers: u64,
    trained: u64,
    hosts_not_alerted: u64,
}

impl ForestDetector {
    pub fn new(cfg: &ForestConfig, params: LearnParams) -> Self {
        ForestDetector {
            cfg: cfg.clone(),
            params,
            forest: None,
            flat: None,
            fixed: false,
            reservoir: Vec::new(),
            seen: 0,
            rng: Rng::new(cfg.seed),
            last_train: None,
            seen_at_train: 0,
            pending: WindowTallies::new(params.window_secs, MAX_HOSTS),
            scored: 0,
            outliers: 0,
            trained: 0,
            hosts_not_alerted: 0,
        }
    }

    /// Score with a forest learned from normal traffic, never retrained during the run.
    pub fn with_forest(mut self, f: IsolationForest) -> Self {
        self.set_forest(Some(f));
        self.fixed = true;
        self
    }

    pub fn forest(&self) -> Option<&IsolationForest> {
        self.forest.as_ref()
    }

    fn set_forest(&mut self, f: Option<IsolationForest>) {
        self.flat = f.as_ref().and_then(FlatForest::new);
        self.forest = f;
    }

    fn params(&self) -> ForestParams {
        ForestParams {
            contamination: self.cfg.contamination,
            n_estimators: self.cfg.n_estimators,
            max_samples: self.cfg.max_samples,
            seed: self.cfg.seed,
        }
    }

    /// Reservoir sampling (Vitter's algorithm R): every flow so far equally likely kept.
    fn sample(&mut self, x: FlowFeatures) {
        self.seen += 1;
        let cap = self.cfg.train_flows.max(16);
        if self.reservoir.len() < cap {
            self.reservoir.push(x);
        } else {
            let j = self
                .rng
                .below(usize::try_from(self.seen).unwrap_or(usize::MAX));
            if let Some(slot) = self.reservoir.get_mut(j) {
                *slot = x;
            }
        }
    }

    fn maybe_train(&mut self, now: Ts) {
        if self.fixed || self.reservoir.len() < self.cfg.train_flows.max(16) {
            return;
        }
        // Retrained after `model_update_interval` of capture time, and only with a
        // reservoir's worth of flows since the last training (a capture that jumps across
        // days would otherwise retrain at every jump).
        let every = i64::try_from(self.params.update_secs.max(1)).unwrap_or(300);
        let due = match self.last_train {
            None => true,
            Some(t) => {
                now.secs() - t >= every
                    && self.seen - self.seen_at_train >= self.cfg.train_flows as u64
            }
        };
        if due {
            self.set_forest(IsolationForest::fit(&self.reservoir, &self.params()));
            self.last_train = Some(now.secs());
            self.seen_at_train = self.seen;
            self.trained += 1;
        }
    }

    /// Train on `flows` at once (`nsm-tui learn`).
    pub fn train_on(&mut self, flows: &[FlowFeatures]) -> Option<&IsolationForest> {
        self.set_forest(IsolationForest::fit(flows, &self.params()));
        self.fixed = self.forest.is_some();
        self.forest.as_ref()
    }

    /// One alert per host of a closed window's tallies, the most unusual first.
    fn flush(&mut self, mut hosts: Vec<(IpAddr, Tally<Worst>)>, out: &mut Vec<FlowAlert>) {
        let Some(f) = &self.forest else {
            return;
        };
        let threshold = f.threshold;
        // The most unusual first; past `ALERTS_PER_WINDOW` hosts the rest are counted, not
        // alerted (a flood of odd flows from many sources is one story, not thousands).
        hosts.sort_by(|a, b| b.1.rank.total_cmp(&a.1.rank).then(a.0.cmp(&b.0)));
        if hosts.len() > ALERTS_PER_WINDOW {
            self.hosts_not_alerted += (hosts.len() - ALERTS_PER_WINDOW) as u64;
            hosts.truncate(ALERTS_PER_WINDOW);
        }
        for (host, o) in hosts {
            let w = &o.worst;
            let why: Vec<String> = w
                .verdict
                .features
                .iter()
                .map(|&i| format!("{} {}", SCHEMA[i], w.features.readable(i)))
                .collect();
            let r = &w.flow;
            let alert = builtin::ML_OUTLIER.alert_at(
                r.end,
                format!(
                    "{} flow(s) from {host} unlike the learned traffic; the most unusual, to {}:{}, scored {:.2} (threshold {threshold:.2}): isolated in {:.1} splits vs {:.1} on average, by {}",
                    o.count,
                    r.dest_ip,
                    r.dest_port,
                    w.verdict.score,
                    w.verdict.path,
                    w.verdict.expected_path,
                    why.join(", ")
                ),
                json!({
                    "outlier_flows": o.count,
                    "score": w.verdict.score,
                    "threshold": threshold,
                    "path_length": w.verdict.path,
                    "expected_path_length": w.verdict.expected_path,
                    "isolating_features": w.verdict.features.iter().map(|&i| SCHEMA[i]).collect::<Vec<_>>(),
                }),
            );
            out.push(FlowAlert::of_flow(alert, r));
        }
    }
}

impl FlowDetector for ForestDetector {
    fn name(&self) -> &'static str {
        "isolation_forest"
    }

    fn flow_ended(&mut self, r: &FlowRecord, out: &mut Vec<FlowAlert>) {
        if !self.cfg.enabled {
            return;
        }
        if let Some(closed) = self.pending.flow_at(r.end) {
            self.flush(closed, out);
        }
        let x = FlowFeatures::of(r);
        if !self.fixed {
            self.sample(x);
            self.maybe_train(r.end);
        }
        let Some(f) = &self.forest else { return };
        self.scored += 1;
        let outlier = match &self.flat {
            Some(flat) => flat.outlier_score(&x),
            None => Some(f.score(&x)).filter(|&s| s > f.threshold),
        };
        let Some(score) = outlier else { return };
        self.outliers += 1;
        self.pending.note(r.src_ip, score, || Worst {
            verdict: f.explain(&x),
            features: x,
            flow: r.clone(),
        });
    }

    fn tick(&mut self, now: Ts, out: &mut Vec<FlowAlert>) {
        if let Some(closed) = self.pending.tick(now) {
            self.flush(closed, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<FlowAlert>) {
        let open = self.pending.drain();
        self.flush(open, out);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("flows_scored", self.scored),
            ("outlier_flows", self.outliers),
            ("forests_trained", self.trained),
            ("outlier_hosts_dropped", self.pending.dropped),
            ("outlier_hosts_not_alerted", self.hosts_not_alerted),
            ("forest_learning", u64::from(self.forest.is_none())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::testutil::flow;

    fn web(i: i64) -> FlowRecord {
        let jitter = (i % 7) as u64;
        flow(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            443,
            1000 + i,
            1.0 + jitter as f64 * 0.1,
            (8 + jitter, 9),
            (900 + 10 * jitter, 20_000 + 100 * jitter),
        )
    }

    #[test]
    fn trains_on_the_run_then_flags_and_explains_an_odd_flow_once_per_host_and_window() {
        let cfg = ForestConfig {
            train_flows: 512,
            ..ForestConfig::default()
        };
        let mut d = ForestDetector::new(&cfg, LearnParams::default());
        let mut out = Vec::new();
        for i in 0..600 {
            d.flow_ended(&web(i), &mut out);
        }
        assert!(d.forest().is_some());
        assert!(out.is_empty(), "{out:?}");
        // A long, one-sided upload to an unusual port.
        let odd = flow(
            [10, 0, 0, 9],
            [203, 0, 113, 5],
            4444,
            1601,
            900.0,
            (40_000, 2),
            (50_000_000, 120),
        );
        d.flow_ended(&odd, &mut out);
        d.flow_ended(&odd, &mut out);
        d.tick(Ts::from_parts(100_000, 0), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        let a = &out[0];
        assert_eq!(a.host.to_string(), "10.0.0.9");
        assert_eq!(a.alert.category.as_ref(), "ml_outlier");
        assert!(
            a.alert.explanation.starts_with("2 flow(s) from 10.0.0.9"),
            "{}",
            a.alert.explanation
        );
        assert!(
            a.alert.explanation.contains("splits vs"),
            "{}",
            a.alert.explanation
        );
    }

    #[test]
    fn a_learned_forest_is_kept() {
        let flows: Vec<FlowFeatures> = (0..300).map(|i| FlowFeatures::of(&web(i))).collect();
        let mut d = ForestDetector::new(
            &ForestConfig {
                train_flows: 64,
                ..ForestConfig::default()
            },
            LearnParams::default(),
        );
        let f = d.train_on(&flows).cloned().unwrap();
        let mut out = Vec::new();
        for i in 0..500 {
            d.flow_ended(&web(i), &mut out);
        }
        assert_eq!(d.forest(), Some(&f));
    }
}
