//! Active OS fingerprinting (`nmap -O`): the probe set nmap's second-generation OS detection
//! sends to one host. Each probe is a packet no ordinary stack sends: the six SYNs of the
//! sequence test with windows 1, 63, 4, 4, 16 and 512 and a timestamp option (SEQ), a SYN with
//! ECE and CWR and window 3 (ECN), a NULL packet with window 128 (T2), SYN|FIN|URG|PSH with
//! window 256 (T3), an ACK opening a flow with window 1024 (T4), a SYN with window 31337 (T5),
//! an ACK opening a flow with window 32768 (T6), FIN|PSH|URG with window 65535 (T7), an ICMP echo
//! request with a non-zero code (IE) and a UDP datagram of 300 `C`s to a closed port (U1).
//!
//! One probe kind alone may be a coincidence; a source that sends at least `MIN_KINDS` distinct
//! kinds to one destination is fingerprinting it. A `StatefulDetector` on the aggregator thread,
//! keyed by (source, destination), one alert per pair per window (`[detector.scan]
//! window_secs`) naming the probe kinds seen.

use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{LimitsConfig, ScanConfig};
use super::super::table::{Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::packet::{TcpFlags, TcpInfo, Transport};
use crate::engine::record::Analyzed;

/// Distinct probe kinds from one source to one destination that make an alert.
pub const MIN_KINDS: usize = 3;

/// The probe kinds, in nmap's names, with what identifies each.
pub const KINDS: [(&str, &str); 10] = [
    ("SEQ", "SYN with window 1, 4, 16, 63 or 512 and a timestamp"),
    ("ECN", "SYN with ECE and CWR, window 3"),
    ("T2", "no flags, window 128"),
    ("T3", "SYN|FIN|URG|PSH, window 256"),
    ("T4", "ACK opening a flow, window 1024"),
    ("T5", "SYN, window 31337"),
    ("T6", "ACK opening a flow, window 32768"),
    ("T7", "FIN|PSH|URG, window 65535"),
    ("IE", "ICMP echo request with a non-zero code"),
    ("U1", "UDP datagram of 300 'C' bytes"),
];

const F: u16 = TcpFlags::FIN;
const S: u16 = TcpFlags::SYN;
const P: u16 = TcpFlags::PSH;
const A: u16 = TcpFlags::ACK;
const U: u16 = TcpFlags::URG;
const ECN_BITS: u16 = TcpFlags::ECE | TcpFlags::CWR;

/// The index in `KINDS` of a TCP probe; `opens_flow`: no packet of its flow came before.
fn tcp_kind(t: &TcpInfo, opens_flow: bool) -> Option<usize> {
    let classic = t.flags.classic();
    let ecn = t.flags.0 & ECN_BITS;
    let w = t.window;
    match (classic, ecn, w) {
        (S, ECN_BITS, 3) => Some(1),
        (S, 0, 1 | 4 | 16 | 63 | 512) if t.timestamps => Some(0),
        (0, 0, 128) => Some(2),
        (x, 0, 256) if x == S | F | U | P => Some(3),
        (A, 0, 1024) if opens_flow => Some(4),
        (S, 0, 31337) => Some(5),
        (A, 0, 32768) if opens_flow => Some(6),
        (x, 0, 65535) if x == F | P | U => Some(7),
        _ => None,
    }
}

/// The index in `KINDS` of the packet's probe kind, `None` for anything else.
pub fn probe_kind(a: &Analyzed, flow: Option<&FlowCtx>) -> Option<usize> {
    let opens_flow = flow.is_none_or(|c| c.is_new);
    match &a.decoded.transport {
        Transport::Tcp(t) => tcp_kind(t, opens_flow),
        Transport::Icmp(i) if i.icmp_type == 8 && i.code != 0 => Some(8),
        Transport::Udp(_) => {
            let payload = a.decoded.payload(&a.frame.data);
            let total = a.decoded.ip.as_ref().map_or(0, |ip| ip.total_len);
            let cs = payload.len() >= 8 && payload.iter().all(|&b| b == b'C');
            (cs && total >= 300).then_some(9)
        }
        _ => None,
    }
}

struct Pair {
    window: Window,
    /// Bit `i` set: probe kind `KINDS[i]` was seen.
    kinds: u16,
    probes: u64,
}

pub struct OsFingerprintDetector {
    window_secs: u64,
    pairs: Table<(IpAddr, IpAddr), Pair>,
}

impl OsFingerprintDetector {
    pub fn new(cfg: &ScanConfig, limits: &LimitsConfig) -> Self {
        OsFingerprintDetector {
            window_secs: cfg.window_secs,
            pairs: Table::new(limits.max_entries, cfg.window_secs),
        }
    }
}

/// The names of the kinds whose bits are set in `kinds`.
fn names(kinds: u16) -> Vec<&'static str> {
    KINDS
        .iter()
        .enumerate()
        .filter(|(i, _)| kinds & (1 << i) != 0)
        .map(|(_, (name, _))| *name)
        .collect()
}

impl StatefulDetector for OsFingerprintDetector {
    fn name(&self) -> &'static str {
        "os_fingerprint"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some(ip) = a.decoded.ip.as_ref() else {
            return;
        };
        let Some(kind) = probe_kind(a, flow) else {
            return;
        };
        let now = a.frame.ts;
        let secs = self.window_secs;
        let st = self.pairs.entry((ip.src, ip.dst), now, || Pair {
            window: Window::new(now),
            kinds: 0,
            probes: 0,
        });
        if st.window.roll(now, secs) {
            st.kinds = 0;
            st.probes = 0;
        }
        st.kinds |= 1 << kind;
        st.probes += 1;
        let seen = names(st.kinds);
        if st.window.alerted || seen.len() < MIN_KINDS {
            return;
        }
        st.window.alerted = true;
        let detail: Vec<String> = KINDS
            .iter()
            .enumerate()
            .filter(|(i, _)| st.kinds & (1 << i) != 0)
            .map(|(_, (name, what))| format!("{name} ({what})"))
            .collect();
        let list = seen.join(", ");
        let explanation = format!(
            "{} sent {} OS-detection probes of {} kinds to {}: {}; no ordinary stack sends \
             these, nmap -O does to read how the host answers (one alert per pair in {secs} s, \
             from {MIN_KINDS} kinds)",
            ip.src,
            st.probes,
            seen.len(),
            ip.dst,
            detail.join(", ")
        );
        let evidence = json!({
            "src": ip.src.to_string(), "dst": ip.dst.to_string(), "probe_kinds": seen,
            "probes": st.probes, "window_secs": secs, "min_kinds": MIN_KINDS,
        });
        let description = format!("OS fingerprinting of {}: probes {list}", ip.dst);
        out.push(builtin::OS_FINGERPRINT.alert_described(a, &description, explanation, evidence));
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("os_fingerprint.tracked", self.pairs.len() as u64),
            ("os_fingerprint.expired", self.pairs.expired()),
            ("os_fingerprint.dropped", self.pairs.dropped()),
        ]
    }
}
