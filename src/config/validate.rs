//! Range and format checks on configuration values, run on the main thread after each layer
//! (file, environment, and by the binary after its command-line flags).
//!
//! Types are already enforced by deserialization; these checks catch values of the right type
//! that make no sense (a 0 fps console, a confidence of 1.5, a misspelt tc rate).

use std::fmt::Display;
use std::path::Path;

use super::model::{Config, DetectorConfig};

/// The first value found out of range: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub section: &'static str,
    /// Key inside the section; for `[console.keys]` entries this is `keys.<action>`.
    pub key: String,
    pub message: String,
}

type Check = Result<(), String>;

fn between<T: PartialOrd + Display + Copy>(v: T, lo: T, hi: T) -> Check {
    if v < lo || v > hi {
        return Err(format!("must be between {lo} and {hi}, found {v}"));
    }
    Ok(())
}

fn at_least<T: PartialOrd + Display + Copy>(v: T, lo: T) -> Check {
    if v < lo {
        return Err(format!("must be at least {lo}, found {v}"));
    }
    Ok(())
}

/// Thresholds are compared with `>=`; NaN would silently disable them.
pub(crate) fn non_negative(v: f64) -> Check {
    if !v.is_finite() || v < 0.0 {
        return Err(format!("must be a finite number >= 0, found {v}"));
    }
    Ok(())
}

/// A weight in (0, 1].
fn unit_open(v: f64) -> Check {
    if !(v > 0.0 && v <= 1.0) {
        return Err(format!("must be above 0 and at most 1, found {v}"));
    }
    Ok(())
}

/// `[start, end)` hours of a day, start before end.
fn hours(h: Option<[u8; 2]>) -> Check {
    match h {
        Some([s, e]) if s >= e || e > 24 => Err(format!(
            "must be [start, end) hours with start < end <= 24, found [{s}, {e}]"
        )),
        _ => Ok(()),
    }
}

/// Addresses or CIDR prefixes.
fn prefixes(list: &[String]) -> Check {
    match list
        .iter()
        .find(|p| crate::engine::detect::stats::beacon::parse_prefix(p).is_none())
    {
        Some(p) => Err(format!("{p:?} is not an address or CIDR prefix")),
        None => Ok(()),
    }
}

fn fraction(v: f64) -> Check {
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("must be between 0 and 1, found {v}"));
    }
    Ok(())
}

fn not_empty_path(p: &Path) -> Check {
    if p.as_os_str().is_empty() {
        return Err("must not be empty".to_string());
    }
    Ok(())
}

/// A user name the password database holds.
fn known_user(name: &str) -> Check {
    if super::account::find(name).is_none() {
        return Err(format!(
            "no user {name:?} in {}; name an existing user (e.g. \"nobody\") or create it",
            super::account::PASSWD
        ));
    }
    Ok(())
}

fn http_url(s: &str) -> Check {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => Ok(()),
        // The value may be a secret, so it is not quoted back.
        _ => Err("must be an http:// or https:// URL with a host".to_string()),
    }
}

fn opt_url(s: Option<&String>) -> Check {
    s.map_or(Ok(()), |u| http_url(u))
}

/// Units `tc` accepts for rates (bits and bytes per second, decimal and binary prefixes).
const RATE_UNITS: [&str; 18] = [
    "bit", "kbit", "mbit", "gbit", "tbit", "bps", "kbps", "mbps", "gbps", "tbps", "kibit", "mibit",
    "gibit", "tibit", "kibps", "mibps", "gibps", "tibps",
];

/// A tc rate: a positive number followed by one of `RATE_UNITS`, e.g. "1mbit" or "2.5mbps".
pub(crate) fn tc_rate(s: &str) -> Check {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value_ok = num.parse::<f64>().is_ok_and(|v| v > 0.0 && v.is_finite());
    if value_ok && RATE_UNITS.contains(&unit.to_ascii_lowercase().as_str()) {
        return Ok(());
    }
    Err(format!(
        "expected a rate like \"1mbit\" or \"500kbit\" (units: bit, kbit, mbit, gbit, bps, kbps, mbps, gbps), found \"{s}\""
    ))
}

/// Runs `checks` in order and names the first failing key of `section`.
fn first(section: &'static str, checks: Vec<(&str, Check)>) -> Result<(), Violation> {
    for (key, result) in checks {
        if let Err(message) = result {
            return Err(Violation {
                section,
                key: key.to_string(),
                message,
            });
        }
    }
    Ok(())
}

