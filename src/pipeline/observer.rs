//! A hook for whoever needs to see every analysed packet in capture order (the console's
//! model). Called on the aggregator thread: implementations must be quick and never block on
//! the UI; they publish snapshots for the UI thread to read. `Fanout` feeds several.

use super::sinks::StoreLink;
use crate::engine::alert::Alert;
use crate::engine::flow::{FlowMeta, FlowRecord};
use crate::engine::incident::{Change, Incident};
use crate::engine::record::Analyzed;
use crate::engine::stats::Stats;

pub trait Observer: Send {
    /// The run writes a database: rows of the observer's own go to its writer through `link`
    /// (called once, before the first packet).
    fn attach_store(&mut self, _link: &StoreLink) {}
    /// A packet after every detector ran; `a.alerts` holds all its alerts.
    fn packet(&mut self, a: &Analyzed, flow: Option<&FlowMeta>);
    /// A flow ended (timeout, eviction, close or shutdown).
    fn flow_ended(&mut self, _r: &FlowRecord) {}
    /// An alert that arrived after its packet went by (AbuseIPDB reputation); `a` is the
    /// packet that first carried the address.
    fn late_alert(&mut self, _a: &Analyzed, _alert: &Alert) {}
    /// The run's incident tracker opened or changed `inc` because of `alert` (after the
    /// `packet` or `late_alert` call that carried it).
    fn incident(&mut self, _inc: &Incident, _change: Change, _alert: &Alert) {}
    /// Fresh counters, about four times a second while packets flow.
    fn stats(&mut self, _s: &Stats) {}
    /// The input ended and every flow was drained.
    fn finished(&mut self, _s: &Stats) {}
}

/// Several observers fed the same events in order (the console's model and the incident
/// store with its response policy).
pub struct Fanout(pub Vec<Box<dyn Observer>>);

impl Observer for Fanout {
    fn attach_store(&mut self, link: &StoreLink) {
        self.0.iter_mut().for_each(|o| o.attach_store(link));
    }
    fn packet(&mut self, a: &Analyzed, flow: Option<&FlowMeta>) {
        self.0.iter_mut().for_each(|o| o.packet(a, flow));
    }
    fn flow_ended(&mut self, r: &FlowRecord) {
        self.0.iter_mut().for_each(|o| o.flow_ended(r));
    }
    fn late_alert(&mut self, a: &Analyzed, alert: &Alert) {
        self.0.iter_mut().for_each(|o| o.late_alert(a, alert));
    }
    fn incident(&mut self, inc: &Incident, change: Change, alert: &Alert) {
        self.0
            .iter_mut()
            .for_each(|o| o.incident(inc, change, alert));
    }
    fn stats(&mut self, s: &Stats) {
        self.0.iter_mut().for_each(|o| o.stats(s));
    }
    fn finished(&mut self, s: &Stats) {
        self.0.iter_mut().for_each(|o| o.finished(s));
    }
}
