//! Table tests of the brute-force detector's login inferences over synthetic packets: SSH
//! failures inferred from encrypted sizes, Telnet and VNC failures read in cleartext.

use super::super::config::DetectConfig;
use super::super::testutil::tcp_payload;
use super::super::StatefulDetector;
use super::*;
use crate::engine::alert::Alert;
use crate::engine::packet::{TcpFlags, Transport};
use crate::engine::record::Analyzed;

const S: u16 = TcpFlags::SYN;
const A: u16 = TcpFlags::ACK;
const F: u16 = TcpFlags::FIN;
const P: u16 = TcpFlags::PSH;

const ATTACKER: &str = "10.0.0.5";
const SERVER: &str = "10.0.0.2";

/// Builds one TCP connection's packets with running sequence numbers per side.
struct Conn {
    ms: i64,
    sport: u16,
    dport: u16,
    seq: [u32; 2],
    pkts: Vec<Analyzed>,
}

impl Conn {
    fn new(ms: i64, sport: u16, dport: u16) -> Self {
        let mut c = Conn {
            ms,
            sport,
            dport,
            seq: [1000, 50_000],
            pkts: Vec::new(),
        };
        c.send(true, S, b"");
        c
    }

    fn send(&mut self, from_client: bool, flags: u16, payload: &[u8]) {
        self.ms += 1;
        let (src, sport, dst, dport) = if from_client {
            (ATTACKER, self.sport, SERVER, self.dport)
        } else {
            (SERVER, self.dport, ATTACKER, self.sport)
        };
        let mut p = tcp_payload(self.ms, src, sport, dst, dport, flags, payload);
        let side = usize::from(!from_client);
        if let Transport::Tcp(t) = &mut p.decoded.transport {
            t.seq = self.seq[side];
        }
        self.seq[side] = self.seq[side].wrapping_add(payload.len() as u32);
        self.pkts.push(p);
    }

    fn client(&mut self, payload: &[u8]) {
        self.send(true, P | A, payload);
    }

    fn server(&mut self, payload: &[u8]) {
        self.send(false, P | A, payload);
    }
}

/// A cleartext SSH binary packet of `msg` with `body` bytes after the message number.
fn ssh_packet(msg: u8, body: usize) -> Vec<u8> {
    let pad = 4 + (8 - (4 + 1 + 1 + body + 4) % 8) % 8;
    let mut p = ((1 + 1 + body + pad) as u32).to_be_bytes().to_vec();
    p.push(pad as u8);
    p.push(msg);
    p.extend(std::iter::repeat_n(0u8, body + pad));
    p
}

/// One SSH connection: key exchange, the `none` probe, `passwords` failed passwords, then
/// either a successful login and a session, or the server's disconnect; both close with FIN.
fn ssh_conn(ms: i64, sport: u16, passwords: usize, success: bool) -> Vec<Analyzed> {
    let mut c = Conn::new(ms, sport, 22);
    c.server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    c.client(b"SSH-2.0-libssh_0.10.6\r\n");
    c.client(&ssh_packet(20, 900));
    c.server(&ssh_packet(20, 1080));
    c.client(&ssh_packet(30, 40));
    let mut reply = ssh_packet(31, 500);
    reply.extend(ssh_packet(21, 0));
    reply.extend([0u8; 44]); // EXT_INFO, already encrypted
    c.server(&reply);
    c.client(&ssh_packet(21, 0));
    c.client(&[0; 44]); // SERVICE_REQUEST
    c.server(&[0; 44]); // SERVICE_ACCEPT
    c.client(&[0; 68]); // none
    c.server(&[0; 52]); // USERAUTH_FAILURE
    for _ in 0..passwords {
        c.client(&[0; 84]);
        c.server(&[0; 52]);
    }
    if success {
        c.client(&[0; 84]);
        c.server(&[0; 28]); // USERAUTH_SUCCESS
        for _ in 0..8 {
            c.client(&[0; 52]);
            c.server(&[0; 52]);
        }
    } else {
        c.server(&[0; 76]); // DISCONNECT
    }
    c.send(false, F | A, b"");
    c.send(true, F | A, b"");
    c.send(false, A, b"");
    c.pkts
}

fn run(pkts: &[Analyzed]) -> Vec<Alert> {
    let cfg = DetectConfig::default();
    let mut det = BruteForceDetector::new(&cfg.brute_force, &cfg.limits);
    let mut out = Vec::new();
    for p in pkts {
        det.observe(p, None, &mut out);
    }
    out
}

