//! The application layer end to end: `nsm-tui read` on shared captures with HTTP, TLS and SSH
//! writes Suricata's `http` (request and response as one transaction), `tls` and `ssh` events with the values read by hand from the
//! packets' bytes, and labels their flows' `app_proto`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::path::Path;

use serde_json::Value;
use sha2::Digest as _;

/// Whether no ServerHello event carries a `ja4`.
fn sh_has_no_ja4(evs: &[Value]) -> bool {
    evs.iter()
        .filter(|e| e["event_type"] == "tls" && !e["tls"]["ja3s"].is_null())
        .all(|e| e["tls"]["ja4"].is_null())
}

/// The EVE events of `read` on `capture`.
fn events(capture: &Path) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    let out = common::nsm()
        .arg("read")
        .arg(capture)
        .arg("--eve")
        .arg(&eve)
        .arg("--no-db")
        .arg("--no-pcap-log")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read {}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The one event of `kind` written for packet `pcap_cnt`.
fn event<'a>(evs: &'a [Value], kind: &str, pcap_cnt: u64) -> &'a Value {
    let found: Vec<&Value> = evs
        .iter()
        .filter(|e| e["event_type"] == kind && e["pcap_cnt"] == pcap_cnt)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{kind} events of packet {pcap_cnt}: {found:?}"
    );
    found[0]
}

/// The `app_proto` of the flow event whose flow carried packet event `e`.
fn app_proto<'a>(evs: &'a [Value], e: &Value) -> &'a Value {
    let flow = evs
        .iter()
        .find(|f| f["event_type"] == "flow" && f["flow_id"] == e["flow_id"])
        .unwrap_or_else(|| panic!("no flow event for {e}"));
    &flow["app_proto"]
}

#[test]
fn http_request_and_response_become_one_http_transaction_event() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let evs = events(&data.join("pcaps/benign/ppa_http.cap"));
    // The request (packet 4) waits for its response (packet 6): one event, as Suricata's.
    assert!(evs
        .iter()
        .all(|e| !(e["event_type"] == "http" && e["pcap_cnt"] == 4)));
    let tx = event(&evs, "http", 6);
    let want = serde_json::json!({
        "hostname": "www.ethereal.com",
        "url": "/download.html",
        "http_user_agent":
            "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.6) Gecko/20040113",
        "http_content_type": "text/html; charset=ISO-8859-1",
        "http_refer": "http://www.ethereal.com/development.html",
        "http_method": "GET",
        "protocol": "HTTP/1.1",
        "status": 200,
        "length": 18070,
    });
    assert_eq!(tx["http"], want);
    assert_eq!(tx["src_ip"], "145.254.160.237", "oriented as the request");
    assert_eq!(tx["dest_port"], 80);
    assert_eq!(app_proto(&evs, tx), "http");
}

#[test]
fn ssh_banners_become_ssh_events_for_each_side() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let evs = events(&data.join("pcaps/benign/zeek_ssh_ssh.pcap"));
    let server = event(&evs, "ssh", 4);
    assert_eq!(
        server["ssh"],
        serde_json::json!({"server": {"proto_version": "2.0", "software_version": "OpenSSH_5.8"}})
    );
    let client = event(&evs, "ssh", 6);
    assert_eq!(
        client["ssh"],
        serde_json::json!({"client": {"proto_version": "2.0", "software_version": "OpenSSH_5.9"}})
    );
    assert_eq!(client["flow_id"], server["flow_id"]);
    assert_eq!(app_proto(&evs, client), "ssh");
}

#[test]
fn tls_hellos_become_tls_events_with_sni_ja3_and_ja4() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let evs = events(&data.join("pcaps/benign/bench_mixed_merged_suricata-verify.pcap"));
    let ch = event(&evs, "tls", 139_644);
    assert_eq!(ch["tls"]["sni"], "www.bing.com");
    assert_eq!(ch["tls"]["version"], "TLS 1.2");
    assert_eq!(ch["tls"]["ja3"]["hash"], "5182f54f9c6e99d117d9dde3fa2b4cff");
    assert!(ch["tls"]["ja3"]["string"]
        .as_str()
        .unwrap()
        .starts_with("771,49192-49191-"));
    // JA4 from the same hello: TLS 1.2, an SNI, and the ciphers JA3 lists (GREASE-free,
    // decimal) sorted, in hex, hashed with SHA-256 and cut to 12 digits.
    let ja3 = ch["tls"]["ja3"]["string"].as_str().unwrap();
    let mut ciphers: Vec<u16> = ja3
        .split(',')
        .nth(1)
        .unwrap()
        .split('-')
        .map(|c| c.parse().unwrap())
        .collect();
    ciphers.sort_unstable();
    let hex: Vec<String> = ciphers.iter().map(|c| format!("{c:04x}")).collect();
    let digest = sha2::Sha256::digest(hex.join(",").as_bytes());
    let ja4_b: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let ja4 = ch["tls"]["ja4"].as_str().unwrap();
    let parts: Vec<&str> = ja4.split('_').collect();
    assert_eq!(parts.len(), 3, "{ja4}");
    assert_eq!(&parts[0][..6], format!("t12d{:02}", ciphers.len()), "{ja4}");
    assert_eq!(parts[1], ja4_b, "{ja4}");
    assert!(sh_has_no_ja4(&evs), "a ServerHello has no ja4");
    let sh = event(&evs, "tls", 139_646);
    assert_eq!(
        sh["tls"]["ja3s"],
        serde_json::json!({"hash": "15381d64ba148f31a70eb87b53085230", "string": "771,49192,5-23-65281"})
    );
    assert_eq!(sh["flow_id"], ch["flow_id"]);
    assert_eq!(app_proto(&evs, ch), "tls");
    let tls = evs.iter().filter(|e| e["event_type"] == "tls").count();
    assert!(tls >= 100, "only {tls} tls events");
}
