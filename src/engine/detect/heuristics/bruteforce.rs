//! Login brute force: many new connections from one client to one login service, or many
//! failed-login replies (FTP `530`, SMTP `535`) sent back to it, within a window.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by (client, server, service port).

use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{BruteForceConfig, LimitsConfig};
use super::super::table::{Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::packet::TcpFlags;
use crate::engine::record::Analyzed;

struct Attempts {
    window: Window,
    connections: u32,
    failures: u32,
    /// Client port of the last counted SYN, so retransmitted SYNs count once.
    last_sport: Option<u16>,
}

/// What a packet tells about a login service.
enum Seen {
    /// A client opened a connection to the service.
    Connect { client: IpAddr, server: IpAddr, service: u16, sport: u16 },
    /// The service told the client its login failed.
    Failure { client: IpAddr, server: IpAddr, service: u16 },
}

pub struct BruteForceDetector {
    cfg: BruteForceConfig,
    state: Table<(IpAddr, IpAddr, u16), Attempts>,
}

impl BruteForceDetector {
    pub fn new(cfg: &BruteForceConfig, limits: &LimitsConfig) -> Self {
        BruteForceDetector { cfg: cfg.clone(), state: Table::new(limits.max_entries, cfg.window_secs) }
    }

    fn classify(&self, a: &Analyzed, flow: Option<&FlowCtx>) -> Option<Seen> {
        let ip = a.decoded.ip.as_ref()?;
        let tcp = a.decoded.transport.tcp()?;
        let f = tcp.flags.classic();
        if f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::SYN
            && self.cfg.ports.contains(&tcp.dst_port)
            && flow.map_or(true, |c| c.is_new)
        {
            return Some(Seen::Connect { client: ip.src, server: ip.dst, service: tcp.dst_port, sport: tcp.src_port });
        }
        let payload = a.decoded.payload(&a.frame.data);
        let failed = match tcp.src_port {
            21 => payload.starts_with(b"530"),
            25 | 465 | 587 => payload.starts_with(b"535"),
            _ => false,
        };
        failed.then_some(Seen::Failure { client: ip.dst, server: ip.src, service: tcp.src_port })
    }
}

impl StatefulDetector for BruteForceDetector {
    fn name(&self) -> &'static str {
        "brute_force"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some(seen) = self.classify(a, flow) else { return };
        let (client, server, service) = match seen {
            Seen::Connect { client, server, service, .. } | Seen::Failure { client, server, service } => {
                (client, server, service)
            }
        };
        let now = a.frame.ts;
        let cfg = &self.cfg;
        let st = self.state.entry((client, server, service), now, || Attempts {
            window: Window::new(now),
            connections: 0,
            failures: 0,
            last_sport: None,
        });
        if st.window.roll(now, cfg.window_secs) {
            st.connections = 0;
            st.failures = 0;
        }
        match seen {
            Seen::Connect { sport, .. } if st.last_sport != Some(sport) => {
                st.last_sport = Some(sport);
                st.connections += 1;
            }
            Seen::Connect { .. } => {}
            Seen::Failure { .. } => st.failures += 1,
        }
        let by_conns = st.connections >= cfg.attempts;
        let by_fails = st.failures >= cfg.failures;
        if st.window.alerted || !(by_conns || by_fails) {
            return;
        }
        st.window.alerted = true;
        let elapsed = st.window.elapsed(now);
        let explanation = if by_fails {
            format!(
                "{client} got {} failed-login replies from {server}:{service} in {elapsed:.1} s (threshold {} in {} s)",
                st.failures, cfg.failures, cfg.window_secs
            )
        } else {
            format!(
                "{client} opened {} connections to {server}:{service} in {elapsed:.1} s (threshold {} in {} s)",
                st.connections, cfg.attempts, cfg.window_secs
            )
        };
        let evidence = json!({
            "src": client.to_string(), "dst": server.to_string(), "service_port": service,
            "connections": st.connections, "failed_logins": st.failures, "elapsed_secs": elapsed,
            "window_secs": cfg.window_secs, "connection_threshold": cfg.attempts,
            "failure_threshold": cfg.failures,
        });
        out.push(builtin::BRUTE_FORCE.alert(a, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("brute_force.tracked", self.state.len() as u64),
            ("brute_force.expired", self.state.expired()),
            ("brute_force.dropped", self.state.dropped()),
        ]
    }
}
