//! The decoded view of one frame: link, network and transport headers plus DNS and the
//! application-layer record (HTTP, TLS, SSH), as plain values.
//!
//! Produced by `engine::decode` on an analysis worker; read by detectors, the flow table,
//! the EVE writer, the SQLite writer and (later) the console. Holds offsets into the frame's
//! bytes rather than copies, so decoding allocates only for DNS names.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::applayer::AppRecord;

/// TCP flag bits as they sit in the header (NS in bit 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x01;
    pub const SYN: u16 = 0x02;
    pub const RST: u16 = 0x04;
    pub const PSH: u16 = 0x08;
    pub const ACK: u16 = 0x10;
    pub const URG: u16 = 0x20;
    pub const ECE: u16 = 0x40;
    pub const CWR: u16 = 0x80;
    pub const NS: u16 = 0x100;

    pub fn has(self, bits: u16) -> bool {
        self.0 & bits == bits
    }
    /// Only the six classic flags (FIN SYN RST PSH ACK URG), as scan detectors compare them.
    pub fn classic(self) -> u16 {
        self.0 & 0x3f
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump's letters: `S` SYN, `F` FIN, `R` RST, `P` PSH, `.` ACK, `U` URG, `E` ECE, `W` CWR.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LETTERS: [(u16, char); 8] = [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
            (TcpFlags::ACK, '.'),
        ];
        if self.0 == 0 {
            return f.write_str("none");
        }
        for (bit, c) in LETTERS {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    pub src_port: u16,
    pub dst_port: u16,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Maximum segment size option, when present.
    pub mss: Option<u16>,
    /// Window scale option, when present.
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UdpInfo {
    pub src_port: u16,
    pub dst_port: u16,
}

/// IP protocol number of SCTP.
pub const PROTO_SCTP: u8 = 132;

/// The SCTP common header's ports (chunks are not decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SctpInfo {
    pub src_port: u16,
    pub dst_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcmpInfo {
    pub icmp_type: u8,
    pub code: u8,
}

/// The transport layer as far as it was decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    Tcp(TcpInfo),
    Udp(UdpInfo),
    Sctp(SctpInfo),
    Icmp(IcmpInfo),
    Icmpv6(IcmpInfo),
    /// An IP protocol number the decoder does not parse (counted by value), or a
    /// non-first fragment whose transport header is elsewhere.
    Other(u8),
    #[default]
    None,
}

impl Transport {
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self {
            Transport::Tcp(t) => Some((t.src_port, t.dst_port)),
            Transport::Udp(u) => Some((u.src_port, u.dst_port)),
            Transport::Sctp(s) => Some((s.src_port, s.dst_port)),
            _ => None,
        }
    }
    pub fn tcp(&self) -> Option<&TcpInfo> {
        match self {
            Transport::Tcp(t) => Some(t),
            _ => None,
        }
    }
}

/// IP fragmentation, marked rather than reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    pub id: u32,
    /// Offset in bytes.
    pub offset: u16,
    pub more: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The final protocol number after IPv6 extension headers.
    pub proto: u8,
    pub ttl: u8,
    /// Total length of the IP packet as the header states it.
    pub total_len: u32,
    pub fragment: Option<Fragment>,
    /// IPv4 header carried options.
    pub has_options: bool,
    /// Number of IPv6 extension headers walked.
    pub ext_headers: u8,
}

