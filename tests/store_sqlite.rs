//! The SQLite store against a real database file: migrations, refusal of newer schemas,
//! batched writes, retention, indexes and the writer thread.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nsm_tui::engine::alert::{Alert, Detector, RuleId, Severity};
use nsm_tui::engine::frame::Ts;
use nsm_tui::engine::packet::Proto;
use nsm_tui::engine::record::{PacketRow, ThreatRef};
use nsm_tui::store::rows::CaptureStatsRow;
use nsm_tui::store::schema::{current_version, MIGRATIONS};
use nsm_tui::store::{
    spawn_writer, AlertRow, FlowRow, SqliteStore, StoreError, StoreMsg, StoreOptions,
};
use rusqlite::Connection;

fn packet(i: u64) -> PacketRow {
    let v6 = i % 5 == 0;
    let src = if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0,
            0,
            0,
            0,
            (i % 100) as u16,
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, (i / 256 % 256) as u8, (i % 256) as u8))
    };
    PacketRow {
        ts: Ts::from_parts(
            1_700_000_000 + (i / 10) as i64,
            (i % 10) as u32 * 100_000_000 + 7,
        ),
        pcap_cnt: i + 1,
        iface: Arc::from("eth0"),
        src: Some(src),
        dst: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        src_port: Some(40_000 + (i % 1000) as u16),
        dst_port: Some(443),
        proto: Proto::Tcp,
        length: 60 + (i % 1400) as u32,
        tcp_flags: Some(0x12),
        payload: vec![(i % 251) as u8; (i % 64) as usize],
        flow_id: Some(i / 3),
        threat: (i % 7 == 0).then(|| ThreatRef {
            rule: RuleId(9_000_001),
            severity: Severity::High,
            category: Arc::from("scan"),
        }),
    }
}

fn alert_row(i: u64) -> AlertRow {
    let alert = Alert {
        ts: Ts::from_parts(1_700_000_000 + i as i64, 0),
        rule: RuleId(9_000_000 + i),
        description: Arc::from("port scan"),
        severity: Severity::Critical,
        category: Arc::from("scan"),
        detector: Detector::Heuristic,
        packet: i + 1,
        flow_id: Some(u64::MAX - i),
        explanation: format!("{i} ports in 10 s"),
        evidence: serde_json::json!({ "ports": i }),
    };
    AlertRow::for_packet(alert, &packet(i))
}

fn flow_row(i: u64) -> FlowRow {
    FlowRow {
        flow_id: i,
        community_id: format!("1:flow{i}="),
        proto: nsm_tui::engine::packet::Proto::Udp,
        src: IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1)),
        src_port: 5353,
        dst: IpAddr::V6(Ipv6Addr::LOCALHOST),
        dst_port: 53,
        pkts_toserver: 3,
        pkts_toclient: 2,
        bytes_toserver: 300,
        bytes_toclient: 200,
        state: "closed",
        first_ts: Ts::from_parts(1_700_000_000 + i as i64, 0),
        last_ts: Ts::from_parts(1_700_000_010 + i as i64, 0),
        reason: "timeout",
    }
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn names(conn: &Connection, kind: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = ?1 ORDER BY name")
        .unwrap();
    let rows = stmt.query_map([kind], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn fresh_database_is_migrated_and_reopening_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The store creates no directory but the data directory.
    std::fs::create_dir_all(dir.path().join("nested/deeper")).unwrap();
    let path = dir.path().join("nested/deeper/packets.db");
    let opts = StoreOptions::default();
    let mut store = SqliteStore::open(&path, &opts).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let tables = names(store.connection(), "table");
    for t in [
        "actions",
        "alerts",
        "capture_stats",
        "flows",
        "incidents",
        "packets",
        "reputation_cache",
    ] {
        assert!(
            tables.contains(&t.to_string()),
            "missing table {t} in {tables:?}"
        );
    }
    let mode: String = store
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = store
        .connection()
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "synchronous should be NORMAL");
    store.write_packets(&[packet(1), packet(2)]).unwrap();
    let indexes = names(store.connection(), "index");
    drop(store);

    let store = SqliteStore::open(&path, &opts).unwrap();
    assert_eq!(store.schema_version().unwrap(), current_version());
    assert_eq!(names(store.connection(), "table"), tables);
    assert_eq!(names(store.connection(), "index"), indexes);
    assert_eq!(store.count("packets").unwrap(), 2);
}

