//! The reputation worker: takes addresses off the queue one at a time, answers from the cache
//! or the API, keeps the daily quota, backs off on 429 (`Retry-After`) and on time-outs, and
//! sends findings to the aggregator.
//!
//! Runs on its own thread, inside a small multi-threaded tokio runtime built there.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::cache::{now_nanos, Cache};
use super::client::{CheckError, Client, Report};
use super::{reputation_alert, Finding, Job, ReputationOptions, Status};

pub(super) struct Worker {
    pub client: Client,
    pub cache: Cache,
    pub opts: ReputationOptions,
    pub status: Arc<Status>,
    pub out: Sender<Finding>,
    pub cancel: Arc<Notify>,
    pub cancelled: Arc<AtomicBool>,
}

/// Quota bookkeeping: checks spent on the current UTC day.
struct Quota {
    day: i64,
    used: u64,
}

impl Worker {
    pub fn run(self, rx: mpsc::Receiver<Job>) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("reputation-io")
            .enable_all()
            .build();
        match rt {
            Ok(rt) => rt.block_on(self.serve(rx)),
            Err(e) => self
                .status
                .error(&format!("starting the reputation runtime: {e}")),
        }
    }

    async fn serve(self, mut rx: mpsc::Receiver<Job>) {
        let mut retry: VecDeque<Job> = VecDeque::new();
        let mut backoff_until: Option<Instant> = None;
        let mut failures: u32 = 0;
        let now = now_nanos();
        let mut quota = Quota {
            day: Cache::day(now),
            used: self.cache.used_today(now).unwrap_or(0),
        };
        self.status.quota_used.store(quota.used, Ordering::Relaxed);
        loop {
            if self.cancelled.load(Ordering::Relaxed) {
                break;
            }
            let job = match retry.pop_front() {
                Some(j) => j,
                None => match rx.recv().await {
                    Some(j) => j,
                    None => break,
                },
            };
            if let Some(until) = backoff_until.take() {
                if !self.sleep_until(until).await {
                    break;
                }
            }
            match self.handle(&job, &mut quota).await {
                Outcome::Done => {
                    failures = 0;
                    self.status.pending.fetch_sub(1, Ordering::Relaxed);
                }
                Outcome::Retry(wait) => {
                    failures += 1;
                    let exp = Duration::from_secs(2u64.saturating_pow(failures.min(16)));
                    let wait = wait.unwrap_or(exp).min(self.opts.max_backoff);
                    backoff_until = Some(Instant::now() + wait);
                    let mut job = job;
                    job.attempts += 1;
                    if job.attempts < self.opts.attempts {
                        retry.push_back(job);
                    } else {
                        self.status.pending.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
        }
        // Whatever is still queued will not be checked in this run.
        self.status.pending.store(0, Ordering::Relaxed);
    }

    /// Sleeps until `until` unless cancelled first; false when cancelled.
    async fn sleep_until(&self, until: Instant) -> bool {
        tokio::select! {
            () = tokio::time::sleep_until(until) => !self.cancelled.load(Ordering::Relaxed),
            () = self.cancel.notified() => false,
        }
    }

    async fn handle(&self, job: &Job, quota: &mut Quota) -> Outcome {
        let now = now_nanos();
        match self.cache.get(job.ip, now) {
            Ok(Some(r)) => {
                self.status.cache_hits.fetch_add(1, Ordering::Relaxed);
                self.evaluate(job, &r);
                return Outcome::Done;
            }
            Ok(None) => {}
            Err(e) => self
                .status
                .error(&format!("reading {}: {e}", self.cache.path().display())),
        }
        if self.status.stopped.load(Ordering::Relaxed) {
            return Outcome::Done;
        }
        if Cache::day(now) != quota.day {
            quota.day = Cache::day(now);
            quota.used = self.cache.used_today(now).unwrap_or(0);
        }
        if quota.used >= self.opts.daily_quota {
            self.status.skipped_quota.fetch_add(1, Ordering::Relaxed);
            return Outcome::Done;
        }
        let res = tokio::select! {
            r = self.client.check(job.ip) => r,
            () = self.cancel.notified() => return Outcome::Done,
        };
        if !matches!(
            res,
            Err(CheckError::RateLimited { .. } | CheckError::Network(_))
        ) {
            // The request reached the API and counts against the quota, whatever it answered.
            quota.used += 1;
            self.status.quota_used.store(quota.used, Ordering::Relaxed);
        }
        match res {
            Ok(r) => {
                self.status.api_checks.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self.cache.put(&r, now) {
                    self.status
                        .error(&format!("writing {}: {e}", self.cache.path().display()));
                }
                self.evaluate(job, &r);
                Outcome::Done
            }
            Err(e) => self.failed(e),
        }
    }

    fn failed(&self, e: CheckError) -> Outcome {
        self.status.error(&e.to_string());
        match e {
            CheckError::Unauthorized { .. } => {
                if !self.status.stopped.swap(true, Ordering::Relaxed) {
                    // The detail is the server's text: escaped before it reaches a terminal.
                    tracing::warn!(
                        "{}; reputation checks stopped for this run",
                        crate::engine::text::printable(&e.to_string())
                    );
                }
                Outcome::Done
            }
            CheckError::RateLimited { retry_after } => Outcome::Retry(retry_after),
            e if e.is_transient() => Outcome::Retry(None),
            _ => Outcome::Done,
        }
    }

    fn evaluate(&self, job: &Job, r: &Report) {
        if r.score < self.opts.threshold {
            return;
        }
        let mut alert = reputation_alert(&job.packet, r);
        alert.flow_id = job.flow_id;
        let f = Finding {
            alert,
            packet: job.packet.clone(),
            report: r.clone(),
        };
        self.status.alerts.fetch_add(1, Ordering::Relaxed);
        if self.out.try_send(f).is_err() {
            self.status.findings_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

enum Outcome {
    Done,
    /// Try again after this long (or the exponential back-off when `None`).
    Retry(Option<Duration>),
}
