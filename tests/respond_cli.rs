//! The response commands on a database written by `nsm-tui read` (no root needed): incidents
//! list/show/ack/note, report and export agree with the tables, a dry-run block is audited,
//! and `audit verify` names the first row someone edited.

use std::path::Path;
use std::process::{Command, Output};

fn nsm(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("--db")
        .arg(db)
        .args(args)
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
