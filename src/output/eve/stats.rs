//! The EVE `stats` object, nested as Suricata's `output-json-stats.c` nests its counters:
//! `uptime`, `capture`, `decoder` (with decode problems under `decoder.event.<layer>.<reason>`),
//! `defrag`, `flow`, `detect`, `tcp` (stream reassembly), each with only the keys Suricata's
//! EVE schema knows (decode problems without a Suricata counter are left out of
//! `decoder.event`; `decoder.invalid` still counts them). Counters Suricata does not have are
//! written only as extensions (`[output] eve_extensions`), under new keys:
//! `capture.queue_drops`, `decoder.unsupported`, `detect.alerts_by_severity`, `tcp_reassembly`
//! (segments, bytes, out of order), `store`, and `response` — actions by outcome and kind,
//! success rate, packet-to-block time — when the run can act.
//!
//! Serialized by the EVE writer on the output thread, once per stats interval and at the
//! end of a run; building the small maps here allocates, which is fine at that rate.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use super::json::Obj;
use super::Body;
use crate::engine::packet::Proto;
use crate::engine::response_metrics::ResponseMetrics;
use crate::engine::stats::{DecodeStats, Stats};

pub(super) struct StatsBody<'a> {
    pub stats: &'a Stats,
    pub response: Option<&'a ResponseMetrics>,
    /// Add the counters Suricata lacks.
    pub extensions: bool,
}

impl Body for StatsBody<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let mut obj = StatsObj::new(self.stats);
        obj.response = self.response.map(Response::new);
        if !self.extensions {
            obj.capture.queue_drops = None;
            obj.decoder.unsupported = None;
            obj.detect.alerts_by_severity = None;
            obj.store = None;
            obj.tcp_reassembly = None;
        }
        m.value("stats", &obj)
    }
}

#[derive(Serialize)]
struct Response<'a> {
    actions: u64,
    by_outcome: &'a BTreeMap<String, u64>,
    by_action: &'a BTreeMap<String, u64>,
    /// Carried out / attempted (refusals are not attempts); null before the first attempt.
    success_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_to_block_ms: Option<TimeToBlock>,
}

#[derive(Serialize)]
struct TimeToBlock {
    count: u64,
    mean: f64,
    median: f64,
    max: f64,
    last: f64,
}

impl<'a> Response<'a> {
    fn new(m: &'a ResponseMetrics) -> Self {
        Response {
            actions: m.total(),
            by_outcome: &m.by_outcome,
            by_action: &m.by_action,
            success_rate: m.success_rate(),
            time_to_block_ms: m.latency().map(|l| TimeToBlock {
                count: l.count,
                mean: l.mean_ms,
                median: l.median_ms,
                max: l.max_ms,
                last: l.last_ms,
            }),
        }
    }
}

#[derive(Serialize)]
struct StatsObj<'a> {
    uptime: u64,
    capture: Capture,
    decoder: Decoder,
    defrag: Defrag,
    flow: Flow,
    detect: Detect,
    tcp: Tcp,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_reassembly: Option<TcpReassembly>,
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<Store>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<Response<'a>>,
    #[serde(skip)]
    _src: std::marker::PhantomData<&'a Stats>,
}

#[derive(Serialize)]
struct Capture {
    kernel_packets: u64,
    kernel_drops: u64,
    kernel_ifdrops: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_drops: Option<u64>,
}

