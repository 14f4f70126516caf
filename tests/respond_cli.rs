//! The response commands on a database written by `nsm-tui read` (no root needed): incidents
//! list/show/ack/note, report and export agree with the tables, the report's capture health
//! matches the capture, dry-run blocks, confirm-within blocks and resets are audited, and
//! `audit verify` names the first row someone edited.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::path::Path;
use std::process::{Command, Output};

fn nsm(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("DRY_RUN")
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_CLIENT")
        .output()
        .expect("running nsm-tui")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn demo_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("demo.db");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let o = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&fixture)
        .arg("--db")
        .arg(&db)
        .arg("--no-pcap-log")
        .output()
        .expect("nsm-tui read");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    db
}

#[test]
fn incidents_report_and_export_agree_with_the_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = demo_db(dir.path());
    let conn = rusqlite::Connection::open(&db).expect("db");
    let q = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    let incidents = q("SELECT COUNT(*) FROM incidents");
    assert!(incidents > 0, "reading the demo capture made no incidents");
    // Every alert with a source belongs to exactly one incident's count.
    assert_eq!(
        q("SELECT SUM(alert_count) FROM incidents"),
        q("SELECT COUNT(*) FROM alerts")
    );
    // Severity of an incident is the highest of its source's alerts in that category.
    let mismatched = q("SELECT COUNT(*) FROM incidents i WHERE i.severity <> (SELECT a.severity FROM alerts a \
         WHERE a.src_ip = i.source AND a.category = i.category AND a.ts BETWEEN i.first_seen AND i.last_seen \
         ORDER BY CASE a.severity WHEN 'Critical' THEN 4 WHEN 'High' THEN 3 WHEN 'Medium' THEN 2 ELSE 1 END DESC LIMIT 1)");
    assert_eq!(mismatched, 0);

    let list = stdout(&nsm(&db, &["incidents", "list", "--format", "json"]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&list).expect("json list");
    assert_eq!(rows.len() as i64, incidents);
    let id = rows[0]["id"].as_i64().expect("id");
    let level = rows[0]["level"].as_str().expect("level");
    assert!(["INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level));

    stdout(&nsm(&db, &["incidents", "ack", &id.to_string()]));
    stdout(&nsm(
        &db,
        &["incidents", "note", &id.to_string(), "looked at it"],
    ));
    let shown = stdout(&nsm(&db, &["incidents", "show", &id.to_string()]));
    assert!(
        shown.contains("acknowledged") && shown.contains("looked at it"),
        "{shown}"
    );
    let again = nsm(&db, &["incidents", "ack", &id.to_string()]);
    assert!(
        !again.status.success(),
        "acknowledging twice should be refused"
    );

    let report: serde_json::Value = serde_json::from_str(&stdout(&nsm(
        &db,
        &["report", "--since", "0", "--format", "json"],
    )))
    .expect("json report");
    assert_eq!(
        report["alerts"].as_i64(),
        Some(q("SELECT COUNT(*) FROM alerts"))
    );
    let by_sev: i64 = report["incidents_by_severity"]
        .as_object()
        .expect("map")
        .values()
        .filter_map(serde_json::Value::as_i64)
        .sum();
    assert_eq!(by_sev, incidents);
    assert_eq!(
        report["incidents_by_state"]["acknowledged"].as_i64(),
        Some(1)
    );

    let export: serde_json::Value =
        serde_json::from_str(&stdout(&nsm(&db, &["export", "--format", "json"])))
            .expect("json export");
    assert_eq!(
        export["incidents"].as_array().map(Vec::len),
        Some(incidents as usize)
    );
    assert_eq!(
        export["alerts"].as_array().map(Vec::len),
        Some(q("SELECT COUNT(*) FROM alerts") as usize)
    );
}

#[test]
fn dry_run_blocks_are_audited_and_tampering_shows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("audit.db");
    for addr in ["198.51.100.7", "198.51.100.8", "203.0.113.9"] {
        let out = stdout(&nsm(&db, &["block", addr, "--for", "10m"]));
        assert!(
            out.contains("would run: nft") && out.contains("dry run"),
            "{out}"
        );
    }
    let refused = nsm(&db, &["block", "192.168.1.1"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("private"));
    let ok = stdout(&nsm(&db, &["audit", "verify"]));
    assert!(ok.contains("4 rows"), "{ok}");

    let conn = rusqlite::Connection::open(&db).expect("db");
    conn.execute(
        "UPDATE actions SET target = '198.51.100.99' WHERE id = 2",
        [],
    )
    .expect("tamper");
    let broken = nsm(&db, &["audit", "verify"]);
    assert!(!broken.status.success());
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("broken at row 2"), "{err}");
}

/// Records in a little-endian classic pcap file (the fixture's format), counted by hand so
/// the test does not trust nsm-tui's own reader.
fn pcap_records(path: &Path) -> u64 {
    let bytes = std::fs::read(path).expect("reading the capture");
    assert!(
        matches!(
            &bytes[..4],
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]
        ),
        "not a little-endian pcap"
    );
    let mut at = 24;
    let mut n = 0;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        at += 16 + caplen as usize;
        n += 1;
    }
    assert_eq!(at, bytes.len(), "capture ends mid-record");
    n
}

