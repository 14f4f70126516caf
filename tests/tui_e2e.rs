//! End to end: `nsm-tui demo` in a real terminal (tmux), driven by keys: `/tcp` filters, `w`
//! writes a pcap whose packet count matches, `b` shows the confirm dialog, `q` quits cleanly;
//! `a`/`n` acknowledge and annotate an incident in the database; space pauses, `R` reloads
//! signatures, SIGTERM and a closed terminal end it.
//! Without tmux each test skips with a note, or fails naming it under CI and
//! `NSM_TUI_REQUIRE_ALL=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;
use nsm_tui::engine::Proto;

struct Session(String);

impl Session {
    /// A detached tmux session of `cols`×`rows` running `sh -c cmd` in `dir`.
    fn start(tag: &str, dir: &Path, cols: u16, rows: u16, cmd: &str) -> Session {
        let s = Session(format!("nsm-tui-e2e-{tag}-{}", std::process::id()));
        let (x, y) = (cols.to_string(), rows.to_string());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &s.0, "-x", &x, "-y", &y, "-c"])
            .arg(dir)
            .args(["sh", "-c", cmd])
            .status()
            .expect("tmux starts");
        assert!(ok.success());
        s
    }
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", &self.0];
        a.extend(keys);
        self.tmux(&a);
    }
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.0])
    }
    /// Wait until the screen contains `text`; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {text:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

/// A temporary directory, the binary and the shipped signatures; `None` when tmux is not
/// installed (see `common::prerequisite`).
#[track_caller]
fn setup() -> Option<(tempfile::TempDir, &'static str, PathBuf)> {
    if !common::need_tool("tmux") || !common::need_tool("kill") {
        return None;
    }
    let sigs = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
    Some((
        tempfile::tempdir().unwrap(),
        env!("CARGO_BIN_EXE_nsm-tui"),
        sigs,
    ))
}

fn packets_in(path: &Path) -> (u64, u64) {
    let mut src = FileSource::open(path).expect("readable pcap");
    let (mut all, mut tcp) = (0, 0);
    while let Some(f) = src.next_frame().expect("frame") {
        all += 1;
        tcp += u64::from(nsm_tui::engine::decode::decode(&f).proto() == Proto::Tcp);
    }
    (all, tcp)
}

#[test]
fn demo_in_tmux_filters_writes_blocks_and_quits() {
    let Some((dir, bin, sigs)) = setup() else {
        return;
    };
    let status = dir.path().join("exit-status");
    let cmd = format!(
        "'{bin}' demo --fast --db data/packets.db --signatures '{}'; echo $? > '{}'",
        sigs.display(),
        status.display()
    );
    let s = Session::start("main", dir.path(), 120, 40, &cmd);
    s.wait_for("[FINISHED]");
    s.wait_for("Packets 3000/3000");

    s.keys(&["/tcp", "Enter"]);
    let screen = s.wait_for("filter: tcp");
    let (_, demo_tcp) =
        packets_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap"));
    assert!(
        screen.contains(&format!("/{demo_tcp} (following)")),
        "{screen}"
    );
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains(":") && l.starts_with("│2"))
        .collect();
    assert!(!rows.is_empty(), "{screen}");
    assert!(rows.iter().all(|l| l.contains(" tcp ")), "{screen}");

    s.keys(&["w"]);
    s.wait_for("Write pcap");
    s.keys(&["Enter"]);
    let screen = s.wait_for("packets to ");
    let out = dir.path().join("data/nsm-tui-filtered-1.pcap");
    assert!(
        screen.contains(&format!(
            "wrote {demo_tcp} packets to data/nsm-tui-filtered-1.pcap"
        )),
        "{screen}"
    );
    let (all, tcp) = packets_in(&out);
    assert_eq!((all, tcp), (demo_tcp, demo_tcp));
    if let Some(n) = common::tcpdump_count(&out) {
        assert_eq!(n, demo_tcp, "tcpdump reads the same count");
    }

    s.keys(&["b"]);
    let screen = s.wait_for("Block source address?");
    assert!(
        screen.contains("nft -f - <<< 'add element inet nsm_tui block4 {"),
        "{screen}"
    );
    assert!(screen.contains("DRY RUN"), "{screen}");
    assert!(screen.contains("Allowlist:"), "{screen}");
    s.keys(&["Escape"]);
    s.wait_for("block cancelled");

    // Incidents: acknowledge the selected one, annotate it; both reach the database.
    s.keys(&["Tab"]);
    s.keys(&["a"]);
    s.wait_for(" acknowledged");
    s.keys(&["n"]);
    s.wait_for("Note for incident #");
    s.keys(&["-l", "seen from the console"]);
    s.keys(&["Enter"]);
    s.wait_for("note added to incident #");

    s.keys(&["q"]);
    let start = Instant::now();
    while !status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "nsm-tui did not exit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "0");
    let db = rusqlite::Connection::open(dir.path().join("data/packets.db")).unwrap();
    let (state, notes): (String, String) = db
        .query_row(
            "SELECT state, notes FROM incidents WHERE notes != '' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "acknowledged");
    assert!(notes.contains("seen from the console"), "{notes}");
}

