//! `nsm-tui read` end to end: the binary over real captures, checking EVE, SQLite, the pcap
//! log and the summary against each other and against tcpdump.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad EVE line {l:?}: {e}")))
        .collect()
}

fn of_type<'a>(ev: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    ev.iter().filter(|e| e["event_type"] == t).collect()
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "nsm-tui failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn read_writes_consistent_eve_sqlite_and_pcap_log() {
    let dir = tempfile::tempdir().unwrap();
    let (eve, db, plog) = (
        dir.path().join("eve.json"),
        dir.path().join("p.db"),
        dir.path().join("log.pcap"),
    );
    let out = common::nsm()
        .arg("read")
        .arg(common::demo())
        .arg("--eve")
        .arg(&eve)
        .arg("--db")
        .arg(&db)
        .arg("--pcap-log")
        .arg(&plog)
        .output()
        .unwrap();
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("packets:  3000 "), "{summary}");

    let ev = events(&std::fs::read_to_string(&eve).unwrap());
    let stats = of_type(&ev, "stats");
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["stats"]["decoder"]["pkts"], 3000);
    let flows = of_type(&ev, "flow");
    let flow_pkts: u64 = flows
        .iter()
        .map(|f| {
            f["flow"]["pkts_toserver"].as_u64().unwrap()
                + f["flow"]["pkts_toclient"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(
        flow_pkts, 3000,
        "every packet of the demo belongs to exactly one flow"
    );
    assert!(flows
        .iter()
        .all(|f| f["community_id"].as_str().unwrap().starts_with("1:")));
    assert!(!of_type(&ev, "dns").is_empty());
    let alerts = of_type(&ev, "alert");
    assert!(!alerts.is_empty());
    for a in &alerts {
        // An alert on a packet names it; one about a flow or a host's window (the learning
        // detectors) has no packet of its own.
        match a["pcap_cnt"].as_u64() {
            Some(n) => assert!(n >= 1),
            None => assert!(
                matches!(
                    a["alert"]["metadata"]["detector"][0].as_str(),
                    Some("statistical" | "behavioural" | "ml")
                ),
                "{a}"
            ),
        }
        assert!((1..=4).contains(&a["alert"]["severity"].as_u64().unwrap()));
    }

    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| -> u64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM packets"), 3000);
    assert_eq!(count("SELECT count(*) FROM alerts"), alerts.len() as u64);
    assert_eq!(count("SELECT count(*) FROM flows"), flows.len() as u64);
    assert!(count("SELECT count(*) FROM packets WHERE threat_severity IS NOT NULL") > 0);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");

    if common::need_tool("tcpdump") {
        assert_eq!(common::tcpdump_count(&plog), Some(3000));
    }
}

#[test]
fn eve_to_stdout_keeps_the_summary_off_it() {
    let out = common::nsm()
        .arg("read")
        .arg(common::demo())
        .args(["--eve", "-", "--no-db", "--no-pcap-log"])
        .output()
        .unwrap();
    let stderr = ok(&out);
    let ev = events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(of_type(&ev, "stats").len(), 1);
    assert!(stderr.contains("packets:  3000 "), "{stderr}");
}

#[test]
fn read_dash_takes_the_capture_from_standard_input() {
    // As `tcpdump -r -` does: `zcat x.pcap.gz | nsm-tui read -`.
    let out = common::nsm()
        .args(["read", "-", "--no-db", "--no-pcap-log"])
        .stdin(std::fs::File::open(common::demo()).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    ok(&out);
    assert!(stdout.contains("packets:  3000 "), "{stdout}");
}

#[test]
fn packet_limit_and_duration_are_honoured() {
    let out = common::nsm()
        .arg("read")
        .arg(common::demo())
        .args(["-c", "100", "--eve", "-", "--no-db", "--no-pcap-log"])
        .output()
        .unwrap();
    ok(&out);
    let ev = events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(of_type(&ev, "stats")[0]["stats"]["decoder"]["pkts"], 100);

    let out = common::nsm()
        .arg("read")
        .arg(common::demo())
        .args(["--duration", "2", "--eve", "-", "--no-db", "--no-pcap-log"])
        .output()
        .unwrap();
    ok(&out);
    let ev = events(&String::from_utf8_lossy(&out.stdout));
    let n = of_type(&ev, "stats")[0]["stats"]["decoder"]["pkts"]
        .as_u64()
        .unwrap();
    assert!(
        n > 0 && n < 3000,
        "two seconds of capture time are part of the 7-second demo, got {n}"
    );
}

#[test]
fn a_file_that_is_not_a_capture_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.txt");
    std::fs::write(&bad, "hello world, not a pcap").unwrap();
    let out = common::nsm()
        .arg("read")
        .arg(&bad)
        .args(["--no-db", "--no-pcap-log"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("not a pcap or pcapng file"),
        "{stderr}"
    );
    let out = common::nsm()
        .args(["read", "/nonexistent/x.pcap", "--no-db"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
}

#[test]
fn sigterm_mid_run_flushes_database_and_pcap_log() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    let gen = common::nsm()
        .args(["generate", "--packets", "400000", "--seed", "3", "--out"])
        .arg(&big)
        .output()
        .unwrap();
    ok(&gen);
    let (db, plog, eve) = (
        dir.path().join("s.db"),
        dir.path().join("s.pcap"),
        dir.path().join("s.json"),
    );
    let child = common::nsm()
        .arg("read")
        .arg(&big)
        .arg("--db")
        .arg(&db)
        .arg("--pcap-log")
        .arg(&plog)
        .arg("--eve")
        .arg(&eve)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    ok(&out);
    let ev = events(&std::fs::read_to_string(&eve).unwrap());
    let pkts = of_type(&ev, "stats")[0]["stats"]["decoder"]["pkts"]
        .as_u64()
        .unwrap();
    assert!(pkts > 0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: u64 = conn
        .query_row("SELECT count(*) FROM packets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        rows, pkts,
        "every analysed packet reached the database before exit"
    );
    if common::need_tool("tcpdump") {
        assert_eq!(
            common::tcpdump_count(&plog),
            Some(pkts),
            "the pcap log is complete"
        );
    }
}

#[test]
fn malformed_corpus_runs_to_the_end_without_a_panic() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let files = common::captures_under(&data.join("pcaps/malformed"));
    assert!(files.len() >= 290, "{} malformed captures", files.len());
    let mut unsupported_lines = 0;
    for f in &files {
        let out = common::nsm()
            .arg("read")
            .arg(f)
            .args(["--no-db", "--no-pcap-log", "--eve", "-"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked"),
            "{}: {stderr}",
            f.display()
        );
        let ev = events(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(of_type(&ev, "stats").len(), 1, "{}", f.display());
        let warnings = stderr
            .lines()
            .filter(|l| l.contains("which nsm-tui does not decode"))
            .count();
        assert!(
            warnings <= 1,
            "{}: one line per unsupported link type: {stderr}",
            f.display()
        );
        unsupported_lines += warnings;
    }
    assert!(
        unsupported_lines > 0,
        "the corpus has link types nsm-tui does not decode"
    );
}

#[test]
fn every_linktype_capture_decodes_its_ip_packets() {
    let Some(data) = common::shared_data() else {
        return;
    };
    if !common::need_tool("tcpdump") {
        return;
    }
    let files = common::captures_under(&data.join("pcaps/linktypes"));
    if !common::prerequisite(
        !files.is_empty(),
        "the shared captures under pcaps/linktypes",
    ) {
        return;
    }
    // Captures tcpdump cannot read have no count to compare with: counted and named below.
    let mut uncounted = Vec::new();
    for f in files {
        let out = common::nsm()
            .arg("read")
            .arg(&f)
            .args(["--no-db", "--no-pcap-log", "--eve", "-"])
            .output()
            .unwrap();
        ok(&out);
        let ev = events(&String::from_utf8_lossy(&out.stdout));
        let d = &of_type(&ev, "stats")[0]["stats"]["decoder"];
        let pkts = d["pkts"].as_u64().unwrap();
        match common::tcpdump_count(&f) {
            Some(expected) => assert_eq!(pkts, expected, "{}", f.display()),
            None => uncounted.push(f.display().to_string()),
        }
        let invalid = d["invalid"].as_u64().unwrap();
        assert!(
            invalid * 10 <= pkts,
            "{}: {invalid} of {pkts} invalid",
            f.display()
        );
    }
    common::note(&format!(
        "read_cli: {} link-type captures not compared with tcpdump, which cannot read them{}",
        uncounted.len(),
        uncounted
            .iter()
            .map(|f| format!("\n  {f}"))
            .collect::<String>()
    ));
}

/// `read` of the demo capture into `eve` (no database, no pcap log), with `config` as the
/// configuration file's text when given; its EVE events.
fn demo_eve(dir: &Path, eve: &Path, config: Option<&str>) -> Vec<serde_json::Value> {
    let _ = std::fs::remove_file(eve);
    let mut c = common::nsm();
    if let Some(text) = config {
        let path = dir.join("c.toml");
        std::fs::write(&path, text).unwrap();
        c.arg("--config").arg(path);
    }
    let out = c
        .arg("read")
        .arg(common::demo())
        .args(["--no-db", "--no-pcap-log", "--eve"])
        .arg(eve)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&std::fs::read_to_string(eve).unwrap())
}

/// Flow ids are unique across runs (as Suricata's are): two reads of the same capture share
/// none, while within each run every flow's events carry one id.
#[test]
fn two_runs_share_no_flow_id() {
    let dir = tempfile::tempdir().unwrap();
    let ids = |name: &str| -> std::collections::HashSet<u64> {
        let ev = demo_eve(dir.path(), &dir.path().join(name), None);
        let flows = of_type(&ev, "flow");
        let ids: std::collections::HashSet<u64> = flows
            .iter()
            .map(|f| f["flow_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids.len(), flows.len(), "a flow id repeats within one run");
        // Every alert names a flow of the same run.
        for a in of_type(&ev, "alert") {
            if let Some(id) = a["flow_id"].as_u64() {
                assert!(
                    ids.contains(&id),
                    "alert names flow {id}, not a flow of its run"
                );
            }
        }
        ids
    };
    let (a, b) = (ids("a.json"), ids("b.json"));
    assert!(a.len() > 100, "{} flows", a.len());
    assert_eq!(a.len(), b.len());
    assert!(
        a.is_disjoint(&b),
        "{} flow ids in both runs",
        a.intersection(&b).count()
    );
}

/// Every EVE event names the sensor in `host`, as Suricata's do: `[output] sensor_name`, else
/// this machine's host name.
#[test]
fn eve_events_name_the_sensor() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = |config: Option<&str>| -> std::collections::BTreeSet<String> {
        demo_eve(dir.path(), &dir.path().join("eve.json"), config)
            .iter()
            .map(|e| e["host"].as_str().unwrap_or("(none)").to_string())
            .collect()
    };
    let named = hosts(Some("[output]\nsensor_name = \"sensor-7\"\n"));
    assert_eq!(named, ["sensor-7".to_string()].into());
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(hosts(None), [machine.trim().to_string()].into());
    assert_eq!(
        hosts(Some("[output]\nsensor_name = \"\"\n")),
        ["(none)".to_string()].into()
    );
}
