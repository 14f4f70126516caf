//! Helpers shared by the integration tests: where the shared captures live, tool lookup, and
//! waiting for a headless capture to listen.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared capture corpus beside the project, or `None` (and a note) when it is absent.
pub fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if p.join("pcaps").is_dir() {
        Some(p)
    } else {
        eprintln!("note: ../shared/data is absent; skipping the tests that read it");
        None
    }
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
