//! AbuseIPDB reputation, off the packet path. The aggregator hands each public address it has
//! not seen yet to a bounded queue (`try_send`: a full queue is counted and the address is
//! offered again on a later packet); a worker thread with a tokio runtime answers from the
//! SQLite cache or the API within the daily quota, backs off on 429 and time-outs, and sends
//! alerts for high scores back through a bounded channel the aggregator drains.
//!
//! `Reputation` lives on the aggregator thread; the worker owns the HTTP client and the cache
//! connection. `Status` is shared with whoever shows it (status bar, summary).

pub mod cache;
pub mod client;
mod worker;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::json;
use tokio::sync::{mpsc, Notify};

pub use client::{CheckError, Client, Report};

use super::addr::scope;
use crate::config::Config;
use crate::engine::alert::{Alert, Detector, RuleId, Severity};
use crate::engine::record::Analyzed;

/// Rule id of AbuseIPDB alerts.
pub const REPUTATION_RULE: u64 = 9_000_101;

/// How the reputation service behaves. `new` gives the documented defaults.
#[derive(Clone)]
pub struct ReputationOptions {
    pub api_key: String,
    /// API root; requests go to `{base_url}/check`.
    pub base_url: String,
    /// Database holding `reputation_cache`; `None` keeps the cache in memory.
    pub db: Option<PathBuf>,
    /// abuseConfidenceScore at or above which an alert is raised.
    pub threshold: u8,
    /// How long a cached answer is trusted.
    pub ttl: Duration,
    /// Checks per UTC day (AbuseIPDB's free tier allows 1,000).
    pub daily_quota: u64,
    /// Addresses waiting for a check, at most.
    pub queue: usize,
    /// Per-request time-out.
    pub timeout: Duration,
    /// Longest back-off after a 429 or a time-out.
    pub max_backoff: Duration,
    /// Failed checks are tried this many times in all.
    pub attempts: u8,
}

impl std::fmt::Debug for ReputationOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReputationOptions")
            .field("base_url", &self.base_url)
            .field("db", &self.db)
            .field("threshold", &self.threshold)
            .field("daily_quota", &self.daily_quota)
            .finish_non_exhaustive()
    }
}

impl ReputationOptions {
    pub fn new(api_key: &str, base_url: &str) -> Self {
        ReputationOptions {
            api_key: api_key.to_string(),
            base_url: base_url.to_string(),
            db: None,
            threshold: 75,
            ttl: Duration::from_secs(24 * 3600),
            daily_quota: 1000,
            queue: 1024,
            timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(15 * 60),
            attempts: 3,
        }
    }

    /// The options the configuration asks for, or `None` without an API key.
    pub fn from_config(c: &Config) -> Option<Self> {
        let key = c
            .integrations
            .abuseipdb_api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())?;
        let mut o = Self::new(key, &c.integrations.abuseipdb_base_url);
        o.db = c.storage.db_enabled.then(|| c.storage.db_path.clone());
        o.threshold = c.enrich.reputation_threshold;
        o.ttl = Duration::from_secs(c.enrich.reputation_cache_hours.saturating_mul(3600));
        o.daily_quota = c.enrich.reputation_daily_quota;
        Some(o)
    }
}

/// Counters of the service, readable from any thread.
#[derive(Debug, Default)]
pub struct Status {
    pub submitted: AtomicU64,
    /// Offers refused because the queue was full.
    pub queue_full: AtomicU64,
    /// Addresses waiting or being checked.
    pub pending: AtomicU64,
    pub cache_hits: AtomicU64,
    /// Checks that reached the API.
    pub api_checks: AtomicU64,
    pub errors: AtomicU64,
    /// Addresses not checked because today's quota was spent.
    pub skipped_quota: AtomicU64,
    pub quota_used: AtomicU64,
    pub quota_limit: AtomicU64,
    pub alerts: AtomicU64,
    /// Findings lost because the aggregator's channel was full.
    pub findings_dropped: AtomicU64,
    /// Checks still waiting or in flight when the end of the run stopped waiting for them.
    pub skipped_at_end: AtomicU64,
    /// How long (seconds) the end of the run waited for pending checks, once it gave up.
    pub end_wait_secs: AtomicU64,
    /// The API refused the key; no more checks this run.
    pub stopped: AtomicBool,
    pub last_error: Mutex<Option<String>>,
}

