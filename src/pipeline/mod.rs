//! The pipeline: capture thread → analysis workers → aggregator → SQLite writer and pcap
//! logger, joined by bounded channels. The same pipeline serves live capture, file replay and
//! the benchmarks.
//!
//! `run` is called from the main thread, which only waits, prints progress through a callback,
//! and joins the threads in order when the input ends or the stop flag is raised.

pub mod aggregator;
pub mod capture;
pub mod counters;
pub mod detectors;
pub mod exporter;
mod from_config;
pub mod incidents;
pub mod metrics_server;
pub mod observer;
pub mod output;
pub mod priority;
pub mod report;
pub mod signature_source;
pub mod sinks;
pub mod worker;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use crossbeam_channel::bounded;

use self::aggregator::Aggregator;
use self::capture::{Batch, CaptureEnd, Limits};
use self::counters::SharedCounters;
use self::output::{OutBatch, Output, OutputOptions};
use self::sinks::Sinks;
use self::worker::AnalyzedBatch;
use crate::capture::Source;
use crate::engine::detect::DetectorSet;
use crate::engine::flow::{FlowConfig, FlowTable};
use crate::engine::stats::Stats;
use crate::output::eve::{EveOptions, EveWriter};
use crate::store::{
    PcapLogOptions, PcapLogSummary, PcapLogger, SqliteStore, StoreOptions, WriterSummary,
};

// Every queue is bounded in bytes as well as in messages: a frame keeps at most 256 KiB
// (`capture::pcap_lax::MAX_FRAME_BYTES`), a batch closes at 1024 frames or 2 MiB of frame
// bytes (`capture::BATCH_MAX_BYTES`), so a batch holds at most 2.25 MiB of frames plus
// ~0.5 MB of per-packet analysis (1024 × ~500 bytes); call it 2.75 MiB.

/// Batches queued between the capture thread and the workers, per worker: 4 × 2.25 MiB =
/// 9 MiB per worker at most (1024 full-size Ethernet frames are 1.5 MB)...
const CAPTURE_QUEUE_PER_WORKER: usize = 4;
/// ...and at most this many in all, whatever the worker count: 16 × 2.25 MiB = 36 MiB.
const CAPTURE_QUEUE_MAX: usize = 16;
/// Live capture gets a deeper queue to ride out bursts and the aggregator's pauses (a window
/// of host clusters, a forest retrained) before it starts dropping: up to 128 batches (128 k
/// frames at the default batch, a third of a second at 400k packets/s)...
const LIVE_CAPTURE_QUEUE: usize = 128;
/// ...as long as their frames hold at most this many bytes (plus one batch, 2.25 MiB): the
/// queue is bounded by bytes, not by its count of batches.
pub const LIVE_CAPTURE_QUEUE_BYTES: usize = 40 << 20;
/// Analysed batches queued for the aggregator, per worker: 4 × 2.75 MiB = 11 MiB per
/// worker...
const RESULT_QUEUE_PER_WORKER: usize = 4;
/// ...and at most this many in all: 16 × 2.75 MiB = 44 MiB.
const RESULT_QUEUE_MAX: usize = 16;
/// Result batches queued for the output stage (each one capture batch with its frames):
/// 8 × 2.75 MiB = 22 MiB at most.
const OUTPUT_QUEUE: usize = 8;
/// Messages queued for the SQLite writer (each up to `sinks::STORE_BATCH` rows or
/// `sinks::STORE_BATCH_BYTES`, 0.5 MiB): 12 MiB at most, 48k packet rows, about one commit of
/// the writer (50k rows or 8 MiB), so the output stage goes on filling the next commit while
/// the writer writes one (with 16, the writer waited for rows a third of the time).
const STORE_QUEUE: usize = 24;
/// Messages queued for the pcap logger (each up to `sinks::PCAP_BATCH` frames or
/// `sinks::PCAP_BATCH_BYTES` bytes plus one frame, 2.25 MiB): 32 × 2.25 MiB = 72 MiB at
/// most; 1024 full-size Ethernet frames are 1.5 MB, 48 MB for the queue.
const PCAP_QUEUE: usize = 32;

/// Where EVE JSON goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EveTarget {
    Stdout,
    File(PathBuf),
}

