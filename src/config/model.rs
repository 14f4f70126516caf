//! The configuration structs, one per TOML section, and their defaults.
//!
//! Built once on the main thread by `config::load` before any other thread starts; afterwards
//! each subsystem receives its own section by value or by shared reference. Section and key
//! names follow the original Python design so existing config files and habits carry over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::detect::config::{
    AnomalyConfig, BaselineConfig, BeaconConfig, BruteForceConfig, DbscanConfig, DetectConfig,
    DnsTunnelConfig, FloodConfig, ForestConfig, LimitsConfig, ScanConfig, StreamConfig,
};

/// The whole configuration: defaults, overlaid by the file, then by environment variables,
/// then (by the binary) by command-line flags.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sniffer: SnifferConfig,
    pub detector: DetectorConfig,
    pub response: ResponseConfig,
    pub actions: ActionsConfig,
    pub integrations: IntegrationsConfig,
    pub storage: StorageConfig,
    pub output: OutputConfig,
    pub geoip: GeoipConfig,
    pub enrich: EnrichConfig,
    pub console: ConsoleConfig,
}

impl Config {
    /// Number of analysis workers to start on a machine with `cores` CPUs: the configured
    /// value, or for `workers = 0` one fewer than the cores (the capture thread needs one),
    /// never fewer than one.
    #[must_use]
    pub fn effective_workers(&self, cores: usize) -> usize {
        match self.sniffer.workers {
            0 => cores.saturating_sub(1).max(1),
            n => n,
        }
    }
}

/// `[sniffer]`: what to capture and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnifferConfig {
    /// Interface to capture on; unset means libpcap's default device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// BPF filter expression; empty captures everything.
    pub capture_filter: String,
    /// Stop after this many seconds; 0 = unlimited.
    pub capture_duration: u64,
    /// Stop after this many packets; 0 = unlimited.
    pub packet_count_limit: u64,
    /// Frames per batch handed from the capture thread to the analysis workers.
    pub analysis_batch_size: usize,
    /// Bytes kept per frame.
    pub snaplen: u32,
    pub promiscuous: bool,
    /// Deliver every frame as it arrives. Off (the default), the kernel hands frames over in
    /// blocks, when a block fills or after 10 ms; on, libpcap gives each frame a fixed slot
    /// of `snaplen` bytes, so keep snaplen small (e.g. 1600) or the ring holds few frames.
    pub immediate_mode: bool,
    /// Kernel capture buffer (the packet ring) in MiB.
    pub buffer_size_mb: u32,
    /// Analysis worker threads; 0 = auto (cores − 1, at least 1).
    pub workers: usize,
    /// The user live capture switches to once the capture is open, when no response action
    /// can run; unset means `nsm-tui` if that user exists, else `nobody`. `root` keeps the
    /// root user id, still without capabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Default for SnifferConfig {
    fn default() -> Self {
        Self {
            interface: None,
            capture_filter: String::new(),
            capture_duration: 0,
            packet_count_limit: 0,
            analysis_batch_size: 1024,
            snaplen: 65_535,
            promiscuous: true,
            immediate_mode: false,
            buffer_size_mb: 32,
            workers: 0,
            user: None,
        }
    }
}

