//! `nsm-tui learn --live SECS` for real: two network namespaces joined by a veth pair, one
//! host pinging the other while `learn` captures on the far side for four seconds; the host
//! that talked then has a profile in the database `profile show` reads. Needs root, `ip`,
//! `sysctl` and `ping`; without them the test skips with a note, or fails naming what is
//! missing under CI and `NSM_TUI_REQUIRE_ALL=1`. Always removes what it made.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::process::{Command, Output, Stdio};

/// Namespaces `a` (10.77.0.1 on `veth-a`) and `b` (10.77.0.2 on `veth-b`), IPv6 off. Deleted
/// on drop, which takes the veth pair with them.
struct Pair {
    a: String,
    b: String,
    veth_a: String,
    veth_b: String,
}

impl Pair {
    fn new() -> Pair {
        let id = std::process::id() % 100_000;
        let p = Pair {
            a: format!("nsml-a-{id}"),
            b: format!("nsml-b-{id}"),
            veth_a: format!("nsla{id}"),
            veth_b: format!("nslb{id}"),
        };
        common::must(&["ip", "netns", "add", &p.a]);
        common::must(&["ip", "netns", "add", &p.b]);
        common::must(&[
            "ip", "link", "add", &p.veth_a, "netns", &p.a, "type", "veth", "peer", "name",
            &p.veth_b, "netns", &p.b,
        ]);
        for (ns, dev, addr) in [
            (&p.a, &p.veth_a, "10.77.0.1/24"),
            (&p.b, &p.veth_b, "10.77.0.2/24"),
        ] {
            let off = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
            common::must(&["ip", "netns", "exec", ns, "sysctl", "-qw", &off]);
            common::must(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            common::must(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        p
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = common::sh(&["ip", "netns", "del", &self.a]);
        let _ = common::sh(&["ip", "netns", "del", &self.b]);
    }
}

/// `nsm-tui ARGS` inside namespace `ns`, from the project's directory, without the environment
/// variables that override the configuration.
fn nsm_in(ns: &str, args: &[&str]) -> Output {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_nsm-tui")])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for v in [
        "NETWORK_INTERFACE",
        "CAPTURE_DURATION",
        "PACKET_LIMIT",
        "DRY_RUN",
    ] {
        c.env_remove(v);
    }
    c.output().expect("running nsm-tui")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn learn_live_profiles_the_host_that_talked() {
    if !(common::need_root()
        && common::need_tool("ip")
        && common::need_tool("sysctl")
        && common::need_tool("ping"))
    {
        return;
    }
    let pair = Pair::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("learned.db");
    let model = dir.path().join("model.json");
    let (db_s, model_s) = (db.to_str().unwrap(), model.to_str().unwrap());

    // Five pings a second for eight seconds: traffic throughout the four seconds of learning.
    let mut ping = Command::new("ip")
        .args([
            "netns", "exec", &pair.a, "ping", "-q", "-i", "0.2", "-c", "40",
        ])
        .arg("10.77.0.2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting ping");
    let learn = nsm_in(
        &pair.b,
        &[
            "learn",
            "--live",
            "4",
            "-i",
            &pair.veth_b,
            "--db",
            db_s,
            "--out",
            model_s,
        ],
    );
    // Stop the pinger (started above, by its id) rather than wait out its count.
    let _ = ping.kill();
    let _ = ping.wait();
    let (out, err) = text(&learn);
    assert!(learn.status.success(), "learn failed: {out}{err}");
    assert!(out.contains("host profiles"), "{out}");
    let windows: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("windows learned: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no windows learned reported: {out}"));
    assert!(windows >= 1, "{out}");
    assert!(out.contains(&format!("into {db_s}")), "{out}");
    assert!(model.exists(), "no model file: {out}");
    // At least 15 echoes seen: 5 a second for 4 seconds, less start-up.
    let packets: u64 = out
        .split_whitespace()
        .skip_while(|w| *w != "from")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no packet count: {out}"));
    assert!(packets >= 15, "{out}");

    let show = nsm_in(&pair.b, &["profile", "show", "10.77.0.1", "--db", db_s]);
    let (out, err) = text(&show);
    assert!(show.status.success(), "profile show failed: {out}{err}");
    assert!(
        out.starts_with(&format!("profile of 10.77.0.1 (from {db_s}")),
        "{out}"
    );
    assert!(out.contains("windows learned: 1 of 60 s"), "{out}");
    assert!(out.contains("protocol mix: ICMP 100%"), "{out}");
    // The host that only answered has no profile of its own (profiles are of clients).
    let other = nsm_in(&pair.b, &["profile", "show", "10.77.0.9", "--db", db_s]);
    assert!(!other.status.success());
    assert!(text(&other).1.contains("no profile of 10.77.0.9"));
    drop(pair);
}
