//! AbuseIPDB reputation against a real HTTP server on loopback that answers like the
//! documented v2 `check` endpoint: success (alert, cache, restart without re-spending
//! quota), 401, 429 with Retry-After, malformed JSON, slow answers, and the daily quota.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nsm_tui::engine::alert::{Detector, Severity};
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
use nsm_tui::engine::record::Analyzed;
use nsm_tui::enrich::reputation::{Finding, Reputation, ReputationOptions};

const KEY: &str = "test-key-5f1c0ffee";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn ip(&self) -> String {
        let q = self.target.split_once('?').map_or("", |x| x.1);
        q.split('&')
            .find_map(|kv| kv.strip_prefix("ipAddress="))
            .unwrap_or("")
            .replace("%3A", ":")
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn json_reply(status: u16, body: String) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body,
        delay: Duration::ZERO,
    }
}

/// What the documented API returns for a found address.
fn check_body(ip: &str, score: u8, reports: u32) -> String {
    format!(
        r#"{{"data":{{"ipAddress":"{ip}","isPublic":true,"ipVersion":4,"isWhitelisted":false,
        "abuseConfidenceScore":{score},"countryCode":"NL","usageType":"Data Center/Web Hosting/Transit",
        "isp":"Example Hosting B.V.","domain":"example.net","hostnames":[],"isTor":false,
        "totalReports":{reports},"numDistinctUsers":3,"lastReportedAt":"2024-05-01T10:00:00+00:00"}}}}"#
    )
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// Serves `script` on 127.0.0.1; returns the API root and the requests seen.
fn serve(script: Arc<Script>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (script, seen) = (script.clone(), s2.clone());
            std::thread::spawn(move || handle(stream, &*script, &seen));
        }
    });
    (format!("http://{addr}/api/v2"), seen)
}

fn handle(stream: TcpStream, script: &Script, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let req = Seen {
        target,
        headers,
        at: Instant::now(),
    };
    let n = {
        let mut s = seen.lock().unwrap();
        s.push(req.clone());
        s.len()
    };
    let reply = script(&req, n);
    std::thread::sleep(reply.delay);
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
}

/// A UDP packet from `src` to `dst`, decoded by the engine.
fn packet(n: u64, src: [u8; 4], dst: [u8; 4]) -> Analyzed {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .udp(40000, 53);
    let mut data = Vec::new();
    b.write(&mut data, b"x").unwrap();
    let frame = RawFrame {
        ts: Ts::from_parts(1_700_000_000 + n as i64, 0),
        linktype: LinkType::ETHERNET,
        iface: 0,
        orig_len: data.len() as u32,
        data,
    };
    let decoded = decode(&frame);
    Analyzed {
        pcap_cnt: n,
        frame,
        decoded,
        alerts: Vec::new(),
    }
}

fn opts(base: &str) -> ReputationOptions {
    let mut o = ReputationOptions::new(KEY, base);
    o.timeout = Duration::from_secs(5);
    o
}

fn run(o: ReputationOptions, packets: &[Analyzed], wait: Duration) -> (Vec<Finding>, Reputation) {
    let mut r = Reputation::start(o).unwrap();
    for p in packets {
        r.observe(p, Some(7));
    }
    let mut f = r.drain();
    f.extend(r.finish(wait));
    (f, r)
}

