//! Login brute force: many new connections from one client to one login service, or many
//! failed-login replies sent back to it within a sliding window: cleartext ones (FTP `530`, SMTP
//! `535`, POP3 `-ERR` after `PASS`, IMAP `NO` after `LOGIN`, HTTP `401`, Telnet `Login
//! incorrect`, VNC's SecurityResult `failed` after the client's challenge response) and SSH
//! ones inferred from the sizes of encrypted packets (`ssh_auth`), so that a client which tries
//! several passwords over each of a few connections is caught as well.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by (client, server, service port). A
//! refused connection (the server's RST, or an ICMP unreachable quoting the SYN) is no login
//! attempt: it is taken back from the count (it stays a scan probe for the scan detector). The
//! alert waits for the client's next packet, so a refusal can arrive first and the packet's
//! source is always the attacker.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{BruteForceConfig, LimitsConfig};
use super::super::port_set::PortSet;
use super::super::table::{secs_ns, since, Table};
use super::super::{FlowCtx, StatefulDetector};
use super::ssh_auth::{AuthEvent, SshAuth};
use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::packet::{TcpFlags, Transport};
use crate::engine::record::Analyzed;

struct Attempts {
    /// Times of the most recent connection attempts (at most `attempts` kept).
    connections: VecDeque<Ts>,
    /// Times of the most recent failed-login replies (at most `failures` kept).
    failures: VecDeque<Ts>,
    /// Client port of the last counted SYN, so retransmitted SYNs count once.
    last_sport: Option<u16>,
    /// The failure threshold was reached; alert on the client's next packet.
    pending: bool,
    /// The connection threshold was reached; alert on the client's next packet unless a
    /// refusal takes the last connection back first.
    pending_conns: bool,
    /// The client sent credentials (POP3 `PASS`, IMAP `LOGIN`) the server has not answered.
    auth_sent: bool,
    /// No new alert for this key before this time.
    quiet_until: Ts,
    /// SSH: failures inferred from encrypted sizes, the attempts and connections they came in.
    ssh_failures: u32,
    ssh_attempts: u32,
    ssh_conns: u32,
    /// When the latest SSH connections with failures closed (at most `MIN_SSH_CONNECTIONS`).
    ssh_closed: VecDeque<Ts>,
}

/// SSH connections with inferred failures needed within the window: one connection carries at
/// most the server's MaxAuthTries (6 by default), and a user who mistypes a password a few
/// times and gives up is no guesser.
const MIN_SSH_CONNECTIONS: usize = 2;

/// One SSH connection followed for its login attempts.
struct SshConn {
    auth: SshAuth,
    /// When its failures came (at most `MAX_HELD`).
    held: Vec<Ts>,
}

/// Failure times one SSH connection keeps until it closes.
const MAX_HELD: usize = 64;

/// What a packet tells about a login service.
#[derive(Clone, Copy)]
enum Seen {
    /// The client opened a connection (SYN).
    Connect(u16),
    /// The client sent something else to the service; `true` when it carries credentials.
    Client(bool),
    /// The service told the client its login failed; `true` when the reply means failure only
    /// after credentials (POP3 `-ERR`, IMAP `NO`).
    Failure(bool),
    /// The server (or a router for it) refused the connection from this client port.
    Refused(u16),
}

/// Web ports whose `401` replies count as failed logins; their connections are not counted.
const HTTP_PORTS: [u16; 3] = [80, 8000, 8080];
/// VNC (RFB) displays :0 to :10.
const VNC_PORTS: std::ops::RangeInclusive<u16> = 5900..=5910;

