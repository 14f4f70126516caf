//! Behaviour clusters of hosts: DBSCAN over each host's window vector, and
//! `HostBehaviourDetector`, which raises `host_behaviour_change` when a host that sat in a
//! cluster becomes noise or moves to another cluster, naming the nearest cluster (its centroid's
//! main features) and the features that changed most (value now vs at the last fit).
//!
//! A host's vector is its window's features (`HostWindow::features`), each `ln(1 + x)`, the
//! failed-connection ratio times `FAILED_WEIGHT` so that a host whose connections all start
//! failing moves as far as one whose volume grows twentyfold. The clusters are refitted every
//! `model_update_interval` seconds of capture time over the latest vectors of at most
//! `max_hosts` hosts (the stalest go first, counted).
//!
//! DBSCAN is written here (O(n²) distances, n ≤ `max_hosts`: 2,000 hosts are 4 million
//! 7-dimensional distances, milliseconds once per refit) rather than taken from smartcore 0.7:
//! its fitted labels are private and its `predict` relabels each point by a majority of its
//! neighbours, which moves noise points into clusters — the very change this detector reports.
//!
//! Pure; a `FlowDetector` on the aggregator thread.

use std::collections::HashMap;
use std::net::IpAddr;

use ahash::RandomState;

/// `host_behaviour_change` alerts per window, at most.
const ALERTS_PER_WINDOW: usize = 10;
use serde_json::json;

use super::super::builtin;
use super::super::config::{DbscanConfig, LearnParams};
use super::super::{FlowAlert, FlowDetector};
use crate::engine::features::human_bytes;
use crate::engine::features::window::{HostWindow, N_WINDOW, WINDOW_SCHEMA};
use crate::engine::flow::FlowRecord;
use crate::engine::frame::Ts;

/// Weight of the failed-connection ratio (0–1) beside the log-scaled counts.
pub const FAILED_WEIGHT: f64 = 3.0;
/// Hosts outside the last fit given an open window at once, at most (the rest of a window's
/// new hosts are not counted); hosts of the last fit always get one. A fit holds at most
/// `max_hosts` (2,000 by default) hosts, so five times that leaves room to find the next ones
/// while a flood of spoofed sources costs ~5 MB here rather than ~25.
const MAX_OPEN: usize = 10_000;

pub type Vector = [f64; N_WINDOW];

/// A host's window as a behaviour vector.
pub fn vector(w: &HostWindow) -> Vector {
    let f = w.features();
    let mut v = [0.0; N_WINDOW];
    for (i, (o, x)) in v.iter_mut().zip(f).enumerate() {
        *o = if i == 5 { x * FAILED_WEIGHT } else { x.ln_1p() };
    }
    v
}

/// A feature of a behaviour vector as a person reads it.
pub fn readable(i: usize, v: f64) -> String {
    match i {
        5 => format!("{:.0}%", 100.0 * v / FAILED_WEIGHT),
        3 | 4 => human_bytes(v.exp_m1()),
        _ => format!("{:.0}", v.exp_m1()),
    }
}

fn dist2(a: &Vector, b: &Vector) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// DBSCAN labels: `Some(cluster)` or `None` (noise). A point with at least `min_samples`
/// points (itself included) within `eps` is a core point; clusters are core points joined
/// through each other's neighbourhoods, with the border points they reach.
pub fn dbscan(points: &[Vector], eps: f64, min_samples: usize) -> Vec<Option<usize>> {
    let n = points.len();
    let e2 = eps * eps;
    let neighbours = |i: usize| -> Vec<usize> {
        (0..n)
            .filter(|&j| dist2(&points[i], &points[j]) <= e2)
            .collect()
    };
    let mut label: Vec<Option<usize>> = vec![None; n];
    let mut visited = vec![false; n];
    let mut k = 0;
    for i in 0..n {
        if visited[i] {
            continue;
        }
        visited[i] = true;
        let nb = neighbours(i);
        if nb.len() < min_samples {
            continue;
        }
        label[i] = Some(k);
        let mut queue = nb;
        while let Some(j) = queue.pop() {
            if label[j].is_none() {
                label[j] = Some(k);
            }
            if visited[j] {
                continue;
            }
            visited[j] = true;
            let more = neighbours(j);
            if more.len() >= min_samples {
                queue.extend(
                    more.into_iter()
                        .filter(|&m| !visited[m] || label[m].is_none()),
                );
            }
        }
        k += 1;
    }
    label
}

