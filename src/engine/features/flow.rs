//! Per-flow features: the numbers the Isolation Forest and the classifier read when a flow
//! ends (duration, packets and bytes each way, size and gap spread, TCP flags, handshake,
//! port class, protocol, first-payload entropy).
//!
//! Pure; computed on the aggregator thread from a `FlowRecord`. Heavy-tailed counts are taken
//! as `ln(1 + x)` so that one huge flow does not flatten every split. `SCHEMA` names the
//! features in order; model files carry its hash and refuse a model built on another schema.

use crate::engine::flow::{FlowRecord, FlowState};

/// Feature names, in vector order.
pub const SCHEMA: [&str; 20] = [
    "duration",
    "packets out",
    "packets in",
    "bytes out",
    "bytes in",
    "mean packet size",
    "packet size spread",
    "mean gap",
    "gap spread",
    "SYN packets",
    "FIN packets",
    "RST packets",
    "PSH packets",
    "handshake completed",
    "service port class",
    "protocol",
    "payload entropy",
    "DNS name length",
    "DNS name labels",
    "DNS name entropy",
];

/// How many features a flow has.
pub const N_FEATURES: usize = SCHEMA.len();

/// One flow's feature vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowFeatures(pub [f64; N_FEATURES]);

/// A hash of the schema (FNV-1a over the names), stored in model files.
pub fn schema_hash() -> u64 {
    names_hash(&SCHEMA)
}

/// FNV-1a over `names`, each ended by a zero byte: the hash a model file keeps of the feature
/// schema it was built on.
pub fn names_hash(names: &[&str]) -> u64 {
    fnv1a(
        names
            .iter()
            .flat_map(|n| n.bytes().chain(std::iter::once(0))),
    )
}

/// FNV-1a (64-bit) over `bytes`.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The class of a service port: 0 well-known (below 1024), 1 registered, 2 dynamic, 3 none.
pub fn port_class(port: u16, has_ports: bool) -> f64 {
    match port {
        _ if !has_ports => 3.0,
        0..=1023 => 0.0,
        1024..=49151 => 1.0,
        _ => 2.0,
    }
}

impl FlowFeatures {
    pub fn of(r: &FlowRecord) -> FlowFeatures {
        let pkts = r.pkts().max(1) as f64;
        let bytes = (r.bytes_toserver + r.bytes_toclient) as f64;
        let mean_size = bytes / pkts;
        let size_var = (r.shape.size_sq / pkts - mean_size * mean_size).max(0.0);
        let gaps = (r.pkts().saturating_sub(1)).max(1) as f64;
        let mean_gap = r.shape.gap_sum / gaps;
        let gap_var = (r.shape.gap_sq / gaps - mean_gap * mean_gap).max(0.0);
        let duration = r.end.since(r.start) as f64 / 1e9;
        let handshake = match (r.tcp.is_some(), r.state) {
            (_, FlowState::Established | FlowState::Closed) if r.pkts_toclient > 0 => 1.0,
            _ => 0.0,
        };
        let ln = |x: f64| x.ln_1p();
        // Zero for flows that carried no DNS name.
        let dns = r.shape.dns_name.unwrap_or_default();
        FlowFeatures([
            ln(duration),
            ln(r.pkts_toserver as f64),
            ln(r.pkts_toclient as f64),
            ln(r.bytes_toserver as f64),
            ln(r.bytes_toclient as f64),
            ln(mean_size),
            ln(size_var.sqrt()),
            ln(mean_gap),
            ln(gap_var.sqrt()),
            ln(f64::from(r.shape.syn)),
            ln(f64::from(r.shape.fin)),
            ln(f64::from(r.shape.rst)),
            ln(f64::from(r.shape.psh)),
            handshake,
            port_class(r.dest_port, r.has_ports()),
            f64::from(r.ip_proto),
            f64::from(r.shape.entropy.unwrap_or(0.0)),
            ln(f64::from(dns.len)),
            f64::from(dns.labels),
            f64::from(dns.entropy),
        ])
    }

    /// A feature's value as a person reads it (the inverse of the log transform).
    pub fn readable(&self, i: usize) -> String {
        let v = self.0.get(i).copied().unwrap_or(0.0);
        match i {
            0 | 7 | 8 => format!("{:.3} s", v.exp_m1()),
            3 | 4 => human_bytes(v.exp_m1()),
            1 | 2 | 9..=12 => format!("{:.0}", v.exp_m1()),
            5 | 6 => format!("{:.0} B", v.exp_m1()),
            13 => if v > 0.5 { "yes" } else { "no" }.to_string(),
            14 => ["well-known", "registered", "dynamic", "none"]
                .get(v as usize)
                .copied()
                .unwrap_or("none")
                .to_string(),
            15 => format!("{v:.0}"),
            16 => format!("{v:.2} bits/byte"),
            17 => format!("{:.0} characters", v.exp_m1()),
            18 => format!("{v:.0}"),
            _ => format!("{v:.2} bits/character"),
        }
    }
}

/// `n` bytes with a binary unit (`48.0 MB`), as the explanations print volumes.
pub fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n.max(0.0);
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::testutil::flow;

    #[test]
    fn features_of_a_web_flow() {
        let r = flow(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            80,
            0,
            2.0,
            (5, 4),
            (600, 4000),
        );
        let f = FlowFeatures::of(&r);
        assert!((f.0[0] - 2f64.ln_1p()).abs() < 1e-9);
        assert!((f.0[3] - 600f64.ln_1p()).abs() < 1e-9);
        assert_eq!(f.0[13], 1.0);
        assert_eq!(f.0[14], 0.0);
        assert_eq!(f.0[15], 6.0);
        assert_eq!(f.readable(3), "600 B");
        assert_eq!(f.readable(4), "3.9 KB");
        // No DNS name: the DNS features are zero.
        assert_eq!(&f.0[17..20], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_tunnel_name_is_longer_and_more_random_than_an_ordinary_one() {
        use crate::engine::flow::DnsName;
        let dns_flow = |name: &str| {
            let mut r = flow(
                [10, 0, 0, 1],
                [10, 0, 0, 53],
                53,
                0,
                0.01,
                (1, 1),
                (70, 120),
            );
            r.shape.dns_name = Some(DnsName::of(name));
            FlowFeatures::of(&r)
        };
        let plain = dns_flow("www.example.com.");
        let tunnel = dns_flow("mzxw6ytboi2dsnrsgq4dsmjvgu2tsnbrgq3dqnzy.t.example.com");
        assert_eq!(plain.readable(17), "15 characters");
        assert_eq!(plain.0[18], 3.0);
        assert_eq!(tunnel.0[18], 4.0);
        assert!(tunnel.0[17] > plain.0[17] + 1.0);
        assert!(
            tunnel.0[19] > plain.0[19] + 0.5,
            "{} vs {}",
            tunnel.0[19],
            plain.0[19]
        );
        assert!(tunnel.readable(19).ends_with("bits/character"));
    }

    #[test]
    fn schema_hash_is_stable() {
        assert_eq!(schema_hash(), schema_hash());
        assert_ne!(schema_hash(), 0);
    }

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(48.0 * 1024.0 * 1024.0), "48.0 MB");
    }
}
