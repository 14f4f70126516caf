//! The files a root process writes: the binary and the store over real files, links,
//! directories and processes. No output follows a final symbolic link or overwrites what it
//! did not create, new files are 0640, only the data directory is created, an earlier run's
//! pcap log is kept, and a second process writing the same database is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nsm_tui::store::safe_file::SafeFileError;
use nsm_tui::store::StoreError;

/// `nsm-tui read` of the demo capture writing the given outputs (`flags[i]` takes
/// `outputs[i]`); the database and the pcap log are off unless named.
fn read(outputs: &[&Path], flags: &[&str]) -> Output {
    let mut c = common::nsm();
    c.arg("read").arg(common::demo());
    for (flag, path) in flags.iter().zip(outputs) {
        c.arg(flag).arg(path);
    }
    for (given, off) in [("--db", "--no-db"), ("--pcap-log", "--no-pcap-log")] {
        if !flags.contains(&given) {
            c.arg(off);
        }
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// A victim file and a link to it named `name` in `dir`.
fn planted_link(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let link = dir.join(name);
    symlink(&victim, &link).unwrap();
    (victim, link)
}

#[test]
fn no_output_is_written_through_a_symbolic_link() {
    for (name, flag) in [
        ("log.pcap", "--pcap-log"),
        ("eve.json", "--eve"),
        ("x.db", "--db"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (victim, link) = planted_link(dir.path(), name);
        let out = read(&[&link], &[flag]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{name}: a link was accepted: {err}");
        assert!(
            err.contains("symbolic link") && err.contains(name),
            "{name}: {err}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "{name}");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}

#[test]
fn outputs_are_created_0640() {
    let dir = tempfile::tempdir().unwrap();
    let (eve, db, plog) = (
        dir.path().join("eve.json"),
        dir.path().join("p.db"),
        dir.path().join("log.pcap"),
    );
    let out = read(&[&eve, &db, &plog], &["--eve", "--db", "--pcap-log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for p in [&eve, &db, &plog] {
        assert_eq!(mode(p), 0o640, "{}", p.display());
    }
    // SQLite gives its -wal and -shm the database's mode; check them while a connection holds
    // them open.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("SELECT count(*) FROM alerts", [], |r| r.get::<_, i64>(0))
        .unwrap();
    for suffix in ["-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            assert_eq!(mode(&p), 0o640, "{}", p.display());
        }
    }
}

#[test]
fn a_missing_directory_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent");
    for (flag, name) in [
        ("--db", "x.db"),
        ("--pcap-log", "x.pcap"),
        ("--eve", "eve.json"),
    ] {
        let out = read(&[&missing.join(name)], &[flag]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{flag}: {err}");
        assert!(
            err.contains("does not exist") && err.contains("nonexistent"),
            "{flag}: {err}"
        );
        assert!(!missing.exists(), "{flag} created {}", missing.display());
    }
}

#[test]
fn a_directory_others_can_write_is_refused_unless_sticky() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = read(&[&open.join("log.pcap")], &["--pcap-log"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("writable by other users"), "{err}");
    assert!(!open.join("log.pcap").exists());

    // Sticky and ours, as /tmp is root's: accepted.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = read(&[&open.join("log.pcap")], &["--pcap-log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(open.join("log.pcap").exists());
}

#[test]
fn an_existing_file_of_another_user_is_refused() {
    if !common::need_root() {
        return;
    }
    // Not nobody (65534): a root run accepts the files of the user captures switch to.
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    std::fs::write(&eve, b"").unwrap();
    rustix::fs::chown(
        &eve,
        Some(rustix::fs::Uid::from_raw(4242)),
        Some(rustix::fs::Gid::from_raw(4242)),
    )
    .unwrap();
    let out = read(&[&eve], &["--eve"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("belongs to uid 4242"), "{err}");
    assert!(std::fs::read(&eve).unwrap().is_empty());
}

#[test]
fn a_second_run_keeps_the_first_runs_pcap_log() {
    let dir = tempfile::tempdir().unwrap();
    let plog = dir.path().join("log.pcap");
    for _ in 0..2 {
        let out = read(&[&plog], &["--pcap-log"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let first = std::fs::read(&plog).unwrap();
    let second = std::fs::read(dir.path().join("log.1.pcap")).unwrap();
    assert!(first.len() > 24, "the first run's log was truncated");
    assert_eq!(first, second, "both runs logged the same capture");
}

#[test]
fn an_export_refuses_an_existing_file_and_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("old.pcap");
    std::fs::write(&existing, b"keep").unwrap();
    let err = nsm_tui::store::write_pcap(&existing, []).unwrap_err();
    assert!(
        matches!(err, StoreError::File(SafeFileError::Exists { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep");

    let (victim, link) = planted_link(dir.path(), "export.pcap");
    let err = nsm_tui::store::write_pcap(&link, []).unwrap_err();
    assert!(
        matches!(err, StoreError::File(SafeFileError::Symlink { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

    let fresh = dir.path().join("new.pcap");
    assert_eq!(nsm_tui::store::write_pcap(&fresh, []).unwrap(), 0);
    assert_eq!(mode(&fresh), 0o640);
}

#[test]
fn a_second_process_writing_the_same_database_is_refused_naming_the_first() {
    if !common::need_root() {
        return;
    }
    let dir = common::capture_dir();
    let db = dir.path().join("shared.db");
    // The first writer: a headless capture on loopback that sees nothing and runs until killed.
    let mut first = common::nsm()
        .args([
            "--headless",
            "-i",
            "lo",
            "-f",
            "udp port 9",
            "--duration",
            "60",
        ])
        .arg("--no-pcap-log")
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first_err = common::await_banner(&mut first);
    // The banner comes when libpcap listens; the database is opened (and locked) just after.
    let lock = dir.path().join("shared.db.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&lock).map_or(true, |t| !t.contains(&first.id().to_string())) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first writer never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = read(&[&db], &["--db"]);
    let _ = first.kill();
    let _ = first.wait();
    let first_err = first_err.join().unwrap();
    let err = stderr(&second);
    assert!(!second.status.success(), "second writer accepted: {err}");
    assert!(
        err.contains("another nsm-tui") && err.contains(&format!("pid {}", first.id())),
        "second: {err}\nfirst: {first_err}"
    );
    // With the first gone, the lock is free again.
    let third = read(&[&db], &["--db"]);
    assert!(third.status.success(), "{}", stderr(&third));
}

/// A small tmpfs mounted on a fresh directory, unmounted when dropped.
struct SmallFs(tempfile::TempDir);

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        common::must(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0755"),
            "nsm-tui-test",
            dir.path().to_str().unwrap(),
        ]);
        SmallFs(dir)
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_is_counted_in_the_summary_and_fails_the_run() {
    if !common::need_root() || !common::need_tool("mount") {
        return;
    }
    let (eve_fs, pcap_fs) = (SmallFs::mount("16k"), SmallFs::mount("16k"));
    let eve = eve_fs.path().join("eve.json");
    let plog = pcap_fs.path().join("log.pcap");
    let out = read(&[&eve, &plog], &["--eve", "--pcap-log"]);
    let (summary, err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        !out.status.success(),
        "a full disk ended well: {summary}\n{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    let lost = summary
        .lines()
        .find(|l| l.starts_with("LOST:"))
        .unwrap_or_else(|| panic!("no LOST line: {summary}"));
    let numbers: Vec<u64> = lost
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{lost}");
    assert!(numbers[0] > 0, "no EVE event counted lost: {lost}");
    // 3000 packets of about 190 bytes each cannot fit 16 KiB: most are lost (those in the
    // logger's 64 KiB buffer when the disk filled are not counted).
    assert!(numbers[1] > 2000, "{lost}");
    assert!(numbers[1] < 3000, "{lost}");
}
