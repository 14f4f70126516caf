//! A person's incident changes from the console (acknowledge, resolve, note), written to the
//! `incidents` row of the same id — the console shows the store's incidents, numbered as
//! `nsm-tui incidents list` numbers them.
//!
//! Runs on the console's effect thread; the model was already changed on the UI thread.

use std::path::PathBuf;

use crate::engine::incident::IncidentState;
use crate::engine::model::IncidentEdit;
use crate::respond::responder::Outcome;
use crate::store::incidents;

/// Writes one edit to incident `id`; the outcome goes to the status bar.
pub type IncidentWriter = Box<dyn FnMut(u64, &IncidentEdit) -> Outcome + Send>;

/// Apply `edit` to the stored incident `id`.
pub fn write(db: &incidents::EditConnection, id: u64, edit: &IncidentEdit, now_ns: i64) -> Outcome {
    let row = i64::try_from(id).unwrap_or(i64::MAX);
    let done = match edit {
        IncidentEdit::State(to) => incidents::set_state(db.conn(), row, *to)
            .map(|()| format!("incident #{id} {}", verb(*to))),
        IncidentEdit::Note(text) => incidents::add_note(db.conn(), row, now_ns, text)
            .map(|()| format!("note added to incident #{id}")),
    };
    match done {
        Ok(message) => Outcome { ok: true, message },
        Err(e) if e.starts_with("no incident with id") => Outcome {
            ok: false,
            message: format!(
                "incident #{id} changed here but is not in the database yet; try again in a moment"
            ),
        },
        Err(e) => Outcome {
            ok: false,
            message: format!("incident #{id}: {e}"),
        },
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
    let mut db: Option<incidents::EditConnection> = None;
    Box::new(move |id, edit| {
        if db.is_none() {
            match incidents::EditConnection::open(&path) {
                Ok(c) => db = Some(c),
                Err(e) => {
                    return Outcome {
                        ok: false,
                        message: format!("incident #{id}: {}: {e}", path.display()),
                    }
                }
            }
        }
        match &db {
            Some(c) => write(c, id, edit, now_ns()),
            None => Outcome {
                ok: false,
                message: "no database".into(),
            },
        }
    })
}

/// Without a database the change stays in the console only.
pub fn memory_writer() -> IncidentWriter {
    Box::new(|id, edit| Outcome {
        ok: true,
        message: match edit {
            IncidentEdit::State(to) => format!("incident #{id} {} (no database)", verb(*to)),
            IncidentEdit::Note(_) => format!("note added to incident #{id} (no database)"),
        },
    })
}
