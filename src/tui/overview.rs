//! The Overview tab: traffic rate over time, incident timeline, attack-type distribution, top
//! talkers and destinations, the protocol mix, and response effectiveness once actions exist
//! (actions by outcome, success rate, packet-to-block time); and the learning detectors' part, the network-wide baselines
//! against the current window and the latest anomaly alerts (`baselines`). Drawn on the UI
//! thread.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};
use ratatui::Frame;

use super::app::App;
use super::baselines;
use super::fmt;
use crate::engine::model::Model;
use crate::metrics::{self as response_metrics, ResponseMetrics};

pub(super) fn bars(items: &[(String, u64)], width: u16, style: Style) -> Vec<Line<'static>> {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let label_w = 18usize;
    let bar_w = usize::from(width).saturating_sub(label_w + 10).max(1);
    items
        .iter()
        .map(|(label, n)| {
            let len = usize::try_from(n.saturating_mul(bar_w as u64) / max)
                .unwrap_or(0)
                .max(1);
            Line::from(vec![
                Span::raw(format!("{:<label_w$} ", fmt::clip(label, label_w))),
                Span::styled("█".repeat(len), style),
                Span::raw(format!(" {}", fmt::count(*n))),
            ])
        })
        .collect()
}

pub(super) fn boxed<'a>(title: &str, lines: Vec<Line<'a>>, app: &App) -> Paragraph<'a> {
    Paragraph::new(lines).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(app.theme.dim())
            .title(Line::styled(format!(" {title} "), app.theme.title())),
    )
}

pub fn render(f: &mut Frame, app: &App, m: &Model, area: Rect) {
    let th = &app.theme;
    let [top, mid, learned, bottom] = Layout::vertical([
        Constraint::Percentage(22),
        Constraint::Percentage(26),
        Constraint::Length(baselines::HEIGHT),
        Constraint::Fill(1),
    ])
    .areas(area);
    baselines::render(f, app, m, learned);
    let [rate, timeline] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(top);
    let pkts: Vec<u64> = m.rate_history().iter().map(|b| b.pkts).collect();
    let w = usize::from(rate.width.saturating_sub(2));
    let (pps, bps) = m.current_rate();
    f.render_widget(
        Sparkline::default()
            .data(&pkts[pkts.len().saturating_sub(w)..])
            .style(th.accent())
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(th.dim())
                    .title(Line::styled(
                        format!(
                            " Traffic {} pkt/s {} ",
                            fmt::count(pps),
                            fmt::bits_rate(bps)
                        ),
                        th.title(),
                    )),
            ),
        rate,
    );
    // Incidents started per second of capture time, over the rate history's window.
    let first_sec = m.rate_history().front().map_or(0, |b| b.sec);
    let mut per_sec = vec![0u64; m.rate_history().len()];
    for i in m.incidents() {
        if let Ok(k) = usize::try_from(i.first_seen.secs() - first_sec) {
            if let Some(v) = per_sec.get_mut(k) {
                *v += 1;
            }
        }
    }
    let tw = usize::from(timeline.width.saturating_sub(2));
    f.render_widget(
        Sparkline::default()
            .data(&per_sec[per_sec.len().saturating_sub(tw)..])
            .style(th.warning())
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(th.dim())
                    .title(Line::styled(
                        format!(" Incident timeline ({} incidents) ", m.incidents().len()),
                        th.title(),
                    )),
            ),
        timeline,
    );
    let [attacks, protos] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(mid);
    let mut cats: Vec<(String, u64)> = m
        .categories
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    cats.sort_by_key(|b| std::cmp::Reverse(b.1));
    let rows = usize::from(mid.height.saturating_sub(2));
    cats.truncate(rows);
    f.render_widget(
        boxed(
            "Attack types",
            bars(&cats, attacks.width, th.warning()),
            app,
        ),
        attacks,
    );
    let mut pm: Vec<(String, u64)> = m.protocols.iter().map(|(k, v)| (k.clone(), *v)).collect();
    pm.sort_by_key(|b| std::cmp::Reverse(b.1));
    pm.truncate(rows);
    f.render_widget(
        boxed("Protocol mix", bars(&pm, protos.width, th.accent()), app),
        protos,
    );
    let metrics = app
        .response
        .as_ref()
        .map(response_metrics::snapshot)
        .filter(|m| m.total() > 0);
    let (talk, dest) = match &metrics {
        Some(m) => {
            let [talk, dest, resp] = Layout::horizontal([
                Constraint::Percentage(34),
                Constraint::Percentage(33),
                Constraint::Fill(1),
            ])
            .areas(bottom);
            f.render_widget(response_panel(m, resp, app), resp);
            (talk, dest)
        }
        None => {
            let [talk, dest] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(bottom);
            (talk, dest)
        }
    };
    let n = usize::from(bottom.height.saturating_sub(2));
    let conv = |v: Vec<(std::net::IpAddr, u64)>| -> Vec<(String, u64)> {
        v.into_iter().map(|(ip, b)| (ip.to_string(), b)).collect()
    };
    f.render_widget(
        boxed(
            "Top talkers (bytes)",
            bars(&conv(m.top_talkers(n)), talk.width, th.accent()),
            app,
        ),
        talk,
    );
    f.render_widget(
        boxed(
            "Top destinations (bytes)",
            bars(&conv(m.top_destinations(n)), dest.width, th.accent()),
            app,
        ),
        dest,
    );
}

/// Actions by outcome, then the time from triggering packet to block; titled with the success
/// rate.
fn response_panel<'a>(m: &ResponseMetrics, area: Rect, app: &App) -> Paragraph<'a> {
    let th = &app.theme;
    let mut outcomes: Vec<(String, u64)> =
        m.by_outcome.iter().map(|(k, v)| (k.clone(), *v)).collect();
    outcomes.sort_by_key(|b| std::cmp::Reverse(b.1));
    let room = usize::from(area.height.saturating_sub(4));
    outcomes.truncate(room.max(1));
    let mut lines = bars(&outcomes, area.width, th.accent());
    let (first, second) = match m.latency() {
        Some(l) => (
            format!("packet to block ({} automatic):", l.count),
            format!("median {:.0} ms, max {:.0} ms", l.median_ms, l.max_ms),
        ),
        None => ("packet to block:".into(), "no automatic block yet".into()),
    };
    lines.push(Line::styled(first, th.dim()));
    lines.push(Line::styled(second, th.dim()));
    let title = match m.success_rate() {
        Some(r) => format!(
            "Response: {} actions, {:.0}% carried out",
            m.total(),
            r * 100.0
        ),
        None => format!("Response: {} actions", m.total()),
    };
    boxed(&title, lines, app)
}
