//! Row values the aggregator builds for the SQLite writer: an alert with its packet's
//! addresses, and an ended flow as plain fields.
//!
//! Built on the aggregator thread and moved to the writer thread inside `StoreMsg`.

use std::net::IpAddr;

use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::packet::{Decoded, Proto};
use crate::engine::record::PacketRow;

/// One row of the `alerts` table: the alert plus the addresses of the packet it fired on.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub alert: Alert,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub proto: Proto,
}

impl AlertRow {
    /// The alert with the addresses of the packet row it fired on.
    pub fn for_packet(alert: Alert, packet: &PacketRow) -> Self {
        AlertRow {
            alert,
            src: packet.src,
            dst: packet.dst,
            src_port: packet.src_port,
            dst_port: packet.dst_port,
            proto: packet.proto,
        }
    }

    /// The alert with the addresses of a decoded frame.
    pub fn for_decoded(alert: Alert, decoded: &Decoded) -> Self {
        AlertRow {
            alert,
            src: decoded.ip.map(|ip| ip.src),
            dst: decoded.ip.map(|ip| ip.dst),
            src_port: decoded.ports().map(|p| p.0),
            dst_port: decoded.ports().map(|p| p.1),
            proto: decoded.proto(),
        }
    }
}

/// One row of the `flows` table, written when a flow ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRow {
    pub flow_id: u64,
    pub community_id: String,
    /// `Proto::name` of the flow (`tcp`, `udp`, …).
    pub proto: String,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// Flow state at the end (`new`, `established`, `closed`, …).
    pub state: String,
    pub first_ts: Ts,
    pub last_ts: Ts,
    /// Why the flow ended (`timeout`, `shutdown`, `forced`, …).
    pub reason: String,
}