/// Whether `payload` holds `needle`, ignoring ASCII case, within its first 512 bytes.
fn contains_ci(payload: &[u8], needle: &[u8]) -> bool {
    let head = &payload[..payload.len().min(512)];
    head.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// An RFB SecurityResult saying `failed`: a u32 of 1, alone (RFB 3.3, 3.7) or with its reason
/// string's length and the string (RFB 3.8).
fn vnc_failed(payload: &[u8]) -> bool {
    if payload.get(..4) != Some(&[0, 0, 0, 1]) {
        return false;
    }
    let reason = payload
        .get(4..8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    payload.len() == 4 || reason.is_some_and(|n| n + 8 == payload.len())
}

/// Whether a client's payload to `port` carries credentials the reply will judge.
fn sends_credentials(port: u16, payload: &[u8]) -> bool {
    let upper: Vec<u8> = payload
        .iter()
        .take(32)
        .map(u8::to_ascii_uppercase)
        .collect();
    match port {
        110 => upper.starts_with(b"PASS "),
        143 => {
            let mut words = upper.split(|&b| b == b' ');
            let _tag = words.next();
            matches!(words.next(), Some(b"LOGIN" | b"AUTHENTICATE"))
        }
        // The client's response to the server's 16-byte VNC authentication challenge.
        p if VNC_PORTS.contains(&p) => payload.len() == 16,
        _ => false,
    }
}

/// Whether a server's payload from `port` reports a failed login; `Some(true)` when it does
/// only after credentials.
fn failure_reply(port: u16, payload: &[u8]) -> Option<bool> {
    let failed = match port {
        21 => payload.starts_with(b"530"),
        25 | 465 | 587 => payload.starts_with(b"535"),
        110 => return payload.starts_with(b"-ERR").then_some(true),
        143 => {
            let mut words = payload.split(|&b| b == b' ');
            let _tag = words.next();
            return (words.next() == Some(b"NO")).then_some(true);
        }
        23 => contains_ci(payload, b"login incorrect") || contains_ci(payload, b"login failed"),
        p if VNC_PORTS.contains(&p) => return vnc_failed(payload).then_some(true),
        p if HTTP_PORTS.contains(&p) => {
            payload.starts_with(b"HTTP/1.") && payload.get(9..12) == Some(b"401")
        }
        _ => false,
    };
    failed.then_some(false)
}

/// The (client, server, port) key and client port of the TCP SYN an ICMP destination
/// unreachable quotes (an IPv4 header and the first 8 bytes of TCP).
fn quoted_syn(quoted: &[u8]) -> Option<((IpAddr, IpAddr, u16), u16)> {
    let ihl = usize::from(*quoted.first()? & 0x0f) * 4;
    if quoted.first()? >> 4 != 4 || *quoted.get(9)? != 6 || ihl < 20 {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let b: [u8; 4] = quoted.get(at..at + 4)?.try_into().ok()?;
        Some(IpAddr::from(b))
    };
    let port = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(quoted.get(at..at + 2)?.try_into().ok()?))
    };
    let (sport, dport) = (port(ihl)?, port(ihl + 2)?);
    Some(((addr(12)?, addr(16)?, dport), sport))
}

pub struct BruteForceDetector {
    cfg: BruteForceConfig,
    /// `cfg.ports`, tested on every TCP packet.
    ports: PortSet,
    state: Table<(IpAddr, IpAddr, u16), Attempts>,
    /// SSH connections by (client, client port, server, service port).
    ssh: Table<(IpAddr, u16, IpAddr, u16), SshConn>,
}

/// Record `now` in a sliding window of `secs`, keeping at most `keep` entries; returns how many
/// fall inside the window.
fn slide(times: &mut VecDeque<Ts>, now: Ts, secs: u64, keep: usize) -> usize {
    times.push_back(now);
    while times.len() > keep.max(1)
        || times
            .front()
            .is_some_and(|&t| since(now, t) > secs_ns(secs))
    {
        times.pop_front();
    }
    times.len()
}

impl BruteForceDetector {
    pub fn new(cfg: &BruteForceConfig, limits: &LimitsConfig) -> Self {
        BruteForceDetector {
            cfg: cfg.clone(),
            ports: PortSet::of(&cfg.ports),
            state: Table::new(limits.max_entries, cfg.window_secs),
            ssh: Table::new(limits.max_entries, cfg.window_secs),
        }
    }

