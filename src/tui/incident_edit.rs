//! A person's incident changes from the console (acknowledge, resolve, note), written to the
//! `incidents` table that the pipeline's incident store fills, so `nsm-tui incidents list`
//! and reports see them too.
//!
//! Runs on the console's effect thread; the model was already changed on the UI thread.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::responder::Outcome;
use crate::engine::frame::Ts;
use crate::engine::incident::IncidentState;
use crate::engine::model::{Incident, IncidentEdit};

/// Which stored incident a console incident is: same source and category, overlapping time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentKey {
    /// The console's own number for it (`#12`), for messages.
    pub id: u64,
    pub source: Option<IpAddr>,
    pub category: Arc<str>,
    pub first_seen: Ts,
    pub last_seen: Ts,
}

impl IncidentKey {
    pub fn of(i: &Incident) -> Self {
        IncidentKey {
            id: i.id,
            source: i.source,
            category: i.category.clone(),
            first_seen: i.first_seen,
            last_seen: i.last_seen,
        }
    }
}

/// Writes one edit; the outcome goes to the status bar.
pub type IncidentWriter = Box<dyn FnMut(&IncidentKey, &IncidentEdit) -> Outcome + Send>;

/// The stored row for `key`: the newest incident of that source and category whose time
/// span overlaps the console's (both group alerts the same way).
pub fn find(conn: &Connection, key: &IncidentKey) -> rusqlite::Result<Option<i64>> {
    let source = key
        .source
        .map_or_else(|| "-".to_string(), |s| s.to_string());
    conn.query_row(
        "SELECT id FROM incidents WHERE source = ?1 AND category = ?2 \
         AND first_seen <= ?4 AND last_seen >= ?3 ORDER BY id DESC LIMIT 1",
        params![
            source,
            key.category.as_ref(),
            key.first_seen.0,
            key.last_seen.0
        ],
        |r| r.get(0),
    )
    .optional()
}

/// Apply `edit` to the stored incident for `key`.
pub fn write(conn: &Connection, key: &IncidentKey, edit: &IncidentEdit, now_ns: i64) -> Outcome {
    let fail = |message: String| Outcome { ok: false, message };
    let id = match find(conn, key) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return fail(format!(
                "incident #{} changed here but is not in the database yet; try again in a moment",
                key.id
            ))
        }
        Err(e) => return fail(format!("incident #{}: {e}", key.id)),
    };
    let done = match edit {
        IncidentEdit::State(to) => crate::respond::incidents::set_state(conn, id, *to)
            .map(|()| format!("incident #{} (stored as {id}) {}", key.id, verb(*to))),
        IncidentEdit::Note(text) => crate::respond::incidents::add_note(conn, id, now_ns, text)
            .map(|()| format!("note added to incident #{} (stored as {id})", key.id)),
    };
    match done {
        Ok(message) => Outcome { ok: true, message },
        Err(e) => fail(format!("incident #{}: {e}", key.id)),
    }
}

fn verb(s: IncidentState) -> &'static str {
    match s {
        IncidentState::New => "reopened",
        IncidentState::Acknowledged => "acknowledged",
        IncidentState::Resolved => "resolved",
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A writer for the database at `path`, opened on first use.
pub fn db_writer(path: PathBuf) -> IncidentWriter {
    let mut conn: Option<Connection> = None;
    Box::new(move |key, edit| {
        if conn.is_none() {
            match Connection::open(&path) {
                Ok(c) => {
                    let _ = c.busy_timeout(std::time::Duration::from_secs(5));
                    conn = Some(c);
                }
                Err(e) => {
                    return Outcome {
                        ok: false,
                        message: format!("incident #{}: {}: {e}", key.id, path.display()),
                    }
                }
            }
        }
        match &conn {
            Some(c) => write(c, key, edit, now_ns()),
            None => Outcome {
                ok: false,
                message: "no database".into(),
            },
        }
    })
}

/// Without a database the change stays in the console only.
pub fn memory_writer() -> IncidentWriter {
    Box::new(|key, edit| Outcome {
        ok: true,
        message: match edit {
            IncidentEdit::State(to) => format!("incident #{} {} (no database)", key.id, verb(*to)),
            IncidentEdit::Note(_) => format!("note added to incident #{} (no database)", key.id),
        },
    })
}
