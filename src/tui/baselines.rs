//! The Overview's learning row: the whole network's baselines (each feature's last closed
//! window and the open one against its learned band, marked when outside; "learning (n of N
//! windows)" while warming up) beside the latest anomaly alerts with their one-line
//! explanations. Drawn on the UI thread.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::app::App;
use super::fmt;
use super::overview::boxed;
use crate::engine::detect::builtin;
use crate::engine::features::human_bytes;
use crate::engine::frame::Ts;
use crate::engine::model::Model;
use crate::engine::stats::{BaselineRow, BaselineView};

/// Rows the learning row takes: borders, a status line and one line per feature.
pub const HEIGHT: u16 = 2 + 1 + crate::engine::stats::BASELINE_ROWS as u16;

pub fn render(f: &mut Frame, app: &App, m: &Model, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area);
    let title = match &m.stats.baselines {
        Some(v) => format!(
            "Network baselines ({} s windows, band mean ± {}σ)",
            v.window_secs, v.threshold
        ),
        None => "Network baselines".to_string(),
    };
    f.render_widget(
        boxed(&title, baseline_lines(app, m.stats.baselines.as_ref()), app),
        left,
    );
    let room = usize::from(right.height.saturating_sub(2));
    let width = usize::from(right.width.saturating_sub(2));
    f.render_widget(
        boxed("Latest anomalies", anomaly_lines(app, m, room, width), app),
        right,
    );
}

fn value(r: &BaselineRow, v: f64) -> String {
    if r.bytes {
        human_bytes(v)
    } else {
        format!("{v:.0}")
    }
}

fn mark(side: i8) -> &'static str {
    match side {
        1 => "▲",
        -1 => "▼",
        _ => " ",
    }
}

fn baseline_lines(app: &App, view: Option<&BaselineView>) -> Vec<Line<'static>> {
    let th = &app.theme;
    let Some(v) = view else {
        return vec![Line::styled("baselines are off", th.dim())];
    };
    let k = v.threshold;
    let learning = v.learning();
    let status = if learning {
        Line::styled(
            format!("learning ({} of {} windows)", v.windows, v.warmup),
            th.warning(),
        )
    } else {
        Line::styled(
            format!("ready: {} windows learned; ▲▼ outside the band", v.windows),
            th.dim(),
        )
    };
    let mut lines = vec![status];
    for r in &v.rows {
        let last_side = r.last_side;
        let now_side = if learning { 0 } else { r.side(r.now, k).max(0) };
        let style = |side: i8| if side == 0 { th.dim() } else { th.error() };
        let band = if v.windows == 0 {
            "—".to_string()
        } else {
            let (lo, hi) = r.band(k);
            let lo = if lo <= 0.0 {
                "0".to_string()
            } else {
                value(r, lo)
            };
            format!("{lo}–{}", value(r, hi))
        };
        let last = r.last.map_or_else(|| "—".to_string(), |x| value(r, x));
        lines.push(Line::from(vec![
            Span::raw(format!("{:<11}", fmt::clip(r.feature, 11))),
            Span::styled(" last ", th.dim()),
            Span::styled(format!("{last:>8}{}", mark(last_side)), style(last_side)),
            Span::styled(" now ", th.dim()),
            Span::styled(
                format!("{:>8}{}", value(r, r.now), mark(now_side)),
                style(now_side),
            ),
            Span::styled(" band ", th.dim()),
            Span::raw(band),
        ]));
    }
    lines
}

/// The latest alerts of the learning detectors among the retained incidents, newest first.
fn anomaly_lines(app: &App, m: &Model, room: usize, width: usize) -> Vec<Line<'static>> {
    let th = &app.theme;
    let mut found: Vec<(Ts, &str, crate::engine::alert::Severity, &str)> = m
        .incidents()
        .iter()
        .filter(|i| builtin::is_learned(&i.category))
        .flat_map(|i| {
            i.alerts.iter().map(|a| {
                let why = if a.explanation.is_empty() {
                    &*a.description
                } else {
                    &*a.explanation
                };
                (a.ts, &*i.category, a.severity, why)
            })
        })
        .collect();
    if found.is_empty() {
        return vec![Line::styled("none yet", th.dim())];
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found
        .into_iter()
        .take(room.max(1))
        .map(|(ts, category, severity, why)| {
            let head = format!("{} {:<15} ", fmt::hms(ts, false), fmt::clip(category, 15));
            let rest = width.saturating_sub(head.chars().count());
            Line::from(vec![
                Span::styled(head, th.severity(severity)),
                Span::raw(fmt::clip(why, rest)),
            ])
        })
        .collect()
}
