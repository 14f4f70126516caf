//! Signature reload on SIGHUP in a headless run: `nsm-tui read` of a FIFO keeps running while
//! the test swaps the signature file and the blocklist and signals it; packets written after the
//! reload fire the new signature and match the new list, and a reload of a broken signature file
//! keeps the set that was loaded. A run on the built-in set (nothing configured) reloads it as
//! the same set, and a reload that finds no signature at all keeps the loaded one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use etherparse::PacketBuilder;

fn signature(id: u64, word: &str) -> String {
    format!(
        r#"[{{"signature_id": {id}, "description": "marker {word}", "pattern": "{word}",
             "severity": "High", "type": "Test", "protocol": "UDP"}}]"#
    )
}

fn udp_record(payload: &[u8], ts_sec: u32) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([203, 0, 113, 7], [198, 51, 100, 2], 64)
        .udp(40000, 9999)
        .write(&mut frame, payload)
        .unwrap();
    let len = u32::try_from(frame.len()).unwrap();
    let mut rec = Vec::new();
    for v in [ts_sec, 0, len, len] {
        rec.extend_from_slice(&v.to_le_bytes());
    }
    rec.extend_from_slice(&frame);
    rec
}

fn pcap_header() -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h
}

/// True once the process has a handler for SIGHUP (bit 0 of SigCgt in /proc).
fn catches_sighup(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & 1 == 1)
}

fn wait_line(lines: &mpsc::Receiver<String>, text: &str) {
    // A liveness bound, generous for a loaded machine: a reload compiles the whole set.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if l.contains(text) => return,
            Ok(_) => {}
            Err(_) => panic!("nsm-tui never printed {text:?}"),
        }
    }
}

