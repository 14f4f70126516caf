//! The `[detector.*]` threshold sections of the config file: errors name the file, line,
//! section and key, and the binary's detectors really use the configured thresholds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use nsm_tui::config::{load, Config, ConfigError};

fn no_env(_: &str) -> Option<String> {
    None
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("nsm-tui.toml");
    std::fs::write(&path, text).expect("write temp config");
    path
}

fn file_error(text: &str) -> (usize, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    match load(Some(&write(&dir, text)), &no_env) {
        Err(ConfigError::File { line, message, .. }) => (line, message),
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn threshold_sections_override_only_what_they_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "[detector.scan]\nports = 7\n\n[detector.brute_force]\nports = [22, 2222]\n";
    let c = load(Some(&write(&dir, text)), &no_env)
        .expect("loads")
        .config;
    let t = c.detector.thresholds();
    assert_eq!((t.scan.ports, t.scan.hosts), (7, 20));
    assert_eq!(t.brute_force.ports, [22, 2222]);
    assert_eq!(t.flood, Config::default().detector.thresholds().flood);
}

#[test]
fn bad_threshold_keys_and_values_name_line_section_and_key() {
    let (line, message) =
        file_error("[detector]\nanomaly_threshold = 2.0\n[detector.scan]\nport = 5\n");
    assert_eq!(line, 4);
    assert!(
        message.starts_with(r#"[detector.scan] unknown key "port" (did you mean "ports"?)"#),
        "{message}"
    );
    let (line, message) = file_error("[detector.flood]\n\nhalf_open_ratio = 1.5\n");
    assert_eq!(line, 3);
    assert_eq!(
        message,
        "[detector.flood] half_open_ratio: must be between 0 and 1, found 1.5"
    );
    let (line, message) = file_error("[detector.dns_tunnel]\nwindow_secs = 0\n");
    assert_eq!(line, 2);
    assert_eq!(
        message,
        "[detector.dns_tunnel] window_secs: must be at least 1, found 0"
    );
    let (line, message) = file_error("[detector.dbscan]\nmin_samples = 2\neps = 0.0\n");
    assert_eq!(line, 3);
    assert_eq!(
        message,
        "[detector.dbscan] eps: must be a finite number > 0, found 0"
    );
    let (line, message) = file_error("[detector.dbscan]\nmax_hosts = 1000000\n");
    assert_eq!(line, 2);
    assert_eq!(
        message,
        "[detector.dbscan] max_hosts: must be between 2 and 20000, found 1000000"
    );
}

/// Categories of the alerts `nsm-tui read` raises on `pcap` with `config`.
fn categories(pcap: &Path, config: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("--config")
        .arg(config)
        .arg("read")
        .arg(pcap)
        .args(["--eve", "-", "--no-db", "--no-pcap-log"])
        .output()
        .expect("nsm-tui runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["alert"]["category"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_binary_uses_the_configured_thresholds() {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/labelled/scan_syn.pcap");
    let dir = tempfile::tempdir().expect("tempdir");
    let sigs = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
    let base = format!(
        "[detector]\nsignatures_dir = {:?}\n",
        sigs.display().to_string()
    );
    let default = categories(&pcap, &write(&dir, &base));
    assert!(default.iter().any(|c| c == "port_scan"), "{default:?}");
    let strict =
        format!("{base}[detector.scan]\nports = 100000\nslow_ports = 100000\nhosts = 100000\n");
    let raised = categories(&pcap, &write(&dir, &strict));
    assert!(!raised.iter().any(|c| c == "port_scan"), "{raised:?}");
}
