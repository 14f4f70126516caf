//! Bidirectional flow tracking with idle expiry driven by capture time.
//!
//! The [`FlowTable`] lives on the single aggregator thread and sees every packet in capture
//! order: `update` per packet (a hash lookup and a few counter updates), `expire` per packet
//! (does real work at most once per capture-second), `drain` at shutdown. It never blocks and
//! never reads the clock. Ended flows come out as [`FlowRecord`]s for EVE `flow` events and the
//! SQLite `flows` table; per-packet results come out as [`FlowUpdate`]s for the detectors.
//!
//! Ending rules, modelled on Suricata: a flow ends when it has been idle for
//! `idle_timeout_secs` of capture time (`timeout`); a TCP flow closed by RST or by a complete
//! FIN exchange ends about one capture-second later, so stray retransmissions still land in it
//! (`closed`; Suricata logs these as `timeout` with state `closed` and so does the EVE writer),
//! or at once when a new SYN reuses its tuple; when the table is full, the flow whose deadline
//! is earliest (closed flows first, then the least recently seen, at one-second granularity)
//! is pushed out (`evicted`); whatever is left at the end of input ends as `shutdown`.

mod key;
mod shape;
mod table;
mod tcp;

#[cfg(test)]
mod tests;

use std::net::IpAddr;

pub use key::FlowKey;
pub use shape::{entropy, DnsName, FlowShape};
pub use table::FlowTable;
pub use tcp::TcpState;

use super::applayer::AppKind;
use super::community_id::CommunityId;
use super::frame::Ts;
use super::packet::Proto;

/// Flow table limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// Capture-time seconds without a packet after which a flow ends. Clamped to 1..=86400.
    pub idle_timeout_secs: u64,
    /// Most flows tracked at once; at the cap the oldest is evicted. At least 1.
    pub max_flows: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout_secs: 120,
            max_flows: 100_000,
        }
    }
}

/// Which way a packet travels within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

/// Application protocol, as far as nsm-tui tells it (by port and by what decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppProto {
    Dns,
    Http,
    Tls,
    Ssh,
}

impl From<AppKind> for AppProto {
    fn from(k: AppKind) -> Self {
        match k {
            AppKind::Http => AppProto::Http,
            AppKind::Tls => AppProto::Tls,
            AppKind::Ssh => AppProto::Ssh,
        }
    }
}

impl AppProto {
    /// Suricata's `app_proto` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Dns => "dns",
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Ssh => "ssh",
        }
    }
}

/// The flow identity events carry: small and `Copy`, handed out with every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowMeta {
    pub flow_id: u64,
    pub community_id: CommunityId,
    pub app_proto: Option<AppProto>,
    /// The flow's counters as of the packet it comes with, that packet included.
    pub counts: FlowCounts,
}

/// A flow's packets and bytes each way so far and its first packet's time: the `flow` object
/// Suricata writes in every alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowCounts {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: Ts,
}

/// What the flow table tells the aggregator about one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowUpdate {
    pub flow_id: u64,
    pub meta: FlowMeta,
    pub direction: Direction,
    /// Same as `direction == Direction::ToServer`.
    pub to_server: bool,
    /// This packet created the flow.
    pub is_new: bool,
    /// Counts include this packet.
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// TCP: the handshake completed (or a mid-stream pickup saw both sides); others: packets
    /// were seen both ways.
    pub established: bool,
    pub tcp_state: Option<TcpState>,
    pub start: Ts,
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    Timeout,
    Evicted,
    Closed,
    Shutdown,
}

impl EndReason {
    /// nsm-tui's name (`timeout`, `evicted`, `closed`, `shutdown`), as stored in SQLite.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Evicted => "evicted",
            EndReason::Closed => "closed",
            EndReason::Shutdown => "shutdown",
        }
    }
    /// Suricata's EVE `flow.reason` vocabulary: closed flows end by (a short) timeout there,
    /// and table-pressure evictions are `forced`.
    pub fn eve_name(self) -> &'static str {
        match self {
            EndReason::Timeout | EndReason::Closed => "timeout",
            EndReason::Evicted => "forced",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// Suricata's EVE `flow.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowState {
    /// One direction only, or a TCP handshake that never completed.
    New,
    Established,
    /// TCP closed by RST or FIN exchange.
    Closed,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
        }
    }
}

/// TCP details of an ended flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSummary {
    pub state: TcpState,
    /// OR of the low eight flag bits of every packet, client → server.
    pub flags_ts: u8,
    /// OR of the low eight flag bits of every packet, server → client.
    pub flags_tc: u8,
}

impl TcpSummary {
    /// Both directions' flags together (EVE `tcp.tcp_flags`).
    pub fn flags(&self) -> u8 {
        self.flags_ts | self.flags_tc
    }
}

/// ICMP type and code of a flow's first packet, and of the first packet back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpSummary {
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub response: Option<(u8, u8)>,
}

/// An ended flow, oriented client → server: everything EVE `flow` and SQLite `flows` need.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    pub flow_id: u64,
    pub community_id: CommunityId,
    pub app_proto: Option<AppProto>,
    /// IP protocol number.
    pub ip_proto: u8,
    pub src_ip: IpAddr,
    pub dest_ip: IpAddr,
    /// 0 for protocols without ports.
    pub src_port: u16,
    pub dest_port: u16,
    /// VLAN ids, outermost first (empty when untagged).
    pub vlans: Vec<u16>,
    pub icmp: Option<IcmpSummary>,
    /// Packet sizes, gaps, flag counts and first-payload entropy (the learning detectors'
    /// per-flow features).
    pub shape: FlowShape,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: Ts,
    pub end: Ts,
    pub state: FlowState,
    pub tcp: Option<TcpSummary>,
    pub reason: EndReason,
    pub alerted: bool,
}

impl FlowRecord {
    /// The protocol as statistics and the console name it.
    pub fn proto(&self) -> Proto {
        proto_of(self.ip_proto)
    }
    /// Whether the protocol carries ports (TCP, UDP, SCTP), so `src_port`/`dest_port` mean something.
    pub fn has_ports(&self) -> bool {
        matches!(self.ip_proto, 6 | 17 | 132)
    }
    /// Whole seconds between the first and last packet, as Suricata's `flow.age`.
    pub fn age_secs(&self) -> i64 {
        (self.end.secs() - self.start.secs()).max(0)
    }
    pub fn pkts(&self) -> u64 {
        self.pkts_toserver + self.pkts_toclient
    }
    pub fn bytes(&self) -> u64 {
        self.bytes_toserver + self.bytes_toclient
    }
}

/// `Proto` of an IP protocol number.
pub fn proto_of(ip_proto: u8) -> Proto {
    match ip_proto {
        6 => Proto::Tcp,
        17 => Proto::Udp,
        1 => Proto::Icmp,
        58 => Proto::Icmpv6,
        n => Proto::OtherIp(n),
    }
}
