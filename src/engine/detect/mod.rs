//! Detection: the two places detectors run, and the set the pipeline runs.
//!
//! `PacketDetector`s look at one packet at a time and may run on any analysis worker (signature
//! matching). `StatefulDetector`s see every packet in capture order on the aggregator thread
//! (protocol anomalies with per-source suppression, scan / brute-force / flood / DNS-tunnel
//! heuristics, signatures over reassembled TCP streams); their memory must stay bounded. Both
//! take time only from the packets.

pub mod anomaly;
pub mod builtin;
pub mod config;
pub mod heuristics;
pub mod learn;
pub mod ml;
pub mod once_per_flow;
mod port_set;
pub mod signature;
mod small_set;
pub mod stats;
pub mod stream_match;
mod table;
#[cfg(test)]
pub(crate) mod testutil;

use std::net::IpAddr;
use std::sync::Arc;

use crate::engine::alert::Alert;
use crate::engine::community_id::CommunityId;
use crate::engine::flow::{FlowCounts, FlowRecord};
use crate::engine::frame::{LinkType, RawFrame, Ts};
use crate::engine::packet::{Decoded, IpInfo, TcpInfo, Transport, UdpInfo};
use crate::engine::record::Analyzed;

pub use config::DetectConfig;
pub use signature::{FixedSignatures, SignatureSet, SignatureSource};

/// What the flow table knows about the packet's flow, handed to stateful detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowCtx {
    pub flow_id: u64,
    /// This packet created the flow.
    pub is_new: bool,
    /// The packet travels from the flow's client to its server.
    pub to_server: bool,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// The TCP three-way handshake completed.
    pub established: bool,
}

impl From<&crate::engine::flow::FlowUpdate> for FlowCtx {
    fn from(u: &crate::engine::flow::FlowUpdate) -> Self {
        FlowCtx {
            flow_id: u.flow_id,
            is_new: u.is_new,
            to_server: u.to_server,
            pkts_toserver: u.pkts_toserver,
            pkts_toclient: u.pkts_toclient,
            bytes_toserver: u.bytes_toserver,
            bytes_toclient: u.bytes_toclient,
            established: u.established,
        }
    }
}

/// A stateless per-packet detector; must be cheap to share between worker threads.
pub trait PacketDetector: Send + Sync {
    fn name(&self) -> &'static str;
    /// Push any alerts for this packet onto `out`.
    fn inspect(&self, a: &Analyzed, out: &mut Vec<Alert>);
}

/// A detector with memory across packets, run on the aggregator thread in capture order.
pub trait StatefulDetector: Send {
    fn name(&self) -> &'static str;
    fn observe(&mut self, a: &Analyzed, flow: Option<&FlowCtx>, out: &mut Vec<Alert>);
    /// The flow ended (timed out, evicted, or the input ended): drop what is kept about it.
    fn flow_ended(&mut self, _flow_id: u64) {}
    /// HTTP messages the last `observe` completed that the per-packet pass did not parse,
    /// appended to `out` (the stream pass: their EVE events).
    fn take_http(&mut self, _out: &mut Vec<crate::engine::applayer::HttpRecord>) {}
    /// Named counters about the detector's own state (entries tracked, entries dropped at the
    /// cap), shown in stats.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// An alert about traffic rather than one packet — a flow that ended, a host's window that
/// closed — with the addresses it is about (incidents group by `host`).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowAlert {
    pub alert: Alert,
    pub host: IpAddr,
    /// The other side, when there is one.
    pub peer: Option<IpAddr>,
    /// The flow's ports (host's, peer's) and protocol, when the alert is about one flow.
    pub ports: Option<(u16, u16)>,
    pub ip_proto: u8,
    /// The flow's packets and bytes each way and start, when the alert is about one flow.
    pub counts: Option<FlowCounts>,
}

impl FlowAlert {
    /// An alert about one flow: its client is the host, its server the peer.
    pub fn of_flow(mut alert: Alert, r: &FlowRecord) -> Self {
        alert.flow_id = Some(r.flow_id);
        FlowAlert {
            alert,
            host: r.src_ip,
            peer: Some(r.dest_ip),
            ports: r.has_ports().then_some((r.src_port, r.dest_port)),
            ip_proto: r.ip_proto,
            counts: Some(FlowCounts {
                pkts_toserver: r.pkts_toserver,
                pkts_toclient: r.pkts_toclient,
                bytes_toserver: r.bytes_toserver,
                bytes_toclient: r.bytes_toclient,
                start: r.start,
            }),
        }
    }

    /// An alert about a host's behaviour over a window.
    pub fn about(alert: Alert, host: IpAddr, peer: Option<IpAddr>) -> Self {
        FlowAlert {
            alert,
            host,
            peer,
            ports: None,
            ip_proto: 0,
            counts: None,
        }
    }

    fn transport(&self) -> Transport {
        match (self.ip_proto, self.ports) {
            (6, Some((src_port, dst_port))) => Transport::Tcp(TcpInfo {
                src_port,
                dst_port,
                ..TcpInfo::default()
            }),
            (17, Some((src_port, dst_port))) => Transport::Udp(UdpInfo { src_port, dst_port }),
            (0, _) => Transport::None,
            (p, _) => Transport::Other(p),
        }
    }

