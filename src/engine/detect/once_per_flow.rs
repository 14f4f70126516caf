//! Signatures that alert once per flow (`"once_per_flow": true`): after the first alert of
//! such a signature in a flow, its later matches in the same flow are dropped and counted.
//! Cleartext credentials are the case in point: an FTP session sends `PASS` for every login
//! attempt and a browser sends `Authorization: Basic` with every request — one finding each.
//!
//! A `StatefulDetector` on the aggregator thread, where packets have their flow; it only looks
//! at packets that already carry a signature alert. Which signatures count comes from the
//! current signature set, so a reload takes effect at once.

use std::sync::Arc;

use super::config::LimitsConfig;
use super::signature::SignatureSource;
use super::table::Table;
use super::{FlowCtx, StatefulDetector};
use crate::engine::alert::{Alert, Detector, RuleId};
use crate::engine::record::Analyzed;

/// How long a (flow, signature) pair is remembered after its flow was last seen with an alert
/// of it: longer than any flow stays idle, so a flow alerts once over its whole life.
const REMEMBER_SECS: u64 = 24 * 3600;

pub struct OncePerFlow {
    source: Arc<dyn SignatureSource>,
    seen: Table<(u64, RuleId), ()>,
    suppressed: u64,
}

impl OncePerFlow {
    pub fn new(source: Arc<dyn SignatureSource>, limits: &LimitsConfig) -> Self {
        OncePerFlow {
            source,
            seen: Table::new(limits.max_entries, REMEMBER_SECS),
            suppressed: 0,
        }
    }
}

impl StatefulDetector for OncePerFlow {
    fn name(&self) -> &'static str {
        "once_per_flow"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some(flow) = flow else { return };
        if !out.iter().any(|al| al.detector == Detector::Signature) {
            return;
        }
        let set = self.source.current();
        let now = a.frame.ts;
        let before = out.len();
        out.retain(|al| {
            if al.detector != Detector::Signature || !set.once_per_flow(al.rule) {
                return true;
            }
            let key = (flow.flow_id, al.rule);
            let first = self.seen.get_mut(&key).is_none();
            self.seen.entry(key, now, || ());
            first
        });
        self.suppressed += (before - out.len()) as u64;
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("once_per_flow.suppressed", self.suppressed),
            ("once_per_flow.tracked", self.seen.len() as u64),
            ("once_per_flow.dropped", self.seen.dropped()),
        ]
    }
}
