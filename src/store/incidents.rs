//! Incidents in SQLite: saving the grouper's incidents (insert, then update in place as
//! alerts join), reading them back, and the person-driven lifecycle (acknowledge, resolve,
//! notes). Works beside a running writer (WAL, busy time-out).
//!
//! `IncidentSave` rows are made by the run's incident tracker on the pipeline's output thread
//! and written by the SQLite writer (`upsert`, inside its transactions); the other functions
//! run on the CLI's main thread or the console's effect thread.

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

/// The incident's alert list as stored: `[{"ts":…,"signature_id":…,"pcap_cnt":…,"severity":"…"}]`
/// (written by hand: this runs for every saved incident, and every value is a number or a
/// fixed word).
fn refs_json(i: &Incident) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + i.alerts.len() * 72);
    out.push('[');
    for (n, a) in i.alerts.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"ts":{},"signature_id":{},"pcap_cnt":{},"severity":"{}"}}"#,
            a.ts.0,
            a.rule.0,
            a.packet,
            a.severity.as_str()
        );
    }
    out.push(']');
    out
}

/// The incident's destinations as stored: a JSON array of address strings.
fn dests_json(i: &Incident) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + i.destinations.len() * 18);
    out.push('[');
    for (n, d) in i.destinations.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{d}\"");
    }
    out.push(']');
    out
}

/// One incident as the grouper sees it, ready to be inserted or updated in place (row id =
/// its id, so the console, the CLI and the audit trail name one incident by one number). Made
/// on the pipeline's output thread, written by the SQLite writer inside its transactions.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSave {
    pub id: i64,
    pub source: String,
    pub category: String,
    pub severity: &'static str,
    /// The state a new row starts in.
    pub state: &'static str,
    pub first_seen: i64,
    pub last_seen: i64,
    pub alert_count: i64,
    pub destinations: String,
    pub alert_refs: String,
    /// The severity rose: an existing row marked resolved goes back to `new`.
    pub reopen: bool,
}

impl IncidentSave {
    pub fn of(inc: &Incident, change: Change) -> IncidentSave {
        IncidentSave {
            id: i64::try_from(inc.id).unwrap_or(i64::MAX),
            source: inc
                .source
                .map_or_else(|| "-".to_string(), |s| s.to_string()),
            category: inc.category.to_string(),
            severity: inc.severity.as_str(),
            state: inc.state.as_str(),
            first_seen: inc.first_seen.0,
            last_seen: inc.last_seen.0,
            alert_count: i64::try_from(inc.count).unwrap_or(i64::MAX),
            destinations: dests_json(inc),
            alert_refs: refs_json(inc),
            reopen: matches!(change, Change::Escalated(_)),
        }
    }
}

/// Inserts or updates `rows` on `conn` (inside the caller's transaction). An existing row
/// keeps a person's state change and notes, except that an escalation reopens a resolved
/// incident.
pub fn upsert(conn: &Connection, rows: &[IncidentSave]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut st = conn.prepare_cached(
        "INSERT INTO incidents (id, source, category, severity, state, first_seen, last_seen, \
         alert_count, destinations, notes, alert_refs) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '', ?10) \
         ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, \
         last_seen = excluded.last_seen, first_seen = excluded.first_seen, \
         alert_count = excluded.alert_count, destinations = excluded.destinations, \
         alert_refs = excluded.alert_refs, \
         state = CASE WHEN ?11 AND state = 'resolved' THEN 'new' ELSE state END",
    )?;
    for r in rows {
        st.execute(params![
            r.id,
            r.source,
            r.category,
            r.severity,
            r.state,
            r.first_seen,
            r.last_seen,
            r.alert_count,
            r.destinations,
            r.alert_refs,
            r.reopen
        ])?;
    }
    Ok(())
}

/// Saves `rows` in one transaction of their own: all or nothing.
pub fn save_all(conn: &mut Connection, rows: &[IncidentSave]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    upsert(&tx, rows)?;
    tx.commit()
}

/// The id the next new incident takes: one past the highest the table holds.
pub fn next_id(conn: &Connection) -> rusqlite::Result<u64> {
    let max: Option<i64> = conn.query_row("SELECT MAX(id) FROM incidents", [], |r| r.get(0))?;
    Ok(max.map_or(1, |m| u64::try_from(m).unwrap_or(0) + 1))
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
