//! The console commands: live capture, replay of a file, and the bundled demo. Each builds
//! the UI state from the configuration, starts the pipeline on its own thread with the model
//! observer attached, runs the UI loop on the main thread, and stops everything on quit.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::capture::file::FileSource;
use crate::capture::live::LiveSource;
use crate::capture::paced::{Controls, PacedSource, Speed};
use crate::capture::Source;
use crate::config::Config;
use crate::engine::model::ModelConfig;
use crate::pipeline::capture::CaptureEnd;
use crate::pipeline::observer::Observer;
use crate::respond::plan::BlockSettings;
use crate::respond::responder::{MemoryResponder, Outcome, Responder};
use crate::tui::app::App;
use crate::tui::effects;
use crate::tui::incident_edit;
use crate::tui::keymap::KeyMap;
use crate::tui::shared::{ModelObserver, Shared};
use crate::tui::terminal::{self, Channels};
use crate::tui::theme::Theme;

/// The bundled demo capture: 3000 packets over 7 s with alerts of ten categories.
pub const DEMO_PCAP: &[u8] = include_bytes!("../../tests/fixtures/demo_attacks.pcap");

/// The UI state a console run starts with.
pub fn new_app(c: &Config, source: &str, live: bool) -> Result<App> {
    let env = |k: &str| std::env::var(k).ok();
    let keymap = KeyMap::with_overrides(&c.console.keys)?;
    let theme = Theme::choose(
        &c.console.theme,
        env("NO_COLOR").is_some_and(|v| !v.is_empty()),
        env("TERM").as_deref(),
    );
    let mut app = App::new(
        keymap,
        theme,
        BlockSettings::from_config(c, &env),
        source,
        live,
    );
    if let Some(dir) = c
        .storage
        .pcap_log_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        app.export_dir = dir.to_path_buf();
    }
    Ok(app)
}

/// Run the console over `src` until the user quits: build the UI state and the pipeline's
/// options, start the effect executor and the pipeline, run the UI loop on this thread, then
/// stop everything in order and print the run's summary.
pub fn run(src: Box<dyn Source>, c: &Config, controls: Arc<Controls>) -> Result<()> {
    let live = src.is_live();
    let mut app = new_app(c, src.name(), live)?;
    let shared = Shared::new(ModelConfig {
        retained_packets: c.console.retained_packets.max(1),
        ..ModelConfig::default()
    });
    let metrics = crate::metrics::shared();
    app.response = Some(metrics.clone());
    let opts = console_pipeline_options(c, &mut app, &shared, &metrics, live)?;
    let (detectors, handles) = crate::pipeline::detectors::build(c)?;
    let stop = super::run::install_stop_flag()?;
    // A hangup means the terminal (or the SSH session) went away: stop as on SIGTERM.
    signal_hook::flag::register(signal_hook::consts::SIGHUP, stop.clone())
        .context("installing the SIGHUP handler")?;
    let reloader: effects::Reloader = Box::new(move || reload_outcome(&handles));
    let responder = responder(c, &mut app, &metrics);
    let incidents = if c.storage.db_enabled {
        incident_edit::db_writer(c.storage.db_path.clone())
    } else {
        incident_edit::memory_writer()
    };
    let (jobs, done, exec) = effects::spawn(shared.clone(), responder, reloader, incidents)?;
    let pipeline = spawn_pipeline(src, detectors, opts, &stop, &shared)?;
    let ch = Channels {
        shared,
        controls: controls.clone(),
        stop: stop.clone(),
        jobs,
        done,
    };
    let result = ui_loop(&mut app, &ch, c.console.fps);
    stop.store(true, Ordering::Relaxed);
    controls.stop.store(true, Ordering::Relaxed);
    controls.paused.store(false, Ordering::Relaxed);
    drop(ch);
    let summary = pipeline
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))?;
    let _ = exec.join();
    result?;
    let summary = summary?;
    eprint!("{}", crate::pipeline::report::summary(&summary));
    match summary.output_failure() {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// The pipeline's options for a console run: no EVE on standard output (the screen), a
/// quick tick, enrichment whose notices go to the footer, and the observers — the console's
/// model and, as in headless runs, the incident store with the response policy.
fn console_pipeline_options(
    c: &Config,
    app: &mut App,
    shared: &Arc<Shared>,
    metrics: &crate::metrics::SharedMetrics,
    live: bool,
) -> Result<crate::pipeline::PipelineOptions> {
    let mut opts = crate::pipeline::PipelineOptions::from_config(c);
    if opts.eve == Some(crate::pipeline::EveTarget::Stdout) {
        opts.eve = None;
    }
    opts.tick = std::time::Duration::from_millis(250);
    let (enrich, notes) = crate::enrich::Enrichment::from_config(c)?;
    app.geo = enrich.geoip.clone();
    app.reputation = enrich
        .reputation
        .as_ref()
        .map(crate::enrich::reputation::Reputation::status);
    if let Some(n) = notes
        .iter()
        .find(|n| n.contains("off") || n.contains("warning"))
    {
        app.report(n.clone(), !n.starts_with("warning"));
    }
    opts.enrich = enrich;
    let model: Box<dyn Observer> = Box::new(ModelObserver::new(shared.clone()));
    opts.observer = crate::respond::auto::observer(c, metrics, live, vec![model])?;
    opts.metrics = super::run::metrics_server(c)?;
    Ok(opts)
}

/// Where `b` goes: the response module (guard, caps, firewall or dry run, audit chain);
/// without a database there is nowhere to audit, so requests are only noted.
fn responder(
    c: &Config,
    app: &mut App,
    metrics: &crate::metrics::SharedMetrics,
) -> Box<dyn Responder> {
    if !c.storage.db_enabled {
        return Box::new(MemoryResponder::default());
    }
    match crate::respond::console::FirewallResponder::new(c, &c.storage.db_path) {
        Ok(r) => Box::new(r.with_metrics(metrics.clone())),
        Err(e) => {
            app.report(format!("blocking unavailable: {e:#}"), false);
            Box::new(MemoryResponder::default())
        }
    }
}

type PipelineJoin = std::thread::JoinHandle<Result<crate::pipeline::RunSummary>>;

/// The pipeline on a thread of its own; a failure or an early end of the input becomes the
/// console's notice.
fn spawn_pipeline(
    src: Box<dyn Source>,
    detectors: crate::engine::detect::DetectorSet,
    opts: crate::pipeline::PipelineOptions,
    stop: &Arc<std::sync::atomic::AtomicBool>,
    shared: &Arc<Shared>,
) -> Result<PipelineJoin> {
    let (stop, shared) = (stop.clone(), shared.clone());
    std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || {
            let out = crate::pipeline::run(src, detectors, opts, &stop, |_| {});
            let notice = match &out {
                Err(e) => Some(format!("the capture pipeline stopped: {e:#}")),
                Ok(s) => match &s.end {
                    CaptureEnd::Error(e) => Some(format!("the input ended early: {e}")),
                    _ => (!s.errors.is_empty()).then(|| s.errors.join("; ")),
                },
            };
            if notice.is_some() {
                let mut m = shared.lock();
                m.notice = notice;
                m.finished = true;
                drop(m);
                shared.touch();
            }
            out
        })
        .context("starting the pipeline")
}

