//! Snapshots of every console pane, the overlays and a whole scripted session, drawn with
//! ratatui's TestBackend from a model filled by the real pipeline over the demo capture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod tui_support;

use std::sync::{Arc, OnceLock};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nsm_tui::engine::alert::{Detector, Severity};
use nsm_tui::engine::frame::Ts;
use nsm_tui::engine::model::Model;
use nsm_tui::engine::stats::{BaselineRow, BaselineView};
use nsm_tui::respond::plan::BlockSettings;
use nsm_tui::respond::safety::Guard;
use nsm_tui::tui::app::{App, Effect, ExportWhat, Focus, Overlay};
use nsm_tui::tui::keymap::KeyMap;
use nsm_tui::tui::theme::{Palette, Theme};
use nsm_tui::tui::{detail, incidents, overview, packets, status, Shared};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

fn demo() -> &'static Arc<Shared> {
    static S: OnceLock<Arc<Shared>> = OnceLock::new();
    S.get_or_init(|| tui_support::demo_model(100_000))
}

fn app(m: &Model) -> App {
    let mut guard = Guard::default();
    guard.protect(
        "198.51.100.77".parse().unwrap(),
        32,
        "the SSH client of this session (SSH_CONNECTION)",
    );
    let block = BlockSettings {
        guard,
        ..BlockSettings::default()
    };
    let mut a = App::new(
        KeyMap::default(),
        Theme {
            palette: Palette::Mono,
        },
        block,
        "demo",
        false,
    );
    a.view.refresh(m);
    a
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn chars(a: &mut App, m: &Model, s: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    for c in s.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\t' => KeyCode::Tab,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        out.extend(a.handle_key(&key(code), m));
        a.view.refresh(m);
    }
    out
}

fn screen(a: &App, m: &Model, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| nsm_tui::tui::draw(f, a, m)).unwrap();
    t.backend().to_string()
}

fn pane(w: u16, h: u16, f: impl Fn(&mut ratatui::Frame, Rect)) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|fr| f(fr, fr.area())).unwrap();
    t.backend().to_string()
}

#[test]
fn whole_screen_80x24_and_120x40() {
    let m = demo().lock();
    let a = app(&m);
    assert_eq!(m.packets, 3000);
    insta::assert_snapshot!("screen_80x24", screen(&a, &m, 80, 24));
    insta::assert_snapshot!("screen_120x40", screen(&a, &m, 120, 40));
}

#[test]
fn each_pane() {
    let m = demo().lock();
    let a = app(&m);
    insta::assert_snapshot!(
        "pane_packets",
        pane(120, 14, |f, r| packets::render(f, &a, &m, r))
    );
    insta::assert_snapshot!(
        "pane_incidents",
        pane(80, 14, |f, r| incidents::render(f, &a, &m, r))
    );
    insta::assert_snapshot!(
        "pane_status",
        pane(120, 2, |f, r| status::render(f, &a, &m, r))
    );
    insta::assert_snapshot!(
        "pane_overview",
        pane(120, 30, |f, r| overview::render(f, &a, &m, r))
    );
    // Once actions exist, the Overview shows how the response went.
    let mut acted = app(&m);
    let metrics = nsm_tui::metrics::shared();
    nsm_tui::metrics::update(&metrics, |r| {
        for (action, outcome) in [
            ("block", "executed"),
            ("block", "executed"),
            ("block", "executed"),
            ("reset", "executed"),
            ("block", "refused"),
            ("block", "failed"),
            ("expire", "expired"),
        ] {
            r.record(action, outcome);
        }
        [38.0, 45.0, 71.0]
            .into_iter()
            .for_each(|ms| r.record_latency(ms));
    });
    acted.response = Some(metrics);
    insta::assert_snapshot!(
        "pane_overview_with_response",
        pane(120, 30, |f, r| overview::render(f, &acted, &m, r))
    );
    insta::assert_snapshot!(
        "pane_detail_packet",
        pane(90, 24, |f, r| detail::render(f, &a, &m, r))
    );
}

