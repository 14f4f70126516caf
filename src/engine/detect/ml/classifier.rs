//! The flow classifier: a Random Forest that sorts ended flows into the attack classes it was
//! trained on (`nsm-tui train`), its file format, and `ClassifierDetector`, which raises an
//! explained `ml_classified:<class>` alert when a flow's most probable class is not `benign`
//! and its probability reaches `[detector] confidence_threshold`.
//!
//! Pure: JSON text in and out (the store reads and writes the file). A file carries its format
//! name, version and the flow schema's hash; another version or schema, or a malformed forest,
//! is refused with the reason. The detector runs on the aggregator thread and sums a host's
//! flows of one class per window into one alert (a scan is a thousand flows, one finding).
//!
//! Severity (`severity`): an alert is Medium only when the finding is more than one flow's
//! guess — the host sent at least `MEDIUM_MIN_FLOWS` (3) flows of the class in the window, or
//! the destination of its surest flow received at least `MEDIUM_MIN_FAN_IN` (20) flows of the
//! class from any host in the window (a flood from spoofed sources, one flow each) — and the
//! surest flow's probability is at least `MEDIUM_MIN_MARGIN` (0.5) above the benign class's.
//! Anything else is Low. Measured on held-out benign captures, the classifier's lone flows
//! (a traceroute reply, one SSH session) were the whole of its false alerts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rforest::{most_probable, RandomForest};
use super::tally::{Tally, WindowTallies};
use crate::engine::alert::Severity;
use crate::engine::detect::builtin;
use crate::engine::detect::config::LearnParams;
use crate::engine::detect::{FlowAlert, FlowDetector};
use crate::engine::features::{schema_hash, FlowFeatures, N_FEATURES, SCHEMA};
use crate::engine::flow::FlowRecord;
use crate::engine::frame::Ts;

pub const FORMAT: &str = "nsm-tui-classifier";
pub const VERSION: u32 = 1;
/// The class of traffic no label covers.
pub const BENIGN: &str = "benign";
/// (host, class) pairs summed in one window, at most.
const MAX_PENDING: usize = 10_000;
/// Flows of one class from one host in a window for a Medium alert.
pub const MEDIUM_MIN_FLOWS: u64 = 3;
/// Flows of one class to one destination in a window, from any host, for a Medium alert.
pub const MEDIUM_MIN_FAN_IN: u64 = 20;
/// Least lead of the surest flow's class probability over the benign class's for Medium.
pub const MEDIUM_MIN_MARGIN: f64 = 0.5;

