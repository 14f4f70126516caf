//! The Debian package end to end: built with cargo-deb from the binary under test, installed with
//! dpkg, the installed binary run from `/` on a shared attack capture with the packaged
//! signatures, the systemd unit verified, the man page rendered, the bash completion loaded, the
//! notification protocol spoken to a real datagram socket by a live capture in a network
//! namespace; then removed (only the conffiles stay) and purged (nothing stays).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PACKAGE: &str = "nsm-tui";
const UNIT: &str = "/usr/lib/systemd/system/nsm-tui.service";

/// Purges the package when the test ends, passed or failed.
/// Purges the package when the test ends, and deletes the system user its postinst created
/// when the machine had none before (Debian keeps a package's users; a test leaves nothing).
struct Installed {
    user_was_there: bool,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["-P", PACKAGE])
            .stdout(Stdio::null())
            .output();
        if !self.user_was_there {
            let _ = Command::new("userdel").arg("nsm-tui").output();
            let _ = Command::new("groupdel").arg("nsm-tui").output();
        }
    }
}

/// Deletes the network namespace when the test ends.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = common::sh(&["ip", "netns", "del", &self.0]);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `packaging/build-deb.sh` on the binary this test run built (no second build), into `dir`.
fn build_package(dir: &Path) -> PathBuf {
    let deb = dir.join("nsm-tui.deb");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_nsm-tui"));
    let profile_dir = bin.parent().unwrap();
    assert_eq!(
        profile_dir.file_name().unwrap(),
        "debug",
        "{}",
        bin.display()
    );
    run(Command::new("bash")
        .arg(root.join("packaging/build-deb.sh"))
        .arg("--output")
        .arg(&deb)
        .env("NSM_DEB_PROFILE", "dev")
        .env("NSM_DEB_NO_BUILD", "1")
        .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap())
        .current_dir(root));
    deb
}

/// The installed files (not directories) of the package, from its dpkg file list.
fn package_files() -> Vec<PathBuf> {
    run(Command::new("dpkg").args(["-L", PACKAGE]))
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect()
}

fn conffiles() -> Vec<PathBuf> {
    run(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}\n", PACKAGE]))
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(PathBuf::from))
        .collect()
}