#[test]
fn detail_highlights_signature_matches() {
    let m = demo().lock();
    let mut a = app(&m);
    let row = m
        .rows()
        .iter()
        .find(|r| {
            r.alerts.iter().any(|x| x.detector == Detector::Signature)
                && !detail::matched_ranges(r).is_empty()
        })
        .expect("the demo has a signature match");
    let ranges = detail::matched_ranges(row);
    a.follow = false;
    a.selected = Some(row.seq);
    let mut t = Terminal::new(TestBackend::new(100, 40)).unwrap();
    t.draw(|f| detail::render(f, &a, &m, f.area())).unwrap();
    insta::assert_snapshot!("pane_detail_signature", t.backend().to_string());
    // Some cell of the dump carries the highlight style (reversed in the mono palette).
    let hl = a.theme.highlight();
    let buf = t.backend().buffer();
    let marked = buf
        .content()
        .iter()
        .filter(|c| c.modifier.contains(hl.add_modifier) && c.symbol() != " ")
        .count();
    let want: usize = ranges.iter().map(std::iter::ExactSizeIterator::len).sum();
    assert!(
        marked >= want.min(16),
        "highlighted cells {marked}, matched bytes {want}"
    );
}

#[test]
fn filter_box_valid_and_invalid() {
    let m = demo().lock();
    let mut a = app(&m);
    chars(&mut a, &m, "/udp port 53");
    assert!(matches!(&a.overlay, Overlay::Filter(f) if f.error.is_none()));
    insta::assert_snapshot!("filter_valid", screen(&a, &m, 80, 24));
    chars(&mut a, &m, " and sev>=urgent");
    assert!(matches!(&a.overlay, Overlay::Filter(f) if f.error.is_some()));
    insta::assert_snapshot!("filter_invalid", screen(&a, &m, 80, 24));
    // Enter on an invalid filter keeps the box open; Esc cancels without applying.
    chars(&mut a, &m, "\n\x1b");
    assert!(matches!(a.overlay, Overlay::None));
    assert_eq!(a.view.len(), m.rows().len());
}

#[test]
fn confirm_dialog_and_help() {
    let m = demo().lock();
    let mut a = app(&m);
    chars(&mut a, &m, "\t");
    assert_eq!(a.focus, Focus::Incidents);
    chars(&mut a, &m, "b");
    let Overlay::Confirm(plan) = &a.overlay else {
        panic!("b opens the confirm dialog");
    };
    let cmd = plan.command_line();
    assert!(
        cmd.starts_with("nft -f - <<< '") && cmd.contains("inet nsm_tui block4"),
        "{cmd}"
    );
    assert!(plan.dry_run);
    insta::assert_snapshot!("confirm_dialog", screen(&a, &m, 100, 30));
    chars(&mut a, &m, "\x1b?");
    assert!(matches!(a.overlay, Overlay::Help));
    insta::assert_snapshot!("help_overlay", screen(&a, &m, 80, 30));
}

#[test]
fn scripted_session() {
    let m = demo().lock();
    let mut a = app(&m);
    let n = m.rows().len();
    // Follows the newest until the user scrolls; `k` holds the position.
    assert_eq!(a.selected_index(), Some(n - 1));
    chars(&mut a, &m, "kkk");
    assert_eq!(a.selected_index(), Some(n - 4));
    assert!(!a.follow);
    chars(&mut a, &m, "gjj");
    assert_eq!(a.selected_index(), Some(2));
    chars(&mut a, &m, "G");
    assert!(a.follow);
    // `/tcp` Enter shows TCP only.
    chars(&mut a, &m, "/tcp\n");
    let tcp = m
        .rows()
        .iter()
        .filter(|r| r.proto() == nsm_tui::engine::Proto::Tcp)
        .count();
    assert_eq!(a.view.len(), tcp);
    assert!(tcp > 0 && tcp < n);
    insta::assert_snapshot!("session_tcp", screen(&a, &m, 120, 40));
    // Incidents: Tab, Enter shows its alerts and packets.
    chars(&mut a, &m, "\tj\n");
    assert!(a.incident_open.is_some());
    insta::assert_snapshot!("session_incident", screen(&a, &m, 120, 40));
    // `w` on an incident offers its packets; Enter returns the export effect.
    let fx = chars(&mut a, &m, "w\n");
    let Some(Effect::Export {
        what: ExportWhat::Incident { id, .. },
        path,
    }) = fx.first()
    else {
        panic!("w Enter exports, got {fx:?}");
    };
    assert_eq!(Some(*id), a.incident_open);
    assert!(path.starts_with("data"));
    // Overview, pause, quit.
    chars(&mut a, &m, "\x1b\x1bo");
    insta::assert_snapshot!("session_overview", screen(&a, &m, 120, 40));
    assert_eq!(chars(&mut a, &m, " "), vec![Effect::SetPaused(true)]);
    assert_eq!(chars(&mut a, &m, "q"), vec![Effect::Quit]);
}

