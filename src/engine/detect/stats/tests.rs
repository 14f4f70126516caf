//! The baseline detector from flow records: warm-up, volume and fan-out against a host's own
//! baseline, new ports, beaconing, exfiltration, and what it learned carried to a new run.

use super::*;
use crate::engine::features::testutil::flow;

const HOST: [u8; 4] = [10, 0, 0, 5];

fn params() -> LearnParams {
    LearnParams {
        window_secs: 60,
        ..LearnParams::default()
    }
}

fn detector() -> BaselineDetector {
    BaselineDetector::new(
        &BaselineConfig::default(),
        &BeaconConfig::default(),
        params(),
    )
}

/// `windows` minutes of a quiet client: 5 web flows a minute to two servers, ~10 KB out each.
fn quiet_minutes(d: &mut BaselineDetector, from: i64, windows: i64, out: &mut Vec<FlowAlert>) {
    for m in from..from + windows {
        for k in 0..5 {
            let t = m * 60 + 3 + k * 11;
            let dst = [10, 0, 1, (k % 2) as u8 + 1];
            d.flow_ended(
                &flow(
                    HOST,
                    dst,
                    443,
                    t,
                    2.0,
                    (10, 12),
                    (10_000 + k as u64 * 700, 40_000),
                ),
                out,
            );
        }
    }
    d.tick(Ts::from_parts((from + windows) * 60 + 1, 0), out);
}

fn categories(out: &[FlowAlert]) -> Vec<&str> {
    out.iter().map(|a| a.alert.category.as_ref()).collect()
}

#[test]
fn no_alert_while_learning_then_a_burst_of_bytes_out_is_explained() {
    let mut d = detector();
    let mut out = Vec::new();
    // A burst during the warm-up (from another host) raises nothing.
    d.flow_ended(
        &flow(
            [10, 0, 0, 6],
            [203, 0, 113, 7],
            443,
            30,
            5.0,
            (4000, 100),
            (50_000_000, 9000),
        ),
        &mut out,
    );
    quiet_minutes(&mut d, 1, 20, &mut out);
    assert!(out.is_empty(), "{:?}", categories(&out));
    assert!(!d.learning() || d.population.windows < 10);
    // 48 MB out in one minute against ~55 KB a minute.
    d.flow_ended(
        &flow(
            HOST,
            [203, 0, 113, 7],
            443,
            21 * 60 + 5,
            50.0,
            (40_000, 900),
            (48 << 20, 90_000),
        ),
        &mut out,
    );
    d.tick(Ts::from_parts(22 * 60 + 1, 0), &mut out);
    let vol: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "anomaly_volume")
        .collect();
    assert_eq!(vol.len(), 1, "{:?}", categories(&out));
    let a = vol[0];
    assert_eq!(a.host.to_string(), "10.0.0.5");
    assert_eq!(a.peer.map(|p| p.to_string()), Some("203.0.113.7".into()));
    assert!(
        a.alert.explanation.contains("bytes out 48.0 MB vs"),
        "{}",
        a.alert.explanation
    );
    assert!(
        a.alert.explanation.contains("z = "),
        "{}",
        a.alert.explanation
    );
    assert!(
        a.alert.explanation.contains("against its baseline"),
        "{}",
        a.alert.explanation
    );
}

#[test]
fn a_host_that_starts_scanning_fans_out() {
    let mut d = detector();
    let mut out = Vec::new();
    quiet_minutes(&mut d, 0, 20, &mut out);
    assert!(out.is_empty());
    for p in 0..300u16 {
        let mut r = flow(
            HOST,
            [10, 0, 1, 1],
            1000 + p,
            20 * 60 + 2,
            0.0,
            (1, 1),
            (60, 54),
        );
        r.state = FlowState::New;
        d.flow_ended(&r, &mut out);
    }
    d.tick(Ts::from_parts(21 * 60 + 1, 0), &mut out);
    let fan: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "fan_out")
        .collect();
    assert_eq!(fan.len(), 1, "{:?}", categories(&out));
    assert!(
        fan[0].alert.explanation.contains("distinct ports 300.0 vs"),
        "{}",
        fan[0].alert.explanation
    );
}

#[test]
fn a_new_service_port_is_reported_once() {
    let mut d = detector();
    let mut out = Vec::new();
    quiet_minutes(&mut d, 0, 20, &mut out);
    let ssh = flow(
        HOST,
        [10, 0, 1, 1],
        22,
        20 * 60 + 3,
        3.0,
        (20, 20),
        (3000, 4000),
    );
    d.flow_ended(&ssh, &mut out);
    d.flow_ended(&ssh, &mut out);
    let ports: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "unusual_port")
        .collect();
    assert_eq!(ports.len(), 1, "{:?}", categories(&out));
    assert!(
        ports[0].alert.explanation.contains("service port 22"),
        "{}",
        ports[0].alert.explanation
    );
    assert_eq!(ports[0].ports, Some((40000, 22)));
}

