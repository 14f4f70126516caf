//! The alert contract: severity, detector, and the alert value every detector emits.
//!
//! Alerts are built on analysis workers (stateless detectors) and in the aggregator (stateful
//! ones), then written to EVE (`alert` events), SQLite (`alerts`) and the packet's threat fields.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::frame::Ts;

/// Threat severity, ordered Low < Medium < High < Critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Suricata's numbering: 1 = most severe.
    pub fn eve_level(self) -> u8 {
        match self {
            Severity::Critical => 1,
            Severity::High => 2,
            Severity::Medium => 3,
            Severity::Low => 4,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
    /// The original design's level names (INFO, WARNING, ERROR, CRITICAL), one-to-one.
    pub fn level_name(self) -> &'static str {
        match self {
            Severity::Low => "INFO",
            Severity::Medium => "WARNING",
            Severity::High => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    /// Accepts `low|medium|high|critical` in any case, and the design's INFO/WARNING/ERROR/CRITICAL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" | "info" => Ok(Severity::Low),
            "medium" | "med" | "warning" => Ok(Severity::Medium),
            "high" | "error" => Ok(Severity::High),
            "critical" | "crit" => Ok(Severity::Critical),
            _ => Err(format!(
                "unknown severity {s:?} (expected Low, Medium, High or Critical)"
            )),
        }
    }
}

/// Which detector family raised an alert. The order here is the tie-break order of
/// prioritisation: at equal severity, the earlier detector's alert names the packet's threat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    Signature,
    Anomaly,
    Heuristic,
    Reputation,
    Statistical,
    Behavioural,
    Ml,
}

impl Detector {
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Signature => "signature",
            Detector::Anomaly => "anomaly",
            Detector::Heuristic => "heuristic",
            Detector::Reputation => "reputation",
            Detector::Statistical => "statistical",
            Detector::Behavioural => "behavioural",
            Detector::Ml => "ml",
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signature or built-in rule identifier. Built-in detectors use ids from 9_000_000 up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleId(pub u64);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One alert. `packet` is the pcap_cnt of the packet it fired on; the aggregator fills in
/// `flow_id` once the flow is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub ts: Ts,
    pub rule: RuleId,
    pub description: Arc<str>,
    pub severity: Severity,
    pub category: Arc<str>,
    pub detector: Detector,
    pub packet: u64,
    pub flow_id: Option<u64>,
    /// One line a person reads: what matched, or the count, window and threshold.
    pub explanation: String,
    /// Structured evidence for EVE `alert.metadata` (matched bytes and offset, counts …).
    pub evidence: serde_json::Value,
}

/// The highest-severity alert of a list; ties go to the earlier `Detector`, then to the
/// earlier alert in the list (the original design keeps the highest-severity threat per packet).
pub fn highest(alerts: &[Alert]) -> Option<&Alert> {
    alerts
        .iter()
        .enumerate()
        .max_by(|(ia, a), (ib, b)| {
            a.severity
                .cmp(&b.severity)
                .then(b.detector.cmp(&a.detector))
                .then(ib.cmp(ia))
        })
        .map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(sev: Severity, det: Detector, id: u64) -> Alert {
        Alert {
            ts: Ts(0),
            rule: RuleId(id),
            description: "d".into(),
            severity: sev,
            category: "c".into(),
            detector: det,
            packet: 1,
            flow_id: None,
            explanation: String::new(),
            evidence: serde_json::Value::Null,
        }
    }

    #[test]
    fn highest_prefers_severity_then_detector_then_order() {
        let a = [
            alert(Severity::High, Detector::Heuristic, 1),
            alert(Severity::High, Detector::Signature, 2),
            alert(Severity::Medium, Detector::Signature, 3),
            alert(Severity::High, Detector::Signature, 4),
        ];
        assert_eq!(highest(&a).map(|x| x.rule), Some(RuleId(2)));
        assert!(highest(&[]).is_none());
    }

    #[test]
    fn severity_parses_both_vocabularies() {
        assert_eq!("WARNING".parse::<Severity>(), Ok(Severity::Medium));
        assert_eq!("critical".parse::<Severity>(), Ok(Severity::Critical));
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(Severity::Critical.eve_level(), 1);
        assert_eq!(Severity::Low.eve_level(), 4);
    }
}
