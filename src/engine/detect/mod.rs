//! Detection: the two places detectors run, and the set the pipeline runs.
//!
//! `PacketDetector`s look at one packet at a time and may run on any analysis worker (signature
//! matching). `StatefulDetector`s see every packet in capture order on the aggregator thread
//! (protocol anomalies with per-source suppression, scan / brute-force / flood / DNS-tunnel
//! heuristics); their memory must stay bounded. Both take time only from the packets.

pub mod anomaly;
pub mod builtin;
pub mod config;
pub mod heuristics;
pub mod signature;
mod table;
#[cfg(test)]
pub(crate) mod testutil;

use std::sync::Arc;

use crate::engine::alert::Alert;
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
    /// Named counters about the detector's own state (entries tracked, entries dropped at the
    /// cap), shown in stats.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// The detectors a pipeline runs.
#[derive(Default)]
pub struct DetectorSet {
    pub packet: Vec<Box<dyn PacketDetector>>,
    pub stateful: Vec<Box<dyn StatefulDetector>>,
}

impl DetectorSet {
    pub fn is_empty(&self) -> bool {
        self.packet.is_empty() && self.stateful.is_empty()
    }
}

impl DetectorSet {
    /// Every built-in detector with `cfg`'s thresholds, plus signature matching over
    /// `signatures` (keep a clone of the handle to swap in a reloaded set).
    pub fn defaults(cfg: &DetectConfig, signatures: Arc<dyn SignatureSource>) -> Self {
        let lim = &cfg.limits;
        DetectorSet {
            packet: vec![Box::new(signature::SignatureDetector::new(signatures))],
            stateful: vec![
                Box::new(anomaly::AnomalyDetector::new(&cfg.anomaly, lim)),
                Box::new(heuristics::ScanDetector::new(&cfg.scan, lim)),
                Box::new(heuristics::ProtocolScanDetector::new(&cfg.scan, lim)),
                Box::new(heuristics::BruteForceDetector::new(&cfg.brute_force, lim)),
                Box::new(heuristics::FloodDetector::new(&cfg.flood, lim)),
                Box::new(heuristics::DhcpFloodDetector::new(&cfg.flood, lim)),
                Box::new(heuristics::DnsTunnelDetector::new(&cfg.dns_tunnel, lim)),
            ],
        }
    }
}