#[test]
fn report_shows_capture_health_of_a_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = demo_db(dir.path());
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let expected = pcap_records(&fixture);
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&nsm(&db, &["report", "--format", "json"])))
            .expect("json report");
    let health = report["capture_health"].as_array().expect("capture_health");
    assert_eq!(health.len(), 1, "{health:?}");
    let h = &health[0];
    assert!(
        h["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("demo_attacks.pcap")),
        "{h}"
    );
    assert_eq!(h["packets"].as_u64(), Some(expected), "{h}");
    assert_eq!(h["run_ended"].as_bool(), Some(true), "{h}");
    for k in [
        "kernel_drops",
        "iface_drops",
        "queue_drops",
        "decode_errors",
        "db_drops",
    ] {
        assert_eq!(h[k].as_i64(), Some(0), "{k} in {h}");
    }
    let text = stdout(&nsm(&db, &["report"]));
    assert!(text.contains("capture health"), "{text}");
    assert!(
        text.contains(&format!("packets seen {expected},")),
        "{text}"
    );
    assert!(
        text.contains("drops: kernel 0, interface 0, queue 0; decode errors 0; database backlog 0"),
        "{text}"
    );
}

fn outcomes(db: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).expect("db");
    let mut st = conn
        .prepare("SELECT action, outcome FROM actions ORDER BY id")
        .expect("query");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}

#[test]
fn dry_run_resets_and_confirm_windows_are_audited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("reset.db");
    let out = stdout(&nsm(&db, &["reset", "198.51.100.7"]));
    assert!(
        out.contains("would run: ss -K -t -n dst 198.51.100.7\nss -K -t -n src 198.51.100.7"),
        "{out}"
    );
    assert!(out.contains("dry run: would reset"), "{out}");
    let refused = nsm(&db, &["reset", "10.0.0.9"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("private"));

    let out = stdout(&nsm(
        &db,
        &[
            "block",
            "198.51.100.8",
            "--confirm-within",
            "30s",
            "--for",
            "1h",
        ],
    ));
    assert!(
        out.contains("timeout 30s") && out.contains("awaiting confirmation, then 3600 s"),
        "{out}"
    );
    // A dry run records no block, so there is nothing to confirm.
    let confirm = nsm(&db, &["confirm", "198.51.100.8"]);
    assert!(!confirm.status.success());
    assert!(
        String::from_utf8_lossy(&confirm.stderr).contains("awaits confirmation"),
        "{}",
        String::from_utf8_lossy(&confirm.stderr)
    );
    let bad = nsm(&db, &["block", "198.51.100.8", "--confirm-within", "soon"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--confirm-within"));

    // [response] confirm_within_secs makes a window the default; 0 on the command line
    // turns it off again.
    let cfg = dir.path().join("confirm.toml");
    std::fs::write(&cfg, "[response]\nconfirm_within_secs = 20\n").expect("config");
    let with_cfg = |args: &[&str]| {
        let mut a = vec!["--config", cfg.to_str().expect("utf-8 path")];
        a.extend_from_slice(args);
        stdout(&nsm(&db, &a))
    };
    assert!(with_cfg(&["block", "198.51.100.9"]).contains("timeout 20s"));
    let off = with_cfg(&[
        "block",
        "198.51.100.9",
        "--confirm-within",
        "0",
        "--for",
        "5m",
    ]);
    assert!(
        off.contains("timeout 300s") && !off.contains("awaiting"),
        "{off}"
    );

    let want: Vec<(String, String)> = [
        ("reset", "dry_run"),
        ("reset", "refused"),
        ("block", "dry_run"),
        ("confirm", "failed"),
        ("block", "dry_run"),
        ("block", "dry_run"),
    ]
    .iter()
    .map(|(a, o)| ((*a).to_string(), (*o).to_string()))
    .collect();
    assert_eq!(outcomes(&db), want);
    assert!(stdout(&nsm(&db, &["audit", "verify"])).contains("6 rows"));
}

#[test]
fn a_zero_block_is_refused_and_a_long_one_capped_at_max_block_secs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dur.db");
    let zero = nsm(&db, &["block", "198.51.100.7", "--for", "0"]);
    assert!(!zero.status.success());
    let err = String::from_utf8_lossy(&zero.stderr);
    assert!(
        err.contains("--for 0") && err.contains("at least 1 s"),
        "{err}"
    );
    let month = stdout(&nsm(&db, &["block", "198.51.100.7", "--for", "30d"]));
    assert!(month.contains("for 604800 s"), "{month}");
    assert!(!month.contains("2592000"), "{month}");

    // A policy rule of 0 s is refused when automatic response starts.
    let cfg = dir.path().join("zero.toml");
    std::fs::write(
        &cfg,
        "[response]\nauto_response_enabled = true\npolicy = [\"*:High:block:0\"]\n",
    )
    .expect("config");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let o = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&fixture)
        .arg("--config")
        .arg(&cfg)
        .args(["--no-db", "--no-pcap-log"])
        .env_remove("DRY_RUN")
        .output()
        .expect("nsm-tui read");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("seconds \"0\""), "{err}");
}

