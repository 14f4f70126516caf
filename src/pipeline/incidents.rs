//! The run's one incident tracker: an `Observer` that groups every alert into incidents with
//! the one `Grouper` (`[response] incident_window_secs`), numbers them with their one id (past
//! the highest the database holds), saves them to the `incidents` table in batches, and hands
//! every change to the observers inside it — the console's model and the response policy —
//! after the packet that caused it. `incidents list`, reports, exports, the console and the
//! audit trail all speak of the same incident by the same id.
//!
//! Runs on the pipeline's output thread; writes block only on the database (busy time-out),
//! once per stats tick or every `FLUSH_EVERY` changed incidents.

use std::collections::HashMap;
use std::net::IpAddr;

use super::observer::{Fanout, Observer};
use crate::engine::alert::Alert;
use crate::engine::flow::{FlowMeta, FlowRecord};
use crate::engine::incident::{Change, Grouper, Incident};
use crate::engine::record::Analyzed;
use crate::engine::stats::Stats;
use crate::store::incidents::IncidentStore;

/// Open incidents the grouper keeps (each a few hundred bytes plus its alert list).
pub const MAX_OPEN_INCIDENTS: usize = 10_000;
/// Changed incidents are written at least this often (in alerts), besides every stats tick.
const FLUSH_EVERY: usize = 256;

pub struct IncidentTracker {
    grouper: Grouper,
    store: Option<IncidentStore>,
    /// Incidents changed since the last save, with the strongest change.
    dirty: HashMap<u64, (Incident, Change)>,
    inner: Fanout,
    /// Saves that failed; their incidents are kept and offered again at the next flush (the
    /// first failure is printed).
    pub save_failures: u64,
}

impl IncidentTracker {
    /// Groups with a `window_secs` window; saves to `store` when there is one (new ids then
    /// follow the highest id it holds); hands changes to `inner`.
    pub fn new(
        window_secs: u64,
        store: Option<IncidentStore>,
        inner: Vec<Box<dyn Observer>>,
    ) -> rusqlite::Result<IncidentTracker> {
        let first = match &store {
            Some(s) => s.next_id()?,
            None => 1,
        };
        Ok(IncidentTracker {
            grouper: Grouper::new(window_secs, MAX_OPEN_INCIDENTS).first_id(first),
            store,
            dirty: HashMap::new(),
            inner: Fanout(inner),
            save_failures: 0,
        })
    }

    fn flush(&mut self) {
        let Some(s) = &mut self.store else {
            self.dirty.clear();
            return;
        };
        if self.dirty.is_empty() {
            return;
        }
        let changed: Vec<(Incident, Change)> = self.dirty.drain().map(|(_, v)| v).collect();
        if let Err(e) = s.save_all(&changed) {
            // Busy past the time-out, or the disk: offer the same incidents next time.
            if self.save_failures == 0 {
                eprintln!("warning: incidents not saved yet ({e}); retrying");
            }
            self.save_failures += 1;
            for (inc, change) in changed {
                self.dirty.entry(inc.id).or_insert((inc, change));
            }
        }
    }

    fn on_alert(&mut self, alert: &Alert, src: Option<IpAddr>, dst: Option<IpAddr>) {
        let (inc, change) = self.grouper.add(alert, src, dst);
        if self.store.is_some() {
            let saved = match self.dirty.get(&inc.id) {
                Some((_, Change::Opened)) => Change::Opened,
                Some((_, Change::Escalated(s))) => Change::Escalated(*s),
                _ => change,
            };
            self.dirty.insert(inc.id, (inc.clone(), saved));
        }
        self.inner.incident(inc, change, alert);
        if self.dirty.len() >= FLUSH_EVERY {
            self.flush();
        }
    }
}

/// Whom an alert's incident is about: the packet's source (IP, or an ARP sender) and target.
fn endpoints(a: &Analyzed) -> (Option<IpAddr>, Option<IpAddr>) {
    (a.decoded.source_addr(), a.decoded.dest_addr())
}

impl Observer for IncidentTracker {
    fn packet(&mut self, a: &Analyzed, flow: Option<&FlowMeta>) {
        self.inner.packet(a, flow);
        if a.alerts.is_empty() {
            return;
        }
        let (src, dst) = endpoints(a);
        for alert in &a.alerts {
            self.on_alert(alert, src, dst);
        }
    }
    fn flow_ended(&mut self, r: &FlowRecord) {
        self.inner.flow_ended(r);
    }
    fn late_alert(&mut self, a: &Analyzed, alert: &Alert) {
        self.inner.late_alert(a, alert);
        let (src, dst) = endpoints(a);
        // A reputation alert is about the reported address, which may be the packet's
        // destination (a local host talking to it): the incident, and so any response, then
        // names the reported address, never the local host.
        let (src, dst) = if alert.evidence["direction"] == "destination" {
            (dst, src)
        } else {
            (src, dst)
        };
        self.on_alert(alert, src, dst);
    }
    fn incident(&mut self, inc: &Incident, change: Change, alert: &Alert) {
        self.inner.incident(inc, change, alert);
    }
    fn stats(&mut self, s: &Stats) {
        self.flush();
        self.inner.stats(s);
    }
    fn finished(&mut self, s: &Stats) {
        self.flush();
        self.inner.finished(s);
    }
}

impl Drop for IncidentTracker {
    fn drop(&mut self) {
        self.flush();
    }
}