#[test]
fn newer_schema_is_refused_naming_file_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path, &StoreOptions::default()).unwrap());
    let newer = current_version() + 5;
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();

    let Err(err) = SqliteStore::open(&path, &StoreOptions::default()) else {
        panic!("a database at version {newer} must not open");
    };
    assert!(
        matches!(err, StoreError::NewerSchema { found, known, .. }
            if found == newer && known == current_version()),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("future.db"), "{msg}");
    assert!(msg.contains(&newer.to_string()), "{msg}");
    assert!(msg.contains(&current_version().to_string()), "{msg}");
}

#[test]
fn counts_and_values_match_rows_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("t.db"), &StoreOptions::default()).unwrap();
    let packets: Vec<PacketRow> = (0..5_000).map(packet).collect();
    let alerts: Vec<AlertRow> = (0..37).map(alert_row).collect();
    let flows: Vec<FlowRow> = (0..11).map(flow_row).collect();
    store.write_packets(&packets[..3_000]).unwrap();
    store.write_packets(&packets[3_000..]).unwrap();
    store.write_alerts(&alerts).unwrap();
    store.write_flows(&flows).unwrap();
    store.write_packets(&[]).unwrap();

    let conn = store.connection();
    assert_eq!(count(conn, "packets"), 5_000);
    assert_eq!(count(conn, "alerts"), 37);
    assert_eq!(count(conn, "flows"), 11);
    let threats: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM packets WHERE threat_severity = 'High'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        threats,
        packets.iter().filter(|p| p.threat.is_some()).count() as i64
    );

    // Row 35 (pcap_cnt 36) is v6 and carries a threat: check every column's encoding.
    let p = &packets[35];
    let row: (i64, String, Option<String>, i64, Vec<u8>, i64, String, i64) = conn
        .query_row(
            "SELECT ts, proto, src_ip, src_port, payload, flow_id, threat_category, threat_rule \
             FROM packets WHERE pcap_cnt = 36",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(row.0, p.ts.0);
    assert_eq!(row.1, "tcp");
    assert_eq!(row.2, p.src.map(|a| a.to_string()));
    assert_eq!(row.3, i64::from(p.src_port.unwrap()));
    assert_eq!(row.4, p.payload);
    assert_eq!(row.5 as u64, p.flow_id.unwrap());
    assert_eq!(row.6, "scan");
    assert_eq!(row.7, 9_000_001);

    // u64 ids above i64::MAX round-trip bit for bit.
    let flow_id: i64 = conn
        .query_row("SELECT flow_id FROM alerts WHERE pcap_cnt = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(flow_id as u64, u64::MAX);
    let evidence: String = conn
        .query_row("SELECT evidence FROM alerts WHERE pcap_cnt = 5", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&evidence).unwrap()["ports"],
        4
    );
}

fn pcap_cnts(conn: &Connection, table: &str) -> (i64, i64) {
    conn.query_row(
        &format!("SELECT MIN(pcap_cnt), MAX(pcap_cnt) FROM {table}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn retention_by_count_keeps_the_newest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_packets: Some(100),
        max_alerts: Some(10),
        ..StoreOptions::default()
    };
    let mut store = SqliteStore::open(&dir.path().join("t.db"), &opts).unwrap();
    let packets: Vec<PacketRow> = (0..250).map(packet).collect();
    store.write_packets(&packets).unwrap();
    store
        .write_alerts(&(0..25).map(alert_row).collect::<Vec<_>>())
        .unwrap();

    let report = store.apply_retention(Ts(0)).unwrap();
    assert_eq!((report.packets, report.alerts), (150, 15));
    assert_eq!(count(store.connection(), "packets"), 100);
    assert_eq!(pcap_cnts(store.connection(), "packets"), (151, 250));
    assert_eq!(pcap_cnts(store.connection(), "alerts"), (16, 25));

    // Under the limit nothing more goes.
    let report = store.apply_retention(Ts(0)).unwrap();
    assert_eq!((report.packets, report.alerts), (0, 0));
}

#[test]
fn retention_by_age_is_measured_from_the_reference_time() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_age_secs: Some(10),
        ..StoreOptions::default()
    };
    let mut store = SqliteStore::open(&dir.path().join("t.db"), &opts).unwrap();
    // packet(i).ts = 1_700_000_000 + i/10 s, so 10 packets per second over 100 s.
    store
        .write_packets(&(0..1_000).map(packet).collect::<Vec<_>>())
        .unwrap();
    store
        .write_flows(&(0..100).map(flow_row).collect::<Vec<_>>())
        .unwrap();

    let newest = Ts::from_parts(1_700_000_099, 900_000_007);
    store.apply_retention(newest).unwrap();
    let conn = store.connection();
    let cutoff = newest.0 - 10 * Ts::NANOS_PER_SEC;
    let (oldest, n): (i64, i64) = conn
        .query_row("SELECT MIN(ts), COUNT(*) FROM packets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(oldest >= cutoff, "oldest {oldest} before cutoff {cutoff}");
    let expected = (0..1_000).filter(|i| packet(*i).ts.0 >= cutoff).count() as i64;
    assert_eq!(n, expected);
    let flows_left = (0..100)
        .filter(|i| flow_row(*i).last_ts.0 >= cutoff)
        .count() as i64;
    assert_eq!(count(conn, "flows"), flows_left);
}

