//! Volume and fan-out alerts from a window's z-scores, and their severity rule.
//!
//! A window feature is anomalous when it lies `anomaly_threshold` (k) spreads or more above
//! its baseline. The alert is Medium when the window is far past the bar, Low when marginal:
//! - against the host's own baseline: Medium at z ≥ 2k;
//! - against hosts in general (a host with no baseline of its own): Medium at z ≥ 2k on a
//!   feature whose value is also at least `LOUD_FLOOR` times that feature's least spread
//!   (80 connections, 40 distinct destinations, ports or new destinations, 16 MiB each way),
//!   so a tiny count never reaches Medium whatever the threshold; the spread is floored too,
//!   so at the default k = 4 Medium takes 160 connections or 80 destinations or ports more
//!   than most hosts make in a window;
//! - against the whole network: always Low (the alert names the host that sent most, which
//!   need not be the one that changed).

use std::net::IpAddr;

use serde_json::json;

use super::explain::{deviation, FeatureDeviation};
use super::profile::Profile;
use super::{FLOORS, FLOOR_FRAC};
use crate::engine::alert::Severity;
use crate::engine::detect::builtin::Builtin;
use crate::engine::detect::FlowAlert;
use crate::engine::features::window::{HostWindow, WINDOW_SCHEMA};
use crate::engine::frame::Ts;

/// A value held to hosts in general must reach this many least spreads of its feature to be
/// Medium.
pub const LOUD_FLOOR: f64 = 4.0;

/// The baseline a window was held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// The host's own.
    Own,
    /// Every host's windows (the host has no baseline of its own yet).
    Hosts,
    /// The whole network's windows.
    Network,
}

impl Against {
    pub fn words(self) -> &'static str {
        match self {
            Against::Own => "its baseline",
            Against::Hosts => "hosts in general",
            Against::Network => "the whole network",
        }
    }
}

/// The features of `which` that lie `bar` spreads or more above `p`'s baseline.
pub fn deviations(p: &Profile, w: &HostWindow, bar: f64, which: &[usize]) -> Vec<FeatureDeviation> {
    let x = w.features();
    which
        .iter()
        .filter_map(|&i| deviation(i, x[i], &p.features[i], FLOORS[i], FLOOR_FRAC))
        .filter(|d| d.z >= bar)
        .collect()
}

/// Whether deviations found against `whose` with threshold `k` make a Medium alert (the rule
/// in the module doc).
pub fn is_loud(devs: &[FeatureDeviation], whose: Against, k: f64) -> bool {
    let far = |d: &&FeatureDeviation| d.z >= 2.0 * k;
    match whose {
        Against::Own => devs.iter().any(|d| far(&d)),
        Against::Hosts => devs.iter().filter(far).any(|d| {
            FLOORS
                .get(d.feature)
                .is_some_and(|f| d.value >= LOUD_FLOOR * f)
        }),
        Against::Network => false,
    }
}

/// A volume or fan-out alert; its severity by `is_loud`.
pub fn volume_alert(
    b: &Builtin,
    ts: Ts,
    host: IpAddr,
    peer: Option<IpAddr>,
    whose: Against,
    devs: &[FeatureDeviation],
    k: f64,
) -> FlowAlert {
    let parts: Vec<String> = devs.iter().map(FeatureDeviation::text).collect();
    let evidence: Vec<serde_json::Value> = devs
        .iter()
        .map(|d| json!({"feature": WINDOW_SCHEMA[d.feature], "value": d.value, "mean": d.mean, "std": d.std, "z": d.z}))
        .collect();
    let mut alert = b.alert_at(
        ts,
        format!(
            "{host} in one window, against {}: {}",
            whose.words(),
            parts.join("; ")
        ),
        json!({"features": evidence, "baseline": whose.words()}),
    );
    if !is_loud(devs, whose, k) {
        alert.severity = Severity::Low;
    }
    FlowAlert::about(alert, host, peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(feature: usize, value: f64, z: f64) -> FeatureDeviation {
        FeatureDeviation {
            feature,
            value,
            mean: 3.0,
            std: 10.0,
            z,
        }
    }

    #[test]
    fn medium_only_far_past_the_bar() {
        // Own baseline: twice the bar.
        assert!(!is_loud(&[dev(2, 50.0, 7.9)], Against::Own, 4.0));
        assert!(is_loud(&[dev(2, 50.0, 8.0)], Against::Own, 4.0));
        // Hosts in general: twice the bar and a real count (40 ports at least).
        assert!(!is_loud(&[dev(2, 70.0, 6.7)], Against::Hosts, 4.0));
        assert!(is_loud(&[dev(2, 100.0, 9.7)], Against::Hosts, 4.0));
        assert!(is_loud(
            &[dev(0, 100.0, 4.5), dev(2, 100.0, 9.7)],
            Against::Hosts,
            4.0
        ));
        // A low threshold never makes a handful of ports Medium.
        assert!(!is_loud(&[dev(2, 30.0, 2.7)], Against::Hosts, 1.0));
        assert!(is_loud(&[dev(2, 45.0, 4.2)], Against::Hosts, 1.0));
        // Bytes: 16 MiB at least.
        assert!(!is_loud(
            &[dev(3, 15.0 * 1048576.0, 9.0)],
            Against::Hosts,
            4.0
        ));
        // The whole network: always Low.
        assert!(!is_loud(&[dev(0, 5000.0, 99.0)], Against::Network, 4.0));
    }
}
