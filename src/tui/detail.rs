//! The detail pane: the selected packet's decoded layers, its alerts and a hex/ASCII dump with
//! the bytes a signature matched highlighted; or, for an opened incident, its alerts and
//! packets.
//!
//! Drawn on the UI thread.

use crate::engine::text::printable;
use std::ops::Range;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Focus};
use super::fmt;
use super::theme::Theme;
use crate::engine::alert::Detector;
use crate::engine::model::{Incident, Model, Row};
use crate::engine::packet::Transport;
use crate::enrich::geoip::{Geo, GeoIp};

/// Undo `escape_default`, which is how signature evidence quotes matched bytes.
fn unescaped_len(s: &str) -> usize {
    let b = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        i += match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'x')) => 4,
            (b'\\', Some(_)) => 2,
            _ => 1,
        };
        n += 1;
    }
    n
}

/// Frame byte ranges a signature matched (evidence offsets are into the payload).
pub fn matched_ranges(r: &Row) -> Vec<Range<usize>> {
    r.alerts
        .iter()
        .filter(|a| a.detector == Detector::Signature)
        .filter(|a| {
            a.evidence
                .get("decoded")
                .and_then(serde_json::Value::as_bool)
                != Some(true)
        })
        .filter_map(|a| {
            let off = usize::try_from(a.evidence.get("offset")?.as_u64()?).ok()?;
            let len = unescaped_len(a.evidence.get("matched")?.as_str()?);
            let start = r.decoded.payload_offset + off;
            Some(start..(start + len).min(r.frame.data.len()))
        })
        .collect()
}

fn layers(r: &Row) -> Vec<String> {
    let d = &r.decoded;
    let f = &r.frame;
    let mut out = vec![format!(
        "Frame {}  {}  {} bytes on wire, {} captured  link {}",
        r.pcap_cnt,
        fmt::hms(f.ts, true),
        f.orig_len,
        f.data.len(),
        f.linktype
    )];
    if !d.vlans.is_empty() {
        out.push(format!("VLAN {:?}", d.vlans));
    }
    if let Some(ip) = &d.ip {
        let frag = ip.fragment.map_or(String::new(), |fr| {
            format!(
                " frag id {} off {}{}",
                fr.id,
                fr.offset,
                if fr.more { " MF" } else { "" }
            )
        });
        out.push(format!(
            "IPv{} {} → {}  ttl {} proto {} len {}{frag}",
            ip.version(),
            ip.src,
            ip.dst,
            ip.ttl,
            ip.proto,
            ip.total_len
        ));
    }
    if let Some(a) = &d.arp {
        out.push(format!(
            "ARP op {} {} → {}",
            a.operation, a.sender_ip, a.target_ip
        ));
    }
    match &d.transport {
        Transport::Tcp(t) => out.push(format!(
            "TCP {} → {}  [{}] seq {} ack {} win {}{}",
            t.src_port,
            t.dst_port,
            t.flags,
            t.seq,
            t.ack,
            t.window,
            t.mss.map_or(String::new(), |m| format!(" mss {m}"))
        )),
        Transport::Udp(u) => out.push(format!("UDP {} → {}", u.src_port, u.dst_port)),
        Transport::Sctp(s) => out.push(format!("SCTP {} → {}", s.src_port, s.dst_port)),
        Transport::Icmp(i) | Transport::Icmpv6(i) => {
            out.push(format!("ICMP type {} code {}", i.icmp_type, i.code));
        }
        Transport::Other(n) => out.push(format!("IP protocol {n} (not decoded)")),
        Transport::None => {}
    }
    if let Some(dns) = &d.dns {
        let qs: Vec<String> = dns
            .questions
            .iter()
            .map(|q| format!("{} ({})", q.name, q.qtype))
            .collect();
        out.push(format!(
            "DNS {} id {} rcode {} {}",
            if dns.is_response { "response" } else { "query" },
            dns.id,
            dns.rcode,
            qs.join(", ")
        ));
        for a in dns.answers.iter().take(5) {
            out.push(format!(
                "    {} {} ttl {} {}",
                a.name, a.rtype, a.ttl, a.data
            ));
        }
    }
    if let Some(rec) = &d.app {
        out.extend(super::detail_app::lines(rec));
    }
    if let Some(i) = &d.issue {
        out.push(format!("Decode issue: {}", i.key()));
    }
    if d.payload_len > 0 {
        out.push(format!(
            "Payload {} bytes at offset {}",
            d.payload_len, d.payload_offset
        ));
    }
    out
}