/// What the last fit said about one host.
#[derive(Debug, Clone)]
struct Fitted {
    vector: Vector,
    cluster: Option<usize>,
}

pub struct HostBehaviourDetector {
    cfg: DbscanConfig,
    params: LearnParams,
    open: HashMap<IpAddr, HostWindow, RandomState>,
    window: Option<i64>,
    /// Each host's latest vector and the window it came from.
    recent: HashMap<IpAddr, (Vector, i64), RandomState>,
    fitted: HashMap<IpAddr, Fitted, RandomState>,
    /// The fitted points (for judging a new vector) and the cluster centroids.
    points: Vec<(Vector, Option<usize>)>,
    centroids: Vec<(Vector, usize)>,
    last_fit: Option<i64>,
    /// Host windows seen since the last fit.
    since_fit: usize,
    fits: u64,
    evicted: u64,
    alerts: u64,
}

impl HostBehaviourDetector {
    pub fn new(cfg: &DbscanConfig, params: LearnParams) -> Self {
        HostBehaviourDetector {
            cfg: cfg.clone(),
            params,
            open: HashMap::default(),
            window: None,
            recent: HashMap::default(),
            fitted: HashMap::default(),
            points: Vec::new(),
            centroids: Vec::new(),
            last_fit: None,
            since_fit: 0,
            fits: 0,
            evicted: 0,
            alerts: 0,
        }
    }

    fn secs(&self) -> i64 {
        i64::try_from(self.params.window_secs.max(1)).unwrap_or(60)
    }

    fn roll(&mut self, idx: i64, out: &mut Vec<FlowAlert>) {
        if let Some(w) = self.window {
            if idx > w {
                self.close(w, out);
            }
        }
        self.window = Some(self.window.map_or(idx, |w| w.max(idx)));
    }

