//! The built-in rules: one id, category, severity and description per anomaly or heuristic
//! category, and the helper that turns a finding into an `Alert`.
//!
//! Used by the stateful detectors on the aggregator thread. The ids are stable: EVE consumers and
//! the SQLite `alerts` table key on them.
//!
//! | id        | category        | severity | detector  |
//! |-----------|-----------------|----------|-----------|
//! | 9_000_001 | `xmas_scan`     | Medium   | anomaly   |
//! | 9_000_002 | `null_scan`     | Medium   | anomaly   |
//! | 9_000_003 | `fin_scan`      | Medium   | anomaly   |
//! | 9_000_004 | `syn_fin`       | Medium   | anomaly   |
//! | 9_000_005 | `invalid_flags` | Low      | anomaly   |
//! | 9_000_006 | `land`          | High     | anomaly   |
//! | 9_000_010 | `port_scan`     | Medium   | heuristic |
//! | 9_000_011 | `host_sweep`    | Medium   | heuristic |
//! | 9_000_012 | `brute_force`   | High     | heuristic |
//! | 9_000_013 | `syn_flood`     | High     | heuristic |
//! | 9_000_014 | `icmp_flood`    | Medium   | heuristic |
//! | 9_000_015 | `udp_flood`     | High     | heuristic |
//! | 9_000_016 | `dns_tunnel`    | High     | heuristic |
//! | 9_000_017 | `protocol_scan` | Medium   | heuristic |
//! | 9_000_018 | `dhcp_flood`    | High     | heuristic |
//! | 9_000_019 | `recon_icmp`    | Medium   | heuristic |
//! | 9_000_020 | `backscatter`   | Medium   | heuristic |
//! | 9_000_021 | `os_fingerprint`| Medium   | heuristic |
//! | 9_000_022 | `dns_unsolicited` | Low    | heuristic |
//! | 9_000_030 | `anomaly_volume`| Medium   | statistical |
//! | 9_000_031 | `fan_out`       | Medium   | statistical |
//! | 9_000_032 | `unusual_port`  | Low      | behavioural |
//! | 9_000_033 | `off_hours`     | Low      | behavioural |
//! | 9_000_034 | `protocol_shift`| Low      | statistical |
//! | 9_000_035 | `new_talker`    | Low      | behavioural |
//! | 9_000_036 | `beaconing`     | High     | behavioural |
//! | 9_000_037 | `exfiltration`  | High     | statistical |
//! | 9_000_038 | `host_behaviour_change` | Low | ml (DBSCAN) |
//! | 9_000_039 | `ml_outlier`    | Low      | ml        |
//! | 9_000_040 | `ml_classified:<class>` | Medium | ml (Random Forest) |
//! | 9_000_041 | `fan_in`        | Medium   | statistical |

use std::sync::Arc;

use crate::engine::alert::{Alert, Detector, RuleId, Severity};
use crate::engine::record::Analyzed;

/// One built-in rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub id: u64,
    pub category: &'static str,
    pub severity: Severity,
    pub detector: Detector,
    pub description: &'static str,
}

const fn rule(
    id: u64,
    category: &'static str,
    severity: Severity,
    detector: Detector,
    description: &'static str,
) -> Builtin {
    Builtin {
        id,
        category,
        severity,
        detector,
        description,
    }
}

