//! Crash safety: a process writing packets is killed with SIGKILL mid-write; the database
//! must pass `integrity_check` and hold at least every batch the child reported committed.
//!
//! The child is this test binary itself, re-executed with `NSM_KILL9_CHILD_DB` set so that
//! `main` runs the write loop instead of the test. The target has `harness = false` (see
//! Cargo.toml), so the child's entry point is not a test of its own: `main` runs the one test,
//! [`sigkill_mid_write_leaves_a_sound_database`], and reports it the way libtest does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsm_tui::engine::frame::Ts;
use nsm_tui::engine::packet::Proto;
use nsm_tui::engine::record::PacketRow;
use nsm_tui::store::{SqliteStore, StoreOptions};
use rusqlite::Connection;

const CHILD_ENV: &str = "NSM_KILL9_CHILD_DB";
const BATCH: u64 = 5_000;
/// The child's `max_packets`; a whole number of batches.
const KEEP: u64 = 150_000;

fn packet(i: u64) -> PacketRow {
    PacketRow {
        ts: Ts::from_parts(
            1_700_000_000 + (i / 1000) as i64,
            (i % 1000) as u32 * 1_000_000,
        ),
        pcap_cnt: i + 1,
        iface: Arc::from("eth0"),
        src: Some(IpAddr::V4(Ipv4Addr::new(
            10,
            (i >> 16) as u8,
            (i >> 8) as u8,
            i as u8,
        ))),
        dst: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
        src_port: Some((i % 65_536) as u16),
        dst_port: Some(22),
        proto: Proto::Tcp,
        length: 1_514,
        tcp_flags: Some(0x18),
        payload: vec![0xab; 64],
        flow_id: Some(i / 10),
        threat: None,
    }
}

/// The child's side: writes batches forever, announcing each commit; never returns.
fn child_write_loop(db: &str) -> ! {
    let opts = StoreOptions {
        // Retention runs too, so the kill can land in a DELETE as well as an INSERT.
        max_packets: Some(KEEP),
        ..StoreOptions::default()
    };
    let mut store = SqliteStore::open(std::path::Path::new(db), &opts).unwrap();
    let mut written = 0u64;
    loop {
        let rows: Vec<PacketRow> = (written..written + BATCH).map(packet).collect();
        store.write_packets(&rows).unwrap();
        written += BATCH;
        if written % (BATCH * 20) == 0 {
            store.apply_retention(Ts(0)).unwrap();
        }
        // Printed only after the commit returned: rows up to this pcap_cnt are durable.
        println!("committed {written}");
    }
}

fn last_committed(lines: &[String]) -> u64 {
    lines
        .iter()
        .rev()
        .filter_map(|l| l.strip_prefix("committed "))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn sigkill_mid_write_leaves_a_sound_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill9.db");
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = crossbeam_channel::unbounded();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });

    // Let it get well into the loop (past the first retention), then kill it at once.
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while last_committed(&lines) < BATCH * 45 && Instant::now() < deadline {
        if let Ok(line) = line_rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
    }
    let before_kill = last_committed(&lines);
    assert!(before_kill > 0, "child never committed; output: {lines:?}");
    // A varying delay so that, run after run, the kill lands in different places: building
    // rows, inserting, committing, checkpointing, deleting.
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        % 400_000;
    std::thread::sleep(Duration::from_micros(u64::from(jitter)));
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "child should have died from the signal: {status:?}"
    );
    reader.join().unwrap();
    lines.extend(line_rx.try_iter());
    let committed = last_committed(&lines);

    // Open the file as a crash-recovering reader would.
    let conn = Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let (n, newest): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(MAX(pcap_cnt), 0) FROM packets",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (n, newest) = (n as u64, newest as u64);
    assert!(
        newest >= committed,
        "newest row is pcap_cnt {newest} but the child reported {committed} committed"
    );
    // Retention may have trimmed old rows, never below its limit.
    assert!(
        n >= committed.min(KEEP),
        "{n} rows survived; the child reported {committed} committed, keeping {KEEP}"
    );
    // Whole batches only: a transaction is never half applied.
    assert_eq!(n % BATCH, 0, "{n} rows is not a whole number of batches");
    assert_eq!(newest % BATCH, 0, "newest pcap_cnt {newest} is mid-batch");
    println!(
        "killed after {before_kill} reported; {committed} committed; {newest} newest; {n} rows"
    );
    drop(conn);
    // And the store itself reopens and keeps writing.
    let mut store = SqliteStore::open(&db, &StoreOptions::default()).unwrap();
    store.write_packets(&[packet(0)]).unwrap();
    assert_eq!(store.count("packets").unwrap(), n + 1);
}

const TEST_NAME: &str = "sigkill_mid_write_leaves_a_sound_database";

/// Whether the libtest-style arguments `cargo test` passes select [`TEST_NAME`]: positional
/// filters (substrings, or whole names with `--exact`), `--skip`, and `--ignored` (nothing here
/// is ignored). Other flags (`--test-threads`, `--nocapture`, ...) do not change what runs.
fn selected(args: &[String]) -> bool {
    let (mut filters, mut skips, mut exact, mut ignored) = (Vec::new(), Vec::new(), false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--exact" => exact = true,
            "--ignored" => ignored = true,
            "--skip" => skips.extend(it.next().cloned()),
            // Flags that take their value as the next argument.
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" | "--shuffle-seed" => {
                it.next();
            }
            f if f.starts_with('-') => {}
            f => filters.push(f.to_string()),
        }
    }
    let hit = |f: &String| {
        if exact {
            f == TEST_NAME
        } else {
            TEST_NAME.contains(f.as_str())
        }
    };
    !ignored && (filters.is_empty() || filters.iter().any(hit)) && !skips.iter().any(hit)
}

fn main() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child_write_loop(&db);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if selected(&args) {
            println!("{TEST_NAME}: test");
        }
        return;
    }
    if !selected(&args) {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out\n");
        return;
    }
    println!("\nrunning 1 test");
    let outcome = std::panic::catch_unwind(sigkill_mid_write_leaves_a_sound_database);
    if outcome.is_ok() {
        println!("test {TEST_NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
    } else {
        println!("test {TEST_NAME} ... FAILED\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n");
        std::process::exit(101);
    }
}
