//! Floods toward one destination: TCP SYN (rate and half-open share, spoofed sources included),
//! ICMP echo, and UDP (answers to the destination's own DNS queries excepted).
//!
//! A `StatefulDetector` on the aggregator thread, keyed by destination address so spoofed
//! sources cannot spread the count; one alert per destination and kind per window.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{FloodConfig, LimitsConfig};
use super::super::table::{capped_insert, new_set, Hasher, Set, Table, Window};
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
/// Reflection floods arrive from many amplifiers; a UDP scan from one or two scanners.
const MIN_UDP_FLOOD_SOURCES: usize = 20;
/// DNS answers (and their fragments) one query of the destination's own may explain.
const ANSWERS_PER_QUERY: u32 = 4;

/// The ports and sources of one kind of traffic toward a host, allocated with its first
/// packet: most tracked hosts see one kind or none, and four empty maps with their hashers
/// were 256 bytes of every host in the table.
#[derive(Default)]
struct Spread {
    ports: HashMap<u16, u32, Hasher>,
    sources: Set<IpAddr>,
}

impl Spread {
    fn of(slot: &mut Option<Box<Spread>>) -> &mut Spread {
        slot.get_or_insert_with(Box::default)
    }
    fn sources(slot: Option<&Spread>) -> usize {
        slot.map_or(0, |s| s.sources.len())
    }
    /// `top_share` of the ports, `(0, 0.0)` before any.
    fn top_share(slot: Option<&Spread>, total: u32) -> (u16, f64) {
        slot.map_or((0, 0.0), |s| top_share(&s.ports, total))
    }
}

#[derive(Default)]
struct Toward {
    syns: u32,
    acks: u32,
    /// SYN destination ports and sources.
    syn: Option<Box<Spread>>,
    echo: u32,
    udp: u32,
    /// UDP destination ports and sources.
    udp_spread: Option<Box<Spread>>,
    /// UDP packets with ports (later fragments have none).
    udp_ported: u32,
    dns_answers_in: u32,
    dns_queries_out: u32,
    alerted: [bool; 3],
}

struct Host {
    window: Window,
    c: Toward,
}

/// SYNs across the whole network, for floods that randomise destinations as well as sources.
struct Global {
    window: Window,
    syns: u32,
    acks: u32,
    sources: Set<IpAddr>,
    dsts: Set<IpAddr>,
    quiet_until: Ts,
}

pub struct FloodDetector {
    cfg: FloodConfig,
    hosts: Table<IpAddr, Host>,
    global: Global,
}

/// Count `key` in a map that stops taking new keys at `PORT_CAP`.
fn count_port(map: &mut HashMap<u16, u32, Hasher>, key: u16) {
    if map.len() < PORT_CAP || map.contains_key(&key) {
        *map.entry(key).or_insert(0) += 1;
    }
}

/// Share of `total` that went to the busiest port (the lowest of equally busy ones, so a
/// replay names the same port every time whatever the hash order).
fn top_share(map: &HashMap<u16, u32, Hasher>, total: u32) -> (u16, f64) {
    let (port, n) = map
        .iter()
        .max_by_key(|(p, n)| (**n, std::cmp::Reverse(**p)))
        .map_or((0, 0), |(p, n)| (*p, *n));
    (port, f64::from(n) / f64::from(total.max(1)))
}

impl FloodDetector {
    pub fn new(cfg: &FloodConfig, limits: &LimitsConfig) -> Self {
        let global = Global {
            window: Window::new(Ts(0)),
            syns: 0,
            acks: 0,
            sources: new_set(),
            dsts: new_set(),
            quiet_until: Ts(i64::MIN),
        };
        FloodDetector {
            cfg: cfg.clone(),
            hosts: Table::new(limits.max_entries, cfg.window_secs),
            global,
        }
    }

    fn host(&mut self, addr: IpAddr, now: Ts) -> &mut Toward {
        let secs = self.cfg.window_secs;
        let h = self.hosts.entry(addr, now, || Host {
            window: Window::new(now),
            c: Toward::default(),
        });
        if h.window.roll(now, secs) {
            h.c = Toward::default();
        }
        &mut h.c
    }

    fn elapsed(&mut self, addr: IpAddr, now: Ts) -> f64 {
        self.hosts
            .get_mut(&addr)
            .map_or(0.0, |h| h.window.elapsed(now))
    }
}

