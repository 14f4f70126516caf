//! Beaconing: one host connecting to one destination and port again and again at a regular
//! interval — the heartbeat of command-and-control. Scored on how regular the intervals are
//! (their spread against their mean) and how many there are.
//!
//! Pure, on the aggregator thread, fed each flow's start as the flow ends. Bounded: at most
//! `max_pairs` series of `HISTORY` start times each; past the cap the stalest series goes.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::engine::detect::config::BeaconConfig;
use crate::engine::frame::Ts;

/// Start times kept per series.
pub const HISTORY: usize = 24;

/// A series judged regular.
#[derive(Debug, Clone, PartialEq)]
pub struct Beacon {
    pub host: IpAddr,
    pub dest: IpAddr,
    pub port: u16,
    pub connections: usize,
    pub mean_interval: f64,
    /// Spread of the intervals as a share of their mean.
    pub jitter: f64,
    /// Seconds from the first start kept to the last.
    pub span: f64,
}

#[derive(Debug, Default)]
struct Series {
    starts: Vec<i64>,
    last_seen: i64,
    alerted_at: Option<i64>,
}

pub struct BeaconTable {
    cfg: BeaconConfig,
    allow: Vec<(IpAddr, u8)>,
    series: HashMap<(IpAddr, IpAddr, u16), Series, ahash::RandomState>,
    pub evicted: u64,
}

/// `addr` or `addr/len` as (address, prefix length); `None` when it does not parse.
pub fn parse_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse().ok()?),
        None => (s, u8::MAX),
    };
    let ip: IpAddr = a.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = if len == u8::MAX { max } else { len };
    (len <= max).then_some((ip, len))
}

