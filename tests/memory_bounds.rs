//! Memory bounded by bytes: a crafted sparse capture whose records claim 128 MiB each (D-Bus,
//! a link type that allows records that large) is read under a 1 GB address-space limit. The
//! records are cut to 256 KiB as they are read and the last one, which claims more than the
//! file holds, ends the input with a message naming the file and the packet count; nothing
//! allocates what a record claims. Peak-memory figures belong to `benches/memory.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

const CLAIM: u32 = 128 << 20;
/// Whole records of 128 MiB (holes in a sparse file), then one that the file cuts short.
const WHOLE: u64 = 6;

fn record_header(f: &mut File, sec: u32) {
    for v in [sec, 0, CLAIM, CLAIM] {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
}

/// A pcap of link type 231 (D-Bus) with `WHOLE` records of 128 MiB of zeros that take no disk
/// space, then a record claiming 128 MiB of which 100 bytes are present.
fn sparse_capture(path: &Path) {
    let mut f = File::create(path).unwrap();
    f.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    f.write_all(&2u16.to_le_bytes()).unwrap();
    f.write_all(&4u16.to_le_bytes()).unwrap();
    for v in [0u32, 0, 0, 231] {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
    for i in 0..WHOLE {
        record_header(&mut f, u32::try_from(i).unwrap() + 1);
        f.seek(SeekFrom::Current(i64::from(CLAIM))).unwrap();
    }
    record_header(&mut f, 100);
    f.write_all(&[0u8; 100]).unwrap();
}

#[test]
fn a_sparse_capture_claiming_128_mib_records_is_read_without_allocating_them() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sparse_dbus.pcap");
    sparse_capture(&cap);
    let eve = dir.path().join("eve.json");
    // 1 GB of address space: a batch of six 128 MiB records alone would not fit, nor would the
    // 128 MiB the last record claims on top of the threads' own reservations.
    let out = Command::new("bash")
        .arg("-c")
        .arg("ulimit -v 1000000 && exec \"$@\"")
        .arg("nsm-tui")
        .arg(env!("CARGO_BIN_EXE_nsm-tui"))
        .args(["read"])
        .arg(&cap)
        .arg("--eve")
        .arg(&eve)
        .args(["--no-db", "--no-pcap-log"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success(),
        "nsm-tui failed under the memory limit ({:?}): {stderr}",
        out.status
    );
    assert!(!stderr.contains("memory allocation"), "{stderr}");
    let name = cap.display().to_string();
    assert!(
        stderr.contains(&format!("{name}: truncated record: {CLAIM} captured bytes announced, 100 present (after {WHOLE} packets)")),
        "the error should name the file, the record and what it claimed: {stderr}"
    );
    // The whole records were read (cut to 256 KiB each) and counted.
    assert!(
        stderr.contains(&format!("{WHOLE} packets have link type 231")),
        "the {WHOLE} whole records should be counted: {stdout}{stderr}"
    );
}
