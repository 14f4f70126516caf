//! Incidents: alerts grouped by (source address, category) while they keep arriving within
//! a window, with severity that only rises, counts, the alerts (bounded), the destinations
//! (bounded), and a lifecycle (`new` → `acknowledged` → `resolved`) with notes and actions.
//!
//! Pure: time comes from alert timestamps. One grouper per run, in the pipeline's incident
//! tracker (the aggregator thread's observer), numbers each incident with its one id — the
//! store's row id — and hands every change to the console's model and the response policy;
//! the lifecycle functions run wherever an incident is changed (CLI, console effect thread).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use super::alert::{Alert, RuleId, Severity};
use super::frame::Ts;

/// Alerts remembered per incident (the count goes on; the list stops here).
pub const MAX_ALERT_REFS: usize = 100;
/// Destinations remembered per incident.
pub const MAX_DESTINATIONS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentState {
    New,
    Acknowledged,
    Resolved,
}

impl IncidentState {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::New => "new",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Resolved => "resolved",
        }
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "new" => Ok(IncidentState::New),
            "acknowledged" | "ack" => Ok(IncidentState::Acknowledged),
            "resolved" => Ok(IncidentState::Resolved),
            _ => Err(format!(
                "unknown incident state {s:?} (expected new, acknowledged or resolved)"
            )),
        }
    }
}

/// Which alert joined an incident: enough to find it again in EVE or the `alerts` table, and
/// to list it in the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRef {
    pub ts: Ts,
    pub rule: RuleId,
    pub packet: u64,
    pub severity: Severity,
    pub description: Arc<str>,
    /// Why it fired (counts and thresholds, matched bytes, an AbuseIPDB score with its report
    /// count, ISP and usage type).
    pub explanation: Arc<str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The incident's one id, in order of opening: its row id in the `incidents` table, and
    /// the number the console, `incidents list`, reports and the audit trail show.
    pub id: u64,
    pub source: Option<IpAddr>,
    pub category: Arc<str>,
    pub severity: Severity,
    pub first_seen: Ts,
    pub last_seen: Ts,
    pub count: u64,
    pub alerts: Vec<AlertRef>,
    pub destinations: BTreeSet<IpAddr>,
    pub state: IncidentState,
    pub notes: Vec<String>,
}

/// What adding an alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened,
    Updated,
    /// Severity rose from `.0`.
    Escalated(Severity),
}

/// What an open incident is grouped by: its source and its category.
pub type IncidentKey = (Option<IpAddr>, Arc<str>);

/// Groups alerts into incidents. Open incidents are bounded by `max_open`; when full, the
/// sixteenth of them idle longest is closed at once (forgotten by the grouper, kept wherever
/// it was persisted), so that a flood of new sources costs a constant amount per alert rather
/// than a scan of the whole table each.
#[derive(Debug, Clone)]
pub struct Grouper {
    window_ns: i64,
    max_open: usize,
    next_id: u64,
    open: HashMap<IncidentKey, Incident>,
    /// Incidents closed since the caller last took them (past the window, or to make room).
    closed: Vec<Incident>,
}

/// The response defaults: a 300 s window, 10,000 open incidents.
impl Default for Grouper {
    fn default() -> Self {
        Grouper::new(300, 10_000)
    }
}

