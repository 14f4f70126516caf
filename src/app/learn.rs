//! `nsm-tui learn` and `nsm-tui profile show`: learning what normal traffic looks like from
//! captures the user trusts (or live traffic), writing the model file every run loads, and
//! showing what was learned about one host.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::out::outln;
use crate::capture::file::FileSource;
use crate::capture::live::{LiveOptions, LiveSource};
use crate::capture::Source;
use crate::config::Config;
use crate::engine::detect::learn::Learner;
use crate::engine::detect::stats::profile::Profile;
use crate::engine::features::human_bytes;
use crate::engine::features::window::{PROTO_NAMES, WINDOW_SCHEMA};
use crate::engine::flow::FlowConfig;
use crate::store::sqlite::{SideRows, SqliteStore};
use crate::store::StoreOptions;

/// `nsm-tui learn CAPTURE… [--live SECS] [--out FILE] [--db DB]`: the model file always, the
/// host profiles into the database too when `db` is given.
pub fn learn(
    captures: &[std::path::PathBuf],
    live: Option<u64>,
    out: Option<&Path>,
    db: Option<&Path>,
    c: &Config,
) -> Result<()> {
    anyhow::ensure!(
        !captures.is_empty() || live.is_some(),
        "nothing to learn from: name capture files of normal traffic, or --live SECS"
    );
    let mut learner = Learner::new(
        &c.detector.thresholds(),
        FlowConfig {
            idle_timeout_secs: c.output.flow_timeout_secs,
            max_flows: c.output.max_flows,
        },
    );
    for path in captures {
        let mut src = FileSource::open(path)?;
        learner.source(&path.display().to_string());
        feed(&mut src, &mut learner, None)?;
    }
    if let Some(secs) = live {
        let mut src = LiveSource::open(&LiveOptions::from_config(c))?;
        tracing::info!("learning from {} for {secs} s", src.name());
        learner.source(&format!("live {} for {secs} s", src.name()));
        feed(&mut src, &mut learner, Some(Duration::from_secs(secs)))?;
    }
    let model = learner.finish();
    let path = out.map_or_else(|| c.detector.model_path(), Path::to_path_buf);
    crate::store::model_file::save(&path, &model).map_err(anyhow::Error::msg)?;
    let t = &model.trained_on;
    outln!(
        "learned from {} packets, {} flows: {} host profiles (baselines ready after {} windows of {} s)",
        t.packets,
        t.flows,
        model.baseline.hosts.len(),
        c.detector.baseline.warmup_windows,
        model.window_secs
    );
    outln!(
        "windows learned: {} of the whole network, {} by the busiest host",
        model.baseline.network.windows,
        model
            .baseline
            .hosts
            .iter()
            .map(|(_, p)| p.windows)
            .max()
            .unwrap_or(0)
    );
    match &model.forest {
        Some(f) => outln!(
            "isolation forest: {} trees of {} flows, outlier threshold {:.3} (contamination {})",
            f.trees.len(),
            f.samples,
            f.threshold,
            f.contamination
        ),
        None => outln!("isolation forest: not trained (fewer than 16 flows)"),
    }
    outln!("wrote {}", path.display());
    if let Some(db) = db {
        let mut store = SqliteStore::open(db, &StoreOptions::default())
            .with_context(|| format!("opening {}", db.display()))?;
        let side = SideRows {
            profiles: Some(&model.baseline),
            ..SideRows::default()
        };
        store
            .write_batch(&[], &[], &[], side)
            .with_context(|| format!("saving host profiles into {}", db.display()))?;
        outln!(
            "saved {} host profiles into {}",
            model.baseline.hosts.len(),
            db.display()
        );
    }
    Ok(())
}

fn feed(src: &mut dyn Source, learner: &mut Learner, for_: Option<Duration>) -> Result<()> {
    let start = Instant::now();
    loop {
        if for_.is_some_and(|d| start.elapsed() >= d) {
            return Ok(());
        }
        match src
            .next_frame()
            .with_context(|| format!("reading {}", src.name()))?
        {
            Some(f) => learner.frame(&f),
            None if src.is_live() => {}
            None => return Ok(()),
        }
    }
}