#[test]
fn the_debian_package_installs_runs_supervised_and_removes_cleanly() {
    for tool in [
        "dpkg",
        "cargo-deb",
        "systemd-analyze",
        "man",
        "bash",
        "ip",
        "ping",
    ] {
        if !common::need_tool(tool) {
            return;
        }
    }
    if !common::need_root() {
        return;
    }
    let Some(shared) = common::shared_data() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let deb = build_package(tmp.path());

    let _installed = Installed {
        user_was_there: common::sh(&["getent", "passwd", "nsm-tui"])
            .status
            .success(),
    };
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let files = package_files();
    for want in [
        "/usr/bin/nsm-tui",
        "/etc/nsm-tui/config.toml",
        "/etc/logrotate.d/nsm-tui",
        "/usr/share/nsm-tui/signatures/basic_threats.json",
        UNIT,
        "/usr/share/man/man1/nsm-tui.1.gz",
        "/usr/share/bash-completion/completions/nsm-tui",
        "/usr/share/zsh/vendor-completions/_nsm-tui",
        "/usr/share/fish/vendor_completions.d/nsm-tui.fish",
    ] {
        assert!(files.contains(&PathBuf::from(want)), "{want} in {files:?}");
    }
    assert!(
        conffiles().contains(&PathBuf::from("/etc/nsm-tui/config.toml")),
        "{:?}",
        conffiles()
    );

    // The conffile changes nothing (every key commented) and the packaged signatures are the
    // ones a run from `/` finds.
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let installed = || {
        let mut c = Command::new("/usr/bin/nsm-tui");
        c.current_dir("/").env("HOME", &home);
        c
    };
    let conf = std::fs::read_to_string("/etc/nsm-tui/config.toml").unwrap();
    assert!(conf.contains("# capture_filter = \"\""), "{conf}");
    let printed =
        run(installed().args(["--config", "/etc/nsm-tui/config.toml", "config", "--print"]));
    assert!(
        printed.contains("signatures: /usr/share/nsm-tui/signatures"),
        "{printed}"
    );
    let eve = tmp.path().join("eve.json");
    run(installed()
        .arg("read")
        .arg(shared.join("pcaps/web_attacks/http_dvwa_sqlinjection.pcapng"))
        .args(["--no-db", "--no-pcap-log", "--eve"])
        .arg(&eve));
    let signature_alerts = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| {
            e["event_type"] == "alert" && e["alert"]["metadata"]["detector"][0] == "signature"
        })
        .count();
    assert!(signature_alerts >= 2, "{signature_alerts} signature alerts");

    // The unit as systemd reads it.
    run(Command::new("systemd-analyze").args(["verify", UNIT]));
    let unit = std::fs::read_to_string(UNIT).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/nsm-tui /var/log/nsm-tui",
        "--eve /var/log/nsm-tui/eve.json",
        "--db /var/lib/nsm-tui/",
    ] {
        assert!(unit.contains(line), "{line} in {unit}");
    }

    // The man page renders, and names the options of the binary.
    let man = run(Command::new("man")
        .args(["-P", "cat", "-l", "/usr/share/man/man1/nsm-tui.1.gz"])
        .env("MANWIDTH", "100"));
    assert!(
        man.contains("--headless") && man.contains("--signatures"),
        "{man}"
    );

    // The bash completion completes the subcommands and the options.
    let script = "source /usr/share/bash-completion/completions/nsm-tui\n\
        f=$(complete -p nsm-tui | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\
        COMP_WORDS=(nsm-tui re); COMP_CWORD=1; COMP_LINE='nsm-tui re'; COMP_POINT=${#COMP_LINE}\n\
        \"$f\" nsm-tui re nsm-tui\n\
        printf '%s\\n' \"${COMPREPLY[@]}\"";
    let completed = run(Command::new("bash").args(["--norc", "-c", script]));
    let words: Vec<&str> = completed.lines().collect();
    assert!(
        words.contains(&"read") && words.contains(&"replay"),
        "{completed}"
    );

    // The package's system user owns the directories the service writes.
    let owner = |p: &str| {
        let o = common::sh(&["stat", "-c", "%U:%G %a", p]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(owner("/var/lib/nsm-tui"), "nsm-tui:nsm-tui 750");
    assert_eq!(owner("/var/log/nsm-tui"), "nsm-tui:nsm-tui 750");

    notify_protocol(&installed);

    // Removal leaves the conffiles alone; purging removes them too.
    let mut conf_list = conffiles();
    conf_list.sort();
    run(Command::new("dpkg").args(["-r", PACKAGE]));
    let mut left: Vec<PathBuf> = files.iter().filter(|p| p.exists()).cloned().collect();
    left.sort();
    assert_eq!(left, conf_list, "left after dpkg -r");
    run(Command::new("dpkg").args(["-P", PACKAGE]));
    let left: Vec<&PathBuf> = files.iter().filter(|p| p.exists()).collect();
    assert!(left.is_empty(), "left after dpkg -P: {left:?}");
    assert!(!Path::new("/etc/nsm-tui").exists());
    assert!(!Path::new("/var/lib/nsm-tui").exists() && !Path::new("/var/log/nsm-tui").exists());
}

/// The unit's capability bounding set as `setpriv --bounding-set` takes it
/// (`-all,+net_raw,+net_admin,…`), so the test runs the sensor with what systemd would leave it.
fn unit_bounding_set() -> String {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let caps: Vec<String> = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .unwrap_or_else(|| panic!("no CapabilityBoundingSet in {UNIT}"))
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect();
    format!("-all,{}", caps.join(","))
}

/// A headless live capture on the loopback of a fresh namespace, started as systemd starts the
/// unit (NOTIFY_SOCKET, WATCHDOG_USEC), sends READY=1 when its capture is open and then
/// WATCHDOG=1 with a STATUS= line counting the packets it saw.
fn notify_protocol(installed: &dyn Fn() -> Command) {
    let ns = Netns(format!("nsm-pkg-{}", std::process::id()));
    common::must(&["ip", "netns", "add", &ns.0]);
    common::must(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
    // The capture gives up root once open and notifies as that user, as systemd's own socket
    // lets every user do: a socket anyone may write to, in a directory anyone may enter.
    let live_dir = common::capture_dir();
    let sock_path = live_dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o777)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();

    let program = installed();
    let mut c = Command::new("ip");
    // Within the unit's capability bounding set, as systemd starts it: the switch to the
    // nsm-tui user must work with what the unit grants.
    c.args(["netns", "exec", &ns.0])
        .args(["setpriv", "--bounding-set", &unit_bounding_set(), "--"])
        .arg(program.get_program())
        .args([
            "--config",
            "/etc/nsm-tui/config.toml",
            "--headless",
            "-i",
            "lo",
            "--no-db",
            "--no-pcap-log",
            "--eve",
        ])
        // A capture writes as an unprivileged user once open: a directory open to every user.
        .arg(live_dir.path().join("live.json"))
        .current_dir("/")
        .env("NOTIFY_SOCKET", &sock_path)
        // Two seconds: the pipeline then ticks (and pings) every second.
        .env("WATCHDOG_USEC", "2000000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();

    let mut messages: Vec<String> = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pinged = false;
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if messages.iter().any(|m| m.contains("READY=1")) {
            // Traffic for the counters, inside the namespace only.
            let _ = common::sh(&[
                "ip",
                "netns",
                "exec",
                &ns.0,
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "127.0.0.1",
            ]);
        }
        pinged = messages.iter().any(|m| {
            m.contains("WATCHDOG=1")
                && m.lines()
                    .filter_map(|l| l.strip_prefix("STATUS=packets "))
                    .any(|rest| !rest.starts_with("0,"))
        });
        if pinged {
            break;
        }
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let first = messages.first().map(String::as_str).unwrap_or_default();
    assert!(
        first.contains("READY=1") && first.contains("STATUS=capturing on lo"),
        "{messages:?}\n{stderr}"
    );
    assert!(
        pinged,
        "no WATCHDOG with packets counted: {messages:?}\n{stderr}"
    );
    assert!(
        messages.last().is_some_and(|m| m.contains("STOPPING=1")),
        "{messages:?}"
    );
    assert!(status.success(), "{status:?}\n{stderr}");
    // The package's user, not nobody: the switch worked within the unit's bounding set.
    assert!(
        stderr.contains("privileges: running as nsm-tui"),
        "{stderr}"
    );
}