/// `[detector]`: detection thresholds and where the signatures live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// z-score above which a statistical feature counts as anomalous (how many spreads above
    /// its baseline).
    pub anomaly_threshold: f64,
    /// Minimum confidence (0–1) for an alert to be raised.
    pub confidence_threshold: f64,
    /// Seconds of capture time per host window of the statistical detectors.
    pub feature_window_size: usize,
    /// Seconds of capture time between baseline/model updates.
    pub model_update_interval: u64,
    /// Directory (or file) of signature rules; unset = `/etc/nsm-tui/signatures`, then
    /// `/usr/share/nsm-tui/signatures`, then the set built into the binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures_dir: Option<PathBuf>,
    /// Model file written by `nsm-tui learn` (baselines, profiles, Isolation Forest); unset =
    /// `data/model.json` when it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_file: Option<PathBuf>,
    /// `[detector.anomaly]`: protocol anomalies (Xmas, Null, land, ...).
    pub anomaly: AnomalyConfig,
    /// `[detector.scan]`: port scans and host sweeps.
    pub scan: ScanConfig,
    /// `[detector.brute_force]`: repeated logins to one service.
    pub brute_force: BruteForceConfig,
    /// `[detector.flood]`: SYN, ICMP, UDP and DNS-reflection floods.
    pub flood: FloodConfig,
    /// `[detector.dns_tunnel]`: data carried in DNS names.
    pub dns_tunnel: DnsTunnelConfig,
    /// `[detector.limits]`: memory bounds of the detectors' per-address state.
    pub limits: LimitsConfig,
    /// `[detector.baseline]`: per-host baselines and behaviour profiles.
    pub baseline: BaselineConfig,
    /// `[detector.beaconing]`: regular connections to one destination.
    pub beaconing: BeaconConfig,
    /// `[detector.isolation_forest]`: outlier scoring of every flow.
    pub isolation_forest: ForestConfig,
    /// `[detector.dbscan]`: clusters of hosts by behaviour.
    pub dbscan: DbscanConfig,
    /// `[detector.stream]`: TCP stream reassembly for signatures across segments.
    pub stream: StreamConfig,
    /// The flow classifier `nsm-tui train` wrote; unset: no classifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier_file: Option<PathBuf>,
}

impl DetectorConfig {
    /// The model file a run loads: the configured one, else `data/model.json`.
    #[must_use]
    pub fn model_path(&self) -> PathBuf {
        self.model_file
            .clone()
            .unwrap_or_else(|| Path::new(DATA_DIR).join("model.json"))
    }

    /// The built-in detectors' thresholds, in the form the detection engine takes.
    #[must_use]
    pub fn thresholds(&self) -> DetectConfig {
        DetectConfig {
            anomaly: self.anomaly.clone(),
            scan: self.scan.clone(),
            brute_force: self.brute_force.clone(),
            flood: self.flood.clone(),
            dns_tunnel: self.dns_tunnel.clone(),
            limits: self.limits.clone(),
            baseline: self.baseline.clone(),
            beaconing: self.beaconing.clone(),
            isolation_forest: self.isolation_forest.clone(),
            dbscan: self.dbscan.clone(),
            stream: self.stream.clone(),
            learn: crate::engine::detect::config::LearnParams {
                anomaly_threshold: self.anomaly_threshold,
                window_secs: u64::try_from(self.feature_window_size).unwrap_or(u64::MAX),
                update_secs: self.model_update_interval,
                confidence: self.confidence_threshold,
            },
        }
    }
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            anomaly_threshold: 4.0,
            confidence_threshold: 0.8,
            feature_window_size: 60,
            model_update_interval: 300,
            signatures_dir: None,
            model_file: None,
            anomaly: AnomalyConfig::default(),
            scan: ScanConfig::default(),
            brute_force: BruteForceConfig::default(),
            flood: FloodConfig::default(),
            dns_tunnel: DnsTunnelConfig::default(),
            limits: LimitsConfig::default(),
            baseline: BaselineConfig::default(),
            beaconing: BeaconConfig::default(),
            isolation_forest: ForestConfig::default(),
            dbscan: DbscanConfig::default(),
            stream: StreamConfig::default(),
            classifier_file: None,
        }
    }
}