/// `nsm-tui profile show HOST`: from the database when it has the host, else from the model.
pub fn show_profile(host: IpAddr, c: &Config) -> Result<()> {
    let db = &c.storage.db_path;
    if c.storage.db_enabled && db.exists() {
        let conn = crate::store::sqlite::open_side(db)?;
        if let Some((p, saved)) = crate::store::profiles::host(&conn, host)
            .with_context(|| format!("reading profiles from {}", db.display()))?
        {
            let when = chrono_free_utc(saved);
            outln!("profile of {host} (from {}, saved {when})", db.display());
            print_profile(&p, c)?;
            return Ok(());
        }
    }
    let model_path = c.detector.model_path();
    if model_path.exists() {
        let m = crate::store::model_file::load(&model_path).map_err(anyhow::Error::msg)?;
        if let Some((_, p)) = m.baseline.hosts.iter().find(|(ip, _)| *ip == host) {
            outln!("profile of {host} (from {})", model_path.display());
            print_profile(p, c)?;
            return Ok(());
        }
    }
    anyhow::bail!(
        "no profile of {host} in {} or {}: it has not been seen yet (profiles are saved at the end of a run and by `nsm-tui learn`)",
        db.display(),
        model_path.display()
    )
}

fn print_profile(p: &Profile, c: &Config) -> Result<()> {
    let warm = c.detector.baseline.warmup_windows;
    let state = if p.windows >= warm {
        "baseline ready"
    } else {
        "still learning"
    };
    outln!(
        "windows learned: {} of {} s ({state}; alerts after {warm})",
        p.windows,
        c.detector.feature_window_size
    );
    outln!("per active window      mean       spread");
    for (name, e) in WINDOW_SCHEMA.iter().zip(&p.features) {
        let (m, s) = match *name {
            "bytes out" | "bytes in" => (human_bytes(e.mean), human_bytes(e.std())),
            "failed connection ratio" => (
                format!("{:.0}%", e.mean * 100.0),
                format!("{:.0}%", e.std() * 100.0),
            ),
            _ => (format!("{:.1}", e.mean), format!("{:.1}", e.std())),
        };
        outln!("  {name:<24} {m:>10} ± {s}");
    }
    let ports: Vec<String> = p.ports.iter().map(u16::to_string).collect();
    outln!(
        "usual service ports: {}",
        if ports.is_empty() {
            "none".into()
        } else {
            ports.join(", ")
        }
    );
    let total: u64 = p.hours.iter().sum();
    if total > 0 {
        let hours: Vec<String> = p
            .hours
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(h, &n)| format!("{h:02}h {:.0}%", 100.0 * n as f64 / total as f64))
            .collect();
        outln!(
            "active hours (UTC, share of {total} flows): {}",
            hours.join(", ")
        );
    }
    let mix: Vec<String> = p
        .proto_mix
        .iter()
        .zip(PROTO_NAMES)
        .filter(|(&v, _)| v >= 0.005)
        .map(|(&v, n)| format!("{n} {:.0}%", v * 100.0))
        .collect();
    outln!(
        "protocol mix: {}",
        if mix.is_empty() {
            "none".into()
        } else {
            mix.join(" ")
        }
    );
    let e = &p.peak_dest_bytes;
    if e.n > 0 {
        outln!(
            "most bytes to one destination per {} s: {} ± {} ({} spans)",
            c.detector.baseline.exfil_window_secs,
            human_bytes(e.mean),
            human_bytes(e.std()),
            e.n
        );
    }
    Ok(())
}

/// Wall-clock nanoseconds as `YYYY-MM-DD HH:MM UTC`.
fn chrono_free_utc(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = crate::engine::frame::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        sod / 3600,
        sod / 60 % 60
    )
}
