//! Frame builders for the generator: Ethernet + IPv4 + TCP/UDP/ICMP with valid checksums
//! (etherparse's `PacketBuilder`), and DNS messages.

use etherparse::PacketBuilder;

#[derive(Debug, Clone, Copy)]
pub struct Host {
    pub mac: [u8; 6],
    pub ip: [u8; 4],
}

impl Host {
    pub fn new(ip: [u8; 4]) -> Self {
        Host {
            mac: [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]],
            ip,
        }
    }
}

/// TCP flag bits for `tcp`.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;

#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the fields of a TCP header, which callers name positionally like a packet description"
)]
pub fn tcp(
    src: Host,
    dst: Host,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(src.mac, dst.mac)
        .ipv4(src.ip, dst.ip, 64)
        .tcp(sport, dport, seq, 64240);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if flags & URG != 0 {
        b = b.urg(0);
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    // Writing into a Vec cannot fail, and the sizes are far below the IPv4 limit.
    let _ = b.write(&mut out, payload);
    out
}

pub fn udp(src: Host, dst: Host, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src.mac, dst.mac)
        .ipv4(src.ip, dst.ip, 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write(&mut out, payload);
    out
}

pub fn icmp_echo(src: Host, dst: Host, id: u16, seq: u16, reply: bool, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src.mac, dst.mac).ipv4(src.ip, dst.ip, 64);
    let b = if reply {
        b.icmpv4_echo_reply(id, seq)
    } else {
        b.icmpv4_echo_request(id, seq)
    };
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write(&mut out, payload);
    out
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(u8::try_from(l.len()).unwrap_or(63));
        out.extend_from_slice(l);
    }
    out.push(0);
}

/// A DNS query message for `name` and `qtype`.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    put_name(&mut m, name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// A DNS response to `dns_query(id, name, 1)` with one A record, or NXDOMAIN when `addr` is None.
pub fn dns_answer_a(id: u16, name: &str, addr: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::with_capacity(48 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    let rcode = if addr.is_some() { 0 } else { 3 };
    m.extend_from_slice(&[
        0x81,
        0x80 | rcode,
        0,
        1,
        0,
        u8::from(addr.is_some()),
        0,
        0,
        0,
        0,
    ]);
    put_name(&mut m, name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    if let Some(a) = addr {
        // Name compression pointer to the question at offset 12.
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&a);
    }
    m
}
