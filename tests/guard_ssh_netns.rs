//! The self-lockout guard in the headline use: an administrator logged in over SSH runs
//! nsm-tui without `SSH_CONNECTION` (as under `sudo`, which drops it). In two network
//! namespaces this test creates (server and client joined by a veth pair), a real sshd runs in
//! the server namespace with a temporary host key and config, and the client logs in as root
//! with a temporary key and keeps the session open. Then, inside the server namespace with the
//! SSH variables removed, both `nsm-tui block <client> --dry-run` and the console (live capture
//! on the veth in tmux: filter the client's packets, press `b`) refuse the client's address
//! and say it is an SSH peer; the console's refusal lands in the audit trail.
//!
//! Needs root, iproute2, OpenSSH (ssh, ssh-keygen, /usr/sbin/sshd) and tmux. Everything it
//! made (namespaces, sshd, the session, tmux, files) is removed on drop, also on failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use common::{must, sh};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "198.51.100.1";
const CLIENT: &str = "198.51.100.2";
const SSHD: &str = "/usr/sbin/sshd";

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The namespaces, sshd, the SSH session and the tmux console; all removed on drop.
struct Lab {
    server: String,
    client: String,
    veth: String,
    dir: tempfile::TempDir,
    children: Vec<Child>,
    tmux: Option<String>,
    made_run_sshd: bool,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(t) = self.tmux.take() {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", &t])
                .output();
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Anything left in the namespaces (sshd's session processes) goes with them.
        for ns in [&self.server, &self.client] {
            if let Ok(o) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).output();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        if self.made_run_sshd {
            let _ = std::fs::remove_dir("/run/sshd");
        }
    }
}

impl Lab {
    fn new() -> Lab {
        let id = std::process::id();
        let mut lab = Lab {
            server: format!("nsmg-s-{id}"),
            client: format!("nsmg-c-{id}"),
            veth: format!("g{}s", id % 100_000),
            dir: tempfile::tempdir().expect("tempdir"),
            children: Vec::new(),
            tmux: None,
            made_run_sshd: false,
        };
        for ns in [&lab.server, &lab.client] {
            must(&["ip", "netns", "add", ns]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let peer = format!("g{}c", id % 100_000);
        must(&[
            "ip",
            "link",
            "add",
            &peer,
            "netns",
            &lab.client,
            "type",
            "veth",
            "peer",
            "name",
            &lab.veth,
            "netns",
            &lab.server,
        ]);
        must(&[
            "ip",
            "-n",
            &lab.client,
            "addr",
            "add",
            &format!("{CLIENT}/24"),
            "dev",
            &peer,
        ]);
        must(&[
            "ip",
            "-n",
            &lab.server,
            "addr",
            "add",
            &format!("{SERVER}/24"),
            "dev",
            &lab.veth,
        ]);
        must(&["ip", "-n", &lab.client, "link", "set", &peer, "up"]);
        must(&["ip", "-n", &lab.server, "link", "set", &lab.veth, "up"]);
        // sshd's privilege separation directory (made by the service unit, not the package).
        if !Path::new("/run/sshd").exists() {
            std::fs::create_dir_all("/run/sshd").expect("creating /run/sshd");
            lab.made_run_sshd = true;
        }
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn keygen(&self, name: &str) {
        let p = self.path(name);
        must(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            p.to_str().unwrap(),
        ]);
    }

    fn start_sshd(&mut self) {
        self.keygen("host_key");
        self.keygen("id");
        std::fs::copy(self.path("id.pub"), self.path("authorized_keys")).unwrap();
        let config = format!(
            "Port 22\nListenAddress {SERVER}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\n",
            self.path("host_key").display(),
            self.path("sshd.pid").display(),
            self.path("authorized_keys").display(),
        );
        std::fs::write(self.path("sshd_config"), config).unwrap();
        let cfg = self.path("sshd_config");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.server, SSHD, "-D", "-e", "-f"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("sshd.log")).unwrap())
            .spawn()
            .expect("starting sshd");
        self.children.push(child);
    }

