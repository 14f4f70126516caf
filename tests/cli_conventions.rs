//! The command line as a user meets it: each subcommand's help lists only the options it uses,
//! every argument is described, a flag given to a command that ignores it is an error, a
//! closed pipe ends a command quietly, and an OS error is printed once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

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