#[test]
fn high_score_alerts_low_score_not_and_cache_survives_restart() {
    let script: Arc<Script> = Arc::new(|req: &Seen, _| {
        let ip = req.ip();
        let score = if ip.starts_with("185.220.101.") {
            92
        } else {
            12
        };
        json_reply(200, check_body(&ip, score, 57))
    });
    let (base, seen) = serve(script);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rep.db");
    let mut o = opts(&base);
    o.db = Some(db.clone());
    // Private and loopback peers are never sent; 8.8.4.4 is low, 185.220.101.7 is high.
    let pkts = [
        packet(1, [192, 168, 1, 10], [185, 220, 101, 7]),
        packet(2, [192, 168, 1, 10], [185, 220, 101, 7]),
        packet(3, [8, 8, 4, 4], [10, 0, 0, 1]),
        packet(4, [127, 0, 0, 1], [127, 0, 0, 1]),
    ];
    let (found, r) = run(o.clone(), &pkts, Duration::from_secs(10));
    let reqs = seen.lock().unwrap().clone();
    let mut ips: Vec<String> = reqs.iter().map(Seen::ip).collect();
    ips.sort();
    assert_eq!(ips, ["185.220.101.7", "8.8.4.4"]);
    for q in &reqs {
        assert_eq!(q.header("Key"), Some(KEY));
        assert_eq!(q.header("Accept"), Some("application/json"));
        assert!(q.target.starts_with("/api/v2/check?"), "{}", q.target);
        assert!(q.target.contains("maxAgeInDays=90"), "{}", q.target);
    }
    assert_eq!(found.len(), 1, "{found:?}");
    let a = &found[0].alert;
    assert_eq!(a.detector, Detector::Reputation);
    assert_eq!(&*a.category, "reputation");
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.packet, 1);
    for part in [
        "185.220.101.7",
        "92%",
        "57 reports",
        "Example Hosting B.V.",
        "Data Center",
    ] {
        assert!(a.explanation.contains(part), "{part} in {}", a.explanation);
    }
    let st = r.status().snapshot();
    assert_eq!((st.api_checks, st.cache_hits, st.pending), (2, 0, 0));
    assert_eq!(st.quota_remaining, 998);
    drop(r);

    // A restart answers from the cache: no request, same alert, quota still counted.
    let (found, r) = run(o, &pkts, Duration::from_secs(10));
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "no new request after restart"
    );
    assert_eq!(found.len(), 1);
    let st = r.status().snapshot();
    assert_eq!((st.api_checks, st.cache_hits), (0, 2));
    assert_eq!(st.quota_remaining, 998);
}

#[test]
fn unauthorized_stops_checks_without_showing_the_key() {
    let script: Arc<Script> = Arc::new(|_: &Seen, _| {
        json_reply(
            401,
            r#"{"errors":[{"detail":"Authentication failed. Your API key is either missing, incorrect, or revoked.","status":401}]}"#.into(),
        )
    });
    let (base, seen) = serve(script);
    let pkts: Vec<Analyzed> = (1..=4)
        .map(|i| packet(i, [9, 9, 9, i as u8], [10, 0, 0, 1]))
        .collect();
    let (found, r) = run(opts(&base), &pkts, Duration::from_secs(10));
    assert!(found.is_empty());
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "one refusal stops further checks"
    );
    let st = r.status().snapshot();
    assert!(st.stopped);
    let err = st.last_error.unwrap();
    assert!(
        err.contains("401") && err.contains("Authentication failed"),
        "{err}"
    );
    assert!(!err.contains(KEY) && !st_line_has_key(&r));
}

fn st_line_has_key(r: &Reputation) -> bool {
    r.status().snapshot().line().contains(KEY)
}

#[test]
fn rate_limit_waits_for_retry_after_then_succeeds() {
    let script: Arc<Script> = Arc::new(|req: &Seen, n| {
        if n == 1 {
            Reply {
                status: 429,
                headers: vec![("Retry-After", "1".into()), ("X-RateLimit-Remaining", "0".into())],
                body: r#"{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded for this endpoint.","status":429}]}"#.into(),
                delay: Duration::ZERO,
            }
        } else {
            json_reply(200, check_body(&req.ip(), 80, 4))
        }
    });
    let (base, seen) = serve(script);
    let (found, r) = run(
        opts(&base),
        &[packet(1, [45, 1, 2, 3], [10, 0, 0, 1])],
        Duration::from_secs(15),
    );
    let reqs = seen.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].alert.severity, Severity::High);
    let st = r.status().snapshot();
    assert_eq!((st.api_checks, st.errors), (1, 1));
    // The 429 did not count against the local quota.
    assert_eq!(st.quota_remaining, 999);
}

#[test]
fn malformed_json_is_an_error_not_an_alert() {
    let script: Arc<Script> = Arc::new(|_: &Seen, _| {
        json_reply(200, "{\"data\": {\"abuseConfidenceScore\": \"high\"".into())
    });
    let (base, _seen) = serve(script);
    let (found, r) = run(
        opts(&base),
        &[packet(1, [45, 1, 2, 3], [10, 0, 0, 1])],
        Duration::from_secs(10),
    );
    assert!(found.is_empty());
    let st = r.status().snapshot();
    assert_eq!(st.errors, 1);
    assert!(st.last_error.unwrap().contains("cannot read"));
    assert_eq!(st.pending, 0);
}

