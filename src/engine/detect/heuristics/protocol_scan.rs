//! IP protocol scans (`nmap -sO`): one source sending packets of many distinct IP protocol
//! numbers to one host. Two hosts that really talk use a handful (TCP, UDP, ICMP, perhaps
//! ESP, GRE or IGMP); a protocol scan walks through dozens to all 256.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by (source, destination), one alert per
//! pair per window (`[detector.scan] window_secs` and `protocols`). TCP and UDP are left out of
//! the count: they are nearly every packet, a lookup each would cost more than the rest of the
//! detector, and a protocol scan reaches its threshold on the other numbers alone.

use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{LimitsConfig, ScanConfig};
use super::super::table::{Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::record::Analyzed;

/// The protocol numbers one source used toward one host within the window.
struct Seen {
    window: Window,
    /// One bit per IP protocol number.
    protocols: [u64; 4],
    packets: u64,
}

impl Seen {
    fn new(now: Ts) -> Self {
        Seen {
            window: Window::new(now),
            protocols: [0; 4],
            packets: 0,
        }
    }

    /// Record `proto`; returns the number of distinct protocols so far.
    fn add(&mut self, proto: u8) -> usize {
        self.protocols[usize::from(proto >> 6)] |= 1 << (proto & 63);
        self.packets += 1;
        self.protocols.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Up to `n` of the protocol numbers seen, lowest first.
    fn sample(&self, n: usize) -> Vec<u8> {
        (0..=255u8)
            .filter(|&p| self.protocols[usize::from(p >> 6)] & (1 << (p & 63)) != 0)
            .take(n)
            .collect()
    }
}

pub struct ProtocolScanDetector {
    window_secs: u64,
    threshold: usize,
    pairs: Table<(IpAddr, IpAddr), Seen>,
}

impl ProtocolScanDetector {
    pub fn new(cfg: &ScanConfig, limits: &LimitsConfig) -> Self {
        ProtocolScanDetector {
            window_secs: cfg.window_secs,
            threshold: cfg.protocols,
            pairs: Table::new(limits.max_entries, cfg.window_secs),
        }
    }
}

impl StatefulDetector for ProtocolScanDetector {
    fn name(&self) -> &'static str {
        "protocol_scan"
    }

    fn observe(&mut self, a: &Analyzed, _flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some(ip) = a.decoded.ip else { return };
        if ip.proto == 6 || ip.proto == 17 {
            return;
        }
        // Multicast and broadcast destinations are protocol chatter (IGMP, OSPF, VRRP), never a
        // probe of one host.
        if ip.dst.is_multicast() || ip.dst == IpAddr::from([255, 255, 255, 255]) {
            return;
        }
        let now = a.frame.ts;
        let secs = self.window_secs;
        let st = self.pairs.entry((ip.src, ip.dst), now, || Seen::new(now));
        if st.window.roll(now, secs) {
            st.protocols = [0; 4];
            st.packets = 0;
        }
        let n = st.add(ip.proto);
        if st.window.alerted || n < self.threshold {
            return;
        }
        st.window.alerted = true;
        let elapsed = st.window.elapsed(now);
        let explanation = format!(
            "{} sent {n} distinct IP protocols other than TCP and UDP to {} ({} packets) in \
             {elapsed:.1} s (threshold {} protocols in {secs} s)",
            ip.src, ip.dst, st.packets, self.threshold
        );
        let evidence = json!({
            "src": ip.src.to_string(), "dst": ip.dst.to_string(), "distinct_protocols": n,
            "packets": st.packets, "sample_protocols": st.sample(16), "elapsed_secs": elapsed,
            "window_secs": secs, "threshold": self.threshold,
        });
        out.push(builtin::PROTOCOL_SCAN.alert(a, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("protocol_scan.tracked", self.pairs.len() as u64),
            ("protocol_scan.expired", self.pairs.expired()),
            ("protocol_scan.dropped", self.pairs.dropped()),
        ]
    }
}