/// Everything the pipeline needs besides the source and the detectors.
pub struct PipelineOptions {
    pub workers: usize,
    pub limits: Limits,
    pub flow: FlowConfig,
    pub eve: Option<EveTarget>,
    /// Raised on SIGHUP: the EVE file is reopened by name at the next tick.
    pub eve_reopen: Option<Arc<AtomicBool>>,
    /// EVE's `host`: the sensor's name (`[output] sensor_name`, else this machine's host name).
    pub sensor_name: Option<String>,
    /// nsm-tui's keys outside Suricata's EVE schema (`[output] eve_extensions`).
    pub eve_extensions: bool,
    pub db: Option<(PathBuf, StoreOptions)>,
    pub store_packets: bool,
    pub pcap_log: Option<(PathBuf, PcapLogOptions)>,
    /// How often `on_tick` is called with fresh stats.
    pub tick: Duration,
    /// Live capture writes an EVE `stats` event this often (`[output] stats_interval_secs`;
    /// None = only at the end).
    pub eve_stats_every: Option<Duration>,
    /// Sees every analysed packet on the aggregator thread (the console's model).
    pub observer: Option<Box<dyn observer::Observer>>,
    /// GeoIP for EVE, AbuseIPDB reputation (late alerts join the output stage).
    pub enrich: crate::enrich::Enrichment,
    /// Response metrics for EVE `stats` (runs that can act).
    pub response_metrics: Option<crate::metrics::SharedMetrics>,
    /// The `--metrics-listen` server's slot: the run shows its counters there.
    pub metrics: Option<exporter::MetricsSlot>,
}

impl RunSummary {
    /// Why the run must end in failure although it ran to its end: an output lost what it
    /// was given (a full disk) or failed part-way.
    pub fn output_failure(&self) -> Option<String> {
        let s = &self.stats;
        if s.eve_lost + s.pcap_lost == 0 && self.errors.is_empty() {
            return None;
        }
        Some(format!(
            "outputs failed: {} EVE events and {} pcap log packets lost; {}",
            s.eve_lost,
            s.pcap_lost,
            self.errors.join("; ")
        ))
    }
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunSummary {
    pub source: String,
    pub stats: Stats,
    pub end: CaptureEnd,
    pub wall: Duration,
    pub store: Option<WriterSummary>,
    pub pcap: Option<PcapLogSummary>,
    /// Problems that did not stop the run (a sink that failed part-way).
    pub errors: Vec<String>,
}

fn open_eve(target: &EveTarget, opts: EveOptions) -> Result<EveWriter<Box<dyn Write + Send>>> {
    let w: Box<dyn Write + Send> = match target {
        EveTarget::Stdout => Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        )),
        EveTarget::File(p) => {
            let f = crate::store::safe_file::open_append(p).context("opening the EVE output")?;
            Box::new(std::io::BufWriter::with_capacity(1 << 16, f))
        }
    };
    Ok(EveWriter::with_options(w, opts))
}

type StoreJoin = JoinHandle<Result<WriterSummary, crate::store::StoreError>>;
type PcapJoin = JoinHandle<Result<PcapLogSummary, crate::store::StoreError>>;

/// Run the whole pipeline over `src` until it ends or `stop` is raised: open the outputs,
/// start the stages, tick until the aggregator is done, then join everything in order.
pub fn run(
    src: Box<dyn Source>,
    detectors: DetectorSet,
    opts: PipelineOptions,
    stop: &Arc<AtomicBool>,
    mut on_tick: impl FnMut(&Stats),
) -> Result<RunSummary> {
    let started = Instant::now();
    let live = src.is_live();
    let source_name = src.name().to_string();
    let counters = Arc::new(SharedCounters::default());
    let iface_names = interface_names(src.as_ref());
    let outputs = open_outputs(&opts, live, &iface_names, &counters)?;
    let published = Arc::new(Mutex::new(Stats::default()));
    tracing::debug!(
        source = %source_name,
        live,
        workers = opts.workers.max(1),
        "pipeline starting"
    );
    if let Some(slot) = &opts.metrics {
        slot.attach(exporter::RunView {
            counters: counters.clone(),
            published: published.clone(),
            response: opts.response_metrics.clone(),
            reputation: opts
                .enrich
                .reputation
                .as_ref()
                .map(crate::enrich::reputation::Reputation::status),
        });
    }
    let stages = start_stages(
        src,
        detectors,
        opts,
        outputs.sinks,
        outputs.geo_record,
        iface_names,
        stop,
        &counters,
        &published,
    )?;
    // The aggregator drops `done_tx` when it finishes; until then, tick.
    while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
        stages.done.recv_timeout(stages.tick)
    {
        if let Ok(s) = published.lock() {
            let mut s = s.clone();
            s.uptime_secs = started.elapsed().as_secs_f64();
            on_tick(&s);
        }
    }
    let (end, mut stats, mut errors) = stages.join(&counters)?;
    let store = match outputs.store {
        Some(j) => Some(
            j.join()
                .map_err(|_| anyhow!("the SQLite writer panicked"))?
                .context("writing the database")?,
        ),
        None => None,
    };
    let pcap = match outputs.pcap {
        Some(j) => match j.join().map_err(|_| anyhow!("the pcap logger panicked"))? {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(format!("pcap log: {e}"));
                None
            }
        },
        None => None,
    };
    // The pcap logger counts what it lost until it ends.
    counters.sink_stats(&mut stats);
    let wall = started.elapsed();
    stats.uptime_secs = wall.as_secs_f64();
    Ok(RunSummary {
        source: source_name,
        stats,
        end,
        wall,
        store,
        pcap,
        errors,
    })
}

