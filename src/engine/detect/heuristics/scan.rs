//! Port scans and host sweeps: one source probing many ports on one host (fast and slow), or one
//! port on many hosts, over TCP and UDP, IPv4 and IPv6.
//!
//! A `StatefulDetector` on the aggregator thread. Only probes count — SYN without ACK, lone
//! FIN/NULL/Xmas, an ACK that opens no known connection, UDP opening a new flow — so a client
//! talking to one server over many connections stays quiet.

use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{LimitsConfig, ScanConfig};
use super::super::small_set::SmallSet;
use super::super::table::{Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::packet::{TcpFlags, Transport};
use crate::engine::record::Analyzed;

/// Distinct ports or hosts remembered per key; enough to pass any sane threshold.
const SET_CAP: usize = 4096;

/// One probe: who, toward which host and port, over which protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub dport: u16,
}

/// Whether the packet is a scan probe.
pub fn probe(a: &Analyzed, flow: Option<&FlowCtx>) -> Option<Probe> {
    let ip = a.decoded.ip.as_ref()?;
    let dport = match &a.decoded.transport {
        Transport::Tcp(t) => {
            let f = t.flags.classic();
            let syn = f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::SYN;
            let stealth = f & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == 0;
            let lone_ack = f == TcpFlags::ACK && flow.is_some_and(|c| c.is_new);
            if !(syn || stealth || lone_ack) {
                return None;
            }
            t.dst_port
        }
        Transport::Udp(u) => {
            // A datagram from a service port to an ephemeral port is an answer (or reflected
            // backscatter), never a probe.
            let answer = u.src_port < 1024 && u.dst_port >= 1024;
            if answer || flow.is_some_and(|c| !c.is_new) {
                return None;
            }
            u.dst_port
        }
        _ => return None,
    };
    Some(Probe {
        src: ip.src,
        dst: ip.dst,
        proto: ip.proto,
        dport,
    })
}

struct Ports {
    window: Window,
    ports: SmallSet<u32>,
    probes: u64,
    /// The fast detector already alerted on this pair (only used by the slow table).
    fast_alerted: bool,
}

impl Ports {
    fn new(now: crate::engine::frame::Ts) -> Self {
        Ports {
            window: Window::new(now),
            ports: SmallSet::new(),
            probes: 0,
            fast_alerted: false,
        }
    }
}

struct Hosts {
    window: Window,
    hosts: SmallSet<IpAddr>,
}

/// Vertical scans, slow scans and host sweeps.
pub struct ScanDetector {
    cfg: ScanConfig,
    fast: Table<(IpAddr, IpAddr), Ports>,
    slow: Table<(IpAddr, IpAddr), Ports>,
    sweep: Table<(IpAddr, u8, u16), Hosts>,
}

impl ScanDetector {
    pub fn new(cfg: &ScanConfig, limits: &LimitsConfig) -> Self {
        ScanDetector {
            cfg: cfg.clone(),
            fast: Table::new(limits.max_entries, cfg.window_secs),
            slow: Table::new(limits.max_entries, cfg.slow_window_secs),
            sweep: Table::new(limits.max_entries, cfg.window_secs),
        }
    }

