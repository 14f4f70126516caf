//! Every event `nsm-tui read` writes validates against Suricata's own EVE schema, on every shared
//! capture outside `malformed/`. The schema is read from the shared corpus at test time (it is
//! Suricata's, under the GPL, and stays there). Failures are reported grouped by event type and
//! the path of the failing field, each with the captures it came from and one example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `(event type, instance path, schema keyword path)` → captures and one message.
type Failures = BTreeMap<(String, String, String), (Vec<String>, String)>;

/// Runs `read` with EVE output on `capture` and returns the EVE text.
fn eve_of(capture: &Path, dir: &Path, n: usize) -> String {
    let eve = dir.join(format!("eve{n}.json"));
    let out = common::nsm()
        .arg("read")
        .arg(capture)
        .arg("--eve")
        .arg(&eve)
        .arg("--no-db")
        .arg("--no-pcap-log")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "nsm-tui read {}: {stderr}",
        capture.display()
    );
    let text = std::fs::read_to_string(&eve).unwrap();
    let _ = std::fs::remove_file(&eve);
    text
}

/// Validates every line of `text` and records the failures under the capture's `name`.
/// Returns how many events were checked.
fn check(v: &jsonschema::Validator, name: &str, text: &str, failures: &Mutex<Failures>) -> usize {
    let mut n = 0;
    for line in text.lines() {
        n += 1;
        let ev: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {line}"));
        let kind = ev["event_type"].as_str().unwrap_or("?").to_string();
        for e in v.iter_errors(&ev) {
            let key = (
                kind.clone(),
                e.instance_path.to_string(),
                e.schema_path.to_string(),
            );
            let mut f = failures.lock().unwrap();
            let entry = f.entry(key).or_insert_with(|| (Vec::new(), e.to_string()));
            if !entry.0.iter().any(|c| c == name) {
                entry.0.push(name.to_string());
            }
        }
    }
    n
}

#[test]
fn every_event_of_every_shared_capture_validates_against_suricatas_eve_schema() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let schema_file = data.join("suricata-schema/schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_file).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let captures: Vec<PathBuf> = common::captures_under(&data.join("pcaps"))
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "malformed"))
        .collect();
    assert!(captures.len() > 50, "only {} captures", captures.len());

    let dir = tempfile::tempdir().unwrap();
    let failures = Mutex::new(Failures::new());
    let events = Mutex::new(BTreeMap::<String, usize>::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(cap) = captures.get(i) else { break };
                let name = cap
                    .strip_prefix(data.join("pcaps"))
                    .unwrap_or(cap)
                    .display()
                    .to_string();
                let text = eve_of(cap, dir.path(), i);
                let n = check(&validator, &name, &text, &failures);
                events.lock().unwrap().insert(name, n);
            });
        }
    });

    let events = events.into_inner().unwrap();
    let total: usize = events.values().sum();
    assert!(total > 10_000, "only {total} events from the captures");
    let failures = failures.into_inner().unwrap();
    let report: Vec<String> = failures
        .iter()
        .map(|((kind, path, schema_path), (caps, msg))| {
            let shown: Vec<&str> = caps.iter().take(3).map(String::as_str).collect();
            format!(
                "{kind} {path} ({schema_path}): {} capture(s), e.g. {}: {msg:.300}",
                caps.len(),
                shown.join(", ")
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "{} kinds of schema failure over {} events of {} captures:\n{}",
        report.len(),
        total,
        events.len(),
        report.join("\n")
    );
    common::note(&format!(
        "{total} events of {} captures validate",
        events.len()
    ));
}
