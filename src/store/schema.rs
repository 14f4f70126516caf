//! The database schema and its versioned migrations, applied when a store is opened.
//!
//! Called once per connection by `SqliteStore::open` on whichever thread opens the store.
//! The schema version lives in `PRAGMA user_version`; `MIGRATIONS[i]` takes a database from
//! version `i` to `i + 1`, each step in its own transaction together with the version bump,
//! so a crash mid-migration leaves the previous version intact. Never edit a released step:
//! append a new one.
//!
//! Conventions, for anyone querying the file with `sqlite3`:
//! - every `ts`, `first_seen`, `last_seen`, `fetched_at` is INTEGER **nanoseconds** since the
//!   Unix epoch (exact, and orders correctly); `datetime(ts / 1e9, 'unixepoch')` shows it;
//! - addresses are TEXT in their usual notation (`192.0.2.1`, `2001:db8::1`), protocols are
//!   the lower-case names of `Proto::name` (`tcp`, `udp`, `ipv6-icmp`, …);
//! - severities are TEXT `Low`, `Medium`, `High`, `Critical`;
//! - u64 identifiers (`flow_id`, `pcap_cnt`) are stored bit-for-bit as INTEGER (values above
//!   `i64::MAX` read back negative in SQL but round-trip exactly through this module);
//! - JSON columns (`evidence`, `destinations`, `raw`) hold TEXT JSON.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Schema version 1: the tables and the indexes the console queries need.
const V1: &str = r"
CREATE TABLE packets (
    id              INTEGER PRIMARY KEY,
    ts              INTEGER NOT NULL,
    pcap_cnt        INTEGER NOT NULL,
    iface           TEXT    NOT NULL,
    src_ip          TEXT,
    dst_ip          TEXT,
    src_port        INTEGER,
    dst_port        INTEGER,
    proto           TEXT    NOT NULL,
    length          INTEGER NOT NULL,
    tcp_flags       INTEGER,
    payload         BLOB,
    flow_id         INTEGER,
    threat_severity TEXT,
    threat_category TEXT,
    threat_rule     INTEGER
);
CREATE INDEX packets_ts ON packets(ts);
-- No index on packets(src_ip): addresses arrive in random order, so that index costs more
-- than the rest of the insert (about half the rate). A source's packets are found through
-- its flows (flows_src_ip) or alerts (alerts_src_ip), then by time range (packets_ts).
-- Partial: most packets carry no threat, and the console only asks for those that do.
CREATE INDEX packets_threat_severity ON packets(threat_severity) WHERE threat_severity IS NOT NULL;

CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    ts           INTEGER NOT NULL,
    signature_id INTEGER NOT NULL,
    description  TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    detector     TEXT    NOT NULL,
    pcap_cnt     INTEGER NOT NULL,
    flow_id      INTEGER,
    src_ip       TEXT,
    dst_ip       TEXT,
    src_port     INTEGER,
    dst_port     INTEGER,
    proto        TEXT    NOT NULL,
    explanation  TEXT    NOT NULL,
    evidence     TEXT
);
CREATE INDEX alerts_ts ON alerts(ts);
CREATE INDEX alerts_src_ip ON alerts(src_ip);

-- One row per ended flow (like an EVE flow event); flow ids restart with each run.
CREATE TABLE flows (
    id              INTEGER PRIMARY KEY,
    flow_id         INTEGER NOT NULL,
    community_id    TEXT    NOT NULL,
    proto           TEXT    NOT NULL,
    src_ip          TEXT    NOT NULL,
    src_port        INTEGER NOT NULL,
    dst_ip          TEXT    NOT NULL,
    dst_port        INTEGER NOT NULL,
    pkts_toserver   INTEGER NOT NULL,
    pkts_toclient   INTEGER NOT NULL,
    bytes_toserver  INTEGER NOT NULL,
    bytes_toclient  INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    end_reason      TEXT    NOT NULL
);
CREATE INDEX flows_community_id ON flows(community_id);
CREATE INDEX flows_src_ip ON flows(src_ip);
CREATE INDEX flows_last_seen ON flows(last_seen);

CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    alert_count  INTEGER NOT NULL DEFAULT 0,
    destinations TEXT    NOT NULL DEFAULT '[]',
    notes        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX incidents_source ON incidents(source);

-- Audit trail of responses; each row's hash covers its fields and prev_hash (a hash chain).
CREATE TABLE actions (
    id          INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    incident_id INTEGER,
    alert_id    INTEGER,
    command     TEXT,
    exit_status INTEGER,
    output      TEXT,
    outcome     TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX actions_target ON actions(target);

CREATE TABLE reputation_cache (
    ip         TEXT PRIMARY KEY,
    provider   TEXT    NOT NULL,
    score      INTEGER,
    reports    INTEGER,
    isp        TEXT,
    usage_type TEXT,
    country    TEXT,
    fetched_at INTEGER NOT NULL,
    raw        TEXT
);
";

/// Schema version 2: firewall state for responses (`blocks`: what nsm-tui put into the
/// firewall and until when, so blocks are re-applied after a firewall restart and removed on
/// exit), and each incident's alert references.
const V2: &str = r"
CREATE TABLE blocks (
    id          INTEGER PRIMARY KEY,
    addr        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    backend     TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER,
    active      INTEGER NOT NULL DEFAULT 1,
    temporary   INTEGER NOT NULL DEFAULT 1,
    offense     INTEGER NOT NULL DEFAULT 1,
    incident_id INTEGER,
    reason      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX blocks_active ON blocks(active, addr);
ALTER TABLE incidents ADD COLUMN alert_refs TEXT NOT NULL DEFAULT '[]';
CREATE INDEX actions_ts ON actions(ts);
";

/// Schema version 3: GeoIP of every address seen (one row per address, Logstash's field
/// names; `scope` is `public`, `private`, `loopback` …), and views that put it beside packets
/// and alerts.
const V3: &str = r"
CREATE TABLE ip_geo (
    ip               TEXT PRIMARY KEY,
    scope            TEXT    NOT NULL,
    country_iso_code TEXT,
    country_name     TEXT,
    city_name        TEXT,
    lat              REAL,
    lon              REAL,
    asn              INTEGER,
    as_org           TEXT,
    looked_up_at     INTEGER NOT NULL
);
CREATE VIEW packets_geo AS
    SELECT p.*, s.country_iso_code AS src_country, s.city_name AS src_city, s.asn AS src_asn,
           d.country_iso_code AS dst_country, d.city_name AS dst_city, d.asn AS dst_asn
    FROM packets p
    LEFT JOIN ip_geo s ON s.ip = p.src_ip
    LEFT JOIN ip_geo d ON d.ip = p.dst_ip;
CREATE VIEW alerts_geo AS
    SELECT a.*, s.country_iso_code AS src_country, s.city_name AS src_city, s.asn AS src_asn,
           d.country_iso_code AS dst_country, d.city_name AS dst_city, d.asn AS dst_asn
    FROM alerts a
    LEFT JOIN ip_geo s ON s.ip = a.src_ip
    LEFT JOIN ip_geo d ON d.ip = a.dst_ip;
";

/// Schema version 4: no index on `flows.community_id`. Its random keys made every flow row
/// rewrite a B-tree page somewhere in the index (about a fifth of the writer's time per flow);
/// looking a flow up by Community ID, an occasional analyst query, scans the table instead.
const V4: &str = r"
DROP INDEX IF EXISTS flows_community_id;
";

/// Schema version 5: capture health and confirm-or-rollback blocks.
///
/// `capture_stats` holds the pipeline's counters as the SQLite writer received them: one row
/// every few seconds while a run goes on and one when it ends (`run_ended = 1`). The counters
/// are totals since the run started, so the newest row of a `source` (an interface or a
/// capture file) is that run's health. Unlike the other tables, its `ts` is the wall-clock
/// time the counters were read, not a capture time: it tells when a run was, even one that
/// replayed an old file.
///
/// `blocks.pending_secs` marks a block applied with `--confirm-within`: the full duration
/// (0 = none) that `nsm-tui confirm` applies; `expires` is meanwhile the end of the window.
const V5: &str = r"
CREATE TABLE capture_stats (
    id            INTEGER PRIMARY KEY,
    ts            INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    packets       INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    kernel_drops  INTEGER NOT NULL,
    iface_drops   INTEGER NOT NULL,
    queue_drops   INTEGER NOT NULL,
    decode_errors INTEGER NOT NULL,
    db_drops      INTEGER NOT NULL,
    run_ended     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX capture_stats_source ON capture_stats(source, id);
CREATE INDEX capture_stats_ts ON capture_stats(ts);
ALTER TABLE blocks ADD COLUMN pending_secs INTEGER;
";

/// Schema version 6: what the statistical detectors learned, saved at the end of a run (and
/// as it goes) and loaded at the start of the next. `kind` is `host` (the key an address),
/// `population` (hosts in general) or `network` (all traffic); `profile` is the JSON of one
/// profile; `window_schema` the hash of the window features it was learned on (rows of
/// another schema are ignored); `updated` wall-clock nanoseconds.
const V6: &str = r"
CREATE TABLE profiles (
    key           TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL,
    window_schema TEXT    NOT NULL,
    windows       INTEGER NOT NULL,
    profile       TEXT    NOT NULL,
    updated       INTEGER NOT NULL
);
";

/// All migrations, in order. `MIGRATIONS.len()` is the schema version this code writes.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The schema version this build creates and understands.
pub fn current_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Reads `PRAGMA user_version`.
pub fn user_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            what: "reading user_version",
            source,
        })
}