impl IpInfo {
    pub fn version(&self) -> u8 {
        if self.src.is_ipv4() {
            4
        } else {
            6
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpInfo {
    /// 1 request, 2 reply.
    pub operation: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuestion {
    pub name: String,
    pub qtype: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    /// Presentation form of the record data (address, name, text), empty when not rendered.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsInfo {
    pub id: u16,
    pub is_response: bool,
    pub opcode: u8,
    pub rcode: u8,
    pub questions: Vec<DnsQuestion>,
    pub answers: Vec<DnsAnswer>,
}

/// Why a packet could not be decoded completely. Counted by the aggregator under `key()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeIssue {
    /// The capture's link type has no decoder; counted by value.
    UnsupportedLinkType(u32),
    /// An ethertype the decoder does not handle; counted by value.
    UnknownEtherType(u16),
    /// A header ended before its stated length.
    Truncated(&'static str),
    /// A header's fields are impossible (bad version, bad length, bad checksum-free sanity check).
    Malformed(&'static str),
}

impl DecodeIssue {
    /// Whether this issue is an error (truncated/malformed) rather than an unsupported type.
    pub fn is_error(&self) -> bool {
        matches!(self, DecodeIssue::Truncated(_) | DecodeIssue::Malformed(_))
    }
    /// A stable counter name, e.g. `truncated.ipv4`, `malformed.tcp`, `ethertype.0x88cc`.
    pub fn key(&self) -> String {
        match self {
            DecodeIssue::UnsupportedLinkType(v) => format!("linktype.{v}"),
            DecodeIssue::UnknownEtherType(v) => format!("ethertype.0x{v:04x}"),
            DecodeIssue::Truncated(l) => format!("truncated.{l}"),
            DecodeIssue::Malformed(l) => format!("malformed.{l}"),
        }
    }
}

/// Which protocol a packet counts under in per-protocol statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Arp,
    /// An IP protocol without its own decoder (GRE, ESP, OSPF, SCTP, …).
    OtherIp(u8),
    /// A non-IP ethertype (LLDP, 802.1X, …).
    OtherEther(u16),
    /// Nothing could be decoded (unsupported link type or broken link header).
    Unknown,
}

impl Proto {
    /// Lower-case name as EVE and the console print it (`tcp`, `udp`, `ipv6-icmp`, …).
    pub fn name(self) -> String {
        match self {
            Proto::Tcp => "tcp".into(),
            Proto::Udp => "udp".into(),
            Proto::Icmp => "icmp".into(),
            Proto::Icmpv6 => "ipv6-icmp".into(),
            Proto::Arp => "arp".into(),
            Proto::OtherIp(n) => {
                ip_proto_name(n).map_or_else(|| format!("ip-proto-{n}"), str::to_string)
            }
            Proto::OtherEther(t) => format!("ethertype-0x{t:04x}"),
            Proto::Unknown => "unknown".into(),
        }
    }
    /// Suricata's EVE `proto` field: the IANA keyword as Suricata spells it (`TCP`, `UDP`,
    /// `ICMP`, `IPv6-ICMP`, `SCTP`, `GRE`, …), else the protocol number.
    pub fn eve_name(self) -> String {
        self.eve_keyword().map_or_else(
            || match self {
                Proto::OtherIp(n) => n.to_string(),
                other => other.name(),
            },
            str::to_string,
        )
    }

    /// The IANA keyword Suricata writes as EVE `proto`, for the IP protocols nsm-tui names.
    pub fn eve_keyword(self) -> Option<&'static str> {
        let n = match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Icmp => 1,
            Proto::Icmpv6 => 58,
            Proto::OtherIp(n) => n,
            Proto::Arp | Proto::OtherEther(_) | Proto::Unknown => return None,
        };
        Some(match n {
            1 => "ICMP",
            2 => "IGMP",
            4 => "IPv4",
            6 => "TCP",
            17 => "UDP",
            41 => "IPv6",
            47 => "GRE",
            50 => "ESP",
            51 => "AH",
            58 => "IPv6-ICMP",
            89 => "OSPFIGP",
            103 => "PIM",
            112 => "VRRP",
            132 => "SCTP",
            _ => return None,
        })
    }
}

/// IANA keyword for IP protocol numbers nsm-tui names.
pub fn ip_proto_name(n: u8) -> Option<&'static str> {
    Some(match n {
        1 => "icmp",
        2 => "igmp",
        4 => "ipip",
        6 => "tcp",
        17 => "udp",
        41 => "ipv6",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        132 => "sctp",
        _ => return None,
    })
}

/// A decoded frame. Offsets index into the `RawFrame::data` it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    /// VLAN ids from outermost to innermost (802.1Q, 802.1ad, QinQ); VLAN 0 is kept as 0.
    pub vlans: Vec<u16>,
    /// The ethertype after VLAN tags (or the one implied by the link type).
    pub ethertype: Option<u16>,
    pub ip: Option<IpInfo>,
    pub arp: Option<ArpInfo>,
    pub transport: Transport,
    /// Start of the transport payload in the frame bytes.
    pub payload_offset: usize,
    /// Length of the transport payload actually captured.
    pub payload_len: usize,
    pub dns: Option<Box<DnsInfo>>,
    /// The HTTP head, TLS hello or SSH banner a TCP payload starts with (boxed: most packets
    /// carry none, and `Decoded` stays small).
    pub app: Option<Box<AppRecord>>,
    /// The first problem met while decoding; earlier layers stay filled in.
    pub issue: Option<DecodeIssue>,
}

impl Decoded {
    /// The packet's source address: the IP source, or an ARP packet's sender (the address an
    /// incident is grouped by).
    pub fn source_addr(&self) -> Option<IpAddr> {
        match (&self.ip, &self.arp) {
            (Some(ip), _) => Some(ip.src),
            (None, Some(arp)) => Some(IpAddr::V4(arp.sender_ip)),
            _ => None,
        }
    }

    /// The packet's destination address: the IP destination, or an ARP packet's target.
    pub fn dest_addr(&self) -> Option<IpAddr> {
        match (&self.ip, &self.arp) {
            (Some(ip), _) => Some(ip.dst),
            (None, Some(arp)) => Some(IpAddr::V4(arp.target_ip)),
            _ => None,
        }
    }

    pub fn proto(&self) -> Proto {
        match (&self.transport, &self.ip, &self.arp) {
            (Transport::Tcp(_), _, _) => Proto::Tcp,
            (Transport::Udp(_), _, _) => Proto::Udp,
            (Transport::Icmp(_), _, _) => Proto::Icmp,
            (Transport::Icmpv6(_), _, _) => Proto::Icmpv6,
            (Transport::Sctp(_), _, _) => Proto::OtherIp(PROTO_SCTP),
            (Transport::Other(n), _, _) => Proto::OtherIp(*n),
            (Transport::None, Some(ip), _) => Proto::OtherIp(ip.proto),
            (Transport::None, None, Some(_)) => Proto::Arp,
            (Transport::None, None, None) => {
                self.ethertype.map_or(Proto::Unknown, Proto::OtherEther)
            }
        }
    }
    pub fn payload<'a>(&self, frame_data: &'a [u8]) -> &'a [u8] {
        let end = (self.payload_offset + self.payload_len).min(frame_data.len());
        frame_data
            .get(self.payload_offset.min(end)..end)
            .unwrap_or(&[])
    }
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.transport.ports()
    }
}
