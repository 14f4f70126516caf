//! The learning detectors end to end: `nsm-tui learn` on the shared benign captures, then
//! `read` with that model on attack captures (a SYN scan, a beacon and a slow upload made with
//! real tools: tests/tools/make_anomaly_captures.sh), on benign traffic (nothing above Low),
//! with a corrupt model (refused, named, detection goes on), and profiles that survive a
//! restart in SQLite (`profile show`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

fn anomaly_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/anomaly")
        .join(name)
}

/// One model learned from every shared benign capture, shared by the tests of this file.
fn model() -> Option<&'static Path> {
    static MODEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let data = common::shared_data()?;
    let (_, path) = MODEL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.json");
        let benign: Vec<PathBuf> = common::captures_under(&data.join("pcaps/benign"));
        assert!(benign.len() > 5, "{benign:?}");
        let o = common::nsm()
            .arg("learn")
            .args(&benign)
            .arg("--out")
            .arg(&path)
            .output()
            .expect("nsm-tui learn");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("host profiles"), "{out}");
        assert!(out.contains("isolation forest: 50 trees"), "{out}");
        (dir, path)
    });
    Some(path.as_path())
}

/// The anomaly alerts (statistical, behavioural, machine learning) of reading `file`.
fn anomaly_alerts(file: &Path, model: Option<&Path>) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("tempdir");
    let eve = dir.path().join("eve.json");
    let mut cmd = common::nsm();
    cmd.arg("read")
        .arg(file)
        .args(["--no-db", "--eve"])
        .arg(&eve);
    if let Some(m) = model {
        cmd.arg("--model").arg(m);
    }
    let o = cmd.output().expect("nsm-tui read");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(&eve)
        .expect("eve")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|e| e["event_type"] == "alert")
        .filter(|e| {
            matches!(
                e["alert"]["metadata"]["detector"][0].as_str(),
                Some("statistical" | "behavioural" | "ml")
            )
        })
        .collect()
}

fn find<'a>(alerts: &'a [Value], category: &str) -> Option<&'a Value> {
    alerts.iter().find(|a| a["alert"]["category"] == category)
}

fn explanation(a: &Value) -> &str {
    a["alert"]["metadata"]["explanation"][0]
        .as_str()
        .unwrap_or("")
}

#[test]
fn a_scanner_fans_out_against_what_hosts_in_general_do() {
    let (Some(data), Some(m)) = (common::shared_data(), model()) else {
        return;
    };
    let alerts = anomaly_alerts(&data.join("pcaps/scans/nmap_tcp_syn_scan.pcap"), Some(m));
    let a = find(&alerts, "fan_out").unwrap_or_else(|| panic!("{alerts:#?}"));
    assert_eq!(a["src_ip"], "192.168.1.10");
    // 1000 ports in a window, far past twice the bar: Medium (EVE 3), not a marginal Low.
    assert_eq!(a["alert"]["severity"], 3, "{a:#}");
    let why = explanation(a);
    assert!(
        why.contains("against hosts in general: distinct ports"),
        "{why}"
    );
    assert!(why.contains("z = "), "{why}");
}

#[test]
fn a_regular_heartbeat_is_reported_as_beaconing() {
    let alerts = anomaly_alerts(&anomaly_fixture("beacon.pcap"), None);
    let a = find(&alerts, "beaconing").unwrap_or_else(|| panic!("{alerts:#?}"));
    assert_eq!(a["alert"]["severity"], 2);
    assert_eq!(
        (a["src_ip"].as_str(), a["dest_ip"].as_str()),
        (Some("10.79.0.1"), Some("10.79.0.2"))
    );
    assert_eq!(a["dest_port"], 8443);
    let why = explanation(a);
    assert!(why.contains("10.79.0.2:8443 8 times every"), "{why}");
    assert!(why.contains("jitter"), "{why}");
}

#[test]
fn slow_exfiltration_is_held_to_the_learned_peaks() {
    let Some(m) = model() else { return };
    let alerts = anomaly_alerts(&anomaly_fixture("exfiltration.pcap"), Some(m));
    let a = find(&alerts, "exfiltration").unwrap_or_else(|| panic!("{alerts:#?}"));
    assert_eq!(a["alert"]["severity"], 2);
    let why = explanation(a);
    assert!(why.contains("10.79.0.1 sent 10."), "{why}");
    assert!(
        why.contains("to 10.79.0.2 within 60 min vs hosts' usual peak"),
        "{why}"
    );
    // Without the learned peaks there is nothing to hold it to yet: no exfiltration alert.
    let fresh = anomaly_alerts(&anomaly_fixture("exfiltration.pcap"), None);
    assert!(find(&fresh, "exfiltration").is_none(), "{fresh:#?}");
}

#[test]
fn benign_traffic_raises_nothing_above_low() {
    let (Some(data), Some(m)) = (common::shared_data(), model()) else {
        return;
    };
    for name in [
        "http_espn.pcapng",
        "dns_query_response.pcapng",
        "zeek_ssh_ssh.pcap",
        "ppa_http.cap",
    ] {
        let alerts = anomaly_alerts(&data.join("pcaps/benign").join(name), Some(m));
        let loud: Vec<&Value> = alerts
            .iter()
            .filter(|a| a["alert"]["severity"].as_u64() < Some(4))
            .collect();
        assert!(loud.is_empty(), "{name}: {loud:#?}");
    }
}

#[test]
fn a_corrupt_model_is_refused_by_name_and_detection_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("model.json");
    std::fs::write(
        &bad,
        "{\"format\": \"nsm-tui-model\", \"version\": 1, \"flow_schema\": 7",
    )
    .unwrap();
    let o = common::nsm()
        .arg("read")
        .arg(common::demo())
        .args(["--no-db", "--model"])
        .arg(&bad)
        .output()
        .expect("nsm-tui read");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "model file {}: not a model file: EOF",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("detection goes on without it"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("alerts:   0 "), "{out}");
}

#[test]
fn profiles_survive_a_restart_and_profile_show_prints_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let beacon = anomaly_fixture("beacon.pcap");
    let show = |db: &Path| {
        common::nsm()
            .args(["profile", "show", "10.79.0.1", "--db"])
            .arg(db)
            .output()
            .expect("profile show")
    };
    let none = show(&db);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no profile of 10.79.0.1"));
    let windows = |out: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix("windows learned: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{out}"))
    };
    let mut learned = Vec::new();
    let mut out = String::new();
    for round in 1..=2 {
        let o = common::nsm()
            .arg("read")
            .arg(&beacon)
            .arg("--db")
            .arg(&db)
            .arg("--no-pcap-log")
            .output()
            .expect("nsm-tui read");
        assert!(
            o.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = show(&db);
        out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        learned.push(windows(&out));
    }
    assert!(
        out.starts_with(&format!("profile of 10.79.0.1 (from {}", db.display())),
        "{out}"
    );
    // The second run started from what the first saved: twice the windows.
    assert!(
        learned[0] >= 3 && learned[1] == 2 * learned[0],
        "{learned:?}\n{out}"
    );
    assert!(out.contains("usual service ports: 8443"), "{out}");
    assert!(out.contains("protocol mix: TCP 100%"), "{out}");
}
