//! A sensor runs the same from anywhere: the binary alone, copied to an empty directory and
//! started with `/` as its working directory and an empty home, finds its default signatures
//! and GeoIP database inside itself and raises exactly the alerts of a run from the source
//! tree; a signature path that was asked for and cannot be used stops the run, naming it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary, copied alone into a fresh directory (no `signatures/` or `geoip/` beside it).
fn lone_binary(dir: &Path) -> PathBuf {
    let bin = dir.join("nsm-tui");
    std::fs::copy(env!("CARGO_BIN_EXE_nsm-tui"), &bin).unwrap();
    bin
}

/// `nsm-tui read` of `capture` into `eve`, in `cwd`, with `home` as HOME, plus `extra` flags.
fn read(bin: &Path, cwd: &Path, home: &Path, capture: &Path, eve: &Path, extra: &[&str]) -> Output {
    let out = Command::new(bin)
        .arg("read")
        .arg(capture)
        .args(["--no-db", "--no-pcap-log", "--eve"])
        .arg(eve)
        .args(extra)
        .current_dir(cwd)
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn events(eve: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Signature alerts by id, counted.
fn signature_alerts(eve: &Path) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for e in events(eve) {
        if e["event_type"] == "alert" && e["alert"]["metadata"]["detector"][0] == "signature" {
            *counts
                .entry(e["alert"]["signature_id"].as_u64().unwrap())
                .or_default() += 1;
        }
    }
    counts
}

#[test]
fn the_lone_binary_started_from_root_detects_as_in_the_source_tree() {
    let Some(shared) = common::shared_data() else {
        return;
    };
    let attack = shared.join("pcaps/web_attacks/http_dvwa_sqlinjection.pcapng");
    let public = shared.join("pcaps/benign/http_google.pcapng");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let bin = lone_binary(&bin_dir);
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));

    // The source tree's own files, named explicitly.
    let tree_eve = tmp.path().join("tree.json");
    read(
        Path::new(env!("CARGO_BIN_EXE_nsm-tui")),
        checkout,
        &home,
        &attack,
        &tree_eve,
        &["--signatures", "signatures"],
    );
    let want = signature_alerts(&tree_eve);
    assert!(want.len() >= 2, "{want:?}");

    let eve = tmp.path().join("eve.json");
    let out = read(&bin, Path::new("/"), &home, &attack, &eve, &[]);
    assert_eq!(signature_alerts(&eve), want);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");

    // The built-in country database names the country of a public address.
    let geo_eve = tmp.path().join("geo.json");
    read(
        &bin,
        Path::new("/"),
        &home,
        &public,
        &geo_eve,
        &["--eve-extensions"],
    );
    let countries: Vec<String> = events(&geo_eve)
        .iter()
        .flat_map(|e| [&e["src_geoip"], &e["dest_geoip"]])
        .filter_map(|g| g["country_iso_code"].as_str().map(str::to_string))
        .collect();
    assert!(countries.iter().any(|c| c == "US"), "{countries:?}");
}

#[test]
fn config_print_names_the_built_in_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = lone_binary(tmp.path());
    let out = Command::new(&bin)
        .args(["config", "--print"])
        .current_dir("/")
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let n = nsm_tui::pipeline::signature_source::load(
        &nsm_tui::pipeline::signature_source::SignatureOrigin::BuiltIn,
    )
    .0
    .len();
    assert!(
        text.contains(&format!("# signatures: built-in ({n} signatures)")),
        "{text}"
    );
    assert!(
        text.contains("# geoip: built-in geo-whois-asn-country.mmdb"),
        "{text}"
    );
}

#[test]
fn a_configured_signature_directory_without_rules_exits_2_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("no-rules");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("README"), "not a rule file\n").unwrap();
    let config = tmp.path().join("nsm-tui.toml");
    std::fs::write(
        &config,
        format!(
            "[detector]\nsignatures_dir = {:?}\n",
            empty.display().to_string()
        ),
    )
    .unwrap();
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("--config")
        .arg(&config)
        .arg("read")
        .arg(&capture)
        .args(["--no-db", "--no-pcap-log"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&empty.display().to_string()), "{stderr}");
}

#[test]
fn a_missing_signatures_path_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("not-here");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&capture)
        .args(["--no-db", "--no-pcap-log", "--signatures"])
        .arg(&missing)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}

#[test]
fn a_data_directory_that_cannot_be_created_is_named_with_the_way_out() {
    // procfs refuses new directories, even to root: a working directory nsm-tui cannot write.
    if !common::prerequisite(Path::new("/proc/self").is_dir(), "/proc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&capture)
        .arg("--no-pcap-log")
        .current_dir("/proc")
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot create the data directory /proc/data"),
        "{stderr}"
    );
    assert!(stderr.contains("--no-db"), "{stderr}");
}
