//! Human-readable lines about a run: the periodic stats line of headless capture and the
//! summary printed when a run ends.

use std::fmt::Write;

use super::capture::CaptureEnd;
use super::RunSummary;
use crate::engine::alert::Severity;
use crate::engine::stats::Stats;

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

fn alerts_line(s: &Stats) -> String {
    let parts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|sev| {
            format!(
                "{} {}",
                sev.as_str().to_ascii_lowercase(),
                s.alerts.get(sev).copied().unwrap_or(0)
            )
        })
        .collect();
    parts.join(", ")
}

fn drops_line(s: &Stats) -> String {
    format!(
        "kernel {}, interface {}, queue {}, database {}",
        s.capture.kernel_drops, s.capture.if_drops, s.capture.queue_drops, s.db_drops
    )
}

/// One line for the periodic progress report of headless capture.
pub fn stats_line(s: &Stats) -> String {
    format!(
        "[{:>7.1}s] {} pkts ({:.0} pkt/s), {} flows active, alerts: {}, decode errors {}, drops: {}",
        s.uptime_secs,
        s.decoder.pkts,
        rate(s.decoder.pkts, s.uptime_secs),
        s.flow.active,
        alerts_line(s),
        s.decoder.invalid,
        drops_line(s),
    )
}

/// The end-of-run summary.
pub fn summary(r: &RunSummary) -> String {
    let s = &r.stats;
    let secs = r.wall.as_secs_f64();
    let mut out = String::new();
    let ended = match &r.end {
        CaptureEnd::EndOfFile => "end of input".to_string(),
        CaptureEnd::PacketLimit => "packet limit reached".to_string(),
        CaptureEnd::Duration => "capture duration reached".to_string(),
        CaptureEnd::Stopped => "stopped".to_string(),
        CaptureEnd::Error(e) => format!("input error: {e}"),
    };
    let _ = writeln!(out, "source:   {} ({ended})", r.source);
    let _ = writeln!(
        out,
        "packets:  {} ({} bytes) in {:.3}s: {:.0} packets/s, {:.1} MB/s",
        s.decoder.pkts,
        s.decoder.bytes,
        secs,
        rate(s.decoder.pkts, secs),
        rate(s.decoder.bytes, secs) / 1e6
    );
    let protos: Vec<String> = s
        .decoder
        .by_proto
        .iter()
        .map(|(p, n)| format!("{} {n}", p.name()))
        .collect();
    let _ = writeln!(out, "protocols: {}", protos.join(", "));
    let _ = writeln!(
        out,
        "flows:    {} ({} timed out, {} evicted at the table cap)",
        s.flow.created, s.flow.timed_out, s.flow.evicted
    );
    let _ = writeln!(
        out,
        "decode:   {} errors, {} unsupported",
        s.decoder.invalid, s.decoder.unsupported
    );
    if !s.decoder.issues.is_empty() {
        let issues: Vec<String> = s
            .decoder
            .issues
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(out, "          {}", issues.join(", "));
    }
    let _ = writeln!(out, "drops:    {}", drops_line(s));
    let _ = writeln!(out, "alerts:   {} ({})", s.alerts_total(), alerts_line(s));
    let _ = writeln!(out, "learning: {}", s.learning.line());
    let _ = writeln!(out, "stream:   {}", s.stream.line());
    if let Some(st) = &r.store {
        let _ = writeln!(
            out,
            "database: {} packets, {} alerts, {} flows written",
            st.packets, st.alerts, st.flows
        );
    }
    if let Some(p) = &r.pcap {
        let _ = writeln!(
            out,
            "pcap log: {} packets in {} file(s)",
            p.packets,
            p.files.len()
        );
    }
    if s.eve_lost + s.pcap_lost > 0 {
        let _ = writeln!(
            out,
            "LOST:     {} EVE events, {} pcap log packets (write errors)",
            s.eve_lost, s.pcap_lost
        );
    }
    for e in &r.errors {
        let _ = writeln!(out, "warning:  {e}");
    }
    out
}
