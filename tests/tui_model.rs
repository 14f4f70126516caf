//! The console model: bounded ring, incident grouping by source, category and window, rate
//! history, top talkers, info lines; the incremental filtered view agrees with a full scan; the
//! observer adapter publishes every packet with a new generation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod tui_support;

use nsm_tui::engine::alert::Severity;
use nsm_tui::engine::filter::parse;
use nsm_tui::engine::frame::Ts;
use nsm_tui::engine::incident::Grouper;
use nsm_tui::engine::model::{Model, ModelConfig};
use nsm_tui::pipeline::observer::Observer;
use nsm_tui::tui::view::FilteredView;
use nsm_tui::tui::{ModelObserver, Shared};
use tui_support::{alert, analyzed, dns_query, tcp, udp};

const A: [u8; 4] = [10, 0, 0, 5];
const B: [u8; 4] = [192, 168, 1, 9];

#[test]
fn ring_keeps_the_newest_packets_and_counts_all() {
    let mut m = Model::new(ModelConfig {
        retained_packets: 10,
        ..ModelConfig::default()
    });
    for i in 0..25u64 {
        m.apply(
            &analyzed(
                i + 1,
                tcp(i64::try_from(i).unwrap(), A, B, 1000, 80, b""),
                vec![],
            ),
            None,
        );
    }
    assert_eq!(m.rows().len(), 10);
    assert_eq!(m.packets, 25);
    assert_eq!(m.first_seq(), 15);
    assert_eq!(m.rows().front().map(|r| r.pcap_cnt), Some(16));
    assert_eq!(m.row(20).map(|r| r.pcap_cnt), Some(21));
    assert!(m.row(3).is_none());
}