/// Brings the database at `path` up to `migrations.len()`, refusing a database newer than
/// that. Returns the version it found. `path` is used only in error messages.
pub fn migrate(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<i64, StoreError> {
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let found = user_version(conn, path)?;
    if found > known {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (index, sql) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        apply_step(conn, sql, version).map_err(|source| StoreError::Migration {
            path: path.to_path_buf(),
            version,
            source,
        })?;
    }
    Ok(found)
}

fn apply_step(conn: &mut Connection, sql: &str, version: i64) -> rusqlite::Result<()> {
    // IMMEDIATE takes the write lock up front, so two processes opening a fresh file at
    // once serialise here instead of both trying to create the tables.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if now >= version {
        // Another process applied this step while we waited for the lock.
        return tx.commit();
    }
    tx.execute_batch(sql)?;
    // user_version lives in the database header and is written inside the transaction.
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_names(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn applies_steps_in_order_and_resumes() {
        let mut conn = Connection::open_in_memory().unwrap();
        let p = Path::new("mem.db");
        let steps = [
            "CREATE TABLE a (x);",
            "CREATE TABLE b (y); INSERT INTO a VALUES (1);",
        ];
        assert_eq!(migrate(&mut conn, p, &steps[..1]).unwrap(), 0);
        assert_eq!(user_version(&conn, p).unwrap(), 1);
        assert_eq!(migrate(&mut conn, p, &steps).unwrap(), 1);
        assert_eq!(user_version(&conn, p).unwrap(), 2);
        assert_eq!(table_names(&conn), ["a", "b"]);
        // Re-running is a no-op: step 2's INSERT must not run again.
        migrate(&mut conn, p, &steps).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM a", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn failed_step_rolls_back_with_its_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        let p = Path::new("mem.db");
        let steps = [
            "CREATE TABLE a (x);",
            "CREATE TABLE b (y); SELECT * FROM nope;",
        ];
        let err = migrate(&mut conn, p, &steps).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 2, .. }),
            "{err}"
        );
        assert_eq!(user_version(&conn, p).unwrap(), 1);
        assert_eq!(table_names(&conn), ["a"]);
    }

    #[test]
    fn refuses_newer_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        let err = migrate(&mut conn, Path::new("x.db"), MIGRATIONS).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("x.db")
                && msg.contains('7')
                && msg.contains(&current_version().to_string()),
            "{msg}"
        );
    }
}
