//! Protocol anomalies: TCP flag combinations no conforming stack sends (Xmas, NULL, lone FIN
//! outside a connection, SYN+FIN, SYN+RST and friends) and LAND packets.
//!
//! A `StatefulDetector` on the aggregator thread: a scan sends thousands of such packets, so each
//! (source, category) raises one alert per window of capture time and counts the rest.

use std::net::IpAddr;

use serde_json::json;

use super::builtin::{self, Builtin};
use super::config::{AnomalyConfig, LimitsConfig};
use super::table::{Table, Window};
use super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::packet::{TcpFlags, TcpInfo};
use crate::engine::record::Analyzed;

const F: u16 = TcpFlags::FIN;
const S: u16 = TcpFlags::SYN;
const R: u16 = TcpFlags::RST;
const P: u16 = TcpFlags::PSH;
const A: u16 = TcpFlags::ACK;
const U: u16 = TcpFlags::URG;

/// Which anomaly, if any, a TCP header is. `flow` tells a lone FIN inside a connection (a broken
/// stack, not a probe) from one outside any.
pub fn classify(tcp: &TcpInfo, same_endpoints: bool, flow: Option<&FlowCtx>) -> Option<Builtin> {
    if same_endpoints {
        return Some(builtin::LAND);
    }
    let f = tcp.flags.classic();
    let has = |bits: u16| f & bits == bits;
    if f == 0 {
        return Some(builtin::NULL_SCAN);
    }
    if f == (F | S | R | P | A | U) || (has(F | P | U) && f & (S | A) == 0) {
        return Some(builtin::XMAS_SCAN);
    }
    if has(S | F) {
        return Some(builtin::SYN_FIN);
    }
    if has(S | R) || (f & (A | S) == 0 && f & (P | U) != 0) {
        return Some(builtin::INVALID_FLAGS);
    }
    if f == F && flow.is_none_or(|c| !c.established) {
        return Some(builtin::FIN_SCAN);
    }
    None
}

struct Suppressed {
    window: Window,
    /// Packets of this category from this source in the current window, the alerted one included.
    packets: u64,
}

/// Flag-combination and LAND anomalies with per-(source, category) suppression.
pub struct AnomalyDetector {
    cfg: AnomalyConfig,
    seen: Table<(IpAddr, u64), Suppressed>,
}

impl AnomalyDetector {
    pub fn new(cfg: &AnomalyConfig, limits: &LimitsConfig) -> Self {
        AnomalyDetector {
            cfg: cfg.clone(),
            seen: Table::new(limits.max_entries, cfg.window_secs),
        }
    }
}

impl StatefulDetector for AnomalyDetector {
    fn name(&self) -> &'static str {
        "anomaly"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let (Some(ip), Some(tcp)) = (a.decoded.ip.as_ref(), a.decoded.transport.tcp()) else {
            return;
        };
        let land = ip.src == ip.dst && tcp.src_port == tcp.dst_port;
        let Some(rule) = classify(tcp, land, flow) else {
            return;
        };
        let now = a.frame.ts;
        let secs = self.cfg.window_secs;
        let st = self.seen.entry((ip.src, rule.id), now, || Suppressed {
            window: Window::new(now),
            packets: 0,
        });
        let mut previous = 0;
        if st.window.roll(now, secs) {
            previous = st.packets;
            st.packets = 0;
        }
        st.packets += 1;
        if st.window.alerted {
            return;
        }
        st.window.alerted = true;
        let explanation = format!(
            "TCP flags {} from {}:{} to {}:{}; first of its kind from this source in a {secs} s window{}",
            tcp.flags,
            ip.src,
            tcp.src_port,
            ip.dst,
            tcp.dst_port,
            if previous > 0 { format!(" ({previous} packets in the previous window)") } else { String::new() }
        );
        let evidence = json!({
            "flags": tcp.flags.to_string(),
            "flags_hex": format!("0x{:03x}", tcp.flags.0),
            "src": ip.src.to_string(),
            "dst": ip.dst.to_string(),
            "src_port": tcp.src_port,
            "dst_port": tcp.dst_port,
            "window_secs": secs,
            "previous_window_packets": previous,
        });
        out.push(rule.alert(a, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("anomaly.tracked", self.seen.len() as u64),
            ("anomaly.expired", self.seen.expired()),
            ("anomaly.dropped", self.seen.dropped()),
        ]
    }
}
