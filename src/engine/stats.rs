//! Decoder, flow and detection counters, kept by the aggregator and printed in the run summary
//! and in EVE `stats` events (shaped as Suricata nests them).

use std::collections::BTreeMap;

use super::alert::Severity;
use super::frame::{LinkType, RawFrame};
use super::packet::{Decoded, Proto};

/// Counters of what the decoder saw. Every packet lands in exactly one `by_proto` bucket and,
/// when it could not be decoded fully, in one `issues` bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub pkts: u64,
    pub bytes: u64,
    pub ethernet: u64,
    pub sll: u64,
    pub sll2: u64,
    pub raw: u64,
    pub null: u64,
    pub vlan: u64,
    pub vlan_qinq: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub ipv4_frag: u64,
    pub ipv6_frag: u64,
    pub dns: u64,
    pub by_proto: BTreeMap<Proto, u64>,
    /// `DecodeIssue::key()` → count (`truncated.ipv4`, `linktype.105`, `ethertype.0x88cc` …).
    pub issues: BTreeMap<String, u64>,
    /// Packets with a truncated or malformed header.
    pub invalid: u64,
    /// Packets of an unsupported link type or unknown ethertype.
    pub unsupported: u64,
}

impl DecodeStats {
    pub fn record(&mut self, frame: &RawFrame, d: &Decoded) {
        self.pkts += 1;
        self.bytes += u64::from(frame.orig_len);
        match frame.linktype {
            LinkType::ETHERNET => self.ethernet += 1,
            LinkType::LINUX_SLL => self.sll += 1,
            LinkType::LINUX_SLL2 => self.sll2 += 1,
            LinkType::NULL | LinkType::LOOP => self.null += 1,
            LinkType::RAW
            | LinkType::RAW_BSD12
            | LinkType::RAW_BSD14
            | LinkType::IPV4
            | LinkType::IPV6 => {
                self.raw += 1;
            }
            _ => {}
        }
        match d.vlans.len() {
            0 => {}
            1 => self.vlan += 1,
            _ => self.vlan_qinq += 1,
        }
        if let Some(ip) = &d.ip {
            let frag = ip.fragment.is_some();
            if ip.src.is_ipv4() {
                self.ipv4 += 1;
                self.ipv4_frag += u64::from(frag);
            } else {
                self.ipv6 += 1;
                self.ipv6_frag += u64::from(frag);
            }
        }
        self.dns += u64::from(d.dns.is_some());
        *self.by_proto.entry(d.proto()).or_default() += 1;
        if let Some(issue) = &d.issue {
            *self.issues.entry(issue.key()).or_default() += 1;
            if issue.is_error() {
                self.invalid += 1;
            } else {
                self.unsupported += 1;
            }
        }
    }

    pub fn count(&self, p: Proto) -> u64 {
        self.by_proto.get(&p).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, o: &DecodeStats) {
        let DecodeStats {
            pkts,
            bytes,
            ethernet,
            sll,
            sll2,
            raw,
            null,
            vlan,
            vlan_qinq,
            ipv4,
            ipv6,
            ipv4_frag,
            ipv6_frag,
            dns,
            by_proto,
            issues,
            invalid,
            unsupported,
        } = o;
        self.pkts += pkts;
        self.bytes += bytes;
        self.ethernet += ethernet;
        self.sll += sll;
        self.sll2 += sll2;
        self.raw += raw;
        self.null += null;
        self.vlan += vlan;
        self.vlan_qinq += vlan_qinq;
        self.ipv4 += ipv4;
        self.ipv6 += ipv6;
        self.ipv4_frag += ipv4_frag;
        self.ipv6_frag += ipv6_frag;
        self.dns += dns;
        self.invalid += invalid;
        self.unsupported += unsupported;
        for (k, v) in by_proto {
            *self.by_proto.entry(*k).or_default() += v;
        }
        for (k, v) in issues {
            *self.issues.entry(k.clone()).or_default() += v;
        }
    }
}

/// Capture-side counters: what libpcap and the pipeline's queues report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames the source handed over.
    pub received: u64,
    /// libpcap `ps_drop`: dropped by the kernel for lack of buffer space.
    pub kernel_drops: u64,
    /// libpcap `ps_ifdrop`: dropped by the interface or driver.
    pub if_drops: u64,
    /// Frames dropped because the analysis queue was full (live capture only).
    pub queue_drops: u64,
}

/// Flow table counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub created: u64,
    pub active: u64,
    pub timed_out: u64,
    /// Flows pushed out because the table was at its cap.
    pub evicted: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmpv4: u64,
    pub icmpv6: u64,
}

/// Everything a `stats` event or the end-of-run summary reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub decoder: DecodeStats,
    pub capture: CaptureStats,
    pub flow: FlowStats,
    pub alerts: BTreeMap<Severity, u64>,
    /// Rows the SQLite writer could not keep up with and dropped (live only).
    pub db_drops: u64,
    /// EVE events lost to write errors (a full disk): at least the events written after the
    /// first failure, which ends the EVE output for the run.
    pub eve_lost: u64,
    /// Frames the pcap log lost to write errors (a full disk), from the first failure on.
    pub pcap_lost: u64,
    /// Wall-clock seconds the run has taken (filled by the pipeline, not the engine).
    pub uptime_secs: f64,
    /// Where the learning detectors stand.
    pub learning: LearningStats,
    /// TCP stream reassembly.
    pub stream: StreamStats,
    /// The network-wide baselines against the current window (none when they are off).
    pub baselines: Option<BaselineView>,
}

/// Network-wide baseline features shown in the console, at most.
pub const BASELINE_ROWS: usize = 3;