/// The `[detector.*]` sections: a zero window or count would make a detector fire on every
/// packet or never, so each must be at least 1.
fn check_thresholds(d: &DetectorConfig) -> Result<(), Violation> {
    let (sc, b, f, t) = (&d.scan, &d.brute_force, &d.flood, &d.dns_tunnel);
    first(
        "detector",
        vec![
            ("anomaly.window_secs", at_least(d.anomaly.window_secs, 1)),
            ("scan.window_secs", at_least(sc.window_secs, 1)),
            ("scan.ports", at_least(sc.ports, 2)),
            ("scan.hosts", at_least(sc.hosts, 2)),
            ("scan.slow_window_secs", at_least(sc.slow_window_secs, 1)),
            ("scan.slow_ports", at_least(sc.slow_ports, 2)),
            ("scan.protocols", at_least(sc.protocols, 2)),
            ("brute_force.window_secs", at_least(b.window_secs, 1)),
            ("brute_force.attempts", at_least(b.attempts, 2)),
            ("brute_force.failures", at_least(b.failures, 1)),
            ("flood.window_secs", at_least(f.window_secs, 1)),
            ("flood.syn_packets", at_least(f.syn_packets, 1)),
            ("flood.half_open_ratio", fraction(f.half_open_ratio)),
            ("flood.icmp_packets", at_least(f.icmp_packets, 1)),
            ("flood.udp_packets", at_least(f.udp_packets, 1)),
            (
                "flood.dns_reflection_packets",
                at_least(f.dns_reflection_packets, 1),
            ),
            (
                "flood.spoofed_syn_packets",
                at_least(f.spoofed_syn_packets, 1),
            ),
            ("flood.spoofed_sources", at_least(f.spoofed_sources, 2)),
            (
                "flood.dhcp_requests_per_client",
                at_least(f.dhcp_requests_per_client, 2),
            ),
            ("flood.dhcp_requests", at_least(f.dhcp_requests, 2)),
            (
                "flood.backscatter_packets",
                at_least(f.backscatter_packets, 1),
            ),
            (
                "flood.backscatter_sources",
                at_least(f.backscatter_sources, 2),
            ),
            (
                "flood.spoofed_window_secs",
                at_least(f.spoofed_window_secs, 1),
            ),
            (
                "baseline.warmup_windows",
                at_least(d.baseline.warmup_windows, 1),
            ),
            ("baseline.alpha", unit_open(d.baseline.alpha)),
            ("baseline.max_hosts", at_least(d.baseline.max_hosts, 1)),
            ("baseline.business_hours", hours(d.baseline.business_hours)),
            (
                "baseline.exfil_window_secs",
                at_least(d.baseline.exfil_window_secs, 1),
            ),
            (
                "beaconing.min_connections",
                at_least(d.beaconing.min_connections, 3),
            ),
            ("beaconing.max_jitter", fraction(d.beaconing.max_jitter)),
            (
                "beaconing.min_interval_secs",
                non_negative(d.beaconing.min_interval_secs),
            ),
            (
                "beaconing.allow_destinations",
                prefixes(&d.beaconing.allow_destinations),
            ),
            ("beaconing.max_pairs", at_least(d.beaconing.max_pairs, 1)),
            (
                "isolation_forest.contamination",
                between(d.isolation_forest.contamination, 0.0, 0.5),
            ),
            (
                "isolation_forest.n_estimators",
                between(d.isolation_forest.n_estimators, 1, 10_000),
            ),
            (
                "isolation_forest.max_samples",
                between(d.isolation_forest.max_samples, 16, 1 << 20),
            ),
            (
                "isolation_forest.train_flows",
                at_least(d.isolation_forest.train_flows, 16),
            ),
            ("dns_tunnel.window_secs", at_least(t.window_secs, 1)),
            ("dns_tunnel.long_label", between(t.long_label, 1, 63)),
            ("dns_tunnel.entropy", non_negative(t.entropy)),
            (
                "dns_tunnel.unique_subdomains",
                at_least(t.unique_subdomains, 1),
            ),
            (
                "dns_tunnel.suspicious_queries",
                at_least(t.suspicious_queries, 1),
            ),
            ("dns_tunnel.encoded_queries", at_least(t.encoded_queries, 1)),
            ("dns_tunnel.null_queries", at_least(t.null_queries, 1)),
            ("dns_tunnel.txt_queries", at_least(t.txt_queries, 1)),
            (
                "dns_tunnel.unsolicited_answers",
                at_least(t.unsolicited_answers, 1),
            ),
            ("limits.max_entries", at_least(d.limits.max_entries, 1)),
            ("stream.depth", between(d.stream.depth, 1, 1 << 30)),
            (
                "stream.memcap",
                between(d.stream.memcap, 64 * 1024, 1 << 40),
            ),
        ],
    )
}

