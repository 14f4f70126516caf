//! The incident pane: alerts grouped by source and category, newest first, selectable, with
//! the state a person gave each (`a` acknowledge, `r` resolve).
//!
//! Drawn on the UI thread from the model's incident list.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Row as TableRow, Table};
use ratatui::Frame;

use super::app::{App, Focus};
use super::fmt;
use crate::engine::incident::IncidentState;
use crate::engine::model::Model;

/// Short state label for the table (`new`, `ack`, `done`).
fn state_tag(s: IncidentState) -> &'static str {
    match s {
        IncidentState::New => "new",
        IncidentState::Acknowledged => "ack",
        IncidentState::Resolved => "done",
    }
}

pub fn render(f: &mut Frame, app: &App, m: &Model, area: Rect) {
    let th = &app.theme;
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    let selected = app.selected_incident(m).map(|i| i.id);
    let pos = app
        .incident_list(m)
        .position(|i| Some(i.id) == selected)
        .unwrap_or(0);
    let skip = pos.saturating_sub(height.saturating_sub(1));
    let wide = area.width >= 70;
    let rows: Vec<TableRow> = app
        .incident_list(m)
        .skip(skip)
        .take(height)
        .map(|i| {
            let mut style = th.severity(i.severity);
            if Some(i.id) == selected && app.focus == Focus::Incidents {
                style = style.patch(th.selected());
            }
            let src = i.source.map_or("-".to_string(), |s| s.to_string());
            let mut c = Vec::with_capacity(6);
            if wide {
                c.push(format!("#{}", i.id));
            }
            c.extend([
                i.severity.as_str().chars().take(4).collect(),
                src,
                i.category.to_string(),
                fmt::count(i.count),
            ]);
            if wide {
                c.push(state_tag(i.state).to_string());
                c.push(format!(
                    "{}–{}",
                    fmt::hms(i.first_seen, false),
                    fmt::hms(i.last_seen, false)
                ));
            }
            TableRow::new(c.into_iter().map(Cell::from)).style(style)
        })
        .collect();
    let mut widths = if wide {
        vec![Constraint::Length(5)]
    } else {
        Vec::new()
    };
    widths.extend([
        Constraint::Length(4),
        Constraint::Length(15),
        Constraint::Fill(1),
        Constraint::Length(5),
    ]);
    let mut header = if wide { vec!["Id"] } else { Vec::new() };
    header.extend(["Sev", "Source", "Category", "Count"]);
    if wide {
        widths.push(Constraint::Length(5));
        header.push("State");
        widths.push(Constraint::Length(17));
        header.push("First–last seen");
    }
    let title = format!(" Incidents ({}) ", m.incidents().len());
    let t = Table::new(rows, widths)
        .header(TableRow::new(header).style(th.title()))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.focused_border(app.focus == Focus::Incidents))
                .title(Line::styled(title, th.title())),
        );
    f.render_widget(t, area);
}
