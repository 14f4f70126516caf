//! Flow records made to order for the learning detectors' unit tests.

use std::net::{IpAddr, Ipv4Addr};

use crate::engine::community_id::CommunityId;
use crate::engine::flow::{EndReason, FlowRecord, FlowShape, FlowState, TcpState, TcpSummary};
use crate::engine::frame::Ts;
use crate::engine::packet::Transport;

/// An established TCP flow `src → dst:dport` starting at `start` seconds, lasting `dur`
/// seconds, with `(out, in)` packets and bytes.
pub fn flow(
    src: [u8; 4],
    dst: [u8; 4],
    dport: u16,
    start: i64,
    dur: f64,
    pkts: (u64, u64),
    bytes: (u64, u64),
) -> FlowRecord {
    let (s, d) = (
        IpAddr::V4(Ipv4Addr::from(src)),
        IpAddr::V4(Ipv4Addr::from(dst)),
    );
    let start_ts = Ts::from_parts(start, 0);
    let n = pkts.0 + pkts.1;
    let mean = (bytes.0 + bytes.1) as f64 / n.max(1) as f64;
    let gap = dur / (n.saturating_sub(1)).max(1) as f64;
    FlowRecord {
        flow_id: 1,
        community_id: CommunityId::of(0, s, d, 6, &Transport::None),
        app_proto: None,
        ip_proto: 6,
        src_ip: s,
        dest_ip: d,
        src_port: 40000,
        dest_port: dport,
        vlans: Vec::new(),
        icmp: None,
        shape: FlowShape {
            size_sq: mean * mean * n as f64,
            gap_sum: gap * (n.saturating_sub(1)) as f64,
            gap_sq: gap * gap * (n.saturating_sub(1)) as f64,
            syn: 2,
            fin: 2,
            rst: 0,
            psh: 2,
            entropy: Some(4.5),
            dns_name: None,
        },
        pkts_toserver: pkts.0,
        pkts_toclient: pkts.1,
        bytes_toserver: bytes.0,
        bytes_toclient: bytes.1,
        start: start_ts,
        end: Ts(start_ts.0 + (dur * 1e9) as i64),
        state: FlowState::Closed,
        tcp: Some(TcpSummary {
            state: TcpState::Closed,
            flags_ts: 0x1b,
            flags_tc: 0x1b,
        }),
        reason: EndReason::Closed,
        alerted: false,
    }
}