impl Grouper {
    pub fn new(window_secs: u64, max_open: usize) -> Grouper {
        Grouper {
            window_ns: i64::try_from(window_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(Ts::NANOS_PER_SEC),
            max_open: max_open.max(1),
            next_id: 1,
            open: HashMap::new(),
            closed: Vec::new(),
        }
    }

    /// Numbers new incidents from `id` on (past the highest id a database already holds).
    #[must_use]
    pub fn first_id(mut self, id: u64) -> Grouper {
        self.next_id = id.max(1);
        self
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The open incident of `key`, if any.
    pub fn get(&self, key: &IncidentKey) -> Option<&Incident> {
        self.open.get(key)
    }

    /// The incidents closed by `add` since the last call (their final state), oldest first.
    pub fn take_closed(&mut self) -> Vec<Incident> {
        std::mem::take(&mut self.closed)
    }

    /// Adds one alert seen from `src` to `dst`; returns the incident as it now stands. An
    /// incident this closes is kept for `take_closed`.
    pub fn add(
        &mut self,
        alert: &Alert,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
    ) -> (&Incident, Change) {
        let key = (src, alert.category.clone());
        let window = self.window_ns;
        let stale = self
            .open
            .get(&key)
            .is_some_and(|i| alert.ts.0.saturating_sub(i.last_seen.0) > window);
        if stale {
            self.closed.extend(self.open.remove(&key));
        }
        if !self.open.contains_key(&key) && self.open.len() >= self.max_open {
            self.close_idlest();
        }
        let next_id = &mut self.next_id;
        let mut change = Change::Updated;
        let inc = self.open.entry(key).or_insert_with(|| {
            change = Change::Opened;
            let id = *next_id;
            *next_id += 1;
            Incident {
                id,
                source: src,
                category: alert.category.clone(),
                severity: alert.severity,
                first_seen: alert.ts,
                last_seen: alert.ts,
                count: 0,
                alerts: Vec::new(),
                destinations: BTreeSet::new(),
                state: IncidentState::New,
                notes: Vec::new(),
            }
        });
        if change != Change::Opened && alert.severity > inc.severity {
            change = Change::Escalated(inc.severity);
            inc.severity = alert.severity;
            // A resolved incident that escalates needs a person again.
            if inc.state == IncidentState::Resolved {
                inc.state = IncidentState::New;
            }
        }
        inc.count += 1;
        inc.last_seen = inc.last_seen.max(alert.ts);
        inc.first_seen = inc.first_seen.min(alert.ts);
        if inc.alerts.len() < MAX_ALERT_REFS {
            inc.alerts.push(AlertRef {
                ts: alert.ts,
                rule: alert.rule,
                packet: alert.packet,
                severity: alert.severity,
                description: alert.description.clone(),
                explanation: Arc::from(alert.explanation.as_str()),
            });
        }
        if let Some(d) = dst {
            if inc.destinations.len() < MAX_DESTINATIONS {
                inc.destinations.insert(d);
            }
        }
        (inc, change)
    }

    /// Closes the sixteenth of the open incidents idle longest (at least one).
    fn close_idlest(&mut self) {
        let n = (self.open.len() / 16).max(1);
        let mut by_age: Vec<((Ts, u64), &IncidentKey)> = self
            .open
            .iter()
            .map(|(k, i)| ((i.last_seen, i.id), k))
            .collect();
        if n < by_age.len() {
            by_age.select_nth_unstable_by_key(n - 1, |(age, _)| *age);
            by_age.truncate(n);
        }
        by_age.sort_unstable_by_key(|(age, _)| *age);
        let keys: Vec<IncidentKey> = by_age.into_iter().map(|(_, k)| k.clone()).collect();
        for k in keys {
            self.closed.extend(self.open.remove(&k));
        }
    }

    /// Forgets incidents idle for longer than the window at capture time `now`; returns them.
    pub fn close_idle(&mut self, now: Ts) -> Vec<Incident> {
        let window = self.window_ns;
        let idle: Vec<_> = self
            .open
            .iter()
            .filter(|(_, i)| now.0.saturating_sub(i.last_seen.0) > window)
            .map(|(k, _)| k.clone())
            .collect();
        idle.into_iter()
            .filter_map(|k| self.open.remove(&k))
            .collect()
    }
}

/// Whether a person may move an incident from `from` to `to`. Resolved incidents may be
/// reopened (to `new`) or acknowledged again; nothing moves to the state it is in.
pub fn can_move(from: IncidentState, to: IncidentState) -> bool {
    from != to
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::alert::Detector;

    fn alert(ts_s: i64, cat: &str, sev: Severity) -> Alert {
        Alert {
            ts: Ts(ts_s * Ts::NANOS_PER_SEC),
            rule: RuleId(9_000_001),
            description: Arc::from("x"),
            severity: sev,
            category: Arc::from(cat),
            detector: Detector::Heuristic,
            packet: u64::try_from(ts_s).unwrap(),
            flow_id: None,
            explanation: String::new(),
            evidence: serde_json::Value::Null,
        }
    }

    #[test]
    fn groups_by_source_and_category_within_window() {
        let mut g = Grouper::new(60, 100);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        let v1: IpAddr = "192.0.2.1".parse().unwrap();
        let v2: IpAddr = "192.0.2.2".parse().unwrap();
        let (i, c) = g.add(&alert(0, "port_scan", Severity::Medium), Some(a), Some(v1));
        assert_eq!((i.id, c), (1, Change::Opened));
        let (i, c) = g.add(&alert(30, "port_scan", Severity::High), Some(a), Some(v2));
        assert_eq!(c, Change::Escalated(Severity::Medium));
        assert_eq!((i.id, i.count, i.severity), (1, 2, Severity::High));
        assert_eq!(i.destinations.len(), 2);
        // Severity never falls.
        let (i, c) = g.add(&alert(40, "port_scan", Severity::Low), Some(a), None);
        assert_eq!((c, i.severity), (Change::Updated, Severity::High));
        // Other source or category: other incident.
        assert_eq!(
            g.add(&alert(41, "port_scan", Severity::Low), Some(b), None)
                .0
                .id,
            2
        );
        assert_eq!(
            g.add(&alert(42, "brute_force", Severity::Low), Some(a), None)
                .0
                .id,
            3
        );
        // A gap longer than the window opens a new incident.
        let (i, c) = g.add(&alert(200, "port_scan", Severity::Low), Some(a), None);
        assert_eq!((i.id, c, i.count), (4, Change::Opened, 1));
        assert_eq!(g.close_idle(Ts(400 * Ts::NANOS_PER_SEC)).len(), 3);
    }

    #[test]
    fn bounded() {
        let mut g = Grouper::new(3600, 2);
        for n in 0..5u8 {
            let src = Some(IpAddr::from([198, 51, 100, n]));
            g.add(&alert(i64::from(n), "x", Severity::Low), src, None);
        }
        assert_eq!(g.open_count(), 2);
        let src = Some(IpAddr::from([198, 51, 100, 200]));
        for t in 0..(MAX_ALERT_REFS as i64 + 10) {
            g.add(
                &alert(t, "y", Severity::Low),
                src,
                Some(IpAddr::from([10, 0, 0, (t % 250) as u8])),
            );
        }
        let (i, _) = g.add(&alert(500, "y", Severity::Low), src, None);
        assert_eq!(i.alerts.len(), MAX_ALERT_REFS);
        assert_eq!(i.count, MAX_ALERT_REFS as u64 + 11);
        assert_eq!(i.destinations.len(), MAX_DESTINATIONS);
        assert!("acknowledged".parse::<IncidentState>().is_ok());
        assert!(!can_move(IncidentState::New, IncidentState::New));
    }

    #[test]
    fn a_full_table_closes_the_idlest_sixteenth_and_hands_them_over() {
        let mut g = Grouper::new(3600, 32);
        for n in 0..32u8 {
            g.add(
                &alert(i64::from(n), "x", Severity::Low),
                Some(IpAddr::from([198, 51, 100, n])),
                None,
            );
        }
        // The first source is seen again: now the second is the idlest.
        g.add(
            &alert(40, "x", Severity::Low),
            Some(IpAddr::from([198, 51, 100, 0])),
            None,
        );
        assert!(g.take_closed().is_empty());
        g.add(
            &alert(41, "x", Severity::Low),
            Some(IpAddr::from([198, 51, 100, 200])),
            None,
        );
        let closed: Vec<u64> = g.take_closed().iter().map(|i| i.id).collect();
        assert_eq!(closed, vec![2, 3]);
        assert_eq!(g.open_count(), 31);
        // Past the window: the old incident is closed and handed over, a new one opens.
        let key = (Some(IpAddr::from([198, 51, 100, 0])), Arc::from("x"));
        assert_eq!(g.get(&key).map(|i| i.id), Some(1));
        let (i, c) = g.add(&alert(9000, "x", Severity::Low), key.0, None);
        assert_eq!((i.id, c), (34, Change::Opened));
        let closed = g.take_closed();
        assert_eq!((closed.len(), closed[0].id, closed[0].count), (1, 1, 2));
    }
}
