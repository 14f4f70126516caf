//! What each command does: turn the effective configuration into pipeline options, open the
//! source, run, and report. Called from `main` on the main thread.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::capture::file::FileSource;
use crate::capture::filtered::FilteredSource;
use crate::capture::live::{LiveOptions, LiveSource};
use crate::capture::Source;
use crate::config::Config;
use crate::engine::detect::DetectorSet;
use crate::pipeline::capture::CaptureEnd;
use crate::pipeline::{report, EveTarget, PipelineOptions, RunSummary};
use crate::store::PcapLogOptions;

use super::out::out;

/// Raise `stop` on SIGINT and SIGTERM; a second signal exits at once.
pub fn install_stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The conditional shutdown must be registered first: it checks the flag before the
        // plain handler sets it, so only a second signal terminates.
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())
            .context("installing the signal handler")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }
    Ok(stop)
}

/// GeoIP and AbuseIPDB reputation as configured; their notices are printed once, here.
pub fn enrichment(c: &Config) -> Result<crate::enrich::Enrichment> {
    let (e, notes) = crate::enrich::Enrichment::from_config(c)?;
    for n in notes {
        crate::pipeline::detectors::log_note(&n);
    }
    Ok(e)
}

/// The `--metrics-listen` server when one is configured (listening before the run starts, so a
/// bad address fails at once).
pub fn metrics_server(c: &Config) -> Result<Option<crate::pipeline::exporter::MetricsSlot>> {
    match c.output.metrics_listen {
        Some(addr) => Ok(Some(crate::pipeline::metrics_server::start(addr)?.slot)),
        None => Ok(None),
    }
}

/// The detectors the configuration asks for; signatures reload on SIGHUP.
pub fn detectors(c: &Config) -> Result<DetectorSet> {
    let (set, handles) = crate::pipeline::detectors::build(c)?;
    crate::pipeline::detectors::reload_on_sighup(handles)?;
    Ok(set)
}

fn print_summary(summary: &RunSummary, eve_on_stdout: bool) -> Result<()> {
    let text = report::summary(summary);
    if eve_on_stdout {
        eprint!("{text}");
    } else {
        out!("{text}");
    }
    if let CaptureEnd::Error(e) = &summary.end {
        tracing::warn!("the input ended early: {e}; everything before it was processed");
    }
    for (key, n) in &summary.stats.decoder.issues {
        if let Some(v) = key.strip_prefix("linktype.") {
            let name = v
                .parse()
                .map(crate::engine::frame::LinkType)
                .map_or("unknown", |l| l.name());
            tracing::warn!("{n} packets have link type {v} ({name}), which nsm-tui does not decode; they were counted, not analysed");
        }
    }
    Ok(())
}

/// Run the headless pipeline over `src` with every configured output and the metrics server
/// the caller started, then print the summary.
fn run_headless(
    src: Box<dyn crate::capture::Source>,
    c: &Config,
    metrics_slot: Option<crate::pipeline::exporter::MetricsSlot>,
    max_tick: Option<Duration>,
    on_tick: impl FnMut(&crate::engine::stats::Stats),
) -> Result<()> {
    let mut opts = PipelineOptions::from_config(c);
    if let Some(t) = max_tick {
        opts.tick = opts.tick.min(t);
    }
    opts.enrich = enrichment(c)?;
    // SIGHUP also reopens the EVE file (after logrotate moved it), as Suricata does.
    let reopen = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reopen.clone())
        .context("installing the SIGHUP handler")?;
    opts.eve_reopen = Some(reopen);
    let metrics = crate::metrics::shared();
    opts.observer = crate::respond::auto::observer(c, &metrics, src.is_live(), Vec::new())?;
    opts.response_metrics = c.response.auto_response_enabled.then_some(metrics);
    opts.metrics = metrics_slot;
    let eve_stdout = opts.eve == Some(EveTarget::Stdout);
    let stop = install_stop_flag()?;
    let summary = crate::pipeline::run(src, detectors(c)?, opts, &stop, on_tick)?;
    print_summary(&summary, eve_stdout)?;
    match summary.output_failure() {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// `nsm-tui read FILE [-f BPF]` and `nsm-tui -r FILE [EXPRESSION]`.
pub fn read(file: &Path, filter: Option<&str>, c: &Config) -> Result<()> {
    // Listening before the input opens: opening a FIFO waits for its writer, and the metrics
    // answer meanwhile.
    let metrics = metrics_server(c)?;
    let src = FileSource::open(file)?;
    match filter.filter(|f| !f.trim().is_empty()) {
        Some(f) => run_headless(
            Box::new(FilteredSource::new(src, f)?),
            c,
            metrics,
            None,
            |_| {},
        ),
        None => run_headless(Box::new(src), c, metrics, None, |_| {}),
    }
}

/// `nsm-tui --headless`: live capture with a stats line every few seconds. Under a systemd
/// `Type=notify` unit it reports READY once the capture is open, then WATCHDOG and STATUS on
/// every tick, at least twice per `WatchdogSec`.
pub fn headless(c: &Config) -> Result<()> {
    let notifier = super::notify::Notifier::from_env();
    let src = LiveSource::open(&LiveOptions::from_config(c))?;
    // The capture handle is open and no other thread runs yet: give up what is not needed.
    tracing::info!(
        "{}",
        super::privilege::drop_after_open(c, super::privilege::Runner::Headless)?
    );
    tracing::info!("capturing on {} (Ctrl-C to stop)", src.name());
    notifier.ready(src.name());
    let max_tick = notifier.watchdog().map(|w| w / 2);
    // The server's thread starts only now that privileges are given up.
    let metrics = metrics_server(c)?;
    let result = run_headless(Box::new(src), c, metrics, max_tick, |s| {
        notifier.tick(s);
        tracing::info!("{}", report::stats_line(s));
    });
    notifier.stopping();
    result
}

/// `nsm-tui generate`: stream synthetic frames into a pcap file.
pub fn generate(out: &Path, opts: crate::synth::SynthOptions) -> Result<u64> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&opts.attack_share),
        "--attack-share must be between 0 and 1, found {}",
        opts.attack_share
    );
    let mut log = crate::store::PcapLogger::create(
        out,
        PcapLogOptions {
            snaplen: 65535,
            rotate_bytes: None,
        },
    )
    .with_context(|| format!("creating {}", out.display()))?
    .refusing_existing();
    for frame in crate::synth::Generator::new(opts) {
        log.write(&frame)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    let summary = log
        .finish()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(summary.packets)
}
