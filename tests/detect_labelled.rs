//! The project's own labelled captures (`tests/fixtures/labelled/`, made with real tools
//! between two network namespaces by `tests/tools/make_labelled_captures.sh`) replayed through
//! the real binary: each attack raises its category from the attacker's address, and the
//! benign captures raise nothing above Low.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const ATTACKER4: &str = "10.77.0.1";
const ATTACKER6: &str = "fd77::1";

/// Capture, the categories it must raise, and the attacker address they must come from.
const ATTACKS: &[(&str, &[&str], &str)] = &[
    ("scan_syn.pcap", &["port_scan"], ATTACKER4),
    ("scan_xmas.pcap", &["xmas_scan", "port_scan"], ATTACKER4),
    ("scan_null.pcap", &["null_scan", "port_scan"], ATTACKER4),
    ("scan_fin.pcap", &["fin_scan", "port_scan"], ATTACKER4),
    ("scan_ipv6.pcap", &["port_scan"], ATTACKER6),
    ("flood_syn.pcap", &["syn_flood"], ATTACKER4),
    ("flood_icmp.pcap", &["icmp_flood"], ATTACKER4),
    ("bruteforce_ssh.pcap", &["brute_force"], ATTACKER4),
    ("dns_tunnel_iodine.pcap", &["dns_tunnel"], ATTACKER4),
    (
        "web_attacks.pcap",
        &[
            "SQL Injection",
            "Cross-Site Scripting",
            "Command Injection",
            "Log4Shell",
            "Path Traversal",
        ],
        ATTACKER4,
    ),
];

const BENIGN: &[&str] = &["benign_http.pcap", "benign_dns.pcap", "benign_ping.pcap"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/labelled")
        .join(name)
}

/// The EVE alert events `nsm-tui read` writes for `file`.
fn alerts(file: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(file)
        .args(["--eve", "-", "--no-db", "--no-pcap-log"])
        .output()
        .expect("nsm-tui runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", file.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("EVE lines are JSON"))
        .filter(|e| e["event_type"] == "alert")
        .collect()
}

/// Category → (count, distinct source addresses, lowest EVE severity number = worst).
fn by_category(alerts: &[Value]) -> BTreeMap<String, (usize, Vec<String>, u64)> {
    let mut m: BTreeMap<String, (usize, Vec<String>, u64)> = BTreeMap::new();
    for a in alerts {
        let cat = a["alert"]["category"].as_str().unwrap_or("?").to_string();
        let src = a["src_ip"].as_str().unwrap_or("?").to_string();
        let sev = a["alert"]["severity"].as_u64().unwrap_or(0);
        let e = m.entry(cat).or_insert((0, Vec::new(), u64::MAX));
        e.0 += 1;
        if !e.1.contains(&src) {
            e.1.push(src);
        }
        e.2 = e.2.min(sev);
    }
    m
}

#[test]
fn every_labelled_attack_fires_its_category_from_the_attacker() {
    let mut failures = Vec::new();
    for (file, categories, attacker) in ATTACKS {
        let got = by_category(&alerts(&fixture(file)));
        eprintln!("{file}: {got:?}");
        for cat in *categories {
            match got.get(*cat) {
                None => failures.push(format!("{file}: no {cat} alert (got {got:?})")),
                Some((_, sources, _)) if sources != &[attacker.to_string()] => failures.push(
                    format!("{file}: {cat} from {sources:?}, expected {attacker}"),
                ),
                Some(_) => {}
            }
        }
        // Whatever else fires above Low must also name the attacker, not the victim.
        for (cat, (_, sources, sev)) in &got {
            if *sev < 4 && sources.iter().any(|s| s != attacker) {
                failures.push(format!("{file}: {cat} also from {sources:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn benign_labelled_captures_raise_nothing_above_low() {
    for file in BENIGN {
        let got = by_category(&alerts(&fixture(file)));
        let loud: Vec<_> = got.iter().filter(|(_, v)| v.2 < 4).collect();
        assert!(loud.is_empty(), "{file}: {loud:?}");
    }
}

#[test]
fn the_readme_lists_every_labelled_capture() {
    let readme = std::fs::read_to_string(fixture("README.md")).expect("README present");
    let on_disk: Vec<String> = std::fs::read_dir(fixture(""))
        .expect("fixture dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    let tested: Vec<&str> = ATTACKS
        .iter()
        .map(|a| a.0)
        .chain(BENIGN.iter().copied())
        .collect();
    for name in &on_disk {
        assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
        assert!(tested.contains(&name.as_str()), "{name} is not tested");
        let size = std::fs::metadata(fixture(name)).expect("stat").len();
        assert!(size <= 300 * 1024, "{name} is {size} bytes");
    }
    assert_eq!(on_disk.len(), tested.len());
}