/// Whether an ACK counts against a SYN: one that completes a handshake (the client's first
/// ACKs before the server says more), or one outside any tracked connection (an ACK flood).
/// The ACKs of established traffic say nothing about half-open connections, and skipping them
/// spares a table lookup on most TCP packets.
fn completes_handshake(flow: Option<&FlowCtx>) -> bool {
    flow.is_none_or(|c| c.is_new || (c.to_server && c.established && c.pkts_toclient <= 1))
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
        Transport::Udp(u) => Kind::Udp {
            dns_answer: u.src_port == 53,
        },
        // Later fragments of a UDP datagram carry no header but still load the destination.
        // Counted with DNS answers: reflection floods fragment their large answers.
        Transport::Other(17) | Transport::None if ip.proto == 17 => Kind::Udp { dns_answer: true },
        _ => return None,
    })
}

impl StatefulDetector for FloodDetector {
    fn name(&self) -> &'static str {
        "flood"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some(k) = kind(a) else { return };
        if matches!(k, Kind::Ack) && !completes_handshake(flow) {
            return;
        }
        let Some(ip) = a.decoded.ip else { return };
        let now = a.frame.ts;
        if let (Kind::Udp { .. }, Some((_, 53))) = (&k, a.decoded.ports()) {
            let src = self.host(ip.src, now);
            src.dns_queries_out = src.dns_queries_out.saturating_add(1);
        }
        self.global(a, &k, out);
        let (icmp_t, udp_t) = (self.cfg.icmp_packets, self.cfg.udp_packets);
        let refl_t = self.cfg.dns_reflection_packets;
        let c = self.host(ip.dst, now);
        match k {
            Kind::Syn(port) => {
                c.syns = c.syns.saturating_add(1);
                let spread = Spread::of(&mut c.syn);
                count_port(&mut spread.ports, port);
                capped_insert(&mut spread.sources, ip.src, SOURCE_CAP);
                self.check_syn(a, ip.dst, out);
            }
            Kind::Ack => c.acks = c.acks.saturating_add(1),
            Kind::Echo => {
                c.echo = c.echo.saturating_add(1);
                let n = c.echo;
                if n >= icmp_t && !std::mem::replace(&mut c.alerted[1], true) {
                    out.push(self.rate_alert(
                        a,
                        ip.dst,
                        &builtin::ICMP_FLOOD,
                        "ICMP echo requests",
                        n,
                        icmp_t,
                        json!({}),
                    ));
                }
            }
            Kind::Udp { dns_answer } => {
                c.udp = c.udp.saturating_add(1);
                c.dns_answers_in = c.dns_answers_in.saturating_add(u32::from(dns_answer));
                let spread = Spread::of(&mut c.udp_spread);
                if let Some((_, dport)) = a.decoded.ports() {
                    count_port(&mut spread.ports, dport);
                    c.udp_ported += 1;
                }
                capped_insert(&mut spread.sources, ip.src, SOURCE_CAP);
                let udp_sources = spread.sources.len();
                // A client's own lookups explain a few answers (and fragments) each.
                let explained = c.dns_queries_out.saturating_mul(ANSWERS_PER_QUERY);
                let excluded = c.dns_answers_in.min(explained);
                let unsolicited = c.dns_answers_in - excluded;
                let n = c.udp - excluded;
                // A few sources spraying many ports are a UDP port scan, not a flood.
                let many = udp_sources >= MIN_UDP_FLOOD_SOURCES;
                let reflected = many && unsolicited >= refl_t;
                if c.alerted[2] || (n < udp_t && !reflected) {
                    return;
                }
                // Past the count only: the busiest port takes a scan of the port counts.
                let (top_port, share) = Spread::top_share(c.udp_spread.as_deref(), c.udp_ported);
                let flood_like = share >= MIN_TOP_PORT_SHARE || many;
                if (n >= udp_t && flood_like) || reflected {
                    c.alerted[2] = true;
                    let extra = json!({
                        "dns_answers_excluded": excluded, "distinct_sources": udp_sources,
                        "unsolicited_dns_answers": unsolicited, "reflection_threshold": refl_t,
                        "top_port": top_port, "top_port_share": share,
                    });
                    let rule = &builtin::UDP_FLOOD;
                    out.push(self.rate_alert(a, ip.dst, rule, "UDP packets", n, udp_t, extra));
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
        let (syn_packets, half_open_ratio) = (self.cfg.syn_packets, self.cfg.half_open_ratio);
        let c = self.host(dst, now);
        if c.alerted[0] || c.syns < syn_packets {
            return;
        }
        // A busy server passes the SYN count on every SYN: the cheap test first, the scan of
        // its port counts only when the SYNs are mostly half-open.
        let half_open = 1.0 - (f64::from(c.acks) / f64::from(c.syns)).min(1.0);
        if half_open < half_open_ratio {
            return;
        }
        let (top_port, share) = Spread::top_share(c.syn.as_deref(), c.syns);
        let sources = Spread::sources(c.syn.as_deref());
        if share < MIN_TOP_PORT_SHARE && sources < MIN_SPOOFED_SOURCES {
            return;
        }
        c.alerted[0] = true;
        let (syns, acks) = (c.syns, c.acks);
        let elapsed = self.elapsed(dst, now);
        let cfg = &self.cfg;
        let rate = f64::from(syns) / elapsed.max(1e-3);
        let explanation = format!(
            "{} SYNs toward {dst} in {elapsed:.1} s ({rate:.0}/s), {:.0}% half-open, from {} sources, \
             {:.0}% to port {top_port} (threshold {} SYNs in {} s with ≥ {:.0}% half-open)",
            syns,
            half_open * 100.0,
            sources,
            share * 100.0,
            cfg.syn_packets,
            cfg.window_secs,
            cfg.half_open_ratio * 100.0
        );
        let evidence = json!({
            "dst": dst.to_string(), "syns": syns, "acks": acks, "half_open_ratio": half_open,
            "distinct_sources": sources, "top_port": top_port, "top_port_share": share,
            "elapsed_secs": elapsed, "rate_per_sec": rate, "window_secs": cfg.window_secs,
            "threshold": cfg.syn_packets, "half_open_threshold": cfg.half_open_ratio,
        });
        out.push(builtin::SYN_FLOOD.alert(a, explanation, evidence));
    }

    /// Network-wide SYN accounting: a flood with random sources and random destinations never
    /// concentrates on one address.
    fn global(&mut self, a: &Analyzed, k: &Kind, out: &mut Vec<Alert>) {
        let Some(ip) = a.decoded.ip else { return };
        let now = a.frame.ts;
        let cfg = &self.cfg;
        let g = &mut self.global;
        if g.window.roll(now, cfg.spoofed_window_secs) {
            g.syns = 0;
            g.acks = 0;
            g.sources.clear();
            g.dsts.clear();
        }
        match k {
            Kind::Syn(_) => {
                g.syns = g.syns.saturating_add(1);
                capped_insert(&mut g.sources, ip.src, SOURCE_CAP);
                capped_insert(&mut g.dsts, ip.dst, SOURCE_CAP);
            }
            Kind::Ack => g.acks = g.acks.saturating_add(1),
            _ => return,
        }
        let half_open = 1.0 - (f64::from(g.acks) / f64::from(g.syns.max(1))).min(1.0);
        if g.syns < cfg.spoofed_syn_packets
            || g.sources.len() < cfg.spoofed_sources
            || g.dsts.len() < cfg.spoofed_sources
            || half_open < cfg.half_open_ratio
            || now < g.quiet_until
        {
            return;
        }
        g.quiet_until = now.plus_secs(cfg.window_secs);
        let elapsed = g.window.elapsed(now);
        let rate = f64::from(g.syns) / elapsed.max(1e-3);
        let explanation = format!(
            "{} SYNs in {elapsed:.3} s ({rate:.0}/s) from {} sources to {} destinations, {:.0}% half-open \
             (threshold {} SYNs from {} sources in {} s)",
            g.syns,
            g.sources.len(),
            g.dsts.len(),
            half_open * 100.0,
            cfg.spoofed_syn_packets,
            cfg.spoofed_sources,
            cfg.spoofed_window_secs
        );
        let evidence = json!({
            "dst": "many", "syns": g.syns, "acks": g.acks, "half_open_ratio": half_open,
            "distinct_sources": g.sources.len(), "distinct_destinations": g.dsts.len(),
            "elapsed_secs": elapsed, "rate_per_sec": rate, "window_secs": cfg.spoofed_window_secs,
            "threshold": cfg.spoofed_syn_packets, "source_threshold": cfg.spoofed_sources,
        });
        let what = "TCP SYN flood from spoofed sources toward many destinations";
        out.push(builtin::SYN_FLOOD.alert_described(a, what, explanation, evidence));
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a distinct field of the alert text or evidence, passed straight from the two callers' counters; a struct would only repackage them"
    )]
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
