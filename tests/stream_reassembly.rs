//! TCP stream reassembly through `nsm-tui read`: a SQL injection split over two segments of an
//! HTTP request alerts exactly once (in order and out of order), the request in one segment
//! alerts once too, and a flood of out-of-order segments over many flows stays within the
//! memcap (counted in the EVE stats) and within a bound on peak memory; the stream pass
//! reports only matches across a segment boundary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod common;

use std::path::Path;
use std::process::Command;

use etherparse::PacketBuilder;
use serde_json::Value;

/// The bundled "SQL injection: UNION SELECT in request" signature.
const SQLI_REQUEST: u64 = 1_000_001;

const REQUEST: &[u8] =
    b"GET /search?q=1%20UNION%20SELECT%20password,2 HTTP/1.1\r\nHost: shop\r\n\r\n";

/// One TCP segment of a flow between 10.0.0.1 (client) and 10.0.0.2:80.
struct Seg {
    client: u32,
    to_server: bool,
    seq: u32,
    ack: u32,
    flags: &'static str,
    payload: Vec<u8>,
}

fn frame(s: &Seg) -> Vec<u8> {
    let c = s.client.to_be_bytes();
    let client = [10, c[1], c[2], c[3].max(1)];
    let sport = 1024 + (s.client % 60000) as u16;
    let (src, dst, sp, dp) = if s.to_server {
        (client, [10, 255, 0, 2], sport, 80)
    } else {
        ([10, 255, 0, 2], client, 80, sport)
    };
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, s.seq, 64240);
    for f in s.flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(s.ack),
            'P' => b.psh(),
            'F' => b.fin(),
            _ => b,
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, &s.payload).unwrap();
    out
}

/// Handshake, the request in `pieces` (cut at these offsets, sent in `order`), FIN.
fn request_capture(path: &Path, cuts: &[usize], order: &[usize]) {
    let (isn, server_isn) = (1000u32, 5000u32);
    let seg = |to_server, seq, ack, flags, payload: &[u8]| Seg {
        client: 1,
        to_server,
        seq,
        ack,
        flags,
        payload: payload.to_vec(),
    };
    let mut segs = vec![
        seg(true, isn, 0, "S", b""),
        seg(false, server_isn, isn + 1, "SA", b""),
        seg(true, isn + 1, server_isn + 1, "A", b""),
    ];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(REQUEST.len());
    for &i in order {
        let (lo, hi) = (bounds[i], bounds[i + 1]);
        let seq = isn + 1 + u32::try_from(lo).unwrap();
        segs.push(seg(true, seq, server_isn + 1, "PA", &REQUEST[lo..hi]));
    }
    let end = isn + 1 + u32::try_from(REQUEST.len()).unwrap();
    segs.push(seg(true, end, server_isn + 1, "FA", b""));
    let frames: Vec<Vec<u8>> = segs.iter().map(frame).collect();
    common::write_pcap(path, &frames);
}

/// The signature ids of the alerts, in order.
fn alert_ids(eve: &[Value]) -> Vec<u64> {
    eve.iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| e["alert"]["signature_id"].as_u64().unwrap())
        .collect()
}

/// The last stats record's `tcp` object.
fn tcp_stats(eve: &[Value]) -> Value {
    eve.iter()
        .rev()
        .find(|e| e["event_type"] == "stats")
        .map(|e| e["stats"]["tcp"].clone())
        .unwrap()
}

