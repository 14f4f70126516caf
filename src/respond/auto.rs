//! Automatic response from the pipeline: an `Observer` that sees every incident change from
//! the run's incident tracker (`pipeline::incidents`), asks the policy what to do, and hands
//! actions to one response worker thread through a bounded queue (`max_concurrent_actions`
//! deep). When the queue is full the action is refused and audited (alert-only), never queued
//! without bound.
//!
//! The observer runs on the pipeline's output thread and never waits on the firewall; the
//! worker owns the `Enforcer`, reconciles on start, expires blocks once a second and removes
//! temporary blocks on exit.

use std::collections::HashSet;
use std::net::IpAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::enforcer::{Enforcer, Request};
use super::policy::{self, PolicyAction, PolicyRule};
use super::reset::ResetRequest;
use super::setup::{self, now_ns};
use super::webhook::{Notice, Notifier, Retry, Targets};
use crate::config::Config;
use crate::engine::alert::Alert;
use crate::engine::incident::{Change, Incident};
use crate::metrics::{self as response_metrics, SharedMetrics};
use crate::pipeline::incidents::IncidentTracker;
use crate::pipeline::observer::Observer;
use crate::store::audit::{self, ActionRecord, Outcome};
use crate::store::incidents;

/// What the worker is asked to do.
enum Work {
    /// Block, rate-limit or quarantine through the firewall.
    Firewall(Request),
    /// Reset the source's TCP connections.
    Reset(ResetRequest),
}

impl Work {
    fn action(&self) -> &'static str {
        match self {
            Work::Firewall(r) => r.kind.as_str(),
            Work::Reset(_) => "reset",
        }
    }
    fn addr(&self) -> IpAddr {
        match self {
            Work::Firewall(r) => r.addr,
            Work::Reset(r) => r.addr,
        }
    }
    fn reason(&self) -> &str {
        match self {
            Work::Firewall(r) => &r.reason,
            Work::Reset(r) => &r.reason,
        }
    }
    fn incident_id(&self) -> Option<i64> {
        match self {
            Work::Firewall(r) => r.incident_id,
            Work::Reset(r) => r.incident_id,
        }
    }
}

/// One action for the worker.
struct Job {
    work: Work,
    /// Wall-clock time of the triggering packet (ns) in live capture; `None` when reading a
    /// file, whose capture times say nothing about now.
    trigger_ts: Option<i64>,
    notice: Option<Notice>,
}

pub struct ResponseObserver {
    /// Where refusals for a full queue are audited (the worker audits everything else).
    audit: Option<rusqlite::Connection>,
    rules: Vec<PolicyRule>,
    threshold: f64,
    done: HashSet<(u64, PolicyAction, crate::engine::alert::Severity)>,
    tx: Option<Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    pub refused_full: u64,
    live: bool,
    metrics: SharedMetrics,
}

/// The observers of a run that groups incidents: the incident tracker (saving to the
/// database when one is written) around `inner` (the console's model) and, with automatic
/// response on, the response policy; its actions are counted in `metrics`. None when there is
/// nothing to do (no database, no automatic response, nothing inside). Errors (bad policy,
/// unopenable database) are returned.
///
/// `live` says the packets come from live capture, so their times are wall-clock times and the
/// packet-to-block latency can be measured.
pub fn observer(
    c: &Config,
    metrics: &SharedMetrics,
    live: bool,
    mut inner: Vec<Box<dyn Observer>>,
) -> anyhow::Result<Option<Box<dyn Observer>>> {
    if !c.storage.db_enabled && !c.response.auto_response_enabled && inner.is_empty() {
        return Ok(None);
    }
    if c.response.auto_response_enabled {
        inner.push(Box::new(ResponseObserver::new(c, metrics, live)?));
    }
    // New incidents are numbered past those the database holds; the pipeline attaches its
    // writer, which saves them.
    let first_id = if c.storage.db_enabled {
        let conn = setup::open_db(&c.storage.db_path)?;
        incidents::next_id(&conn).map_err(|e| {
            anyhow::anyhow!(
                "reading incidents from {}: {e}",
                c.storage.db_path.display()
            )
        })?
    } else {
        1
    };
    let tracker = IncidentTracker::new(c.response.incident_window_secs, first_id, inner);
    Ok(Some(Box::new(tracker)))
}

impl ResponseObserver {
    pub fn new(
        c: &Config,
        metrics: &SharedMetrics,
        live: bool,
    ) -> anyhow::Result<ResponseObserver> {
        let rules = policy::parse(&c.response.policy).map_err(anyhow::Error::msg)?;
        let (tx, worker) = if c.response.auto_response_enabled {
            let mut e = setup::enforcer(c, &c.storage.db_path)?;
            e.metrics = Some(metrics.clone());
            let n = Notifier::spawn(Targets::from_config(c), Retry::default());
            let (tx, rx) = bounded(c.response.max_concurrent_actions.max(1));
            let h = std::thread::Builder::new()
                .name("nsm-respond".into())
                .spawn(move || worker(e, &rx, n))?;
            (Some(tx), Some(h))
        } else {
            (None, None)
        };
        let audit = if c.storage.db_enabled {
            Some(setup::open_db(&c.storage.db_path)?)
        } else {
            None
        };
        Ok(ResponseObserver {
            audit,
            rules,
            threshold: c.response.response_threshold,
            done: HashSet::new(),
            tx,
            worker,
            refused_full: 0,
            live,
            metrics: metrics.clone(),
        })
    }