/// The severity of a host's flows of one class in a window: `flows` from the host, `fan_in`
/// flows of the class to the surest flow's destination, `margin` of the surest flow's class
/// probability over benign.
pub fn severity(flows: u64, fan_in: u64, margin: f64) -> Severity {
    if (flows >= MEDIUM_MIN_FLOWS || fan_in >= MEDIUM_MIN_FAN_IN) && margin >= MEDIUM_MIN_MARGIN {
        Severity::Medium
    } else {
        Severity::Low
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    pub format: String,
    pub version: u32,
    /// Hex hash of the flow feature schema.
    pub flow_schema: String,
    pub classes: Vec<String>,
    /// Mean feature vector of each class's training flows.
    pub class_means: Vec<Vec<f64>>,
    pub forest: RandomForest,
    /// The captures it was trained on and how many flows of each class.
    pub sources: Vec<String>,
    pub class_flows: Vec<u64>,
}

impl Classifier {
    pub fn new(
        classes: Vec<String>,
        class_means: Vec<Vec<f64>>,
        forest: RandomForest,
        sources: Vec<String>,
        class_flows: Vec<u64>,
    ) -> Self {
        Classifier {
            format: FORMAT.into(),
            version: VERSION,
            flow_schema: format!("{:016x}", schema_hash()),
            classes,
            class_means,
            forest,
            sources,
            class_flows,
        }
    }

    pub fn to_json(&self) -> String {
        // Numbers and strings only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parse and check a classifier file's text; the error says what is wrong with it.
    pub fn from_json(text: &str) -> Result<Classifier, String> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| format!("not a classifier file: {e}"))?;
        if head.format.as_deref() != Some(FORMAT) {
            return Err(format!(
                "not a classifier file: `format` is {:?}, expected {FORMAT:?}",
                head.format.unwrap_or_default()
            ));
        }
        if head.version != Some(VERSION) {
            return Err(format!(
                "classifier format version {} is not the version this nsm-tui reads ({VERSION}); run `nsm-tui train` again",
                head.version.map_or_else(|| "missing".to_string(), |v| v.to_string())
            ));
        }
        let c: Classifier =
            serde_json::from_str(text).map_err(|e| format!("malformed classifier: {e}"))?;
        let flow = format!("{:016x}", schema_hash());
        if c.flow_schema != flow {
            return Err(format!("built on flow features {} but this nsm-tui computes {flow}; run `nsm-tui train` again", c.flow_schema));
        }
        let k = c.classes.len();
        if k == 0
            || c.forest.n_classes != k
            || c.class_means.len() != k
            || c.class_flows.len() != k
            || c.forest.n_features != N_FEATURES
            || c.class_means.iter().any(|m| m.len() != N_FEATURES)
        {
            return Err("malformed classifier: classes, means and forest disagree".into());
        }
        c.forest
            .validate()
            .map_err(|e| format!("malformed classifier: {e}"))?;
        Ok(c)
    }

    /// Features ranked by importance, most important first.
    pub fn top_features(&self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.forest.n_features).collect();
        order.sort_by(|&a, &b| self.forest.importances[b].total_cmp(&self.forest.importances[a]));
        order.truncate(n);
        order
    }

    fn benign(&self) -> Option<usize> {
        self.classes.iter().position(|c| c == BENIGN)
    }
}

/// The flow of a (host, class) pair classified with the highest probability in the window.
struct Surest {
    features: FlowFeatures,
    flow: FlowRecord,
    /// Its probability of the benign class (0 without one).
    benign: f64,
}

pub struct ClassifierDetector {
    model: Classifier,
    params: LearnParams,
    categories: Vec<Arc<str>>,
    /// Classified flows per (host, class) in the current window.
    pending: WindowTallies<(IpAddr, usize), Surest>,
    /// Classified flows per (destination, class) in the current window.
    fan_in: WindowTallies<(IpAddr, usize), ()>,
    scored: u64,
    classified: u64,
}

impl ClassifierDetector {
    pub fn new(model: Classifier, params: LearnParams) -> Self {
        let categories = model
            .classes
            .iter()
            .map(|c| Arc::from(format!("ml_classified:{c}")))
            .collect();
        ClassifierDetector {
            model,
            params,
            categories,
            pending: WindowTallies::new(params.window_secs, MAX_PENDING),
            fan_in: WindowTallies::new(params.window_secs, MAX_PENDING),
            scored: 0,
            classified: 0,
        }
    }

