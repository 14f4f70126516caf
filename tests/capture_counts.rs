//! The file source yields exactly as many frames as `tcpdump -r FILE | wc -l` for every
//! capture in the shared corpus that tcpdump reads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;

fn count_frames(path: &std::path::Path) -> Result<u64, String> {
    let mut src = FileSource::open(path).map_err(|e| e.to_string())?;
    let mut n = 0;
    loop {
        match src.next_frame() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return Ok(n),
            Err(e) => return Err(format!("{e} (after {n})")),
        }
    }
}

#[test]
fn frame_counts_match_tcpdump_on_every_shared_capture() {
    let Some(data) = common::shared_data() else {
        return;
    };
    if !common::need_tool("tcpdump") {
        return;
    }
    let mut mismatches = Vec::new();
    let mut compared = 0;
    // Captures tcpdump itself cannot read have no count to compare with; they are counted and
    // named, not silently passed over.
    let mut unreadable = Vec::new();
    for file in common::captures_under(&data.join("pcaps")) {
        let Some(expected) = common::tcpdump_count(&file) else {
            unreadable.push(file.display().to_string());
            continue;
        };
        compared += 1;
        let got = count_frames(&file);
        let ok = match &got {
            Ok(n) => *n == expected,
            // A truncated last record: tcpdump printed what came before it.
            Err(_) => false,
        };
        if !ok {
            mismatches.push(format!(
                "{}: tcpdump {expected}, nsm-tui {got:?}",
                file.display()
            ));
        }
    }
    common::note(&format!(
        "capture_counts: compared {compared} captures; {} not compared because tcpdump cannot \
         read them{}",
        unreadable.len(),
        unreadable
            .iter()
            .map(|f| format!("\n  {f}"))
            .collect::<String>()
    ));
    assert!(compared > 300, "only {compared} captures compared");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