#[test]
fn a_regular_heartbeat_is_beaconing() {
    let mut d = detector();
    let mut out = Vec::new();
    for i in 0..12 {
        let t = 100 + i * 300 + (i % 3);
        d.flow_ended(
            &flow(HOST, [198, 51, 100, 20], 8443, t, 0.5, (4, 4), (400, 300)),
            &mut out,
        );
    }
    let b: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "beaconing")
        .collect();
    assert_eq!(b.len(), 1, "{:?}", categories(&out));
    assert!(
        b[0].alert
            .explanation
            .contains("198.51.100.20:8443 8 times every 300"),
        "{}",
        b[0].alert.explanation
    );
}

#[test]
fn slow_exfiltration_against_learned_peaks() {
    let cfg = BaselineConfig {
        exfil_window_secs: 600,
        exfil_min_bytes: 5 << 20,
        ..BaselineConfig::default()
    };
    let mut d = BaselineDetector::new(&cfg, &BeaconConfig::default(), params());
    let mut out = Vec::new();
    // Four ten-minute spans of ordinary traffic teach the usual peak (~100 KB per destination).
    quiet_minutes(&mut d, 0, 41, &mut out);
    assert!(out.is_empty(), "{:?}", categories(&out));
    // Then 1 MB every two minutes to one outside address, under every per-window bar.
    for i in 0..8 {
        d.flow_ended(
            &flow(
                HOST,
                [192, 0, 2, 77],
                443,
                41 * 60 + i * 70,
                30.0,
                (800, 400),
                (1 << 20, 30_000),
            ),
            &mut out,
        );
    }
    let ex: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "exfiltration")
        .collect();
    assert_eq!(ex.len(), 1, "{:?}", categories(&out));
    assert!(
        ex[0]
            .alert
            .explanation
            .contains("sent 5.0 MB to 192.0.2.77 within 10 min"),
        "{}",
        ex[0].alert.explanation
    );
}

#[test]
fn what_was_learned_carries_to_a_new_run_and_quiet_mode_raises_nothing() {
    let mut first = detector().quiet();
    let mut out = Vec::new();
    quiet_minutes(&mut first, 0, 20, &mut out);
    first.flow_ended(
        &flow(
            HOST,
            [203, 0, 113, 7],
            443,
            20 * 60 + 5,
            50.0,
            (40_000, 900),
            (48 << 20, 90_000),
        ),
        &mut out,
    );
    first.finish(&mut out);
    assert!(out.is_empty());
    let learned = first.learned();
    assert_eq!(learned.hosts.len(), 1);
    let json = serde_json::to_string(&learned).unwrap();
    let back: Learned = serde_json::from_str(&json).unwrap();
    assert_eq!(back, learned);
    // The next run starts warmed: its first burst alerts.
    let mut second = detector().with_learned(back);
    assert!(!second.learning() || second.population.windows >= 10);
    second.flow_ended(
        &flow(
            HOST,
            [203, 0, 113, 8],
            443,
            30 * 60 + 5,
            50.0,
            (40_000, 900),
            (96 << 20, 90_000),
        ),
        &mut out,
    );
    second.tick(Ts::from_parts(31 * 60 + 1, 0), &mut out);
    assert!(
        categories(&out).contains(&"anomaly_volume"),
        "{:?}",
        categories(&out)
    );
}

#[test]
fn profiles_stay_within_the_cap() {
    let cfg = BaselineConfig {
        max_hosts: 64,
        ..BaselineConfig::default()
    };
    let mut d = BaselineDetector::new(&cfg, &BeaconConfig::default(), params());
    let mut out = Vec::new();
    for i in 0..2000u32 {
        let src = (0x0a00_0000 + i).to_be_bytes();
        d.flow_ended(
            &flow(
                src,
                [10, 0, 1, 1],
                80,
                i64::from(i / 20) * 60,
                0.1,
                (1, 1),
                (60, 60),
            ),
            &mut out,
        );
    }
    d.finish(&mut out);
    assert!(d.profiles.len() <= 64, "{}", d.profiles.len());
    let c: HashMap<_, _> = d.counters().into_iter().collect();
    assert!(c["profiles_evicted"] > 0);
}
