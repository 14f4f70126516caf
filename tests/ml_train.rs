//! `nsm-tui train` on labelled captures of the shared corpus, then `nsm-tui read` with
//! `[detector] classifier_file` naming the result: a held-out scan capture raises
//! `ml_classified:port_scan` alerts (Medium: many probes in a window), a held-out benign
//! capture none above Low, and a corrupt classifier file is refused by name while the run goes
//! on; cross-validation by capture on the labelled fixtures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::Path;

use serde_json::Value;

const TRAIN: &[(&str, Option<&str>)] = &[
    ("pcaps/scans/nmap_tcp_syn_scan.pcap", Some("port_scan")),
    ("pcaps/scans/nmap_tcp_connect_scan.pcap", Some("port_scan")),
    ("pcaps/benign/zeek_http_206_example_b.pcap", None),
    ("pcaps/benign/http_espn.pcapng", None),
    ("pcaps/benign/ppa_dns.cap", None),
    ("pcaps/benign/ppa_http.cap", None),
    ("pcaps/benign/zeek_ssh_ssh.pcap", None),
    ("pcaps/benign/zeek_ftp_ipv4.pcap", None),
    ("pcaps/benign/mail_sender_attachment.pcapng", None),
    ("pcaps/benign/zeek_smb_smb2.pcap", None),
    ("pcaps/benign/dns_tcp.pcapng", None),
    ("pcaps/benign/icmp_echo.pcapng", None),
];

/// EVE severity numbers: 1 critical .. 4 Low.
const LOW: u64 = 4;

/// EVE alerts of `nsm-tui read FILE` with `config`, and the run's standard error.
fn read(config: &Path, file: &Path) -> (Vec<Value>, String) {
    let out = common::nsm()
        .arg("--config")
        .arg(config)
        .arg("read")
        .arg(file)
        .args(["--eve", "-", "--no-db", "--no-pcap-log"])
        .output()
        .expect("nsm-tui runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{}: {stderr}", file.display());
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("EVE lines are JSON"))
        .filter(|e| e["event_type"] == "alert")
        .collect();
    (alerts, stderr)
}

fn classified(alerts: &[Value]) -> Vec<&Value> {
    alerts
        .iter()
        .filter(|a| {
            a["alert"]["category"]
                .as_str()
                .is_some_and(|c| c.starts_with("ml_classified:"))
        })
        .collect()
}

#[test]
fn trained_classifier_flags_a_held_out_scan_and_stays_quiet_on_benign_traffic() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.tsv");
    let mut text = String::from("# capture\tclass\n");
    for (p, class) in TRAIN {
        if let Some(c) = class {
            text.push_str(&format!("{}\t{c}\n", data.join(p).display()));
        }
    }
    std::fs::write(&labels, text).unwrap();
    let model = dir.path().join("classifier.json");
    let out = common::nsm()
        .args(["train", "--labels"])
        .arg(&labels)
        .arg("--out")
        .arg(&model)
        .args(TRAIN.iter().map(|(p, _)| data.join(p)))
        .output()
        .expect("nsm-tui runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("5-fold cross-validation"), "{stdout}");
    let port_scan = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("port_scan"))
        .expect("a score line for port_scan");
    let recall: f64 = port_scan
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert!(recall > 0.9, "{stdout}");

    let config = dir.path().join("nsm-tui.toml");
    std::fs::write(
        &config,
        format!(
            "[detector]\nclassifier_file = {:?}\n",
            model.display().to_string()
        ),
    )
    .unwrap();
    let (alerts, _) = read(&config, &data.join("pcaps/scans/synscan.pcapng"));
    let hits = classified(&alerts);
    assert!(!hits.is_empty(), "no ml_classified alert on the scan");
    assert!(hits
        .iter()
        .all(|a| a["alert"]["category"] == "ml_classified:port_scan"));
    let why = hits[0]["alert"]["metadata"].to_string();
    assert!(why.contains("classified as port_scan"), "{why}");
    // The scanner sent many probes in a window: Medium, with the benign class's probability
    // and the margin in the metadata.
    assert!(
        hits.iter()
            .any(|a| a["alert"]["severity"].as_u64() == Some(LOW - 1)),
        "{hits:#?}"
    );
    let meta = &hits[0]["alert"]["metadata"];
    assert!(meta["margin"][0].as_str().is_some(), "{meta}");
    assert!(meta["benign_probability"][0].as_str().is_some(), "{meta}");

    let (alerts, _) = read(&config, &data.join("pcaps/benign/http_google.pcapng"));
    assert!(classified(&alerts).is_empty(), "{alerts:?}");
    assert!(
        alerts
            .iter()
            .all(|a| a["alert"]["severity"].as_u64().unwrap_or(0) >= LOW),
        "{alerts:#?}"
    );

    std::fs::write(&model, "{\"format\":\"nsm-tui-classifier\",\"version\":1,").unwrap();
    let (alerts, stderr) = read(&config, &data.join("pcaps/scans/synscan.pcapng"));
    assert!(classified(&alerts).is_empty());
    assert!(
        stderr.contains(&format!("classifier file {}", model.display())),
        "{stderr}"
    );
}

#[test]
fn cross_validation_by_capture_holds_whole_captures_out_and_reports_f1_and_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/labelled");
    let captures = [
        "scan_syn.pcap",
        "scan_ipv6.pcap",
        "scan_fin.pcap",
        "benign_http.pcap",
        "benign_dns.pcap",
        "benign_ping.pcap",
    ];
    let labels = dir.path().join("labels.tsv");
    std::fs::write(
        &labels,
        "scan_syn.pcap\tport_scan\nscan_ipv6.pcap\tport_scan\nscan_fin.pcap\tport_scan\n",
    )
    .unwrap();
    let out = common::nsm()
        .args(["train", "--folds", "3", "--fold-by", "capture", "--labels"])
        .arg(&labels)
        .arg("--out")
        .arg(dir.path().join("c.json"))
        .args(captures.iter().map(|c| fixtures.join(c)))
        .output()
        .expect("nsm-tui runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3-fold cross-validation by captures"),
        "{stdout}"
    );
    let fields = |class: &str| -> Vec<f64> {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(class))
            .unwrap_or_else(|| panic!("no score line for {class}: {stdout}"))
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    // flows, precision, recall, f1: each scan capture was scored by a forest trained on the
    // other two, and their probes look alike.
    let scan = fields("port_scan");
    assert_eq!(scan.len(), 4, "{stdout}");
    assert!(
        scan[0] > 300.0 && scan[2] > 0.9 && scan[3] > 0.9,
        "{stdout}"
    );
    let accuracy = stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("accuracy "))
        .expect("an accuracy line");
    let accuracy: f64 = accuracy.split_whitespace().next().unwrap().parse().unwrap();
    assert!(accuracy > 0.9, "{stdout}");

    let out = common::nsm()
        .args(["train", "--fold-by", "host", "--labels"])
        .arg(&labels)
        .arg(fixtures.join("scan_syn.pcap"))
        .output()
        .expect("nsm-tui runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected flow or capture"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
