//! One guard: for allowlisted, private (with and without `allow_private`), SSH-client, gateway
//! and public addresses, the console's block dialog (through `respond::plan::BlockSettings::from_config`,
//! the library call the console makes) and `nsm-tui block --dry-run` give the same verdict,
//! with the same reason. No root needed: dry runs change nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

const SSH_CONNECTION: &str = "198.51.100.77 52144 192.0.2.200 22";

fn gateway() -> Option<IpAddr> {
    let o = Command::new("ip")
        .args(["-j", "-4", "route", "show", "default"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    v.as_array()?
        .iter()
        .find_map(|r| r.get("gateway")?.as_str()?.parse().ok())
}

/// `nsm-tui block ADDR --dry-run` with `config`, on a fresh database (so no cap trips):
/// `None` when it would block, else its error text.
fn cli_verdict(dir: &Path, config: &Path, addr: IpAddr, n: usize) -> Option<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("--config")
        .arg(config)
        .args(["block", &addr.to_string(), "--dry-run"])
        .arg("--db")
        .arg(dir.join(format!("v{n}.db")))
        .env("SSH_CONNECTION", SSH_CONNECTION)
        .env_remove("SSH_CLIENT")
        .env_remove("DRY_RUN")
        .output()
        .expect("running nsm-tui block");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.success() {
        assert!(stdout.contains("dry run: would block"), "{stdout}");
        None
    } else {
        assert!(stderr.contains("(refused)"), "not a refusal: {stderr}");
        Some(stderr)
    }
}

#[test]
fn dialog_and_cli_dry_run_agree() {
    if !common::need_tool("ip") {
        return;
    }
    let gw = gateway();
    if !common::prerequisite(
        gw.is_some(),
        "a default IPv4 route (its gateway is protected)",
    ) {
        return;
    }
    let gw = gw.expect("checked");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = |k: &str| (k == "SSH_CONNECTION").then(|| SSH_CONNECTION.to_string());
    let addrs: [(&str, IpAddr, [Option<&str>; 2]); 5] = [
        // (what, address, expected reason fragment without / with allow_private)
        (
            "allowlisted",
            "203.0.113.50".parse().unwrap(),
            [Some("allowlisted range 203.0.113.0/24"); 2],
        ),
        (
            "private",
            "10.1.2.3".parse().unwrap(),
            [Some("allow_private"), None],
        ),
        (
            "SSH client",
            "198.51.100.77".parse().unwrap(),
            [Some("SSH client"); 2],
        ),
        ("gateway", gw, [Some("gateway"); 2]),
        ("public", "198.51.100.23".parse().unwrap(), [None; 2]),
    ];
    let mut n = 0;
    for (i, allow_private) in [false, true].into_iter().enumerate() {
        let path = dir.path().join(format!("nsm-tui-{allow_private}.toml"));
        std::fs::write(
            &path,
            format!(
                "[response]\ndry_run = true\nallowlist = [\"203.0.113.0/24\"]\n\
                 allow_private = {allow_private}\n"
            ),
        )
        .unwrap();
        let config = nsm_tui::config::load_from(Some(&path), &[], &|_| None)
            .expect("config")
            .config;
        let dialog = nsm_tui::respond::plan::BlockSettings::from_config(&config, &env);
        for (what, addr, want) in &addrs {
            n += 1;
            let plan = dialog.plan(*addr, "test".into(), None);
            let cli = cli_verdict(dir.path(), &path, *addr, n);
            match (&plan.refused, &cli) {
                (None, None) => {}
                (Some(why), Some(err)) => {
                    assert!(
                        err.contains(why.as_str()),
                        "{what} {addr} (allow_private = {allow_private}): the dialog says \
                         {why:?}, the CLI {err:?}"
                    );
                }
                _ => panic!(
                    "{what} {addr} (allow_private = {allow_private}): dialog {:?}, CLI {cli:?}",
                    plan.refused
                ),
            }
            match want[i] {
                Some(frag) => assert!(
                    plan.refused.as_deref().is_some_and(|w| w.contains(frag)),
                    "{what} {addr} (allow_private = {allow_private}): {:?}",
                    plan.refused
                ),
                None => assert_eq!(plan.refused, None, "{what} {addr}"),
            }
        }
    }
}
