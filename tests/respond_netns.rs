//! Blocks for real, in network namespaces this test creates: an attacker and a second client
//! each joined to a victim by a veth pair, an HTTP server in the victim, and `nsm-tui block`
//! run inside the victim namespace only (`ip netns exec`), so the machine's own firewall is
//! never touched. Covers nftables and iptables+ipset: block, expiry, unblock, flush,
//! reconcile after a wiped firewall, SSH-client/allowlist/private refusals, dry-run, caps,
//! confirm-or-rollback blocks; and `nsm-tui reset` ending an established TCP connection.
//! Needs root, iproute2, nft, iptables, ipset, python3 and curl (and ping, nmap, ss where said);
//! without them a test skips with a note, or fails naming what is missing under CI and
//! `NSM_TUI_REQUIRE_ALL=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use common::{must, sh};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ATTACKER: &str = "198.51.100.2";
const CLIENT: &str = "203.0.113.2";
const VICTIM_A: &str = "198.51.100.1";
const VICTIM_C: &str = "203.0.113.1";
const PORT: &str = "8080";

/// Victim, attacker and client namespaces; removed (with the server) on drop.
struct Lab {
    victim: String,
    attacker: String,
    client: String,
    server: Option<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let id = std::process::id();
        let mut lab = Lab {
            victim: format!("nsmr-{tag}-v-{id}"),
            attacker: format!("nsmr-{tag}-a-{id}"),
            client: format!("nsmr-{tag}-c-{id}"),
            server: None,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for ns in [&lab.victim, &lab.attacker, &lab.client] {
            must(&["ip", "netns", "add", ns]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let links = [
            (&lab.attacker, ATTACKER, VICTIM_A, "a"),
            (&lab.client, CLIENT, VICTIM_C, "c"),
        ];
        for (peer, peer_ip, victim_ip, side) in links {
            let (pv, vv) = (format!("r{tag}{side}0"), format!("r{tag}{side}1"));
            must(&[
                "ip",
                "link",
                "add",
                &pv,
                "netns",
                peer,
                "type",
                "veth",
                "peer",
                "name",
                &vv,
                "netns",
                &lab.victim,
            ]);
            must(&[
                "ip",
                "-n",
                peer,
                "addr",
                "add",
                &format!("{peer_ip}/24"),
                "dev",
                &pv,
            ]);
            must(&[
                "ip",
                "-n",
                &lab.victim,
                "addr",
                "add",
                &format!("{victim_ip}/24"),
                "dev",
                &vv,
            ]);
            must(&["ip", "-n", peer, "link", "set", &pv, "up"]);
            must(&["ip", "-n", &lab.victim, "link", "set", &vv, "up"]);
        }
        let server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.victim,
                "python3",
                "-m",
                "http.server",
                PORT,
            ])
            .args(["--bind", "0.0.0.0", "--directory"])
            .arg(lab.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the HTTP server");
        lab.server = Some(server);
        let start = Instant::now();
        while !(lab.connects(&lab.attacker, VICTIM_A) && lab.connects(&lab.client, VICTIM_C)) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "server never came up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        lab
    }

    /// Whether a TCP connect from `ns` to the server at `ip` succeeds within 1 s.
    fn connects(&self, ns: &str, ip: &str) -> bool {
        let url = format!("http://{ip}:{PORT}/");
        sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            "1",
            &url,
        ])
        .status
        .success()
    }

    fn attacker_connects(&self) -> bool {
        self.connects(&self.attacker, VICTIM_A)
    }

    fn client_connects(&self) -> bool {
        self.connects(&self.client, VICTIM_C)
    }

    fn config(&self, name: &str, body: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, body).expect("writing config");
        p
    }

    /// `nsm-tui ARGS` inside the victim namespace, with `env` set and DRY_RUN/SSH_* cleared.
    fn nsm(&self, config: &Path, db: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.victim, env!("CARGO_BIN_EXE_nsm-tui")])
            .arg("--config")
            .arg(config)
            .args(args)
            .arg("--db")
            .arg(self.dir.path().join(db));
        for k in [
            "DRY_RUN",
            "SSH_CONNECTION",
            "SSH_CLIENT",
            "MAX_CONCURRENT_ACTIONS",
        ] {
            c.env_remove(k);
        }
        c.envs(env.iter().copied());
        c.output().expect("running nsm-tui")
    }

    fn in_victim(&self, args: &[&str]) -> String {
        let mut a = vec!["ip", "netns", "exec", &self.victim];
        a.extend_from_slice(args);
        String::from_utf8_lossy(&sh(&a).stdout).into_owned()
    }

    /// Everything the firewall of the victim namespace holds (nftables and iptables/ipset).
    fn firewall_state(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.in_victim(&["nft", "list", "ruleset"]),
            self.in_victim(&["iptables-save"]),
            self.in_victim(&["ipset", "list"])
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        for ns in [&self.victim, &self.attacker, &self.client] {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Root and every tool a [`Lab`] and its firewall checks run; see `common::prerequisite`.
#[track_caller]
fn can_run() -> bool {
    common::need_root()
        && [
            "ip",
            "nft",
            "iptables",
            "iptables-save",
            "ipset",
            "python3",
            "curl",
        ]
        .iter()
        .all(|t| common::need_tool(t))
}

fn live_config(lab: &Lab, firewall: &str, extra: &str) -> PathBuf {
    lab.config(
        &format!("{firewall}.toml"),
        &format!(
            "[response]\ndry_run = false\nallowlist = [\"{CLIENT}/32\"]\n{extra}\n[actions]\nfirewall_type = \"{firewall}\"\n"
        ),
    )
}

/// Wipes the victim's firewall the way a restart would.
fn wipe(lab: &Lab, firewall: &str) {
    if firewall == "nftables" {
        lab.in_victim(&["nft", "flush", "ruleset"]);
    } else {
        lab.in_victim(&["iptables", "-F", "INPUT"]);
        lab.in_victim(&["iptables", "-F", "FORWARD"]);
        lab.in_victim(&["ipset", "destroy", "nsm_tui4"]);
    }
}

fn block_expire_unblock_flush_reconcile(lab: &Lab, firewall: &str) {
    let cfg = live_config(lab, firewall, "");
    let o = lab.nsm(&cfg, "live.db", &[], &["block", ATTACKER, "--for", "3s"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("verified"),
        "{}",
        text(&o)
    );
    let blocked_at = Instant::now();
    assert!(
        !lab.attacker_connects(),
        "attacker still connects after the block"
    );
    assert!(lab.client_connects(), "the other client lost access");
    let listed = lab.nsm(&cfg, "live.db", &[], &["blocks", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(ATTACKER),
        "{}",
        text(&listed)
    );
    // The element expires in the kernel on its own.
    std::thread::sleep(Duration::from_millis(3300).saturating_sub(blocked_at.elapsed()));
    let start = Instant::now();
    while !lab.attacker_connects() {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the block did not expire"
        );
    }
    eprintln!("{firewall}: block expired after {:?}", blocked_at.elapsed());

    let o = lab.nsm(&cfg, "live.db", &[], &["block", ATTACKER, "--for", "60s"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!lab.attacker_connects());
    let o = lab.nsm(&cfg, "live.db", &[], &["unblock", ATTACKER]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(lab.attacker_connects(), "unblock did not restore access");

    let o = lab.nsm(&cfg, "live.db", &[], &["block", ATTACKER, "--for", "60s"]);
    assert!(o.status.success(), "{}", text(&o));
    wipe(lab, firewall);
    assert!(lab.attacker_connects(), "the wipe did not remove the block");
    let o = lab.nsm(&cfg, "live.db", &[], &["blocks", "reconcile"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("re-applied 1"),
        "{}",
        text(&o)
    );
    assert!(
        !lab.attacker_connects(),
        "reconcile did not re-apply the block"
    );

    let o = lab.nsm(&cfg, "live.db", &[], &["blocks", "flush"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(lab.attacker_connects(), "flush did not remove the block");
    let o = lab.nsm(&cfg, "live.db", &[], &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// (address, extra environment, words the refusal must contain)
type Refusal<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

fn refusals_and_dry_run(lab: &Lab, firewall: &str) {
    let cfg = live_config(lab, firewall, "");
    let before = lab.firewall_state();
    let ssh = format!("{ATTACKER} 50022 {VICTIM_A} 22");
    let cases: [Refusal; 4] = [
        (
            ATTACKER,
            vec![("SSH_CONNECTION", ssh.as_str())],
            "SSH client",
        ),
        (CLIENT, vec![], "allowlisted"),
        ("10.9.8.7", vec![], "private"),
        (VICTIM_A, vec![], "own addresses"),
    ];
    for (addr, env, why) in &cases {
        let o = lab.nsm(&cfg, "refuse.db", env, &["block", addr, "--for", "60s"]);
        assert!(!o.status.success(), "{addr} was not refused: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(why),
            "{}",
            text(&o)
        );
    }
    assert!(lab.attacker_connects() && lab.client_connects());
    // Dry run (the default) records the command and leaves the firewall as it was.
    let dry = lab.config(
        "dry.toml",
        &format!("[actions]\nfirewall_type = \"{firewall}\"\n"),
    );
    let o = lab.nsm(&dry, "refuse.db", &[], &["block", ATTACKER, "--for", "60s"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("would run"),
        "{}",
        text(&o)
    );
    assert_eq!(
        before,
        lab.firewall_state(),
        "dry run or a refusal changed the firewall"
    );
    assert!(lab.attacker_connects());
    let db = rusqlite::Connection::open(lab.dir.path().join("refuse.db")).expect("db");
    let outcomes: Vec<String> = db
        .prepare("SELECT outcome FROM actions ORDER BY id")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("reading actions");
    assert_eq!(
        outcomes,
        ["refused", "refused", "refused", "refused", "dry_run"]
    );
}

fn caps_trip_the_breaker(lab: &Lab, firewall: &str) {
    let cfg = live_config(lab, firewall, "max_actions_per_minute = 2");
    for (i, addr) in ["198.51.100.50", "198.51.100.51", "198.51.100.52"]
        .iter()
        .enumerate()
    {
        let o = lab.nsm(&cfg, "caps.db", &[], &["block", addr, "--for", "30s"]);
        if i < 2 {
            assert!(o.status.success(), "{}", text(&o));
        } else {
            assert!(
                !o.status.success(),
                "third action was not stopped: {}",
                text(&o)
            );
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("circuit breaker") && err.contains("alert-only"),
                "{err}"
            );
        }
    }
    let live = lab.in_victim(&["nft", "list", "ruleset"]) + &lab.in_victim(&["ipset", "list"]);
    assert!(
        !live.contains("198.51.100.52"),
        "the capped block reached the firewall"
    );
    let o = lab.nsm(&cfg, "caps.db", &[], &["blocks", "flush"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// `block --confirm-within`: unconfirmed, the kernel drops the block when the window ends
/// and the next expiry pass audits `rolled_back`; confirmed, it outlives its window.
fn confirm_or_rollback(lab: &Lab, firewall: &str) {
    let cfg = live_config(lab, firewall, "");
    let db = "confirm.db";
    let args = ["block", ATTACKER, "--confirm-within", "2", "--for", "60s"];
    let o = lab.nsm(&cfg, db, &[], &args);
    let blocked_at = Instant::now();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("awaiting confirmation"),
        "{}",
        text(&o)
    );
    assert!(
        !lab.attacker_connects(),
        "the unconfirmed block is not in force"
    );
    let listed = lab.nsm(&cfg, db, &[], &["blocks", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("awaiting confirmation"),
        "{}",
        text(&listed)
    );
    std::thread::sleep(Duration::from_millis(2200).saturating_sub(blocked_at.elapsed()));
    let start = Instant::now();
    while !lab.attacker_connects() {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the unconfirmed block did not roll back"
        );
    }
    eprintln!(
        "{firewall}: unconfirmed block rolled back after {:?}",
        blocked_at.elapsed()
    );
    let o = lab.nsm(&cfg, db, &[], &["blocks", "reconcile"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("re-applied 0 block(s), ended 1 expired"),
        "{}",
        text(&o)
    );
    assert!(
        lab.attacker_connects(),
        "reconcile re-applied a rolled-back block"
    );

    let args = ["block", ATTACKER, "--confirm-within", "3", "--for", "60s"];
    let o = lab.nsm(&cfg, db, &[], &args);
    let blocked_at = Instant::now();
    assert!(o.status.success(), "{}", text(&o));
    let o = lab.nsm(&cfg, db, &[], &["confirm", ATTACKER]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("confirmed: block 198.51.100.2 for 60 s"),
        "{}",
        text(&o)
    );
    std::thread::sleep(Duration::from_millis(4000).saturating_sub(blocked_at.elapsed()));
    assert!(
        !lab.attacker_connects(),
        "the confirmed block ended with its confirmation window"
    );
    let o = lab.nsm(&cfg, db, &[], &["unblock", ATTACKER]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(lab.attacker_connects());

    let conn = rusqlite::Connection::open(lab.dir.path().join(db)).expect("db");
    let rows: Vec<(String, String)> = conn
        .prepare("SELECT action, outcome FROM actions ORDER BY id")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("reading actions");
    let want: Vec<(String, String)> = [
        ("block", "awaiting_confirmation"),
        ("expire", "rolled_back"),
        ("block", "awaiting_confirmation"),
        ("confirm", "confirmed"),
        ("unblock", "executed"),
    ]
    .iter()
    .map(|(a, o)| ((*a).to_string(), (*o).to_string()))
    .collect();
    assert_eq!(rows, want);
    let o = lab.nsm(&cfg, db, &[], &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Share of 300 fast 1400-byte pings from the attacker to the victim that got no answer.
fn ping_loss(lab: &Lab) -> f64 {
    let out = sh(&[
        "ip",
        "netns",
        "exec",
        &lab.attacker,
        "ping",
        "-q",
        "-n",
        "-c",
        "300",
        "-i",
        "0.002",
        "-s",
        "1400",
        "-W",
        "1",
        VICTIM_A,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(',')
        .find_map(|part| part.trim().strip_suffix("% packet loss"))
        .and_then(|p| p.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no loss figure in {text}"))
}

/// nftables only: a rate limit drops what the attacker sends beyond `bandwidth_limit` and lets
/// the rest through; a quarantine cuts the attacker off entirely, except toward a management
/// address; both are audited and removed by `unblock`.
fn rate_limit_and_quarantine(lab: &Lab) {
    if !common::need_tool("ping") {
        return;
    }
    let cfg = lab.config(
        "limit.toml",
        &format!(
            "[response]\ndry_run = false\nallowlist = [\"{CLIENT}/32\"]\n\n[actions]\n\
             firewall_type = \"nftables\"\nbandwidth_limit = \"100kbit\"\n"
        ),
    );
    // One `nsm-tui respond` command against the test's database; it must succeed.
    let run = |cfg: &Path, args: &[&str]| {
        let o = lab.nsm(cfg, "limit.db", &[], args);
        assert!(o.status.success(), "{}", text(&o));
        o
    };
    assert!(ping_loss(lab) < 5.0, "loss before any limit");
    let o = run(&cfg, &["block", ATTACKER, "--rate-limit", "--for", "60s"]);
    // 300 x 1.4 kB in about 0.6 s is some 700 kB/s; 100 kbit/s lets a small share through.
    let loss = ping_loss(lab);
    assert!(
        loss > 50.0,
        "rate limit let {:.0}% through\n{}\n{}",
        100.0 - loss,
        text(&o),
        lab.in_victim(&["nft", "list", "chain", "inet", "nsm_tui", "input"])
    );
    assert!(loss < 100.0, "a rate limit is not a block");
    assert!(lab.client_connects(), "the other client was limited too");
    run(&cfg, &["unblock", ATTACKER]);
    assert!(ping_loss(lab) < 5.0, "unblock did not lift the limit");

    run(&cfg, &["block", ATTACKER, "--quarantine", "--for", "60s"]);
    assert!(
        !lab.attacker_connects(),
        "a quarantined host still connects"
    );
    assert!(lab.client_connects(), "the other client lost access");
    run(&cfg, &["unblock", ATTACKER]);
    assert!(
        lab.attacker_connects(),
        "unblock did not end the quarantine"
    );
    // The victim's own address as a management address: the quarantined host keeps that path.
    let managed = lab.config(
        "managed.toml",
        &format!(
            "[response]\ndry_run = false\nallowlist = [\"{CLIENT}/32\"]\n\
             management_addresses = [\"{VICTIM_A}\"]\n\n[actions]\nfirewall_type = \"nftables\"\n"
        ),
    );
    run(
        &managed,
        &["block", ATTACKER, "--quarantine", "--for", "60s"],
    );
    assert!(
        lab.attacker_connects(),
        "the management address was cut off too"
    );
    run(&managed, &["unblock", ATTACKER]);
    let actions: Vec<String> = rusqlite::Connection::open(lab.dir.path().join("limit.db"))
        .expect("db")
        .prepare("SELECT action || ':' || outcome FROM actions ORDER BY id")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("actions");
    assert!(
        actions.contains(&"rate_limit:executed".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"quarantine:executed".to_string()),
        "{actions:?}"
    );
}

fn run_all(tag: &str, firewall: &str) {
    if !can_run() {
        return;
    }
    let lab = Lab::new(tag);
    refusals_and_dry_run(&lab, firewall);
    block_expire_unblock_flush_reconcile(&lab, firewall);
    caps_trip_the_breaker(&lab, firewall);
    confirm_or_rollback(&lab, firewall);
    if firewall == "nftables" {
        rate_limit_and_quarantine(&lab);
    }
}

#[test]
fn nftables_blocks_in_a_namespace() {
    run_all("n", "nftables");
}

#[test]
fn iptables_ipset_blocks_in_a_namespace() {
    run_all("i", "iptables");
}

/// Automatic response end to end: `nsm-tui --headless` captures in the victim namespace with
/// automatic response on and dry-run off; an nmap SYN scan from the attacker raises a
/// port-scan incident, the policy blocks the attacker and resets its connections, the other
/// client keeps its access, and the temporary block is removed when nsm-tui exits. Prints the
/// time from the triggering packet to the block being live (a measurement, not an assertion).
#[test]
fn nmap_scan_triggers_an_automatic_block() {
    if !can_run() || !common::need_tool("nmap") {
        return;
    }
    let lab = Lab::new("e");
    let cfg = lab.config(
        "auto.toml",
        &format!(
            "[sniffer]\nimmediate_mode = true\n\n[response]\nauto_response_enabled = true\ndry_run = false\n\
             response_threshold = 0.5\npolicy = [\"port_scan:Medium:block,reset:30\"]\nallowlist = [\"{CLIENT}/32\"]\n\n\
             [output]\neve_extensions = true\n"
        ),
    );
    let db = lab.dir.path().join("auto.db");
    let eve = lab.dir.path().join("auto.json");
    let mut nsm = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.victim,
            env!("CARGO_BIN_EXE_nsm-tui"),
            "--headless",
        ])
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .arg("--eve")
        .arg(&eve)
        .args(["-i", "rea1", "--no-pcap-log", "--duration", "30"])
        .env_remove("DRY_RUN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting nsm-tui --headless");
    let stderr = common::await_banner(&mut nsm);
    let scan = sh(&[
        "ip",
        "netns",
        "exec",
        &lab.attacker,
        "nmap",
        "-n",
        "-Pn",
        "-sS",
        "-T5",
        "--max-retries",
        "0",
        "-p",
        "1-200",
        VICTIM_A,
    ]);
    assert!(scan.status.success(), "{}", text(&scan));
    let start = Instant::now();
    while lab.attacker_connects() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no automatic block within 5 s"
        );
    }
    assert!(lab.client_connects(), "the other client lost access");
    let _ = sh(&["kill", "-TERM", &nsm.id().to_string()]);
    nsm.wait().expect("nsm-tui exits");
    let err = stderr.join().unwrap_or_default();
    let line = err
        .lines()
        .find(|l| l.contains("blocked 198.51.100.2"))
        .unwrap_or_else(|| panic!("no block reported:\n{err}"));
    let ms: f64 = line
        .split(';')
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no latency in {line:?}"));
    eprintln!("benchmark: triggering packet to block live: {ms:.1} ms (target < 100 ms)");
    // The same measurement reaches the final EVE stats, with the actions by outcome.
    let stats = std::fs::read_to_string(&eve)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["event_type"] == "stats")
        .expect("a stats event");
    let r = &stats["stats"]["response"];
    assert!(r["by_outcome"]["executed"].as_u64() >= Some(2), "{r}");
    assert_eq!(r["by_action"]["block"], 1, "{r}");
    assert_eq!(r["success_rate"], 1.0, "{r}");
    assert_eq!(r["time_to_block_ms"]["count"], 1, "{r}");
    let eve_ms = r["time_to_block_ms"]["last"].as_f64().expect("a latency");
    assert!(
        (eve_ms - ms).abs() < 0.1,
        "EVE says {eve_ms} ms, stderr {ms} ms"
    );
    assert!(
        lab.attacker_connects(),
        "the temporary block outlived nsm-tui"
    );
    let conn = rusqlite::Connection::open(&db).expect("db");
    let (actor, incident): (String, Option<i64>) = conn
        .query_row(
            "SELECT actor, incident_id FROM actions WHERE action = 'block' AND outcome = 'executed'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("an executed block in the audit trail");
    assert_eq!(actor, "auto");
    let cat: String = conn
        .query_row(
            "SELECT category FROM incidents WHERE id = ?1",
            [incident.expect("the block names its incident")],
            |r| r.get(0),
        )
        .expect("the incident row");
    assert_eq!(cat, "port_scan");
    // The policy's reset ran after the block, for the same incident.
    let (reset_incident, outcome): (Option<i64>, String) = conn
        .query_row(
            "SELECT incident_id, outcome FROM actions WHERE action = 'reset' AND actor = 'auto'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("an automatic reset in the audit trail");
    assert_eq!((reset_incident, outcome.as_str()), (incident, "executed"));
}

/// Connects from the attacker namespace to the victim's HTTP server and waits, sending
/// nothing: prints its local port, then how the connection ended (`reset`, `eof`, `data`
/// or `timeout` after 15 s).
const HOLD_OPEN: &str = r"
import socket
s = socket.create_connection(('198.51.100.1', 8080), timeout=5)
print(s.getsockname()[1], flush=True)
s.settimeout(15)
try:
    d = s.recv(1)
    print('data' if d else 'eof', flush=True)
except ConnectionResetError:
    print('reset', flush=True)
except socket.timeout:
    print('timeout', flush=True)
";

/// The client process, ended on drop whatever the test's outcome.
struct Held(Child);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `nsm-tui reset ATTACKER` inside the victim namespace (dry run off) ends an established
/// connection from the attacker: the attacker sees a reset or end of file, and the victim's
/// `ss -tn` no longer lists it. A dry run first leaves it alone. Skips with a note (fails under CI)
/// when the kernel cannot destroy sockets (no CONFIG_INET_DIAG_DESTROY).
#[test]
fn tcp_reset_ends_an_established_connection() {
    if !can_run() || !common::need_tool("ss") {
        return;
    }
    let lab = Lab::new("t");
    let mut held = Held(
        Command::new("ip")
            .args(["netns", "exec", &lab.attacker, "python3", "-c", HOLD_OPEN])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the client"),
    );
    let mut lines = BufReader::new(held.0.stdout.take().expect("stdout")).lines();
    let port = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.trim().parse::<u16>().ok())
        .unwrap_or_else(|| {
            // Its stdout ended without a port: it has exited, so stderr is complete.
            let mut err = String::new();
            if let Some(mut e) = held.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("the client did not connect: {err}")
        });
    let peer = format!("{ATTACKER}:{port}");
    let open = || {
        lab.in_victim(&["ss", "-t", "-n", "state", "established", "dst", &peer])
            .lines()
            .skip(1)
            .any(|l| l.contains(&peer))
    };
    assert!(open(), "the connection is not established in the victim");

    let dry = lab.config(
        "dry-reset.toml",
        "[actions]\nfirewall_type = \"nftables\"\n",
    );
    let o = lab.nsm(&dry, "reset.db", &[], &["reset", ATTACKER]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("would run: ss -K -t -n dst 198.51.100.2"),
        "{}",
        text(&o)
    );
    assert!(open(), "a dry-run reset ended the connection");

    let cfg = live_config(&lab, "nftables", "");
    let o = lab.nsm(&cfg, "reset.db", &[], &["reset", ATTACKER]);
    let cannot_destroy = !o.status.success()
        && String::from_utf8_lossy(&o.stderr).contains("CONFIG_INET_DIAG_DESTROY");
    if !common::prerequisite(
        !cannot_destroy,
        &format!(
            "a kernel that can destroy sockets (CONFIG_INET_DIAG_DESTROY; ss -K reset nothing)\n{}",
            text(&o)
        ),
    ) {
        return;
    }
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("TCP connection(s) to and from 198.51.100.2"),
        "{}",
        text(&o)
    );
    let ended = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = held.0.wait();
    assert!(
        ended == "reset" || ended == "eof",
        "the attacker's connection ended with {ended:?}, not a reset or EOF"
    );
    assert!(!open(), "ss -tn in the victim still lists the connection");
    eprintln!("reset: {}; the attacker saw {ended}", out.trim());

    let conn = rusqlite::Connection::open(lab.dir.path().join("reset.db")).expect("db");
    type Row = (String, String, Option<i64>, String);
    let mut st = conn
        .prepare(
            "SELECT outcome, command, exit_status, output FROM actions \
             WHERE action = 'reset' ORDER BY id",
        )
        .expect("query");
    let rows: Vec<Row> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .and_then(Iterator::collect)
        .expect("reading actions");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "dry_run");
    let (outcome, command, status, output) = &rows[1];
    assert_eq!(outcome, "executed");
    assert_eq!(
        command,
        "ss -K -t -n dst 198.51.100.2\nss -K -t -n src 198.51.100.2"
    );
    assert_eq!(*status, Some(0));
    assert!(
        output.contains(&peer),
        "the audit output does not name the socket: {output}"
    );
    let o = lab.nsm(&cfg, "reset.db", &[], &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}