/// `[detector.dbscan]`: a radius of 0 makes every host noise; the fit costs the square of
/// `max_hosts` distances, so it is bounded.
fn check_dbscan(d: &DetectorConfig) -> Result<(), Violation> {
    let c = &d.dbscan;
    let eps = if c.eps.is_finite() && c.eps > 0.0 {
        Ok(())
    } else {
        Err(format!("must be a finite number > 0, found {}", c.eps))
    };
    first(
        "detector",
        vec![
            ("dbscan.eps", eps),
            ("dbscan.min_samples", at_least(c.min_samples, 1)),
            ("dbscan.max_hosts", between(c.max_hosts, 2, 20_000)),
        ],
    )
}

impl Config {
    /// Checks every value for range and format, returning the first problem found.
    ///
    /// # Errors
    /// A [`Violation`] naming the section, key and what is wrong.
    pub fn check(&self) -> Result<(), Violation> {
        let s = &self.sniffer;
        first(
            "sniffer",
            vec![
                (
                    "analysis_batch_size",
                    between(s.analysis_batch_size, 1, 65_536),
                ),
                ("snaplen", between(s.snaplen, 64, 262_144)),
                ("buffer_size_mb", between(s.buffer_size_mb, 1, 4096)),
                ("workers", between(s.workers, 0, 256)),
                ("user", s.user.as_deref().map_or(Ok(()), known_user)),
            ],
        )?;
        let d = &self.detector;
        first(
            "detector",
            vec![
                ("anomaly_threshold", non_negative(d.anomaly_threshold)),
                ("confidence_threshold", fraction(d.confidence_threshold)),
                ("feature_window_size", at_least(d.feature_window_size, 1)),
                (
                    "model_file",
                    d.model_file.as_deref().map_or(Ok(()), not_empty_path),
                ),
                (
                    "model_update_interval",
                    at_least(d.model_update_interval, 1),
                ),
                (
                    "signatures_dir",
                    d.signatures_dir.as_deref().map_or(Ok(()), not_empty_path),
                ),
                (
                    "classifier_file",
                    d.classifier_file.as_deref().map_or(Ok(()), not_empty_path),
                ),
            ],
        )?;
        check_thresholds(d)?;
        check_dbscan(d)?;
        let r = &self.response;
        first(
            "response",
            vec![
                ("response_threshold", non_negative(r.response_threshold)),
                ("max_block_secs", at_least(r.max_block_secs, 1)),
                (
                    "max_concurrent_actions",
                    between(r.max_concurrent_actions, 1, 1024),
                ),
            ],
        )?;
        let a = &self.actions;
        first(
            "actions",
            vec![
                (
                    "default_action_timeout",
                    at_least(a.default_action_timeout, 1),
                ),
                ("bandwidth_limit", tc_rate(&a.bandwidth_limit)),
            ],
        )?;
        let i = &self.integrations;
        first(
            "integrations",
            vec![
                ("siem_url", opt_url(i.siem_url.as_ref())),
                ("slack_webhook", opt_url(i.slack_webhook.as_ref())),
                ("abuseipdb_base_url", http_url(&i.abuseipdb_base_url)),
            ],
        )?;
        self.check_rest()
    }

    fn check_rest(&self) -> Result<(), Violation> {
        let st = &self.storage;
        first(
            "storage",
            vec![
                ("db_path", not_empty_path(&st.db_path)),
                ("pcap_log_path", not_empty_path(&st.pcap_log_path)),
            ],
        )?;
        let o = &self.output;
        first(
            "output",
            vec![
                (
                    "eve_path",
                    o.eve_path.as_deref().map_or(Ok(()), not_empty_path),
                ),
                ("flow_timeout_secs", at_least(o.flow_timeout_secs, 1)),
                ("max_flows", at_least(o.max_flows, 1)),
            ],
        )?;
        first(
            "geoip",
            vec![(
                "city_db",
                self.geoip.city_db.as_deref().map_or(Ok(()), not_empty_path),
            )],
        )?;
        let e = &self.enrich;
        first(
            "enrich",
            vec![
                (
                    "reputation_threshold",
                    between(e.reputation_threshold, 1, 100),
                ),
                (
                    "reputation_cache_hours",
                    at_least(e.reputation_cache_hours, 1),
                ),
            ],
        )?;
        let c = &self.console;
        first(
            "console",
            vec![
                ("fps", between(c.fps, 1, 60)),
                (
                    "retained_packets",
                    between(c.retained_packets, 1, 10_000_000),
                ),
                (
                    "theme",
                    if c.theme.is_empty() {
                        Err("must not be empty".into())
                    } else {
                        Ok(())
                    },
                ),
            ],
        )?;
        for (action, key) in &c.keys {
            if key.is_empty() {
                return Err(Violation {
                    section: "console",
                    key: format!("keys.{action}"),
                    message: "must not be empty".to_string(),
                });
            }
        }
        Ok(())
    }
}
