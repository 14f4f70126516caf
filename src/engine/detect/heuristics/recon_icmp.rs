//! ICMP reconnaissance: timestamp (13), information (15) and address-mask (17) requests. No
//! ordinary host sends them; scanners do (`nmap -PP`/`-PM`, `hping3 --icmp-ts`/`--icmp-addr`)
//! to find live hosts behind filters that drop echo, to read a host's clock or its netmask.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by source, one alert per source per
//! window (`[detector.scan] window_secs`) naming the request types seen so far.

use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{LimitsConfig, ScanConfig};
use super::super::table::{Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::packet::Transport;
use crate::engine::record::Analyzed;

/// The name of an ICMPv4 reconnaissance request type, `None` for any other type.
pub fn recon_type(icmp_type: u8) -> Option<&'static str> {
    match icmp_type {
        13 => Some("timestamp request"),
        15 => Some("information request"),
        17 => Some("address-mask request"),
        _ => None,
    }
}

struct Source {
    window: Window,
    requests: u64,
    /// The request types seen, by type number.
    types: Vec<u8>,
}

pub struct ReconIcmpDetector {
    window_secs: u64,
    sources: Table<IpAddr, Source>,
}

impl ReconIcmpDetector {
    pub fn new(cfg: &ScanConfig, limits: &LimitsConfig) -> Self {
        ReconIcmpDetector {
            window_secs: cfg.window_secs,
            sources: Table::new(limits.max_entries, cfg.window_secs),
        }
    }
}

impl StatefulDetector for ReconIcmpDetector {
    fn name(&self) -> &'static str {
        "recon_icmp"
    }

    fn observe(&mut self, a: &Analyzed, _flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let (Some(ip), Transport::Icmp(icmp)) = (a.decoded.ip.as_ref(), &a.decoded.transport)
        else {
            return;
        };
        let Some(what) = recon_type(icmp.icmp_type) else {
            return;
        };
        let now: Ts = a.frame.ts;
        let secs = self.window_secs;
        let st = self.sources.entry(ip.src, now, || Source {
            window: Window::new(now),
            requests: 0,
            types: Vec::new(),
        });
        if st.window.roll(now, secs) {
            st.requests = 0;
            st.types.clear();
        }
        st.requests += 1;
        if !st.types.contains(&icmp.icmp_type) {
            st.types.push(icmp.icmp_type);
        }
        if st.window.alerted {
            return;
        }
        st.window.alerted = true;
        let names: Vec<&str> = st.types.iter().filter_map(|&t| recon_type(t)).collect();
        let explanation = format!(
            "{} sent an ICMP {what} (type {}) to {}: hosts do not send these, scanners probing \
             for live hosts, clocks or netmasks do (one alert per source in {secs} s)",
            ip.src, icmp.icmp_type, ip.dst
        );
        let evidence = json!({
            "src": ip.src.to_string(), "dst": ip.dst.to_string(), "icmp_type": icmp.icmp_type,
            "icmp_code": icmp.code, "request": what, "types_seen": names,
            "requests": st.requests, "window_secs": secs,
        });
        let description = format!("ICMP reconnaissance: {what}");
        out.push(builtin::RECON_ICMP.alert_described(a, &description, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("recon_icmp.tracked", self.sources.len() as u64),
            ("recon_icmp.expired", self.sources.expired()),
            ("recon_icmp.dropped", self.sources.dropped()),
        ]
    }
}
