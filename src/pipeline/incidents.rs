//! The run's one incident tracker: an `Observer` that groups every alert into incidents with
//! the one `Grouper` (`[response] incident_window_secs`), numbers them with their one id (past
//! the highest the database holds), saves them to the `incidents` table through the SQLite
//! writer's queue, and hands every change to the observers inside it — the console's model and
//! the response policy — after the packet that caused it. `incidents list`, reports, exports,
//! the console and the audit trail all speak of the same incident by the same id.
//!
//! Runs on the pipeline's output thread. Changed incidents are queued for the writer once per
//! stats tick or every `FLUSH_EVERY` changed incidents, in their state at that moment; in live
//! capture a full queue keeps them for the next try instead of waiting.

use std::collections::HashMap;
use std::net::IpAddr;

use super::observer::{Fanout, Observer};
use super::sinks::{NotSent, StoreLink};
use crate::engine::alert::Alert;
use crate::engine::flow::{FlowMeta, FlowRecord};
use crate::engine::incident::{Change, Grouper, Incident, IncidentKey};
use crate::engine::record::Analyzed;
use crate::engine::stats::Stats;
use crate::store::incidents::IncidentSave;
use crate::store::StoreMsg;

/// Open incidents the grouper keeps (each a few hundred bytes plus its alert list).
pub const MAX_OPEN_INCIDENTS: usize = 10_000;
/// Changed incidents are queued at least this often (in incidents), besides every stats tick.
const FLUSH_EVERY: usize = 256;
/// Closed incidents kept for a writer whose queue stays full (live capture); past this the
/// oldest are given up and counted as database drops.
const MAX_UNSAVED_CLOSED: usize = 16 * FLUSH_EVERY;
/// How long the end of a live run waits for room in the writer's queue for the last saves.
const LAST_SAVE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct IncidentTracker {
    grouper: Grouper,
    /// The SQLite writer's queue, when the run writes a database.
    store: Option<StoreLink>,
    /// Open incidents changed since the last save (read back from the grouper at the save),
    /// with the strongest change.
    dirty: HashMap<u64, (IncidentKey, Change)>,
    /// Changed incidents the grouper has closed since the last save, in their final state.
    dirty_closed: Vec<(Incident, Change)>,
    inner: Fanout,
    /// Saves the writer's full queue put off (live capture); they are offered again.
    pub save_delays: u64,
}

impl IncidentTracker {
    /// Groups with a `window_secs` window, numbering new incidents from `first_id` (one past
    /// the highest id the database holds); hands changes to `inner`.
    pub fn new(window_secs: u64, first_id: u64, inner: Vec<Box<dyn Observer>>) -> IncidentTracker {
        let grouper = Grouper::new(window_secs, MAX_OPEN_INCIDENTS).first_id(first_id);
        IncidentTracker::with_grouper(grouper, inner)
    }

    fn with_grouper(grouper: Grouper, inner: Vec<Box<dyn Observer>>) -> IncidentTracker {
        IncidentTracker {
            grouper,
            store: None,
            dirty: HashMap::new(),
            dirty_closed: Vec::new(),
            inner: Fanout(inner),
            save_delays: 0,
        }
    }

