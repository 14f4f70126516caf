//! The packet table: time, endpoints (with their countries when GeoIP is there), protocol,
//! length, TCP flags, info and threat, each row coloured by its highest severity. Follows the
//! newest packet until the user scrolls.
//!
//! Drawn on the UI thread from the filtered view.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Row as TableRow, Table};
use ratatui::Frame;

use std::net::IpAddr;

use super::app::{App, Focus};
use super::fmt;
use crate::engine::model::{Model, Row};
use crate::enrich::geoip::{Geo, GeoIp};

/// Country column text: the ISO code of a public address, `-` for private, loopback and the
/// like, empty when the database does not know it.
fn country(geo: &GeoIp, ip: Option<IpAddr>) -> String {
    match ip.map(|ip| geo.lookup(ip)) {
        Some(Geo::Found(g)) => g.country_iso_code.clone().unwrap_or_default(),
        Some(Geo::Scope(_)) => "-".into(),
        Some(Geo::Unknown) | None => String::new(),
    }
}

fn cells(r: &Row, wide: bool, geo: Option<&GeoIp>) -> Vec<String> {
    let ports = r.ports();
    let mut v = vec![
        fmt::hms(r.ts(), wide),
        fmt::endpoint(r.src(), ports.map(|p| p.0)),
    ];
    if let Some(g) = geo.filter(|_| wide) {
        v.push(country(g, r.src()));
    }
    v.push(fmt::endpoint(r.dst(), ports.map(|p| p.1)));
    if let Some(g) = geo.filter(|_| wide) {
        v.push(country(g, r.dst()));
    }
    v.push(r.proto().name());
    let threat = r
        .threat
        .as_ref()
        .map(|t| format!("{} {}", t.severity, t.category));
    if wide {
        v.push(r.length().to_string());
        v.push(r.tcp_flags().map(|f| f.to_string()).unwrap_or_default());
        v.push(r.info.clone());
        v.push(threat.unwrap_or_default());
    } else {
        // Narrow terminals get one column: the threat first, then the info.
        v.push(match threat {
            Some(t) => format!("[{t}] {}", r.info),
            None => r.info.clone(),
        });
    }
    v
}

/// Header and width of each column, in the order `cells` fills them.
fn columns(wide: bool, geo: bool) -> Vec<(&'static str, Constraint)> {
    use Constraint::{Fill, Length};
    if !wide {
        return vec![
            ("Time", Length(8)),
            ("Source", Length(21)),
            ("Destination", Length(21)),
            ("Proto", Length(4)),
            ("Threat / info", Fill(1)),
        ];
    }
    let mut c = vec![
        ("Time", Length(12)),
        ("Source", Length(21)),
        ("Destination", Length(21)),
        ("Proto", Length(5)),
        ("Len", Length(5)),
        ("Flags", Length(5)),
        ("Info", Fill(1)),
        ("Threat", Length(24)),
    ];
    if geo {
        c.insert(3, ("CC", Length(2)));
        c.insert(2, ("CC", Length(2)));
    }
    c
}

/// Keep the selected row visible, moving the window as little as possible.
fn window(app: &App, height: usize) -> (usize, Option<usize>) {
    let n = app.view.len();
    let sel = app.selected_index();
    let mut off = app.table_offset.get();
    if let Some(s) = sel {
        if s < off {
            off = s;
        } else if s >= off + height {
            off = s + 1 - height;
        }
    }
    off = off.min(n.saturating_sub(height));
    app.table_offset.set(off);
    app.table_height.set(height);
    (off, sel)
}

pub fn render(f: &mut Frame, app: &App, m: &Model, area: Rect) {
    let wide = area.width >= 110;
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    let (off, sel) = window(app, height);
    let th = &app.theme;
    let mut rows = Vec::with_capacity(height);
    for i in off..(off + height).min(app.view.len()) {
        let Some(r) = app.view.get(i).and_then(|s| m.row(s)) else {
            continue;
        };
        let mut style = r.severity().map_or(Style::default(), |s| th.severity(s));
        if Some(i) == sel {
            style = style.patch(th.selected());
        }
        let c = cells(r, wide, app.geo.as_deref());
        rows.push(TableRow::new(c.into_iter().map(Cell::from)).style(style));
    }
    let (header, widths): (Vec<_>, Vec<_>) =
        columns(wide, wide && app.geo.is_some()).into_iter().unzip();
    let follow = if app.follow { "following" } else { "held" };
    let filter = if app.filter_text.is_empty() {
        String::new()
    } else {
        format!(" filter: {} ", app.filter_text)
    };
    let title = format!(
        " Packets {}/{} ({follow}){filter}",
        sel.map_or(0, |s| s + 1),
        app.view.len()
    );
    let table = Table::new(rows, widths)
        .header(TableRow::new(header).style(th.title()))
        .column_spacing(1)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.focused_border(app.focus == Focus::Packets))
                .title(Line::styled(title, th.title())),
        );
    f.render_widget(table, area);
}
