//! The default detectors over the shared captures: attacks fire the right category from the
//! right source, benign captures raise nothing above Low, and the multi-pattern signature pass
//! agrees with the one-regex-at-a-time reference on every packet of every capture.
//!
//! Run with `--nocapture` to print the capture → categories table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;
use nsm_tui::engine::alert::{Alert, Severity};
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::detect::signature::{FixedSignatures, RuleFiles, SignatureSet};
use nsm_tui::engine::detect::{DetectConfig, DetectorSet, FlowCtx};
use nsm_tui::engine::flow::{FlowConfig, FlowTable};
use nsm_tui::engine::record::Analyzed;

struct Fs;

impl RuleFiles for Fs {
    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let rd = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
        Ok(rd.flatten().map(|e| e.path()).collect())
    }
    fn read(&self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

fn signatures() -> SignatureSet {
    let (set, errors) = SignatureSet::load_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures"),
        &Fs,
    );
    assert!(errors.is_empty(), "{errors:?}");
    set
}

/// Every frame of a capture, decoded and numbered like `pcap_cnt`.
fn packets(path: &Path, mut each: impl FnMut(Analyzed)) {
    let Ok(mut src) = FileSource::open(path) else {
        return;
    };
    let mut n = 0;
    while let Ok(Some(frame)) = src.next_frame() {
        n += 1;
        let decoded = decode(&frame);
        each(Analyzed {
            pcap_cnt: n,
            frame,
            decoded,
            alerts: Vec::new(),
            stream_http: Vec::new(),
        });
    }
}

/// Per category: alert count and the source addresses of the packets they fired on.
type Summary = BTreeMap<String, (usize, BTreeMap<Option<IpAddr>, usize>, Severity)>;

fn run(path: &Path, set: &SignatureSet) -> Summary {
    let mut det = DetectorSet::defaults(
        &DetectConfig::default(),
        std::sync::Arc::new(FixedSignatures(std::sync::Arc::new(clone_set(set)))),
    );
    let mut flows = FlowTable::new(FlowConfig::default());
    let mut summary = Summary::new();
    packets(path, |mut a| {
        let mut alerts: Vec<Alert> = Vec::new();
        for p in &det.packet {
            p.inspect(&a, &mut alerts);
        }
        let ctx = flows
            .update(
                a.frame.ts,
                &a.decoded,
                a.frame.orig_len,
                a.decoded.payload(&a.frame.data),
            )
            .map(|u| FlowCtx::from(&u));
        flows.expire(a.frame.ts);
        a.alerts = alerts.clone();
        for s in &mut det.stateful {
            s.observe(&a, ctx.as_ref(), &mut alerts);
        }
        a.alerts = alerts;
        let src = a.decoded.ip.map(|ip| ip.src);
        for al in &a.alerts {
            let e =
                summary
                    .entry(al.category.to_string())
                    .or_insert((0, BTreeMap::new(), al.severity));
            e.0 += 1;
            *e.1.entry(src).or_insert(0) += 1;
            e.2 = e.2.max(al.severity);
        }
    });
    summary
}

fn clone_set(set: &SignatureSet) -> SignatureSet {
    SignatureSet::new(set.signatures().to_vec())
}

fn top_source(s: &Summary, cat: &str) -> Option<IpAddr> {
    s.get(cat)?
        .1
        .iter()
        .max_by_key(|(_, n)| **n)
        .and_then(|(ip, _)| *ip)
}

