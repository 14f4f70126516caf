//! Helpers shared by the integration tests: where the shared captures live, tool lookup, and
//! waiting for a headless capture to listen.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether every prerequisite of every test must be present: under CI (`CI` set to anything but
/// `false` or `0`) or with `NSM_TUI_REQUIRE_ALL=1`. Then a missing prerequisite fails the test
/// instead of skipping it.
pub fn require_all() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("NSM_TUI_REQUIRE_ALL")
}

/// `true` when the prerequisite `what` is met (`ok`). When it is not: under [`require_all`] the
/// test fails naming it; otherwise it prints that the calling test skipped and returns `false`,
/// so the test returns early:
///
/// ```ignore
/// if !common::prerequisite(is_root(), "root (network namespaces)") { return; }
/// ```
#[track_caller]
pub fn prerequisite(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    let here = std::panic::Location::caller();
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    assert!(
        !require_all(),
        "{test} ({here}) needs {what}, which is missing; CI and NSM_TUI_REQUIRE_ALL=1 run every test"
    );
    // Straight to the process's standard error, not `eprintln!`: the test harness captures that
    // and shows it only for failing tests, and a skip must be seen in a passing run.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: needs {what} (set NSM_TUI_REQUIRE_ALL=1 to make this a failure)"
    );
    false
}

/// Prints `text` on the process's standard error even when the test passes (the harness
/// captures `println!` and `eprintln!` of passing tests): for what a test counted but did not
/// check, such as captures tcpdump itself cannot read.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// `true` when `tool` is on PATH; see [`prerequisite`].
#[track_caller]
pub fn need_tool(tool: &str) -> bool {
    prerequisite(have(tool), &format!("the program `{tool}` on PATH"))
}

/// `true` when running as root (network namespaces, firewalls); see [`prerequisite`].
#[track_caller]
pub fn need_root() -> bool {
    prerequisite(
        rustix::process::geteuid().is_root(),
        "root (network namespaces, firewall, raw capture)",
    )
}

/// The shared capture corpus beside the project, or `None` (and a skip note) when it is absent;
/// see [`prerequisite`].
#[track_caller]
pub fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    prerequisite(
        p.join("pcaps").is_dir(),
        "the shared capture corpus ../shared/data",
    )
    .then_some(p)
}

/// Every capture file under `dir`, sorted, recursively.
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether a program is on PATH.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// How many packets tcpdump reads from `file`, or `None` when tcpdump cannot read it.
///
/// This is what `tcpdump -r FILE | wc -l` means to count: packets. tcpdump prints some packets
/// over several lines (ForCES, Babel, DECnet, ...), so the count comes from `--count`
/// (tcpdump 4.99+), or else from the lines that start with a `-tt` timestamp.
pub fn tcpdump_count(file: &Path) -> Option<u64> {
    let out = std::process::Command::new("tcpdump")
        .arg("--count")
        .arg("-r")
        .arg(file)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(n) = text.lines().find_map(|l| {
        l.strip_suffix(" packets")
            .or_else(|| l.strip_suffix(" packet"))
            .and_then(|n| n.trim().parse().ok())
    }) {
        return Some(n);
    }
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-tt", "-r"])
        .arg(file)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let n = text
        .lines()
        .filter(|l| {
            l.split_once(' ').is_some_and(|(t, _)| {
                t.contains('.') && t.chars().all(|c| c.is_ascii_digit() || c == '.')
            })
        })
        .count() as u64;
    if !out.status.success() && n == 0 {
        return None;
    }
    Some(n)
}

/// Block until the headless banner says libpcap is listening (or 20 s pass), so nothing is sent
/// before the capture can see it; the returned thread collects the rest of standard error.
pub fn await_banner(capture: &mut std::process::Child) -> std::thread::JoinHandle<String> {
    use std::io::BufRead;
    let stderr = capture.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("capturing on ") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let _ = rx.recv_timeout(std::time::Duration::from_secs(20));
    reader
}

/// Runs a command (program and arguments) and returns its output; panics when it cannot start.
pub fn sh(args: &[&str]) -> std::process::Output {
    std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs a command that must succeed; the test fails with its standard error otherwise.
pub fn must(args: &[&str]) {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `nsm-tui` run from the project's directory, with the environment variables that override
/// the configuration removed, so they cannot change the run under test.
pub fn nsm() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_nsm-tui"));
    for v in [
        "NETWORK_INTERFACE",
        "CAPTURE_DURATION",
        "PACKET_LIMIT",
        "DRY_RUN",
    ] {
        c.env_remove(v);
    }
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// The bundled demo capture.
pub fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap")
}

/// A temporary directory for the outputs of a live capture: a capture gives up root once it
/// is open and writes as an unprivileged user, so the directory is open to every user
/// (sticky, as `/tmp` is).
pub fn capture_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
        .expect("opening the directory to the capture's user");
    dir
}

/// A classic pcap (Ethernet, microsecond timestamps) of `frames`, a millisecond apart from
/// 2023-11-14 22:13:20 UTC, for tests that build their traffic from bytes.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let us = u32::try_from(i).expect("frame count") * 1000;
        out.extend_from_slice(&(1_700_000_000 + us / 1_000_000).to_le_bytes());
        out.extend_from_slice(&(us % 1_000_000).to_le_bytes());
        let n = u32::try_from(f.len()).expect("frame length").to_le_bytes();
        out.extend_from_slice(&n);
        out.extend_from_slice(&n);
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).expect("write the capture");
}

/// One Ethernet/IPv4/TCP frame `src`:`sport` → `dst`:`dport` with sequence number `seq`,
/// window 64240 and `payload`; `flags` names the flags set (`S` SYN, `A` ACK of `ack`, `P` PSH,
/// `F` FIN, `R` RST).
pub fn tcp_frame(
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 64240);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'P' => b.psh(),
            'F' => b.fin(),
            'R' => b.rst(),
            _ => b,
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build a TCP frame");
    out
}

/// `nsm-tui read FILE --no-db --no-pcap-log --eve -` and then `extra`; the EVE records it
/// printed. Fails the test (naming the capture) when the run fails. Nothing is written beside
/// the capture, so fixtures can be read in place.
pub fn read_eve(pcap: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = nsm()
        .arg("read")
        .arg(pcap)
        .args(["--no-db", "--no-pcap-log", "--eve", "-"])
        .args(extra)
        .output()
        .expect("run nsm-tui read");
    assert!(
        out.status.success(),
        "{}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an EVE line is JSON"))
        .collect()
}
