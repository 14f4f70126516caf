//! The SQLite store: opens (and migrates) the database and writes batches of packets,
//! alerts and flows, each batch in one transaction with cached prepared statements.
//!
//! Owned by the writer thread (`writer::spawn_writer`); `open` may also be called from a
//! command-line thread for reports. Blocks on the disk and, for at most `busy_timeout`, on
//! another process holding the write lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction};

use super::rows::{AlertRow, CaptureStatsRow, FlowRow};
use super::safe_file::{self, DbLock};
use super::StoreError;
use super::{insert, schema};
use crate::engine::frame::Ts;
use crate::engine::record::PacketRow;

/// How the store batches and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Keep at most this many packet rows (the newest by insertion order).
    pub max_packets: Option<u64>,
    /// Keep at most this many alert rows (the newest by insertion order).
    pub max_alerts: Option<u64>,
    /// Delete packets, alerts and flows older than this many seconds before the reference
    /// time given to `apply_retention` (the writer passes the newest capture time it wrote).
    pub max_age_secs: Option<u64>,
    /// The writer commits once this many rows are queued.
    pub batch_size: usize,
    /// …or once the oldest queued row has waited this long.
    pub batch_window: Duration,
    /// The writer applies retention after every this many committed batches (0 = never).
    pub retention_every_batches: u32,
    /// How long to wait for another connection's write lock before failing.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_packets: None,
            max_alerts: None,
            max_age_secs: None,
            batch_size: 50_000,
            batch_window: Duration::from_millis(200),
            retention_every_batches: 20,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Rows deleted by one `apply_retention` call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub packets: u64,
    pub alerts: u64,
    pub flows: u64,
}

/// The rows a batch carries beside packets, alerts and flows: the incident tracker's saves and
/// the GeoIP recorder's answers, written in the same transaction on the same connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct SideRows<'a> {
    pub incidents: &'a [super::incidents::IncidentSave],
    pub geo: &'a [super::geo_records::GeoRow],
    pub profiles: Option<&'a crate::engine::detect::stats::Learned>,
}

/// An open, migrated database.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    opts: StoreOptions,
    /// Held by the capture's writer (`open_writer`).
    _lock: Option<DbLock>,
}

/// A connection to the database at `path`, checked first (SQLite opens the file itself):
/// no link followed, a new file created 0640, the directory not open to other users.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    safe_file::prepare_db(path)?;
    let flags = rusqlite::OpenFlags::default() | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW;
    Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// u64 counters and ids go into INTEGER columns bit-for-bit; `as u64` reverses it.
pub(super) fn int(v: u64) -> i64 {
    v as i64
}

