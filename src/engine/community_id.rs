//! Community ID v1 flow hashing, as Suricata and Zeek compute it, so that EVE records can be
//! joined with other monitors' logs on one string.
//!
//! Called by the flow table on the aggregator thread, once per new flow (a SHA-1 over at most
//! 40 bytes). Follows github.com/corelight/community-id-spec: the hash input is
//! `seed (2 bytes BE) | saddr | daddr | proto | 0 | sport (BE) | dport (BE)` with the endpoints
//! ordered so the smaller address (then port) comes first; ICMP and ICMPv6 use the message
//! type and its counterpart (or the code, for one-way messages) as ports, exactly as Zeek does.

use std::fmt;
use std::net::IpAddr;
use std::ops::Deref;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::packet::{Decoded, Transport, PROTO_SCTP};

const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;

/// Community ID of a flow whose protocol carries ports (TCP, UDP, SCTP, …).
///
/// For `proto` 1 (ICMP) and 58 (ICMPv6), `sport` and `dport` are read as the ICMP type and code
/// and mapped as [`community_id_v1_icmp`] does, since that is the only meaning ports have there.
pub fn community_id_v1(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
) -> String {
    id_v1(seed, src, dst, proto, sport, dport).to_string()
}

fn id_v1(seed: u16, src: IpAddr, dst: IpAddr, proto: u8, sport: u16, dport: u16) -> CommunityId {
    if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        let icmp_type = u8::try_from(sport).unwrap_or(u8::MAX);
        let code = u8::try_from(dport).unwrap_or(u8::MAX);
        return id_icmp(seed, src, dst, proto, icmp_type, code);
    }
    let (a, b, pa, pb) = order(src, dst, sport, dport);
    hash(seed, a, b, proto, Some((pa, pb)))
}

/// Community ID of an ICMP (`proto` 1) or ICMPv6 (`proto` 58) message.
///
/// Request/reply pairs (echo, timestamp, router and neighbour discovery, …) map to
/// `(type, counterpart)` and are ordered like ports so both directions hash alike; any other
/// message is one-way: `(type, code)` in packet order, never swapped.
pub fn community_id_v1_icmp(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    icmp_type: u8,
    code: u8,
) -> String {
    id_icmp(seed, src, dst, proto, icmp_type, code).to_string()
}

fn id_icmp(seed: u16, src: IpAddr, dst: IpAddr, proto: u8, icmp_type: u8, code: u8) -> CommunityId {
    let counterpart = if proto == PROTO_ICMPV6 {
        icmp6_counterpart(icmp_type)
    } else {
        icmp4_counterpart(icmp_type)
    };
    match counterpart {
        Some(other) => {
            let (a, b, pa, pb) = order(src, dst, u16::from(icmp_type), u16::from(other));
            hash(seed, a, b, proto, Some((pa, pb)))
        }
        None => hash(
            seed,
            src,
            dst,
            proto,
            Some((u16::from(icmp_type), u16::from(code))),
        ),
    }
}

/// Community ID of an IP protocol without ports (GRE, ESP, RSVP, …): addresses and protocol only.
pub fn community_id_v1_portless(seed: u16, src: IpAddr, dst: IpAddr, proto: u8) -> String {
    id_portless(seed, src, dst, proto).to_string()
}

fn id_portless(seed: u16, src: IpAddr, dst: IpAddr, proto: u8) -> CommunityId {
    let (a, b, _, _) = order(src, dst, 0, 0);
    hash(seed, a, b, proto, None)
}

/// Community ID of a decoded packet, or `None` when it has no IP layer.
///
/// SCTP is not decoded into ports by the engine, so it hashes as a portless protocol; that
/// differs from Suricata for SCTP only.
pub fn community_id_for(seed: u16, d: &Decoded) -> Option<String> {
    CommunityId::of_packet(seed, d).map(|c| c.to_string())
}

/// Length of every v1 Community ID: `1:` and 28 base64 characters of a SHA-1 digest.
const ID_LEN: usize = 30;

/// A Community ID v1 string held inline (no allocation, `Copy`), so flow updates can hand it
/// out per packet for free. Derefs to `str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommunityId([u8; ID_LEN]);

impl CommunityId {
    /// The ID of a decoded packet's flow, or `None` when it has no IP layer.
    pub fn of_packet(seed: u16, d: &Decoded) -> Option<CommunityId> {
        let ip = d.ip.as_ref()?;
        Some(CommunityId::of(
            seed,
            ip.src,
            ip.dst,
            ip.proto,
            &d.transport,
        ))
    }

