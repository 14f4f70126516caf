//! Values that leave the analysis stage: the analysed packet and the rows the stores write.
//!
//! `Analyzed` travels from an analysis worker to the aggregator; `PacketRow` from the
//! aggregator to the SQLite writer.

use std::net::IpAddr;
use std::sync::Arc;

use super::alert::{Alert, RuleId, Severity};
use super::applayer::HttpRecord;
use super::frame::{RawFrame, Ts};
use super::packet::{Decoded, Proto};

/// Bytes of payload kept per packet row.
pub const PAYLOAD_SNIPPET_LEN: usize = 64;

/// A frame with its decoding and the alerts that stateless detectors raised on it.
#[derive(Debug, Clone)]
pub struct Analyzed {
    /// 1-based position in the capture (Suricata's `pcap_cnt`).
    pub pcap_cnt: u64,
    pub frame: RawFrame,
    pub decoded: Decoded,
    pub alerts: Vec<Alert>,
    /// HTTP messages the stream pass completed on this packet that the per-packet pass did not
    /// parse (they started inside a segment, or their first line was split over two): their
    /// EVE `http` events come from here.
    pub stream_http: Vec<HttpRecord>,
}

/// The highest threat of a packet, as stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatRef {
    pub rule: RuleId,
    pub severity: Severity,
    pub category: Arc<str>,
}

/// One row of the `packets` table.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketRow {
    pub ts: Ts,
    pub pcap_cnt: u64,
    pub iface: Arc<str>,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub proto: Proto,
    pub length: u32,
    pub tcp_flags: Option<u16>,
    pub payload: Vec<u8>,
    pub flow_id: Option<u64>,
    pub threat: Option<ThreatRef>,
}

impl PacketRow {
    /// Bytes this row holds, its payload snippet included (the interface name and the threat's
    /// category are shared).
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.payload.capacity()
    }

    pub fn new(
        a: &Analyzed,
        iface: Arc<str>,
        flow_id: Option<u64>,
        threat: Option<ThreatRef>,
    ) -> Self {
        let d = &a.decoded;
        let payload = d.payload(&a.frame.data);
        PacketRow {
            ts: a.frame.ts,
            pcap_cnt: a.pcap_cnt,
            iface,
            src: d.ip.map(|ip| ip.src),
            dst: d.ip.map(|ip| ip.dst),
            src_port: d.ports().map(|p| p.0),
            dst_port: d.ports().map(|p| p.1),
            proto: d.proto(),
            length: a.frame.orig_len,
            tcp_flags: d.transport.tcp().map(|t| t.flags.0),
            payload: payload[..payload.len().min(PAYLOAD_SNIPPET_LEN)].to_vec(),
            flow_id,
            threat,
        }
    }
}
