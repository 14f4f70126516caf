//! Login brute force: many new connections from one client to one login service, or many
//! failed-login replies (FTP `530`, SMTP `535`) sent back to it, within a sliding window.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by (client, server, service port). The
//! alert always lands on a packet the client sent, so the packet's source is the attacker.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{BruteForceConfig, LimitsConfig};
use super::super::table::{secs_ns, since, Table};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::packet::TcpFlags;
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
    /// No new alert for this key before this time.
    quiet_until: Ts,
}

/// What a packet tells about a login service.
#[derive(Clone, Copy)]
enum Seen {
    /// The client opened a connection (SYN).
    Connect(u16),
    /// The client sent something else to the service.
    Client,
    /// The service told the client its login failed.
    Failure,
}

pub struct BruteForceDetector {
    cfg: BruteForceConfig,
    state: Table<(IpAddr, IpAddr, u16), Attempts>,
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
            state: Table::new(limits.max_entries, cfg.window_secs),
        }
    }

    /// The (client, server, service) key and what the packet means for it.
    fn classify(
        &self,
        a: &Analyzed,
        flow: Option<&FlowCtx>,
    ) -> Option<((IpAddr, IpAddr, u16), Seen)> {
        let ip = a.decoded.ip.as_ref()?;
        let tcp = a.decoded.transport.tcp()?;
        if self.cfg.ports.contains(&tcp.dst_port) {
            let key = (ip.src, ip.dst, tcp.dst_port);
            let f = tcp.flags.classic();
            let syn = f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::SYN;
            if syn && flow.is_none_or(|c| c.is_new) {
                return Some((key, Seen::Connect(tcp.src_port)));
            }
            return Some((key, Seen::Client));
        }
        let payload = a.decoded.payload(&a.frame.data);
        let failed = match tcp.src_port {
            21 => payload.starts_with(b"530"),
            25 | 465 | 587 => payload.starts_with(b"535"),
            _ => false,
        };
        failed.then_some(((ip.dst, ip.src, tcp.src_port), Seen::Failure))
    }
}

impl StatefulDetector for BruteForceDetector {
    fn name(&self) -> &'static str {
        "brute_force"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some((key, seen)) = self.classify(a, flow) else {
            return;
        };
        let now = a.frame.ts;
        let cfg = &self.cfg;
        let st = match seen {
            Seen::Client => match self.state.get_mut(&key) {
                Some(st) => st,
                None => return,
            },
            _ => self.state.entry(key, now, || Attempts {
                connections: VecDeque::new(),
                failures: VecDeque::new(),
                last_sport: None,
                pending: false,
                quiet_until: Ts(i64::MIN),
            }),
        };
        let mut by_conns = false;
        match seen {
            Seen::Connect(sport) if st.last_sport != Some(sport) => {
                st.last_sport = Some(sport);
                let n = slide(
                    &mut st.connections,
                    now,
                    cfg.window_secs,
                    cfg.attempts as usize,
                );
                by_conns = n >= cfg.attempts as usize;
            }
            Seen::Failure => {
                let n = slide(
                    &mut st.failures,
                    now,
                    cfg.window_secs,
                    cfg.failures as usize,
                );
                st.pending |= n >= cfg.failures as usize;
                return;
            }
            _ => {}
        }
        if !(by_conns || st.pending) || now < st.quiet_until {
            return;
        }
        let by_fails = std::mem::take(&mut st.pending);
        st.quiet_until = now.plus_secs(cfg.window_secs);
        let (client, server, service) = key;
        let span = |q: &VecDeque<Ts>| q.front().map_or(0.0, |&t| since(now, t) as f64 / 1e9);
        let explanation = if by_fails {
            format!(
                "{client} got {} failed-login replies from {server}:{service} within {:.1} s (threshold {} in {} s)",
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
        let evidence = json!({
            "src": client.to_string(), "dst": server.to_string(), "service_port": service,
            "connections": st.connections.len(), "failed_logins": st.failures.len(),
            "window_secs": cfg.window_secs, "connection_threshold": cfg.attempts,
            "failure_threshold": cfg.failures, "trigger": if by_fails { "failed_logins" } else { "connections" },
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
