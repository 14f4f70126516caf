//! Incidents in SQLite: saving the grouper's incidents (insert, then update in place as
//! alerts join), reading them back, and the person-driven lifecycle (acknowledge, resolve,
//! notes). Works beside a running writer (WAL, busy time-out).
//!
//! `IncidentStore` runs on the pipeline's output thread (through the observer); the other
//! functions run on the CLI's main thread or the console's effect thread.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::engine::incident::{Change, Incident, IncidentState};

/// One row of the `incidents` table, with the actions that name it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    pub id: i64,
    pub source: String,
    pub category: String,
    pub severity: String,
    /// The original design's level name (INFO, WARNING, ERROR, CRITICAL).
    pub level: String,
    pub state: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub alert_count: i64,
    pub destinations: serde_json::Value,
    pub alert_refs: serde_json::Value,
    pub notes: String,
}

fn refs_json(i: &Incident) -> String {
    let v: Vec<serde_json::Value> = i
        .alerts
        .iter()
        .map(|a| {
            serde_json::json!({
                "ts": a.ts.0, "signature_id": a.rule.0, "pcap_cnt": a.packet,
                "severity": a.severity.as_str()
            })
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn dests_json(i: &Incident) -> String {
    serde_json::Value::Array(
        i.destinations
            .iter()
            .map(|d| serde_json::Value::String(d.to_string()))
            .collect(),
    )
    .to_string()
}

/// Keeps the database rows of the tracker's open incidents current. Rows take the incident's
/// own id, so the console, the CLI and the audit trail name one incident by one number.
pub struct IncidentStore {
    conn: Connection,
    /// Incidents with a row already (updated in place from then on).
    saved: HashSet<u64>,
}

impl IncidentStore {
    pub fn new(conn: Connection) -> IncidentStore {
        IncidentStore {
            conn,
            saved: HashSet::new(),
        }
    }

    /// The id the next new incident takes: one past the highest the table holds.
    pub fn next_id(&self) -> rusqlite::Result<u64> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM incidents", [], |r| r.get(0))?;
        Ok(max.map_or(1, |m| u64::try_from(m).unwrap_or(0) + 1))
    }

    /// Saves every incident of `changed` in one transaction (one commit, one trip for the
    /// write lock, however many incidents an interval changed). All or nothing: on an error
    /// nothing of the batch is kept and the caller may offer it again.
    pub fn save_all(&mut self, changed: &[(Incident, Change)]) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN")?;
        let known: Vec<u64> = changed
            .iter()
            .map(|(inc, _)| inc.id)
            .filter(|k| self.saved.contains(k))
            .collect();
        let saved = changed
            .iter()
            .try_for_each(|(inc, change)| self.save(inc, *change).map(drop));
        match saved.and_then(|()| self.conn.execute_batch("COMMIT")) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // Rows inserted by the rolled-back transaction are gone: forget their ids.
                for (inc, _) in changed {
                    if !known.contains(&inc.id) {
                        self.saved.remove(&inc.id);
                    }
                }
                Err(e)
            }
        }
    }

    /// Inserts or updates `inc` (row id = its id). A person's state change in the database is
    /// kept, except that an escalation reopens a resolved incident.
    pub fn save(&mut self, inc: &Incident, change: Change) -> rusqlite::Result<()> {
        let source = inc
            .source
            .map_or_else(|| "-".to_string(), |s| s.to_string());
        let id = i64::try_from(inc.id).unwrap_or(i64::MAX);
        if self.saved.contains(&inc.id) {
            let reopen = matches!(change, Change::Escalated(_));
            self.conn.execute(
                "UPDATE incidents SET severity = ?2, last_seen = ?3, first_seen = ?4, alert_count = ?5, \
                 destinations = ?6, alert_refs = ?7, \
                 state = CASE WHEN ?8 AND state = 'resolved' THEN 'new' ELSE state END WHERE id = ?1",
                params![
                    id,
                    inc.severity.as_str(),
                    inc.last_seen.0,
                    inc.first_seen.0,
                    i64::try_from(inc.count).unwrap_or(i64::MAX),
                    dests_json(inc),
                    refs_json(inc),
                    reopen
                ],
            )?;
            return Ok(());
        }
        self.conn.execute(
            "INSERT INTO incidents (id, source, category, severity, state, first_seen, last_seen, \
             alert_count, destinations, notes, alert_refs) VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', ?9)",
            params![
                source,
                inc.category.as_ref(),
                inc.severity.as_str(),
                inc.state.as_str(),
                inc.first_seen.0,
                inc.last_seen.0,
                i64::try_from(inc.count).unwrap_or(i64::MAX),
                dests_json(inc),
                refs_json(inc),
                id
            ],
        )?;
        self.saved.insert(inc.id);
        Ok(())
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A connection for a person's edits (the console's effect thread, the CLI), beside a
/// running writer: WAL, busy time-out.
pub struct EditConnection(Connection);