pub const XMAS_SCAN: Builtin = rule(
    9_000_001,
    "xmas_scan",
    Severity::Medium,
    Detector::Anomaly,
    "TCP Xmas scan (FIN+PSH+URG)",
);
pub const NULL_SCAN: Builtin = rule(
    9_000_002,
    "null_scan",
    Severity::Medium,
    Detector::Anomaly,
    "TCP NULL scan (no flags)",
);
pub const FIN_SCAN: Builtin = rule(
    9_000_003,
    "fin_scan",
    Severity::Medium,
    Detector::Anomaly,
    "TCP FIN scan (lone FIN outside a connection)",
);
pub const SYN_FIN: Builtin = rule(
    9_000_004,
    "syn_fin",
    Severity::Medium,
    Detector::Anomaly,
    "TCP SYN+FIN (illegal flag combination)",
);
pub const INVALID_FLAGS: Builtin = rule(
    9_000_005,
    "invalid_flags",
    Severity::Low,
    Detector::Anomaly,
    "TCP illegal flag combination",
);
pub const LAND: Builtin = rule(
    9_000_006,
    "land",
    Severity::High,
    Detector::Anomaly,
    "LAND attack (same source and destination address and port)",
);
pub const PORT_SCAN: Builtin = rule(
    9_000_010,
    "port_scan",
    Severity::Medium,
    Detector::Heuristic,
    "Port scan",
);
pub const HOST_SWEEP: Builtin = rule(
    9_000_011,
    "host_sweep",
    Severity::Medium,
    Detector::Heuristic,
    "Host sweep (one port on many hosts)",
);
pub const BRUTE_FORCE: Builtin = rule(
    9_000_012,
    "brute_force",
    Severity::High,
    Detector::Heuristic,
    "Login brute force",
);
pub const SYN_FLOOD: Builtin = rule(
    9_000_013,
    "syn_flood",
    Severity::High,
    Detector::Heuristic,
    "TCP SYN flood",
);
pub const ICMP_FLOOD: Builtin = rule(
    9_000_014,
    "icmp_flood",
    Severity::Medium,
    Detector::Heuristic,
    "ICMP echo flood",
);
pub const UDP_FLOOD: Builtin = rule(
    9_000_015,
    "udp_flood",
    Severity::High,
    Detector::Heuristic,
    "UDP flood",
);
pub const DNS_TUNNEL: Builtin = rule(
    9_000_016,
    "dns_tunnel",
    Severity::High,
    Detector::Heuristic,
    "DNS tunnelling",
);
pub const PROTOCOL_SCAN: Builtin = rule(
    9_000_017,
    "protocol_scan",
    Severity::Medium,
    Detector::Heuristic,
    "IP protocol scan",
);
pub const DHCP_FLOOD: Builtin = rule(
    9_000_018,
    "dhcp_flood",
    Severity::High,
    Detector::Heuristic,
    "DHCP flood",
);
pub const RECON_ICMP: Builtin = rule(
    9_000_019,
    "recon_icmp",
    Severity::Medium,
    Detector::Heuristic,
    "ICMP reconnaissance (timestamp, information or address-mask requests)",
);
pub const BACKSCATTER: Builtin = rule(
    9_000_020,
    "backscatter",
    Severity::Medium,
    Detector::Heuristic,
    "Unsolicited SYN-ACKs or RSTs from many sources (reflection or backscatter)",
);
pub const OS_FINGERPRINT: Builtin = rule(
    9_000_021,
    "os_fingerprint",
    Severity::Medium,
    Detector::Heuristic,
    "OS fingerprinting (nmap -O probe set)",
);
pub const DNS_UNSOLICITED: Builtin = rule(
    9_000_022,
    "dns_unsolicited",
    Severity::Low,
    Detector::Heuristic,
    "Unsolicited DNS answers (no query before them)",
);

pub const ANOMALY_VOLUME: Builtin = rule(
    9_000_030,
    "anomaly_volume",
    Severity::Medium,
    Detector::Statistical,
    "Traffic volume far above the host's baseline",
);
pub const FAN_OUT: Builtin = rule(
    9_000_031,
    "fan_out",
    Severity::Medium,
    Detector::Statistical,
    "Sudden growth in destinations or ports contacted",
);
pub const FAN_IN: Builtin = rule(
    9_000_041,
    "fan_in",
    Severity::Medium,
    Detector::Statistical,
    "Many distinct sources reaching one destination",
);
pub const UNUSUAL_PORT: Builtin = rule(
    9_000_032,
    "unusual_port",
    Severity::Low,
    Detector::Behavioural,
    "Service port this host has never used",
);
pub const OFF_HOURS: Builtin = rule(
    9_000_033,
    "off_hours",
    Severity::Low,
    Detector::Behavioural,
    "Activity outside the host's usual hours",
);
pub const PROTOCOL_SHIFT: Builtin = rule(
    9_000_034,
    "protocol_shift",
    Severity::Low,
    Detector::Statistical,
    "Protocol mix shifted away from the host's baseline",
);
pub const NEW_TALKER: Builtin = rule(
    9_000_035,
    "new_talker",
    Severity::Low,
    Detector::Behavioural,
    "New host talking on the network",
);
pub const BEACONING: Builtin = rule(
    9_000_036,
    "beaconing",
    Severity::High,
    Detector::Behavioural,
    "Beaconing: connections to one destination at a regular interval",
);
pub const EXFILTRATION: Builtin = rule(
    9_000_037,
    "exfiltration",
    Severity::High,
    Detector::Statistical,
    "Outbound volume to one destination far above the host's profile",
);
pub const HOST_BEHAVIOUR_CHANGE: Builtin = rule(
    9_000_038,
    "host_behaviour_change",
    Severity::Low,
    Detector::Ml,
    "A host left the cluster of hosts it behaved like (DBSCAN)",
);
pub const ML_OUTLIER: Builtin = rule(
    9_000_039,
    "ml_outlier",
    Severity::Low,
    Detector::Ml,
    "Flows unlike the learned traffic (Isolation Forest)",
);
/// Its alerts carry the category `ml_classified:<class>`, the class the flow was sorted into.
pub const ML_CLASSIFIED: Builtin = rule(
    9_000_040,
    "ml_classified",
    Severity::Medium,
    Detector::Ml,
    "Flows the trained classifier sorts into an attack class (Random Forest)",
);

