//! Least privilege in live capture: `nsm-tui --headless` in a network namespace of its own,
//! its credentials read from `/proc/PID/status` once the capture is open. With no response
//! possible it runs as `nobody` without capabilities and with `no_new_privs`; with responses
//! enabled it stays user 0 with `CAP_NET_ADMIN` alone. Either way the capture still sees the
//! pings sent in the namespace and the database, EVE file and pcap log are written. The live
//! console, driven in a real terminal (tmux), gives up the same way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `CAP_NET_ADMIN` as a bit of the `Cap*` masks.
const NET_ADMIN: u64 = 1 << 12;

/// A network namespace with its loopback up, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("nsmlp-{tag}-{}", std::process::id());
        common::must(&["ip", "netns", "add", &name]);
        let ns = Netns(name);
        common::must(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = common::sh(&["ip", "netns", "del", &self.0]);
    }
}

/// The fields of `/proc/PID/status` this test reads.
#[derive(Debug)]
struct Creds {
    uids: Vec<u32>,
    cap_eff: u64,
    cap_prm: u64,
    cap_bnd: u64,
    no_new_privs: bool,
}

fn creds(pid: u32) -> Creds {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .trim()
            .to_string()
    };
    let hex = |k: &str| u64::from_str_radix(&field(k), 16).expect("hex mask");
    Creds {
        uids: field("Uid:")
            .split_whitespace()
            .map(|u| u.parse().expect("uid"))
            .collect(),
        cap_eff: hex("CapEff:"),
        cap_prm: hex("CapPrm:"),
        cap_bnd: hex("CapBnd:"),
        no_new_privs: field("NoNewPrivs:") == "1",
    }
}

/// Runs a headless capture of ICMP on the namespace's loopback with every output, pings
/// while it runs, and returns its credentials once open and its standard error.
fn capture_with_pings(ns: &Netns, dir: &Path, config: &str) -> (Creds, String) {
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut capture = Command::new("ip")
        .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_nsm-tui")])
        .arg("--config")
        .arg(&cfg)
        .args(["--headless", "-i", "lo", "--duration", "6"])
        .arg("--eve")
        .arg(dir.join("eve.json"))
        .arg("--db")
        .arg(dir.join("data/run.db"))
        .arg("--pcap-log")
        .arg(dir.join("data/log.pcap"))
        .arg("icmp")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting nsm-tui");
    let stderr = common::await_banner(&mut capture);
    // `ip netns exec` execs nsm-tui in place: the child's pid is nsm-tui's.
    let seen = creds(capture.id());
    common::must(&[
        "ip",
        "netns",
        "exec",
        &ns.0,
        "ping",
        "-c",
        "5",
        "-i",
        "0.2",
        "127.0.0.1",
    ]);
    let out = capture.wait_with_output().expect("nsm-tui output");
    let stderr = stderr.join().unwrap_or_default();
    assert!(out.status.success(), "nsm-tui failed: {stderr}");
    (seen, stderr)
}

/// The capture saw the pings and every output holds them.
fn outputs_written(dir: &Path) {
    let eve = std::fs::read_to_string(dir.join("eve.json")).expect("EVE written");
    let pkts: u64 = eve
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("EVE line"))
        .filter(|e| e["event_type"] == "stats")
        .filter_map(|e| e["stats"]["decoder"]["pkts"].as_u64())
        .max()
        .expect("a stats event");
    assert!(pkts >= 10, "5 pings and their replies, saw {pkts}");
    let db = rusqlite::Connection::open(dir.join("data/run.db")).expect("database");
    let rows: u64 = db
        .query_row("SELECT count(*) FROM packets", [], |r| r.get(0))
        .expect("packet rows");
    assert_eq!(rows, pkts, "every packet stored after the drop");
    if common::need_tool("tcpdump") {
        assert_eq!(
            common::tcpdump_count(&dir.join("data/log.pcap")),
            Some(pkts),
            "every packet in the pcap log"
        );
    }
}

fn ready() -> bool {
    common::need_root() && common::need_tool("ip") && common::need_tool("ping")
}