    /// Follow SSH connections to the watched ports and add the failures inferred in one to its
    /// client's count when it closes (FIN or RST) without a successful login: a user whose keys
    /// or first passwords were refused before one was accepted is no guesser.
    fn track_ssh(&mut self, a: &Analyzed) {
        let (Some(ip), Some(tcp)) = (a.decoded.ip.as_ref(), a.decoded.transport.tcp()) else {
            return;
        };
        let (from_client, key) = if self.ports.contains(tcp.dst_port) {
            (true, (ip.src, tcp.src_port, ip.dst, tcp.dst_port))
        } else if self.ports.contains(tcp.src_port) {
            (false, (ip.dst, tcp.dst_port, ip.src, tcp.src_port))
        } else {
            return;
        };
        let payload = a.decoded.payload(&a.frame.data);
        if self.ssh.get_mut(&key).is_none() && !payload.starts_with(b"SSH-") {
            return;
        }
        let now = a.frame.ts;
        let conn = self.ssh.entry(key, now, || SshConn {
            auth: SshAuth::new(),
            held: Vec::new(),
        });
        if conn.auth.segment(from_client, tcp.seq, payload) == Some(AuthEvent::Failed)
            && conn.held.len() < MAX_HELD
        {
            conn.held.push(now);
        }
        if tcp.flags.classic() & (TcpFlags::FIN | TcpFlags::RST) == 0 {
            return;
        }
        let (failures, attempts) = (conn.auth.failures, conn.auth.attempts);
        let due = !conn.auth.succeeded && failures > 0;
        let times = std::mem::take(&mut conn.held);
        self.ssh.remove(&key);
        if !due {
            return;
        }
        let (client, _, server, service) = key;
        let st = self
            .state
            .entry((client, server, service), now, Attempts::new);
        let keep = self.cfg.failures as usize;
        let secs = self.cfg.window_secs;
        let conns = slide(&mut st.ssh_closed, now, secs, MIN_SSH_CONNECTIONS);
        for t in times {
            let n = slide(&mut st.failures, t, secs, keep);
            st.pending |= n >= keep && conns >= MIN_SSH_CONNECTIONS;
        }
        st.ssh_failures += failures;
        st.ssh_attempts += attempts;
        st.ssh_conns += 1;
    }

    /// The (client, server, service) key and what the packet means for it.
    fn classify(
        &self,
        a: &Analyzed,
        flow: Option<&FlowCtx>,
    ) -> Option<((IpAddr, IpAddr, u16), Seen)> {
        let ip = a.decoded.ip.as_ref()?;
        let payload = a.decoded.payload(&a.frame.data);
        if let Transport::Icmp(i) = a.decoded.transport {
            // Destination unreachable: port, protocol, or administratively prohibited.
            if i.icmp_type != 3 || !matches!(i.code, 2 | 3 | 9 | 10 | 13) {
                return None;
            }
            let (key, sport) = quoted_syn(payload)?;
            return self
                .ports
                .contains(key.2)
                .then_some((key, Seen::Refused(sport)));
        }
        let tcp = a.decoded.transport.tcp()?;
        let f = tcp.flags.classic();
        if self.ports.contains(tcp.dst_port) {
            let key = (ip.src, ip.dst, tcp.dst_port);
            let syn = f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::SYN;
            if syn && flow.is_none_or(|c| c.is_new) {
                return Some((key, Seen::Connect(tcp.src_port)));
            }
            let creds = sends_credentials(tcp.dst_port, payload);
            return Some((key, Seen::Client(creds)));
        }
        if HTTP_PORTS.contains(&tcp.dst_port) {
            return Some(((ip.src, ip.dst, tcp.dst_port), Seen::Client(false)));
        }
        let key = (ip.dst, ip.src, tcp.src_port);
        if f & TcpFlags::RST != 0 && self.ports.contains(tcp.src_port) {
            return Some((key, Seen::Refused(tcp.dst_port)));
        }
        failure_reply(tcp.src_port, payload).map(|after| (key, Seen::Failure(after)))
    }
}

impl Attempts {
    fn new() -> Self {
        Attempts {
            connections: VecDeque::new(),
            failures: VecDeque::new(),
            last_sport: None,
            pending: false,
            pending_conns: false,
            auth_sent: false,
            quiet_until: Ts(i64::MIN),
            ssh_failures: 0,
            ssh_attempts: 0,
            ssh_conns: 0,
            ssh_closed: VecDeque::new(),
        }
    }
}

