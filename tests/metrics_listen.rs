//! `--metrics-listen`: a `read` of a FIFO stays running while the test writes the demo capture
//! into it, scrapes `/metrics` with curl and finds the OpenMetrics exposition (`# TYPE` lines)
//! with the real, non-zero counts of what was read; a bad address is a clear error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The value of the sample `name` (with its labels, as written) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn scrape(url: &str) -> String {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "5", url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn a_running_read_serves_its_counters_to_curl() {
    if !common::need_tool("curl") || !common::need_tool("mkfifo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.pcap");
    common::must(&["mkfifo", fifo.to_str().unwrap()]);
    let mut child = common::nsm()
        .arg("read")
        .arg(&fifo)
        .args([
            "--no-db",
            "--no-pcap-log",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    // The server listens before the input is opened; its address is in the log.
    let url = loop {
        let l = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("no metrics address logged");
        if let Some(u) = l.strip_prefix("metrics at ") {
            break u.to_string();
        }
    };
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let capture = std::fs::read(common::demo()).unwrap();
    w.write_all(&capture).unwrap();
    w.flush().unwrap();

    // The writer keeps the FIFO open, so the run goes on; the counters arrive within a tick.
    // Frames handed over are counted at once, packets analysed at each tick: wait until the
    // analysis has caught up with the whole capture, so the two agree.
    let start = Instant::now();
    let text = loop {
        let text = scrape(&url);
        let high = sample(&text, "nsm_tui_alerts_total{severity=\"High\"}").unwrap_or(0.0);
        let analysed = sample(&text, "nsm_tui_packets_total");
        if high > 0.0 && analysed == Some(3000.0) {
            break text;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for t in [
        "# TYPE nsm_tui_packets counter",
        "# TYPE nsm_tui_bytes counter",
        "# TYPE nsm_tui_drops counter",
        "# TYPE nsm_tui_alerts counter",
        "# TYPE nsm_tui_queue_depth gauge",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == t), "{t} missing:\n{text}");
    }
    let packets = sample(&text, "nsm_tui_packets_total").unwrap();
    let bytes = sample(&text, "nsm_tui_bytes_total").unwrap();
    assert!(packets > 100.0 && bytes > packets * 40.0, "{text}");
    assert_eq!(
        sample(&text, "nsm_tui_captured_packets_total"),
        Some(packets)
    );
    for kind in ["kernel", "interface", "queue", "store"] {
        let name = format!("nsm_tui_drops_total{{kind=\"{kind}\"}}");
        assert_eq!(sample(&text, &name), Some(0.0), "{name}:\n{text}");
    }
    assert!(sample(&text, "nsm_tui_queue_depth{queue=\"capture\"}").is_some());
    let missing = scrape(&url.replace("/metrics", "/nothing"));
    assert!(missing.contains("/metrics"), "{missing}");

    drop(w);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success());
}

#[test]
fn an_address_that_cannot_be_listened_on_is_a_clear_error() {
    // Not an address at all: refused before anything runs.
    let o = common::nsm()
        .arg("read")
        .arg(common::demo())
        .args([
            "--no-db",
            "--no-pcap-log",
            "--metrics-listen",
            "localhost-9100",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("'localhost-9100'") && err.contains("--metrics-listen"),
        "{err}"
    );
    // An address this machine does not have (TEST-NET-1): binding fails, nothing is sent.
    let o = common::nsm()
        .arg("read")
        .arg(common::demo())
        .args([
            "--no-db",
            "--no-pcap-log",
            "--metrics-listen",
            "192.0.2.1:9100",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--metrics-listen 192.0.2.1:9100: cannot listen on that address"),
        "{err}"
    );
}