#[test]
fn ssh_failures_inferred_inside_few_connections_raise_brute_force() {
    // Three connections of four passwords each: far below the connection threshold.
    let pkts: Vec<Analyzed> = (0..3)
        .flat_map(|i| ssh_conn(i * 5000, 40000 + i as u16, 4, false))
        .collect();
    let alerts = run(&pkts);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(&*a.category, "brute_force");
    assert_eq!(a.evidence["src"], ATTACKER);
    assert_eq!(a.evidence["trigger"], "failed_logins");
    assert_eq!(a.evidence["inferred_from"], "encrypted_ssh_packet_sizes");
    // Alerted when the second connection closed: 8 failures of 10 requests over 2 connections.
    assert_eq!(a.evidence["inferred_failures"], 8);
    assert_eq!(a.evidence["inferred_attempts"], 10);
    assert_eq!(a.evidence["inferred_connections"], 2);
    let sender = pkts.iter().find(|p| p.pcap_cnt == a.packet);
    assert_eq!(
        sender
            .and_then(|p| p.decoded.ip)
            .map(|ip| ip.src.to_string()),
        Some(ATTACKER.to_string())
    );
    assert!(a
        .explanation
        .contains("inferred from encrypted SSH packet sizes"));
}

#[test]
fn one_failed_ssh_connection_does_not_alert() {
    // A user who tries keys and passwords six times and gives up: one connection only.
    assert!(run(&ssh_conn(0, 40000, 6, false)).is_empty());
}

#[test]
fn successful_ssh_logins_do_not_alert() {
    // One interactive login after three refused keys or passwords.
    assert!(run(&ssh_conn(0, 40000, 3, true)).is_empty());
    // The same user logging in three times: failures of a connection that then succeeds are
    // not counted.
    let again: Vec<Analyzed> = (0..3)
        .flat_map(|i| ssh_conn(i * 5000, 40000 + i as u16, 3, true))
        .collect();
    assert!(run(&again).is_empty());
}

/// `n` Telnet connections whose server refuses one login each, then the client's next packet.
fn telnet(n: i64, reply: &[u8]) -> Vec<Analyzed> {
    let mut pkts = Vec::new();
    for i in 0..n {
        let mut c = Conn::new(i * 3000, 41000 + i as u16, 23);
        c.server(b"login: ");
        c.client(b"root\r\n");
        c.server(b"Password: ");
        c.client(b"guess\r\n");
        c.server(reply);
        pkts.extend(c.pkts);
    }
    let mut last = Conn::new(n * 3000, 42000, 23);
    last.client(b"\r\n");
    pkts.extend(last.pkts);
    pkts
}

/// `n` VNC connections with the client's challenge response and the server's `result`.
fn vnc(n: i64, result: &[u8]) -> Vec<Analyzed> {
    let mut pkts = Vec::new();
    for i in 0..n {
        let mut c = Conn::new(i * 3000, 43000 + i as u16, 5901);
        c.server(b"RFB 003.008\n");
        c.client(b"RFB 003.008\n");
        c.server(&[1, 2]); // one security type: VNC authentication
        c.client(&[2]);
        c.server(&[7; 16]); // challenge
        c.client(&[9; 16]); // response
        c.server(result);
        c.client(&[1]);
        pkts.extend(c.pkts);
    }
    pkts
}

#[test]
fn telnet_and_vnc_cleartext_failures_raise_brute_force() {
    let mut failed_38 = vec![0, 0, 0, 1, 0, 0, 0, 20];
    failed_38.extend(b"Authentication fail.");
    let cases: Vec<(&str, Vec<Analyzed>, usize)> = vec![
        (
            "telnet login incorrect",
            telnet(5, b"\r\nLogin incorrect\r\n"),
            1,
        ),
        (
            "telnet login failed",
            telnet(5, b"\r\nlogin failed.\r\n"),
            1,
        ),
        (
            "telnet below threshold",
            telnet(4, b"\r\nLogin incorrect\r\n"),
            0,
        ),
        ("telnet welcome", telnet(6, b"\r\nLast login: Mon\r\n$ "), 0),
        ("vnc 3.8 failed", vnc(5, &failed_38), 1),
        ("vnc 3.7 failed", vnc(5, &[0, 0, 0, 1]), 1),
        ("vnc ok", vnc(6, &[0, 0, 0, 0]), 0),
    ];
    for (name, pkts, want) in cases {
        let alerts = run(&pkts);
        assert_eq!(alerts.len(), want, "{name}: {alerts:?}");
        for a in &alerts {
            assert_eq!(a.evidence["src"], ATTACKER, "{name}");
            assert_eq!(a.evidence["trigger"], "failed_logins", "{name}");
            assert!(a.evidence.get("inferred_from").is_none(), "{name}");
        }
    }
}

#[test]
fn a_vnc_security_type_of_one_before_any_response_is_no_failure() {
    // RFB 3.3: the server names the security type as a u32; 1 is "None", not a failure.
    let mut pkts = Vec::new();
    for i in 0..6 {
        let mut c = Conn::new(i * 3000, 44000 + i as u16, 5900);
        c.server(b"RFB 003.003\n");
        c.client(b"RFB 003.003\n");
        c.server(&[0, 0, 0, 1]);
        c.client(&[1]);
        pkts.extend(c.pkts);
    }
    assert!(run(&pkts).is_empty());
}
