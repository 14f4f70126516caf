//! Least privilege in live capture: `nsm-tui --headless` in a network namespace of its own,
//! its credentials read from `/proc/PID/status` once the capture is open. With no response
//! possible it runs as `nobody` without capabilities and with `no_new_privs`; with responses
//! enabled it stays user 0 with `CAP_NET_ADMIN` alone. Either way the capture still sees the
//! pings sent in the namespace and the database, EVE file and pcap log are written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};

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