/// A plain copy of [`Status`] for display.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    pub pending: u64,
    pub cache_hits: u64,
    pub api_checks: u64,
    pub errors: u64,
    pub queue_full: u64,
    pub skipped_quota: u64,
    pub quota_remaining: u64,
    pub alerts: u64,
    pub skipped_at_end: u64,
    pub end_wait_secs: u64,
    pub stopped: bool,
    pub last_error: Option<String>,
}

impl Status {
    pub fn snapshot(&self) -> StatusSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatusSnapshot {
            pending: g(&self.pending),
            cache_hits: g(&self.cache_hits),
            api_checks: g(&self.api_checks),
            errors: g(&self.errors),
            queue_full: g(&self.queue_full),
            skipped_quota: g(&self.skipped_quota),
            quota_remaining: g(&self.quota_limit).saturating_sub(g(&self.quota_used)),
            alerts: g(&self.alerts),
            skipped_at_end: g(&self.skipped_at_end),
            end_wait_secs: g(&self.end_wait_secs),
            stopped: self.stopped.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    fn error(&self, e: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.last_error.lock() {
            *l = Some(e.to_string());
        }
    }
}

impl StatusSnapshot {
    /// One line for the status bar and the run summary.
    pub fn line(&self) -> String {
        let mut s = format!(
            "AbuseIPDB: {} pending, {} checked, {} cached, {} alerts, quota left {}",
            self.pending, self.api_checks, self.cache_hits, self.alerts, self.quota_remaining
        );
        if self.errors > 0 {
            s.push_str(&format!(", {} errors", self.errors));
        }
        if self.skipped_at_end > 0 {
            s.push_str(&format!(
                ", {} check{} skipped at the end (waited up to {} s)",
                self.skipped_at_end,
                if self.skipped_at_end == 1 { "" } else { "s" },
                self.end_wait_secs
            ));
        }
        if self.stopped {
            s.push_str(" (stopped: API key refused)");
        }
        s
    }
}

/// A high score, with the packet that first carried the address.
#[derive(Debug, Clone)]
pub struct Finding {
    pub packet: Analyzed,
    pub alert: Alert,
    pub report: Report,
}

struct Job {
    ip: IpAddr,
    packet: Analyzed,
    flow_id: Option<u64>,
    attempts: u8,
}

/// Addresses remembered as already offered; past this the memory is cleared (repeats then
/// come from the cache, not the quota).
const SEEN_CAP: usize = 200_000;

/// The aggregator's end of the service.
pub struct Reputation {
    tx: Option<mpsc::Sender<Job>>,
    findings: Receiver<Finding>,
    seen: HashSet<IpAddr>,
    status: Arc<Status>,
    cancel: Arc<Notify>,
    cancelled: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl Reputation {
    /// Opens the cache and starts the worker thread.
    pub fn start(opts: ReputationOptions) -> Result<Reputation, String> {
        let cache = cache::Cache::open(opts.db.as_deref(), opts.ttl).map_err(|e| e.to_string())?;
        let client =
            Client::new(&opts.base_url, &opts.api_key, opts.timeout).map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        let (ftx, frx) = crossbeam_channel::bounded(4096);
        let status = Arc::new(Status::default());
        status
            .quota_limit
            .store(opts.daily_quota, Ordering::Relaxed);
        let cancel = Arc::new(Notify::new());
        let cancelled = Arc::new(AtomicBool::new(false));
        let w = worker::Worker {
            client,
            cache,
            opts,
            status: status.clone(),
            out: ftx,
            cancel: cancel.clone(),
            cancelled: cancelled.clone(),
        };
        let worker = std::thread::Builder::new()
            .name("reputation".into())
            .spawn(move || w.run(rx))
            .map_err(|e| format!("starting the reputation thread: {e}"))?;
        Ok(Reputation {
            tx: Some(tx),
            findings: frx,
            seen: HashSet::new(),
            status,
            cancel,
            cancelled,
            worker: Some(worker),
        })
    }

    pub fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    /// Offers the packet's public addresses not offered before. Never blocks. `flow_id` is
    /// carried into the alert.
    pub fn observe(&mut self, a: &Analyzed, flow_id: Option<u64>) {
        let Some(ip) = a.decoded.ip else { return };
        for addr in [ip.src, ip.dst] {
            if self.seen.contains(&addr) || !scope(addr).is_public() {
                continue;
            }
            let Some(tx) = &self.tx else { return };
            let job = Job {
                ip: addr,
                packet: a.clone(),
                flow_id,
                attempts: 0,
            };
            match tx.try_send(job) {
                Ok(()) => {
                    if self.seen.len() >= SEEN_CAP {
                        self.seen.clear();
                    }
                    self.seen.insert(addr);
                    self.status.submitted.fetch_add(1, Ordering::Relaxed);
                    self.status.pending.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.status.queue_full.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.tx = None,
            }
        }
    }

    /// Findings ready now.
    pub fn drain(&mut self) -> Vec<Finding> {
        self.findings.try_iter().collect()
    }

    /// End of input: no more addresses; waits until the queue is worked off or `timeout`
    /// passes (then cancels what is left), and returns the remaining findings.
    pub fn finish(&mut self, timeout: Duration) -> Vec<Finding> {
        self.finish_unless_stopped(timeout, &AtomicBool::new(false), Duration::ZERO)
    }

    /// `finish`, except that once `stop` is raised (Ctrl-C, SIGTERM; before or during the
    /// wait) it waits at most `grace` more.
    pub fn finish_unless_stopped(
        &mut self,
        timeout: Duration,
        stop: &AtomicBool,
        grace: Duration,
    ) -> Vec<Finding> {
        self.tx = None;
        let mut deadline = Instant::now() + timeout;
        let mut waited = timeout;
        let mut stop_seen = false;
        let mut out = Vec::new();
        while let Some(w) = &self.worker {
            if w.is_finished() {
                break;
            }
            if !stop_seen && stop.load(Ordering::Relaxed) {
                stop_seen = true;
                deadline = deadline.min(Instant::now() + grace);
                waited = waited.min(grace);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Said in the summary: these addresses went unchecked.
                let skipped = self.status.pending.load(Ordering::Relaxed);
                self.status.skipped_at_end.store(skipped, Ordering::Relaxed);
                self.status
                    .end_wait_secs
                    .store(waited.as_secs(), Ordering::Relaxed);
                self.cancelled.store(true, Ordering::Relaxed);
                self.cancel.notify_one();
                break;
            }
            if let Ok(f) = self
                .findings
                .recv_timeout(left.min(Duration::from_millis(50)))
            {
                out.push(f);
            }
        }
        if self.worker.as_ref().is_some_and(JoinHandle::is_finished) {
            if let Some(w) = self.worker.take() {
                let _ = w.join();
            }
        }
        out.extend(self.findings.try_iter());
        out
    }
}

impl Drop for Reputation {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
        self.cancel.notify_one();
    }
}

/// Severity by confidence score: 90+ Critical, 75+ High, 50+ Medium, below Low.
pub fn severity_for(score: u8) -> Severity {
    match score {
        90.. => Severity::Critical,
        75..=89 => Severity::High,
        50..=74 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The `reputation` alert for `r`, raised on `packet` (which carries `r.ip`).
pub fn reputation_alert(packet: &Analyzed, r: &Report) -> Alert {
    let role = match packet.decoded.ip {
        Some(ip) if ip.src == r.ip => "source",
        _ => "destination",
    };
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "unknown".into());
    Alert {
        ts: packet.frame.ts,
        rule: RuleId(REPUTATION_RULE),
        description: "Address reported for abuse (AbuseIPDB)".into(),
        severity: severity_for(r.score),
        category: "reputation".into(),
        detector: Detector::Reputation,
        packet: packet.pcap_cnt,
        flow_id: None,
        explanation: format!(
            "{role} {} has AbuseIPDB confidence {}% from {} reports (ISP {}, usage {})",
            r.ip,
            r.score,
            r.total_reports,
            opt(&r.isp),
            opt(&r.usage_type)
        ),
        evidence: json!({
            "provider": cache::PROVIDER,
            "ip": r.ip.to_string(),
            "direction": role,
            "score": r.score,
            "total_reports": r.total_reports,
            "isp": r.isp,
            "usage_type": r.usage_type,
            "country_code": r.country_code,
        }),
    }
}