#[test]
fn help_fits_80x24() {
    // 80×24 puts the key table in two columns; drawn over an empty model.
    let empty = Model::new(nsm_tui::engine::model::ModelConfig::default());
    let mut b = app(&empty);
    chars(&mut b, &empty, "?");
    let text = screen(&b, &empty, 80, 24);
    for binding in b.keymap.bindings() {
        assert!(
            text.contains(binding.help),
            "{} missing:\n{text}",
            binding.help
        );
    }
    insta::assert_snapshot!("help_overlay_80x24", text);
}

#[test]
fn geoip_countries_and_reputation_quota_show() {
    use nsm_tui::engine::model::ModelConfig;
    use nsm_tui::enrich::geoip::GeoIp;
    use nsm_tui::enrich::reputation::Status;
    use std::sync::atomic::Ordering;
    // The bundled country database (CC BY 4.0) and public addresses it knows.
    let db =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/geo-whois-asn-country.mmdb");
    let geo = Arc::new(GeoIp::open(&db, None).expect("bundled GeoIP database"));
    let mut m = Model::new(ModelConfig::default());
    let flows = [([10, 0, 0, 5], [8, 8, 8, 8]), ([10, 0, 0, 5], [1, 1, 1, 1])];
    for (n, (src, dst)) in flows.iter().enumerate() {
        let n = u64::try_from(n).unwrap() + 1;
        let f = tui_support::tcp(i64::try_from(n).unwrap(), *src, *dst, 40000, 443, b"");
        m.apply(&tui_support::analyzed(n, f, vec![]), None);
    }
    let mut a = app(&m);
    a.geo = Some(geo.clone());
    let rep = Arc::new(Status::default());
    rep.quota_limit.store(1000, Ordering::Relaxed);
    rep.quota_used.store(12, Ordering::Relaxed);
    rep.pending.store(3, Ordering::Relaxed);
    a.reputation = Some(rep);
    let table = pane(130, 6, |f, r| packets::render(f, &a, &m, r));
    let us = geo
        .lookup("8.8.8.8".parse().unwrap())
        .info()
        .and_then(|g| g.country_iso_code.clone())
        .expect("8.8.8.8 is in the database");
    let row = table.lines().find(|l| l.contains("8.8.8.8:443")).unwrap();
    assert!(row.contains(&format!(" {us} ")), "{table}");
    assert!(
        row.contains(" - "),
        "the private source is labelled: {table}"
    );
    let detail = pane(100, 20, |f, r| detail::render(f, &a, &m, r));
    assert!(
        detail.contains("Source 10.0.0.5: private address"),
        "{detail}"
    );
    assert!(detail.contains("Destination 1.1.1.1: "), "{detail}");
    let bar = pane(130, 2, |f, r| status::render(f, &a, &m, r));
    assert!(bar.contains("AbuseIPDB 3 pending, quota 988"), "{bar}");
}