/// The capture interfaces' names (EVE `in_iface`), or the source's name for a file.
fn interface_names(src: &dyn Source) -> Vec<Arc<str>> {
    let names: Vec<Arc<str>> = src
        .interfaces()
        .into_iter()
        .map(|(n, _)| Arc::from(n.as_str()))
        .collect();
    if names.is_empty() {
        vec![Arc::from(src.name())]
    } else {
        names
    }
}

/// The outputs, opened before the first packet so a bad path fails fast.
struct Outputs {
    sinks: Sinks,
    store: Option<StoreJoin>,
    pcap: Option<PcapJoin>,
    geo_record: Option<crate::enrich::georecord::GeoRecorder>,
}

fn open_outputs(
    opts: &PipelineOptions,
    live: bool,
    iface_names: &[Arc<str>],
    counters: &Arc<SharedCounters>,
) -> Result<Outputs> {
    let mut sinks = Sinks::none(counters.clone());
    sinks.lossy = live;
    if let Some(t) = &opts.eve {
        // Suricata names the capture interface (`in_iface`) for live capture only.
        let eve_opts = EveOptions {
            iface_names: if live {
                iface_names.to_vec()
            } else {
                Vec::new()
            },
            host: opts.sensor_name.clone(),
            extensions: opts.eve_extensions,
            ..EveOptions::default()
        };
        let mut w = open_eve(t, eve_opts)?;
        if let (EveTarget::File(p), Some(flag)) = (t, &opts.eve_reopen) {
            sinks.eve_reopen = Some((p.clone(), flag.clone()));
        }
        w.set_geoip(opts.enrich.geoip.clone());
        w.set_response_metrics(opts.response_metrics.clone());
        sinks.eve = Some(w);
    }
    let mut store = None;
    let mut geo_record = None;
    if let Some((path, sopts)) = &opts.db {
        let db = SqliteStore::open_writer(path, sopts)
            .with_context(|| format!("opening database {}", path.display()))?;
        let (tx, rx) = bounded(STORE_QUEUE);
        store = Some(crate::store::spawn_writer(db, rx));
        geo_record = opts
            .enrich
            .geoip
            .as_ref()
            .map(|g| crate::enrich::georecord::GeoRecorder::new(g.clone()));
        sinks.store = Some(tx);
    }
    let mut pcap = None;
    if let Some((path, popts)) = &opts.pcap_log {
        let logger = PcapLogger::create(path, *popts)
            .with_context(|| format!("opening pcap log {}", path.display()))?;
        let (tx, rx) = bounded(PCAP_QUEUE);
        pcap = Some(crate::store::spawn_pcap_logger(
            logger,
            rx,
            counters.pcap_lost.clone(),
        ));
        sinks.pcap = Some(tx);
    }
    Ok(Outputs {
        sinks,
        store,
        pcap,
        geo_record,
    })
}

/// The running threads: capture → workers → aggregator → output.
struct Stages {
    capture: JoinHandle<CaptureEnd>,
    workers: Vec<JoinHandle<()>>,
    aggregator: JoinHandle<Stats>,
    output: JoinHandle<output::OutputEnd>,
    /// Disconnected when the aggregator finishes.
    done: crossbeam_channel::Receiver<()>,
    tick: Duration,
}

