//! `nsm-tui report`: the report the store builds, as text. Main thread of the binary.

use std::fmt::Write as _;

pub use crate::store::report::{build, export, CaptureHealth, Report};

/// The report as text.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let span = if r.since_secs == 0 {
        "everything recorded".to_string()
    } else {
        format!("the last {} s", r.since_secs)
    };
    let _ = writeln!(s, "nsm-tui report, {span}");
    let _ = writeln!(s, "alerts: {}   packet rows: {}", r.alerts, r.packets);
    for (title, m) in [
        ("incidents by severity", &r.incidents_by_severity),
        ("incidents by state", &r.incidents_by_state),
        ("attack types (alerts)", &r.attack_types),
        ("actions by outcome", &r.actions_by_outcome),
    ] {
        let _ = writeln!(s, "{title}:");
        for (k, v) in m {
            let _ = writeln!(s, "  {k:<24} {v:>8}");
        }
    }
    for (title, v) in [
        ("top sources", &r.top_sources),
        ("top targets", &r.top_targets),
    ] {
        let _ = writeln!(s, "{title}:");
        for (k, n) in v {
            let _ = writeln!(s, "  {k:<40} {n:>8}");
        }
    }
    let pct = r
        .success_rate
        .map_or("-".into(), |x| format!("{:.1} %", x * 100.0));
    let mttr = r
        .mean_secs_to_response
        .map_or("-".into(), |x| format!("{x:.3} s"));
    let _ = writeln!(s, "action success rate: {pct}");
    let _ = writeln!(s, "mean time from first alert to response: {mttr}");
    health_text(&mut s, &r.capture_health);
    s
}

fn health_text(s: &mut String, health: &[CaptureHealth]) {
    if health.is_empty() {
        let _ = writeln!(
            s,
            "capture health: no capture counters recorded in this period"
        );
        return;
    }
    let _ = writeln!(s, "capture health (newest counters per source):");
    for h in health {
        let state = if h.run_ended {
            "run ended"
        } else {
            "run in progress or cut short"
        };
        let verdict = if h.capture_drops() + h.decode_errors + h.db_drops == 0 {
            "OK: no drops, no decode errors"
        } else {
            "DEGRADED: packets lost or undecodable"
        };
        let _ = writeln!(s, "  {} ({state}): {verdict}", h.source);
        let _ = writeln!(s, "    packets seen {}, bytes {}", h.packets, h.bytes);
        let _ = writeln!(
            s,
            "    drops: kernel {}, interface {}, queue {}; decode errors {}; database backlog {}",
            h.kernel_drops, h.iface_drops, h.queue_drops, h.decode_errors, h.db_drops
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{migrate, MIGRATIONS};
    use rusqlite::Connection;

    const S: i64 = 1_000_000_000;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c, std::path::Path::new("mem"), MIGRATIONS).unwrap();
        c
    }

    fn stats_row(c: &Connection, ts: i64, source: &str, packets: i64, kernel: i64, ended: bool) {
        c.execute(
            "INSERT INTO capture_stats (ts, source, packets, bytes, kernel_drops, iface_drops, \
             queue_drops, decode_errors, db_drops, run_ended) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, 0, 0, ?6)",
            rusqlite::params![ts, source, packets, packets * 100, kernel, i64::from(ended)],
        )
        .unwrap();
    }

    #[test]
    fn capture_health_is_the_newest_row_per_source_in_the_period() {
        let c = db();
        let now = 10_000 * S;
        stats_row(&c, now - 7_200 * S, "old.pcap", 5, 0, true);
        stats_row(&c, now - 60 * S, "eth0", 100, 0, false);
        stats_row(&c, now - 55 * S, "eth0", 250, 3, false);
        stats_row(&c, now - 30 * S, "demo.pcap", 42, 0, true);
        let r = build(&c, now, 3_600).unwrap();
        let got: Vec<(&str, i64, i64, bool)> = r
            .capture_health
            .iter()
            .map(|h| (h.source.as_str(), h.packets, h.kernel_drops, h.run_ended))
            .collect();
        assert_eq!(got, [("demo.pcap", 42, 0, true), ("eth0", 250, 3, false)]);
        let t = text(&r);
        assert!(t.contains("capture health"), "{t}");
        assert!(
            t.contains("eth0 (run in progress or cut short): DEGRADED"),
            "{t}"
        );
        assert!(t.contains("drops: kernel 3, interface 0, queue 0"), "{t}");
        assert!(t.contains("demo.pcap (run ended): OK"), "{t}");
        // Everything recorded, old runs included.
        assert_eq!(build(&c, now, 0).unwrap().capture_health.len(), 3);
        let empty = build(&db(), now, 0).unwrap();
        assert!(text(&empty).contains("no capture counters recorded"));
    }
}
