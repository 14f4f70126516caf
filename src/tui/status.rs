//! The status bar (two lines at the top): source and state, whether responses are live or a
//! dry run, failed audit-trail writes when there are any, packet and bit rates with a
//! sparkline, totals, alerts by severity, and every drop counter in a warning colour when it
//! is not zero, and AbuseIPDB's pending checks and remaining quota when a key is set. Also the
//! footer line: the last outcome, or key hints from the keymap.
//!
//! Drawn on the UI thread.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::App;
use super::fmt;
use crate::engine::model::Model;
use crate::engine::Severity;

fn state(app: &App, m: &Model) -> &'static str {
    if m.finished {
        "FINISHED"
    } else if app.paused {
        "PAUSED"
    } else if app.live {
        "LIVE"
    } else {
        "REPLAY"
    }
}

pub fn render(f: &mut Frame, app: &App, m: &Model, area: Rect) {
    let th = &app.theme;
    let (pps, bps) = m.current_rate();
    let hist: Vec<u64> = m.rate_history().iter().map(|b| b.pkts).collect();
    let spark_w = if area.width >= 120 { 24 } else { 10 };
    let line1 = Line::from(vec![
        Span::styled(" nsm-tui ", th.title()),
        Span::raw(fmt::clip(&app.source, 28)),
        Span::raw(" "),
        Span::styled(format!("[{}]", state(app, m)), th.accent()),
        // Whether `b` and automatic response change the firewall, shown at all times.
        if app.block.dry_run {
            Span::styled(" [DRY RUN]", th.warning())
        } else {
            Span::styled(" [RESPONSE LIVE]", th.error())
        },
        Span::raw(format!(
            " {} pkt/s {} ",
            fmt::count(pps),
            fmt::bits_rate(bps)
        )),
        Span::styled(fmt::sparkline(&hist, spark_w), th.accent()),
        Span::raw(format!(
            " total {} pkts {}",
            fmt::count(m.packets),
            fmt::bytes(m.bytes)
        )),
    ]);
    let mut spans = vec![Span::raw(" alerts ")];
    for s in Severity::ALL.iter().rev() {
        let n = m.alerts_by_severity.get(s).copied().unwrap_or(0);
        let label = match s {
            Severity::Critical => "crit",
            Severity::High => "high",
            Severity::Medium => "med",
            Severity::Low => "low",
        };
        spans.push(Span::styled(format!("{label} {n} "), th.severity(*s)));
    }
    let st = &m.stats;
    let drops = [
        ("kernel", st.capture.kernel_drops + st.capture.if_drops),
        ("queue", st.capture.queue_drops),
        ("decode", st.decoder.invalid),
        ("db", st.db_drops),
    ];
    spans.push(Span::raw("│ drops "));
    for (name, n) in drops {
        let style = if n > 0 { th.warning() } else { th.dim() };
        spans.push(Span::styled(format!("{name} {} ", fmt::count(n)), style));
    }
    if st.learning.baseline_learning {
        spans.push(Span::styled("│ baselines learning ", th.dim()));
    }
    if st.eve_lost + st.pcap_lost > 0 {
        spans.push(Span::styled(
            format!(
                "│ WRITES FAILED eve {} pcap {} ",
                fmt::count(st.eve_lost),
                fmt::count(st.pcap_lost)
            ),
            th.error(),
        ));
    }
    let lost = app
        .response
        .as_ref()
        .map_or(0, |r| crate::metrics::snapshot(r).write_failures);
    if lost > 0 {
        spans.push(Span::styled(
            format!("│ AUDIT WRITES FAILED {} ", fmt::count(lost)),
            th.error(),
        ));
    }
    if let Some(rep) = &app.reputation {
        let s = rep.snapshot();
        let style = if s.stopped || s.errors > 0 {
            th.warning()
        } else {
            th.dim()
        };
        let mut text = format!(
            "│ AbuseIPDB {} pending, quota {} ",
            fmt::count(s.pending),
            fmt::count(s.quota_remaining)
        );
        if s.stopped {
            text = "│ AbuseIPDB stopped: key refused ".into();
        }
        spans.push(Span::styled(text, style));
    }
    f.render_widget(Paragraph::new(vec![line1, Line::from(spans)]), area);
}

/// The bottom line: the latest outcome, else a run problem, else the keymap's hints.
pub fn render_footer(f: &mut Frame, app: &App, m: &Model, area: Rect) {
    let th = &app.theme;
    let line = match (&app.message, &m.notice) {
        (Some((text, err)), _) => {
            Line::styled(format!(" {text}"), if *err { th.error() } else { th.ok() })
        }
        (None, Some(n)) => Line::styled(format!(" {n}"), th.error()),
        (None, None) => {
            let mut spans = Vec::new();
            for (key, help) in app.keymap.footer() {
                spans.push(Span::styled(format!(" {key}"), th.accent()));
                spans.push(Span::raw(format!(" {help} ")));
            }
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(line), area);
}
