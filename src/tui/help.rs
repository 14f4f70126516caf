//! The help overlay (`?`), generated from the same keymap table that dispatches keys, plus a
//! summary of the filter language. Drawn on the UI thread.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::app::App;
use super::fmt;

const FILTER_HELP: &[&str] = &[
    "tcp  udp  icmp  arp  dns  alert",
    "host 10.0.0.5  src 10.0.0.5  dst port 53",
    "net 10.0.0.0/8  port 443  sev>=high",
    "combine: and  or  not  ( )",
];

fn key_lines(app: &App, two_columns: bool) -> Vec<Line<'static>> {
    let th = &app.theme;
    let cells: Vec<Vec<Span<'static>>> = app
        .keymap
        .bindings()
        .iter()
        .map(|b| {
            let w = if two_columns { 12 } else { 14 };
            vec![
                Span::styled(
                    format!("  {:<w$}", app.keymap.keys_of(b.action)),
                    th.accent(),
                ),
                Span::raw(format!("{:<24}", b.help)),
            ]
        })
        .collect();
    if !two_columns {
        return cells.into_iter().map(Line::from).collect();
    }
    // Short terminals (80×24) get the table in two columns so it fits without scrolling.
    let half = cells.len().div_ceil(2);
    (0..half)
        .map(|i| {
            let mut spans = cells[i].clone();
            if let Some(right) = cells.get(i + half) {
                spans.extend(right.iter().cloned());
            }
            Line::from(spans)
        })
        .collect()
}

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let tall = app.keymap.bindings().len() + FILTER_HELP.len() + 4;
    let two = usize::from(area.height) < tall;
    let mut lines = vec![Line::styled("Keys", th.title())];
    lines.extend(key_lines(app, two));
    lines.push(Line::styled("Filter (/)", th.title()));
    for l in FILTER_HELP {
        lines.push(Line::from(format!("  {l}")));
    }
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let r = fmt::centered(area, if two { 78 } else { 50 }, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.accent())
                .title(" Help — ? or esc to close "),
        ),
        r,
    );
}
