//! Small formatting helpers shared by the panes: times, sizes, rates, addresses, sparklines
//! and popup geometry. Called on the UI thread while drawing.

use std::net::IpAddr;

use ratatui::layout::Rect;

use crate::engine::frame::Ts;

/// `HH:MM:SS` (UTC) of a capture timestamp, with milliseconds when asked.
pub fn hms(ts: Ts, millis: bool) -> String {
    let s = ts.secs().rem_euclid(86_400);
    let base = format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
    if millis {
        format!("{base}.{:03}", ts.subsec_nanos() / 1_000_000)
    } else {
        base
    }
}

/// `1.2 kB`, `3.4 MB` (powers of 1000).
pub fn bytes(n: u64) -> String {
    scaled(n as f64, "B")
}

/// `12.3 Mbit/s` from bytes per second.
pub fn bits_rate(bytes_per_sec: u64) -> String {
    format!("{}/s", scaled(bytes_per_sec as f64 * 8.0, "bit"))
}

/// `1.2k`, `3.4M` for counts.
pub fn count(n: u64) -> String {
    if n < 10_000 {
        return n.to_string();
    }
    scaled(n as f64, "").trim_end().to_string()
}

fn scaled(v: f64, unit: &str) -> String {
    const PREFIX: [&str; 5] = ["", "k", "M", "G", "T"];
    let mut v = v;
    let mut i = 0;
    while v >= 1000.0 && i < PREFIX.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {}{unit}", PREFIX[i])
    }
}

/// `10.0.0.1:443` or `[2001:db8::1]:443`; `-` when there is no address.
pub fn endpoint(ip: Option<IpAddr>, port: Option<u16>) -> String {
    match (ip, port) {
        (Some(IpAddr::V6(v)), Some(p)) => format!("[{v}]:{p}"),
        (Some(ip), Some(p)) => format!("{ip}:{p}"),
        (Some(ip), None) => ip.to_string(),
        (None, _) => "-".into(),
    }
}

/// A one-line sparkline of the last `width` values, scaled to their maximum.
pub fn sparkline(values: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &values[values.len().saturating_sub(width)..];
    let max = tail.iter().copied().max().unwrap_or(0).max(1);
    tail.iter()
        .map(|v| {
            if *v == 0 {
                ' '
            } else {
                BARS[usize::try_from(v.saturating_mul(7) / max)
                    .unwrap_or(7)
                    .min(7)]
            }
        })
        .collect()
}

/// A rectangle of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Cut `s` to `max` characters, marking the cut with `…`.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
