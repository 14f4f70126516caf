//! The log on standard error: information by default, `-v` adds debug events, `-q` keeps only
//! warnings and errors, `--log-format json` writes one JSON object per line, and under systemd
//! (`JOURNAL_STREAM` set) text lines start with their journal priority. The run's summary stays
//! on standard output whatever the level.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]
mod common;

use std::path::Path;

/// `read` of the demo capture with one broken signature beside a good one (a warning), and
/// `extra` arguments; returns (stdout, stderr lines).
fn run(extra: &[&str], journal: bool) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let sigs = dir.path().join("sigs");
    std::fs::create_dir(&sigs).unwrap();
    std::fs::write(
        sigs.join("rules.json"),
        r#"[{"signature_id": 8000001, "description": "marker ok", "pattern": "okmarker", "severity": "High", "type": "Test", "protocol": "UDP"}]"#,
    )
    .unwrap();
    std::fs::write(
        sigs.join("bad.json"),
        r#"[{"signature_id": 8000002, "pattern": "("}]"#,
    )
    .unwrap();
    let mut c = common::nsm();
    c.arg("read")
        .arg(common::demo())
        .args(["--no-db", "--no-pcap-log", "--signatures"])
        .arg(&sigs)
        .args(extra);
    if journal {
        c.env("JOURNAL_STREAM", "8:12345");
    } else {
        c.env_remove("JOURNAL_STREAM");
    }
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        err.lines().map(str::to_string).collect(),
    )
}

fn has(lines: &[String], prefix: &str) -> bool {
    lines.iter().any(|l| l.starts_with(prefix))
}

#[test]
fn default_level_shows_information_and_warnings_not_debug() {
    let (out, err) = run(&[], false);
    assert!(has(&err, "GeoIP: "), "{err:?}");
    assert!(has(&err, "warning: signature skipped: "), "{err:?}");
    assert!(!has(&err, "debug: "), "{err:?}");
    assert!(
        out.contains("packets:"),
        "the summary stays on stdout: {out}"
    );
}

#[test]
fn verbose_adds_debug_events_with_their_fields() {
    let (_, err) = run(&["-v"], false);
    let line = err
        .iter()
        .find(|l| l.starts_with("debug: pipeline starting"))
        .unwrap_or_else(|| panic!("{err:?}"));
    assert!(line.contains("live=false"), "{line}");
    assert!(has(&err, "GeoIP: "), "{err:?}");
}

#[test]
fn quiet_keeps_only_warnings_and_errors() {
    let (out, err) = run(&["-q"], false);
    assert!(!err.is_empty());
    for l in &err {
        assert!(
            l.starts_with("warning: ") || l.starts_with("error: "),
            "not a warning: {l}"
        );
    }
    assert!(has(&err, "warning: signature skipped: "), "{err:?}");
    assert!(out.contains("packets:"), "{out}");
}

#[test]
fn json_format_writes_one_object_per_line() {
    let (_, err) = run(&["--log-format", "json", "-v"], false);
    let events: Vec<serde_json::Value> = err
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let levels: Vec<&str> = events
        .iter()
        .map(|e| e["level"].as_str().unwrap())
        .collect();
    assert!(levels.contains(&"INFO") && levels.contains(&"WARN") && levels.contains(&"DEBUG"));
    let warn = events.iter().find(|e| e["level"] == "WARN").unwrap();
    assert!(
        warn["message"]
            .as_str()
            .unwrap()
            .starts_with("signature skipped: "),
        "{warn}"
    );
    assert!(warn["timestamp"].is_string(), "{warn}");
    let debug = events.iter().find(|e| e["level"] == "DEBUG").unwrap();
    assert_eq!(debug["message"], "pipeline starting");
    assert_eq!(debug["live"], false);
}

#[test]
fn under_systemd_text_lines_carry_journal_priorities() {
    let (_, err) = run(&["-v"], true);
    assert!(has(&err, "<6>GeoIP: "), "{err:?}");
    assert!(has(&err, "<4>warning: signature skipped: "), "{err:?}");
    assert!(has(&err, "<7>debug: pipeline starting"), "{err:?}");
    for l in &err {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| l.starts_with(p)),
            "no priority: {l}"
        );
    }
}

#[test]
fn verbose_and_quiet_together_are_refused() {
    let o = common::nsm()
        .args(["read", "-v", "-q"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--quiet"));
}

/// `read` of the demo capture with `--signatures sigs`; returns (exit code, stderr).
fn read_with_signatures(sigs: &Path) -> (Option<i32>, String) {
    let o = common::nsm()
        .arg("read")
        .arg(common::demo())
        .args(["--no-db", "--no-pcap-log", "--signatures"])
        .arg(sigs)
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn a_signature_source_that_yields_nothing_prints_each_problem_before_stopping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        r#"[{"signature_id": 8000003, "pattern": "("}, {"signature_id": 9000004}]"#,
    )
    .unwrap();
    let (code, err) = read_with_signatures(dir.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("2 problem(s) reported above"), "{err}");
    let skipped: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("warning: signature skipped: "))
        .collect();
    assert_eq!(skipped.len(), 2, "{err}");
    assert!(skipped[0].contains("bad.json: entry [0]"), "{err}");
    assert!(skipped[1].contains("9000004 is out of range"), "{err}");

    let (code, err) = read_with_signatures(Path::new("/dev/null"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning: signature skipped: /dev/null: ")),
        "the reason /dev/null yields nothing is printed: {err}"
    );
}