#[test]
fn console_queries_use_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), &StoreOptions::default()).unwrap();
    let indexes = names(store.connection(), "index");
    for name in [
        "packets_ts",
        "flows_src_ip",
        "packets_threat_severity",
        "alerts_ts",
        "alerts_src_ip",
    ] {
        assert!(
            indexes.contains(&name.to_string()),
            "missing {name} in {indexes:?}"
        );
    }
    let plan = |sql: &str| -> String {
        let mut stmt = store
            .connection()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    let q = plan("SELECT * FROM flows WHERE src_ip = '10.0.0.1'");
    assert!(q.contains("flows_src_ip"), "{q}");
    let q = plan("SELECT * FROM packets WHERE ts BETWEEN 1 AND 2");
    assert!(q.contains("packets_ts"), "{q}");
    let q = plan("SELECT * FROM packets WHERE threat_severity = 'High' ORDER BY id DESC");
    assert!(q.contains("packets_threat_severity"), "{q}");
    let q = plan("SELECT * FROM alerts WHERE ts > 5 ORDER BY ts");
    assert!(q.contains("alerts_ts"), "{q}");
    // Community ID lookups scan: its index cost more per flow row than the rare query saves.
    assert!(!indexes.contains(&"flows_community_id".to_string()));
}

#[test]
fn writer_thread_coalesces_flushes_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let opts = StoreOptions {
        batch_size: 1_000,
        batch_window: Duration::from_secs(5),
        ..StoreOptions::default()
    };
    let store = SqliteStore::open(&path, &opts).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(16);
    let handle = spawn_writer(store, rx);
    let reader = Connection::open(&path).unwrap();

    for chunk in (0..2_500).collect::<Vec<u64>>().chunks(100) {
        tx.send(StoreMsg::Packets(
            chunk.iter().copied().map(packet).collect(),
        ))
        .unwrap();
    }
    tx.send(StoreMsg::Alerts((0..3).map(alert_row).collect()))
        .unwrap();
    tx.send(StoreMsg::Flows((0..4).map(flow_row).collect()))
        .unwrap();
    let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
    tx.send(StoreMsg::Flush(ack_tx)).unwrap();
    ack_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Acknowledged means committed: another connection sees every row.
    assert_eq!(count(&reader, "packets"), 2_500);
    assert_eq!(count(&reader, "alerts"), 3);
    assert_eq!(count(&reader, "flows"), 4);

    tx.send(StoreMsg::Packets((2_500..2_600).map(packet).collect()))
        .unwrap();
    drop(tx);
    let summary = handle.join().unwrap().unwrap();
    assert_eq!(
        (summary.packets, summary.alerts, summary.flows),
        (2_600, 3, 4)
    );
    // 2,500 packets at batch_size 1,000 cannot go in fewer than 3 commits, plus the last.
    assert!((4..=27).contains(&summary.batches), "{summary:?}");
    assert_eq!(count(&reader, "packets"), 2_600);
    let wal = Path::new(&format!("{}-wal", path.display())).to_path_buf();
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        wal_len, 0,
        "WAL should be checkpointed and truncated on close"
    );
}