    fn maybe_act(&mut self, alert: &Alert, inc: &Incident) {
        let Some(src) = inc.source else {
            return;
        };
        if policy::score(alert) < self.threshold {
            return;
        }
        let (actions, secs) = policy::decide(&self.rules, &inc.category, inc.severity);
        let todo: Vec<PolicyAction> = actions
            .into_iter()
            .filter(|a| self.done.insert((inc.id, *a, inc.severity)))
            .collect();
        if todo.is_empty() {
            return;
        }
        // The audit trail names the incident by its one id (its row id once saved).
        let incident_id = i64::try_from(inc.id).ok();
        let notify = todo.contains(&PolicyAction::Notify);
        let reason = format!(
            "{} {} from {src}: {} ({} alerts)",
            inc.severity.level_name(),
            inc.category,
            alert.description,
            inc.count
        );
        for a in todo {
            let (work, label) = match (a, a.firewall_kind()) {
                (_, Some(kind)) => {
                    let req = Request {
                        kind,
                        addr: src,
                        secs,
                        actor: "auto".into(),
                        reason: reason.clone(),
                        incident_id,
                        alert_id: None,
                        confirm_within: None,
                    };
                    (Work::Firewall(req), kind.as_str())
                }
                (PolicyAction::Reset, None) => {
                    let req = ResetRequest {
                        addr: src,
                        actor: "auto".into(),
                        reason: reason.clone(),
                        incident_id,
                        alert_id: None,
                    };
                    (Work::Reset(req), "reset")
                }
                // Notify rides along with the other actions' notices.
                _ => continue,
            };
            let notice = notify.then(|| notice_for(alert, inc, label));
            self.send(Job {
                work,
                trigger_ts: self.live.then_some(alert.ts.0),
                notice,
            });
        }
    }

    fn send(&mut self, job: Job) {
        let Some(tx) = &self.tx else {
            return;
        };
        if let Err(e) = tx.try_send(job) {
            self.refused_full += 1;
            let job = e.into_inner();
            let w = &job.work;
            if let Some(conn) = &self.audit {
                let rec = ActionRecord {
                    ts: now_ns(),
                    actor: "auto".into(),
                    action: w.action().into(),
                    target: w.addr().to_string(),
                    reason: format!(
                        "{}; response queue full (max_concurrent_actions): alert-only",
                        w.reason()
                    ),
                    incident_id: w.incident_id(),
                    outcome: Outcome::Refused.as_str().into(),
                    ..ActionRecord::default()
                };
                if let Err(e) = audit::append(conn, &rec) {
                    response_metrics::update(&self.metrics, |m| m.write_failures += 1);
                    tracing::error!("response: the audit row of a refused action was lost: {e}");
                }
            }
            tracing::warn!(
                "response: queue full, {} {} not carried out (alert-only)",
                w.action(),
                w.addr()
            );
        }
    }
}

fn notice_for(alert: &Alert, inc: &Incident, action: &str) -> Notice {
    let src = inc.source.map_or("-".into(), |s| s.to_string());
    Notice {
        title: format!("nsm-tui: {action} {src} ({})", inc.category),
        text: format!(
            "{} incident: {} alerts from {src} in category {}; latest: {}",
            inc.severity.level_name(),
            inc.count,
            inc.category,
            alert.description
        ),
        severity: inc.severity.as_str().into(),
        event: serde_json::json!({
            "timestamp_ns": alert.ts.0,
            "event_type": "alert",
            "src_ip": src,
            "alert": {
                "signature_id": alert.rule.0,
                "signature": alert.description.as_ref(),
                "category": alert.category.as_ref(),
                "severity": alert.severity.eve_level(),
            },
            "incident": { "alerts": inc.count, "severity": inc.severity.as_str() },
            "response": action,
        }),
    }
}

impl Observer for ResponseObserver {
    fn packet(
        &mut self,
        _a: &crate::engine::record::Analyzed,
        _flow: Option<&crate::engine::flow::FlowMeta>,
    ) {
    }

    fn incident(&mut self, inc: &Incident, _change: Change, alert: &Alert) {
        self.maybe_act(alert, inc);
    }
}

impl Drop for ResponseObserver {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
    }
}

fn worker(mut e: Enforcer, rx: &Receiver<Job>, notifier: Option<Notifier>) {
    let r = e.reconcile(now_ns());
    if !r.reapplied.is_empty() || !r.failed.is_empty() {
        tracing::info!(
            "response: re-applied {} recorded block(s), {} failed",
            r.reapplied.len(),
            r.failed.len()
        );
    }
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(job) => {
                let d = match &job.work {
                    Work::Firewall(req) => e.apply(req, now_ns(), rx.len()),
                    Work::Reset(req) => e.reset(req, now_ns(), rx.len()),
                };
                let took = job.trigger_ts.map(|t| (now_ns() - t) as f64 / 1e6);
                let in_force = matches!(
                    d.outcome,
                    Outcome::Executed | Outcome::DryRun | Outcome::AwaitingConfirmation
                );
                if let (Work::Firewall(_), true, Some(ms), Some(m)) =
                    (&job.work, in_force, took, &e.metrics)
                {
                    response_metrics::update(m, |m| m.record_latency(ms));
                }
                match took {
                    Some(ms) => tracing::info!(
                        "response: {} ({}); {ms:.1} ms after the triggering packet",
                        d.message,
                        d.outcome.as_str()
                    ),
                    None => tracing::info!("response: {} ({})", d.message, d.outcome.as_str()),
                }
                if let (Some(n), Some(notice)) = (&notifier, job.notice) {
                    n.notify(notice);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                e.expire(now_ns());
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let removed = e.shutdown(now_ns());
    if removed > 0 {
        tracing::info!("response: removed {removed} temporary block(s) on exit");
    }
    if e.write_failures() > 0 {
        tracing::error!(
            "response: {} audit-trail or blocks-table write(s) FAILED; those records are lost",
            e.write_failures()
        );
    }
    if let Some(n) = notifier {
        n.finish();
    }
}