fn in_prefix(ip: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Re-alert a series at most once an hour of capture time.
const REALERT_SECS: i64 = 3600;

impl BeaconTable {
    pub fn new(cfg: &BeaconConfig) -> Self {
        BeaconTable {
            allow: cfg
                .allow_destinations
                .iter()
                .filter_map(|s| parse_prefix(s))
                .collect(),
            cfg: cfg.clone(),
            series: HashMap::default(),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// A connection from `host` to `dest:port` started at `start`; returns the beacon when
    /// the series has just become regular enough to report.
    pub fn observe(&mut self, host: IpAddr, dest: IpAddr, port: u16, start: Ts) -> Option<Beacon> {
        if !self.cfg.enabled
            || self.cfg.allow_ports.contains(&port)
            || self.allow.iter().any(|&p| in_prefix(dest, p))
        {
            return None;
        }
        let now = start.0;
        let key = (host, dest, port);
        if !self.series.contains_key(&key) && self.series.len() >= self.cfg.max_pairs.max(1) {
            self.evict();
        }
        let s = self.series.entry(key).or_default();
        s.last_seen = s.last_seen.max(now);
        let at = s.starts.partition_point(|&t| t <= now);
        s.starts.insert(at, now);
        if s.starts.len() > HISTORY {
            s.starts.remove(0);
        }
        let b = judge(&self.cfg, key, &s.starts)?;
        let secs = now / Ts::NANOS_PER_SEC;
        if s.alerted_at.is_some_and(|t| secs - t < REALERT_SECS) {
            return None;
        }
        s.alerted_at = Some(secs);
        Some(b)
    }

    /// Drop the stalest sixteenth of the series at once, so a flood of new pairs costs a
    /// scan of the table per sixteenth of it rather than per pair.
    fn evict(&mut self) {
        let mut ages: Vec<(i64, (IpAddr, IpAddr, u16))> =
            self.series.iter().map(|(k, s)| (s.last_seen, *k)).collect();
        let n = (ages.len() / 16).max(1);
        if n < ages.len() {
            ages.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        }
        for (_, k) in ages.iter().take(n) {
            self.series.remove(k);
            self.evicted += 1;
        }
    }
}

fn judge(
    cfg: &BeaconConfig,
    (host, dest, port): (IpAddr, IpAddr, u16),
    starts: &[i64],
) -> Option<Beacon> {
    if starts.len() < cfg.min_connections.max(3) {
        return None;
    }
    let gaps: Vec<f64> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 / 1e9)
        .collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    if mean < cfg.min_interval_secs {
        return None;
    }
    let var = gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n;
    let jitter = var.sqrt() / mean;
    (jitter <= cfg.max_jitter).then(|| Beacon {
        host,
        dest,
        port,
        connections: starts.len(),
        mean_interval: mean,
        jitter,
        span: (starts[starts.len() - 1] - starts[0]) as f64 / 1e9,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn run(table: &mut BeaconTable, times: &[f64], port: u16) -> Vec<Beacon> {
        times
            .iter()
            .filter_map(|&t| {
                table.observe(
                    ip("10.0.0.5"),
                    ip("203.0.113.9"),
                    port,
                    Ts((t * 1e9) as i64),
                )
            })
            .collect()
    }

    #[test]
    fn a_regular_series_is_reported_once() {
        let mut t = BeaconTable::new(&BeaconConfig::default());
        // Every 60 s ± 2 s, twenty times.
        let times: Vec<f64> = (0..20)
            .map(|i| 1000.0 + 60.0 * f64::from(i) + if i % 2 == 0 { 2.0 } else { -2.0 })
            .collect();
        let found = run(&mut t, &times, 443);
        assert_eq!(found.len(), 1, "{found:?}");
        let b = &found[0];
        assert_eq!(b.connections, 8);
        assert!(
            (b.mean_interval - 60.0).abs() < 5.0 && b.jitter < 0.1,
            "{b:?}"
        );
    }

    #[test]
    fn irregular_fast_or_allowed_series_are_not() {
        let mut t = BeaconTable::new(&BeaconConfig::default());
        let irregular: Vec<f64> = [
            0.0, 5.0, 100.0, 130.0, 400.0, 410.0, 900.0, 1300.0, 1320.0, 2000.0,
        ]
        .to_vec();
        assert!(run(&mut t, &irregular, 443).is_empty());
        let fast: Vec<f64> = (0..30).map(|i| f64::from(i) * 1.0).collect();
        assert!(run(&mut t, &fast, 8080).is_empty());
        let ntp: Vec<f64> = (0..30).map(|i| f64::from(i) * 64.0).collect();
        assert!(run(&mut t, &ntp, 123).is_empty());
        let cfg = BeaconConfig {
            allow_destinations: vec!["203.0.113.0/24".into()],
            ..BeaconConfig::default()
        };
        let mut allowed = BeaconTable::new(&cfg);
        let regular: Vec<f64> = (0..30).map(|i| f64::from(i) * 60.0).collect();
        assert!(run(&mut allowed, &regular, 443).is_empty());
    }

    #[test]
    fn the_table_stays_within_its_cap() {
        let cfg = BeaconConfig {
            max_pairs: 100,
            ..BeaconConfig::default()
        };
        let mut t = BeaconTable::new(&cfg);
        for i in 0..1000u16 {
            t.observe(
                ip("10.0.0.5"),
                ip("203.0.113.9"),
                20_000 + i,
                Ts(i64::from(i)),
            );
        }
        assert!(t.len() <= 100);
        assert_eq!(t.evicted + t.len() as u64, 1000);
    }

    #[test]
    fn prefixes_parse_and_match() {
        assert_eq!(parse_prefix("10.0.0.0/8"), Some((ip("10.0.0.0"), 8)));
        assert_eq!(parse_prefix("2001:db8::1"), Some((ip("2001:db8::1"), 128)));
        assert_eq!(parse_prefix("10.0.0.0/33"), None);
        assert_eq!(parse_prefix("nope"), None);
        assert!(in_prefix(ip("10.1.2.3"), (ip("10.0.0.0"), 8)));
        assert!(!in_prefix(ip("11.1.2.3"), (ip("10.0.0.0"), 8)));
        assert!(in_prefix(ip("1.2.3.4"), (ip("0.0.0.0"), 0)));
    }
}