#[test]
fn without_responses_the_capture_runs_as_nobody_without_capabilities() {
    if !ready() {
        return;
    }
    let nobody = nsm_tui::config::account::find("nobody").expect("user nobody");
    let ns = Netns::new("n");
    let dir = common::capture_dir();
    let (c, stderr) = capture_with_pings(&ns, dir.path(), "[sniffer]\nuser = \"nobody\"\n");
    assert_eq!(c.uids, vec![nobody.uid; 4], "{c:?}\n{stderr}");
    assert_eq!((c.cap_eff, c.cap_prm, c.cap_bnd), (0, 0, 0), "{c:?}");
    assert!(c.no_new_privs, "{c:?}");
    assert!(stderr.contains("running as nobody"), "{stderr}");
    outputs_written(dir.path());
    // The data directory nsm-tui created belongs to the user it runs as.
    let meta = std::fs::metadata(dir.path().join("data")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), nobody.uid);
}

#[test]
fn with_responses_enabled_the_capture_keeps_cap_net_admin_alone() {
    if !ready() || !common::need_tool("nft") {
        return;
    }
    let ns = Netns::new("r");
    let dir = common::capture_dir();
    let config = "[response]\nauto_response_enabled = true\ndry_run = false\n\n\
                  [actions]\nfirewall_type = \"nftables\"\n";
    let (c, stderr) = capture_with_pings(&ns, dir.path(), config);
    assert_eq!(c.uids, vec![0; 4], "{c:?}\n{stderr}");
    assert_eq!(
        (c.cap_eff, c.cap_prm, c.cap_bnd),
        (NET_ADMIN, NET_ADMIN, NET_ADMIN),
        "{c:?}"
    );
    assert!(c.no_new_privs, "{c:?}");
    outputs_written(dir.path());
}

#[test]
fn an_unknown_user_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[sniffer]\nuser = \"no-such-user-nsm\"\n").unwrap();
    let out = common::nsm()
        .arg("--config")
        .arg(&cfg)
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[sniffer] user") && err.contains("no-such-user-nsm"),
        "{err}"
    );
}

/// Polls `what` every 100 ms until it yields a value, failing with `why` after 30 s.
fn within_30s<T>(why: &str, mut what: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = what() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{why}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A detached tmux session, killed on drop.
struct Tmux(String);

impl Tmux {
    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

#[test]
fn the_live_console_gives_up_privileges_as_headless_does() {
    if !ready() || !common::need_tool("tmux") {
        return;
    }
    let nobody = nsm_tui::config::account::find("nobody").expect("user nobody");
    let ns = Netns::new("c");
    let dir = common::capture_dir();
    let d = dir.path();
    std::fs::write(d.join("c.toml"), "[sniffer]\nuser = \"nobody\"\n").unwrap();
    // The script records its pid, then execs (through `ip netns exec`, which execs too) the
    // console: the pid is nsm-tui's. The shell around it records the exit status.
    let script = format!(
        "echo $$ > '{d}/pid'\nexec ip netns exec {ns} '{bin}' --config '{d}/c.toml' -i lo \
         --eve '{d}/eve.json' --db '{d}/data/run.db' --pcap-log '{d}/data/log.pcap' icmp\n",
        d = d.display(),
        ns = ns.0,
        bin = env!("CARGO_BIN_EXE_nsm-tui"),
    );
    std::fs::write(d.join("run.sh"), script).unwrap();
    let session = Tmux(format!("nsmlp-console-{}", std::process::id()));
    let started = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session.0,
            "-x",
            "120",
            "-y",
            "35",
        ])
        .arg(format!(
            "sh '{d}/run.sh'; echo $? > '{d}/exit-status'; sleep 30",
            d = d.display()
        ))
        .status()
        .expect("tmux starts");
    assert!(started.success());
    within_30s("the console never showed [LIVE]", || {
        session.screen().contains("[LIVE]").then_some(())
    });
    let pid: u32 = std::fs::read_to_string(d.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let c = creds(pid);
    assert_eq!(c.uids, vec![nobody.uid; 4], "{c:?}\n{}", session.screen());
    assert_eq!((c.cap_eff, c.cap_prm, c.cap_bnd), (0, 0, 0), "{c:?}");
    assert!(c.no_new_privs, "{c:?}");
    common::must(&[
        "ip",
        "netns",
        "exec",
        &ns.0,
        "ping",
        "-c",
        "5",
        "-i",
        "0.2",
        "127.0.0.1",
    ]);
    // The last reply is on the wire when ping returns; give the capture a moment to read it
    // before the console stops capturing.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = Command::new("tmux")
        .args(["send-keys", "-t", &session.0, "q"])
        .status()
        .expect("tmux runs");
    assert!(status.success());
    let code = within_30s("the console did not quit on q", || {
        std::fs::read_to_string(d.join("exit-status"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    assert_eq!(code.trim(), "0", "{}", session.screen());
    outputs_written(d);
}