    /// Queues the changed incidents; `last` (the end of the run) waits a while for room in
    /// live capture and gives up on what still does not fit, counting it.
    fn flush(&mut self, last: bool) {
        let Some(link) = &self.store else {
            return;
        };
        if self.dirty.is_empty() && self.dirty_closed.is_empty() {
            return;
        }
        let grouper = &self.grouper;
        let open = self.dirty.iter().filter_map(|(id, (key, change))| {
            grouper
                .get(key)
                .filter(|inc| inc.id == *id)
                .map(|inc| IncidentSave::of(inc, *change))
        });
        let rows: Vec<IncidentSave> = self
            .dirty_closed
            .iter()
            .map(|(inc, change)| IncidentSave::of(inc, *change))
            .chain(open)
            .collect();
        let n = rows.len();
        let msg = StoreMsg::Incidents(rows);
        let sent = if last {
            link.offer_last(msg, LAST_SAVE_WAIT)
        } else {
            link.offer(msg)
        };
        match sent {
            Err(NotSent::Full(_)) if last => {
                link.dropped(n);
                self.dirty.clear();
                self.dirty_closed.clear();
            }
            Ok(()) => {
                self.dirty.clear();
                self.dirty_closed.clear();
            }
            Err(NotSent::Full(_)) => {
                // Offered again, as they then stand, at the next flush.
                self.save_delays += 1;
                let over = self.dirty_closed.len().saturating_sub(MAX_UNSAVED_CLOSED);
                if over > 0 {
                    self.dirty_closed.drain(..over);
                    link.dropped(over);
                }
            }
            Err(NotSent::Closed) => {
                self.store = None;
                self.dirty.clear();
                self.dirty_closed.clear();
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
            let key = (inc.source, inc.category.clone());
            self.dirty.insert(inc.id, (key, saved));
        }
        self.inner.incident(inc, change, alert);
        // What the grouper closed is saved in its final state if it changed since its last
        // save; otherwise its row holds it already.
        for closed in self.grouper.take_closed() {
            if let Some((_, change)) = self.dirty.remove(&closed.id) {
                self.dirty_closed.push((closed, change));
            }
        }
        if self.dirty.len() + self.dirty_closed.len() >= FLUSH_EVERY {
            self.flush(false);
        }
    }
}

/// Whom an alert's incident is about: the packet's source (IP, or an ARP sender) and target.
fn endpoints(a: &Analyzed) -> (Option<IpAddr>, Option<IpAddr>) {
    (a.decoded.source_addr(), a.decoded.dest_addr())
}

impl Observer for IncidentTracker {
    fn attach_store(&mut self, link: &StoreLink) {
        self.store = Some(link.clone());
        self.inner.attach_store(link);
    }
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
        self.flush(false);
        self.inner.stats(s);
    }
    fn finished(&mut self, s: &Stats) {
        self.flush(true);
        self.inner.finished(s);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::sync::Arc;

    use super::*;
    use crate::engine::alert::{Detector, RuleId, Severity};
    use crate::engine::frame::Ts;
    use crate::pipeline::counters::SharedCounters;
    use crate::pipeline::sinks::Sinks;
    use crate::store::{spawn_writer, SqliteStore, StoreOptions};

    fn alert(ts_s: i64, sev: Severity) -> Alert {
        Alert {
            ts: Ts(ts_s * Ts::NANOS_PER_SEC),
            rule: RuleId(9_000_001),
            description: Arc::from("x"),
            severity: sev,
            category: Arc::from("port_scan"),
            detector: Detector::Heuristic,
            packet: u64::try_from(ts_s).unwrap(),
            flow_id: None,
            explanation: String::new(),
            evidence: serde_json::Value::Null,
        }
    }

    /// More sources than the grouper keeps open: the incidents it closes reach the database
    /// in their final state through the writer, every alert counted once.
    #[test]
    fn closed_incidents_are_saved_whole_through_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path, &StoreOptions::default()).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(4);
        let writer = spawn_writer(store, rx);
        let mut sinks = Sinks::none(Arc::new(SharedCounters::default()));
        sinks.store = Some(tx);
        let mut t = IncidentTracker::with_grouper(Grouper::new(3600, 8).first_id(5), Vec::new());
        t.attach_store(&sinks.store_link().unwrap());
        // 50 sources, two alerts each, the second (stronger) one 25 sources later: most
        // incidents are closed between their two alerts and reopened as new ones.
        for n in 0..75i64 {
            for (src, sev) in [(n, Severity::Low), (n - 25, Severity::High)] {
                if (0..50).contains(&src) {
                    let ip = IpAddr::from([198, 51, 100, u8::try_from(src).unwrap()]);
                    t.on_alert(&alert(n, sev), Some(ip), None);
                }
            }
        }
        t.flush(true);
        drop((t, sinks));
        writer.join().unwrap().unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let q = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(q("SELECT SUM(alert_count) FROM incidents"), 100);
        assert_eq!(q("SELECT MIN(id) FROM incidents"), 5);
        // Each source's second alert found its first incident closed (only 8 stay open)
        // and opened another: 100 incidents of one alert each, ids without a gap.
        assert_eq!(q("SELECT COUNT(*) FROM incidents"), 100);
        assert_eq!(q("SELECT MAX(id) FROM incidents"), 104);
        assert_eq!(
            q("SELECT COUNT(*) FROM incidents WHERE severity = 'High'"),
            50
        );
    }
}