/// The `total N pkts` figure of the status bar.
fn total(screen: &str) -> Option<u64> {
    let rest = screen.split("total ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn pause_holds_the_replay_and_sigterm_restores_the_terminal() {
    let Some((dir, bin, sigs)) = setup() else {
        return;
    };
    let (pidfile, status) = (dir.path().join("pid"), dir.path().join("exit-status"));
    // `exec` keeps the shell's pid, so the pid file names nsm-tui itself.
    let cmd = format!(
        "sh -c 'echo $$ > \"{}\"; exec \"{bin}\" demo --signatures \"{}\"'; echo $? > '{}'; sleep 30",
        pidfile.display(),
        sigs.display(),
        status.display()
    );
    let s = Session::start("term", dir.path(), 100, 30, &cmd);
    s.wait_for("[REPLAY]");
    s.keys(&["Space"]);
    let paused = s.wait_for("[PAUSED]");
    std::thread::sleep(Duration::from_millis(800));
    let later = s.screen();
    let (a, b) = (total(&paused), total(&later));
    assert!(a.is_some() && a < Some(3000), "{paused}");
    // One batch may still be in flight when the pause lands; after that nothing moves.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(total(&s.screen()), b, "the replay moved while paused");
    s.keys(&["Space"]);
    s.wait_for("[REPLAY]");
    s.keys(&["R"]);
    s.wait_for("signatures reloaded: ");

    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    while !status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "nsm-tui ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "0");
    // Back on the normal screen: the run summary is there, the console's frame is not.
    let screen = s.screen();
    assert!(!screen.contains("┌ Packets"), "{screen}");
    assert!(screen.contains("packets"), "{screen}");
}

#[test]
fn closing_the_terminal_ends_the_console() {
    let Some((dir, bin, sigs)) = setup() else {
        return;
    };
    let pidfile = dir.path().join("pid");
    // Slow replay, so the console is still running when its terminal goes away.
    let cmd = format!(
        "echo $$ > '{}'; exec '{bin}' demo --no-db --speed 0.1 --signatures '{}'",
        pidfile.display(),
        sigs.display()
    );
    let s = Session::start("hangup", dir.path(), 100, 30, &cmd);
    s.wait_for("[REPLAY]");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let proc_dir = Path::new("/proc").join(pid.trim());
    assert!(proc_dir.exists());
    drop(s); // kills the tmux session: the terminal hangs up
    let start = Instant::now();
    while proc_dir.exists() {
        let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        if state.split_whitespace().nth(2) == Some("Z") {
            break; // exited; waiting to be reaped
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            panic!("nsm-tui kept running after its terminal closed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