/// `0000  47 45 54 20 …  GET …` lines with highlighted bytes.
/// `per_line` is 16, or 8 when the pane is too narrow for 16.
pub fn hex_lines(
    data: &[u8],
    marks: &[Range<usize>],
    th: &Theme,
    per_line: usize,
) -> Vec<Line<'static>> {
    let hl = th.highlight();
    let marked = |i: usize| marks.iter().any(|r| r.contains(&i));
    let half = per_line / 2;
    data.chunks(per_line)
        .enumerate()
        .map(|(row, chunk)| {
            let base = row * per_line;
            let mut spans = vec![Span::styled(format!("{base:04x}  "), th.dim())];
            for (j, b) in chunk.iter().enumerate() {
                let st = if marked(base + j) {
                    hl
                } else {
                    Style::default()
                };
                spans.push(Span::styled(format!("{b:02x}"), st));
                spans.push(Span::raw(if j + 1 == half { "  " } else { " " }));
            }
            let pad = (per_line - chunk.len()) * 3 + usize::from(chunk.len() < half);
            spans.push(Span::raw(" ".repeat(pad)));
            spans.push(Span::raw(" "));
            for (j, b) in chunk.iter().enumerate() {
                let c = if b.is_ascii_graphic() || *b == b' ' {
                    char::from(*b)
                } else {
                    '.'
                };
                let st = if marked(base + j) {
                    hl
                } else {
                    Style::default()
                };
                spans.push(Span::styled(c.to_string(), st));
            }
            Line::from(spans)
        })
        .collect()
}

/// `Source 203.0.113.5: Berlin, DE · AS3320 Example` lines for public addresses.
fn geo_lines(r: &Row, geo: &GeoIp) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (label, ip) in [("Source", r.src()), ("Destination", r.dst())] {
        let Some(ip) = ip else { continue };
        let g = geo.lookup(ip);
        let mut text = match (&g, g.label()) {
            (Geo::Scope(_), Some(l)) => format!("{label} {ip}: {l} address"),
            (_, Some(l)) => format!("{label} {ip}: {l}"),
            (_, None) => format!("{label} {ip}: not in the GeoIP database"),
        };
        if let Some(info) = g.info() {
            if let Some(asn) = info.asn {
                text.push_str(&format!(" · AS{asn}"));
            }
            if let Some(org) = &info.as_org {
                text.push_str(&format!(" {org}"));
            }
        }
        out.push(Line::from(text));
    }
    out
}

fn packet_lines(r: &Row, th: &Theme, width: u16, geo: Option<&GeoIp>) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = layers(r).into_iter().map(Line::from).collect();
    if let Some(g) = geo {
        lines.extend(geo_lines(r, g));
    }
    for a in &r.alerts {
        lines.push(Line::styled(
            format!(
                "[{}] {} {} ({}): {}",
                a.severity, a.rule, a.description, a.category, a.explanation
            ),
            th.severity(a.severity),
        ));
    }
    lines.push(Line::from(""));
    let per_line = if width >= 74 { 16 } else { 8 };
    lines.extend(hex_lines(&r.frame.data, &matched_ranges(r), th, per_line));
    lines
}

fn incident_lines(i: &Incident, m: &Model, th: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::styled(
            format!(
                "Incident #{}  {}  from {}  severity {}  {} alerts  {} – {}",
                i.id,
                i.category,
                i.source.map_or("-".into(), |s| s.to_string()),
                i.severity,
                i.count,
                fmt::hms(i.first_seen, true),
                fmt::hms(i.last_seen, true)
            ),
            th.severity(i.severity),
        ),
        Line::raw(format!(
            "State: {}   (a acknowledge · r resolve · n add a note)",
            i.state
        )),
    ];
    if !i.notes.is_empty() {
        lines.push(Line::styled("Notes", th.title()));
        lines.extend(
            i.notes
                .iter()
                .map(|n| Line::raw(format!("  {}", printable(n)))),
        );
    }
    lines.push(Line::styled("Alerts", th.title()));
    for a in &i.alerts {
        lines.push(Line::styled(
            format!(
                "  {} pkt {} [{}] {} {}",
                fmt::hms(a.ts, true),
                a.packet,
                a.severity,
                a.rule,
                a.description
            ),
            th.severity(a.severity),
        ));
        if !a.explanation.is_empty() {
            lines.push(Line::styled(format!("      {}", a.explanation), th.dim()));
        }
    }
    let rows = m.incident_rows(i, 0);
    lines.push(Line::styled(
        format!("Packets ({} retained)", rows.len()),
        th.title(),
    ));
    for r in rows.iter().take(500) {
        let p = r.ports();
        lines.push(Line::from(format!(
            "  {} {} {} → {} {}",
            fmt::hms(r.ts(), true),
            r.pcap_cnt,
            fmt::endpoint(r.src(), p.map(|x| x.0)),
            fmt::endpoint(r.dst(), p.map(|x| x.1)),
            r.info
        )));
    }
    lines
}

pub fn render(f: &mut Frame, app: &App, m: &Model, area: Rect) {
    let th = &app.theme;
    let (title, lines) = match app.incident_open.and_then(|id| m.incident(id)) {
        Some(i) => (format!(" Incident #{} ", i.id), incident_lines(i, m, th)),
        None => match app.selected_row(m) {
            Some(r) => (
                format!(" Packet {} ", r.pcap_cnt),
                packet_lines(r, th, area.width.saturating_sub(2), app.geo.as_deref()),
            ),
            None => (" Detail ".into(), vec![Line::from("no packet selected")]),
        },
    };
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((app.detail_scroll, 0))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.focused_border(app.focus == Focus::Detail))
                .title(Line::styled(title, th.title())),
        );
    f.render_widget(p, area);
}
