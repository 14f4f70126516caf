//! EVE JSON events have Suricata's field names, nesting and value formats. Packets are built
//! as bytes, decoded by the real decoder, tracked by the real flow table and written by the
//! real writer; the output is parsed back and checked key by key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::io::{self, Write};
use std::sync::Arc;

use nsm_tui::engine::alert::{Alert, Detector, RuleId, Severity};
use nsm_tui::engine::community_id::CommunityId;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::flow::{FlowConfig, FlowCounts, FlowMeta, FlowRecord, FlowTable};
use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
use nsm_tui::engine::packet::{DecodeIssue, Decoded, Proto};
use nsm_tui::engine::record::Analyzed;
use nsm_tui::engine::stats::Stats;
use nsm_tui::output::eve::{EveOptions, EveWriter};
use serde_json::{json, Value};

const T0: i64 = 1_705_314_030; // 2024-01-15T10:20:30Z

fn eth_ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    let total = u16::try_from(20 + l4.len()).expect("small packet");
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(l4);
    f
}

fn tcp_seg(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

fn udp_dgram(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(
        &u16::try_from(8 + payload.len())
            .expect("small")
            .to_be_bytes(),
    );
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn analyzed(pcap_cnt: u64, ts: Ts, data: Vec<u8>) -> Analyzed {
    let orig_len = u32::try_from(data.len()).expect("small frame");
    let frame = RawFrame {
        ts,
        linktype: LinkType::ETHERNET,
        iface: 0,
        orig_len,
        data,
    };
    let decoded = decode(&frame);
    Analyzed {
        pcap_cnt,
        frame,
        decoded,
        alerts: Vec::new(),
        stream_http: Vec::new(),
    }
}

/// Every line the writer produced, parsed.
fn events(buf: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(buf).expect("EVE is UTF-8");
    assert!(text.ends_with('\n'), "every event ends its line");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

fn writer() -> EveWriter<Vec<u8>> {
    writer_with(false)
}

/// A writer with nsm-tui's keys outside Suricata's schema (`[output] eve_extensions`) or not.
fn writer_with(extensions: bool) -> EveWriter<Vec<u8>> {
    let opts = EveOptions {
        iface_names: vec![Arc::from("eth0")],
        host: None,
        payload_printable: true,
        extensions,
    };
    EveWriter::with_options(Vec::new(), opts)
}

fn assert_suricata_timestamp(v: &Value) {
    let s = v.as_str().expect("timestamp is a string");
    // 2024-01-15T10:20:30.123456+0000
    assert_eq!(s.len(), 31, "{s}");
    assert_eq!(&s[10..11], "T");
    assert_eq!(&s[19..20], ".");
    assert!(
        s[20..26].bytes().all(|b| b.is_ascii_digit()),
        "six decimal digits in {s}"
    );
    assert!(s.ends_with("+0000"), "{s}");
}

/// A client/server TCP conversation through the flow table, ended at shutdown.
fn tcp_flow_record() -> FlowRecord {
    let mut table = FlowTable::new(FlowConfig {
        idle_timeout_secs: 60,
        max_flows: 10,
    });
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let pkts = [
        (true, 0x02, &b""[..]),
        (false, 0x12, &b""[..]),
        (true, 0x10, &b""[..]),
        (true, 0x18, &b"GET / HTTP/1.0\r\n\r\n"[..]),
        (false, 0x18, &b"HTTP/1.0 200 OK\r\n\r\n"[..]),
    ];
    for (i, (to_server, flags, payload)) in pkts.into_iter().enumerate() {
        let l4 = if to_server {
            tcp_seg(40000, 80, flags, payload)
        } else {
            tcp_seg(80, 40000, flags, payload)
        };
        let data = if to_server {
            eth_ipv4(c, s, 6, &l4)
        } else {
            eth_ipv4(s, c, 6, &l4)
        };
        let a = analyzed(
            i as u64 + 1,
            Ts::from_parts(T0 + i as i64, 123_456_789),
            data,
        );
        table
            .update(
                a.frame.ts,
                &a.decoded,
                a.frame.orig_len,
                a.decoded.payload(&a.frame.data),
            )
            .expect("TCP/IPv4 has a flow");
    }
    table.drain().pop().expect("one flow")
}

#[test]
fn tcp_flow_event_has_suricata_shape() {
    let r = tcp_flow_record();
    let mut w = writer();
    w.flow(&r).expect("writing to memory");
    let ev = events(&w.into_inner()).pop().expect("one event");
    assert_eq!(ev["event_type"], "flow");
    assert_suricata_timestamp(&ev["timestamp"]);
    assert_eq!(ev["timestamp"], "2024-01-15T10:20:34.123456+0000");
    assert_eq!(ev["flow_id"], json!(r.flow_id));
    assert_eq!(ev["in_iface"], "eth0");
    assert_eq!(
        (&ev["src_ip"], &ev["src_port"]),
        (&json!("10.0.0.1"), &json!(40000))
    );
    assert_eq!(
        (&ev["dest_ip"], &ev["dest_port"]),
        (&json!("10.0.0.2"), &json!(80))
    );
    assert_eq!(ev["proto"], "TCP");
    assert!(ev["community_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("1:") && c.len() == 30));
    assert!(
        ev.get("pcap_cnt").is_none(),
        "flow events are not tied to one packet"
    );
    let f = &ev["flow"];
    assert_eq!(
        (&f["pkts_toserver"], &f["pkts_toclient"]),
        (&json!(3), &json!(2))
    );
    assert_eq!(f["bytes_toserver"], json!(54 * 3 + 18));
    assert_eq!(f["bytes_toclient"], json!(54 * 2 + 19));
    assert_suricata_timestamp(&f["start"]);
    assert_eq!(f["start"], "2024-01-15T10:20:30.123456+0000");
    assert_eq!(f["age"], 4);
    assert_eq!(
        (&f["state"], &f["reason"], &f["alerted"]),
        (&json!("established"), &json!("shutdown"), &json!(false))
    );
    let t = &ev["tcp"];
    assert_eq!(
        (&t["tcp_flags"], &t["tcp_flags_ts"], &t["tcp_flags_tc"]),
        (&json!("1a"), &json!("1a"), &json!("1a"))
    );
    assert_eq!(
        (&t["syn"], &t["psh"], &t["ack"]),
        (&json!(true), &json!(true), &json!(true))
    );
    assert!(
        t.get("fin").is_none() && t.get("rst").is_none(),
        "only set flags are logged"
    );
    assert_eq!(t["state"], "established");
}

#[test]
fn icmp_flow_event_has_types_and_no_ports() {
    let mut table = FlowTable::new(FlowConfig::default());
    let (a, b) = ([192, 168, 0, 89], [192, 168, 0, 1]);
    for (i, (src, dst, ty)) in [(a, b, 8u8), (b, a, 0u8)].into_iter().enumerate() {
        let pkt = analyzed(
            i as u64 + 1,
            Ts::from_parts(T0, 0),
            eth_ipv4(src, dst, 1, &[ty, 0, 0, 0, 0, 1, 0, 1]),
        );
        table
            .update(pkt.frame.ts, &pkt.decoded, pkt.frame.orig_len, &[])
            .expect("ICMP has a flow");
    }
    let mut w = writer();
    for r in table.drain() {
        w.flow(&r).expect("writing to memory");
    }
    let ev = events(&w.into_inner()).pop().expect("one event");
    assert_eq!(ev["proto"], "ICMP");
    assert_eq!((&ev["icmp_type"], &ev["icmp_code"]), (&json!(8), &json!(0)));
    assert_eq!(
        (&ev["response_icmp_type"], &ev["response_icmp_code"]),
        (&json!(0), &json!(0))
    );
    assert!(ev.get("src_port").is_none() && ev.get("tcp").is_none());
    // The spec's own test vector for this exchange.
    assert_eq!(ev["community_id"], "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
}

fn critical_alert(a: &Analyzed, evidence: Value) -> Alert {
    Alert {
        ts: a.frame.ts,
        rule: RuleId(2_000_123),
        description: Arc::from("ET TEST bad request"),
        severity: Severity::Critical,
        category: Arc::from("Attempted Administrator Privilege Gain"),
        detector: Detector::Signature,
        packet: a.pcap_cnt,
        flow_id: None,
        explanation: "matched \"GET\" at offset 0".into(),
        evidence,
    }
}

#[test]
fn alert_event_has_suricata_shape_and_string_array_metadata() {
    let l4 = tcp_seg(40000, 80, 0x18, b"GET /\x00\x01 HTTP/1.0");
    let a = analyzed(
        7,
        Ts::from_parts(T0, 5_000),
        eth_ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, &l4),
    );
    let evidence = json!({"matched": "GET", "offset": 0, "ports": [80, "8080"], "detector": "ignored", "none": null});
    let alert = critical_alert(&a, evidence);
    let cid = CommunityId::of_packet(0, &a.decoded).expect("an IP packet has a Community ID");
    let meta = FlowMeta {
        flow_id: 42,
        community_id: cid,
        app_proto: None,
        counts: FlowCounts {
            pkts_toserver: 3,
            pkts_toclient: 2,
            bytes_toserver: 300,
            bytes_toclient: 1200,
            start: Ts::from_parts(T0, 1_000),
        },
    };
    let mut w = writer();
    w.alert(&a, &alert, Some(&meta)).expect("writing to memory");
    let ev = events(&w.into_inner()).pop().expect("one event");
    assert_eq!(ev["event_type"], "alert");
    assert_eq!(ev["timestamp"], "2024-01-15T10:20:30.000005+0000");
    assert_eq!(
        (&ev["flow_id"], &ev["pcap_cnt"], &ev["community_id"]),
        (&json!(42), &json!(7), &json!(cid.as_str()))
    );
    assert_eq!(
        (&ev["src_port"], &ev["dest_port"], &ev["proto"]),
        (&json!(40000), &json!(80), &json!("TCP"))
    );
    let al = &ev["alert"];
    assert_eq!(
        (&al["action"], &al["gid"], &al["rev"]),
        (&json!("allowed"), &json!(1), &json!(1))
    );
    assert_eq!(al["signature_id"], 2_000_123);
    assert_eq!(al["signature"], "ET TEST bad request");
    assert_eq!(al["category"], "Attempted Administrator Privilege Gain");
    assert_eq!(al["severity"], 1, "Critical is Suricata's severity 1");
    let m = &al["metadata"];
    assert_eq!(m["detector"], json!(["signature"]));
    assert_eq!(m["explanation"], json!(["matched \"GET\" at offset 0"]));
    assert_eq!(m["matched"], json!(["GET"]));
    assert_eq!(m["offset"], json!(["0"]));
    assert_eq!(m["ports"], json!(["80", "8080"]));
    assert!(m.get("none").is_none());
    for (k, v) in m.as_object().expect("metadata is an object") {
        assert!(
            v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "metadata.{k} is an array of strings"
        );
    }
    assert_eq!(ev["payload_printable"], "GET /.. HTTP/1.0");
    // Suricata's alert `flow` object: the flow's counters so far and its start.
    assert_eq!(
        ev["flow"],
        json!({"pkts_toserver": 3, "pkts_toclient": 2, "bytes_toserver": 300,
               "bytes_toclient": 1200, "start": "2024-01-15T10:20:30.000001+0000"})
    );
}

#[test]
fn alert_severity_levels() {
    let a = analyzed(
        1,
        Ts::from_parts(T0, 0),
        eth_ipv4([1, 1, 1, 1], [2, 2, 2, 2], 17, &udp_dgram(1, 2, b"x")),
    );
    let mut w = writer();
    for sev in Severity::ALL {
        let mut al = critical_alert(&a, Value::Null);
        al.severity = sev;
        w.alert(&a, &al, None).expect("writing to memory");
    }
    let levels: Vec<Value> = events(&w.into_inner())
        .iter()
        .map(|e| e["alert"]["severity"].clone())
        .collect();
    assert_eq!(levels, [json!(4), json!(3), json!(2), json!(1)]);
}

fn dns_query_bytes() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    m
}

fn dns_answer_bytes(rcode: u8, answers: &[[u8; 4]]) -> Vec<u8> {
    let mut m = vec![
        0x12,
        0x34,
        0x81,
        0x80 | rcode,
        0,
        1,
        0,
        u8::try_from(answers.len()).expect("few"),
        0,
        0,
        0,
        0,
    ];
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    for a in answers {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(a);
    }
    m
}

#[test]
fn dns_events_use_version_2_shapes() {
    let (c, s) = ([10, 0, 0, 1], [8, 8, 8, 8]);
    let q = analyzed(
        1,
        Ts::from_parts(T0, 0),
        eth_ipv4(c, s, 17, &udp_dgram(5353, 53, &dns_query_bytes())),
    );
    let r = analyzed(
        2,
        Ts::from_parts(T0, 1000),
        eth_ipv4(
            s,
            c,
            17,
            &udp_dgram(
                53,
                5353,
                &dns_answer_bytes(0, &[[93, 184, 216, 34], [93, 184, 216, 35]]),
            ),
        ),
    );
    let nx = analyzed(
        3,
        Ts::from_parts(T0, 2000),
        eth_ipv4(s, c, 17, &udp_dgram(53, 5353, &dns_answer_bytes(3, &[]))),
    );
    assert!(
        q.decoded.dns.is_some() && r.decoded.dns.is_some(),
        "the decoder reads the DNS test messages"
    );
    let mut table = FlowTable::new(FlowConfig::default());
    let mut w = writer();
    for a in [&q, &r, &nx] {
        let u = table
            .update(a.frame.ts, &a.decoded, a.frame.orig_len, &[])
            .expect("UDP has a flow");
        w.dns(a, Some(&u.meta)).expect("writing to memory");
    }
    let other = analyzed(
        4,
        Ts::from_parts(T0, 0),
        eth_ipv4(c, s, 17, &udp_dgram(1, 2, b"not dns")),
    );
    w.dns(&other, None).expect("no DNS, no event");
    assert_eq!(w.events(), 3);
    let evs = events(&w.into_inner());
    let d = &evs[0]["dns"];
    assert_eq!(evs[0]["event_type"], "dns");
    assert_eq!(d["version"], 2, "Suricata's schema requires dns.version");
    assert_eq!(
        (&d["type"], &d["id"], &d["rrname"], &d["rrtype"]),
        (
            &json!("query"),
            &json!(0x1234),
            &json!("example.com"),
            &json!("A")
        )
    );
    let d = &evs[1]["dns"];
    assert_eq!(
        (&d["version"], &d["type"], &d["flags"]),
        (&json!(2), &json!("answer"), &json!("8180"))
    );
    assert_eq!(
        (&d["qr"], &d["rd"], &d["ra"]),
        (&json!(true), &json!(true), &json!(true))
    );
    assert_eq!(
        (&d["rcode"], &d["rrname"], &d["rrtype"]),
        (&json!("NOERROR"), &json!("example.com"), &json!("A"))
    );
    assert_eq!(
        d["answers"][1],
        json!({"rrname": "example.com", "rrtype": "A", "ttl": 3600, "rdata": "93.184.216.35"})
    );
    assert_eq!(
        d["grouped"],
        json!({"A": ["93.184.216.34", "93.184.216.35"]})
    );
    assert_eq!(
        evs[1]["flow_id"], evs[0]["flow_id"],
        "query and answer share the flow"
    );
    assert_eq!(evs[2]["dns"]["rcode"], "NXDOMAIN");
    assert!(evs[2]["dns"].get("answers").is_none());
}

#[test]
fn stats_event_nests_counters_as_suricata() {
    let mut s = Stats::default();
    let frames = [
        analyzed(
            1,
            Ts(0),
            eth_ipv4([1, 1, 1, 1], [2, 2, 2, 2], 6, &tcp_seg(1, 2, 2, b"")),
        ),
        analyzed(
            2,
            Ts(0),
            eth_ipv4([1, 1, 1, 1], [2, 2, 2, 2], 17, &udp_dgram(1, 2, b"")),
        ),
    ];
    for a in &frames {
        s.decoder.record(&a.frame, &a.decoded);
    }
    let trunc = Decoded {
        issue: Some(DecodeIssue::Truncated("ipv4")),
        ..Decoded::default()
    };
    s.decoder.record(&frames[0].frame, &trunc);
    let odd = Decoded {
        issue: Some(DecodeIssue::UnknownEtherType(0x88cc)),
        ethertype: Some(0x88cc),
        ..Decoded::default()
    };
    s.decoder.record(&frames[0].frame, &odd);
    s.capture.kernel_drops = 5;
    s.flow.created = 9;
    s.alerts.insert(Severity::Critical, 2);
    s.alerts.insert(Severity::Low, 1);
    s.uptime_secs = 12.7;
    let mut plain = writer();
    plain
        .stats(&s, Ts::from_parts(T0, 0))
        .expect("writing to memory");
    let ev = events(&plain.into_inner()).pop().expect("one event");
    let st = &ev["stats"];
    // Suricata's schema has none of nsm-tui's own counters: written only as extensions.
    assert!(st["decoder"].get("unsupported").is_none(), "{st}");
    assert!(st["detect"].get("alerts_by_severity").is_none(), "{st}");
    assert!(st["capture"].get("queue_drops").is_none(), "{st}");
    assert!(st.get("store").is_none(), "{st}");
    assert_eq!(st["decoder"]["event"]["ethernet"]["unknown_ethertype"], 1);
    let mut w = writer_with(true);
    w.stats(&s, Ts::from_parts(T0, 0))
        .expect("writing to memory");
    let ev = events(&w.into_inner()).pop().expect("one event");
    assert_eq!(ev["event_type"], "stats");
    let st = &ev["stats"];
    assert_eq!(st["uptime"], 12);
    assert_eq!(st["decoder"]["pkts"], 4);
    assert_eq!(
        (&st["decoder"]["tcp"], &st["decoder"]["udp"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(st["decoder"]["invalid"], 1);
    assert_eq!(st["decoder"]["event"]["ipv4"]["pkt_too_small"], 1);
    assert_eq!(st["decoder"]["event"]["ethernet"]["unknown_ethertype"], 1);
    assert_eq!(st["decoder"]["unsupported"]["ethertype.0x88cc"], 1);
    assert_eq!(st["capture"]["kernel_drops"], 5);
    assert_eq!(st["flow"]["total"], 9);
    assert_eq!(st["detect"]["alert"], 3);
    assert_eq!(st["detect"]["alerts_by_severity"]["critical"], 2);
    assert_eq!(s.decoder.count(Proto::Tcp), 1);
    assert!(
        st.get("response").is_none(),
        "no response section unless the run can act"
    );
}

#[test]
fn stats_carry_response_metrics_when_the_run_can_act() {
    let m = nsm_tui::metrics::shared();
    nsm_tui::metrics::update(&m, |m| {
        m.record("block", "executed");
        m.record("block", "executed");
        m.record("block", "refused");
        m.record("reset", "failed");
        m.record_latency(42.0);
        m.record_latency(58.0);
    });
    let mut plain = writer();
    plain.set_response_metrics(Some(m.clone()));
    plain
        .stats(&Stats::default(), Ts::from_parts(T0, 0))
        .expect("writing to memory");
    let ev = events(&plain.into_inner()).pop().expect("one event");
    assert!(
        ev["stats"].get("response").is_none(),
        "response metrics are an extension"
    );
    let mut w = writer_with(true);
    w.set_response_metrics(Some(m));
    w.stats(&Stats::default(), Ts::from_parts(T0, 0))
        .expect("writing to memory");
    let ev = events(&w.into_inner()).pop().expect("one event");
    let r = &ev["stats"]["response"];
    assert_eq!(r["actions"], 4);
    assert_eq!(r["by_outcome"]["executed"], 2);
    assert_eq!(r["by_outcome"]["refused"], 1);
    assert_eq!(r["by_action"]["reset"], 1);
    // Two of three attempts carried out; the refusal is no attempt.
    let rate = r["success_rate"].as_f64().expect("a rate");
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(r["time_to_block_ms"]["count"], 2);
    assert_eq!(r["time_to_block_ms"]["median"], 50.0);
    assert_eq!(r["time_to_block_ms"]["max"], 58.0);
}

struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "reader went away",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_reach_the_caller() {
    let mut w = EveWriter::new(Broken);
    let err = w
        .flow(&tcp_flow_record())
        .expect_err("the sink refuses every write");
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(w.events(), 0);
}
