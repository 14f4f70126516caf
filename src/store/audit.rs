//! The audit trail: every response decision as one row of the SQLite `actions` table, each
//! row's `hash` = SHA-1 over the previous row's hash and this row's canonical fields, so any
//! edit, deletion or reordering breaks the chain at that row; `verify` finds the first break.
//! Every append also records the new head in the anchor file beside the database
//! (`audit_anchor`), so deleting the newest rows, or all of them, shows too.
//!
//! Called on whichever thread decides or carries out a response, and by `nsm-tui audit
//! verify`. Appends take SQLite's write lock (BEGIN IMMEDIATE) so two processes writing the
//! same file keep one chain.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha1::{Digest, Sha1};

use super::audit_anchor::{self, Head};

/// How a decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Executed,
    DryRun,
    Refused,
    Failed,
    Expired,
    /// A confirm-within block whose window passed without `nsm-tui confirm`: the firewall
    /// dropped it on its own.
    RolledBack,
    /// A block applied with a short confirmation window (`block --confirm-within`).
    AwaitingConfirmation,
    /// A confirm-within block made permanent for its full duration (`nsm-tui confirm`).
    Confirmed,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Executed,
        Outcome::DryRun,
        Outcome::Refused,
        Outcome::Failed,
        Outcome::Expired,
        Outcome::RolledBack,
        Outcome::AwaitingConfirmation,
        Outcome::Confirmed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Executed => "executed",
            Outcome::DryRun => "dry_run",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Expired => "expired",
            Outcome::RolledBack => "rolled_back",
            Outcome::AwaitingConfirmation => "awaiting_confirmation",
            Outcome::Confirmed => "confirmed",
        }
    }

    /// Whether the decision changed (or, in a dry run, would have changed) the firewall or
    /// the host as asked.
    pub fn carried_out(self) -> bool {
        matches!(
            self,
            Outcome::Executed
                | Outcome::DryRun
                | Outcome::AwaitingConfirmation
                | Outcome::Confirmed
        )
    }
}

/// One decision, before it gets its id and hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ActionRecord {
    /// Nanoseconds since the epoch.
    pub ts: i64,
    /// `auto`, `cli`, `console`, `system`.
    pub actor: String,
    /// `block`, `unblock`, `rate_limit`, `quarantine`, `reset`, `confirm`, `flush`, `notify`,
    /// `reconcile` …
    pub action: String,
    pub target: String,
    pub reason: String,
    pub incident_id: Option<i64>,
    pub alert_id: Option<i64>,
    pub command: Option<String>,
    pub exit_status: Option<i32>,
    pub output: Option<String>,
    pub outcome: String,
}

/// The canonical byte form that is hashed: every field length-prefixed so no two different
/// rows encode the same (`ab`+`c` ≠ `a`+`bc`), absent values distinct from empty strings.
pub fn canonical(prev_hash: &str, r: &ActionRecord) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, v: Option<&str>) {
        match v {
            Some(s) => {
                out.extend_from_slice(s.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(s.as_bytes());
            }
            None => out.push(b'-'),
        }
        out.push(b'\n');
    }
    let mut out = Vec::new();
    let ts = r.ts.to_string();
    let inc = r.incident_id.map(|v| v.to_string());
    let alert = r.alert_id.map(|v| v.to_string());
    let exit = r.exit_status.map(|v| v.to_string());
    put(&mut out, Some(prev_hash));
    put(&mut out, Some(&ts));
    put(&mut out, Some(&r.actor));
    put(&mut out, Some(&r.action));
    put(&mut out, Some(&r.target));
    put(&mut out, Some(&r.reason));
    put(&mut out, inc.as_deref());
    put(&mut out, alert.as_deref());
    put(&mut out, r.command.as_deref());
    put(&mut out, exit.as_deref());
    put(&mut out, r.output.as_deref());
    put(&mut out, Some(&r.outcome));
    out
}

