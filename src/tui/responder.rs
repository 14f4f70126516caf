//! How the console's block requests leave the UI: the `Responder` trait, and the default
//! implementation that records each request in the SQLite `actions` audit table without
//! touching the firewall.
//!
//! Called on the console's effect thread, never on the UI thread (it opens a database).

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::block::BlockPlan;
use crate::store::{SqliteStore, StoreOptions};

/// What happened to a request, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub message: String,
}

/// Carries out (or records) a block the user confirmed.
pub trait Responder: Send {
    /// `now_secs` is wall-clock seconds since the epoch, read by the caller.
    fn block(&mut self, plan: &BlockPlan, now_secs: i64) -> Outcome;
}

/// Records requests in the `actions` table of the database at `path`.
pub struct AuditResponder {
    path: PathBuf,
}

impl AuditResponder {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    fn record(&self, plan: &BlockPlan, now: i64, outcome: &str) -> Result<(), String> {
        // Opening through the store creates or migrates the schema when needed.
        let store =
            SqliteStore::open(&self.path, &StoreOptions::default()).map_err(|e| e.to_string())?;
        let conn = store.connection();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        Self::insert(conn, plan, now, outcome).map_err(|e| e.to_string())
    }

    fn insert(
        conn: &rusqlite::Connection,
        plan: &BlockPlan,
        now: i64,
        outcome: &str,
    ) -> Result<(), rusqlite::Error> {
        let prev: String = conn
            .query_row(
                "SELECT hash FROM actions ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(String::new()),
                e => Err(e),
            })?;
        let target = plan.addr.to_string();
        let command = plan.command_line();
        let incident = plan.incident.and_then(|i| i64::try_from(i).ok());
        let mut h = Sha1::new();
        for part in [
            now.to_string().as_str(),
            "console",
            "block",
            &target,
            &plan.reason,
            &command,
            outcome,
            &prev,
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let hash: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        conn.execute(
            "INSERT INTO actions (ts, actor, action, target, reason, incident_id, command, outcome, prev_hash, hash)
             VALUES (?1, 'console', 'block', ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![now, target, plan.reason, incident, command, outcome, prev, hash],
        )?;
        Ok(())
    }
}

impl Responder for AuditResponder {
    fn block(&mut self, plan: &BlockPlan, now_secs: i64) -> Outcome {
        if let Some(why) = &plan.refused {
            return Outcome {
                ok: false,
                message: format!("not blocked: {why}"),
            };
        }
        let outcome = if plan.dry_run { "dry_run" } else { "recorded" };
        match self.record(plan, now_secs, outcome) {
            Ok(()) if plan.dry_run => Outcome {
                ok: true,
                message: format!(
                    "dry run: recorded block of {} in {} (not applied)",
                    plan.addr,
                    self.path.display()
                ),
            },
            Ok(()) => Outcome {
                ok: true,
                message: format!(
                    "block of {} recorded in {}; no firewall backend is configured yet",
                    plan.addr,
                    self.path.display()
                ),
            },
            Err(e) => Outcome {
                ok: false,
                message: format!("could not record the block in {}: {e}", self.path.display()),
            },
        }
    }
}

/// Keeps requests in memory; for tests and for runs without a database.
#[derive(Debug, Default)]
pub struct MemoryResponder {
    pub requests: Vec<BlockPlan>,
}

impl Responder for MemoryResponder {
    fn block(&mut self, plan: &BlockPlan, _now_secs: i64) -> Outcome {
        if let Some(why) = &plan.refused {
            return Outcome {
                ok: false,
                message: format!("not blocked: {why}"),
            };
        }
        self.requests.push(plan.clone());
        Outcome {
            ok: true,
            message: format!(
                "{}block of {} noted (no database)",
                if plan.dry_run { "dry run: " } else { "" },
                plan.addr
            ),
        }
    }
}