impl StatefulDetector for BruteForceDetector {
    fn name(&self) -> &'static str {
        "brute_force"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        self.track_ssh(a);
        let Some((key, seen)) = self.classify(a, flow) else {
            return;
        };
        let now = a.frame.ts;
        let cfg = &self.cfg;
        let st = match seen {
            Seen::Client(_) | Seen::Refused(_) | Seen::Failure(true) => {
                match self.state.get_mut(&key) {
                    Some(st) => st,
                    None => return,
                }
            }
            _ => self.state.entry(key, now, Attempts::new),
        };
        let enough = cfg.attempts as usize;
        match seen {
            Seen::Connect(sport) if st.last_sport != Some(sport) => {
                // The previous connection had this long to be refused: a pending alert is due.
                let due = st.pending_conns;
                st.last_sport = Some(sport);
                let n = slide(&mut st.connections, now, cfg.window_secs, enough);
                st.pending_conns = n >= enough;
                if !due {
                    return;
                }
            }
            Seen::Refused(sport) => {
                if st.last_sport == Some(sport) {
                    st.connections.pop_back();
                    st.last_sport = None;
                }
                st.pending_conns = st.connections.len() >= enough;
                return;
            }
            Seen::Failure(after_credentials) => {
                if after_credentials && !std::mem::take(&mut st.auth_sent) {
                    return;
                }
                let n = slide(
                    &mut st.failures,
                    now,
                    cfg.window_secs,
                    cfg.failures as usize,
                );
                st.pending |= n >= cfg.failures as usize;
                return;
            }
            Seen::Client(creds) => st.auth_sent |= creds,
            Seen::Connect(_) => {}
        }
        if !(st.pending_conns || st.pending) || now < st.quiet_until {
            return;
        }
        st.pending_conns = false;
        let by_fails = std::mem::take(&mut st.pending);
        st.quiet_until = now.plus_secs(cfg.window_secs);
        let (client, server, service) = key;
        let span = |q: &VecDeque<Ts>| q.front().map_or(0.0, |&t| since(now, t) as f64 / 1e9);
        let inferred = st.ssh_failures > 0;
        let explanation = if by_fails {
            let how = if inferred {
                format!(
                    " (inferred from encrypted SSH packet sizes: {} failures in {} attempts over {} connection{})",
                    st.ssh_failures,
                    st.ssh_attempts,
                    st.ssh_conns,
                    if st.ssh_conns == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            };
            format!(
                "{client} got {} failed-login replies from {server}:{service} within {:.1} s (threshold {} in {} s){how}",
                st.failures.len(),
                span(&st.failures),
                cfg.failures,
                cfg.window_secs
            )
        } else {
            format!(
                "{client} opened {} connections to {server}:{service} within {:.1} s (threshold {} in {} s)",
                st.connections.len(),
                span(&st.connections),
                cfg.attempts,
                cfg.window_secs
            )
        };
        let mut evidence = json!({
            "src": client.to_string(), "dst": server.to_string(), "service_port": service,
            "connections": st.connections.len(), "failed_logins": st.failures.len(),
            "window_secs": cfg.window_secs, "connection_threshold": cfg.attempts,
            "failure_threshold": cfg.failures, "trigger": if by_fails { "failed_logins" } else { "connections" },
        });
        if inferred {
            evidence["inferred_from"] = json!("encrypted_ssh_packet_sizes");
            evidence["inferred_failures"] = json!(st.ssh_failures);
            evidence["inferred_attempts"] = json!(st.ssh_attempts);
            evidence["inferred_connections"] = json!(st.ssh_conns);
        }
        out.push(builtin::BRUTE_FORCE.alert(a, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("brute_force.tracked", self.state.len() as u64),
            ("brute_force.expired", self.state.expired()),
            ("brute_force.dropped", self.state.dropped()),
            ("brute_force.ssh_tracked", self.ssh.len() as u64),
        ]
    }
}
