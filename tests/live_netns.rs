//! Live capture for real: two network namespaces joined by a veth pair; tcpreplay sends a
//! capture from one side, `nsm-tui --headless` captures on the other, and the counts match.
//! Needs root, `ip`, `sysctl`, `tcpreplay` and `tcpdump`; without them each test skips with a note,
//! or fails naming what is missing under CI and `NSM_TUI_REQUIRE_ALL=1`. Always removes what it
//! made.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Two namespaces `a` and `b` with `veth-a` in `a` and `veth-b` in `b`, IPv6 off so the
/// kernel's own router solicitations don't join the count. Deleted on drop.
struct Netns {
    a: String,
    b: String,
}

impl Netns {
    fn new(tag: &str) -> Result<Netns, String> {
        let id = std::process::id();
        let n = Netns {
            a: format!("nsmt-{tag}-a-{id}"),
            b: format!("nsmt-{tag}-b-{id}"),
        };
        sh(&["ip", "netns", "add", &n.a])?;
        sh(&["ip", "netns", "add", &n.b])?;
        sh(&[
            "ip", "link", "add", "nsmt-va", "netns", &n.a, "type", "veth", "peer", "name",
            "nsmt-vb", "netns", &n.b,
        ])?;
        for (ns, dev) in [(&n.a, "nsmt-va"), (&n.b, "nsmt-vb")] {
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
            ])?;
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
            ])?;
            sh(&["ip", "-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(n)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.a]);
        let _ = sh(&["ip", "netns", "del", &self.b]);
    }
}

fn eve_events(path: &Path, event_type: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == event_type)
        .collect()
}

/// Whether network namespaces can be made here: root, `ip` and `sysctl` (see `Netns::new`).
#[track_caller]
fn namespaces() -> bool {
    common::need_root() && common::need_tool("ip") && common::need_tool("sysctl")
}

/// [`namespaces`], plus `tcpreplay` to send the fixture and `tcpdump` to count it.
#[track_caller]
fn can_replay() -> bool {
    namespaces() && common::need_tool("tcpreplay") && common::need_tool("tcpdump")
}

#[test]
fn headless_capture_on_veth_counts_what_tcpreplay_sent() {
    if can_replay() {
        capture_replay("veth", "nsmt-vb");
    }
}

#[test]
fn headless_capture_on_any_counts_what_tcpreplay_sent() {
    if can_replay() {
        capture_replay("any", "any");
    }
}

/// Replay the demo capture from namespace `a`, capture it in `b` on `iface`, check counts.
fn capture_replay(tag: &str, iface: &str) {
    // One replay at a time: two captures side by side on a small machine drop packets, and a
    // drop is what this test must never see.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let expected = common::tcpdump_count(&fixture).expect("tcpdump reads the fixture");
    let ns = Netns::new(tag).expect("creating network namespaces");
    let dir = common::capture_dir();
    let eve: PathBuf = dir.path().join("eve.json");
    let db = dir.path().join("live.db");
    let plog = dir.path().join("live.pcap");
    let mut capture = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.b,
            env!("CARGO_BIN_EXE_nsm-tui"),
            "--headless",
            "-i",
            iface,
            "-f",
            "ip",
        ])
        .args(["-c", &expected.to_string(), "--duration", "60", "--eve"])
        .arg(&eve)
        .arg("--db")
        .arg(&db)
        .arg("--pcap-log")
        .arg(&plog)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting nsm-tui");
    let stderr_lines = common::await_banner(&mut capture);
    let replay = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.a,
            "tcpreplay",
            "-q",
            // A modest rate: a slow test machine must keep up (benches/live.sh measures the
            // rates capture keeps up with).
            "--pps=2000",
            "-i",
            "nsmt-va",
        ])
        .arg(&fixture)
        .output()
        .expect("running tcpreplay");
    assert!(
        replay.status.success(),
        "tcpreplay failed: {}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while capture.try_wait().expect("polling nsm-tui").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if capture.try_wait().expect("polling nsm-tui").is_none() {
        // Stop it the way an operator would; it must flush everything.
        let _ = Command::new("kill")
            .args(["-TERM", &capture.id().to_string()])
            .status();
    }
    let out = capture.wait_with_output().expect("nsm-tui output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = stderr_lines.join().unwrap_or_default();
    assert!(out.status.success(), "nsm-tui failed: {stderr}");

    let stats = eve_events(&eve, "stats");
    let last = stats
        .last()
        .unwrap_or_else(|| panic!("no stats event; stdout {stdout} stderr {stderr}"));
    assert_eq!(
        last["stats"]["decoder"]["pkts"].as_u64(),
        Some(expected),
        "summary: {stdout}"
    );
    assert_eq!(last["stats"]["capture"]["kernel_drops"].as_u64(), Some(0));
    let conn = rusqlite::Connection::open(&db).expect("open db");
    let rows: u64 = conn
        .query_row("SELECT count(*) FROM packets", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, expected);
    assert_eq!(
        common::tcpdump_count(&plog),
        Some(expected),
        "the pcap log holds every packet"
    );
}