#[test]
fn ipv4_mapped_addresses_are_refused_and_recorded_as_ipv4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("mapped.db");
    for refused in ["::ffff:127.0.0.1", "::ffff:192.168.1.1"] {
        let o = nsm(&db, &["block", refused, "--for", "10m"]);
        assert!(!o.status.success(), "{refused} was not refused");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("refused"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let out = stdout(&nsm(&db, &["block", "::ffff:198.51.100.7", "--for", "10m"]));
    assert!(!out.contains("::ffff"), "{out}");
    let conn = rusqlite::Connection::open(&db).expect("db");
    let targets: Vec<String> = conn
        .prepare("SELECT target FROM actions ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(Result::unwrap)
        .collect();
    assert_eq!(targets, ["127.0.0.1", "192.168.1.1", "198.51.100.7"]);
}

/// A reason or note as a hostile user could store it: a colour change, a cleared line and a
/// forged second line.
const HOSTILE: &str = "scan\u{1b}[31m\u{1b}[2K\nFORGED 203.0.113.1 unblocked";

fn assert_inert(out: &str) {
    assert!(
        !out.contains('\u{1b}'),
        "an escape reached the terminal: {out:?}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("FORGED")),
        "a stored newline forged a line: {out:?}"
    );
    assert!(out.contains("\\u{1b}[31m"), "{out:?}");
}

#[test]
fn control_characters_in_stored_text_never_reach_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = demo_db(dir.path());
    // A recorded block whose reason came from `--reason` (a dry run records none).
    let conn = rusqlite::Connection::open(&db).expect("db");
    conn.execute(
        "INSERT INTO blocks (addr, kind, backend, created, expires, reason) \
         VALUES ('198.51.100.9', 'block', 'nftables', 1, NULL, ?1)",
        [HOSTILE],
    )
    .expect("insert");
    let listed = stdout(&nsm(&db, &["blocks", "list"]));
    assert_inert(&listed);

    let id: i64 = conn
        .query_row("SELECT MIN(id) FROM incidents", [], |r| r.get(0))
        .expect("incident");
    stdout(&nsm(&db, &["incidents", "note", &id.to_string(), HOSTILE]));
    let shown = stdout(&nsm(&db, &["incidents", "show", &id.to_string()]));
    assert_inert(&shown);
}

#[test]
fn deleting_the_newest_audit_rows_or_all_of_them_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("anchor.db");
    for addr in ["198.51.100.7", "198.51.100.8", "203.0.113.9"] {
        stdout(&nsm(&db, &["block", addr, "--for", "10m"]));
    }
    let anchor = dir.path().join("anchor.db.audit-anchor");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&anchor)
            .expect("anchor file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(stdout(&nsm(&db, &["audit", "verify"])).contains("3 rows"));

    let conn = rusqlite::Connection::open(&db).expect("db");
    conn.execute("DELETE FROM actions WHERE id = 3", [])
        .expect("delete the newest row");
    let v = nsm(&db, &["audit", "verify"]);
    assert!(
        !v.status.success(),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(err.contains("newest rows were deleted"), "{err}");

    conn.execute("DELETE FROM actions", [])
        .expect("delete every row");
    let v = nsm(&db, &["audit", "verify"]);
    assert!(
        !v.status.success(),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(err.contains("every row was deleted"), "{err}");

    // Without its anchor the table cannot prove it is whole.
    std::fs::remove_file(&anchor).expect("remove anchor");
    stdout(&nsm(&db, &["block", "198.51.100.10", "--for", "10m"]));
    std::fs::remove_file(&anchor).expect("remove anchor");
    let v = nsm(&db, &["audit", "verify"]);
    assert!(!v.status.success());
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("is missing"),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
}