/// Whether alerts of `category` come from the learning detectors (statistical, behavioural,
/// machine learning: ids from 9_000_030; `ml_classified:<class>` included).
pub fn is_learned(category: &str) -> bool {
    ALL.iter().filter(|b| b.id >= 9_000_030).any(|b| {
        category == b.category
            || category
                .strip_prefix(b.category)
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Every built-in rule, in id order.
pub const ALL: [Builtin; 31] = [
    XMAS_SCAN,
    NULL_SCAN,
    FIN_SCAN,
    SYN_FIN,
    INVALID_FLAGS,
    LAND,
    PORT_SCAN,
    HOST_SWEEP,
    BRUTE_FORCE,
    SYN_FLOOD,
    ICMP_FLOOD,
    UDP_FLOOD,
    DNS_TUNNEL,
    PROTOCOL_SCAN,
    DHCP_FLOOD,
    RECON_ICMP,
    BACKSCATTER,
    OS_FINGERPRINT,
    DNS_UNSOLICITED,
    ANOMALY_VOLUME,
    FAN_OUT,
    UNUSUAL_PORT,
    OFF_HOURS,
    PROTOCOL_SHIFT,
    NEW_TALKER,
    BEACONING,
    EXFILTRATION,
    HOST_BEHAVIOUR_CHANGE,
    ML_OUTLIER,
    ML_CLASSIFIED,
    FAN_IN,
];

/// Ids from here up are reserved for built-in rules; signature files may not use them.
pub const FIRST_BUILTIN_ID: u64 = 9_000_000;

impl Builtin {
    /// An alert of this rule on packet `a`, with the rule's own description.
    pub fn alert(&self, a: &Analyzed, explanation: String, evidence: serde_json::Value) -> Alert {
        self.alert_described(a, self.description, explanation, evidence)
    }

    /// An alert of this rule about traffic rather than one packet (a flow that ended, a host's
    /// window that closed): no packet number.
    pub fn alert_at(
        &self,
        ts: crate::engine::frame::Ts,
        explanation: String,
        evidence: serde_json::Value,
    ) -> Alert {
        Alert {
            ts,
            rule: RuleId(self.id),
            description: Arc::from(self.description),
            severity: self.severity,
            category: Arc::from(self.category),
            detector: self.detector,
            packet: 0,
            flow_id: None,
            explanation,
            evidence,
        }
    }

    /// An alert of this rule with a more specific description (e.g. "Slow port scan").
    pub fn alert_described(
        &self,
        a: &Analyzed,
        description: &str,
        explanation: String,
        evidence: serde_json::Value,
    ) -> Alert {
        Alert {
            ts: a.frame.ts,
            rule: RuleId(self.id),
            description: Arc::from(description),
            severity: self.severity,
            category: Arc::from(self.category),
            detector: self.detector,
            packet: a.pcap_cnt,
            flow_id: None,
            explanation,
            evidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_categories_are_the_learning_detectors() {
        for c in [
            "anomaly_volume",
            "beaconing",
            "unusual_port",
            "off_hours",
            "protocol_shift",
        ] {
            assert!(is_learned(c), "{c}");
        }
        assert!(is_learned("host_behaviour_change") && is_learned("ml_outlier"));
        assert!(is_learned("ml_classified:port_scan"));
        assert!(!is_learned("ml_classifiedx") && !is_learned("port_scan"));
        assert!(!is_learned("brute_force") && !is_learned("dhcp_flood"));
    }

    #[test]
    fn ids_are_unique_reserved_and_one_per_category() {
        let mut ids: Vec<u64> = ALL.iter().map(|b| b.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        assert!(ALL.iter().all(|b| b.id >= FIRST_BUILTIN_ID));
        let mut cats: Vec<&str> = ALL.iter().map(|b| b.category).collect();
        cats.sort_unstable();
        cats.dedup();
        assert_eq!(cats.len(), ALL.len());
    }
}
