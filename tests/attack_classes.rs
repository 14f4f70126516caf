//! The attack-class captures (`tests/fixtures/attack_classes/`, made with real tools between two
//! network namespaces by `tests/tools/make_attack_class_captures.sh`) replayed through the real
//! binary: ICMP reconnaissance, reflection and backscatter naming the victim, a spoofed SYN flood
//! naming its target and sources, low-volume DNS tunnels, refused connections that are no
//! logins and HTTP 401 failures that are, hydra's SSH password guesses counted inside the
//! encrypted connections, nmap's OS detection probes, unsolicited DNS answers; and the shared
//! benign captures raise none of these classes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

const ATTACKER: &str = "10.79.0.1";
const VICTIM: &str = "10.79.0.2";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/attack_classes")
        .join(name)
}

/// The EVE alert events `nsm-tui read FILE --no-db --eve -` prints.
fn alerts(file: &Path) -> Vec<Value> {
    common::read_eve(file, &[])
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .collect()
}

fn of<'a>(alerts: &'a [Value], category: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["alert"]["category"] == category)
        .collect()
}

fn text(a: &Value, field: &str) -> String {
    a["alert"][field].as_str().unwrap_or_default().to_string()
}

#[test]
fn icmp_timestamp_address_mask_and_information_requests_are_reconnaissance() {
    let got = alerts(&fixture("recon_icmp.pcap"));
    let recon = of(&got, "recon_icmp");
    assert_eq!(recon.len(), 1, "one alert per source and window: {got:#?}");
    let a = recon[0];
    assert_eq!(a["src_ip"], ATTACKER);
    assert!(text(a, "signature").contains("timestamp request"), "{a}");
    // The address-mask and information requests came within the same window: no second alert.
    assert!(a.to_string().contains("type 13"), "{a}");
    assert_eq!(a["alert"]["severity"], 3, "Medium: {a}");
}

#[test]
fn syn_ack_and_rst_backscatter_name_the_victim_not_the_sources() {
    for file in ["backscatter_synack.pcap", "backscatter_rst.pcap"] {
        let got = alerts(&fixture(file));
        let bs = of(&got, "backscatter");
        assert_eq!(bs.len(), 1, "{file}: {got:#?}");
        let a = bs[0];
        assert_eq!(a["dest_ip"], VICTIM, "{file}");
        assert!(text(a, "signature").contains(VICTIM), "{file}: {a}");
        let all = a.to_string();
        assert!(all.contains("rather than the attacker"), "{file}: {a}");
        assert!(
            all.contains("distinct sources"),
            "{file}: the number of sources is named: {a}"
        );
        // --rand-source: nothing may blame one of the random sources above Low.
        let loud: Vec<_> = got
            .iter()
            .filter(|e| e["alert"]["category"] != "backscatter")
            .filter(|e| e["alert"]["severity"].as_u64() < Some(4))
            .collect();
        assert!(loud.is_empty(), "{file}: {loud:#?}");
    }
}

#[test]
fn spoofed_syn_flood_names_its_target_and_how_many_sources() {
    let got = alerts(&fixture("syn_flood_spoofed.pcap"));
    let syn = of(&got, "syn_flood");
    assert_eq!(syn.len(), 1, "{got:#?}");
    let all = syn[0].to_string();
    assert!(all.contains(&format!("toward {VICTIM}")), "{all}");
    let n: u64 = all
        .split(" sources")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(n >= 100, "the alert counts the spoofed sources: {all}");
}

