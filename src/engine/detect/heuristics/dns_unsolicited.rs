//! Unsolicited DNS answers at low volume: DNS responses (QR=1) from port 53 that open their UDP
//! flow — no query of the receiver came before them — arriving at one host. Someone is spraying
//! forged answers at it (cache poisoning attempts, a reflection probe, a misdirected resolver).
//! One such answer is usually a capture that began mid-conversation, so only
//! `[detector.dns_tunnel] unsolicited_answers` (5) of them within `window_secs` raise an alert,
//! and only at Low.
//!
//! A flood of them (DNS reflection) is the flood detector's: its `udp_flood` rule counts the
//! answers a host receives beyond those its own queries explain (`[detector.flood]
//! dns_reflection_packets`). This detector adds the low-volume case below that threshold.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by destination, one alert per
//! destination per window.

use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{DnsTunnelConfig, LimitsConfig};
use super::super::table::{capped_insert, new_set, Set, Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::packet::Transport;
use crate::engine::record::Analyzed;

/// Answering servers remembered per receiver; beyond this the count saturates.
const SOURCE_CAP: usize = 256;

struct Receiver {
    window: Window,
    answers: u32,
    sources: Set<IpAddr>,
}

pub struct DnsUnsolicitedDetector {
    window_secs: u64,
    threshold: u32,
    receivers: Table<IpAddr, Receiver>,
}

impl DnsUnsolicitedDetector {
    pub fn new(cfg: &DnsTunnelConfig, limits: &LimitsConfig) -> Self {
        DnsUnsolicitedDetector {
            window_secs: cfg.window_secs,
            threshold: cfg.unsolicited_answers,
            receivers: Table::new(limits.max_entries, cfg.window_secs),
        }
    }
}

impl StatefulDetector for DnsUnsolicitedDetector {
    fn name(&self) -> &'static str {
        "dns_unsolicited"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let (Some(ip), Some(dns)) = (a.decoded.ip.as_ref(), a.decoded.dns.as_deref()) else {
            return;
        };
        let Transport::Udp(udp) = &a.decoded.transport else {
            return;
        };
        if !dns.is_response || udp.src_port != 53 || !flow.is_some_and(|c| c.is_new) {
            return;
        }
        let now = a.frame.ts;
        let secs = self.window_secs;
        let r = self.receivers.entry(ip.dst, now, || Receiver {
            window: Window::new(now),
            answers: 0,
            sources: new_set(),
        });
        if r.window.roll(now, secs) {
            r.answers = 0;
            r.sources.clear();
        }
        r.answers = r.answers.saturating_add(1);
        let n = capped_insert(&mut r.sources, ip.src, SOURCE_CAP);
        if r.window.alerted || r.answers < self.threshold {
            return;
        }
        r.window.alerted = true;
        let elapsed = r.window.elapsed(now);
        let name = dns.questions.first().map_or("", |q| q.name.as_str());
        let explanation = format!(
            "{} received {} DNS answers from port 53 with no query of its own before them, from \
             {n} servers in {elapsed:.1} s (the last from {} for '{name}', id {}): forged answers \
             or answers meant for another host (threshold {} in {secs} s)",
            ip.dst, r.answers, ip.src, dns.id, self.threshold
        );
        let evidence = json!({
            "dst": ip.dst.to_string(), "src": ip.src.to_string(), "answers": r.answers,
            "distinct_sources": n, "qname": name, "dns_id": dns.id, "elapsed_secs": elapsed,
            "window_secs": secs, "threshold": self.threshold,
        });
        let description = format!("Unsolicited DNS answers to {}", ip.dst);
        out.push(builtin::DNS_UNSOLICITED.alert_described(a, &description, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("dns_unsolicited.tracked", self.receivers.len() as u64),
            ("dns_unsolicited.expired", self.receivers.expired()),
            ("dns_unsolicited.dropped", self.receivers.dropped()),
        ]
    }
}
