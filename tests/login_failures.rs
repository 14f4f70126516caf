//! Cleartext failed logins of Telnet and VNC, built frame by frame and read through
//! `nsm-tui read`: five refused logins from one client raise `brute_force` naming it; accepted
//! logins raise nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use serde_json::Value;

const CLIENT: [u8; 4] = [10, 0, 0, 7];
const SERVER: [u8; 4] = [10, 255, 0, 2];

/// One connection from CLIENT:`sport` to SERVER:`port`: handshake, then each (to_server,
/// payload) answered by an empty ACK.
fn session(sport: u16, port: u16, talk: &[(bool, &[u8])]) -> Vec<Vec<u8>> {
    let pkt = |to_server: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
        let (c, sv) = ((CLIENT, sport), (SERVER, port));
        let (from, to) = if to_server { (c, sv) } else { (sv, c) };
        common::tcp_frame(from, to, seq, ack, flags, payload)
    };
    let (mut c, mut s) = (1000u32, 5000u32);
    let mut frames = vec![
        pkt(true, c, 0, "S", b""),
        pkt(false, s, c + 1, "SA", b""),
        pkt(true, c + 1, s + 1, "A", b""),
    ];
    c += 1;
    s += 1;
    for &(to_server, payload) in talk {
        let n = u32::try_from(payload.len()).unwrap();
        if to_server {
            frames.push(pkt(true, c, s, "PA", payload));
            c += n;
            frames.push(pkt(false, s, c, "A", b""));
        } else {
            frames.push(pkt(false, s, c, "PA", payload));
            s += n;
            frames.push(pkt(true, c, s, "A", b""));
        }
    }
    frames
}

fn brute_force(frames: &[Vec<u8>]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("logins.pcap");
    common::write_pcap(&pcap, frames);
    common::read_eve(&pcap, &[])
        .into_iter()
        .filter(|e| e["event_type"] == "alert" && e["alert"]["category"] == "brute_force")
        .collect()
}

fn telnet(n: u16, verdict: &[u8]) -> Vec<Vec<u8>> {
    (0..n)
        .flat_map(|i| {
            session(
                41_000 + i,
                23,
                &[
                    (false, b"\xff\xfd\x18login: "),
                    (true, b"root\r\n"),
                    (false, b"Password: "),
                    (true, b"guess\r\n"),
                    (false, verdict),
                    (true, b"\r\n"),
                ],
            )
        })
        .collect()
}

fn vnc(n: u16, result: &[u8]) -> Vec<Vec<u8>> {
    (0..n)
        .flat_map(|i| {
            session(
                42_000 + i,
                5901,
                &[
                    (false, b"RFB 003.008\n"),
                    (true, b"RFB 003.008\n"),
                    (false, &[1, 2]),
                    (true, &[2]),
                    (false, &[0x5a; 16]),
                    (true, &[0xa5; 16]),
                    (false, result),
                    (true, &[1]),
                ],
            )
        })
        .collect()
}

fn assert_names_client(alerts: &[Value], port: u16) {
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["src_ip"], "10.0.0.7");
    assert_eq!(a["dest_port"], port);
    assert_eq!(a["alert"]["metadata"]["trigger"][0], "failed_logins", "{a}");
    assert_eq!(a["alert"]["metadata"]["failed_logins"][0], "5", "{a}");
}

#[test]
fn telnet_login_incorrect_replies_are_brute_force() {
    assert_names_client(&brute_force(&telnet(5, b"\r\nLogin incorrect\r\n")), 23);
    assert!(brute_force(&telnet(5, b"\r\nLast login: Mon Dec 7\r\n$ ")).is_empty());
}

#[test]
fn vnc_security_result_failed_after_the_response_is_brute_force() {
    let mut failed = vec![0, 0, 0, 1, 0, 0, 0, 21];
    failed.extend_from_slice(b"Authentication failed");
    assert_names_client(&brute_force(&vnc(5, &failed)), 5901);
    assert!(brute_force(&vnc(5, &[0, 0, 0, 0])).is_empty());
}