    /// The ID of a flow from its first packet's addresses, IP protocol and transport header.
    pub fn of(seed: u16, src: IpAddr, dst: IpAddr, ip_proto: u8, t: &Transport) -> CommunityId {
        match t {
            Transport::Tcp(t) => id_v1(seed, src, dst, 6, t.src_port, t.dst_port),
            Transport::Udp(u) => id_v1(seed, src, dst, 17, u.src_port, u.dst_port),
            Transport::Sctp(s) => id_v1(seed, src, dst, PROTO_SCTP, s.src_port, s.dst_port),
            Transport::Icmp(i) => id_icmp(seed, src, dst, PROTO_ICMP, i.icmp_type, i.code),
            Transport::Icmpv6(i) => id_icmp(seed, src, dst, PROTO_ICMPV6, i.icmp_type, i.code),
            Transport::Other(_) | Transport::None => id_portless(seed, src, dst, ip_proto),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only `1:` and base64 characters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl Deref for CommunityId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Zeek's ICMPv4 request/reply pairs (`ICMP4_counterpart`).
fn icmp4_counterpart(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// Zeek's ICMPv6 request/reply pairs (`ICMP6_counterpart`).
fn icmp6_counterpart(t: u8) -> Option<u8> {
    Some(match t {
        128 => 129,
        129 => 128,
        130 => 131,
        131 => 130,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => return None,
    })
}

/// Puts the numerically smaller `(address, port)` endpoint first. Mixed address families
/// cannot occur within one IP header; if given, IPv4 sorts first, which keeps the result stable.
fn order(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> (IpAddr, IpAddr, u16, u16) {
    if (src, sport) <= (dst, dport) {
        (src, dst, sport, dport)
    } else {
        (dst, src, dport, sport)
    }
}

fn hash(seed: u16, a: IpAddr, b: IpAddr, proto: u8, ports: Option<(u16, u16)>) -> CommunityId {
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    update_addr(&mut h, a);
    update_addr(&mut h, b);
    h.update([proto, 0]);
    if let Some((sp, dp)) = ports {
        h.update(sp.to_be_bytes());
        h.update(dp.to_be_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; ID_LEN];
    out[..2].copy_from_slice(b"1:");
    // 20 digest bytes are always 28 base64 characters, so this never fails.
    let _ = STANDARD.encode_slice(digest, &mut out[2..]);
    CommunityId(out)
}

fn update_addr(h: &mut Sha1, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => h.update(v4.octets()),
        IpAddr::V6(v6) => h.update(v6.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (proto, saddr, daddr, sport-or-type, dport-or-code, seed 0 id, seed 1 id), from the
    /// spec repository's `baseline/baseline_deflt.json` and `baseline_seed1.json`. For ICMP the
    /// baseline lists port equivalents; rows here carry the packet's real type and code.
    /// (proto, saddr, daddr, ports, seed-0 id, seed-1 id)
    type Row = (
        u8,
        &'static str,
        &'static str,
        Option<(u16, u16)>,
        &'static str,
        &'static str,
    );

    const BASELINE: &[Row] = &[
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            Some((135, 0)),
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            Some((136, 0)),
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            Some((135, 0)),
            "1:zavyT/cezQr1fmImYCwYnMXbgck=",
            "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=",
        ),
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            Some((136, 0)),
            "1:zavyT/cezQr1fmImYCwYnMXbgck=",
            "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=",
        ),
        (
            58,
            "3ffe:501:1800:2345::2",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            Some((3, 0)),
            "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=",
            "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=",
        ),
        (
            58,
            "3ffe:501:410:0:2c0:dfff:fe47:33e",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            Some((1, 4)),
            "1:hLZd0XGWojozrvxqE0dWB1iM6R0=",
            "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=",
        ),
        (
            58,
            "3ffe:507:0:1:200:86ff:fe05:80da",
            "3ffe:501:0:1001::2",
            Some((128, 0)),
            "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
            "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=",
        ),
        (
            58,
            "3ffe:501:0:1001::2",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            Some((129, 0)),
            "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
            "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=",
        ),
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "ff02::2",
            Some((133, 0)),
            "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
            "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "ff02::1",
            Some((134, 0)),
            "1:pkvHqCL88/tg1k4cPigmZXUtL00=",
            "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=",
        ),
        (
            1,
            "192.168.0.89",
            "192.168.0.1",
            Some((8, 0)),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
        ),
        (
            1,
            "192.168.0.1",
            "192.168.0.89",
            Some((0, 0)),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
        ),
        (
            1,
            "10.0.0.1",
            "10.0.0.2",
            Some((11, 0)),
            "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
            "1:XjUibYHaafLQ3pxQeiMI8g25q20=",
        ),
        (
            6,
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            "2607:f8b0:400c:c03::1a",
            Some((63943, 25)),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
        ),
        (
            6,
            "2607:f8b0:400c:c03::1a",
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            Some((25, 63943)),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
        ),
        (
            132,
            "192.168.170.8",
            "192.168.170.56",
            Some((7, 7)),
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
            "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=",
        ),
        (
            132,
            "192.168.170.56",
            "192.168.170.8",
            Some((7, 7)),
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
            "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=",
        ),
        (
            6,
            "128.232.110.120",
            "66.35.250.204",
            Some((34855, 80)),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        ),
        (
            6,
            "66.35.250.204",
            "128.232.110.120",
            Some((80, 34855)),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        ),
        (
            17,
            "192.168.1.52",
            "8.8.8.8",
            Some((54585, 53)),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        ),
        (
            17,
            "8.8.8.8",
            "192.168.1.52",
            Some((53, 54585)),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        ),
        (
            46,
            "10.1.12.1",
            "10.1.12.2",
            None,
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            "1:rYir8gphR31noO9iDRQmF/BteEI=",
        ),
        (
            46,
            "10.1.12.2",
            "10.1.12.1",
            None,
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            "1:rYir8gphR31noO9iDRQmF/BteEI=",
        ),
    ];

    fn compute(seed: u16, row: &Row) -> String {
        let (proto, s, d, ports, _, _) = *row;
        let src: IpAddr = s.parse().expect("baseline address");
        let dst: IpAddr = d.parse().expect("baseline address");
        match ports {
            Some((sp, dp)) => community_id_v1(seed, src, dst, proto, sp, dp),
            None => community_id_v1_portless(seed, src, dst, proto),
        }
    }

    #[test]
    fn spec_baseline_seed_0() {
        for (i, row) in BASELINE.iter().enumerate() {
            assert_eq!(compute(0, row), row.4, "baseline row {i}: {row:?}");
        }
    }

    #[test]
    fn spec_baseline_seed_1() {
        for (i, row) in BASELINE.iter().enumerate() {
            assert_eq!(compute(1, row), row.5, "baseline row {i}: {row:?}");
        }
    }

    #[test]
    fn spec_readme_example_orders_endpoints() {
        let a: IpAddr = "10.0.0.1".parse().expect("addr");
        let b: IpAddr = "127.0.0.1".parse().expect("addr");
        assert_eq!(
            community_id_v1(0, a, b, 6, 1234, 80),
            community_id_v1(0, b, a, 6, 80, 1234)
        );
        assert_ne!(
            community_id_v1(0, a, b, 6, 1234, 80),
            community_id_v1(0, a, b, 17, 1234, 80)
        );
    }

    #[test]
    fn one_way_icmp_is_not_swapped() {
        let a: IpAddr = "10.0.0.2".parse().expect("addr");
        let b: IpAddr = "10.0.0.1".parse().expect("addr");
        // Destination unreachable from the larger address: swapping would change the hash.
        let forward = community_id_v1_icmp(0, a, b, 1, 3, 1);
        assert_ne!(forward, community_id_v1_icmp(0, b, a, 1, 3, 1));
        assert_eq!(forward, community_id_v1(0, a, b, 1, 3, 1));
    }

    #[test]
    fn decoded_packet_uses_its_transport() {
        use crate::engine::packet::{IpInfo, UdpInfo};
        let ip = IpInfo {
            src: "8.8.8.8".parse().expect("addr"),
            dst: "192.168.1.52".parse().expect("addr"),
            proto: 17,
            ttl: 64,
            total_len: 60,
            fragment: None,
            has_options: false,
            ext_headers: 0,
        };
        let d = Decoded {
            ip: Some(ip),
            transport: Transport::Udp(UdpInfo {
                src_port: 53,
                dst_port: 54585,
            }),
            ..Decoded::default()
        };
        assert_eq!(
            community_id_for(0, &d).as_deref(),
            Some("1:d/FP5EW3wiY1vCndhwleRRKHowQ=")
        );
        assert_eq!(community_id_for(0, &Decoded::default()), None);
    }
}
