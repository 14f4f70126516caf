//! A hook for whoever needs to see every analysed packet in capture order (the console's
//! model). Called on the aggregator thread: implementations must be quick and never block on
//! the UI; they publish snapshots for the UI thread to read.

use crate::engine::flow::{FlowMeta, FlowRecord};
use crate::engine::record::Analyzed;
use crate::engine::stats::Stats;

pub trait Observer: Send {
    /// A packet after every detector ran; `a.alerts` holds all its alerts.
    fn packet(&mut self, a: &Analyzed, flow: Option<&FlowMeta>);
    /// A flow ended (timeout, eviction, close or shutdown).
    fn flow_ended(&mut self, _r: &FlowRecord) {}
    /// An alert that arrived after its packet went by (AbuseIPDB reputation); `a` is the
    /// packet that first carried the address.
    fn late_alert(&mut self, _a: &Analyzed, _alert: &crate::engine::alert::Alert) {}
    /// Fresh counters, about four times a second while packets flow.
    fn stats(&mut self, _s: &Stats) {}
    /// The input ended and every flow was drained.
    fn finished(&mut self, _s: &Stats) {}
}
