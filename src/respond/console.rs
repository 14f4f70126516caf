//! The console's `b` key, for real: a `tui::responder::Responder` that sends the confirmed
//! block through the `Enforcer` (guard, caps, escalation, firewall or dry run, audit row).
//!
//! Built and used on the console's effect thread (it blocks on firewall commands and SQLite).

use std::path::Path;

use super::enforcer::{Enforcer, Request};
use super::fw::ActionKind;
use super::setup;
use crate::config::Config;
use crate::metrics::SharedMetrics;
use crate::tui::block::BlockPlan;
use crate::tui::responder::{Outcome, Responder};

pub struct FirewallResponder {
    enforcer: Enforcer,
}

impl FirewallResponder {
    /// The responder for `config`, auditing into the database at `db`.
    pub fn new(config: &Config, db: &Path) -> anyhow::Result<FirewallResponder> {
        Ok(FirewallResponder {
            enforcer: setup::enforcer(config, db)?,
        })
    }

    /// Count every decision in `metrics` as well (the console's Overview).
    pub fn with_metrics(mut self, metrics: SharedMetrics) -> FirewallResponder {
        self.enforcer.metrics = Some(metrics);
        self
    }

    pub fn from_enforcer(enforcer: Enforcer) -> FirewallResponder {
        FirewallResponder { enforcer }
    }
}

impl Responder for FirewallResponder {
    fn block(&mut self, plan: &BlockPlan, now_secs: i64) -> Outcome {
        let req = Request {
            kind: ActionKind::Block,
            addr: plan.addr,
            secs: (plan.timeout_secs > 0).then_some(plan.timeout_secs),
            actor: "console".into(),
            reason: plan.reason.clone(),
            // The console shows the store's incidents: its number is the row id.
            incident_id: plan.incident.and_then(|id| i64::try_from(id).ok()),
            alert_id: None,
            // The console's own confirm dialog comes before the block.
            confirm_within: None,
        };
        let d = self
            .enforcer
            .apply(&req, now_secs.saturating_mul(1_000_000_000), 0);
        Outcome {
            ok: d.outcome.carried_out(),
            message: d.message,
        }
    }
}