/// `[response]`: whether and when alerts trigger actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseConfig {
    pub auto_response_enabled: bool,
    /// Log the commands that would run instead of running them.
    pub dry_run: bool,
    /// Minimum alert score for an automatic response.
    pub response_threshold: f64,
    pub max_concurrent_actions: usize,
    /// Automatic actions, one rule per entry: `CATEGORY:MIN_SEVERITY:ACTIONS[:SECONDS]`, e.g.
    /// `"port_scan:Medium:block:600"`, `"*:Critical:block,notify"`; `*` matches any category.
    pub policy: Vec<String>,
    /// Addresses or CIDR ranges never blocked.
    pub allowlist: Vec<String>,
    /// Permit blocking private and link-local addresses.
    pub allow_private: bool,
    /// Addresses that may still talk to a quarantined host.
    pub management_addresses: Vec<String>,
    pub max_actions_per_minute: u32,
    pub max_active_blocks: u64,
    /// Seconds responses stay alert-only after a cap is hit.
    pub breaker_cooldown_secs: u64,
    /// Each repeat block of an address lasts this many times longer ...
    pub escalation_factor: u32,
    /// ... up to this many seconds.
    pub max_block_secs: u64,
    /// Leave temporary blocks in place when nsm-tui exits.
    pub keep_blocks_on_exit: bool,
    /// Alerts of one source and category this close together join one incident.
    pub incident_window_secs: u64,
    /// Manual blocks from the command line wait this many seconds for `nsm-tui confirm` and
    /// roll back by themselves otherwise (like `commit confirmed`); 0 = off.
    pub confirm_within_secs: u64,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            auto_response_enabled: false,
            dry_run: true,
            response_threshold: 0.8,
            max_concurrent_actions: 5,
            policy: vec![
                "*:High:block".to_string(),
                "*:Critical:block,notify".to_string(),
            ],
            allowlist: Vec::new(),
            allow_private: false,
            management_addresses: Vec::new(),
            max_actions_per_minute: 10,
            max_active_blocks: 1000,
            breaker_cooldown_secs: 60,
            escalation_factor: 2,
            max_block_secs: 7 * 86_400,
            keep_blocks_on_exit: false,
            incident_window_secs: 300,
            confirm_within_secs: 0,
        }
    }
}

/// Firewall backend used to block addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirewallType {
    #[default]
    Nftables,
    Iptables,
    Pf,
}

impl FirewallType {
    pub const ALL: [FirewallType; 3] = [Self::Nftables, Self::Iptables, Self::Pf];

    /// The spelling used in config files and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nftables => "nftables",
            Self::Iptables => "iptables",
            Self::Pf => "pf",
        }
    }
}

impl std::str::FromStr for FirewallType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| "expected one of nftables, iptables, pf".to_string())
    }
}

/// `[actions]`: how responses are carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    pub firewall_type: FirewallType,
    /// Seconds until a block or rate limit expires.
    pub default_action_timeout: u64,
    /// Rate for traffic shaping, in tc's syntax (e.g. "1mbit", "500kbit").
    pub bandwidth_limit: String,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        Self {
            firewall_type: FirewallType::Nftables,
            default_action_timeout: 3600,
            bandwidth_limit: "1mbit".to_string(),
        }
    }
}

/// The AbuseIPDB API root used when none is configured.
pub const ABUSEIPDB_DEFAULT_URL: &str = "https://api.abuseipdb.com/api/v2";

/// `[integrations]`: external services. Unset means the integration is off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siem_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_webhook: Option<String>,
    /// Microsoft Teams incoming-webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teams_webhook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abuseipdb_api_key: Option<String>,
    pub abuseipdb_base_url: String,
}

impl Default for IntegrationsConfig {
    fn default() -> Self {
        Self {
            siem_url: None,
            slack_webhook: None,
            teams_webhook: None,
            abuseipdb_api_key: None,
            abuseipdb_base_url: ABUSEIPDB_DEFAULT_URL.to_string(),
        }
    }
}

/// The data directory the default database and pcap log live in (relative to the working
/// directory): the one directory nsm-tui creates when it is missing; every other output's
/// directory must exist.
pub const DATA_DIR: &str = "data";

