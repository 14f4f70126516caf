//! Floods toward one destination: TCP SYN (rate and half-open share, spoofed sources included),
//! ICMP echo, and UDP (answers to the destination's own DNS queries excepted).
//!
//! A `StatefulDetector` on the aggregator thread, keyed by destination address so spoofed
//! sources cannot spread the count; one alert per destination and kind per window.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{FloodConfig, LimitsConfig};
use super::super::table::{capped_insert, Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::packet::{TcpFlags, Transport};
use crate::engine::record::Analyzed;

/// Ports and sources remembered per destination; beyond these the counts saturate.
const PORT_CAP: usize = 64;
const SOURCE_CAP: usize = 4096;
/// A SYN flood aims at one service or comes from many sources; a SYN port scan does neither.
const MIN_TOP_PORT_SHARE: f64 = 0.5;
const MIN_SPOOFED_SOURCES: usize = 100;

#[derive(Default)]
struct Toward {
    syns: u32,
    acks: u32,
    syn_ports: HashMap<u16, u32>,
    sources: HashSet<IpAddr>,
    echo: u32,
    udp: u32,
    dns_answers_in: u32,
    dns_queries_out: u32,
    alerted: [bool; 3],
}

struct Host {
    window: Window,
    c: Toward,
}

pub struct FloodDetector {
    cfg: FloodConfig,
    hosts: Table<IpAddr, Host>,
}

impl FloodDetector {
    pub fn new(cfg: &FloodConfig, limits: &LimitsConfig) -> Self {
        FloodDetector { cfg: cfg.clone(), hosts: Table::new(limits.max_entries, cfg.window_secs) }
    }

    fn host(&mut self, addr: IpAddr, now: Ts) -> &mut Toward {
        let secs = self.cfg.window_secs;
        let h = self.hosts.entry(addr, now, || Host { window: Window::new(now), c: Toward::default() });
        if h.window.roll(now, secs) {
            h.c = Toward::default();
        }
        &mut h.c
    }

    fn elapsed(&mut self, addr: IpAddr, now: Ts) -> f64 {
        self.hosts.get_mut(&addr).map_or(0.0, |h| h.window.elapsed(now))
    }
}

/// Which flood counter a packet feeds.
enum Kind {
    Syn(u16),
    Ack,
    Echo,
    Udp { dns_answer: bool },
}

fn kind(a: &Analyzed) -> Option<Kind> {
    let ip = a.decoded.ip.as_ref()?;
    Some(match &a.decoded.transport {
        Transport::Tcp(t) => {
            let f = t.flags.classic();
            if f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::SYN {
                Kind::Syn(t.dst_port)
            } else if f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::ACK {
                Kind::Ack
            } else {
                return None;
            }
        }
        Transport::Icmp(i) if i.icmp_type == 8 => Kind::Echo,
        Transport::Icmpv6(i) if i.icmp_type == 128 => Kind::Echo,
        Transport::Udp(u) => Kind::Udp { dns_answer: u.src_port == 53 },
        // Later fragments of a UDP datagram carry no header but still load the destination.
        Transport::Other(17) | Transport::None if ip.proto == 17 => Kind::Udp { dns_answer: false },
        _ => return None,
    })
}

impl StatefulDetector for FloodDetector {
    fn name(&self) -> &'static str {
        "flood"
    }

    fn observe(&mut self, a: &Analyzed, _flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some(k) = kind(a) else { return };
        let Some(ip) = a.decoded.ip else { return };
        let now = a.frame.ts;
        if let (Kind::Udp { .. }, Some((_, 53))) = (&k, a.decoded.ports()) {
            let src = self.host(ip.src, now);
            src.dns_queries_out = src.dns_queries_out.saturating_add(1);
        }
        let (icmp_t, udp_t) = (self.cfg.icmp_packets, self.cfg.udp_packets);
        let c = self.host(ip.dst, now);
        match k {
            Kind::Syn(port) => {
                c.syns = c.syns.saturating_add(1);
                if c.syn_ports.len() < PORT_CAP || c.syn_ports.contains_key(&port) {
                    *c.syn_ports.entry(port).or_insert(0) += 1;
                }
                capped_insert(&mut c.sources, ip.src, SOURCE_CAP);
                self.check_syn(a, ip.dst, out);
            }
            Kind::Ack => c.acks = c.acks.saturating_add(1),
            Kind::Echo => {
                c.echo = c.echo.saturating_add(1);
                let n = c.echo;
                if n >= icmp_t && !std::mem::replace(&mut c.alerted[1], true) {
                    out.push(self.rate_alert(a, ip.dst, &builtin::ICMP_FLOOD, "ICMP echo requests", n, icmp_t, json!({})));
                }
            }
            Kind::Udp { dns_answer } => {
                c.udp = c.udp.saturating_add(1);
                c.dns_answers_in = c.dns_answers_in.saturating_add(u32::from(dns_answer));
                let n = c.udp - c.dns_answers_in.min(c.dns_queries_out);
                if n >= udp_t && !std::mem::replace(&mut c.alerted[2], true) {
                    let extra = json!({ "dns_answers_excluded": c.dns_answers_in.min(c.dns_queries_out) });
                    out.push(self.rate_alert(a, ip.dst, &builtin::UDP_FLOOD, "UDP packets", n, udp_t, extra));
                }
            }
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("flood.tracked", self.hosts.len() as u64),
            ("flood.expired", self.hosts.expired()),
            ("flood.dropped", self.hosts.dropped()),
        ]
    }
}

