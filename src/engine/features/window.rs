//! Per-host window features: what one host did as a client within one window of capture time
//! (`[detector] feature_window_size` seconds) — connections, distinct destinations and ports,
//! bytes each way, failed connections, new destinations, protocol mix.
//!
//! Pure; filled on the aggregator thread as flows end, read when the window closes. Distinct
//! counts stop growing at `DISTINCT_CAP` (the table of one host stays small whatever it does).

use std::net::IpAddr;

use crate::engine::flow::{FlowRecord, FlowState};

/// Window feature names, in vector order.
pub const WINDOW_SCHEMA: [&str; 7] = [
    "connections",
    "distinct destinations",
    "distinct ports",
    "bytes out",
    "bytes in",
    "failed connection ratio",
    "new destinations",
];

pub const N_WINDOW: usize = WINDOW_SCHEMA.len();

/// Distinct destinations or ports counted per host per window, at most.
pub const DISTINCT_CAP: usize = 1024;

/// Index of each protocol in the mix: TCP, UDP, ICMP (v4 and v6), anything else.
pub fn proto_slot(ip_proto: u8) -> usize {
    match ip_proto {
        6 => 0,
        17 => 1,
        1 | 58 => 2,
        _ => 3,
    }
}

pub const PROTO_NAMES: [&str; 4] = ["TCP", "UDP", "ICMP", "other"];

/// One host's activity in the current window.
#[derive(Debug, Clone, Default)]
pub struct HostWindow {
    pub flows: u64,
    pub dsts: Vec<IpAddr>,
    pub ports: Vec<u16>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// TCP flows that never completed a handshake (no answer, or refused).
    pub failed: u64,
    pub tcp: u64,
    pub new_dsts: u64,
    pub proto: [u64; 4],
    /// The destination this host sent the most bytes to, and how many.
    pub top_dst: Option<(IpAddr, u64)>,
    /// Flows by hour of day (UTC) of their start.
    pub hours: [u32; 24],
}

impl HostWindow {
    /// Account a flow this host started; `new_dst` says whether its destination is one the
    /// host's profile has not seen.
    pub fn add(&mut self, r: &FlowRecord, new_dst: bool) {
        self.flows += 1;
        insert_capped(&mut self.dsts, r.dest_ip);
        if r.has_ports() {
            insert_capped(&mut self.ports, r.dest_port);
        }
        self.bytes_out += r.bytes_toserver;
        self.bytes_in += r.bytes_toclient;
        if r.tcp.is_some() {
            self.tcp += 1;
            if r.state == FlowState::New || r.pkts_toclient == 0 {
                self.failed += 1;
            }
        }
        self.new_dsts += u64::from(new_dst);
        self.proto[proto_slot(r.ip_proto)] += 1;
        if self.top_dst.is_none_or(|(_, b)| r.bytes_toserver > b) {
            self.top_dst = Some((r.dest_ip, r.bytes_toserver));
        }
        let hour = r.start.secs().rem_euclid(86_400) / 3600;
        self.hours[hour as usize] += 1;
    }

    /// The window's feature vector (see `WINDOW_SCHEMA`).
    pub fn features(&self) -> [f64; N_WINDOW] {
        let failed_ratio = if self.tcp == 0 {
            0.0
        } else {
            self.failed as f64 / self.tcp as f64
        };
        [
            self.flows as f64,
            self.dsts.len() as f64,
            self.ports.len() as f64,
            self.bytes_out as f64,
            self.bytes_in as f64,
            failed_ratio,
            self.new_dsts as f64,
        ]
    }
}

fn insert_capped<T: Ord + Copy>(set: &mut Vec<T>, v: T) {
    if let Err(at) = set.binary_search(&v) {
        if set.len() < DISTINCT_CAP {
            set.insert(at, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::testutil::flow;

    #[test]
    fn a_window_counts_what_the_host_did() {
        let mut w = HostWindow::default();
        w.add(
            &flow(
                [10, 0, 0, 1],
                [10, 0, 0, 2],
                80,
                3600,
                1.0,
                (5, 5),
                (500, 5000),
            ),
            false,
        );
        w.add(
            &flow(
                [10, 0, 0, 1],
                [10, 0, 0, 3],
                443,
                3601,
                1.0,
                (5, 5),
                (900, 100),
            ),
            true,
        );
        let mut refused = flow([10, 0, 0, 1], [10, 0, 0, 3], 22, 3602, 0.0, (1, 0), (60, 0));
        refused.state = FlowState::New;
        w.add(&refused, false);
        let f = w.features();
        assert_eq!(f[0..5], [3.0, 2.0, 3.0, 1460.0, 5100.0]);
        assert!((f[5] - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(f[6], 1.0);
        assert_eq!(
            w.top_dst.map(|(ip, b)| (ip.to_string(), b)),
            Some(("10.0.0.3".into(), 900))
        );
        assert_eq!(w.hours[1], 3);
    }

    #[test]
    fn distinct_sets_stop_at_the_cap() {
        let mut w = HostWindow::default();
        for p in 0..3000u16 {
            w.add(
                &flow([10, 0, 0, 1], [10, 0, 0, 2], p, 0, 0.0, (1, 0), (60, 0)),
                false,
            );
        }
        assert_eq!(w.ports.len(), DISTINCT_CAP);
        assert_eq!(w.flows, 3000);
    }
}