    fn ssh(&self, remote: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.client, "ssh", "-i"])
            .arg(self.path("id"))
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=2",
                "-o",
                "LogLevel=ERROR",
                &format!("root@{SERVER}"),
                remote,
            ])
            .stdin(Stdio::null());
        c
    }

    /// Logs in once to check sshd is up, then keeps a session open that prints a line every
    /// 200 ms (traffic from the client for the console to show).
    fn open_session(&mut self) {
        let start = Instant::now();
        loop {
            let o = self.ssh("true").output().expect("ssh");
            if o.status.success() {
                break;
            }
            let log = std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default();
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "ssh login failed: {}\nsshd log:\n{log}",
                text(&o)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let session = self
            .ssh("while :; do echo x; sleep 0.2; done")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh session");
        self.children.push(session);
        let start = Instant::now();
        loop {
            let ss = sh(&[
                "ip",
                "netns",
                "exec",
                &self.server,
                "ss",
                "-Htnp",
                "state",
                "established",
            ]);
            let out = String::from_utf8_lossy(&ss.stdout).into_owned();
            if out
                .lines()
                .any(|l| l.contains(CLIENT) && l.contains("sshd"))
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no established sshd socket to the client:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// nsm-tui inside the server namespace with the SSH variables removed (as sudo does).
    /// (Options after the command name, as each command takes them.)
    fn nsm_command(&self, db: &str, args: &str) -> String {
        format!(
            "ip netns exec '{}' env -u SSH_CONNECTION -u SSH_CLIENT -u DRY_RUN '{}' --config '{}' {args} --db '{}'",
            self.server,
            env!("CARGO_BIN_EXE_nsm-tui"),
            self.path("nsm-tui.toml").display(),
            self.path(db).display()
        )
    }

    fn nsm(&self, db: &str, args: &str) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg(self.nsm_command(db, args))
            .env_remove("SSH_CONNECTION")
            .env_remove("SSH_CLIENT")
            .output()
            .expect("running nsm-tui")
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let t = self.tmux.clone().expect("console started");
        let mut a = vec!["send-keys", "-t", &t];
        a.extend(keys);
        self.tmux(&a);
    }

    fn screen(&self) -> String {
        let t = self.tmux.clone().expect("console started");
        self.tmux(&["capture-pane", "-p", "-t", &t])
    }

    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn ssh_peer_is_refused_without_ssh_connection_by_cli_and_console() {
    if !common::need_root() {
        return;
    }
    for tool in ["ip", "ss", "ssh", "ssh-keygen", "tmux"] {
        if !common::need_tool(tool) {
            return;
        }
    }
    if !common::prerequisite(
        Path::new(SSHD).exists(),
        "OpenSSH's server at /usr/sbin/sshd",
    ) {
        return;
    }
    let mut lab = Lab::new();
    std::fs::write(
        lab.path("nsm-tui.toml"),
        // `user = "root"`: the console gives up its capabilities once capture is open but
        // stays user 0, so it can still write its database in this root-only directory.
        "[response]\ndry_run = true\n[storage]\npcap_log_enabled = false\n[sniffer]\nuser = \"root\"\n",
    )
    .unwrap();
    lab.start_sshd();
    lab.open_session();

    // The CLI: refused, naming SSH; another public address of the same subnet is not.
    let o = lab.nsm("cli.db", &format!("block {CLIENT} --dry-run"));
    assert!(
        !o.status.success(),
        "the SSH peer was not refused: {}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refused") && err.contains("SSH session"),
        "{}",
        text(&o)
    );
    let o = lab.nsm("cli.db", "block 198.51.100.3 --dry-run");
    assert!(o.status.success(), "{}", text(&o));

    // The console, live on the server's veth.
    let session = format!("nsm-guard-{}", std::process::id());
    let cmd = lab.nsm_command("console.db", &format!("-i '{}'", lab.veth));
    let ok = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "120",
            "-y",
            "40",
            "-c",
        ])
        .arg(lab.dir.path())
        .args(["sh", "-c", &cmd])
        .status()
        .expect("tmux starts");
    assert!(ok.success());
    lab.tmux = Some(session);
    lab.wait_for("[LIVE]");
    let screen = lab.wait_for("[DRY RUN]");
    assert!(screen.contains("nsm-tui"), "{screen}");
    lab.keys(&[&format!("/src host {CLIENT}"), "Enter"]);
    // The filter is applied (its title shows) and the client's packets are listed.
    lab.wait_for(&format!("filter: src host {CLIENT}"));
    lab.wait_for(&format!("{CLIENT}:"));
    lab.keys(&["b"]);
    let screen = lab.wait_for("Block source address?");
    assert!(
        screen.contains(&format!(
            "REFUSED — {CLIENT} is the peer of an established SSH"
        )),
        "{screen}"
    );
    assert!(screen.contains("[esc] close"), "{screen}");
    lab.keys(&["Escape"]);
    let screen = lab.wait_for("refused:");
    assert!(screen.contains("SSH session"), "{screen}");
    lab.keys(&["q"]);
    let name = lab.tmux.clone().expect("console started");
    let start = Instant::now();
    while Command::new("tmux")
        .args(["has-session", "-t", &name])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the console did not quit:\n{}",
            lab.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.tmux = None;
    let conn = rusqlite::Connection::open(lab.path("console.db")).expect("console db");
    let refused: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM actions WHERE target = ?1 AND outcome = 'refused' \
             AND actor = 'console' AND action = 'block'",
            [CLIENT],
            |r| r.get(0),
        )
        .expect("actions");
    assert_eq!(refused, 1, "the console's refusal is in the audit trail");
}