/// Starts the output stage, the aggregator, the workers and the capture thread, in that order
/// (each consumer before its producer).
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one run, handed on to the threads that own them"
)]
fn start_stages(
    src: Box<dyn Source>,
    detectors: DetectorSet,
    opts: PipelineOptions,
    sinks: Sinks,
    geo_record: Option<crate::enrich::georecord::GeoRecorder>,
    iface_names: Vec<Arc<str>>,
    stop: &Arc<AtomicBool>,
    counters: &Arc<SharedCounters>,
    published: &Arc<Mutex<Stats>>,
) -> Result<Stages> {
    let live = src.is_live();
    let workers = opts.workers.max(1);
    // Replaying a file into a database: the writer sets the pace; the stages feeding it
    // give way to it (live capture keeps every thread at the process's priority).
    let yield_to_writer = !live && opts.db.is_some();
    let nice = move || {
        if yield_to_writer {
            priority::yield_to_writer();
        }
    };
    let (out_tx, out_rx) = bounded::<OutBatch>(OUTPUT_QUEUE);
    let output = Output::new(
        sinks,
        OutputOptions {
            source: Arc::from(src.name()),
            iface_names,
            store_packets: opts.store_packets,
            observer: opts.observer,
            reputation: opts.enrich.reputation,
            reputation_wait: opts.enrich.finish_wait,
            stopped: stop.clone(),
            geo_record,
            live,
            eve_stats_every: opts.eve_stats_every,
        },
    );
    let output = std::thread::Builder::new()
        .name("output".into())
        .spawn(move || {
            nice();
            output.run(&out_rx)
        })
        .context("starting the output thread")?;
    let aggregator = Aggregator::new(
        FlowTable::new(opts.flow),
        detectors.stateful,
        detectors.flow,
        out_tx,
        counters.clone(),
        published.clone(),
    );
    let cap_queue = if live {
        LIVE_CAPTURE_QUEUE
    } else {
        (CAPTURE_QUEUE_PER_WORKER * workers).min(CAPTURE_QUEUE_MAX)
    };
    let (batch_tx, batch_rx) = bounded::<Batch>(cap_queue);
    let (result_tx, result_rx) =
        bounded::<AnalyzedBatch>((RESULT_QUEUE_PER_WORKER * workers).min(RESULT_QUEUE_MAX));
    let packet_detectors = Arc::new(detectors.packet);
    let (done_tx, done) = bounded::<()>(1);
    let aggregator = std::thread::Builder::new()
        .name("aggregator".into())
        .spawn(move || {
            nice();
            let out = aggregator.run(&result_rx);
            drop(done_tx);
            out
        })
        .context("starting the aggregator thread")?;
    let mut worker_joins = Vec::new();
    for i in 0..workers {
        let (rx, tx, det, queued) = (
            batch_rx.clone(),
            result_tx.clone(),
            packet_detectors.clone(),
            counters.clone(),
        );
        worker_joins.push(
            std::thread::Builder::new()
                .name(format!("analysis-{i}"))
                .spawn(move || {
                    nice();
                    worker::run(&rx, &tx, &det, &queued);
                })
                .context("starting an analysis worker")?,
        );
    }
    drop((batch_rx, result_tx));
    let (stop_c, counters_c, limits) = (stop.clone(), counters.clone(), opts.limits);
    let capture = std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || {
            nice();
            capture::run(src, &batch_tx, limits, &stop_c, &counters_c)
        })
        .context("starting the capture thread")?;
    Ok(Stages {
        capture,
        workers: worker_joins,
        aggregator,
        output,
        done,
        tick: opts.tick,
    })
}

impl Stages {
    /// Joins the stages in pipeline order: how the input ended, the final counters (late
    /// alerts and database drops folded in) and the problems that did not stop the run.
    fn join(self, counters: &SharedCounters) -> Result<(CaptureEnd, Stats, Vec<String>)> {
        let end = self
            .capture
            .join()
            .map_err(|_| anyhow!("the capture thread panicked"))?;
        for w in self.workers {
            w.join()
                .map_err(|_| anyhow!("an analysis worker panicked"))?;
        }
        let mut stats = self
            .aggregator
            .join()
            .map_err(|_| anyhow!("the aggregator thread panicked"))?;
        let out_end = self
            .output
            .join()
            .map_err(|_| anyhow!("the output thread panicked"))?;
        for (sev, n) in out_end.late_alerts {
            *stats.alerts.entry(sev).or_default() += n;
        }
        // The output stage and the pcap logger may have counted drops and losses after the
        // aggregator's last look.
        counters.sink_stats(&mut stats);
        Ok((end, stats, out_end.errors))
    }
}
