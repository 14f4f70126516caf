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

/// `ports` unanswered SYNs from `src` to as many ports of one server in the minute `minute`.
fn scan(d: &mut BaselineDetector, src: [u8; 4], ports: u16, minute: i64, out: &mut Vec<FlowAlert>) {
    for p in 0..ports {
        let mut r = flow(
            src,
            [10, 0, 1, 1],
            1000 + p,
            minute * 60 + 2,
            0.0,
            (1, 1),
            (60, 54),
        );
        r.state = FlowState::New;
        d.flow_ended(&r, out);
    }
    d.tick(Ts::from_parts((minute + 1) * 60 + 1, 0), out);
}

#[test]
fn a_stranger_far_past_hosts_in_general_is_medium_a_marginal_one_low() {
    let mut d = detector();
    let mut out = Vec::new();
    quiet_minutes(&mut d, 0, 20, &mut out);
    assert!(out.is_empty(), "{:?}", categories(&out));
    // 300 ports against hosts in general (about 2 ± 10): z near 30, Medium.
    scan(&mut d, [10, 0, 0, 9], 300, 20, &mut out);
    let fan: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "fan_out")
        .collect();
    assert_eq!(fan.len(), 1, "{:?}", categories(&out));
    assert_eq!(fan[0].host.to_string(), "10.0.0.9");
    assert_eq!(
        fan[0].alert.severity,
        crate::engine::alert::Severity::Medium
    );
    assert!(
        fan[0]
            .alert
            .explanation
            .contains("against hosts in general"),
        "{}",
        fan[0].alert.explanation
    );
    // 60 ports (on a fresh baseline: the one above learned the scan): past the bar (z near
    // 6) but not twice it, Low.
    let mut d = detector();
    quiet_minutes(&mut d, 0, 20, &mut out);
    out.clear();
    scan(&mut d, [10, 0, 0, 10], 60, 20, &mut out);
    let fan: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "fan_out")
        .collect();
    assert_eq!(fan.len(), 1, "{:?}", categories(&out));
    assert_eq!(fan[0].alert.severity, crate::engine::alert::Severity::Low);
}

/// One flow to `dst`:80 from each of `sources` addresses in the minute `minute`.
fn reach(
    d: &mut BaselineDetector,
    dst: [u8; 4],
    sources: u32,
    minute: i64,
    out: &mut Vec<FlowAlert>,
) {
    for i in 0..sources {
        let src = (0xC633_0000u32 + i).to_be_bytes();
        let mut r = flow(src, dst, 80, minute * 60 + 2, 0.0, (1, 0), (60, 0));
        r.state = FlowState::New;
        d.flow_ended(&r, out);
    }
}

#[test]
fn many_sources_at_one_destination_is_fan_in_unless_that_is_its_habit() {
    let mut d = detector();
    let mut out = Vec::new();
    quiet_minutes(&mut d, 0, 20, &mut out);
    assert!(out.is_empty(), "{:?}", categories(&out));
    // 300 sources, one SYN each, at one server: each source is nothing, the victim stands out.
    reach(&mut d, [10, 0, 1, 1], 300, 20, &mut out);
    d.tick(Ts::from_parts(21 * 60 + 1, 0), &mut out);
    let fan: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "fan_in")
        .collect();
    assert_eq!(fan.len(), 1, "{:?}", categories(&out));
    assert_eq!(fan[0].peer.map(|p| p.to_string()), Some("10.0.1.1".into()));
    // Against destinations in general: Low (it may be a busy server met for the first time).
    assert_eq!(fan[0].alert.severity, crate::engine::alert::Severity::Low);
    assert_eq!(fan[0].alert.evidence["source_is_attacker"], false);
    let why = &fan[0].alert.explanation;
    assert!(
        why.contains("10.0.1.1 (the victim) was reached by"),
        "{why}"
    );
    assert!(why.contains("against destinations in general"), "{why}");
    // A server that 100 clients reach every minute learns that as its own fan-in.
    out.clear();
    for m in 22..40 {
        reach(&mut d, [10, 0, 1, 7], 100, m, &mut out);
    }
    out.clear();
    reach(&mut d, [10, 0, 1, 7], 110, 40, &mut out);
    d.tick(Ts::from_parts(41 * 60 + 1, 0), &mut out);
    assert!(
        !categories(&out).contains(&"fan_in"),
        "{:?}",
        out.iter().map(|a| &a.alert.explanation).collect::<Vec<_>>()
    );
    // Six times its habit, far past twice the bar against its own baseline: Medium.
    reach(&mut d, [10, 0, 1, 7], 600, 41, &mut out);
    d.tick(Ts::from_parts(42 * 60 + 1, 0), &mut out);
    let fan: Vec<&FlowAlert> = out
        .iter()
        .filter(|a| a.alert.category.as_ref() == "fan_in")
        .collect();
    assert_eq!(fan.len(), 1, "{:?}", categories(&out));
    assert_eq!(
        fan[0].alert.severity,
        crate::engine::alert::Severity::Medium
    );
    assert!(
        fan[0].alert.explanation.contains("against its baseline"),
        "{}",
        fan[0].alert.explanation
    );
    // Learned fan-in is carried to a new run.
    let l = d.learned();
    assert!(l
        .fan_in
        .own
        .iter()
        .any(|(ip, e)| ip.to_string() == "10.0.1.7" && e.n >= 10));
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