fn headless(ns: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_nsm-tui")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_nsm-tui")),
    };
    let out = c
        .args([
            "--headless",
            "--no-db",
            "--no-pcap-log",
            "-c",
            "1",
            "--duration",
            "2",
        ])
        .args(args)
        .output()
        .expect("running nsm-tui");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn unknown_interface_lists_the_ones_that_exist() {
    let (ok, err) = headless(None, &["-i", "nosuchif0"]);
    assert!(!ok);
    assert!(err.contains("no such interface \"nosuchif0\""), "{err}");
    assert!(
        err.contains("interfaces that exist:") && err.contains("lo"),
        "{err}"
    );
}

#[test]
fn a_small_capture_ring_is_warned_about_in_one_line() {
    if !namespaces() {
        return;
    }
    let ns = Netns::new("ring").expect("creating network namespaces");
    let (ok, err) = headless(Some(&ns.b), &["-i", "nsmt-vb"]);
    assert!(ok, "{err}");
    assert!(
        !err.contains("capture ring"),
        "no warning by default: {err}"
    );
    let (ok, err) = headless(Some(&ns.b), &["-i", "nsmt-vb", "--buffer-size", "1"]);
    assert!(ok, "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("capture ring")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].starts_with("warning: ") && warnings[0].contains("buffer_size_mb"),
        "{err}"
    );
}

#[test]
fn bad_bpf_quotes_libpcap() {
    if !namespaces() {
        return;
    }
    let ns = Netns::new("bpf").expect("creating network namespaces");
    let (ok, err) = headless(Some(&ns.b), &["-i", "nsmt-vb", "-f", "tcp port"]);
    assert!(!ok);
    assert!(err.contains("invalid capture filter \"tcp port\""), "{err}");
    assert!(err.contains("syntax error"), "libpcap's own words: {err}");
}

#[test]
fn capture_without_privileges_says_how_to_get_them() {
    if !common::need_root() || !common::need_tool("setpriv") {
        return;
    }
    let dir = common::capture_dir();
    // A copy of the binary that the unprivileged user can run, wherever the build lives.
    let exe = dir.path().join("nsm-tui");
    std::fs::copy(env!("CARGO_BIN_EXE_nsm-tui"), &exe).expect("copy binary");
    for p in [dir.path(), exe.as_path()] {
        let mut perm = std::fs::metadata(p).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(p, perm).expect("chmod");
    }
    // Another test thread may fork while the copy is still open for writing, and the child
    // holds the descriptor until it execs ("Text file busy"); try again briefly.
    let mut attempts = 0;
    let out = loop {
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&exe)
            .args([
                "--headless",
                "--no-db",
                "--no-pcap-log",
                "-i",
                "lo",
                "-c",
                "1",
            ])
            .current_dir(dir.path())
            .output()
            .expect("running setpriv");
        let busy = String::from_utf8_lossy(&out.stderr).contains("Text file busy");
        attempts += 1;
        if !busy || attempts >= 20 {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("needs root or the CAP_NET_RAW"), "{err}");
    assert!(
        err.contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{err}"
    );
}

