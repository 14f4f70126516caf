//! The audit trail's anchor: a file beside the database (`<db>.audit-anchor`, created 0600,
//! opened O_APPEND) that gets one line `<id> <hash>` for every row appended to `actions`. The
//! hash chain alone shows an edited, inserted or removed row in the middle, but not the newest
//! rows deleted (the shorter chain is still a valid chain) nor every row deleted; the anchor,
//! kept outside the table it protects, names the head the table must still end at.
//!
//! What it cannot show: someone who rewrites both the table and the anchor file consistently
//! (root can), or deletes both the database and the file.
//!
//! Called by `audit::append` while it holds SQLite's write lock (so lines are in row order
//! across processes), and by `audit::verify`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// The newest row the anchor names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: i64,
    pub hash: String,
}

/// The anchor file of the database `conn` has open; `None` for an in-memory database.
pub fn path_for(conn: &Connection) -> Option<PathBuf> {
    let db = conn.path().filter(|p| !p.is_empty())?;
    let mut p = PathBuf::from(db).into_os_string();
    p.push(".audit-anchor");
    Some(PathBuf::from(p))
}

/// Appends the new head; created 0600 when missing.
pub fn record(path: &Path, head: &Head) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(format!("{} {}\n", head.id, head.hash).as_bytes())?;
    f.sync_data()
}

/// The last complete line of the anchor file: `Ok(None)` when the file does not exist.
pub fn last(path: &Path) -> std::io::Result<Option<Head>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut head = None;
    for line in BufReader::new(f).lines() {
        let line = line?;
        let mut parts = line.split_whitespace();
        if let (Some(id), Some(hash), None) = (parts.next(), parts.next(), parts.next()) {
            if let Ok(id) = id.parse::<i64>() {
                head = Some(Head {
                    id,
                    hash: hash.to_string(),
                });
            }
        }
    }
    Ok(head)
}

/// Why the table's newest row (`table`, `None` for an empty table) disagrees with the anchor
/// at `path`, or `None` when they agree.
pub fn check(path: &Path, table: Option<&Head>) -> std::io::Result<Option<String>> {
    let shown = path.display();
    let anchored = last(path)?;
    Ok(match (anchored, table) {
        (None, None) => None,
        (None, Some(t)) => Some(format!(
            "the anchor file {shown} is missing but the table holds rows up to id {}; it was \
             deleted, or the rows were written without it",
            t.id
        )),
        (Some(a), None) => Some(format!(
            "the table is empty but {shown} records rows up to id {}: every row was deleted",
            a.id
        )),
        (Some(a), Some(t)) if a == *t => None,
        (Some(a), Some(t)) if t.id < a.id => Some(format!(
            "the newest row is id {} but {shown} records rows up to id {}: the newest rows \
             were deleted",
            t.id, a.id
        )),
        (Some(a), Some(t)) => Some(format!(
            "the newest row is id {} (hash {}) but {shown} records id {} (hash {}): rows were \
             added or replaced outside nsm-tui",
            t.id, t.hash, a.id, a.hash
        )),
    })
}