    /// A packet-shaped record carrying the addresses the alert is about (and the alert), so
    /// that EVE, SQLite and incident grouping treat it as any other alert: no bytes, packet
    /// number 0 (none).
    pub fn as_packet(&self) -> Analyzed {
        let dst = self.peer.unwrap_or(self.host);
        Analyzed {
            pcap_cnt: 0,
            frame: RawFrame {
                ts: self.alert.ts,
                linktype: LinkType::RAW,
                iface: 0,
                orig_len: 0,
                data: Vec::new(),
            },
            decoded: Decoded {
                ethertype: Some(if self.host.is_ipv4() { 0x0800 } else { 0x86dd }),
                ip: Some(IpInfo {
                    src: self.host,
                    dst,
                    proto: self.ip_proto,
                    ttl: 0,
                    total_len: 0,
                    fragment: None,
                    has_options: false,
                    ext_headers: 0,
                }),
                transport: self.transport(),
                ..Decoded::default()
            },
            alerts: Vec::new(),
            stream_http: Vec::new(),
        }
    }

    /// The Community ID of the flow the alert is about (of the host pair when it is about a
    /// host).
    pub fn community_id(&self, seed: u16) -> CommunityId {
        CommunityId::of(
            seed,
            self.host,
            self.peer.unwrap_or(self.host),
            self.ip_proto,
            &self.transport(),
        )
    }
}

/// A detector fed each flow as it ends, and capture time as it passes (statistical,
/// behavioural and machine-learning detection), on the aggregator thread.
pub trait FlowDetector: Send {
    fn name(&self) -> &'static str;
    fn flow_ended(&mut self, r: &FlowRecord, out: &mut Vec<FlowAlert>);
    /// Capture time reached `now` (about once per capture second).
    fn tick(&mut self, now: Ts, out: &mut Vec<FlowAlert>);
    /// The input ended (every flow was handed over): close what is open.
    fn finish(&mut self, _out: &mut Vec<FlowAlert>) {}
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    /// What the detector learned, to save: at the end (`now` = `None`), or during the run
    /// when a save is due at capture time `now`.
    fn export(&mut self, _now: Option<Ts>) -> Option<stats::Learned> {
        None
    }
    /// The network-wide baselines against the current window, for the console.
    fn baseline_view(&self) -> Option<crate::engine::stats::BaselineView> {
        None
    }
}

/// What earlier learning hands a run: baselines and profiles (the database's, else the model
/// file's) and the model file's Isolation Forest.
#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub baseline: Option<stats::Learned>,
    pub forest: Option<ml::forest::IsolationForest>,
}

/// The detectors a pipeline runs.
#[derive(Default)]
pub struct DetectorSet {
    pub packet: Vec<Box<dyn PacketDetector>>,
    pub stateful: Vec<Box<dyn StatefulDetector>>,
    pub flow: Vec<Box<dyn FlowDetector>>,
}

impl DetectorSet {
    pub fn is_empty(&self) -> bool {
        self.packet.is_empty() && self.stateful.is_empty() && self.flow.is_empty()
    }
}

impl DetectorSet {
    /// Every built-in detector with `cfg`'s thresholds, plus signature matching over
    /// `signatures` (keep a clone of the handle to swap in a reloaded set).
    pub fn defaults(cfg: &DetectConfig, signatures: Arc<dyn SignatureSource>) -> Self {
        Self::with_prior(cfg, signatures, Prior::default())
    }

    /// As `defaults`, the learning detectors starting from what was learned before.
    pub fn with_prior(
        cfg: &DetectConfig,
        signatures: Arc<dyn SignatureSource>,
        prior: Prior,
    ) -> Self {
        let lim = &cfg.limits;
        let mut baseline = stats::BaselineDetector::new(&cfg.baseline, &cfg.beaconing, cfg.learn);
        if let Some(l) = prior.baseline {
            baseline = baseline.with_learned(l);
        }
        let mut forest = ml::ForestDetector::new(&cfg.isolation_forest, cfg.learn);
        if let Some(f) = prior.forest {
            forest = forest.with_forest(f);
        }
        let mut stateful: Vec<Box<dyn StatefulDetector>> = vec![
            Box::new(anomaly::AnomalyDetector::new(&cfg.anomaly, lim)),
            Box::new(heuristics::ScanDetector::new(&cfg.scan, lim)),
            Box::new(heuristics::ProtocolScanDetector::new(&cfg.scan, lim)),
            Box::new(heuristics::BruteForceDetector::new(&cfg.brute_force, lim)),
            Box::new(heuristics::FloodDetector::new(&cfg.flood, lim)),
            Box::new(heuristics::DhcpFloodDetector::new(&cfg.flood, lim)),
            Box::new(heuristics::BackscatterDetector::new(&cfg.flood, lim)),
            Box::new(heuristics::ReconIcmpDetector::new(&cfg.scan, lim)),
            Box::new(heuristics::OsFingerprintDetector::new(&cfg.scan, lim)),
            Box::new(heuristics::DnsTunnelDetector::new(&cfg.dns_tunnel, lim)),
            Box::new(heuristics::DnsUnsolicitedDetector::new(
                &cfg.dns_tunnel,
                lim,
            )),
        ];
        if cfg.stream.enabled {
            stateful.push(Box::new(stream_match::StreamMatchDetector::new(
                &cfg.stream,
                signatures.clone(),
            )));
        }
        // Last: it sees every signature alert of the packet, the stream pass's included.
        stateful.push(Box::new(once_per_flow::OncePerFlow::new(
            signatures.clone(),
            lim,
        )));
        DetectorSet {
            packet: vec![Box::new(signature::SignatureDetector::new(
                signatures.clone(),
            ))],
            stateful,
            flow: vec![
                Box::new(baseline),
                Box::new(forest),
                Box::new(ml::dbscan::HostBehaviourDetector::new(
                    &cfg.dbscan,
                    cfg.learn,
                )),
            ],
        }
    }
}
