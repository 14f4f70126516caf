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
    pub baseline: BaselineConfig,
    pub beaconing: BeaconConfig,
    pub isolation_forest: ForestConfig,
    pub dbscan: DbscanConfig,
    pub stream: StreamConfig,
    /// The `[detector]` keys the learning detectors share (not a section of its own).
    #[serde(skip)]
    pub learn: LearnParams,
}

/// `[detector]` keys of the learning detectors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnParams {
    /// z-score above which a feature is anomalous (`anomaly_threshold`).
    pub anomaly_threshold: f64,
    /// Seconds of capture time per host window (`feature_window_size`).
    pub window_secs: u64,
    /// Seconds of capture time between model refreshes (`model_update_interval`).
    pub update_secs: u64,
    /// Least classifier probability that raises an alert (`confidence_threshold`).
    pub confidence: f64,
}

impl Default for LearnParams {
    fn default() -> Self {
        LearnParams {
            anomaly_threshold: 4.0,
            window_secs: 60,
            update_secs: 300,
            confidence: 0.8,
        }
    }
}

/// `[detector.stream]`: TCP stream reassembly, and the payload signatures run across segment
/// boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    pub enabled: bool,
    /// Bytes reassembled per flow direction; past them the direction is no longer followed.
    pub depth: u64,
    /// Bytes held at once across all flows (out-of-order segments and kept context).
    pub memcap: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            enabled: true,
            depth: 1024 * 1024,
            memcap: 64 * 1024 * 1024,
        }
    }
}

/// `[detector.baseline]`: per-host baselines (EWMA and z-score) and behaviour profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineConfig {
    pub enabled: bool,
    /// Windows a baseline learns before it may raise an alert.
    pub warmup_windows: u64,
    /// Weight of the newest window in each baseline (0–1).
    pub alpha: f64,
    /// Hosts profiled at once; past it the least recently active profile is dropped.
    pub max_hosts: usize,
    /// `[start, end)` hours (UTC) of the working day; unset: each host's learned hours.
    pub business_hours: Option<[u8; 2]>,
    /// Seconds over which bytes to one destination add up (slow exfiltration).
    pub exfil_window_secs: u64,
    /// Least bytes to one destination within that window that may raise an alert.
    pub exfil_min_bytes: u64,
    /// `new_talker` alerts per window at most (a spoofed flood brings thousands of new hosts).
    pub new_talkers_per_window: usize,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            enabled: true,
            warmup_windows: 10,
            alpha: 0.1,
            max_hosts: 20_000,
            business_hours: None,
            exfil_window_secs: 3600,
            exfil_min_bytes: 10 << 20,
            new_talkers_per_window: 3,
        }
    }
}

/// `[detector.beaconing]`: regular connections from one host to one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeaconConfig {
    pub enabled: bool,
    /// Connections in the series before it is judged.
    pub min_connections: usize,
    /// Largest spread of the intervals, as a share of their mean.
    pub max_jitter: f64,
    /// Shortest mean interval, seconds (faster is a flood or a session, not a beacon).
    pub min_interval_secs: f64,
    /// Destination ports never judged (DNS, NTP, DHCP, NetBIOS, SSDP, mDNS by default).
    pub allow_ports: Vec<u16>,
    /// Destinations never judged: addresses or CIDR prefixes (`192.0.2.0/24`).
    pub allow_destinations: Vec<String>,
    /// (host, destination, port) series tracked at once.
    pub max_pairs: usize,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            enabled: true,
            min_connections: 8,
            max_jitter: 0.1,
            min_interval_secs: 10.0,
            allow_ports: vec![53, 67, 68, 123, 137, 138, 1900, 5353],
            allow_destinations: Vec::new(),
            max_pairs: 50_000,
        }
    }
}

/// `[detector.isolation_forest]`: unsupervised outlier scoring of every flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestConfig {
    pub enabled: bool,
    /// Share of training flows taken as outliers (sets the score threshold).
    pub contamination: f64,
    pub n_estimators: usize,
    pub max_samples: usize,
    /// Without a learned model: flows of the run sampled before the first forest is trained.
    pub train_flows: usize,
    pub seed: u64,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            enabled: true,
            contamination: 0.001,
            n_estimators: 50,
            max_samples: 256,
            train_flows: 4096,
            seed: 7,
        }
    }
}

/// `[detector.dbscan]`: clusters of hosts by their window behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbscanConfig {
    pub enabled: bool,
    /// Neighbourhood radius in the log-scaled behaviour space (1.0: about a factor e in one
    /// count).
    pub eps: f64,
    /// Hosts within `eps` (the host itself included) that make a core point of a cluster.
    pub min_samples: usize,
    /// Hosts clustered per fit, at most (the most recently active are kept).
    pub max_hosts: usize,
}

impl Default for DbscanConfig {
    fn default() -> Self {
        DbscanConfig {
            enabled: true,
            eps: 1.0,
            min_samples: 3,
            max_hosts: 2000,
        }
    }
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
    /// Failed-login replies (FTP 530, SMTP 535, POP3 -ERR after PASS, IMAP NO after LOGIN, HTTP
    /// 401, Telnet "Login incorrect", VNC SecurityResult failed, SSH failures inferred from
    /// encrypted sizes) to one client within the window.
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
                21, 22, 23, 25, 110, 143, 465, 587, 993, 995, 1433, 3306, 3389, 5432, 5900, 5901,
                5902, 5903, 5904, 5905, 5906, 5907, 5908, 5909, 5910,
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
    /// Unsolicited SYN-ACKs and RSTs (no SYN of the receiver before them) toward one host
    /// within the window, from at least `backscatter_sources` addresses: reflection or
    /// backscatter.
    pub backscatter_packets: u32,
    pub backscatter_sources: usize,
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
            backscatter_packets: 100,
            backscatter_sources: 20,
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
    /// Queries for distinct subdomains with a hex or base32 label about as random as its
    /// alphabet and length allow, under one parent domain within the window (low-volume
    /// tunnels).
    pub encoded_queries: u32,
    /// NULL or private-type queries (iodine's favourites; nothing else asks for them) under one
    /// parent domain within the window.
    pub null_queries: u32,
    /// TXT queries with distinct subdomains under one parent domain within the window.
    pub txt_queries: u32,
    /// DNS answers from port 53 that open their flow (no query before them) toward one host
    /// within the window: forged or misdirected answers.
    pub unsolicited_answers: u32,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        DnsTunnelConfig {
            window_secs: 300,
            long_label: 40,
            entropy: 4.0,
            unique_subdomains: 30,
            suspicious_queries: 5,
            encoded_queries: 10,
            null_queries: 5,
            txt_queries: 10,
            unsolicited_answers: 5,
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
