//! The two dialogs: the block confirmation (address, exact firewall command, expiry, guard
//! verdict, dry-run notice) and the pcap export prompt (what to write and the file name).
//! Drawn on the UI thread. A dialog is as tall as its wrapped text, and its key line is drawn
//! on its own last row, so it is never cut off (a too-long text is cut above it instead).

use crate::engine::text::printable;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, ExportInput, ExportScope, INCIDENT_LOOKBACK_SECS};
use super::fmt;
use crate::engine::model::Model;
use crate::respond::plan::BlockPlan;

fn expiry(secs: u64) -> String {
    match secs {
        0 => "never (no timeout)".into(),
        s if s % 3600 == 0 => format!("in {} h ({s} s)", s / 3600),
        s if s % 60 == 0 => format!("in {} min ({s} s)", s / 60),
        s => format!("in {s} s"),
    }
}

/// Draws `lines` (wrapped) above `keys` in a bordered box sized to fit, centred in `area`.
fn popup(
    f: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    keys: Line<'static>,
    app: &App,
) {
    let w = area.width.saturating_sub(4).min(90);
    let body = Paragraph::new(lines).wrap(Wrap { trim: false });
    let inner_w = w.saturating_sub(2).max(1);
    let body_rows = u16::try_from(body.line_count(inner_w)).unwrap_or(u16::MAX);
    // Borders, the body, a blank row and the key line.
    let h = body_rows.saturating_add(4);
    let r = fmt::centered(area, w, h);
    f.render_widget(Clear, r);
    let frame = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.accent())
        .title(Line::styled(title.to_string(), app.theme.title()));
    let inner = frame.inner(r);
    f.render_widget(frame, r);
    if inner.height == 0 {
        return;
    }
    let keys_row = Rect {
        y: inner.y + inner.height - 1,
        height: 1,
        ..inner
    };
    let body_area = Rect {
        height: inner.height.saturating_sub(2),
        ..inner
    };
    f.render_widget(body, body_area);
    f.render_widget(Paragraph::new(keys), keys_row);
}

pub fn render_confirm(f: &mut Frame, app: &App, plan: &BlockPlan, area: Rect) {
    let th = &app.theme;
    let mut lines = vec![
        Line::from(vec![
            Span::raw("Address:   "),
            Span::styled(plan.addr.to_string(), th.title()),
        ]),
        Line::from(format!("Reason:    {}", printable(&plan.reason))),
        Line::from("Command:"),
        Line::styled(format!("  {}", plan.command_line()), th.accent()),
        Line::from(format!(
            "Expires:   {}{}",
            expiry(plan.timeout_secs),
            if plan.timeout_secs > 0 && plan.escalates {
                "; longer for a repeat offender"
            } else {
                ""
            }
        )),
    ];
    match &plan.refused {
        Some(why) => lines.push(Line::styled(
            format!("Allowlist: REFUSED — {why}"),
            th.error(),
        )),
        None => lines.push(Line::styled(
            "Allowlist: not listed, may be blocked",
            th.ok(),
        )),
    }
    if plan.dry_run {
        lines.push(Line::styled(
            "DRY RUN: the request is recorded in the audit table; no firewall rule changes",
            th.warning(),
        ));
    }
    let keys = if plan.refused.is_some() {
        Line::styled("[esc] close (the refusal is recorded)", th.dim())
    } else {
        Line::styled("[y/enter] block   [n/esc] cancel", th.title())
    };
    popup(f, area, " Block source address? ", lines, keys, app);
}

fn count(app: &App, m: &Model, e: &ExportInput, s: ExportScope) -> String {
    match s {
        ExportScope::All => m.rows().len().to_string(),
        ExportScope::Filtered => app.view.len().to_string(),
        ExportScope::Incident => {
            e.incident
                .and_then(|id| m.incident(id))
                .map_or("none selected".into(), |i| {
                    format!(
                        "#{} {}",
                        i.id,
                        m.incident_rows(i, INCIDENT_LOOKBACK_SECS).len()
                    )
                })
        }
    }
}

pub fn render_export(f: &mut Frame, app: &App, m: &Model, e: &ExportInput, area: Rect) {
    let th = &app.theme;
    let mut lines = vec![Line::from("Write which packets? (↑/↓ to choose)")];
    for s in ExportScope::ALL {
        let mark = if s == e.scope { "▶ " } else { "  " };
        let style = if s == e.scope { th.title() } else { th.dim() };
        lines.push(Line::styled(
            format!("{mark}{} ({})", s.label(), count(app, m, e, s)),
            style,
        ));
    }
    if e.scope == ExportScope::Incident {
        lines.push(Line::styled(
            format!("  includes the {INCIDENT_LOOKBACK_SECS} s before its first alert"),
            th.dim(),
        ));
    }
    lines.push(Line::from(vec![
        Span::raw("File: "),
        Span::styled(e.path.clone(), th.accent()),
        Span::styled("▏", th.accent()),
    ]));
    let keys = Line::styled("[enter] write   [esc] cancel", th.title());
    popup(f, area, " Write pcap ", lines, keys, app);
}