/// A side connection to the database at `path` (response bookkeeping, incidents, edits):
/// the file created and migrated first, then WAL with the packet writer's durability
/// (`synchronous = NORMAL`: a commit survives a crash of the process and only a checkpoint
/// waits for the disk; FULL synced on every incident update, on the pipeline's output thread),
/// checkpoints left to the packet writer, and a 5 s busy time-out.
pub fn open_side(path: &Path) -> Result<Connection, StoreError> {
    drop(SqliteStore::open(path, &StoreOptions::default())?);
    let err = |what: &'static str| {
        move |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let conn = connect(path)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(err("setting the busy time-out"))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0")
        .map_err(err("setting synchronous = NORMAL"))?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens or creates the database at `path` (its directory must exist, but for the data
    /// directory; see `safe_file`), switches it to WAL with `synchronous=NORMAL` and applies
    /// pending migrations.
    pub fn open(path: &Path, opts: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let mut conn = connect(path)?;
        configure(&conn, path, opts)?;
        schema::migrate(&mut conn, path, schema::MIGRATIONS)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            opts: opts.clone(),
            _lock: None,
        })
    }

    /// `open` for the one process that writes captured traffic into the database: takes the
    /// database's lock first, so a second capture writing the same file is refused (naming
    /// the first) instead of storing everything twice. Held until the store is dropped.
    pub fn open_writer(path: &Path, opts: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let lock = DbLock::acquire(path)?;
        let mut store = SqliteStore::open(path, opts)?;
        store._lock = Some(lock);
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The underlying connection, for read queries (reports, tests).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::user_version(&self.conn, &self.path)
    }

    fn err(&self, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        sql_err(&self.path, what)
    }

    /// Writes all rows in one transaction.
    pub fn write_packets(&mut self, rows: &[PacketRow]) -> Result<(), StoreError> {
        self.write_batch(&[rows], &[], &[], SideRows::default())
    }

    /// Writes all alerts in one transaction.
    pub fn write_alerts(&mut self, alerts: &[AlertRow]) -> Result<(), StoreError> {
        self.write_batch(&[], alerts, &[], SideRows::default())
    }

    /// Writes all flows in one transaction.
    pub fn write_flows(&mut self, flows: &[FlowRow]) -> Result<(), StoreError> {
        self.write_batch(&[], &[], flows, SideRows::default())
    }

    /// Writes packets, alerts and flows together in one transaction: all or nothing.
    /// Packets come in the runs they were sent in, so the writer never copies them into one
    /// long vector first.
    pub fn write_batch(
        &mut self,
        packets: &[&[PacketRow]],
        alerts: &[AlertRow],
        flows: &[FlowRow],
        side: SideRows<'_>,
    ) -> Result<(), StoreError> {
        let path = &self.path;
        let wrap = |what| sql_err(path, what);
        let tx = self.conn.transaction().map_err(wrap("begin transaction"))?;
        for run in packets {
            insert::packets(&tx, run).map_err(wrap("inserting packets"))?;
        }
        insert::alerts(&tx, alerts).map_err(wrap("inserting alerts"))?;
        insert::flows(&tx, flows).map_err(wrap("inserting flows"))?;
        super::incidents::upsert(&tx, side.incidents).map_err(wrap("saving incidents"))?;
        super::geo_records::upsert(&tx, side.geo).map_err(wrap("recording GeoIP answers"))?;
        if let Some(l) = side.profiles {
            super::profiles::save(&tx, l, wall_ns()).map_err(wrap("saving profiles"))?;
        }
        tx.commit().map_err(wrap("commit"))
    }

    /// Writes capture counter snapshots in one transaction. Not subject to retention: one
    /// row every few seconds of a run is small next to the packets it describes.
    pub fn write_capture_stats(&mut self, rows: &[CaptureStatsRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let wrap = |what| sql_err(path, what);
        let tx = self.conn.transaction().map_err(wrap("begin transaction"))?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO capture_stats (ts, source, packets, bytes, kernel_drops, \
                     iface_drops, queue_drops, decode_errors, db_drops, run_ended) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(wrap("preparing the capture_stats insert"))?;
            for r in rows {
                st.execute(rusqlite::params![
                    r.ts,
                    r.source,
                    int(r.packets),
                    int(r.bytes),
                    int(r.kernel_drops),
                    int(r.iface_drops),
                    int(r.queue_drops),
                    int(r.decode_errors),
                    int(r.db_drops),
                    i64::from(r.run_ended)
                ])
                .map_err(wrap("inserting capture stats"))?;
            }
        }
        tx.commit().map_err(wrap("commit"))
    }

    /// Deletes the oldest packets and alerts beyond `max_packets` / `max_alerts`, and the
    /// packets, alerts and flows older than `max_age_secs` before `reference` (a capture
    /// time, so replays of old files keep their data; the writer passes the newest packet
    /// time it has written). One transaction.
    pub fn apply_retention(&mut self, reference: Ts) -> Result<RetentionReport, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err(&path, "begin retention"))?;
        let report = retention_in(&tx, &self.opts, reference)
            .map_err(sql_err(&path, "applying retention"))?;
        tx.commit().map_err(sql_err(&path, "commit retention"))?;
        Ok(report)
    }

    /// Turn SQLite's automatic checkpoints on this connection off: a checkpointer thread
    /// takes them over.
    pub fn hand_over_checkpoints(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(self.err("setting wal_autocheckpoint"))
    }

    /// Copies committed WAL frames back into the main file without truncating the WAL; with
    /// no write in between it finishes, so the next commit starts the WAL over.
    pub fn checkpoint_passive(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(self.err("WAL checkpoint"))
    }

    /// Copies the WAL back into the main file and truncates it (done on shutdown so the
    /// database is a single self-contained file again).
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.err("WAL checkpoint"))
    }

    /// Number of rows in one of the store's tables.
    pub fn count(&self, table: &str) -> Result<u64, StoreError> {
        let known = [
            "packets",
            "alerts",
            "flows",
            "incidents",
            "actions",
            "reputation_cache",
            "capture_stats",
        ];
        let Some(table) = known.iter().find(|t| **t == table) else {
            return Err(StoreError::Sqlite {
                path: self.path.clone(),
                what: "count of an unknown table",
                source: rusqlite::Error::InvalidParameterName(table.to_string()),
            });
        };
        let sql = format!("SELECT COUNT(*) FROM {table}");
        self.conn
            .query_row(&sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.err("counting rows"))
    }
}