#[derive(Serialize)]
struct Decoder {
    pkts: u64,
    bytes: u64,
    invalid: u64,
    ipv4: u64,
    ipv6: u64,
    ethernet: u64,
    raw: u64,
    null: u64,
    sll: u64,
    sll2: u64,
    tcp: u64,
    udp: u64,
    sctp: u64,
    icmpv4: u64,
    icmpv6: u64,
    gre: u64,
    esp: u64,
    arp: u64,
    unknown_ethertype: u64,
    vlan: u64,
    vlan_qinq: u64,
    avg_pkt_size: u64,
    /// `layer → reason → count`, Suricata's `decoder.event` tree.
    event: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Packets of an unsupported link type or ethertype, by value (`linktype.147`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    unsupported: Option<BTreeMap<String, u64>>,
}

#[derive(Serialize)]
struct Defrag {
    ipv4: Fragments,
    ipv6: Fragments,
}

#[derive(Serialize)]
struct Fragments {
    fragments: u64,
}

#[derive(Serialize)]
struct Flow {
    total: u64,
    active: u64,
    tcp: u64,
    udp: u64,
    icmpv4: u64,
    icmpv6: u64,
    mgr: FlowMgr,
}

#[derive(Serialize)]
struct FlowMgr {
    flows_timeout: u64,
    flows_evicted: u64,
}

#[derive(Serialize)]
struct Detect {
    alert: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts_by_severity: Option<BTreeMap<&'static str, u64>>,
}

/// Suricata's stream reassembly counters.
#[derive(Serialize)]
struct Tcp {
    overlap: u64,
    overlap_diff_data: u64,
    reassembly_gap: u64,
    reassembly_memuse: u64,
    segment_memcap_drop: u64,
    stream_depth_reached: u64,
}

/// Reassembly counters Suricata does not have (an extension).
#[derive(Serialize)]
struct TcpReassembly {
    segments: u64,
    reassembled_bytes: u64,
    out_of_order: u64,
}

#[derive(Serialize)]
struct Store {
    db_drops: u64,
}

impl<'a> StatsObj<'a> {
    fn new(s: &'a Stats) -> Self {
        let f = &s.flow;
        StatsObj {
            uptime: s.uptime_secs.max(0.0) as u64,
            capture: Capture {
                kernel_packets: s.capture.received,
                kernel_drops: s.capture.kernel_drops,
                kernel_ifdrops: s.capture.if_drops,
                queue_drops: Some(s.capture.queue_drops),
            },
            decoder: decoder(&s.decoder),
            defrag: Defrag {
                ipv4: Fragments {
                    fragments: s.decoder.ipv4_frag,
                },
                ipv6: Fragments {
                    fragments: s.decoder.ipv6_frag,
                },
            },
            flow: Flow {
                total: f.created,
                active: f.active,
                tcp: f.tcp,
                udp: f.udp,
                icmpv4: f.icmpv4,
                icmpv6: f.icmpv6,
                mgr: FlowMgr {
                    flows_timeout: f.timed_out,
                    flows_evicted: f.evicted,
                },
            },
            detect: Detect {
                alert: s.alerts_total(),
                alerts_by_severity: Some(
                    s.alerts
                        .iter()
                        .map(|(sev, n)| (severity_key(sev.eve_level()), *n))
                        .collect(),
                ),
            },
            tcp: Tcp {
                overlap: s.stream.overlaps,
                overlap_diff_data: s.stream.overlap_conflicts,
                reassembly_gap: s.stream.gaps,
                reassembly_memuse: s.stream.memuse,
                segment_memcap_drop: s.stream.memcap_drops,
                stream_depth_reached: s.stream.depth_reached,
            },
            tcp_reassembly: Some(TcpReassembly {
                segments: s.stream.segments,
                reassembled_bytes: s.stream.reassembled_bytes,
                out_of_order: s.stream.out_of_order,
            }),
            store: Some(Store {
                db_drops: s.db_drops,
            }),
            response: None,
            _src: std::marker::PhantomData,
        }
    }
}

fn severity_key(level: u8) -> &'static str {
    match level {
        1 => "critical",
        2 => "high",
        3 => "medium",
        _ => "low",
    }
}