impl FloodDetector {
    fn check_syn(&mut self, a: &Analyzed, dst: IpAddr, out: &mut Vec<Alert>) {
        let now = a.frame.ts;
        let elapsed = self.elapsed(dst, now);
        let cfg = self.cfg.clone();
        let c = self.host(dst, now);
        if c.alerted[0] || c.syns < cfg.syn_packets {
            return;
        }
        let half_open = 1.0 - (f64::from(c.acks) / f64::from(c.syns)).min(1.0);
        let (top_port, top) = c.syn_ports.iter().max_by_key(|(_, n)| **n).map_or((0, 0), |(p, n)| (*p, *n));
        let share = f64::from(top) / f64::from(c.syns);
        if half_open < cfg.half_open_ratio || (share < MIN_TOP_PORT_SHARE && c.sources.len() < MIN_SPOOFED_SOURCES) {
            return;
        }
        c.alerted[0] = true;
        let rate = f64::from(c.syns) / elapsed.max(1e-3);
        let explanation = format!(
            "{} SYNs toward {dst} in {elapsed:.1} s ({rate:.0}/s), {:.0}% half-open, from {} sources, \
             {:.0}% to port {top_port} (threshold {} SYNs in {} s with ≥ {:.0}% half-open)",
            c.syns,
            half_open * 100.0,
            c.sources.len(),
            share * 100.0,
            cfg.syn_packets,
            cfg.window_secs,
            cfg.half_open_ratio * 100.0
        );
        let evidence = json!({
            "dst": dst.to_string(), "syns": c.syns, "acks": c.acks, "half_open_ratio": half_open,
            "distinct_sources": c.sources.len(), "top_port": top_port, "top_port_share": share,
            "elapsed_secs": elapsed, "rate_per_sec": rate, "window_secs": cfg.window_secs,
            "threshold": cfg.syn_packets, "half_open_threshold": cfg.half_open_ratio,
        });
        out.push(builtin::SYN_FLOOD.alert(a, explanation, evidence));
    }

    #[allow(clippy::too_many_arguments)]
    fn rate_alert(
        &mut self,
        a: &Analyzed,
        dst: IpAddr,
        rule: &builtin::Builtin,
        what: &str,
        n: u32,
        threshold: u32,
        mut evidence: serde_json::Value,
    ) -> Alert {
        let elapsed = self.elapsed(dst, a.frame.ts);
        let rate = f64::from(n) / elapsed.max(1e-3);
        let secs = self.cfg.window_secs;
        let explanation =
            format!("{n} {what} toward {dst} in {elapsed:.1} s ({rate:.0}/s) (threshold {threshold} in {secs} s)");
        if let Some(m) = evidence.as_object_mut() {
            m.insert("dst".into(), json!(dst.to_string()));
            m.insert("packets".into(), json!(n));
            m.insert("elapsed_secs".into(), json!(elapsed));
            m.insert("rate_per_sec".into(), json!(rate));
            m.insert("window_secs".into(), json!(secs));
            m.insert("threshold".into(), json!(threshold));
        }
        rule.alert(a, explanation, evidence)
    }
}
