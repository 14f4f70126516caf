//! The command line as a user meets it: each subcommand's help lists only the options it uses,
//! every argument is described, a flag given to a command that ignores it is an error, a
//! closed pipe ends a command quietly, and an OS error is printed once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use clap::CommandFactory;
use nsm_tui::app::cli::Cli;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
}

fn help(args: &[&str]) -> String {
    let out = bin()
        .args(args)
        .arg("--help")
        .output()
        .expect("running nsm-tui");
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_argument_of_every_command_is_described() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if a.is_hide_set() || matches!(id, "help" | "version") {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() && sub.get_name() != "help" {
                missing.push(format!("{path} {} (the command itself)", sub.get_name()));
            }
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut missing = Vec::new();
    walk(&cmd, "nsm-tui", &mut missing);
    assert!(missing.is_empty(), "undescribed: {missing:#?}");
}

#[test]
fn each_subcommand_lists_only_the_options_it_uses() {
    let report = help(&["report"]);
    for want in ["--since", "--format", "--db", "--config"] {
        assert!(
            report.contains(want),
            "report --help lacks {want}:\n{report}"
        );
    }
    for unused in [
        "--interface",
        "--eve",
        "--snaplen",
        "--workers",
        "--signatures",
        "--no-db",
    ] {
        assert!(
            !report.contains(unused),
            "report --help lists {unused}:\n{report}"
        );
    }
    let read = help(&["read"]);
    assert!(read.contains("--eve") && read.contains("--count"), "{read}");
    for unused in [
        "--interface",
        "--snaplen",
        "--no-promisc",
        "--buffer-size",
        "--since",
    ] {
        assert!(
            !read.contains(unused),
            "read --help lists {unused}:\n{read}"
        );
    }
    let list = help(&["incidents", "list"]);
    assert!(list.contains("--db") && list.contains("--format"), "{list}");
    assert!(!list.contains("--eve"), "{list}");
    let generate = help(&["generate"]);
    assert!(!generate.contains("--db"), "{generate}");
    // The live run still takes them all.
    let top = help(&[]);
    for want in [
        "--interface",
        "--filter",
        "--eve",
        "--db",
        "--signatures",
        "--headless",
    ] {
        assert!(top.contains(want), "nsm-tui --help lacks {want}:\n{top}");
    }
}

#[test]
fn a_flag_the_command_does_not_use_is_an_error() {
    let out = bin()
        .args(["-i", "lo", "report"])
        .output()
        .expect("running nsm-tui");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nsm-tui report --help"), "{err}");
    // The configuration file is every command's, before or after its name.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "").expect("writing the configuration");
    for args in [
        vec!["--config", cfg.to_str().unwrap_or_default(), "config"],
        vec!["config", "--config", cfg.to_str().unwrap_or_default()],
    ] {
        let out = bin().args(&args).output().expect("running nsm-tui");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = bin()
        .args(["report", "--eve", "x.json"])
        .output()
        .expect("running nsm-tui");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--eve"), "{err}");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    // A database with incidents: the demo capture read into it.
    let demo =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let st = bin()
        .args(["read"])
        .arg(&demo)
        .arg("--db")
        .arg(&db)
        .args(["--no-pcap-log"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running nsm-tui read");
    assert!(st.success());
    for args in [
        vec!["incidents", "list"],
        vec!["incidents", "list", "--format", "json"],
        vec!["report"],
        vec!["export"],
        vec!["blocks", "list"],
    ] {
        let mut child = bin()
            .args(&args)
            .arg("--db")
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning nsm-tui");
        // The reader goes away before the command writes (as `| head -0` would).
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("reading stderr");
        let status = child.wait().expect("waiting");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(status.success(), "{args:?}: {status:?} {err}");
    }
}

#[test]
fn an_os_error_is_printed_once() {
    let out = bin()
        .args(["read", "/nonexistent/x.pcap", "--no-db", "--no-pcap-log"])
        .output()
        .expect("running nsm-tui");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    assert!(err.contains("/nonexistent/x.pcap"), "{err}");
}

fn demo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap")
}

/// The summary's packet count of a file-reading run, which must succeed.
fn packets_read(args: &[&str]) -> u64 {
    let out = bin().args(args).output().expect("running nsm-tui");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("packets:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no packet count in {text}"))
}

#[test]
fn dash_r_reads_a_file_as_read_does() {
    let d = demo();
    let f = d.to_str().unwrap();
    assert_eq!(packets_read(&["-r", f, "--no-db"]), 3000);
    assert_eq!(packets_read(&["read", f, "--no-db"]), 3000);
}

#[test]
fn a_trailing_expression_or_dash_f_filters_a_file_as_tcpdump_does() {
    let d = demo();
    let f = d.to_str().unwrap();
    let runs = [
        packets_read(&["-r", f, "--no-db", "tcp", "port", "80"]),
        packets_read(&["-r", f, "--no-db", "-f", "tcp port 80"]),
        packets_read(&["read", f, "--no-db", "tcp", "port", "80"]),
        packets_read(&["read", f, "--no-db", "-f", "tcp port 80"]),
    ];
    assert!(runs[0] > 0 && runs[0] < 3000, "{runs:?}");
    assert!(runs.iter().all(|&n| n == runs[0]), "{runs:?}");
    if common::need_tool("tcpdump") {
        let out = Command::new("tcpdump")
            .args(["-n", "-r", f, "tcp port 80"])
            .output()
            .expect("running tcpdump");
        let lines = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
        assert_eq!(runs[0], lines, "the packets tcpdump keeps");
    }
}

#[test]
fn a_bad_filter_is_an_error_naming_the_expression() {
    let d = demo();
    let f = d.to_str().unwrap();
    for args in [
        vec!["-r", f, "--no-db", "tcp", "prot", "80"],
        vec!["read", f, "--no-db", "-f", "tcp prot 80"],
    ] {
        let out = bin().args(&args).output().expect("running nsm-tui");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("\"tcp prot 80\""), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_trailing_expression_is_the_live_capture_filter() {
    if !common::need_root() {
        return;
    }
    // The words reach libpcap joined with spaces: its refusal quotes them as one filter.
    let out = bin()
        .args([
            "--headless",
            "-i",
            "lo",
            "--no-db",
            "--no-pcap-log",
            "tcp",
            "prot",
            "80",
        ])
        .output()
        .expect("running nsm-tui");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"tcp prot 80\""), "{err}");
}

#[test]
fn an_interface_with_a_file_is_an_error() {
    let d = demo();
    let f = d.to_str().unwrap();
    for args in [
        vec!["-r", f, "-i", "lo"],
        vec!["read", f, "-i", "lo"],
        vec!["-i", "lo", "read", f],
        vec!["-r", f, "-f", "tcp", "udp"],
    ] {
        let out = bin().args(&args).output().expect("running nsm-tui");
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn read_writes_no_pcap_copy_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = demo();
    for args in [vec!["read"], vec!["-r"]] {
        let st = bin()
            .args(&args)
            .arg(&d)
            .arg("--no-db")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("running nsm-tui");
        assert!(st.success());
        assert!(
            !dir.path().join("data/captured_packets.pcap").exists(),
            "{args:?} wrote a copy of its input"
        );
    }
    let copy = dir.path().join("copy.pcap");
    let st = bin()
        .args(["-r"])
        .arg(&d)
        .args(["--no-db", "--pcap-log"])
        .arg(&copy)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .status()
        .expect("running nsm-tui");
    assert!(st.success());
    assert!(copy.metadata().expect("the asked-for copy").len() > 24);
}