#[test]
fn a_pattern_split_over_two_segments_alerts_once() {
    let dir = tempfile::tempdir().unwrap();
    // "...%20UNI" | "ON%20SELECT..." : neither segment matches alone.
    let cut = REQUEST.windows(3).position(|w| w == b"UNI").unwrap() + 3;
    let pcap = dir.path().join("split.pcap");
    request_capture(&pcap, &[cut], &[0, 1]);
    let eve = common::read_eve(&pcap, &[]);
    assert_eq!(alert_ids(&eve), [SQLI_REQUEST], "{eve:#?}");
    let alert = eve.iter().find(|e| e["event_type"] == "alert").unwrap();
    assert_eq!(
        alert["pcap_cnt"], 5,
        "raised on the segment that completed the pattern"
    );
    assert_eq!(tcp_stats(&eve)["reassembly_gap"], 0);

    // Out of order: the second half first.
    let pcap = dir.path().join("reordered.pcap");
    request_capture(&pcap, &[cut], &[1, 0]);
    let eve = common::read_eve(&pcap, &[]);
    assert_eq!(alert_ids(&eve), [SQLI_REQUEST], "{eve:#?}");

    // Stream reassembly off: the split pattern goes unseen.
    let cfg = dir.path().join("off.toml");
    std::fs::write(&cfg, "[detector.stream]\nenabled = false\n").unwrap();
    let eve = common::read_eve(&pcap, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(alert_ids(&eve), Vec::<u64>::new());
}

#[test]
fn a_pattern_inside_one_segment_is_not_alerted_twice() {
    let dir = tempfile::tempdir().unwrap();
    // Whole request in one segment.
    let pcap = dir.path().join("whole.pcap");
    request_capture(&pcap, &[], &[0]);
    assert_eq!(alert_ids(&common::read_eve(&pcap, &[])), [SQLI_REQUEST]);
    // The pattern in the first segment, more of the request after it: the second segment's
    // window holds the match in its context, which is not alerted again.
    let cut = REQUEST.windows(4).position(|w| w == b"HTTP").unwrap();
    let pcap = dir.path().join("two.pcap");
    request_capture(&pcap, &[cut], &[0, 1]);
    assert_eq!(alert_ids(&common::read_eve(&pcap, &[])), [SQLI_REQUEST]);
}

/// Peak resident memory (KiB) of `nsm-tui read` on the capture, and its EVE records.
fn read_measured(pcap: &Path, cfg: &Path) -> (u64, Vec<Value>) {
    let eve = pcap.with_extension(format!(
        "{}.json",
        cfg.file_stem().unwrap().to_str().unwrap()
    ));
    let out = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kib=%M"])
        .arg(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("--config")
        .arg(cfg)
        .arg("read")
        .arg(pcap)
        .args(["--no-db", "--no-pcap-log", "--workers", "1", "--eve"])
        .arg(&eve)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let records = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (rss, records)
}

#[test]
fn a_flood_of_out_of_order_segments_stays_within_the_memcap() {
    if !common::need_tool("time") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 4000 flows, each: one byte in order, then 8 segments of 1400 bytes past a hole that
    // never fills — 44 MiB of out-of-order data, were it all held.
    const FLOWS: u32 = 4000;
    let mut frames = Vec::new();
    for client in 1..=FLOWS {
        let seg = |seq, payload: Vec<u8>| Seg {
            client,
            to_server: true,
            seq,
            ack: 1,
            flags: "PA",
            payload,
        };
        frames.push(frame(&seg(100, b"x".to_vec())));
        for k in 0..8u32 {
            frames.push(frame(&seg(10_000 + k * 1400, vec![b'a'; 1400])));
        }
    }
    let pcap = dir.path().join("flood.pcap");
    common::write_pcap(&pcap, &frames);
    let capped = dir.path().join("capped.toml");
    std::fs::write(&capped, "[detector.stream]\nmemcap = 1048576\n").unwrap();
    let off = dir.path().join("off.toml");
    std::fs::write(&off, "[detector.stream]\nenabled = false\n").unwrap();

    let (rss_capped, eve) = read_measured(&pcap, &capped);
    let tcp = tcp_stats(&eve);
    assert!(tcp["segment_memcap_drop"].as_u64().unwrap() > 0, "{tcp}");
    // Every flow ends with its hole unfilled (those whose segments were held).
    assert!(tcp["reassembly_gap"].as_u64().unwrap() > 0, "{tcp}");
    assert_eq!(
        tcp["reassembly_memuse"], 0,
        "all released at the end: {tcp}"
    );
    let (rss_off, _) = read_measured(&pcap, &off);
    // The same run without reassembly sets the floor (flows, workers, buffers). Without the
    // memcap the held segments add about 23 MiB of peak memory here (flows time out as the
    // capture goes on, releasing theirs); the 1 MiB memcap plus allocator slack must stay
    // under 8 MiB.
    let extra_kib = rss_capped.saturating_sub(rss_off);
    common::note(&format!(
        "peak RSS {rss_capped} KiB with a 1 MiB memcap, {rss_off} KiB without reassembly; {tcp}"
    ));
    assert!(
        extra_kib < 8 * 1024,
        "reassembly added {extra_kib} KiB of peak memory ({rss_capped} vs {rss_off} KiB)"
    );
}

#[test]
fn the_stream_pass_reports_only_matches_across_the_boundary() {
    use nsm_tui::engine::decode::decode;
    use nsm_tui::engine::detect::signature::SignatureSet;
    use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
    let rules = r#"[
      {"signature_id":1,"description":"u","pattern":"(?i)union\\s+select","severity":"High","type":"t"},
      {"signature_id":2,"description":"a","pattern":"^GET /x","severity":"High","type":"t"},
      {"signature_id":3,"description":"h","pattern":"evil","severity":"High","type":"t","buffer":"http.uri"}
    ]"#;
    let (set, errors) = SignatureSet::from_sources(&[("r.json".into(), rules.into())]);
    assert!(errors.is_empty(), "{errors:?}");
    let data = frame(&Seg {
        client: 1,
        to_server: true,
        seq: 1,
        ack: 1,
        flags: "PA",
        payload: b"x".to_vec(),
    });
    let frame = RawFrame {
        ts: Ts(1),
        linktype: LinkType::ETHERNET,
        iface: 0,
        orig_len: u32::try_from(data.len()).unwrap(),
        data,
    };
    let d = decode(&frame);
    let ids = |window: &[u8], new_from: usize, at_start: bool| -> Vec<u64> {
        set.stream_matches(&d, window, new_from, at_start)
            .iter()
            .map(|h| h.id.0)
            .collect()
    };
    // Split across the boundary: found, in the stream buffer.
    assert_eq!(ids(b"a=1 UNI", 7, false), Vec::<u64>::new());
    assert_eq!(ids(b"a=1 UNION SELECT", 7, false), [1]);
    // Wholly in the context or wholly in the new bytes: seen before.
    assert_eq!(ids(b"UNION SELECT 1, 2", 13, false), Vec::<u64>::new());
    assert_eq!(ids(b"abc UNION SELECT", 4, false), Vec::<u64>::new());
    // Anchored: only where the window starts the stream.
    assert_eq!(ids(b"GET /xyz", 5, true), [2]);
    assert_eq!(ids(b"GET /xyz", 5, false), Vec::<u64>::new());
    // Application-layer buffers are not run on the stream.
    assert_eq!(
        ids(b"GET /evil HTTP/1.1\r\n\r\n", 6, true),
        Vec::<u64>::new()
    );
}
