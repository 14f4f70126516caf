//! The two dialogs: the block confirmation (address, exact firewall command, expiry, allowlist
//! verdict, dry-run notice) and the pcap export prompt (what to write and the file name).
//! Drawn on the UI thread.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, ExportInput, ExportScope, INCIDENT_LOOKBACK_SECS};
use super::block::BlockPlan;
use super::fmt;
use crate::engine::model::Model;

fn expiry(secs: u64) -> String {
    match secs {
        0 => "never (no timeout)".into(),
        s if s % 3600 == 0 => format!("in {} h ({s} s)", s / 3600),
        s if s % 60 == 0 => format!("in {} min ({s} s)", s / 60),
        s => format!("in {s} s"),
    }
}

fn popup(f: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>, app: &App) {
    let w = area.width.saturating_sub(4).min(90);
    let h = u16::try_from(lines.len() + 4).unwrap_or(u16::MAX);
    let r = fmt::centered(area, w, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(app.theme.accent())
                .title(Line::styled(title.to_string(), app.theme.title())),
        ),
        r,
    );
}

pub fn render_confirm(f: &mut Frame, app: &App, plan: &BlockPlan, area: Rect) {
    let th = &app.theme;
    let mut lines = vec![
        Line::from(vec![
            Span::raw("Address:   "),
            Span::styled(plan.addr.to_string(), th.title()),
        ]),
        Line::from(format!("Reason:    {}", plan.reason)),
        Line::from("Command:"),
        Line::styled(format!("  {}", plan.command_line()), th.accent()),
        Line::from(format!("Expires:   {}", expiry(plan.timeout_secs))),
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
    lines.push(Line::from(""));
    lines.push(if plan.refused.is_some() {
        Line::styled("[esc] close", th.dim())
    } else {
        Line::styled("[y/enter] block   [n/esc] cancel", th.title())
    });
    popup(f, area, " Block source address? ", lines, app);
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
    lines.push(Line::styled("[enter] write   [esc] cancel", th.title()));
    popup(f, area, " Write pcap ", lines, app);
}