    fn explain(&self, class: usize, p: &Tally<Surest>, host: IpAddr, fan_in: u64) -> FlowAlert {
        let m = &self.model;
        let name = &m.classes[class];
        let benign = m.benign();
        let why: Vec<String> = m
            .top_features(3)
            .into_iter()
            .map(|f| {
                let mean = FlowFeatures(as_array(&m.class_means[class]));
                let mut s = format!(
                    "{} {} (class mean {}",
                    SCHEMA[f],
                    p.worst.features.readable(f),
                    mean.readable(f)
                );
                if let Some(b) = benign {
                    let bm = FlowFeatures(as_array(&m.class_means[b]));
                    s.push_str(&format!(", benign mean {}", bm.readable(f)));
                }
                s.push(')');
                s
            })
            .collect();
        let r = &p.worst.flow;
        let margin = p.rank - p.worst.benign;
        let severity = severity(p.count, fan_in, margin);
        let mut alert = builtin::ML_CLASSIFIED.alert_at(
            r.end,
            format!(
                "{} flow(s) from {host} classified as {name}; the surest, to {}:{}, with probability {:.2} (threshold {:.2}, benign {:.2}); {fan_in} flow(s) of the class to {} in the window; {}; top features: {}",
                p.count,
                r.dest_ip,
                r.dest_port,
                p.rank,
                self.params.confidence,
                p.worst.benign,
                r.dest_ip,
                if severity == Severity::Low {
                    format!("Low: Medium needs {MEDIUM_MIN_FLOWS} flows from the host or {MEDIUM_MIN_FAN_IN} to the destination, and a lead of {MEDIUM_MIN_MARGIN} over benign")
                } else {
                    "Medium".to_string()
                },
                why.join(", ")
            ),
            json!({
                "class": name,
                "probability": p.rank,
                "benign_probability": p.worst.benign,
                "margin": margin,
                "threshold": self.params.confidence,
                "flows": p.count,
                "flows_to_destination": fan_in,
                "top_features": m.top_features(3).iter().map(|&f| json!({
                    "feature": SCHEMA[f],
                    "importance": m.forest.importances[f],
                    "value": p.worst.features.0[f],
                    "class_mean": m.class_means[class][f],
                })).collect::<Vec<_>>(),
            }),
        );
        alert.category = self.categories[class].clone();
        alert.severity = severity;
        FlowAlert::of_flow(alert, r)
    }

    /// One alert per (host, class) of a closed window's tallies, in address order.
    fn flush(
        &self,
        mut all: Vec<((IpAddr, usize), Tally<Surest>)>,
        fan_in: Vec<((IpAddr, usize), Tally<()>)>,
        out: &mut Vec<FlowAlert>,
    ) {
        let fan_in: HashMap<(IpAddr, usize), u64> =
            fan_in.into_iter().map(|(k, t)| (k, t.count)).collect();
        all.sort_by_key(|(k, _)| *k);
        for ((host, class), p) in all {
            let to_dest = fan_in
                .get(&(p.worst.flow.dest_ip, class))
                .copied()
                .unwrap_or(0);
            out.push(self.explain(class, &p, host, to_dest));
        }
    }
}

fn as_array(v: &[f64]) -> [f64; N_FEATURES] {
    let mut a = [0.0; N_FEATURES];
    for (o, x) in a.iter_mut().zip(v) {
        *o = *x;
    }
    a
}

impl FlowDetector for ClassifierDetector {
    fn name(&self) -> &'static str {
        "classifier"
    }

    fn flow_ended(&mut self, r: &FlowRecord, out: &mut Vec<FlowAlert>) {
        // Both tallies see the same flows and times, so they close together.
        let fan_in = self.fan_in.flow_at(r.end).unwrap_or_default();
        if let Some(closed) = self.pending.flow_at(r.end) {
            self.flush(closed, fan_in, out);
        }
        let x = FlowFeatures::of(r);
        self.scored += 1;
        let probs = self.model.forest.predict_proba(&x.0);
        let (class, prob) = most_probable(&probs);
        let benign = self.model.benign();
        if Some(class) == benign || prob < self.params.confidence {
            return;
        }
        self.classified += 1;
        let benign = benign.and_then(|b| probs.get(b)).copied().unwrap_or(0.0);
        self.fan_in.note((r.dest_ip, class), 0.0, || ());
        self.pending.note((r.src_ip, class), prob, || Surest {
            features: x,
            flow: r.clone(),
            benign,
        });
    }

    fn tick(&mut self, now: Ts, out: &mut Vec<FlowAlert>) {
        let fan_in = self.fan_in.tick(now).unwrap_or_default();
        if let Some(closed) = self.pending.tick(now) {
            self.flush(closed, fan_in, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<FlowAlert>) {
        let fan_in = self.fan_in.drain();
        let open = self.pending.drain();
        self.flush(open, fan_in, out);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("classifier_flows_scored", self.scored),
            ("classifier_flows_classified", self.classified),
            ("classifier_hosts_dropped", self.pending.dropped),
            ("classifier_destinations_dropped", self.fan_in.dropped),
        ]
    }
}