    fn vertical(&mut self, a: &Analyzed, p: Probe, out: &mut Vec<Alert>) {
        let now = a.frame.ts;
        let port = (u32::from(p.proto) << 16) | u32::from(p.dport);
        let st = self.fast.entry((p.src, p.dst), now, || Ports::new(now));
        if st.window.roll(now, self.cfg.window_secs) {
            st.ports.clear();
            st.probes = 0;
        }
        st.probes += 1;
        let n = st.ports.insert_capped(port, SET_CAP);
        let fired = !st.window.alerted && n >= self.cfg.ports;
        if fired {
            st.window.alerted = true;
            let elapsed = st.window.elapsed(now);
            out.push(scan_alert(
                a,
                p,
                n,
                st,
                self.cfg.window_secs,
                self.cfg.ports,
                elapsed,
                "Port scan",
            ));
        }
        let slow_secs = self.cfg.slow_window_secs;
        let st = self.slow.entry((p.src, p.dst), now, || Ports::new(now));
        if st.window.roll(now, slow_secs) {
            st.ports.clear();
            st.probes = 0;
            st.fast_alerted = false;
        }
        st.probes += 1;
        st.fast_alerted |= fired;
        let n = st.ports.insert_capped(port, SET_CAP);
        if !st.window.alerted && !st.fast_alerted && n >= self.cfg.slow_ports {
            st.window.alerted = true;
            let elapsed = st.window.elapsed(now);
            out.push(scan_alert(
                a,
                p,
                n,
                st,
                slow_secs,
                self.cfg.slow_ports,
                elapsed,
                "Slow port scan",
            ));
        }
    }

    fn horizontal(&mut self, a: &Analyzed, p: Probe, out: &mut Vec<Alert>) {
        let now = a.frame.ts;
        let secs = self.cfg.window_secs;
        let st = self.sweep.entry((p.src, p.proto, p.dport), now, || Hosts {
            window: Window::new(now),
            hosts: SmallSet::new(),
        });
        if st.window.roll(now, secs) {
            st.hosts.clear();
        }
        let n = st.hosts.insert_capped(p.dst, SET_CAP);
        if st.window.alerted || n < self.cfg.hosts {
            return;
        }
        st.window.alerted = true;
        let elapsed = st.window.elapsed(now);
        let proto = proto_name(p.proto);
        let explanation = format!(
            "{} probed {proto} port {} on {n} distinct hosts in {elapsed:.1} s (threshold {} hosts in {secs} s)",
            p.src, p.dport, self.cfg.hosts
        );
        let evidence = json!({
            "src": p.src.to_string(), "proto": proto, "dst_port": p.dport, "distinct_hosts": n,
            "elapsed_secs": elapsed, "window_secs": secs, "threshold": self.cfg.hosts,
        });
        out.push(builtin::HOST_SWEEP.alert(a, explanation, evidence));
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a distinct field of the alert text or evidence, passed straight from the two callers' counters; a struct would only repackage them"
)]
fn scan_alert(
    a: &Analyzed,
    p: Probe,
    n: usize,
    st: &Ports,
    secs: u64,
    threshold: usize,
    elapsed: f64,
    what: &str,
) -> Alert {
    let mut sample: Vec<u16> = st.ports.iter().map(|&x| (x & 0xffff) as u16).collect();
    sample.sort_unstable();
    sample.truncate(16);
    let explanation = format!(
        "{} probed {n} distinct ports on {} ({} probes) in {elapsed:.1} s (threshold {threshold} ports in {secs} s)",
        p.src, p.dst, st.probes
    );
    let evidence = json!({
        "src": p.src.to_string(), "dst": p.dst.to_string(), "distinct_ports": n, "probes": st.probes,
        "elapsed_secs": elapsed, "window_secs": secs, "threshold": threshold, "sample_ports": sample,
        "proto": proto_name(p.proto),
    });
    builtin::PORT_SCAN.alert_described(a, what, explanation, evidence)
}

pub(crate) fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "TCP",
        17 => "UDP",
        _ => "IP",
    }
}

impl StatefulDetector for ScanDetector {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Some(p) = probe(a, flow) else { return };
        self.vertical(a, p, out);
        self.horizontal(a, p, out);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            (
                "scan.tracked",
                (self.fast.len() + self.slow.len() + self.sweep.len()) as u64,
            ),
            (
                "scan.expired",
                self.fast.expired() + self.slow.expired() + self.sweep.expired(),
            ),
            (
                "scan.dropped",
                self.fast.dropped() + self.slow.dropped() + self.sweep.dropped(),
            ),
        ]
    }
}
