//! The enforcer's housekeeping: unblock, flush, list, expire, reconcile after a firewall
//! restart, and clean-up on exit. Same thread rules as `enforcer`.

use std::net::IpAddr;

use serde::Serialize;

use super::enforcer::{Decision, Enforcer};
use super::fw::{ActionKind, Listed};
use crate::store::audit::{ActionRecord, Outcome};
use crate::store::blocks::{self, BlockRow};

/// What `list` found: nsm-tui's records and, on a live firewall, what the sets hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub recorded: Vec<BlockRow>,
    /// (kind, address, seconds left) as read from the firewall; None in dry-run mode.
    pub live: Option<Vec<(String, IpAddr, Option<u64>)>>,
}

/// What `reconcile` did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Reconciled {
    pub reapplied: Vec<IpAddr>,
    pub expired: usize,
    pub failed: Vec<(IpAddr, String)>,
}

impl Enforcer {
    pub(super) fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        reason: &str,
    ) -> ActionRecord {
        ActionRecord {
            ts: 0,
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            reason: reason.into(),
            ..ActionRecord::default()
        }
    }

    fn conclude(&self, mut rec: ActionRecord, ok: bool, now: i64, message: String) -> Decision {
        rec.ts = now;
        let outcome = match (ok, self.dry_run()) {
            (false, _) => Outcome::Failed,
            (true, true) => Outcome::DryRun,
            (true, false) => Outcome::Executed,
        };
        rec.outcome = outcome.as_str().into();
        let action_id = self.wrote(
            "the audit row",
            crate::store::audit::append(&self.conn, &rec),
        );
        let write_errors = self.take_write_errors();
        let message = if write_errors.is_empty() {
            message
        } else {
            format!("{message}; WARNING: {}", write_errors.join("; "))
        };
        Decision {
            outcome,
            message,
            secs: 0,
            commands: rec.command.map(|c| vec![c]).unwrap_or_default(),
            action_id,
            write_errors,
        }
    }

    /// Removes `addr` from the sets of `kind` (all kinds the backend supports when None).
    pub fn remove(
        &mut self,
        addr: IpAddr,
        kind: Option<ActionKind>,
        actor: &str,
        now: i64,
    ) -> Decision {
        let addr = addr.to_canonical();
        let kinds: Vec<ActionKind> = match kind {
            Some(k) => vec![k],
            None => vec![
                ActionKind::Block,
                ActionKind::RateLimit,
                ActionKind::Quarantine,
            ],
        };
        let cmds: Vec<_> = kinds
            .iter()
            .filter_map(|k| {
                self.fw
                    .add_supported(*k)
                    .then(|| self.fw.remove(*k, addr).ok())
                    .flatten()
            })
            .flatten()
            .collect();
        if !self.dry_run() {
            // A wiped table would make every delete fail for the wrong reason.
            let _ = self.ensure_ready();
        }
        let mut rec = self.record(actor, "unblock", &addr.to_string(), "manual unblock");
        let (ok, shown, status, output) = self.run_lenient(&cmds);
        rec.command = Some(shown);
        rec.exit_status = status;
        rec.output = Some(output);
        if ok && !self.dry_run() {
            self.wrote(
                "the blocks table",
                blocks::deactivate_addr(
                    &self.conn,
                    &addr.to_string(),
                    kind.map(ActionKind::as_str),
                ),
            );
        }
        let msg = if ok {
            format!("{addr} removed")
        } else {
            format!("removing {addr} failed")
        };
        self.conclude(rec, ok, now, msg)
    }

    /// Runs every command; a "not in the set" failure of one delete does not stop the others.
    fn run_lenient(&mut self, cmds: &[super::fw::Cmd]) -> (bool, String, Option<i32>, String) {
        let mut shown = Vec::new();
        let mut outs = Vec::new();
        let mut any_ok = cmds.is_empty();
        let mut last = None;
        for c in cmds {
            shown.push(c.display());
            let o = self.runner.run(c);
            any_ok |= o.ok();
            last = o.status;
            let t = o.combined();
            if !t.is_empty() {
                outs.push(t);
            }
        }
        (any_ok, shown.join("\n"), last, outs.join("\n"))
    }

    /// Empties every managed set and marks every recorded block inactive.
    pub fn flush(&mut self, actor: &str, now: i64) -> Decision {
        let cmds = self.fw.flush();
        let mut rec = self.record(actor, "flush", "*", "flush all blocks");
        let (ok, shown, status, output) = self.run_lenient(&cmds);
        rec.command = Some(shown);
        rec.exit_status = status;
        rec.output = Some(output);
        let n = if ok && !self.dry_run() {
            self.wrote("the blocks table", blocks::deactivate_all(&self.conn))
                .unwrap_or(0)
        } else {
            0
        };
        self.conclude(rec, ok, now, format!("flushed ({n} recorded blocks ended)"))
    }

    /// The recorded active blocks and what the firewall holds.
    pub fn list(&mut self, now: i64) -> Listing {
        let recorded = blocks::active(&self.conn, now).unwrap_or_default();
        let live = self.live_elements().map(|v| {
            v.into_iter()
                .map(|l| (l.kind.as_str().to_string(), l.addr, l.expires_in))
                .collect()
        });
        Listing { recorded, live }
    }

    fn live_elements(&mut self) -> Option<Vec<Listed>> {
        if self.dry_run() {
            return None;
        }
        let cmds = self.fw.list();
        let outs: Vec<String> = cmds.iter().map(|c| self.runner.run(c).stdout).collect();
        Some(self.fw.parse_list(&outs))
    }

    /// Ends recorded blocks whose time is up: audited as `expired`, or `rolled_back` for a
    /// confirm-within block whose window passed unconfirmed; on backends without native
    /// timeouts (pf) the address is also removed from the firewall.
    pub fn expire(&mut self, now: i64) -> usize {
        let due = blocks::due(&self.conn, now).unwrap_or_default();
        for b in &due {
            let (reason, outcome) = if b.awaiting_confirmation() {
                let window = b.expires.map_or(0, |e| (e - b.created) / 1_000_000_000);
                (
                    format!(
                        "not confirmed within {window} s (`nsm-tui confirm`): the firewall \
                         dropped it, rolled back"
                    ),
                    Outcome::RolledBack,
                )
            } else {
                ("block duration elapsed".to_string(), Outcome::Expired)
            };
            let mut rec = self.record("system", "expire", &b.addr, &reason);
            rec.incident_id = b.incident_id;
            if !self.fw.native_expiry() {
                if let (Some(ip), Some(k)) =
                    (b.ip(), crate::respond::fw::ActionKind::parse(&b.kind))
                {
                    if let Ok(cmds) = self.fw.remove(k, ip) {
                        let (_, shown, status, out) = self.run_lenient(&cmds);
                        rec.command = Some(shown);
                        rec.exit_status = status;
                        rec.output = Some(out);
                    }
                }
            }
            rec.ts = now;
            rec.outcome = outcome.as_str().into();
            // Ended first: another enforcer on the same database (the console's and the
            // response worker's) may expire the same row; only the one that ended it audits.
            let ended = self.wrote("the blocks table", blocks::deactivate(&self.conn, b.id));
            if ended == Some(false) {
                continue;
            }
            self.wrote(
                "the audit row",
                crate::store::audit::append(&self.conn, &rec),
            );
            if let Some(m) = &self.metrics {
                crate::metrics::update(m, |m| m.record("expire", &rec.outcome));
            }
        }
        due.len()
    }

    /// Re-applies recorded active blocks the firewall no longer holds (e.g. after
    /// `nft flush ruleset` or a firewall restart), with the time they have left.
    pub fn reconcile(&mut self, now: i64) -> Reconciled {
        let mut r = Reconciled {
            expired: self.expire(now),
            ..Reconciled::default()
        };
        if self.dry_run() {
            return r;
        }
        self.reset_ready();
        if let Err(e) = self.ensure_ready() {
            r.failed.push((IpAddr::from([0, 0, 0, 0]), e));
            return r;
        }
        let live = self.live_elements().unwrap_or_default();
        for b in blocks::active(&self.conn, now).unwrap_or_default() {
            let (Some(ip), Some(kind)) = (b.ip(), crate::respond::fw::ActionKind::parse(&b.kind))
            else {
                continue;
            };
            if live.iter().any(|l| l.addr == ip && l.kind == kind) {
                continue;
            }
            self.reapply(&b, ip, kind, now, &mut r);
        }
        r
    }

    fn reapply(
        &mut self,
        b: &BlockRow,
        ip: IpAddr,
        kind: ActionKind,
        now: i64,
        r: &mut Reconciled,
    ) {
        let secs = b.secs_left(now).unwrap_or(0);
        let Ok(cmds) = self.fw.add(kind, ip, secs) else {
            return;
        };
        let mut rec = self.record(
            "system",
            "reconcile",
            &b.addr,
            "re-applied a recorded block missing from the firewall",
        );
        rec.incident_id = b.incident_id;
        let (ok, shown, status, out) = self.run_lenient(&cmds);
        rec.command = Some(shown);
        rec.exit_status = status;
        rec.output = Some(out.clone());
        if ok {
            r.reapplied.push(ip);
        } else {
            r.failed.push((ip, out));
        }
        self.conclude(rec, ok, now, String::new());
    }

    /// On exit: removes temporary blocks unless configured to keep them.
    pub fn shutdown(&mut self, now: i64) -> usize {
        if self.settings.keep_on_exit || self.dry_run() {
            return 0;
        }
        let temp: Vec<BlockRow> = blocks::active(&self.conn, now)
            .unwrap_or_default()
            .into_iter()
            .filter(|b| b.temporary)
            .collect();
        for b in &temp {
            if let (Some(ip), Some(k)) = (b.ip(), crate::respond::fw::ActionKind::parse(&b.kind)) {
                self.remove(ip, Some(k), "system", now);
            }
        }
        temp.len()
    }
}