#[test]
fn a_dozen_base32_or_hex_queries_are_a_dns_tunnel() {
    let got = alerts(&fixture("dns_tunnel_lowvol.pcap"));
    let tunnels = of(&got, "dns_tunnel");
    let domains: Vec<String> = tunnels
        .iter()
        .map(|a| {
            assert_eq!(a["src_ip"], ATTACKER);
            let s = a.to_string();
            ["t.example", "h.example"]
                .into_iter()
                .find(|d| s.contains(&format!("under {d}")))
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(domains, ["t.example", "h.example"], "{got:#?}");
}

#[test]
fn refused_connections_are_no_login_attempts() {
    let got = alerts(&fixture("refused_ssh.pcap"));
    // Fifteen SYNs to a closed SSH port within 3 s, each answered by a RST.
    assert!(of(&got, "brute_force").is_empty(), "{got:#?}");
}

/// The one `brute_force` alert of `file`, raised by failed-login replies from the victim's
/// `port` to the attacker, with fewer connections than the connection threshold.
fn failed_logins_alert(file: &str, port: u16) {
    let got = alerts(&fixture(file));
    let bf = of(&got, "brute_force");
    assert_eq!(bf.len(), 1, "{file}: {got:#?}");
    let a = bf[0];
    assert_eq!(a["src_ip"], ATTACKER, "{file}");
    assert_eq!(a["dest_ip"], VICTIM, "{file}");
    assert_eq!(a["dest_port"], port, "{file}");
    assert_eq!(meta(a, "trigger"), "failed_logins", "{file}: {a}");
    assert_eq!(meta(a, "failed_logins"), "5", "{file}: {a}");
    let opened: u32 = meta(a, "connections").parse().unwrap();
    assert!(opened < 10, "{file}: {a}");
    assert!(
        a.to_string()
            .contains(&format!("failed-login replies from {VICTIM}:{port}")),
        "{file}: {a}"
    );
}

#[test]
fn http_401_replies_are_failed_logins_of_the_client() {
    // curl with a wrong password each time against a web server answering 401.
    failed_logins_alert("bruteforce_http_401.pcap", 80);
}

#[test]
fn telnet_login_incorrect_replies_are_failed_logins_of_the_client() {
    // hydra against inetutils telnetd: three passwords a connection, each answered with
    // "Login incorrect"; the fifth failure within the window raises the alert.
    failed_logins_alert("bruteforce_telnet.pcap", 23);
}

#[test]
fn vnc_security_results_failed_are_failed_logins_of_the_client() {
    // hydra against TigerVNC with VNC authentication: one password a connection, each wrong
    // challenge response answered with SecurityResult `failed` and its reason.
    failed_logins_alert("bruteforce_vnc.pcap", 5900);
}

/// A field of an alert's metadata (EVE lists every value as strings).
fn meta(a: &Value, key: &str) -> String {
    a["alert"]["metadata"][key][0]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn ssh_password_guesses_inside_few_connections_are_brute_force() {
    // hydra -t 1 against OpenSSH: MaxAuthTries 6 leaves five failures in a connection, and the
    // second such connection raises the alert; MaxAuthTries 3 two per connection, so three
    // connections' worth are needed.
    let cases = [
        ("bruteforce_ssh_multi.pcap", ["10", "14", "2"]),
        ("bruteforce_ssh_maxauth3.pcap", ["6", "12", "3"]),
    ];
    for (file, [failures, attempts, conns]) in cases {
        let got = alerts(&fixture(file));
        let bf = of(&got, "brute_force");
        assert!(!bf.is_empty(), "{file}: {got:#?}");
        let a = bf[0];
        assert_eq!(a["src_ip"], ATTACKER, "{file}");
        assert_eq!(a["dest_ip"], VICTIM, "{file}");
        assert_eq!(a["dest_port"], 22, "{file}");
        assert_eq!(meta(a, "trigger"), "failed_logins", "{file}: {a}");
        assert_eq!(
            meta(a, "inferred_from"),
            "encrypted_ssh_packet_sizes",
            "{file}"
        );
        let counts = [
            meta(a, "inferred_failures"),
            meta(a, "inferred_attempts"),
            meta(a, "inferred_connections"),
        ];
        assert_eq!(counts, [failures, attempts, conns], "{file}: {a}");
        // Far fewer connections than the connection threshold: only the inference catches it.
        let opened: u32 = meta(a, "connections").parse().unwrap();
        assert!(opened < 10, "{file}: {a}");
        assert!(
            a.to_string()
                .contains("inferred from encrypted SSH packet sizes"),
            "{file}: {a}"
        );
    }
}

#[test]
fn nmap_os_detection_is_os_fingerprinting_of_the_victim() {
    let got = alerts(&fixture("os_fingerprint.pcap"));
    let fp = of(&got, "os_fingerprint");
    assert_eq!(fp.len(), 1, "one alert per pair and window: {got:#?}");
    let a = fp[0];
    assert_eq!(a["src_ip"], ATTACKER);
    assert_eq!(a["dest_ip"], VICTIM);
    assert_eq!(a["alert"]["severity"], 3, "Medium: {a}");
    let sig = text(a, "signature");
    assert!(
        sig.starts_with(&format!("OS fingerprinting of {VICTIM}: probes ")),
        "{sig}"
    );
    // The six sequence SYNs come first; the alert names at least three kinds.
    let kinds: Vec<&str> = sig.rsplit("probes ").next().unwrap().split(", ").collect();
    assert!(kinds.len() >= 3 && kinds.contains(&"SEQ"), "{sig}");
    assert!(
        a.to_string()
            .contains("SEQ (SYN with window 1, 4, 16, 63 or 512 and a timestamp)"),
        "{a}"
    );
}

#[test]
fn dns_answers_nobody_asked_for_are_unsolicited() {
    let got = alerts(&fixture("dns_unsolicited.pcap"));
    let un = of(&got, "dns_unsolicited");
    assert_eq!(un.len(), 1, "eight answers, one alert: {got:#?}");
    let a = un[0];
    assert_eq!(a["src_ip"], ATTACKER);
    assert_eq!(a["src_port"], 53);
    assert_eq!(a["dest_ip"], VICTIM);
    assert_eq!(a["alert"]["severity"], 4, "Low: {a}");
    assert_eq!(
        text(a, "signature"),
        format!("Unsolicited DNS answers to {VICTIM}")
    );
    assert!(
        a.to_string()
            .contains("received 5 DNS answers from port 53 with no query of its own"),
        "{a}"
    );
}

#[test]
fn shared_benign_captures_raise_none_of_these_classes() {
    let Some(data) = common::shared_data() else {
        return;
    };
    // The merged suricata-verify captures hold attacks: not ground truth (as in detect_captures).
    let benign: Vec<PathBuf> = common::captures_under(&data.join("pcaps/benign"))
        .into_iter()
        .filter(|p| !p.ends_with("bench_mixed_merged_suricata-verify.pcap"))
        .collect();
    assert!(!benign.is_empty(), "no benign captures");
    let mut loud = Vec::new();
    for f in &benign {
        for a in alerts(f) {
            let cat = a["alert"]["category"].as_str().unwrap_or("?").to_string();
            let new_class = [
                "recon_icmp",
                "backscatter",
                "dns_tunnel",
                "brute_force",
                "os_fingerprint",
                "dns_unsolicited",
            ];
            if new_class.contains(&cat.as_str()) && a["alert"]["severity"].as_u64() < Some(4) {
                loud.push(format!("{}: {cat}: {}", f.display(), text(&a, "signature")));
            }
        }
    }
    assert!(loud.is_empty(), "{loud:#?}");
}

#[test]
fn every_attack_class_capture_is_listed_small_and_tested() {
    let readme = std::fs::read_to_string(fixture("README.md")).expect("README present");
    let tested = [
        "recon_icmp.pcap",
        "backscatter_synack.pcap",
        "backscatter_rst.pcap",
        "syn_flood_spoofed.pcap",
        "dns_tunnel_lowvol.pcap",
        "refused_ssh.pcap",
        "bruteforce_http_401.pcap",
        "bruteforce_ssh_multi.pcap",
        "bruteforce_ssh_maxauth3.pcap",
        "bruteforce_telnet.pcap",
        "bruteforce_vnc.pcap",
        "os_fingerprint.pcap",
        "dns_unsolicited.pcap",
    ];
    let on_disk = common::captures_under(&fixture(""));
    assert_eq!(on_disk.len(), tested.len(), "{on_disk:?}");
    for p in &on_disk {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(tested.contains(&name.as_str()), "{name} is not tested");
        assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
        let size = std::fs::metadata(p).expect("stat").len();
        assert!(size < 200 * 1024, "{name} is {size} bytes");
    }
}