impl EditConnection {
    pub fn open(path: &std::path::Path) -> Result<EditConnection, super::StoreError> {
        super::sqlite::open_side(path).map(EditConnection)
    }
    pub fn conn(&self) -> &Connection {
        &self.0
    }
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    let sev: String = r.get("severity")?;
    let level = sev
        .parse::<crate::engine::alert::Severity>()
        .map_or_else(|_| sev.clone(), |s| s.level_name().to_string());
    let dests: String = r.get("destinations")?;
    let refs: String = r.get("alert_refs")?;
    Ok(IncidentRow {
        id: r.get("id")?,
        source: r.get("source")?,
        category: r.get("category")?,
        severity: sev,
        level,
        state: r.get("state")?,
        first_seen: r.get("first_seen")?,
        last_seen: r.get("last_seen")?,
        alert_count: r.get("alert_count")?,
        destinations: serde_json::from_str(&dests).unwrap_or(serde_json::Value::Null),
        alert_refs: serde_json::from_str(&refs).unwrap_or(serde_json::Value::Null),
        notes: r.get("notes")?,
    })
}

/// Incidents last seen at or after `since` (ns), newest first.
pub fn list(conn: &Connection, since: i64) -> rusqlite::Result<Vec<IncidentRow>> {
    let mut st = conn.prepare(
        "SELECT * FROM incidents WHERE last_seen >= ?1 ORDER BY last_seen DESC, id DESC",
    )?;
    let rows = st.query_map([since], from_row)?;
    rows.collect()
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<IncidentRow>> {
    conn.query_row("SELECT * FROM incidents WHERE id = ?1", [id], from_row)
        .optional()
}

/// Moves an incident to `to`; Err quotes the id or the impossible move.
/// One action of the audit trail that names an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentAction {
    pub id: i64,
    pub ts: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

/// The actions that name incident `id`, oldest first.
pub fn actions_of(conn: &Connection, id: i64) -> rusqlite::Result<Vec<IncidentAction>> {
    let mut st = conn.prepare(
        "SELECT id, ts, actor, action, target, outcome FROM actions WHERE incident_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([id], |r| {
        Ok(IncidentAction {
            id: r.get(0)?,
            ts: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            outcome: r.get(5)?,
        })
    })?;
    rows.collect()
}

pub fn set_state(conn: &Connection, id: i64, to: IncidentState) -> Result<(), String> {
    let row = get(conn, id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no incident with id {id}"))?;
    let from: IncidentState = row.state.parse()?;
    if !crate::engine::incident::can_move(from, to) {
        return Err(format!("incident {id} is already {to}"));
    }
    conn.execute(
        "UPDATE incidents SET state = ?2 WHERE id = ?1",
        params![id, to.as_str()],
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Appends a note line (`[ts] text`) to an incident.
pub fn add_note(conn: &Connection, id: i64, ts_ns: i64, text: &str) -> Result<(), String> {
    let line = format!("[{}] {}\n", ts_ns / 1_000_000_000, text.replace('\n', " "));
    let n = conn
        .execute(
            "UPDATE incidents SET notes = notes || ?2 WHERE id = ?1",
            params![id, line],
        )
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err(format!("no incident with id {id}"));
    }
    Ok(())
}