/// `[storage]`: the SQLite database and the pcap log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub db_path: PathBuf,
    pub db_enabled: bool,
    /// Store every packet row, not only alerts and flows.
    pub store_packets: bool,
    /// Oldest packet rows are deleted beyond this count; 0 = no limit.
    pub retention_max_packets: u64,
    /// Packet rows older than this are deleted; 0 = no limit.
    pub retention_max_age_hours: u64,
    pub pcap_log_path: PathBuf,
    pub pcap_log_enabled: bool,
    /// Start a new pcap file after this many MiB; 0 = never rotate.
    pub pcap_rotate_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            db_path: Path::new(DATA_DIR).join("packets.db"),
            db_enabled: true,
            store_packets: true,
            retention_max_packets: 1_000_000,
            retention_max_age_hours: 168,
            pcap_log_path: Path::new(DATA_DIR).join("captured_packets.pcap"),
            pcap_log_enabled: true,
            pcap_rotate_mb: 100,
        }
    }
}

/// `[output]`: EVE JSON output and flow tracking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Write Suricata-style EVE JSON lines here; unset = no EVE output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eve_path: Option<PathBuf>,
    /// A flow idle this many seconds (capture time) is closed. Suricata instead keys timeouts
    /// by protocol and state (its shipped suricata.yaml: 30 s for new flows, 300 s for
    /// established UDP/ICMP, 600 s for established TCP); one idle timeout keeps this simple.
    pub flow_timeout_secs: u64,
    /// Flows tracked at once; beyond this the longest-idle flow is evicted.
    pub max_flows: usize,
    /// Seconds of capture time between stats events; 0 = none.
    pub stats_interval_secs: u64,
    /// The sensor's name, written as every EVE event's `host` (Suricata's `sensor-name`);
    /// unset = this machine's host name, empty = no `host` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor_name: Option<String>,
    /// Add nsm-tui's keys outside Suricata's EVE schema: `src_geoip`/`dest_geoip` on events,
    /// and the counters Suricata lacks in `stats` (queue and database drops, alerts by
    /// severity, unsupported types, response actions). Off by default: the schema forbids
    /// unknown keys, and SIEM pipelines do their own GeoIP.
    pub eve_extensions: bool,
    /// Serve Prometheus metrics over HTTP here (`127.0.0.1:9100`); unset = no metrics server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            eve_path: None,
            flow_timeout_secs: 120,
            max_flows: 100_000,
            stats_interval_secs: 5,
            sensor_name: None,
            eve_extensions: false,
            metrics_listen: None,
        }
    }
}

/// `[geoip]`: MaxMind-format databases for address enrichment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoipConfig {
    pub enabled: bool,
    /// City (or country) database; unset = `/usr/share/nsm-tui/GeoLite2-City.mmdb`, then
    /// the country database built into the binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city_db: Option<PathBuf>,
    /// Optional ASN database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn_db: Option<PathBuf>,
}

impl Default for GeoipConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            city_db: None,
            asn_db: None,
        }
    }
}

/// `[enrich]`: local blocklists and the AbuseIPDB reputation check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichConfig {
    /// Blocklist files or directories (plain IP/CIDR lists: FireHOL, Spamhaus DROP, ET).
    pub blocklists: Vec<PathBuf>,
    /// AbuseIPDB confidence score (1-100) at or above which a reputation alert is raised.
    pub reputation_threshold: u8,
    /// Hours an AbuseIPDB answer stays cached.
    pub reputation_cache_hours: u64,
    /// AbuseIPDB checks per UTC day (the free tier allows 1,000).
    pub reputation_daily_quota: u64,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            blocklists: Vec::new(),
            reputation_threshold: 75,
            reputation_cache_hours: 24,
            reputation_daily_quota: 1000,
        }
    }
}

/// `[console]`: the terminal UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Redraws per second at most.
    pub fps: u32,
    /// Packets kept in the console's scroll-back ring.
    pub retained_packets: usize,
    pub theme: String,
    /// `[console.keys]`: action name → key, overriding the built-in bindings.
    pub keys: BTreeMap<String, String>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            fps: 20,
            retained_packets: 100_000,
            theme: "dark".to_string(),
            keys: BTreeMap::new(),
        }
    }
}
