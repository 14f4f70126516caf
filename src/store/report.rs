//! What `nsm-tui report` and `nsm-tui export` read from the database (while a capture may
//! still be writing it): the report's counts and the JSON dump. Main thread of the binary.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since_secs: u64,
    pub incidents_by_severity: BTreeMap<String, i64>,
    pub incidents_by_state: BTreeMap<String, i64>,
    pub attack_types: BTreeMap<String, i64>,
    pub top_sources: Vec<(String, i64)>,
    pub top_targets: Vec<(String, i64)>,
    pub actions_by_outcome: BTreeMap<String, i64>,
    /// Executed / (executed + failed); None when nothing ran.
    pub success_rate: Option<f64>,
    /// Mean seconds from an incident's first alert to its first executed or dry-run action.
    pub mean_secs_to_response: Option<f64>,
    pub alerts: i64,
    pub packets: i64,
    /// The newest capture counters of each source (interface or file) within the period.
    pub capture_health: Vec<CaptureHealth>,
}

/// One source's capture counters as last recorded: what was seen and what was lost where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureHealth {
    pub source: String,
    /// Wall-clock nanoseconds when the counters were read.
    pub ts: i64,
    /// Whether these are the final counters of a run that ended (else it was still going,
    /// or it stopped without writing them).
    pub run_ended: bool,
    pub packets: i64,
    pub bytes: i64,
    pub kernel_drops: i64,
    pub iface_drops: i64,
    pub queue_drops: i64,
    pub decode_errors: i64,
    /// Rows the database writer could not keep up with.
    pub db_drops: i64,
}

impl CaptureHealth {
    /// Packets lost before analysis (kernel, interface, queue).
    pub fn capture_drops(&self) -> i64 {
        self.kernel_drops + self.iface_drops + self.queue_drops
    }
}

/// The newest `capture_stats` row of each source written at or after `since` (ns).
fn capture_health(conn: &Connection, since: i64) -> rusqlite::Result<Vec<CaptureHealth>> {
    let mut st = conn.prepare(
        "SELECT source, ts, run_ended, packets, bytes, kernel_drops, iface_drops, queue_drops, \
         decode_errors, db_drops FROM capture_stats c WHERE id = \
         (SELECT MAX(id) FROM capture_stats d WHERE d.source = c.source AND d.ts >= ?1) \
         ORDER BY source",
    )?;
    let rows = st.query_map([since], |r| {
        Ok(CaptureHealth {
            source: r.get(0)?,
            ts: r.get(1)?,
            run_ended: r.get::<_, i64>(2)? != 0,
            packets: r.get(3)?,
            bytes: r.get(4)?,
            kernel_drops: r.get(5)?,
            iface_drops: r.get(6)?,
            queue_drops: r.get(7)?,
            decode_errors: r.get(8)?,
            db_drops: r.get(9)?,
        })
    })?;
    rows.collect()
}

fn grouped(conn: &Connection, sql: &str, since: i64) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([since], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            r.get(1)?,
        ))
    })?;
    rows.collect()
}

/// Builds the report over the last `since_secs` seconds before `now` (ns).
pub fn build(conn: &Connection, now: i64, since_secs: u64) -> rusqlite::Result<Report> {
    let since = if since_secs == 0 {
        i64::MIN
    } else {
        now.saturating_sub(
            i64::try_from(since_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000_000),
        )
    };
    let map = |v: Vec<(String, i64)>| v.into_iter().collect::<BTreeMap<_, _>>();
    let actions = map(grouped(
        conn,
        "SELECT outcome, COUNT(*) FROM actions WHERE ts >= ?1 GROUP BY outcome",
        since,
    )?);
    let ok: i64 = ["executed", "awaiting_confirmation", "confirmed"]
        .iter()
        .filter_map(|o| actions.get(*o))
        .sum();
    let bad = actions.get("failed").copied().unwrap_or(0);
    let mean: Option<f64> = conn.query_row(
        "SELECT AVG((a.first_ts - i.first_seen) / 1e9) FROM incidents i JOIN \
         (SELECT incident_id, MIN(ts) AS first_ts FROM actions \
          WHERE outcome IN ('executed','dry_run','awaiting_confirmation') \
          AND incident_id IS NOT NULL GROUP BY incident_id) a ON a.incident_id = i.id \
         WHERE i.last_seen >= ?1",
        [since],
        |r| r.get(0),
    )?;
    let count = |sql: &str| conn.query_row(sql, [since], |r| r.get::<_, i64>(0));
    Ok(Report {
        since_secs,
        incidents_by_severity: map(grouped(conn, "SELECT severity, COUNT(*) FROM incidents WHERE last_seen >= ?1 GROUP BY severity", since)?),
        incidents_by_state: map(grouped(conn, "SELECT state, COUNT(*) FROM incidents WHERE last_seen >= ?1 GROUP BY state", since)?),
        attack_types: map(grouped(conn, "SELECT category, COUNT(*) FROM alerts WHERE ts >= ?1 GROUP BY category", since)?),
        top_sources: grouped(conn, "SELECT src_ip, COUNT(*) AS n FROM alerts WHERE ts >= ?1 GROUP BY src_ip ORDER BY n DESC LIMIT 10", since)?,
        top_targets: grouped(conn, "SELECT dst_ip, COUNT(*) AS n FROM alerts WHERE ts >= ?1 GROUP BY dst_ip ORDER BY n DESC LIMIT 10", since)?,
        actions_by_outcome: actions,
        success_rate: (ok + bad > 0).then(|| ok as f64 / (ok + bad) as f64),
        mean_secs_to_response: mean,
        alerts: count("SELECT COUNT(*) FROM alerts WHERE ts >= ?1")?,
        packets: count("SELECT COUNT(*) FROM packets WHERE ts >= ?1")?,
        capture_health: capture_health(conn, since)?,
    })
}

fn rows_json(conn: &Connection, sql: &str) -> rusqlite::Result<serde_json::Value> {
    let mut st = conn.prepare(sql)?;
    let names: Vec<String> = st.column_names().iter().map(|c| (*c).to_string()).collect();
    let rows = st.query_map([], |r| {
        let mut o = serde_json::Map::new();
        for (i, n) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => serde_json::Value::Null,
                rusqlite::types::ValueRef::Integer(x) => x.into(),
                rusqlite::types::ValueRef::Real(x) => x.into(),
                rusqlite::types::ValueRef::Text(t) => {
                    String::from_utf8_lossy(t).into_owned().into()
                }
                rusqlite::types::ValueRef::Blob(b) => b.len().into(),
            };
            o.insert(n.clone(), v);
        }
        Ok(serde_json::Value::Object(o))
    })?;
    Ok(serde_json::Value::Array(
        rows.collect::<rusqlite::Result<Vec<_>>>()?,
    ))
}

/// Incidents, alerts and actions as one JSON document.
pub fn export(conn: &Connection) -> rusqlite::Result<String> {
    let doc = serde_json::json!({
        "incidents": rows_json(conn, "SELECT * FROM incidents ORDER BY id")?,
        "alerts": rows_json(conn, "SELECT * FROM alerts ORDER BY id")?,
        "actions": rows_json(conn, "SELECT * FROM actions ORDER BY id")?,
    });
    Ok(doc.to_string())
}
