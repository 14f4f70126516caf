//! Helpers for the console tests: frames built from parts, and a model filled from the
//! bundled demo capture through the real pipeline (decoders and detectors included).
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use nsm_tui::capture::file::FileSource;
use nsm_tui::config::Config;
use nsm_tui::engine::alert::{Alert, Detector, RuleId, Severity};
use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
use nsm_tui::engine::incident::Grouper;
use nsm_tui::engine::model::{Model, ModelConfig};
use nsm_tui::engine::record::Analyzed;
use nsm_tui::tui::{ModelObserver, Shared};

pub fn demo_pcap() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo_attacks.pcap")
}

/// A configuration that writes nothing and loads the shipped signatures.
pub fn quiet_config() -> Config {
    let mut c = Config::default();
    c.storage.db_enabled = false;
    c.storage.pcap_log_enabled = false;
    c.output.eve_path = None;
    // Relative (tests run in the crate directory), so alert explanations quote no machine path.
    c.detector.signatures_dir = Some("signatures".into());
    c
}

/// The demo capture run through the pipeline into a model.
pub fn demo_model(retained: usize) -> Arc<Shared> {
    let c = quiet_config();
    let shared = Shared::new(ModelConfig {
        retained_packets: retained,
        ..ModelConfig::default()
    });
    let mut opts = nsm_tui::pipeline::PipelineOptions::from_config(&c);
    // As in the console: the run's incident tracker around the model.
    let model: Box<dyn nsm_tui::pipeline::observer::Observer> =
        Box::new(ModelObserver::new(shared.clone()));
    opts.observer =
        nsm_tui::respond::auto::observer(&c, &nsm_tui::metrics::shared(), false, vec![model])
            .expect("observers");
    let (det, _) = nsm_tui::pipeline::detectors::build(&c).expect("signatures load");
    let src = FileSource::open(&demo_pcap()).expect("demo capture opens");
    let stop = Arc::new(AtomicBool::new(false));
    nsm_tui::pipeline::run(Box::new(src), det, opts, &stop, |_| {}).expect("pipeline runs");
    shared
}

fn eth_ipv4(src: [u8; 4], dst: [u8; 4]) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64)
}

fn frame(ts_ms: i64, data: Vec<u8>) -> RawFrame {
    RawFrame {
        ts: Ts(ts_ms * 1_000_000),
        linktype: LinkType::ETHERNET,
        iface: 0,
        orig_len: u32::try_from(data.len()).unwrap(),
        data,
    }
}

pub fn tcp(
    ts_ms: i64,
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> RawFrame {
    let b = eth_ipv4(src, dst).tcp(sport, dport, 1000, 64240).syn();
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    frame(ts_ms, v)
}

pub fn udp(
    ts_ms: i64,
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> RawFrame {
    let b = eth_ipv4(src, dst).udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    frame(ts_ms, v)
}

pub fn icmp(ts_ms: i64, src: [u8; 4], dst: [u8; 4]) -> RawFrame {
    let b = eth_ipv4(src, dst).icmpv4_echo_request(1, 1);
    let mut v = Vec::new();
    b.write(&mut v, &[0; 8]).unwrap();
    frame(ts_ms, v)
}

pub fn arp(ts_ms: i64, sender: Ipv4Addr, target: Ipv4Addr) -> RawFrame {
    let mut v = vec![0xff; 6];
    v.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    v.extend([0, 1, 0x08, 0x00, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1]);
    v.extend(sender.octets());
    v.extend([0; 6]);
    v.extend(target.octets());
    frame(ts_ms, v)
}

/// A DNS query for `name` (type A) as the UDP payload.
pub fn dns_query(name: &str) -> Vec<u8> {
    let mut v = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        v.push(u8::try_from(label.len()).unwrap());
        v.extend(label.as_bytes());
    }
    v.extend([0, 0, 1, 0, 1]);
    v
}

pub fn alert(ts: Ts, sev: Severity, category: &str, packet: u64) -> Alert {
    Alert {
        ts,
        rule: RuleId(1000),
        description: format!("{category} test").into(),
        severity: sev,
        category: category.into(),
        detector: Detector::Heuristic,
        packet,
        flow_id: None,
        explanation: String::new(),
        evidence: serde_json::Value::Null,
    }
}

pub fn analyzed(pcap_cnt: u64, frame: RawFrame, alerts: Vec<Alert>) -> Analyzed {
    let decoded = nsm_tui::engine::decode::decode(&frame);
    Analyzed {
        pcap_cnt,
        frame,
        decoded,
        alerts,
        stream_http: Vec::new(),
    }
}

/// Feeds `a` to the model as a run does: the packet, then each of its alerts through the run's
/// one incident grouper (the pipeline's incident tracker does this between them).
pub fn feed(m: &mut Model, g: &mut Grouper, a: &Analyzed) {
    m.apply(a, None);
    let (src, dst) = (a.decoded.source_addr(), a.decoded.dest_addr());
    for al in &a.alerts {
        let (inc, change) = g.add(al, src, dst);
        m.incident_changed(inc, change);
    }
}

/// An alert that came after its packet `a` (reputation), fed as a run does.
pub fn feed_late(m: &mut Model, g: &mut Grouper, a: &Analyzed, alert: &Alert) {
    m.late_alert(a, alert);
    let (inc, change) = g.add(alert, a.decoded.source_addr(), a.decoded.dest_addr());
    m.incident_changed(inc, change);
}

/// A small model with one packet of each kind the filter tests need.
pub fn sample_model() -> Model {
    let mut m = Model::new(ModelConfig::default());
    let mut g = Grouper::default();
    let a = [10, 0, 0, 5];
    let b = [192, 168, 1, 9];
    let c = [8, 8, 8, 8];
    let frames = vec![
        (
            tcp(
                0,
                a,
                b,
                40000,
                80,
                b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
            ),
            None,
        ),
        (udp(1, a, c, 5353, 53, &dns_query("example.com")), None),
        (
            tcp(2, c, a, 443, 40001, b""),
            Some((Severity::High, "port_scan")),
        ),
        (icmp(3, b, a), Some((Severity::Low, "icmp_sweep"))),
        (
            arp(4, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 5)),
            None,
        ),
        (
            udp(5, b, c, 1234, 9999, b"hello"),
            Some((Severity::Critical, "exfil")),
        ),
    ];
    for (i, (f, al)) in frames.into_iter().enumerate() {
        let n = u64::try_from(i).unwrap() + 1;
        let ts = f.ts;
        let alerts = al
            .map(|(s, cat)| vec![alert(ts, s, cat, n)])
            .unwrap_or_default();
        feed(&mut m, &mut g, &analyzed(n, f, alerts));
    }
    m
}
