//! Frame-time bench for the console: 100,000 retained packets with a filter applied, drawn to
//! an off-screen 200×50 terminal. Prints the time to apply a new filter over every retained
//! packet, and the steady per-frame time (view refresh with 1,000 new packets + full draw).
//! Target: under 5 ms per frame. Run with `cargo bench --bench frame`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on a failed setup step"
)]

use std::time::Instant;

use nsm_tui::engine::alert::{Alert, Detector, RuleId, Severity};
use nsm_tui::engine::filter::parse;
use nsm_tui::engine::model::{Model, ModelConfig};
use nsm_tui::engine::record::Analyzed;
use nsm_tui::respond::plan::BlockSettings;
use nsm_tui::synth::{Generator, SynthOptions};
use nsm_tui::tui::app::App;
use nsm_tui::tui::keymap::KeyMap;
use nsm_tui::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const RETAINED: usize = 100_000;
const FILTER: &str = "tcp and not port 22 or sev>=medium";

fn analyzed(n: u64, frame: nsm_tui::engine::RawFrame) -> Analyzed {
    let decoded = nsm_tui::engine::decode::decode(&frame);
    // One packet in fifty carries an alert so rows are coloured and incidents form.
    let alerts = if n % 50 == 0 {
        vec![Alert {
            ts: frame.ts,
            rule: RuleId(9_000_001),
            description: "bench".into(),
            severity: Severity::ALL[usize::try_from(n / 50 % 4).unwrap_or(0)],
            category: ["port_scan", "brute_force", "sql_injection"]
                [usize::try_from(n % 3).unwrap_or(0)]
            .into(),
            detector: Detector::Heuristic,
            packet: n,
            flow_id: None,
            explanation: String::new(),
            evidence: serde_json::Value::Null,
        }]
    } else {
        Vec::new()
    };
    Analyzed {
        pcap_cnt: n,
        frame,
        decoded,
        alerts,
        stream_http: Vec::new(),
    }
}

fn main() {
    let total = RETAINED as u64 + 50_000;
    let mut frames = Generator::new(SynthOptions {
        packets: total,
        attack_share: 0.05,
        ..SynthOptions::default()
    })
    .enumerate()
    .map(|(i, f)| analyzed(i as u64 + 1, f));
    let mut m = Model::new(ModelConfig {
        retained_packets: RETAINED,
        ..ModelConfig::default()
    });
    for a in frames.by_ref().take(RETAINED) {
        m.apply(&a, None);
    }
    let mut app = App::new(
        KeyMap::default(),
        Theme::default(),
        BlockSettings::default(),
        "bench",
        false,
    );
    let filter = parse(FILTER).expect("bench filter parses");
    let t = Instant::now();
    app.view.set_filter(filter);
    app.view.refresh(&m);
    let full = t.elapsed();
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("test backend");
    let mut times = Vec::new();
    for _ in 0..50 {
        for a in frames.by_ref().take(1000) {
            m.apply(&a, None);
        }
        let t = Instant::now();
        app.view.refresh(&m);
        term.draw(|f| nsm_tui::tui::draw(f, &app, &m))
            .expect("draw");
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    let worst = times[times.len() - 1];
    println!(
        "frame bench: {} retained, filter {FILTER:?} keeps {}; applying the filter to all: {:.2} ms; per frame (refresh + draw 200x50): median {:.3} ms, worst {:.3} ms (target < 5 ms)",
        m.rows().len(),
        app.view.len(),
        full.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
    );
}