/// The terminal loop until quit; anything written to stderr meanwhile (a response notice, a
/// reputation warning) is held and printed after the terminal is restored.
fn ui_loop(app: &mut App, ch: &Channels, fps: u32) -> Result<()> {
    let mut term = terminal::setup()?;
    let held = gag::Hold::stderr().ok();
    let result = terminal::run(&mut term, app, ch, fps);
    terminal::restore();
    drop(held);
    result
}

/// The status-bar line for a signature reload.
fn reload_outcome(handles: &crate::pipeline::detectors::Handles) -> Outcome {
    let r = crate::pipeline::detectors::reload(handles);
    let skipped = match r.skipped.first() {
        None => String::new(),
        Some(first) => format!("; {} skipped, first: {first}", r.skipped.len()),
    };
    if r.swapped {
        Outcome {
            ok: r.skipped.is_empty(),
            message: format!(
                "signatures reloaded: {} loaded{}{skipped}",
                r.loaded,
                r.blocklist_entries
                    .map(|n| format!(", blocklists {n} entries"))
                    .unwrap_or_default()
            ),
        }
    } else {
        Outcome {
            ok: false,
            message: format!(
                "no signature in {} could be loaded; the previous set stays{skipped}",
                handles.origin
            ),
        }
    }
}

/// `sudo nsm-tui`: the console on live capture. Once the capture handle is open, and before
/// `run` starts any thread (enrichment, signature watcher, metrics server, effects,
/// pipeline), the process gives up what the console does not need, as `--headless` does.
pub fn live(c: &Config) -> Result<()> {
    let src = LiveSource::open(&crate::capture::live::LiveOptions::from_config(c))?;
    tracing::info!(
        "{}",
        super::privilege::drop_after_open(c, super::privilege::Runner::Console)?
    );
    run(Box::new(src), c, Arc::new(Controls::default()))
}

/// The replay speed the `--speed N` / `--fast` flags ask for (original speed by default).
pub fn speed(times: Option<f64>, fast: bool) -> Speed {
    match (fast, times) {
        (true, _) => Speed::Fast,
        (false, Some(n)) => Speed::Times(n),
        (false, None) => Speed::Original,
    }
}

/// `nsm-tui replay FILE`: the console on a capture file at the chosen speed.
pub fn replay(file: &Path, speed: Speed, c: &Config) -> Result<()> {
    replay_named(file, None, speed, c)
}

fn replay_named(file: &Path, name: Option<&str>, speed: Speed, c: &Config) -> Result<()> {
    anyhow::ensure!(
        !matches!(speed, Speed::Times(n) if !(n.is_finite() && n > 0.0)),
        "--speed must be a positive number"
    );
    let src = FileSource::open(file)?;
    let controls = Arc::new(Controls::default());
    let mut paced = PacedSource::new(src, speed, controls.clone());
    if let Some(n) = name {
        paced = paced.named(n);
    }
    run(Box::new(paced), c, controls)
}

/// Removes the demo's temporary capture when the demo ends.
struct TempFile(PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `nsm-tui demo`: the bundled attack capture, replayed into the console.
pub fn demo(speed: Speed, c: &Config) -> Result<()> {
    let path = std::env::temp_dir().join(format!("nsm-tui-demo-{}.pcap", std::process::id()));
    // A predictable name in a shared directory: created exclusively, never through a link.
    let mut f = crate::store::safe_file::create_new(&path).context("writing the demo capture")?;
    let tmp = TempFile(path);
    std::io::Write::write_all(&mut f, DEMO_PCAP)
        .with_context(|| format!("writing the demo capture to {}", tmp.0.display()))?;
    drop(f);
    replay_named(&tmp.0, Some("demo (bundled capture)"), speed, c)
}