fn hup(pid: u32) {
    let ok = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// For a `read` of the FIFO `fifo` just spawned as `child` (stderr piped): collects its
/// standard error lines on a thread, opens the FIFO for writing (which lets nsm-tui's open
/// return), writes the pcap header and waits until the SIGHUP handler is installed. Returns the
/// pid, the lines, the reader thread and the FIFO's writing end.
fn started(
    child: &mut std::process::Child,
    fifo: &Path,
) -> (
    u32,
    mpsc::Receiver<String>,
    std::thread::JoinHandle<()>,
    std::fs::File,
) {
    let pid = child.id();
    let (tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut w = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    w.write_all(&pcap_header()).unwrap();
    w.flush().unwrap();
    let start = Instant::now();
    while !catches_sighup(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no SIGHUP handler"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (pid, lines, reader, w)
}

#[test]
fn sighup_reloads_signatures_and_a_broken_reload_keeps_the_old_set() {
    if !common::prerequisite(Path::new("/proc/self/status").exists(), "/proc")
        || !common::need_tool("mkfifo")
        || !common::need_tool("kill")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sigs = dir.path().join("sigs");
    std::fs::create_dir(&sigs).unwrap();
    let rules = sigs.join("rules.json");
    std::fs::write(&rules, signature(8_000_001, "alphamarker")).unwrap();
    let fifo = dir.path().join("in.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let eve = dir.path().join("eve.json");
    let blocklist = dir.path().join("drop.txt");
    std::fs::write(&blocklist, "# test list\n192.0.2.99\n").unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&fifo)
        .arg("--eve")
        .arg(&eve)
        .arg("--signatures")
        .arg(&sigs)
        .arg("--blocklist")
        .arg(&blocklist)
        .args(["--no-db", "--no-pcap-log"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (pid, lines, reader, mut w) = started(&mut child, &fifo);

    std::fs::write(&rules, signature(8_000_002, "betamarker")).unwrap();
    std::fs::write(&blocklist, "# test list\n203.0.113.0/24\n").unwrap();
    hup(pid);
    wait_line(&lines, "blocklists reloaded: 1 entries");
    wait_line(&lines, "signatures reloaded from");
    w.write_all(&udp_record(b"xx betamarker xx", 1)).unwrap();
    w.write_all(&udp_record(b"xx alphamarker xx", 2)).unwrap();
    w.flush().unwrap();

    std::fs::write(&rules, "[{\"signature_id\": 8000003, \"pattern\": \"(\"}]").unwrap();
    hup(pid);
    wait_line(&lines, "the previous set stays");
    w.write_all(&udp_record(b"yy betamarker yy", 3)).unwrap();
    drop(w);

    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&eve).unwrap();
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == "alert")
        .collect();
    let ids: Vec<u64> = alerts
        .iter()
        .filter(|v| v["alert"]["metadata"]["detector"][0] == "signature")
        .map(|v| v["alert"]["signature_id"].as_u64().unwrap())
        .collect();
    // The new signature fired on both beta packets; the replaced one no longer fires.
    assert_eq!(ids, vec![8_000_002, 8_000_002], "{text}");
    // The reloaded blocklist names the source: one alert for the flow's first packet.
    let listed: Vec<_> = alerts
        .iter()
        .filter(|v| v["alert"]["category"] == "reputation" && v["src_ip"] == "203.0.113.7")
        .collect();
    assert_eq!(listed.len(), 1, "{text}");
}

#[test]
fn reloading_the_built_in_set_swaps_in_the_same_set() {
    let c = nsm_tui::config::Config::default();
    let (_, handles) = nsm_tui::pipeline::detectors::build(&c).unwrap();
    assert_eq!(
        handles.origin,
        nsm_tui::pipeline::signature_source::SignatureOrigin::BuiltIn
    );
    let before = {
        use nsm_tui::engine::detect::SignatureSource;
        handles.signatures.current().len()
    };
    assert!(before > 0);
    let r = nsm_tui::pipeline::detectors::reload(&handles);
    assert!(r.swapped && r.skipped.is_empty(), "{r:?}");
    assert_eq!(r.loaded, before);
}

#[test]
fn a_reload_that_finds_no_signature_keeps_the_loaded_set() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(&rules, signature(8_000_001, "alphamarker")).unwrap();
    let mut c = nsm_tui::config::Config::default();
    c.detector.signatures_dir = Some(dir.path().to_path_buf());
    let (_, handles) = nsm_tui::pipeline::detectors::build(&c).unwrap();
    std::fs::remove_file(&rules).unwrap();
    let r = nsm_tui::pipeline::detectors::reload(&handles);
    assert!(!r.swapped, "{r:?}");
    use nsm_tui::engine::detect::SignatureSource;
    assert_eq!(handles.signatures.current().len(), 1);
}

#[test]
fn sighup_in_a_run_on_the_built_in_set_reloads_it_and_it_still_fires() {
    if !common::prerequisite(Path::new("/proc/self/status").exists(), "/proc")
        || !common::need_tool("mkfifo")
        || !common::need_tool("kill")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let eve = dir.path().join("eve.json");
    // From `/`, with nothing configured: the built-in set.
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&fifo)
        .arg("--eve")
        .arg(&eve)
        .args(["--no-db", "--no-pcap-log"])
        .current_dir("/")
        .env("HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (pid, lines, reader, mut w) = started(&mut child, &fifo);
    let n = nsm_tui::pipeline::signature_source::load(
        &nsm_tui::pipeline::signature_source::SignatureOrigin::BuiltIn,
    )
    .0
    .len();
    hup(pid);
    wait_line(
        &lines,
        &format!("signatures reloaded from built-in: {n} loaded"),
    );
    // Built-in signature 1000090 (credential-dumping tool names, any protocol).
    w.write_all(&udp_record(b"xx mimikatz xx", 1)).unwrap();
    drop(w);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&eve).unwrap();
    let ids: Vec<u64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| {
            v["event_type"] == "alert" && v["alert"]["metadata"]["detector"][0] == "signature"
        })
        .map(|v| v["alert"]["signature_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1_000_090], "{text}");
}