fn configure(conn: &Connection, path: &Path, opts: &StoreOptions) -> Result<(), StoreError> {
    let wrap = |what| sql_err(path, what);
    conn.busy_timeout(opts.busy_timeout)
        .map_err(wrap("setting busy_timeout"))?;
    // 16 KiB pages: fewer page splits and WAL frames per row than the default 4 KiB (about
    // a third less CPU per packet row). Only takes effect on a new, empty file.
    conn.execute_batch("PRAGMA page_size = 16384")
        .map_err(wrap("setting page_size"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(wrap("setting journal_mode=WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NotWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // NORMAL in WAL mode: a commit survives a process crash (the WAL is in the OS cache);
    // only a power loss can drop the last transactions, never corrupt the file. An 8 MiB
    // page cache holds the hot index pages (the indexes grow at their right edge, and a
    // larger cache only raised peak memory); checkpoints every 2000 pages (32 MiB of WAL)
    // copy a re-dirtied page back once rather than many times.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 2000;",
    )
    .map_err(wrap("setting pragmas"))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Wall-clock nanoseconds since the epoch (when a profile was saved).
fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn sql_err<'a>(
    path: &'a Path,
    what: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        what,
        source,
    }
}

fn retention_in(
    tx: &Transaction<'_>,
    opts: &StoreOptions,
    reference: Ts,
) -> rusqlite::Result<RetentionReport> {
    let mut report = RetentionReport::default();
    if let Some(secs) = opts.max_age_secs {
        let cutoff = reference.0.saturating_sub(Ts(0).plus_secs(secs).0);
        report.packets += delete_older(tx, "packets", "ts", cutoff)?;
        report.alerts += delete_older(tx, "alerts", "ts", cutoff)?;
        report.flows += delete_older(tx, "flows", "last_seen", cutoff)?;
    }
    if let Some(max) = opts.max_packets {
        report.packets += keep_newest(tx, "packets", max)?;
    }
    if let Some(max) = opts.max_alerts {
        report.alerts += keep_newest(tx, "alerts", max)?;
    }
    Ok(report)
}

fn delete_older(
    tx: &Transaction<'_>,
    table: &str,
    col: &str,
    cutoff: i64,
) -> rusqlite::Result<u64> {
    let sql = format!("DELETE FROM {table} WHERE {col} < ?1");
    Ok(tx.prepare_cached(&sql)?.execute([cutoff])? as u64)
}

/// Deletes all but the `max` rows with the highest ids (rowids grow with insertion).
fn keep_newest(tx: &Transaction<'_>, table: &str, max: u64) -> rusqlite::Result<u64> {
    let sql = if max == 0 {
        format!("DELETE FROM {table}")
    } else {
        // The id of the max-th newest row; everything below it goes.
        format!(
            "DELETE FROM {table} WHERE id < (SELECT id FROM {table} ORDER BY id DESC \
             LIMIT 1 OFFSET ?1)"
        )
    };
    let mut stmt = tx.prepare_cached(&sql)?;
    let n = if max == 0 {
        stmt.execute([])?
    } else {
        stmt.execute([int(max - 1)])?
    };
    Ok(n as u64)
}
