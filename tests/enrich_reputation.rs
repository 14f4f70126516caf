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
        stream_http: Vec::new(),
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
    // The server never answers within the run; `read` would wait `READ_FINISH_WAIT` for it.
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
    // Stopped: the 2 s grace after the signal replaced the end-of-read wait, well before the
    // check's own 10 s time-out would have ended the run.
    assert!(
        stderr.contains("1 check skipped at the end (waited up to 2 s)"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the run kept waiting after SIGTERM: {:?}",
        started.elapsed()
    );
}

/// Runs `nsm-tui read` on `pcap` against the API at `base`, with `extra` arguments.
fn read_with(pcap: &std::path::Path, base: &str, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(pcap)
        .args(extra)
        .env("ABUSEIPDB_API_KEY", KEY)
        .env("ABUSEIPDB_BASE_URL", base)
        .env_remove("DRY_RUN")
        .output()
        .unwrap()
}

#[test]
fn a_redirect_to_another_origin_never_receives_the_key() {
    // Two ports on loopback are two origins: the API answers 302 to the other one.
    let other: Arc<Script> =
        Arc::new(|req: &Seen, _| json_reply(200, check_body(&req.ip(), 99, 1)));
    let (other_base, other_seen) = serve(other);
    let target = format!("{other_base}/check?ipAddress=45.1.2.3&maxAgeInDays=90");
    let script: Arc<Script> = Arc::new(move |_: &Seen, _| Reply {
        headers: vec![("Location", target.clone())],
        ..json_reply(302, String::new())
    });
    let (base, seen) = serve(script);
    let (found, r) = run(
        opts(&base),
        &[packet(1, [45, 1, 2, 3], [10, 0, 0, 1])],
        Duration::from_secs(10),
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    let leaked: Vec<Seen> = other_seen.lock().unwrap().clone();
    assert!(
        leaked.iter().all(|s| s.header("Key").is_none()),
        "the key went to another origin: {leaked:?}"
    );
    assert!(leaked.is_empty(), "a redirect was followed: {leaked:?}");
    assert!(found.is_empty());
    let st = r.status().snapshot();
    assert_eq!(st.errors, 1);
    assert!(st.last_error.unwrap().contains("302"));
}

/// Rows and the longest stored answer of the reputation cache in `db`.
fn cache_rows(db: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT COUNT(*), COALESCE(MAX(LENGTH(raw)), 0) FROM reputation_cache",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn a_huge_answer_is_refused_and_the_cache_keeps_only_parsed_fields() {
    // 45.0.0.1 gets a valid answer padded to 4 MiB; 45.0.0.2 a valid one padded to 30 KiB
    // (under the cap: accepted, but only its parsed fields are kept).
    let script: Arc<Script> = Arc::new(|req: &Seen, _| {
        let ip = req.ip();
        let pad = if ip == "45.0.0.1" { 4 << 20 } else { 30 << 10 };
        let body = check_body(&ip, 97, 3).replacen(
            "\"isTor\":false",
            &format!("\"isTor\":false,\"padding\":\"{}\"", "a".repeat(pad)),
            1,
        );
        json_reply(200, body)
    });
    let (base, _seen) = serve(script);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rep.db");
    let mut o = opts(&base);
    o.db = Some(db.clone());
    let pkts = [
        packet(1, [45, 0, 0, 1], [10, 0, 0, 1]),
        packet(2, [45, 0, 0, 2], [10, 0, 0, 1]),
    ];
    let (found, r) = run(o, &pkts, Duration::from_secs(10));
    let st = r.status().snapshot();
    drop(r);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].report.ip.to_string(), "45.0.0.2");
    assert_eq!(st.errors, 1);
    let err = st.last_error.unwrap();
    assert!(err.contains("larger than 65536 bytes"), "{err}");
    let (rows, longest) = cache_rows(&db);
    assert_eq!(rows, 1);
    assert!(longest < 1024, "a cache row holds {longest} bytes");
}

#[test]
fn an_unanswering_service_is_given_a_short_grace_and_the_skipped_checks_are_reported() {
    // The server never answers within the run.
    let script: Arc<Script> = Arc::new(|req: &Seen, _| Reply {
        delay: Duration::from_secs(120),
        ..json_reply(200, check_body(&req.ip(), 96, 230))
    });
    let (base, _seen) = serve(script);
    let (_dir, pcap) = one_packet_capture();
    let out = read_with(&pcap, &base, &["--no-db", "--no-pcap-log"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        nsm_tui::enrich::READ_FINISH_WAIT,
        Duration::from_secs(3),
        "the end of a read waits a few seconds, not half a minute"
    );
    assert!(
        stderr.contains("1 check skipped at the end (waited up to 3 s)"),
        "{stderr}"
    );
}

#[test]
fn reputation_alerts_open_incidents_and_trigger_the_response_policy() {
    let script: Arc<Script> =
        Arc::new(|req: &Seen, _| json_reply(200, check_body(&req.ip(), 96, 230)));
    let (base, _seen) = serve(script);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("two.pcap");
    // One address talks to us, we talk to the other: each is the incident's subject.
    let frames = [
        packet(1, [45, 33, 32, 156], [10, 0, 0, 7]).frame,
        packet(2, [10, 0, 0, 7], [45, 79, 19, 196]).frame,
    ];
    nsm_tui::store::write_pcap(&pcap, &frames).unwrap();
    let cfg = dir.path().join("auto.toml");
    std::fs::write(
        &cfg,
        "[response]\nauto_response_enabled = true\ndry_run = true\nresponse_threshold = 0.0\n\
         policy = [\"*:Critical:block:600\"]\n",
    )
    .unwrap();
    let db = dir.path().join("auto.db");
    let out = read_with(
        &pcap,
        &base,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--no-pcap-log",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut q = conn
        .prepare("SELECT source, category, severity FROM incidents ORDER BY source")
        .unwrap();
    let incidents: Vec<(String, String, String)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        incidents,
        [
            (
                "45.33.32.156".into(),
                "reputation".into(),
                "Critical".into()
            ),
            (
                "45.79.19.196".into(),
                "reputation".into(),
                "Critical".into()
            ),
        ],
        "{stderr}"
    );
    let mut q = conn
        .prepare("SELECT action, target, outcome FROM actions ORDER BY target")
        .unwrap();
    let actions: Vec<(String, String, String)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        actions,
        [
            ("block".into(), "45.33.32.156".into(), "dry_run".into()),
            ("block".into(), "45.79.19.196".into(), "dry_run".into()),
        ],
        "{stderr}"
    );
}
