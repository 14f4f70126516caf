//! Learning from traffic the user calls normal (`nsm-tui learn`): frames in, flows tracked,
//! baselines and profiles learned (no alerts), flow features sampled; at the end the
//! Isolation Forest is trained on the sample and everything goes into one `Model`.
//!
//! Pure; driven frame by frame by whichever command reads the capture.

use super::config::DetectConfig;
use super::ml::forest::{ForestParams, IsolationForest};
use super::ml::model::{Model, TrainedOn};
use super::ml::rng::Rng;
use super::stats::BaselineDetector;
use super::FlowDetector;
use crate::engine::decode::decode;
use crate::engine::features::FlowFeatures;
use crate::engine::flow::{FlowConfig, FlowRecord, FlowTable};
use crate::engine::frame::RawFrame;

/// Flow feature vectors kept for training, at most (a uniform sample of all flows).
pub const SAMPLE: usize = 200_000;

pub struct Learner {
    flows: FlowTable,
    baseline: BaselineDetector,
    sample: Vec<FlowFeatures>,
    seen: u64,
    rng: Rng,
    params: ForestParams,
    window_secs: u64,
    trained_on: TrainedOn,
    last_sec: i64,
}

impl Learner {
    pub fn new(cfg: &DetectConfig, flow: FlowConfig) -> Self {
        let f = &cfg.isolation_forest;
        Learner {
            flows: FlowTable::new(flow),
            baseline: BaselineDetector::new(&cfg.baseline, &cfg.beaconing, cfg.learn).quiet(),
            sample: Vec::new(),
            seen: 0,
            rng: Rng::new(f.seed),
            params: ForestParams {
                contamination: f.contamination,
                n_estimators: f.n_estimators,
                max_samples: f.max_samples,
                seed: f.seed,
            },
            window_secs: cfg.learn.window_secs,
            trained_on: TrainedOn {
                seed: f.seed,
                ..TrainedOn::default()
            },
            last_sec: i64::MIN,
        }
    }

    /// Name a source the model learns from (kept in the model file).
    pub fn source(&mut self, name: &str) {
        self.trained_on.sources.push(name.to_string());
    }

    pub fn frame(&mut self, frame: &RawFrame) {
        self.trained_on.packets += 1;
        let d = decode(frame);
        let payload = d.payload(&frame.data);
        self.flows.update(frame.ts, &d, frame.orig_len, payload);
        if frame.ts.secs() != self.last_sec {
            self.last_sec = frame.ts.secs();
            for r in self.flows.expire(frame.ts) {
                self.flow(&r);
            }
            self.baseline.tick(frame.ts, &mut Vec::new());
        }
    }

    fn flow(&mut self, r: &FlowRecord) {
        self.trained_on.flows += 1;
        self.baseline.flow_ended(r, &mut Vec::new());
        let x = FlowFeatures::of(r);
        self.seen += 1;
        if self.sample.len() < SAMPLE {
            self.sample.push(x);
        } else {
            let j = self
                .rng
                .below(usize::try_from(self.seen).unwrap_or(usize::MAX));
            if let Some(s) = self.sample.get_mut(j) {
                *s = x;
            }
        }
    }

    /// End every flow, train the forest, and hand over the model (`forest` is `None` with
    /// fewer than 16 flows).
    pub fn finish(mut self) -> Model {
        for r in self.flows.drain() {
            self.flow(&r);
        }
        self.baseline.finish(&mut Vec::new());
        let forest = IsolationForest::fit(&self.sample, &self.params);
        Model::new(
            self.window_secs,
            self.trained_on,
            self.baseline.learned(),
            forest,
        )
    }
}