pub fn row_hash(prev_hash: &str, r: &ActionRecord) -> String {
    Sha1::digest(canonical(prev_hash, r))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Appends `r` to the chain and its head to the anchor file; returns the new row's id. A
/// failed anchor write undoes the row: a row the anchor does not name would read as tampering.
pub fn append(conn: &Connection, r: &ActionRecord) -> rusqlite::Result<i64> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let res = append_locked(conn, r);
    match res {
        Ok(id) => {
            conn.execute_batch("COMMIT")?;
            Ok(id)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn append_locked(conn: &Connection, r: &ActionRecord) -> rusqlite::Result<i64> {
    let prev: String = conn
        .query_row(
            "SELECT hash FROM actions ORDER BY id DESC LIMIT 1",
            [],
            |x| x.get(0),
        )
        .optional()?
        .unwrap_or_default();
    let hash = row_hash(&prev, r);
    let hash_kept = hash.clone();
    conn.execute(
        "INSERT INTO actions (ts, actor, action, target, reason, incident_id, alert_id, command, \
         exit_status, output, outcome, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            r.ts,
            r.actor,
            r.action,
            r.target,
            r.reason,
            r.incident_id,
            r.alert_id,
            r.command,
            r.exit_status,
            r.output,
            r.outcome,
            prev,
            hash
        ],
    )?;
    let id = conn.last_insert_rowid();
    if let Some(path) = audit_anchor::path_for(conn) {
        let head = Head {
            id,
            hash: hash_kept,
        };
        audit_anchor::record(&path, &head).map_err(|e| {
            anchor_error(format!("writing the audit anchor {}: {e}", path.display()))
        })?;
    }
    Ok(id)
}

/// A failed read or write of the anchor file, as the I/O error it is.
fn anchor_error(message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some(message),
    )
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub rows: u64,
    /// The id of the first row whose hash or link does not match, and what is wrong (for a
    /// table that disagrees with its anchor: the newest row's id, 0 when empty).
    pub first_broken: Option<(i64, String)>,
}

/// Reads one stored row back as a record (with its stored prev_hash and hash).
pub fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ActionRecord, String, String)> {
    Ok((
        row.get("id")?,
        ActionRecord {
            ts: row.get("ts")?,
            actor: row.get("actor")?,
            action: row.get("action")?,
            target: row.get("target")?,
            reason: row.get("reason")?,
            incident_id: row.get("incident_id")?,
            alert_id: row.get("alert_id")?,
            command: row.get("command")?,
            exit_status: row.get("exit_status")?,
            output: row.get("output")?,
            outcome: row.get("outcome")?,
        },
        row.get("prev_hash")?,
        row.get("hash")?,
    ))
}

/// Walks the chain from the first row and reports the first break.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verification> {
    let mut stmt = conn.prepare("SELECT * FROM actions ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut prev = String::new();
    let mut n = 0u64;
    let mut last: Option<Head> = None;
    while let Some(row) = rows.next()? {
        let (id, rec, stored_prev, stored_hash) = read_row(row)?;
        n += 1;
        if stored_prev != prev {
            return Ok(Verification {
                rows: n,
                first_broken: Some((
                    id,
                    format!(
                        "prev_hash {stored_prev:?} does not match the previous row's hash {prev:?} (a row was removed, inserted or reordered)"
                    ),
                )),
            });
        }
        let want = row_hash(&prev, &rec);
        if want != stored_hash {
            return Ok(Verification {
                rows: n,
                first_broken: Some((
                    id,
                    format!("hash {stored_hash} does not match its contents (expected {want}); the row was edited"),
                )),
            });
        }
        prev = stored_hash;
        last = Some(Head {
            id,
            hash: prev.clone(),
        });
    }
    drop(rows);
    let anchored = match audit_anchor::path_for(conn) {
        Some(path) => audit_anchor::check(&path, last.as_ref()).map_err(|e| {
            anchor_error(format!("reading the audit anchor {}: {e}", path.display()))
        })?,
        None => None,
    };
    Ok(Verification {
        rows: n,
        first_broken: anchored.map(|why| (last.map_or(0, |h| h.id), why)),
    })
}

/// Firewall and reset actions carried out (or dry-run) after `since` (ns): the load the
/// enforcer's per-minute cap counts.
pub fn actions_since(conn: &Connection, since: i64) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM actions WHERE ts > ?1 \
         AND outcome IN ('executed', 'dry_run', 'awaiting_confirmation') \
         AND action IN ('block', 'rate_limit', 'quarantine', 'reset')",
        [since],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{migrate, MIGRATIONS};
    use std::path::Path;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c, Path::new("mem"), MIGRATIONS).unwrap();
        c
    }

    fn rec(i: i64) -> ActionRecord {
        ActionRecord {
            ts: i,
            actor: "cli".into(),
            action: "block".into(),
            target: format!("198.51.100.{i}"),
            command: Some("nft -f -".into()),
            exit_status: Some(0),
            outcome: Outcome::Executed.as_str().into(),
            ..ActionRecord::default()
        }
    }

    #[test]
    fn chain_verifies_and_edits_show() {
        let c = db();
        for i in 1..=5 {
            append(&c, &rec(i)).unwrap();
        }
        assert_eq!(verify(&c).unwrap().first_broken, None);
        c.execute("UPDATE actions SET outcome = 'dry_run' WHERE id = 3", [])
            .unwrap();
        let v = verify(&c).unwrap();
        assert_eq!(v.first_broken.as_ref().map(|b| b.0), Some(3), "{v:?}");
        c.execute("UPDATE actions SET outcome = 'executed' WHERE id = 3", [])
            .unwrap();
        c.execute("DELETE FROM actions WHERE id = 2", []).unwrap();
        let v = verify(&c).unwrap();
        assert_eq!(v.first_broken.map(|b| b.0), Some(3));
    }

    #[test]
    fn canonical_form_is_unambiguous() {
        let mut a = rec(1);
        let mut b = rec(1);
        a.actor = "ab".into();
        a.action = "c".into();
        b.actor = "a".into();
        b.action = "bc".into();
        assert_ne!(row_hash("", &a), row_hash("", &b));
        let mut n = rec(1);
        n.output = Some(String::new());
        assert_ne!(row_hash("", &rec(1)), row_hash("", &n));
    }
}