#[test]
fn writer_thread_applies_retention_with_capture_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let opts = StoreOptions {
        max_packets: Some(300),
        max_age_secs: Some(50),
        batch_size: 100,
        retention_every_batches: 1,
        ..StoreOptions::default()
    };
    let (tx, rx) = crossbeam_channel::bounded(4);
    let handle = spawn_writer(SqliteStore::open(&path, &opts).unwrap(), rx);
    for start in (0..1_000).step_by(100) {
        tx.send(StoreMsg::Packets(
            (start..start + 100).map(packet).collect(),
        ))
        .unwrap();
    }
    drop(tx);
    let summary = handle.join().unwrap().unwrap();
    assert_eq!(summary.packets, 1_000);
    let reader = Connection::open(&path).unwrap();
    // Packets span 100 s of capture time in 2023; age counts from the newest packet,
    // so the last 300 (30 s) survive rather than nothing.
    assert_eq!(count(&reader, "packets"), 300);
    assert_eq!(pcap_cnts(&reader, "packets"), (701, 1_000));
    assert_eq!(summary.retention_deleted, 700);
}

#[test]
fn writer_thread_writes_capture_stats_after_the_rows_they_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let (tx, rx) = crossbeam_channel::bounded(8);
    let handle = spawn_writer(
        SqliteStore::open(&path, &StoreOptions::default()).unwrap(),
        rx,
    );
    let row = |packets: u64, ended: bool| CaptureStatsRow {
        ts: 1_700_000_000_000_000_000 + packets as i64,
        source: "eth0".into(),
        packets,
        bytes: packets * 60,
        kernel_drops: 3,
        iface_drops: 1,
        queue_drops: 2,
        decode_errors: 4,
        db_drops: u64::MAX,
        run_ended: ended,
    };
    // A snapshot alone (no packets pending) is still written.
    tx.send(StoreMsg::CaptureStats(row(10, false))).unwrap();
    let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
    tx.send(StoreMsg::Flush(ack_tx)).unwrap();
    ack_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let reader = Connection::open(&path).unwrap();
    assert_eq!(count(&reader, "capture_stats"), 1);
    tx.send(StoreMsg::Packets((0..5).map(packet).collect()))
        .unwrap();
    tx.send(StoreMsg::CaptureStats(row(20, true))).unwrap();
    drop(tx);
    let summary = handle.join().unwrap().unwrap();
    assert_eq!((summary.packets, summary.capture_stats), (5, 2));
    let got: (String, i64, i64, i64, i64, i64, i64, i64, i64) = reader
        .query_row(
            "SELECT source, packets, bytes, kernel_drops, iface_drops, queue_drops, \
             decode_errors, db_drops, run_ended FROM capture_stats ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .unwrap();
    // u64 counters are stored bit-for-bit (u64::MAX reads back as -1 in SQL).
    assert_eq!(got, ("eth0".into(), 20, 1_200, 3, 1, 2, 4, -1, 1));
}

#[test]
fn version_4_database_upgrades_to_5_keeping_its_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    let mut conn = Connection::open(&path).unwrap();
    nsm_tui::store::schema::migrate(&mut conn, &path, &MIGRATIONS[..4]).unwrap();
    conn.execute(
        "INSERT INTO blocks (addr, kind, backend, created, expires) \
         VALUES ('198.51.100.4', 'block', 'nftables', 1, 2)",
        [],
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, &StoreOptions::default()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        nsm_tui::store::schema::current_version()
    );
    let (addr, pending): (String, Option<i64>) = store
        .connection()
        .query_row("SELECT addr, pending_secs FROM blocks", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((addr.as_str(), pending), ("198.51.100.4", None));
    assert_eq!(store.count("capture_stats").unwrap(), 0);
}

/// Throughput figure, not an assertion: run with
/// `cargo test --release --test store_sqlite -- --ignored --nocapture insert_rate`.
#[test]
#[ignore = "measurement; run by hand in release mode"]
fn insert_rate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rate.db");
    let (tx, rx) = crossbeam_channel::bounded(64);
    let handle = spawn_writer(
        SqliteStore::open(&path, &StoreOptions::default()).unwrap(),
        rx,
    );
    let total: u64 = 2_000_000;
    let batches: Vec<Vec<PacketRow>> = (0..total)
        .collect::<Vec<_>>()
        .chunks(1_000)
        .map(|c| c.iter().copied().map(packet).collect())
        .collect();
    let start = std::time::Instant::now();
    for b in batches {
        tx.send(StoreMsg::Packets(b)).unwrap();
    }
    drop(tx);
    let summary = handle.join().unwrap().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(summary.packets, total);
    println!(
        "{total} packet rows in {secs:.2} s = {:.0} rows/s ({} commits)",
        total as f64 / secs,
        summary.batches
    );
}
