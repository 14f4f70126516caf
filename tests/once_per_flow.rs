//! Signatures marked `"once_per_flow": true` alert once per flow through `nsm-tui read`: an FTP
//! session that sends several passwords and a keep-alive HTTP connection that sends Basic
//! credentials with every request are one alert each; a second connection is a second alert;
//! a signature without the mark still alerts on every packet; a bad value is a load error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::Path;

/// The bundled "Cleartext password (FTP/POP3 PASS)" and "Cleartext HTTP Basic
/// authentication" signatures.
const FTP_PASS: u64 = 1_000_091;
const HTTP_BASIC: u64 = 1_000_092;

/// Client `client` (10.0.0.N:40000+N) talking to 10.255.0.2:`port`: handshake, then each
/// payload from the client, each answered by an empty ACK.
fn session(client: u8, port: u16, payloads: &[&[u8]]) -> Vec<Vec<u8>> {
    let c = [10, 0, 0, client];
    let s = [10, 255, 0, 2];
    let sport = 40_000 + u16::from(client);
    let pkt = |to_server: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
        let (from, to) = if to_server {
            ((c, sport), (s, port))
        } else {
            ((s, port), (c, sport))
        };
        common::tcp_frame(from, to, seq, ack, flags, payload)
    };
    let (mut seq, sseq) = (1000u32, 5000u32);
    let mut frames = vec![
        pkt(true, seq, 0, "S", b""),
        pkt(false, sseq, seq + 1, "SA", b""),
        pkt(true, seq + 1, sseq + 1, "A", b""),
    ];
    seq += 1;
    for p in payloads {
        frames.push(pkt(true, seq, sseq + 1, "PA", p));
        seq += u32::try_from(p.len()).unwrap();
        frames.push(pkt(false, sseq + 1, seq, "A", b""));
    }
    frames
}

/// `nsm-tui read FILE --no-db --eve OUT` (then the extra arguments), the alerts' signature ids
/// with their source port.
fn alerts(pcap: &Path, extra: &[&str]) -> Vec<(u64, u64)> {
    common::read_eve(pcap, extra)
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| {
            (
                e["alert"]["signature_id"].as_u64().unwrap(),
                e["src_port"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn count(found: &[(u64, u64)], id: u64, sport: u64) -> usize {
    found
        .iter()
        .filter(|&&(i, p)| i == id && p == sport)
        .count()
}

#[test]
fn cleartext_credentials_alert_once_per_session_and_again_for_a_new_session() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("creds.pcap");
    let basic: &[u8] =
        b"GET /admin HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic YWRtaW46aHVudGVyMg==\r\n\r\n";
    let mut frames = session(
        1,
        21,
        &[
            b"USER alice\r\n",
            b"PASS first\r\n",
            b"USER alice\r\n",
            b"PASS second\r\n",
            b"PASS third\r\n",
        ],
    );
    frames.extend(session(2, 80, &[basic, basic, basic, basic]));
    frames.extend(session(3, 80, &[basic, basic]));
    common::write_pcap(&pcap, &frames);
    let found = alerts(&pcap, &[]);
    assert_eq!(count(&found, FTP_PASS, 40_001), 1, "{found:?}");
    assert_eq!(count(&found, HTTP_BASIC, 40_002), 1, "{found:?}");
    assert_eq!(count(&found, HTTP_BASIC, 40_003), 1, "{found:?}");

    // The same signatures without the mark alert on every packet that matches.
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    let rules = rules_dir.join("rules.json");
    let unmarked = r#"[
      {"signature_id": 7000001, "description": "PASS", "pattern": "^PASS\\s+\\S",
       "severity": "Low", "type": "Cleartext Credentials", "protocol": "TCP", "port": 21},
      {"signature_id": 7000002, "description": "PASS once", "pattern": "^PASS\\s+\\S",
       "severity": "Low", "type": "Cleartext Credentials", "protocol": "TCP", "port": 21,
       "once_per_flow": true}
    ]"#;
    std::fs::write(&rules, unmarked).unwrap();
    let found = alerts(&pcap, &["--signatures", rules_dir.to_str().unwrap()]);
    assert_eq!(count(&found, 7_000_001, 40_001), 3, "{found:?}");
    assert_eq!(count(&found, 7_000_002, 40_001), 1, "{found:?}");
}

#[test]
fn a_once_per_flow_value_that_is_not_true_or_false_is_a_load_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("one.pcap");
    common::write_pcap(&pcap, &session(1, 21, &[b"PASS x\r\n"]));
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    std::fs::write(
        rules_dir.join("rules.json"),
        r#"[{"signature_id": 7000003, "description": "d", "pattern": "x", "severity": "Low",
             "type": "t", "once_per_flow": "yes"}]"#,
    )
    .unwrap();
    let out = common::nsm()
        .arg("read")
        .arg(&pcap)
        .args(["--no-db", "--no-pcap-log", "--signatures"])
        .arg(&rules_dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("once_per_flow") && text.contains("expected true or false"),
        "{text}"
    );
    assert!(
        text.contains("rules.json") && text.contains("7000003"),
        "{text}"
    );
}
