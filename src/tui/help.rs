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

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let th = &app.theme;
    let mut lines = vec![Line::styled("Keys", th.title())];
    for b in app.keymap.bindings() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<14}", app.keymap.keys_of(b.action)),
                th.accent(),
            ),
            Span::raw(b.help),
        ]));
    }
    lines.push(Line::styled("Filter (/)", th.title()));
    for l in FILTER_HELP {
        lines.push(Line::from(format!("  {l}")));
    }
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let r = fmt::centered(area, 50, h);
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