fn describe(s: &Summary) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|(cat, (n, srcs, sev))| {
            let top = srcs.iter().max_by_key(|(_, n)| **n).and_then(|(ip, _)| *ip);
            format!(
                "{cat}×{n} ({sev}, top {})",
                top.map_or("-".into(), |ip| ip.to_string())
            )
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// (capture, category that must fire, source it must come from, if the source is meaningful)
const EXPECTED: &[(&str, &str, Option<&str>)] = &[
    (
        "scans/nmap_xmas_tree_scan.pcap",
        "xmas_scan",
        Some("192.168.1.10"),
    ),
    (
        "scans/nmap_xmas_tree_scan.pcap",
        "port_scan",
        Some("192.168.1.10"),
    ),
    (
        "scans/nmap_null_scan.pcap",
        "null_scan",
        Some("192.168.1.10"),
    ),
    (
        "scans/nmap_null_scan.pcap",
        "port_scan",
        Some("192.168.1.10"),
    ),
    ("scans/nmap_fin_scan.pcap", "fin_scan", Some("192.168.1.10")),
    (
        "scans/nmap_fin_scan.pcap",
        "port_scan",
        Some("192.168.1.10"),
    ),
    (
        "scans/nmap_tcp_syn_scan.pcap",
        "port_scan",
        Some("192.168.1.10"),
    ),
    (
        "scans/nmap_udp_scan.pcap",
        "port_scan",
        Some("192.168.1.10"),
    ),
    ("scans/synscan.pcapng", "port_scan", Some("172.16.0.8")),
    ("scans/ppa_portscan.pcap", "port_scan", Some("10.100.25.14")),
    (
        "generated_local/nmap_xmas_null_fin_syn_lo.pcap",
        "xmas_scan",
        Some("127.0.0.1"),
    ),
    (
        "generated_local/nmap_xmas_null_fin_syn_lo.pcap",
        "null_scan",
        Some("127.0.0.1"),
    ),
    (
        "generated_local/nmap_xmas_null_fin_syn_lo.pcap",
        "fin_scan",
        Some("127.0.0.1"),
    ),
    (
        "generated_local/nmap_xmas_null_fin_syn_lo.pcap",
        "port_scan",
        Some("127.0.0.1"),
    ),
    (
        "bruteforce/sshguess.pcap",
        "brute_force",
        Some("192.168.56.1"),
    ),
    (
        "bruteforce/bruteforce.pcap",
        "brute_force",
        Some("192.168.56.1"),
    ),
    ("ddos/pkt.TCP.synflood.spoofed.pcap", "syn_flood", None),
    ("ddos/ppa_dosattack_synflood.pcap", "syn_flood", None),
    ("ddos/amp.UDP.snmp.src161.pcapng", "udp_flood", None),
    ("ddos/amp.UDP.isakmp.pcap", "udp_flood", None),
    ("ddos/amp.dns.RRSIG.fragmented.pcap", "udp_flood", None),
    ("ddos/dhcp_flood.pcap", "dhcp_flood", None),
    (
        "scans/nmap_ip_protocol_scan.pcap",
        "protocol_scan",
        Some("192.168.1.10"),
    ),
    (
        "generated_local/syn_flood_hping3_lo.pcap",
        "syn_flood",
        None,
    ),
    (
        "generated_local/icmp_flood_hping3_lo.pcap",
        "icmp_flood",
        Some("127.0.0.1"),
    ),
    (
        "dns_tunnel/dmachard_iodine.pcap",
        "dns_tunnel",
        Some("192.168.1.17"),
    ),
    (
        "dns_tunnel/dmachard_dns2tcp.pcap",
        "dns_tunnel",
        Some("192.168.1.17"),
    ),
    (
        "dns_tunnel/dmachard_sods.pcap",
        "dns_tunnel",
        Some("192.168.1.17"),
    ),
    (
        "dns_tunnel/dmachard_dnsextrator.pcap",
        "dns_tunnel",
        Some("192.168.1.102"),
    ),
    (
        "web_attacks/http_dvwa_sqlinjection.pcapng",
        "SQL Injection",
        None,
    ),
    (
        "web_attacks/cooper-grill-dvwa.pcapng",
        "SQL Injection",
        None,
    ),
];

/// Attack captures the default thresholds do not flag, and why (printed, not asserted).
const ACCEPTED_MISSES: &[(&str, &str)] = &[(
    "ddos/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng",
    "about 25 SYNs and 40 reflected SYN-ACKs a minute toward 10.10.10.10: below any flood rate that \
     ordinary servers never reach",
)];

/// Benign captures allowed to raise something above Low, and why.
const BENIGN_EXCEPTIONS: &[(&str, &str)] = &[(
    "bench_mixed_merged_suricata-verify.pcap",
    "merged suricata-verify test captures, attacks included; not ground truth",
)];

#[test]
fn attacks_fire_the_expected_categories_and_benign_captures_stay_quiet() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let pcaps = data.join("pcaps");
    let set = signatures();
    let mut files: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    files.extend([
        "bruteforce/ppa_telnet_single_login.pcap",
        "web_attacks/http_dvwa_clearlogin.pcapng",
    ]);
    files.dedup();
    let absent: Vec<&str> = files
        .iter()
        .copied()
        .filter(|f| !pcaps.join(f).is_file())
        .collect();
    if !common::prerequisite(
        absent.is_empty(),
        &format!("the shared captures {absent:?} under pcaps/"),
    ) || !common::prerequisite(
        !common::captures_under(&pcaps.join("benign")).is_empty(),
        "the shared benign captures under pcaps/benign",
    ) {
        return;
    }
    let mut failures = Vec::new();
    let mut table = Vec::new();
    let mut results = BTreeMap::new();
    for f in &files {
        let s = run(&pcaps.join(f), &set);
        table.push(format!("{f}: {}", describe(&s)));
        results.insert(*f, s);
    }
    for (f, cat, src) in EXPECTED {
        let s = &results[f];
        if !s.contains_key(*cat) {
            failures.push(format!("{f}: no {cat} (got {})", describe(s)));
        } else if let Some(src) = src {
            let top = top_source(s, cat).map(|ip| ip.to_string());
            if top.as_deref() != Some(*src) {
                failures.push(format!("{f}: {cat} top source {top:?}, expected {src}"));
            }
        }
    }
    for benign in common::captures_under(&pcaps.join("benign"))
        .iter()
        .map(|p| p.strip_prefix(&pcaps).unwrap_or(p).to_path_buf())
        .chain([
            "bruteforce/ppa_telnet_single_login.pcap".into(),
            "web_attacks/http_dvwa_clearlogin.pcapng".into(),
        ])
    {
        let name = benign.display().to_string();
        let s = results
            .remove(name.as_str())
            .unwrap_or_else(|| run(&pcaps.join(&benign), &set));
        let loud: Vec<&String> = s
            .iter()
            .filter(|(_, v)| v.2 > Severity::Low)
            .map(|(k, _)| k)
            .collect();
        table.push(format!("{name}: {}", describe(&s)));
        let excused = BENIGN_EXCEPTIONS.iter().any(|(f, _)| name.ends_with(f));
        if !loud.is_empty() && !excused {
            failures.push(format!("benign {name}: {}", describe(&s)));
        }
    }
    for (f, why) in ACCEPTED_MISSES {
        table.push(format!("accepted miss {f}: {why}"));
    }
    println!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn prefilter_agrees_with_the_reference_on_every_capture() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let set = signatures();
    let mut packets_seen = 0u64;
    let mut hits = 0usize;
    let mut disagreements = Vec::new();
    for file in common::captures_under(&data.join("pcaps")) {
        packets(&file, |a| {
            packets_seen += 1;
            let payload = a.decoded.payload(&a.frame.data);
            let fast = set.matches(&a.decoded, payload);
            let slow = set.matches_reference(&a.decoded, payload);
            hits += fast.len();
            if fast != slow && disagreements.len() < 20 {
                disagreements.push(format!(
                    "{} #{}: {fast:?} vs {slow:?}",
                    file.display(),
                    a.pcap_cnt
                ));
            }
        });
    }
    println!("{packets_seen} packets, {hits} signature hits");
    assert!(packets_seen > 100_000, "only {packets_seen} packets read");
    assert!(hits > 0);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