    /// The cluster a new vector falls in: that of the nearest fitted clustered point within
    /// `eps`, else noise.
    fn judge(&self, v: &Vector) -> Option<usize> {
        let e2 = self.cfg.eps * self.cfg.eps;
        self.points
            .iter()
            .filter_map(|(p, c)| c.map(|c| (dist2(p, v), c)))
            .filter(|(d, _)| *d <= e2)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c)
    }

    fn close(&mut self, idx: i64, out: &mut Vec<FlowAlert>) {
        let ts = Ts::from_parts((idx + 1).saturating_mul(self.secs()), 0);
        let mut hosts: Vec<(IpAddr, HostWindow)> = self.open.drain().collect();
        hosts.sort_by_key(|(ip, _)| *ip);
        let mut raised = 0;
        for (host, w) in hosts {
            let v = vector(&w);
            if let Some(f) = self.fitted.get(&host).cloned() {
                if let Some(was) = f.cluster {
                    let now = self.judge(&v);
                    if now != Some(was) {
                        // At most `ALERTS_PER_WINDOW` a window: many hosts changing at once
                        // is one change of the network, not one story per host.
                        if raised < ALERTS_PER_WINDOW {
                            out.push(self.alert(ts, host, was, now, &f.vector, &v));
                            self.alerts += 1;
                            raised += 1;
                        }
                        // One alert per move: the host is judged from where it went.
                        if let Some(e) = self.fitted.get_mut(&host) {
                            e.cluster = now;
                            e.vector = v;
                        }
                    }
                }
            }
            self.recent.insert(host, (v, idx));
            self.since_fit += 1;
        }
        self.evict();
        // A refit is due after `model_update_interval` of capture time and once there is
        // something new to learn: on average a new window for every host tracked (a capture
        // that jumps across days would otherwise refit at every jump).
        let due = self.last_fit.is_none_or(|t| {
            ts.secs() - t >= i64::try_from(self.params.update_secs.max(1)).unwrap_or(300)
                && self.since_fit >= self.recent.len()
        });
        if due && self.recent.len() > self.cfg.min_samples {
            self.fit();
            self.last_fit = Some(ts.secs());
            self.since_fit = 0;
        }
    }

    fn evict(&mut self) {
        let cap = self.cfg.max_hosts.max(1);
        if self.recent.len() <= cap {
            return;
        }
        let mut by_age: Vec<(i64, IpAddr)> =
            self.recent.iter().map(|(ip, (_, w))| (*w, *ip)).collect();
        by_age.sort_unstable();
        for (_, ip) in by_age.into_iter().take(self.recent.len() - cap) {
            self.recent.remove(&ip);
            self.fitted.remove(&ip);
            self.evicted += 1;
        }
    }

    fn fit(&mut self) {
        let mut hosts: Vec<(IpAddr, Vector)> =
            self.recent.iter().map(|(ip, (v, _))| (*ip, *v)).collect();
        hosts.sort_by_key(|(ip, _)| *ip);
        let pts: Vec<Vector> = hosts.iter().map(|(_, v)| *v).collect();
        let labels = dbscan(&pts, self.cfg.eps, self.cfg.min_samples.max(1));
        let k = labels.iter().flatten().max().map_or(0, |m| m + 1);
        let mut sums = vec![([0.0; N_WINDOW], 0usize); k];
        for (v, l) in pts.iter().zip(&labels) {
            if let Some(c) = l {
                sums[*c].1 += 1;
                for (s, x) in sums[*c].0.iter_mut().zip(v) {
                    *s += x;
                }
            }
        }
        self.centroids = sums
            .into_iter()
            .map(|(mut s, n)| {
                s.iter_mut().for_each(|x| *x /= n.max(1) as f64);
                (s, n)
            })
            .collect();
        self.fitted = hosts
            .iter()
            .zip(&labels)
            .map(|((ip, v), l)| {
                (
                    *ip,
                    Fitted {
                        vector: *v,
                        cluster: *l,
                    },
                )
            })
            .collect();
        self.points = pts.into_iter().zip(labels).collect();
        self.fits += 1;
    }

    fn alert(
        &self,
        ts: Ts,
        host: IpAddr,
        was: usize,
        now: Option<usize>,
        before: &Vector,
        v: &Vector,
    ) -> FlowAlert {
        let nearest = self
            .centroids
            .iter()
            .enumerate()
            .min_by(|a, b| dist2(&a.1 .0, v).total_cmp(&dist2(&b.1 .0, v)))
            .map(|(i, c)| (i, c.0, c.1));
        let mut changed: Vec<usize> = (0..N_WINDOW).collect();
        changed.sort_by(|&a, &b| {
            (v[b] - before[b])
                .abs()
                .total_cmp(&(v[a] - before[a]).abs())
        });
        changed.truncate(3);
        let what: Vec<String> = changed
            .iter()
            .map(|&i| {
                format!(
                    "{} {} vs {} before",
                    WINDOW_SCHEMA[i],
                    readable(i, v[i]),
                    readable(i, before[i])
                )
            })
            .collect();
        let centroid_text = |c: &Vector| {
            let mut main: Vec<usize> = (0..N_WINDOW).collect();
            main.sort_by(|&a, &b| c[b].total_cmp(&c[a]));
            main.truncate(3);
            main.iter()
                .map(|&i| format!("{} {}", WINDOW_SCHEMA[i], readable(i, c[i])))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let went = now.map_or_else(
            || "now fits no cluster (noise)".to_string(),
            |c| format!("moved to cluster {c}"),
        );
        let near = nearest.map_or_else(String::new, |(i, c, n)| {
            format!("; nearest cluster {i} ({n} hosts: {})", centroid_text(&c))
        });
        let explanation = format!(
            "{host} left behaviour cluster {was} and {went}{near}; changed most: {}",
            what.join(", ")
        );
        let a = builtin::HOST_BEHAVIOUR_CHANGE.alert_at(
            ts,
            explanation,
            json!({
                "previous_cluster": was,
                "cluster": now,
                "nearest_cluster": nearest.map(|n| n.0),
                "changed": changed.iter().map(|&i| json!({
                    "feature": WINDOW_SCHEMA[i],
                    "value": v[i],
                    "before": before[i],
                })).collect::<Vec<_>>(),
            }),
        );
        FlowAlert::about(a, host, None)
    }
}

