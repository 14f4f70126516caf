//! Webhooks against a real HTTP server on loopback (a small `TcpListener` server in the
//! test): Slack, Teams and SIEM bodies arrive, a 500 is retried, a dead endpoint fails
//! without holding up the caller, and a full queue drops and counts instead of blocking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nsm_tui::respond::webhook::{Notice, Notifier, Retry, Targets};

/// (path, body) of every request received.
type Log = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// Serves on loopback; answers 500 to the first `fail_first` requests, then 200. When
/// `hang` is set it reads requests and never answers.
fn server(fail_first: usize, hang: bool) -> (String, Log) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        let mut n = 0usize;
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            seen.lock()
                .unwrap()
                .push((path, serde_json::from_slice(&body).unwrap_or_default()));
            if hang {
                std::thread::sleep(Duration::from_secs(30));
                continue;
            }
            n += 1;
            let status = if n <= fail_first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, log)
}

fn notice() -> Notice {
    Notice {
        title: "nsm-tui: block 198.51.100.2 (port_scan)".into(),
        text: "WARNING incident: 3 alerts".into(),
        severity: "Medium".into(),
        event: serde_json::json!({"event_type": "alert", "src_ip": "198.51.100.2"}),
    }
}

fn quick() -> Retry {
    Retry {
        attempts: 3,
        timeout: Duration::from_secs(2),
        first_backoff: Duration::from_millis(50),
    }
}

#[test]
fn slack_teams_and_siem_arrive_and_a_500_is_retried() {
    let (url, log) = server(1, false);
    let targets = Targets {
        slack: Some(format!("{url}/slack")),
        teams: Some(format!("{url}/teams")),
        siem: Some(format!("{url}/siem")),
    };
    let n = Notifier::spawn(targets, quick()).expect("notifier");
    let stats = n.stats.clone();
    assert!(n.notify(notice()));
    n.finish();
    let log = log.lock().unwrap();
    let paths: Vec<&str> = log.iter().map(|(p, _)| p.as_str()).collect();
    // The first POST (Slack) got a 500 and was sent again.
    assert_eq!(paths, ["/slack", "/slack", "/teams", "/siem"]);
    assert!(log[1].1["text"].as_str().unwrap().contains("198.51.100.2"));
    assert_eq!(log[2].1["@type"], "MessageCard");
    assert_eq!(log[3].1["src_ip"], "198.51.100.2");
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 0);
}

#[test]
fn dead_endpoint_fails_without_blocking_the_caller() {
    // Bind and drop: nothing listens on this port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let targets = Targets {
        siem: Some(format!("http://127.0.0.1:{port}/x")),
        ..Targets::default()
    };
    // Backoffs of 1 s and 2 s: a caller that waited for the retries would wait 3 s.
    let slow = Retry {
        first_backoff: Duration::from_secs(1),
        ..quick()
    };
    let n = Notifier::spawn(targets, slow).expect("notifier");
    let stats = n.stats.clone();
    let t = Instant::now();
    assert!(n.notify(notice()));
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "notify waited {:?}",
        t.elapsed()
    );
    n.finish();
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
}

#[test]
fn full_queue_drops_and_counts() {
    let (url, _log) = server(0, true);
    let targets = Targets {
        siem: Some(format!("{url}/hang")),
        ..Targets::default()
    };
    let retry = Retry {
        attempts: 1,
        timeout: Duration::from_millis(50),
        first_backoff: Duration::from_millis(10),
    };
    let n = Notifier::spawn(targets, retry).expect("notifier");
    let stats = n.stats.clone();
    let t = Instant::now();
    let queued = (0..200).filter(|_| n.notify(notice())).count();
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "notify blocked: {:?}",
        t.elapsed()
    );
    let dropped = stats.dropped.load(Ordering::Relaxed);
    assert!(
        dropped > 0 && queued + dropped as usize == 200,
        "{queued} queued, {dropped} dropped"
    );
    // Each queued notice times out after 50 ms against the silent server.
    n.finish();
    assert_eq!(stats.failed.load(Ordering::Relaxed) as usize, queued);
}