#[test]
fn slow_answers_time_out_and_finish_is_bounded() {
    let script: Arc<Script> = Arc::new(|req: &Seen, _| Reply {
        delay: Duration::from_secs(3),
        ..json_reply(200, check_body(&req.ip(), 99, 1))
    });
    let (base, seen) = serve(script);
    let mut o = opts(&base);
    o.timeout = Duration::from_millis(300);
    let pkts: Vec<Analyzed> = (1..=3)
        .map(|i| packet(i, [45, 0, 0, i as u8], [10, 0, 0, 1]))
        .collect();
    let t0 = Instant::now();
    let (found, r) = run(o, &pkts, Duration::from_millis(1500));
    let took = t0.elapsed();
    assert!(found.is_empty());
    assert!(took < Duration::from_millis(2900), "finish took {took:?}");
    let st = r.status().snapshot();
    assert!(st.errors >= 1);
    assert!(st.last_error.unwrap().contains("did not answer"));
    // Back-off after the time-out: not every address was tried at once.
    assert!(seen.lock().unwrap().len() < 3 * 3);
}

#[test]
fn daily_quota_stops_checks_at_the_limit() {
    let script: Arc<Script> =
        Arc::new(|req: &Seen, _| json_reply(200, check_body(&req.ip(), 5, 0)));
    let (base, seen) = serve(script);
    let mut o = opts(&base);
    o.daily_quota = 2;
    let pkts: Vec<Analyzed> = (1..=5)
        .map(|i| packet(i, [45, 9, 9, i as u8], [10, 0, 0, 1]))
        .collect();
    let (_found, r) = run(o, &pkts, Duration::from_secs(10));
    assert_eq!(seen.lock().unwrap().len(), 2);
    let st = r.status().snapshot();
    assert_eq!(
        (st.api_checks, st.skipped_quota, st.quota_remaining),
        (2, 3, 0)
    );
    let ip: IpAddr = "45.9.9.1".parse().unwrap();
    assert!(pkts[0].decoded.ip.is_some_and(|x| x.src == ip));
}

/// A capture of one packet from a private address to a public one (a reputation check).
fn one_packet_capture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("one.pcap");
    let frames = [packet(1, [10, 0, 0, 7], [45, 33, 32, 156]).frame];
    nsm_tui::store::write_pcap(&pcap, &frames).unwrap();
    (dir, pcap)
}

#[test]
fn read_waits_for_checks_and_writes_the_late_alert_to_eve() {
    let script: Arc<Script> = Arc::new(|req: &Seen, _| Reply {
        // Slower than the whole replay: the run must wait for it.
        delay: Duration::from_millis(700),
        ..json_reply(200, check_body(&req.ip(), 96, 230))
    });
    let (base, seen) = serve(script);
    let (dir, pcap) = one_packet_capture();
    let eve = dir.path().join("eve.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&pcap)
        .arg("--eve")
        .arg(&eve)
        .args(["--no-db", "--no-pcap-log"])
        .env("ABUSEIPDB_API_KEY", KEY)
        .env("ABUSEIPDB_BASE_URL", &base)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains(KEY),
        "the key must never be printed: {stderr}"
    );
    assert!(
        stderr.contains("AbuseIPDB: 0 pending, 1 checked"),
        "{stderr}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    // The run summary counts the late alert too.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("alerts:   1 (critical 1, high 0, medium 0, low 0)"),
        "{stdout}"
    );
    let alerts: Vec<serde_json::Value> = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == "alert")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["alert"]["signature_id"], 9_000_101);
    assert_eq!(a["alert"]["category"], "reputation");
    assert_eq!(a["alert"]["severity"], 1);
    assert_eq!(a["dest_ip"], "45.33.32.156");
    assert_eq!(a["pcap_cnt"], 1);
    assert_eq!(a["alert"]["metadata"]["score"][0], "96");
}

#[test]
fn sigterm_cuts_the_wait_for_pending_checks() {
    // The server never answers within the run; `read` would wait `finish_wait` (30 s) for it.
    let script: Arc<Script> = Arc::new(|req: &Seen, _| Reply {
        delay: Duration::from_secs(20),
        ..json_reply(200, check_body(&req.ip(), 96, 230))
    });
    let (base, _seen) = serve(script);
    let (_dir, pcap) = one_packet_capture();
    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&pcap)
        .args(["--no-db", "--no-pcap-log"])
        .env("ABUSEIPDB_API_KEY", KEY)
        .env("ABUSEIPDB_BASE_URL", &base)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The one packet is read at once; the run is then waiting for the check.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("AbuseIPDB: "), "{stderr}");
    // Stopped: at most the 2 s grace after the signal, well before the check's own 10 s
    // time-out (and the 30 s wait) would have ended the run.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the run kept waiting after SIGTERM: {:?}",
        started.elapsed()
    );
}
