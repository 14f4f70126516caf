//! Thresholds and windows of the built-in detectors, with defaults an analyst can start from.
//!
//! Read once when the detectors are built (on the thread that builds the pipeline); every field
//! has a serde default so a config file may set only what it changes, and an unknown key is an
//! error (these structs are the `[detector.*]` sections of the config file). Windows are in
//! seconds of capture time.

use serde::{Deserialize, Serialize};

/// Every built-in detector's knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    pub anomaly: AnomalyConfig,
    pub scan: ScanConfig,
    pub brute_force: BruteForceConfig,
    pub flood: FloodConfig,
    pub dns_tunnel: DnsTunnelConfig,
    pub limits: LimitsConfig,
}

/// Protocol anomalies: one alert per (source, category) per window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    pub window_secs: u64,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig { window_secs: 60 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    pub window_secs: u64,
    /// Distinct ports one source probes on one host within `window_secs`.
    pub ports: usize,
    /// Distinct hosts one source probes on one port within `window_secs`.
    pub hosts: usize,
    pub slow_window_secs: u64,
    /// Distinct ports one source probes on one host within `slow_window_secs`.
    pub slow_ports: usize,
    /// Distinct IP protocol numbers other than TCP and UDP one source sends to one host
    /// within `window_secs`.
    pub protocols: usize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            window_secs: 60,
            ports: 20,
            hosts: 20,
            slow_window_secs: 900,
            slow_ports: 30,
            protocols: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BruteForceConfig {
    pub window_secs: u64,
    /// New connections from one source to one login service within the window.
    pub attempts: u32,
    /// Failed-login replies (FTP 530, SMTP 535) to one client within the window.
    pub failures: u32,
    /// The login services watched.
    pub ports: Vec<u16>,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            // hydra against a stock OpenSSH reconnects about 8 times a minute (sshd drops it
            // after 6 tries, hydra waits out its 32 s timeout); two minutes catches that, as
            // Emerging Threats' SSH rules do with their 120 s threshold.
            window_secs: 120,
            attempts: 10,
            failures: 5,
            ports: vec![
                21, 22, 23, 25, 110, 143, 465, 587, 993, 995, 1433, 3306, 3389, 5432, 5900,
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FloodConfig {
    pub window_secs: u64,
    /// SYNs toward one destination within the window.
    pub syn_packets: u32,
    /// Share of those SYNs never followed by a client ACK (0..1).
    pub half_open_ratio: f64,
    /// ICMP echo requests toward one destination within the window.
    pub icmp_packets: u32,
    /// UDP packets toward one destination within the window (answers to its own DNS queries
    /// not counted).
    pub udp_packets: u32,
    /// DNS answers and UDP fragments toward one destination, from many sources, beyond what its
    /// own queries explain: a DNS reflection flood (counted within the window).
    pub dns_reflection_packets: u32,
    /// Network-wide SYNs within `spoofed_window_secs` that, coming from at least
    /// `spoofed_sources` addresses toward as many destinations, mean a randomised spoofed flood.
    pub spoofed_syn_packets: u32,
    pub spoofed_sources: usize,
    pub spoofed_window_secs: u64,
    /// DHCP client requests from one hardware address within the window (a booting machine
    /// sends a handful).
    pub dhcp_requests_per_client: u32,
    /// DHCP client requests on the whole network within the window (starvation tools use a
    /// new hardware address for each).
    pub dhcp_requests: u32,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            window_secs: 10,
            syn_packets: 200,
            half_open_ratio: 0.8,
            icmp_packets: 100,
            udp_packets: 1000,
            dns_reflection_packets: 200,
            spoofed_syn_packets: 100,
            spoofed_sources: 50,
            spoofed_window_secs: 1,
            dhcp_requests_per_client: 20,
            dhcp_requests: 200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsTunnelConfig {
    pub window_secs: u64,
    /// A label longer than this is suspicious.
    pub long_label: usize,
    /// Shannon entropy (bits per character) above which a subdomain looks encoded.
    pub entropy: f64,
    /// Unique subdomains under one parent domain within the window.
    pub unique_subdomains: usize,
    /// Queries with a long or high-entropy subdomain under one parent domain within the window.
    pub suspicious_queries: u32,
    /// NULL or private-type queries (iodine's favourites; nothing else asks for them) under one
    /// parent domain within the window.
    pub null_queries: u32,
    /// TXT queries with distinct subdomains under one parent domain within the window.
    pub txt_queries: u32,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        DnsTunnelConfig {
            window_secs: 300,
            long_label: 40,
            entropy: 4.0,
            unique_subdomains: 30,
            suspicious_queries: 5,
            null_queries: 5,
            txt_queries: 10,
        }
    }
}

/// Memory bounds of per-source and per-destination state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Tracked keys per table (sources, pairs, destinations, domains).
    pub max_entries: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_entries: 65_536,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_config_keeps_other_defaults() {
        let c: DetectConfig = serde_json::from_str(r#"{"scan":{"ports":5}}"#).unwrap();
        assert_eq!(c.scan.ports, 5);
        assert_eq!(c.scan.hosts, 20);
        assert_eq!(c.flood, FloodConfig::default());
    }
}