#[test]
fn incidents_group_by_source_and_category_within_the_window() {
    let mut m = Model::new(ModelConfig::default());
    let at = |s: i64| s * 1000;
    let cases = [
        (at(0), A, "port_scan", Severity::Medium),
        (at(10), A, "port_scan", Severity::High), // same incident, severity rises
        (at(20), A, "port_scan", Severity::Low),  // same incident, list is full
        (at(25), B, "port_scan", Severity::Low),  // other source
        (at(30), A, "brute_force", Severity::High), // other category
        (at(200), A, "port_scan", Severity::Low), // window passed: new incident
    ];
    // The run's one grouper (the incident tracker's) decides; the model shows what it made.
    let mut g = Grouper::new(60, 100).first_id(7);
    for (i, (ms, src, cat, sev)) in cases.iter().enumerate() {
        let n = u64::try_from(i).unwrap() + 1;
        let f = tcp(*ms, *src, [8, 8, 8, 8], 1000, 22, b"");
        let ts = f.ts;
        let al = alert(ts, *sev, cat, n);
        tui_support::feed(&mut m, &mut g, &analyzed(n, f, vec![al]));
    }
    // The grouper's ids, from where the store said to start.
    assert_eq!(
        m.incidents().iter().map(|i| i.id).collect::<Vec<_>>(),
        [7, 8, 9, 10]
    );
    let inc: Vec<_> = m.incidents().iter().collect();
    assert_eq!(inc.len(), 4);
    assert_eq!(inc[0].count, 3);
    assert_eq!(inc[0].severity, Severity::High);
    assert_eq!(inc[0].alerts.len(), 3);
    assert_eq!(inc[0].first_seen, Ts(0));
    assert_eq!(inc[0].last_seen, Ts(20_000_000_000));
    assert_eq!(inc[1].source, Some(B.into()));
    assert_eq!(&*inc[2].category, "brute_force");
    assert_eq!(inc[3].first_seen, Ts(200_000_000_000));
    assert_eq!(m.alerts_total(), 6);
    assert_eq!(m.categories.get("port_scan"), Some(&5));
    // The incident's packets: from or to its source, between first and last alert.
    let rows = m.incident_rows(inc[0], 0);
    assert_eq!(
        rows.iter().map(|r| r.pcap_cnt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // With 15 s of lead-in, the brute-force incident (A at 30 s) takes A's packet at 20 s too,
    // but not B's at 25 s.
    let rows = m.incident_rows(inc[2], 15);
    assert_eq!(
        rows.iter().map(|r| r.pcap_cnt).collect::<Vec<_>>(),
        vec![3, 5]
    );
}

#[test]
fn rate_history_fills_quiet_seconds_and_top_talkers_rank_by_bytes() {
    let mut m = Model::new(ModelConfig::default());
    let mut n = 0;
    for (sec, count) in [(0i64, 3), (1, 1), (4, 2)] {
        for _ in 0..count {
            n += 1;
            m.apply(
                &analyzed(n, udp(sec * 1000, A, B, 1, 2, &[0; 100]), vec![]),
                None,
            );
        }
    }
    n += 1;
    m.apply(&analyzed(n, udp(4000, B, A, 1, 2, &[0; 10]), vec![]), None);
    let pk: Vec<u64> = m.rate_history().iter().map(|b| b.pkts).collect();
    assert_eq!(pk, vec![3, 1, 0, 0, 3]);
    let top = m.top_talkers(2);
    assert_eq!(top[0].0, std::net::IpAddr::from(A));
    assert_eq!(top.len(), 2);
    assert_eq!(m.protocols.get("udp"), Some(&7));
}

#[test]
fn info_lines_name_dns_http_and_payload() {
    let mut m = Model::new(ModelConfig::default());
    m.apply(
        &analyzed(
            1,
            udp(0, A, B, 5353, 53, &dns_query("evil.example")),
            vec![],
        ),
        None,
    );
    m.apply(
        &analyzed(
            2,
            tcp(0, A, B, 1, 80, b"GET /x?id=1 HTTP/1.1\r\nHost: h\r\n"),
            vec![],
        ),
        None,
    );
    m.apply(
        &analyzed(3, tcp(0, A, B, 1, 9, b"\x01hello\x02"), vec![]),
        None,
    );
    let info: Vec<&str> = m.rows().iter().map(|r| r.info.as_str()).collect();
    assert_eq!(
        info,
        vec![
            "DNS query A evil.example",
            "GET /x?id=1 HTTP/1.1",
            ".hello."
        ]
    );
}

#[test]
fn incremental_view_matches_a_full_scan() {
    let shared = tui_support::demo_model(1000);
    let m = shared.lock();
    for text in ["tcp", "alert or dns", "not port 80", "sev>=medium"] {
        let f = parse(text).unwrap();
        let mut full = FilteredView::default();
        full.set_filter(f.clone());
        full.refresh(&m);
        let want: Vec<u64> = m
            .rows()
            .iter()
            .filter(|r| f.as_ref().is_none_or(|f| f.matches(r)))
            .map(|r| r.seq)
            .collect();
        assert_eq!(
            full.seqs().iter().copied().collect::<Vec<_>>(),
            want,
            "{text}"
        );
    }
    assert_eq!(m.rows().len(), 1000);
    assert_eq!(m.packets, 3000);
    drop(m);

    // Built up packet by packet through the ring, the view ends where a full scan does.
    let mut small = Model::new(ModelConfig {
        retained_packets: 50,
        ..ModelConfig::default()
    });
    let mut v = FilteredView::default();
    v.set_filter(parse("port 80").unwrap());
    for i in 0..300u64 {
        let port = if i % 3 == 0 { 80 } else { 81 };
        small.apply(
            &analyzed(i + 1, tcp(0, A, B, 1000, port, b""), vec![]),
            None,
        );
        if i % 7 == 0 {
            v.refresh(&small);
        }
    }
    v.refresh(&small);
    let want: Vec<u64> = small
        .rows()
        .iter()
        .filter(|r| r.ports() == Some((1000, 80)))
        .map(|r| r.seq)
        .collect();
    assert_eq!(v.seqs().iter().copied().collect::<Vec<_>>(), want);
}

#[test]
fn observer_publishes_packets_and_finish_with_new_generations() {
    let shared = Shared::new(ModelConfig::default());
    let mut o = ModelObserver::new(shared.clone());
    let g0 = shared.generation();
    // While the UI holds the lock, the observer buffers instead of waiting.
    {
        let _ui = shared.lock();
        o.packet(&analyzed(1, tcp(0, A, B, 1, 2, b""), vec![]), None);
    }
    assert_eq!(shared.lock().packets, 0);
    o.packet(&analyzed(2, tcp(0, A, B, 1, 2, b""), vec![]), None);
    assert_eq!(shared.lock().packets, 2);
    assert!(shared.generation() > g0);
    o.finished(&nsm_tui::engine::stats::Stats::default());
    assert!(shared.lock().finished);
}