fn decoder(d: &DecodeStats) -> Decoder {
    let mut event: BTreeMap<&'static str, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut unsupported = BTreeMap::new();
    let mut unknown_ethertype = 0;
    for (key, &n) in &d.issues {
        if let Some((layer, reason)) = issue_event(key) {
            *event.entry(layer).or_default().entry(reason).or_default() += n;
        }
        if key.starts_with("linktype.") || key.starts_with("ethertype.") {
            unsupported.insert(key.clone(), n);
        }
        if key.starts_with("ethertype.") {
            unknown_ethertype += n;
        }
    }
    Decoder {
        pkts: d.pkts,
        bytes: d.bytes,
        invalid: d.invalid,
        ipv4: d.ipv4,
        ipv6: d.ipv6,
        ethernet: d.ethernet,
        raw: d.raw,
        null: d.null,
        sll: d.sll,
        sll2: d.sll2,
        tcp: d.count(Proto::Tcp),
        udp: d.count(Proto::Udp),
        sctp: d.count(Proto::OtherIp(132)),
        icmpv4: d.count(Proto::Icmp),
        icmpv6: d.count(Proto::Icmpv6),
        gre: d.count(Proto::OtherIp(47)),
        esp: d.count(Proto::OtherIp(50)),
        arp: d.count(Proto::Arp),
        unknown_ethertype,
        vlan: d.vlan,
        vlan_qinq: d.vlan_qinq,
        avg_pkt_size: d.bytes.checked_div(d.pkts).unwrap_or(0),
        event,
        unsupported: Some(unsupported),
    }
}

/// Where a `DecodeIssue::key()` counts in Suricata's `decoder.event` tree, as
/// `(layer, reason)` with Suricata's names: `truncated.ipv4` → `ipv4.pkt_too_small`,
/// `malformed.tcp.data_offset` → `tcp.hlen_too_small`, `ethertype.0x88cc` →
/// `ethernet.unknown_ethertype`. `None` for problems Suricata has no counter for
/// (unsupported link types, AH).
fn issue_event(key: &str) -> Option<(&'static str, &'static str)> {
    if key.starts_with("ethertype.") {
        return Some(("ethernet", "unknown_ethertype"));
    }
    ISSUE_EVENTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, layer, reason)| (layer, reason))
}

/// nsm-tui's decode problem keys and the Suricata decoder event each counts as.
const ISSUE_EVENTS: [(&str, &str, &str); 30] = [
    ("truncated.ethernet", "ethernet", "pkt_too_small"),
    ("truncated.arp", "arp", "pkt_too_small"),
    ("truncated.vlan", "vlan", "header_too_small"),
    ("truncated.mpls", "mpls", "pkt_too_small"),
    ("truncated.null", "ltnull", "pkt_too_small"),
    ("truncated.sll", "sll", "pkt_too_small"),
    ("truncated.sll2", "sll2", "pkt_too_small"),
    ("truncated.ip", "ipv4", "pkt_too_small"),
    ("truncated.ipv4", "ipv4", "pkt_too_small"),
    ("truncated.ipv6", "ipv6", "pkt_too_small"),
    ("truncated.ipv6_ext", "ipv6", "trunc_exthdr"),
    ("truncated.tcp", "tcp", "pkt_too_small"),
    ("truncated.udp", "udp", "pkt_too_small"),
    ("truncated.sctp", "sctp", "pkt_too_small"),
    ("truncated.icmp", "icmpv4", "pkt_too_small"),
    ("truncated.icmpv6", "icmpv6", "pkt_too_small"),
    ("malformed.arp.addr_len", "arp", "invalid_pkt"),
    ("malformed.ip.version", "ipraw", "invalid_ip_version"),
    ("malformed.ipv4.ihl", "ipv4", "hlen_too_small"),
    (
        "malformed.ipv4.total_len",
        "ipv4",
        "iplen_smaller_than_hlen",
    ),
    ("malformed.ipv4.version", "ipv4", "wrong_ip_version"),
    ("malformed.ipv6.version", "ipv6", "wrong_ip_version"),
    ("malformed.ipv6.hop_by_hop", "ipv6", "exthdr_invalid_optlen"),
    ("malformed.null.family", "ltnull", "unsupported_type"),
    ("malformed.tcp.data_offset", "tcp", "hlen_too_small"),
    ("malformed.tcp.options", "tcp", "invalid_optlen"),
    ("malformed.udp", "udp", "len_invalid"),
    ("malformed.tcp", "tcp", "hlen_too_small"),
    ("malformed.ipv4", "ipv4", "hlen_too_small"),
    ("malformed.ipv6", "ipv6", "wrong_ip_version"),
];
