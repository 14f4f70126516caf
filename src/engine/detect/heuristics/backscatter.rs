//! Reflection and backscatter: SYN-ACKs or RSTs no SYN of the receiver asked for, arriving at one
//! host from many sources. Either someone sends SYNs to many servers with the host's address as
//! source (a TCP reflection flood: the servers' answers land on it), or the host's address was
//! spoofed in a flood of others and it sees their backscatter. The packets' sources are the
//! reflectors, not the attacker: the alert names the destination as the victim.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by destination; a packet is unsolicited
//! when it opens a flow (the flow table saw no SYN before it). One alert per victim per window
//! (`[detector.flood] window_secs`, `backscatter_packets`, `backscatter_sources`).

use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{FloodConfig, LimitsConfig};
use super::super::table::{capped_insert, new_set, Set, Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::packet::TcpFlags;
use crate::engine::record::Analyzed;

/// Sources remembered per victim; beyond this the count saturates.
const SOURCE_CAP: usize = 4096;

struct Victim {
    window: Window,
    syn_acks: u32,
    resets: u32,
    sources: Set<IpAddr>,
}

pub struct BackscatterDetector {
    window_secs: u64,
    packets: u32,
    sources: usize,
    victims: Table<IpAddr, Victim>,
}

impl BackscatterDetector {
    pub fn new(cfg: &FloodConfig, limits: &LimitsConfig) -> Self {
        BackscatterDetector {
            window_secs: cfg.window_secs,
            packets: cfg.backscatter_packets,
            sources: cfg.backscatter_sources,
            victims: Table::new(limits.max_entries, cfg.window_secs),
        }
    }
}

impl StatefulDetector for BackscatterDetector {
    fn name(&self) -> &'static str {
        "backscatter"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let (Some(ip), Some(tcp)) = (a.decoded.ip.as_ref(), a.decoded.transport.tcp()) else {
            return;
        };
        // Only a packet that opens a flow is unsolicited: an answer to a SYN the receiver sent
        // belongs to the flow that SYN opened.
        if !flow.is_some_and(|c| c.is_new) {
            return;
        }
        let f = tcp.flags.classic();
        let syn_ack =
            f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::SYN | TcpFlags::ACK;
        let reset = f & (TcpFlags::SYN | TcpFlags::RST) == TcpFlags::RST;
        if !(syn_ack || reset) {
            return;
        }
        let now = a.frame.ts;
        let secs = self.window_secs;
        let v = self.victims.entry(ip.dst, now, || Victim {
            window: Window::new(now),
            syn_acks: 0,
            resets: 0,
            sources: new_set(),
        });
        if v.window.roll(now, secs) {
            v.syn_acks = 0;
            v.resets = 0;
            v.sources.clear();
        }
        if syn_ack {
            v.syn_acks = v.syn_acks.saturating_add(1);
        } else {
            v.resets = v.resets.saturating_add(1);
        }
        let n = capped_insert(&mut v.sources, ip.src, SOURCE_CAP);
        let total = v.syn_acks.saturating_add(v.resets);
        if v.window.alerted || total < self.packets || n < self.sources {
            return;
        }
        v.window.alerted = true;
        let elapsed = v.window.elapsed(now);
        let victim = ip.dst;
        let explanation = format!(
            "{victim} (the victim) received {} unsolicited SYN-ACKs and {} RSTs from {n} distinct \
             sources in {elapsed:.1} s, with no SYN of its own before them: a TCP reflection flood \
             aimed at it or backscatter of a flood spoofing its address; the source shown ({}) is \
             one reflector, evidence rather than the attacker (threshold {} packets from {} \
             sources in {secs} s)",
            v.syn_acks, v.resets, ip.src, self.packets, self.sources
        );
        let evidence = json!({
            "victim": victim.to_string(), "dst": victim.to_string(), "syn_acks": v.syn_acks,
            "resets": v.resets, "distinct_sources": n, "sample_reflector": ip.src.to_string(),
            "source_is_attacker": false, "elapsed_secs": elapsed, "window_secs": secs,
            "threshold": self.packets, "source_threshold": self.sources,
        });
        let description = format!("Reflection or backscatter toward {victim}");
        out.push(builtin::BACKSCATTER.alert_described(a, &description, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("backscatter.tracked", self.victims.len() as u64),
            ("backscatter.expired", self.victims.expired()),
            ("backscatter.dropped", self.victims.dropped()),
        ]
    }
}
