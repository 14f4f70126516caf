//! The console's `b` key, for real: a `respond::responder::Responder` that sends the confirmed
//! block through the `Enforcer` (guard, caps, escalation, firewall or dry run, audit row).
//! Console blocks follow the same policy as CLI and automatic ones: the default duration
//! escalated for repeat offenders, expiry once a second (`tick`), and removal of temporary
//! blocks on exit unless `keep_blocks_on_exit` (`finish`).
//!
//! Built and used on the console's effect thread (it blocks on firewall commands and SQLite).

use std::path::Path;

use super::enforcer::{Enforcer, Request};
use super::fw::ActionKind;
use super::setup;
use crate::config::Config;
use crate::metrics::SharedMetrics;
use crate::respond::plan::BlockPlan;
use crate::respond::responder::{Outcome, Responder};

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
            // The enforcer's default, escalated for repeat offenders, as for CLI and automatic
            // blocks (the dialog shows the first block's duration).
            secs: None,
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
            ok: d.outcome.carried_out() && d.write_errors.is_empty(),
            message: d.message,
        }
    }

    fn tick(&mut self, now_secs: i64) {
        self.enforcer.expire(now_secs.saturating_mul(1_000_000_000));
    }

    fn finish(&mut self, now_secs: i64) -> Option<String> {
        let removed = self
            .enforcer
            .shutdown(now_secs.saturating_mul(1_000_000_000));
        let mut lines = Vec::new();
        if removed > 0 {
            lines.push(format!(
                "response: removed {removed} temporary console block(s) on exit"
            ));
        }
        let failed = self.enforcer.write_failures();
        if failed > 0 {
            lines.push(format!(
                "response: {failed} audit-trail or blocks-table write(s) FAILED; those records \
                 are lost"
            ));
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::enforcer::EnforcerSettings;
    use crate::respond::exec::{CmdOutput, Runner};
    use crate::respond::fw::{nft::Nft, Cmd, FwOptions};
    use crate::respond::plan::BlockSettings;
    use crate::respond::safety::Guard;
    use crate::store::schema::{migrate, MIGRATIONS};

    /// A live-looking firewall whose set always holds 198.51.100.4.
    struct Fake;
    impl Runner for Fake {
        fn run(&mut self, cmd: &Cmd) -> CmdOutput {
            let listing = cmd.argv.get(1).is_some_and(|a| a == "-j");
            CmdOutput {
                status: Some(0),
                stdout: if listing {
                    r#"{"nftables":[{"set":{"name":"block4","elem":[{"elem":{"val":"198.51.100.4","timeout":3600,"expires":3599}}]}}]}"#.into()
                } else {
                    String::new()
                },
                stderr: String::new(),
            }
        }
        fn is_live(&self) -> bool {
            true
        }
    }

    fn responder(keep_on_exit: bool) -> FirewallResponder {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new("mem"), MIGRATIONS).unwrap();
        FirewallResponder::from_enforcer(Enforcer::new(
            Box::new(Nft::new(&FwOptions::default())),
            Box::new(Fake),
            Guard::default(),
            conn,
            EnforcerSettings {
                keep_on_exit,
                ..EnforcerSettings::default()
            },
        ))
    }

    #[test]
    fn console_blocks_escalate_expire_and_end_on_exit() {
        let s = BlockSettings::default();
        let plan = s.plan("198.51.100.4".parse().unwrap(), "r".into(), None);
        let mut r = responder(false);
        let first = r.block(&plan, 1_000);
        assert!(
            first.ok && first.message.contains("for 3600 s (offense 1)"),
            "{first:?}"
        );
        let second = r.block(&plan, 1_010);
        assert!(
            second.ok && second.message.contains("for 7200 s (offense 2)"),
            "{second:?}"
        );
        // Still active at exit: removed, as the README promises for temporary blocks.
        let said = r.finish(1_020).expect("a summary line");
        assert!(said.contains("removed 1 temporary"), "{said}");
        // Expiry ends it on the effect thread's tick.
        let mut r = responder(true);
        assert!(r.block(&plan, 1_000).ok);
        r.tick(1_000 + 3600);
        let expired: i64 = r
            .enforcer
            .conn
            .query_row(
                "SELECT COUNT(*) FROM actions WHERE outcome = 'expired'",
                [],
                |x| x.get(0),
            )
            .unwrap();
        assert_eq!(expired, 1);
        // keep_blocks_on_exit keeps them.
        let mut r = responder(true);
        assert!(r.block(&plan, 1_000).ok);
        assert_eq!(r.finish(1_001), None);
    }
}