#[test]
fn status_bar_shows_writes_lost_to_a_full_disk() {
    let mut m = demo().lock();
    let a = app(&m);
    let before = pane(160, 2, |f, r| status::render(f, &a, &m, r));
    assert!(!before.contains("WRITES FAILED"), "{before}");
    // The shared model is restored before the lock is released.
    let saved = m.stats.clone();
    m.stats.eve_lost = 12;
    m.stats.pcap_lost = 345;
    let bar = pane(160, 2, |f, r| status::render(f, &a, &m, r));
    m.stats = saved;
    assert!(bar.contains("WRITES FAILED eve 12 pcap 345"), "{bar}");
}

/// The network baselines as the aggregator publishes them: `windows` learned of 10, 60 s
/// windows, k = 4; connections learned at 40 ± 10 a window.
fn baselines(windows: u64, last_connections: f64, last_side: i8) -> BaselineView {
    let row = |feature, bytes, now, last, mean, spread| BaselineRow {
        feature,
        bytes,
        now,
        last: Some(last),
        last_side: 0,
        mean,
        spread,
    };
    let mut conn = row("connections", false, 12.0, last_connections, 40.0, 10.0);
    conn.last_side = last_side;
    BaselineView {
        windows,
        warmup: 10,
        window_secs: 60,
        threshold: 4.0,
        rows: [
            conn,
            row(
                "bytes out",
                true,
                800_000.0,
                2_400_000.0,
                2_097_152.0,
                4_194_304.0,
            ),
            row(
                "bytes in",
                true,
                3_000_000.0,
                9_000_000.0,
                8_388_608.0,
                4_194_304.0,
            ),
        ],
    }
}

#[test]
fn overview_shows_baselines_learning_then_a_value_outside_its_band() {
    use nsm_tui::engine::incident::Grouper;
    let mut m = Model::new(nsm_tui::engine::model::ModelConfig::default());
    let a = app(&m);
    let overview = |m: &Model| pane(120, 30, |f, r| overview::render(f, &a, m, r));

    m.stats.baselines = Some(baselines(3, 35.0, 0));
    let learning = overview(&m);
    assert!(
        learning.contains("learning (3 of 10 windows)"),
        "{learning}"
    );
    assert!(learning.contains("none yet"), "{learning}");
    assert!(!learning.contains('▲'), "{learning}");
    insta::assert_snapshot!("pane_overview_baselines_learning", learning);

    // Learned: 412 connections in the last window, above 40 + 4 × 10; and the anomaly alerts
    // the learning detectors raised (a signature alert stays out of the list).
    m.stats.baselines = Some(baselines(42, 412.0, 1));
    let mut g = Grouper::default();
    let host = Some("10.0.0.5".parse().unwrap());
    let peer = Some("203.0.113.7".parse().unwrap());
    for (sec, category, sev, why) in [
        (3600, "port_scan", Severity::Medium, "scanned 200 ports"),
        (3660, "anomaly_volume", Severity::Medium, "10.0.0.5 in one window, against its baseline: connections 412.0 vs 40.0 ± 10.0, z = 37.2"),
        (3700, "beaconing", Severity::High, "10.0.0.5 connected to 203.0.113.7:443 30 times every 60.0 s ± 0.6 s (jitter 1%) over 30 min"),
        (3720, "ml_classified:port_scan", Severity::Medium, "classified port_scan (p = 0.93)"),
    ] {
        let mut al = tui_support::alert(Ts::from_parts(sec, 0), sev, category, 0);
        al.explanation = why.into();
        let (inc, change) = g.add(&al, host, peer);
        m.incident_changed(inc, change);
    }
    let learned = overview(&m);
    assert!(learned.contains("ready: 42 windows learned"), "{learned}");
    assert!(learned.contains("412▲"), "{learned}");
    assert!(learned.contains("band 0–80"), "{learned}");
    assert!(learned.contains("01:01:00 anomaly_volume"), "{learned}");
    assert!(learned.contains("beaconing"), "{learned}");
    assert!(!learned.contains("scanned 200 ports"), "{learned}");
    // Newest first.
    let (ml, beacon) = (
        learned.find("ml_classified").unwrap(),
        learned.find("01:01:40").unwrap(),
    );
    assert!(ml < beacon, "{learned}");
    insta::assert_snapshot!("pane_overview_baselines_outside", learned);
}