/// One network-wide feature: the current window against its learned band.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BaselineRow {
    pub feature: &'static str,
    /// Bytes (shown as sizes) rather than a count.
    pub bytes: bool,
    /// The open window so far.
    pub now: f64,
    /// The last window that closed, when one has.
    pub last: Option<f64>,
    /// Where the last closed window lay against the band it was judged by (the band before
    /// it was learned): below (-1), inside (0) or above (1); 0 while learning.
    pub last_side: i8,
    pub mean: f64,
    /// The spread an alert's z-score divides by (the standard deviation, floored).
    pub spread: f64,
}

impl BaselineRow {
    /// The learned band, `mean ± k·spread` (never below zero).
    pub fn band(&self, k: f64) -> (f64, f64) {
        (
            (self.mean - k * self.spread).max(0.0),
            self.mean + k * self.spread,
        )
    }

    /// Where `v` lies against the band: below (-1), inside (0) or above (1).
    pub fn side(&self, v: f64, k: f64) -> i8 {
        let (lo, hi) = self.band(k);
        if v > hi {
            1
        } else if v < lo {
            -1
        } else {
            0
        }
    }
}

/// The whole network's baselines as the console shows them: small and `Copy`, it travels in
/// every `Stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BaselineView {
    /// Windows the network baseline has learned.
    pub windows: u64,
    /// Windows it must learn before it alerts.
    pub warmup: u64,
    /// Seconds per window.
    pub window_secs: u64,
    /// `k`: a value more than `k` spreads from the mean is anomalous.
    pub threshold: f64,
    pub rows: [BaselineRow; BASELINE_ROWS],
}

impl BaselineView {
    pub fn learning(&self) -> bool {
        self.windows < self.warmup
    }
}

/// Where the statistical and machine-learning detectors stand (status bar, summary).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearningStats {
    /// Host profiles held.
    pub profiles: u64,
    /// The baselines have not seen enough windows to alert yet.
    pub baseline_learning: bool,
    /// The Isolation Forest has not been trained yet.
    pub forest_learning: bool,
}

/// What TCP stream reassembly counted (see `engine::stream`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub segments: u64,
    pub reassembled_bytes: u64,
    pub out_of_order: u64,
    pub overlaps: u64,
    pub overlap_conflicts: u64,
    pub gaps: u64,
    pub depth_reached: u64,
    pub memcap_drops: u64,
    /// Bytes held now.
    pub memuse: u64,
}

impl StreamStats {
    /// From the stream detector's counters (`stream_segments`, …).
    pub fn from_counters(counters: &[(&'static str, u64)]) -> Self {
        let get = |k: &str| {
            counters
                .iter()
                .find(|(n, _)| n.strip_prefix("stream_") == Some(k))
                .map_or(0, |(_, v)| *v)
        };
        StreamStats {
            segments: get("segments"),
            reassembled_bytes: get("reassembled_bytes"),
            out_of_order: get("out_of_order"),
            overlaps: get("overlaps"),
            overlap_conflicts: get("overlap_conflicts"),
            gaps: get("gaps"),
            depth_reached: get("depth_reached"),
            memcap_drops: get("memcap_drops"),
            memuse: get("memuse"),
        }
    }

    /// `120 segments, 80000 bytes reassembled, 3 out of order, …`.
    pub fn line(&self) -> String {
        format!(
            "{} segments, {} bytes reassembled, {} out of order, {} overlaps ({} with different \
             data), {} gaps, {} at depth, {} memcap drops",
            self.segments,
            self.reassembled_bytes,
            self.out_of_order,
            self.overlaps,
            self.overlap_conflicts,
            self.gaps,
            self.depth_reached,
            self.memcap_drops
        )
    }
}

impl LearningStats {
    /// From the learning detectors' counters.
    pub fn from_counters(counters: &[(&'static str, u64)]) -> Self {
        let get = |k: &str| counters.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        LearningStats {
            profiles: get("profiles").unwrap_or(0),
            baseline_learning: get("baseline_learning").is_some_and(|v| v > 0),
            forest_learning: get("forest_learning").is_some_and(|v| v > 0),
        }
    }

    /// `baselines learning, forest ready, 12 host profiles`.
    pub fn line(&self) -> String {
        format!(
            "baselines {}, isolation forest {}, {} host profiles",
            if self.baseline_learning {
                "learning"
            } else {
                "ready"
            },
            if self.forest_learning {
                "learning"
            } else {
                "ready"
            },
            self.profiles
        )
    }
}

impl Stats {
    pub fn alerts_total(&self) -> u64 {
        self.alerts.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::frame::Ts;
    use crate::engine::packet::DecodeIssue;

    #[test]
    fn record_counts_issue_and_proto() {
        let mut s = DecodeStats::default();
        let f = RawFrame {
            ts: Ts(0),
            linktype: LinkType(147),
            iface: 0,
            orig_len: 10,
            data: vec![0; 10],
        };
        let d = Decoded {
            issue: Some(DecodeIssue::UnsupportedLinkType(147)),
            ..Decoded::default()
        };
        s.record(&f, &d);
        assert_eq!(s.pkts, 1);
        assert_eq!(s.bytes, 10);
        assert_eq!(s.unsupported, 1);
        assert_eq!(s.invalid, 0);
        assert_eq!(s.issues.get("linktype.147"), Some(&1));
        assert_eq!(s.count(Proto::Unknown), 1);
        let mut t = DecodeStats::default();
        t.merge(&s);
        t.merge(&s);
        assert_eq!(t.pkts, 2);
        assert_eq!(t.issues.get("linktype.147"), Some(&2));
    }
}
