//! Row values the aggregator builds for the SQLite writer: an alert with its packet's
//! addresses, an ended flow as plain fields, and a snapshot of the capture counters.
//!
//! Built on the aggregator and output threads and moved to the writer thread inside
//! `StoreMsg`.

use std::net::IpAddr;

use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::packet::{Decoded, Proto};
use crate::engine::record::PacketRow;
use crate::engine::stats::Stats;

/// One row of the `alerts` table: the alert plus the addresses of the packet it fired on.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    /// The alert, its evidence taken out (see `evidence`).
    pub alert: Alert,
    /// The evidence as the `evidence` column stores it (compact JSON), serialised when the
    /// row is made: a few hundred bytes instead of a tree of values while the row waits for
    /// its commit, and the serialising done on the output stage rather than the writer.
    pub evidence: Option<String>,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub proto: Proto,
}

/// The alert without its evidence, and the evidence as JSON text (`None` when there is none).
fn split_evidence(mut alert: Alert) -> (Alert, Option<String>) {
    let evidence = std::mem::take(&mut alert.evidence);
    let text = (!evidence.is_null()).then(|| evidence.to_string());
    (alert, text)
}

impl AlertRow {
    pub fn for_packet(alert: Alert, packet: &PacketRow) -> Self {
        let (alert, evidence) = split_evidence(alert);
        AlertRow {
            alert,
            evidence,
            src: packet.src,
            dst: packet.dst,
            src_port: packet.src_port,
            dst_port: packet.dst_port,
            proto: packet.proto,
        }
    }

    /// The row of `alert` of a packet, copying the alert but not its evidence tree.
    pub fn of_packet(alert: &Alert, packet: &PacketRow) -> Self {
        let mut row = AlertRow::for_packet(
            Alert {
                explanation: alert.explanation.clone(),
                description: alert.description.clone(),
                category: alert.category.clone(),
                evidence: serde_json::Value::Null,
                ..*alert
            },
            packet,
        );
        row.evidence = (!alert.evidence.is_null()).then(|| alert.evidence.to_string());
        row
    }

    /// Bytes this row holds, its strings included (the description and category are shared):
    /// what the queues and the writer's pending commit are bounded by.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.alert.explanation.capacity()
            + self.evidence.as_ref().map_or(0, String::capacity)
    }

    pub fn for_decoded(alert: Alert, decoded: &Decoded) -> Self {
        let (alert, evidence) = split_evidence(alert);
        AlertRow {
            alert,
            evidence,
            src: decoded.ip.map(|ip| ip.src),
            dst: decoded.ip.map(|ip| ip.dst),
            src_port: decoded.ports().map(|p| p.0),
            dst_port: decoded.ports().map(|p| p.1),
            proto: decoded.proto(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRow {
    pub flow_id: u64,
    pub community_id: String,
    /// Stored as `Proto::name` (`tcp`, `udp`, …).
    pub proto: Proto,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// Flow state at the end (`new`, `established`, `closed`, …).
    pub state: &'static str,
    pub first_ts: Ts,
    pub last_ts: Ts,
    /// Why the flow ended (`timeout`, `shutdown`, `forced`, …).
    pub reason: &'static str,
}

impl FlowRow {
    /// Bytes this row holds, its community id included.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.community_id.capacity()
    }
}

/// One row of the `capture_stats` table: a run's counters so far (totals since it started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureStatsRow {
    /// Wall-clock nanoseconds when the counters were read (not a capture time).
    pub ts: i64,
    /// The capture interface or file.
    pub source: String,
    /// Frames the source handed over.
    pub packets: u64,
    /// Bytes of the frames analysed (original lengths).
    pub bytes: u64,
    pub kernel_drops: u64,
    pub iface_drops: u64,
    /// Frames the analysis queue had no room for.
    pub queue_drops: u64,
    /// Frames with a truncated or malformed header.
    pub decode_errors: u64,
    /// Rows the SQLite writer's queue had no room for.
    pub db_drops: u64,
    /// Whether these are the run's final counters.
    pub run_ended: bool,
}

impl CaptureStatsRow {
    /// The row for `stats` of `source`, read at wall-clock time `ts` (ns).
    pub fn from_stats(ts: i64, source: &str, stats: &Stats, run_ended: bool) -> Self {
        CaptureStatsRow {
            ts,
            source: source.to_string(),
            packets: stats.capture.received,
            bytes: stats.decoder.bytes,
            kernel_drops: stats.capture.kernel_drops,
            iface_drops: stats.capture.if_drops,
            queue_drops: stats.capture.queue_drops,
            decode_errors: stats.decoder.invalid,
            db_drops: stats.db_drops,
            run_ended,
        }
    }
}