impl FlowDetector for HostBehaviourDetector {
    fn name(&self) -> &'static str {
        "dbscan"
    }

    fn flow_ended(&mut self, r: &FlowRecord, out: &mut Vec<FlowAlert>) {
        if !self.cfg.enabled {
            return;
        }
        let idx = r.end.secs().div_euclid(self.secs());
        self.roll(idx, out);
        if let Some(w) = self.open.get_mut(&r.src_ip) {
            w.add(r, false);
        } else if self.open.len() < MAX_OPEN || self.fitted.contains_key(&r.src_ip) {
            let mut w = HostWindow::default();
            w.add(r, false);
            self.open.insert(r.src_ip, w);
        }
    }

    fn tick(&mut self, now: Ts, out: &mut Vec<FlowAlert>) {
        if self.cfg.enabled && self.window.is_some() {
            self.roll(now.secs().div_euclid(self.secs()), out);
        }
    }

    fn finish(&mut self, out: &mut Vec<FlowAlert>) {
        if let Some(w) = self.window.take() {
            self.close(w, out);
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("dbscan_fits", self.fits),
            ("dbscan_hosts", self.recent.len() as u64),
            ("dbscan_hosts_evicted", self.evicted),
            ("dbscan_clusters", self.centroids.len() as u64),
            ("host_behaviour_changes", self.alerts),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::testutil::flow;

    #[test]
    fn dbscan_finds_two_clusters_and_noise() {
        let mut pts = Vec::new();
        for i in 0..5 {
            pts.push([f64::from(i) * 0.1; N_WINDOW]);
            pts.push([5.0 + f64::from(i) * 0.1; N_WINDOW]);
        }
        pts.push([20.0; N_WINDOW]);
        let l = dbscan(&pts, 1.0, 3);
        assert_eq!(l[0], Some(0));
        assert_eq!(l[1], Some(1));
        assert!(l[..10].iter().step_by(2).all(|&c| c == Some(0)));
        assert!(l[1..10].iter().step_by(2).all(|&c| c == Some(1)));
        assert_eq!(l[10], None);
    }

    /// Twelve workstations that each make a few web connections a minute.
    fn quiet_minute(out: &mut Vec<FlowAlert>, d: &mut HostBehaviourDetector, minute: i64) {
        for h in 1..=12u8 {
            for c in 0..4u16 {
                let r = flow(
                    [10, 0, 0, h],
                    [10, 0, 1, 1 + (c % 2) as u8],
                    443,
                    minute * 60 + i64::from(c),
                    1.0,
                    (10, 12),
                    (2_000, 30_000),
                );
                d.flow_ended(&r, out);
            }
        }
    }

    #[test]
    fn a_host_that_starts_scanning_leaves_its_cluster_and_is_explained() {
        let cfg = DbscanConfig::default();
        let params = LearnParams {
            update_secs: 3600,
            ..LearnParams::default()
        };
        let mut d = HostBehaviourDetector::new(&cfg, params);
        let mut out = Vec::new();
        for m in 0..3 {
            quiet_minute(&mut out, &mut d, m);
        }
        assert!(out.is_empty(), "{out:?}");
        // Minute 3: host 10.0.0.5 probes 500 ports, every probe refused.
        quiet_minute(&mut out, &mut d, 3);
        for p in 0..500u16 {
            let mut r = flow(
                [10, 0, 0, 5],
                [10, 0, 1, 9],
                1000 + p,
                3 * 60 + 30,
                0.0,
                (1, 1),
                (60, 54),
            );
            r.state = crate::engine::flow::FlowState::New;
            d.flow_ended(&r, &mut out);
        }
        d.tick(Ts::from_parts(4 * 60 + 1, 0), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        let a = &out[0];
        assert_eq!(a.host.to_string(), "10.0.0.5");
        assert_eq!(a.alert.category.as_ref(), "host_behaviour_change");
        let e = &a.alert.explanation;
        assert!(e.starts_with("10.0.0.5 left behaviour cluster 0 and now fits no cluster (noise); nearest cluster 0 (12 hosts"), "{e}");
        assert!(e.contains("distinct ports 501 vs 1 before"), "{e}");
        // It stays a scanner: no second alert for the same move.
        for p in 0..500u16 {
            let r = flow(
                [10, 0, 0, 5],
                [10, 0, 1, 9],
                1000 + p,
                4 * 60 + 30,
                0.0,
                (1, 1),
                (60, 54),
            );
            d.flow_ended(&r, &mut out);
        }
        d.finish(&mut out);
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn hosts_beyond_the_cap_are_evicted_and_counted() {
        let cfg = DbscanConfig {
            max_hosts: 5,
            ..DbscanConfig::default()
        };
        let mut d = HostBehaviourDetector::new(&cfg, LearnParams::default());
        let mut out = Vec::new();
        quiet_minute(&mut out, &mut d, 0);
        d.finish(&mut out);
        assert_eq!(d.recent.len(), 5);
        assert!(d.counters().contains(&("dbscan_hosts_evicted", 7)));
    }
}
