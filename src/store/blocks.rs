//! What nsm-tui put into the firewall, kept in the SQLite `blocks` table: the source of truth
//! for reconciling (re-applying blocks a firewall restart wiped), expiring blocks on backends
//! without native timeouts, escalating repeat offenders and removing temporary blocks on exit.
//!
//! Called on the thread that carries out responses and by the CLI. Times are nanoseconds.

use std::net::IpAddr;

use rusqlite::{params, Connection};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockRow {
    pub id: i64,
    pub addr: String,
    pub kind: String,
    pub backend: String,
    pub created: i64,
    /// None = no expiry.
    pub expires: Option<i64>,
    pub temporary: bool,
    pub offense: u32,
    pub incident_id: Option<i64>,
    pub reason: String,
    /// A block applied with `--confirm-within`: the full duration in seconds (0 = no expiry)
    /// that `nsm-tui confirm` applies. Until then `expires` is the end of the confirmation
    /// window. None for every other block, and once confirmed.
    pub pending_secs: Option<u64>,
}

impl BlockRow {
    pub fn ip(&self) -> Option<IpAddr> {
        self.addr.parse().ok()
    }
    /// Whether this block still waits for `nsm-tui confirm`.
    pub fn awaiting_confirmation(&self) -> bool {
        self.pending_secs.is_some()
    }
    /// Whole seconds left at `now`, at least 1 while active (None = no expiry).
    pub fn secs_left(&self, now: i64) -> Option<u64> {
        self.expires.map(|e| {
            u64::try_from((e - now).max(0) / 1_000_000_000)
                .unwrap_or(0)
                .max(1)
        })
    }
}

const COLS: &str = "id, addr, kind, backend, created, expires, temporary, offense, incident_id, \
     reason, pending_secs";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BlockRow> {
    Ok(BlockRow {
        id: r.get(0)?,
        addr: r.get(1)?,
        kind: r.get(2)?,
        backend: r.get(3)?,
        created: r.get(4)?,
        expires: r.get(5)?,
        temporary: r.get::<_, i64>(6)? != 0,
        offense: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(u32::MAX),
        incident_id: r.get(8)?,
        reason: r.get(9)?,
        pending_secs: r
            .get::<_, Option<i64>>(10)?
            .map(|v| u64::try_from(v).unwrap_or(0)),
    })
}

/// Records a block; deactivates any earlier active row for the same address and kind.
pub fn insert(conn: &Connection, b: &BlockRow) -> rusqlite::Result<i64> {
    conn.execute(
        "UPDATE blocks SET active = 0 WHERE active = 1 AND addr = ?1 AND kind = ?2",
        params![b.addr, b.kind],
    )?;
    conn.execute(
        "INSERT INTO blocks (addr, kind, backend, created, expires, active, temporary, offense, \
         incident_id, reason, pending_secs) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10)",
        params![
            b.addr,
            b.kind,
            b.backend,
            b.created,
            b.expires,
            i64::from(b.temporary),
            i64::from(b.offense),
            b.incident_id,
            b.reason,
            b.pending_secs.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Active rows of `addr` that still wait for confirmation and whose window is open at `now`.
pub fn awaiting(conn: &Connection, addr: &str, now: i64) -> rusqlite::Result<Vec<BlockRow>> {
    let sql = format!(
        "SELECT {COLS} FROM blocks WHERE active = 1 AND addr = ?1 AND pending_secs IS NOT NULL \
         AND (expires IS NULL OR expires > ?2) ORDER BY id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(params![addr, now], from_row)?;
    rows.collect()
}

/// Marks row `id` confirmed: no longer pending, with its new end (None = no expiry).
pub fn confirm(conn: &Connection, id: i64, expires: Option<i64>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE blocks SET pending_secs = NULL, expires = ?2, temporary = ?3 WHERE id = ?1",
        params![id, expires, i64::from(expires.is_some())],
    )?;
    Ok(())
}

/// Active rows not yet expired at `now`.
pub fn active(conn: &Connection, now: i64) -> rusqlite::Result<Vec<BlockRow>> {
    let sql = format!(
        "SELECT {COLS} FROM blocks WHERE active = 1 AND (expires IS NULL OR expires > ?1) ORDER BY id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([now], from_row)?;
    rows.collect()
}

/// Active rows whose time is up at `now`.
pub fn due(conn: &Connection, now: i64) -> rusqlite::Result<Vec<BlockRow>> {
    let sql = format!(
        "SELECT {COLS} FROM blocks WHERE active = 1 AND expires IS NOT NULL AND expires <= ?1 ORDER BY id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([now], from_row)?;
    rows.collect()
}

/// Ends the block `id`; `false` when it was already ended (by another process).
pub fn deactivate(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE blocks SET active = 0 WHERE id = ?1 AND active = 1",
        [id],
    )?;
    Ok(n > 0)
}

/// Deactivates the active rows of `addr` (all kinds when `kind` is None); returns how many.
pub fn deactivate_addr(
    conn: &Connection,
    addr: &str,
    kind: Option<&str>,
) -> rusqlite::Result<usize> {
    match kind {
        Some(k) => conn.execute(
            "UPDATE blocks SET active = 0 WHERE active = 1 AND addr = ?1 AND kind = ?2",
            params![addr, k],
        ),
        None => conn.execute(
            "UPDATE blocks SET active = 0 WHERE active = 1 AND addr = ?1",
            [addr],
        ),
    }
}

pub fn deactivate_all(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("UPDATE blocks SET active = 0 WHERE active = 1", [])
}

/// How many times `addr` was blocked before (for escalation). A confirm-within block that
/// was never confirmed (rolled back, or still waiting) does not count.
pub fn prior_offenses(conn: &Connection, addr: &str) -> rusqlite::Result<u32> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM blocks WHERE addr = ?1 AND kind = 'block' AND pending_secs IS NULL",
        [addr],
        |r| r.get(0),
    )?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

pub fn count_active(conn: &Connection, now: i64) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM blocks WHERE active = 1 AND (expires IS NULL OR expires > ?1)",
        [now],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}