#[test]
fn quiet_link_delivers_partial_batches_and_stops_on_time() {
    if !namespaces() || !common::need_tool("python3") {
        return;
    }
    let ns = Netns::new("quiet").expect("creating network namespaces");
    let _ = sh(&["ip", "-n", &ns.b, "link", "set", "lo", "up"]);
    let started = Instant::now();
    let mut capture = Command::new("ip")
        .args(["netns", "exec", &ns.b, env!("CARGO_BIN_EXE_nsm-tui")])
        .args([
            "--headless",
            "-i",
            "lo",
            "-f",
            "udp",
            "--duration",
            "3",
            "--eve",
            "-",
        ])
        .args(["--no-db", "--no-pcap-log"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting nsm-tui");
    let stderr = common::await_banner(&mut capture);
    let send = "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                [s.sendto(b'quiet', ('127.0.0.1', 9)) for _ in range(3)]";
    sh(&["ip", "netns", "exec", &ns.b, "python3", "-c", send]).expect("sending three datagrams");
    let out = capture.wait_with_output().expect("nsm-tui output");
    let elapsed = started.elapsed();
    let stderr = stderr.join().unwrap_or_default();
    assert!(out.status.success(), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(8),
        "a quiet link still stops on time: {elapsed:?}"
    );
    let stats: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == "stats")
        .collect();
    assert_eq!(
        stats.last().expect("a stats event")["stats"]["decoder"]["pkts"].as_u64(),
        Some(3)
    );
}

/// `nsm-tui --headless` on the loopback of namespace `ns` (UDP only, at most 30 s), EVE to
/// `eve`, no database or pcap log, plus `extra` arguments (before the others); returns the
/// process once it is capturing, with the thread collecting its standard error.
fn headless_on_lo(
    ns: &str,
    eve: &Path,
    extra: &[&std::ffi::OsStr],
) -> (std::process::Child, std::thread::JoinHandle<String>) {
    let _ = sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    let mut capture = Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_nsm-tui")])
        .args(extra)
        .args(["--headless", "-i", "lo", "-f", "udp", "--duration", "30"])
        .arg("--eve")
        .arg(eve)
        .args(["--no-db", "--no-pcap-log"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting nsm-tui");
    let stderr = common::await_banner(&mut capture);
    (capture, stderr)
}

/// Checks the capture is still running, stops it with SIGTERM as an operator would, checks it
/// ended well; returns its standard error.
fn stop_capturing(
    mut capture: std::process::Child,
    stderr: std::thread::JoinHandle<String>,
) -> String {
    assert!(
        capture.try_wait().expect("polling nsm-tui").is_none(),
        "nsm-tui is still capturing"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &capture.id().to_string()])
        .status();
    let out = capture.wait_with_output().expect("nsm-tui output");
    let stderr = stderr.join().unwrap_or_default();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// Waits (generously: this is not a speed measurement) until `done`, failing with `what`.
fn wait_until(what: &str, done: &dyn Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends one UDP datagram carrying `/etc/shadow` (signature 1000041) to port 9 on the loopback
/// of namespace `ns`.
fn send_shadow_datagram(ns: &str) {
    let send = "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                s.sendto(b'cat /etc/shadow', ('127.0.0.1', 9))";
    sh(&["ip", "netns", "exec", ns, "python3", "-c", send]).expect("sending a datagram");
}

/// Live EVE reaches the file while capture goes on, as a SIEM shipper needs: an alert at once,
/// other events within the stats tick, and a `stats` event every `stats_interval_secs`.
#[test]
fn live_eve_reaches_the_file_while_capture_continues() {
    if !namespaces() || !common::need_tool("python3") {
        return;
    }
    let ns = Netns::new("evelive").expect("creating network namespaces");
    let dir = common::capture_dir();
    let eve = dir.path().join("eve.json");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[output]\nstats_interval_secs = 1\n").unwrap();
    let (capture, stderr) = headless_on_lo(&ns.b, &eve, &["--config".as_ref(), cfg.as_os_str()]);
    send_shadow_datagram(&ns.b);
    wait_until("the alert never reached the EVE file", &|| {
        eve_events(&eve, "alert")
            .iter()
            .any(|e| e["alert"]["signature_id"] == 1_000_041)
    });
    wait_until(
        "two periodic stats events never reached the EVE file",
        &|| eve_events(&eve, "stats").len() >= 2,
    );
    stop_capturing(capture, stderr);
    // The last stats event, written at the end, counts the datagram.
    let last = eve_events(&eve, "stats");
    assert!(last.last().unwrap()["stats"]["decoder"]["pkts"].as_u64() >= Some(1));
}

/// SIGHUP reopens the EVE file by name, as Suricata does for logrotate: after `mv eve.json
/// eve.json.1; kill -HUP`, the next events go to a new `eve.json`, and none is lost or written
/// twice.
#[test]
fn sighup_reopens_the_eve_file_after_it_was_moved() {
    if !namespaces() || !common::need_tool("python3") {
        return;
    }
    let ns = Netns::new("evehup").expect("creating network namespaces");
    let dir = common::capture_dir();
    let eve = dir.path().join("eve.json");
    let moved = dir.path().join("eve.json.1");
    let (capture, stderr) = headless_on_lo(&ns.b, &eve, &[]);
    let alerts = |p: &Path| eve_events(p, "alert").len();
    send_shadow_datagram(&ns.b);
    wait_until("the first alert never reached eve.json", &|| {
        alerts(&eve) == 1
    });
    std::fs::rename(&eve, &moved).unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &capture.id().to_string()])
        .status();
    wait_until("SIGHUP did not make a new eve.json", &|| eve.exists());
    send_shadow_datagram(&ns.b);
    wait_until("the second alert never reached the new eve.json", &|| {
        alerts(&eve) == 1
    });
    let stderr = stop_capturing(capture, stderr);
    assert_eq!((alerts(&moved), alerts(&eve)), (1, 1), "{stderr}");
    // The end of the run goes to the new file.
    assert!(!eve_events(&eve, "stats").is_empty(), "{stderr}");
}
