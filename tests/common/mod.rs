//! Helpers shared by the integration tests: where the shared captures live, and tool lookup.
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
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
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

/// `tcpdump -r FILE | wc -l`, or `None` when tcpdump cannot read the file.
pub fn tcpdump_count(file: &Path) -> Option<u64> {
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(file)
        .output()
        .ok()?;
    let lines = out.stdout.iter().filter(|&&b| b == b'\n').count() as u64;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && lines == 0 {
        return None;
    }
    // tcpdump prints what it read before a truncated record, then fails; that count is what a
    // user of `tcpdump -r FILE | wc -l` sees.
    let _ = err;
    Some(lines)
}
