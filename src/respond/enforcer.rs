//! The enforcer: one place every response goes through — the guard, the caps, escalation,
//! the firewall commands (or their dry-run record), the read-back check, the `blocks` state
//! and one audit row per decision.
//!
//! Owned by one thread at a time (the CLI's main thread, the response worker, the console's
//! effect thread); calls block on firewall commands and SQLite.
//!
//! Audit-trail and `blocks` writes never fail silently: each failure is counted
//! (`write_failures`, and in the shared metrics for the status bar and the run summary) and
//! named in the decision it belongs to (`Decision::write_errors`), which makes a CLI command
//! exit non-zero. The audit trail is what a block is rebuilt from.

use std::cell::{Cell, RefCell};
use std::net::IpAddr;

use rusqlite::Connection;
use serde::Serialize;

use super::exec::{CmdOutput, Runner};
use super::fw::{ActionKind, Cmd, Firewall};
use super::limits::{escalate, Breaker, Caps, Load};
use super::safety::Guard;
use crate::metrics::{self as response_metrics, SharedMetrics};
use crate::store::audit::{self, ActionRecord, Outcome};
use crate::store::blocks::{self, BlockRow};

/// Policy knobs of the enforcer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnforcerSettings {
    pub default_secs: u64,
    pub escalation_factor: u32,
    pub max_secs: u64,
    pub caps: Caps,
    pub keep_on_exit: bool,
}

impl Default for EnforcerSettings {
    fn default() -> Self {
        Self {
            default_secs: 3600,
            escalation_factor: 2,
            max_secs: 7 * 86_400,
            caps: Caps::default(),
            keep_on_exit: false,
        }
    }
}

/// A request to act on one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: ActionKind,
    pub addr: IpAddr,
    /// Explicit duration; None = the default, escalated for repeat offenders.
    pub secs: Option<u64>,
    pub actor: String,
    pub reason: String,
    pub incident_id: Option<i64>,
    pub alert_id: Option<i64>,
    /// Commit-confirmed: apply the block with this many seconds of firewall timeout and wait
    /// for `nsm-tui confirm` to give it its full duration; unconfirmed, the firewall drops it
    /// by itself when the window ends (even if nsm-tui is gone). None or 0 = no window.
    pub confirm_within: Option<u64>,
}

/// What the enforcer decided and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub message: String,
    pub secs: u64,
    pub commands: Vec<String>,
    /// The audit row, when it could be written.
    pub action_id: Option<i64>,
    /// Audit-trail or `blocks` writes of this decision that failed (empty when all landed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub write_errors: Vec<String>,
}

pub struct Enforcer {
    pub fw: Box<dyn Firewall>,
    pub runner: Box<dyn Runner>,
    pub guard: Guard,
    pub breaker: Breaker,
    pub conn: Connection,
    pub settings: EnforcerSettings,
    /// Every decision is counted here too, when set (EVE stats, the console's Overview).
    pub metrics: Option<SharedMetrics>,
    /// Re-reads the guard's SSH peers before every action (`ss`); it must really run commands,
    /// also in a dry run. None = the peers discovered at start only (tests).
    pub probe: Option<Box<dyn Runner>>,
    ready: bool,
    write_failures: Cell<u64>,
    /// Write failures not yet reported in a decision.
    pending_errors: RefCell<Vec<String>>,
}

const NS: i64 = 1_000_000_000;

impl Enforcer {
    pub fn new(
        fw: Box<dyn Firewall>,
        runner: Box<dyn Runner>,
        guard: Guard,
        conn: Connection,
        settings: EnforcerSettings,
    ) -> Enforcer {
        Enforcer {
            fw,
            runner,
            guard,
            breaker: Breaker::new(settings.caps),
            conn,
            settings,
            metrics: None,
            probe: None,
            ready: false,
            write_failures: Cell::new(0),
            pending_errors: RefCell::new(Vec::new()),
        }
    }

    /// Refreshes the guard's SSH peers with `probe` before every action.
    pub fn with_probe(mut self, probe: Box<dyn Runner>) -> Enforcer {
        self.probe = Some(probe);
        self
    }

    /// Audit-trail and `blocks` writes that failed since the enforcer was built.
    pub fn write_failures(&self) -> u64 {
        self.write_failures.get()
    }

    /// Counts and names a failed write (`what` says which), passing the value through.
    pub(super) fn wrote<T>(&self, what: &str, r: rusqlite::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.write_failures.set(self.write_failures.get() + 1);
                self.pending_errors
                    .borrow_mut()
                    .push(format!("{what} could not be written: {e}"));
                if let Some(m) = &self.metrics {
                    response_metrics::update(m, |m| m.write_failures += 1);
                }
                None
            }
        }
    }

    /// The write failures not yet reported, for the decision being made.
    pub(super) fn take_write_errors(&self) -> Vec<String> {
        std::mem::take(&mut *self.pending_errors.borrow_mut())
    }

    /// Re-reads the SSH peers the guard protects (see `safety`); called before every action.
    pub fn refresh_guard(&mut self) {
        if let Some(p) = self.probe.as_mut() {
            self.guard.refresh_sessions(p.as_mut());
        }
    }

    /// Forces the next action to re-check the firewall setup (after a suspected wipe).
    pub fn reset_ready(&mut self) {
        self.ready = false;
    }

    pub fn dry_run(&self) -> bool {
        !self.runner.is_live()
    }

    fn audit(&self, rec: &ActionRecord) -> Option<i64> {
        // A failed audit write must not hide the decision; the decision names the failure.
        self.wrote("the audit row", audit::append(&self.conn, rec))
    }

    pub(super) fn finish(
        &self,
        rec: ActionRecord,
        outcome: Outcome,
        message: String,
        secs: u64,
    ) -> Decision {
        let rec = ActionRecord {
            outcome: outcome.as_str().into(),
            ..rec
        };
        let action_id = self.audit(&rec);
        if let Some(m) = &self.metrics {
            response_metrics::update(m, |m| m.record(&rec.action, &rec.outcome));
        }
        let write_errors = self.take_write_errors();
        let message = if write_errors.is_empty() {
            message
        } else {
            format!("{message}; WARNING: {}", write_errors.join("; "))
        };
        Decision {
            outcome,
            message,
            secs,
            commands: rec.command.map(|c| vec![c]).unwrap_or_default(),
            action_id,
            write_errors,
        }
    }

    /// Runs `cmds` in order, stopping at the first failure; returns the transcript.
    pub(super) fn run_all(&mut self, cmds: &[Cmd]) -> (bool, String, Option<i32>, String) {
        let mut shown = Vec::new();
        let mut outputs = Vec::new();
        let mut last = Some(0);
        for c in cmds {
            shown.push(c.display());
            let out: CmdOutput = self.runner.run(c);
            last = out.status;
            let text = out.combined();
            if !text.is_empty() {
                outputs.push(text);
            }
            if !out.ok() {
                return (false, shown.join("\n"), last, outputs.join("\n"));
            }
        }
        (true, shown.join("\n"), last, outputs.join("\n"))
    }

    /// Creates the table/sets/chains when missing. Err carries the failed command's output.
    pub fn ensure_ready(&mut self) -> Result<(), String> {
        if self.ready {
            return Ok(());
        }
        for step in self.fw.setup() {
            if let Some(check) = &step.check {
                if self.runner.is_live() && self.runner.run(check).ok() {
                    continue;
                }
            }
            let out = self.runner.run(&step.apply);
            if !out.ok() {
                return Err(format!(
                    "firewall setup failed: {} → {}",
                    step.apply.argv.join(" "),
                    out.combined()
                ));
            }
        }
        self.ready = true;
        Ok(())
    }

    pub(super) fn load(&self, now: i64) -> Load {
        let since = now - 60 * NS;
        let last_minute = audit::actions_since(&self.conn, since).unwrap_or(0);
        Load {
            last_minute,
            in_flight: 0,
            active_blocks: blocks::count_active(&self.conn, now).unwrap_or(0),
        }
    }

    /// How long the block lasts and which offense it is. Every duration, whoever asked for
    /// it (command line, console, policy, escalation), is at most `max_secs`; an explicit 0
    /// is refused (Err), since a firewall element without a timeout never expires.
    fn duration(&self, req: &Request) -> Result<(u64, u32), String> {
        let offense = blocks::prior_offenses(&self.conn, &req.addr.to_string())
            .unwrap_or(0)
            .saturating_add(1);
        let max = self.settings.max_secs.max(1);
        let secs = match req.secs {
            Some(0) => {
                return Err(
                    "refused: a duration of 0 s would never expire; give at least 1 s (at most                      max_block_secs)"
                        .to_string(),
                )
            }
            Some(s) => s.min(max),
            None => escalate(
                self.settings.default_secs.max(1),
                offense,
                self.settings.escalation_factor,
                max,
            )
            .min(max),
        };
        Ok((secs, offense))
    }

    /// Whether an action on `addr` may run now: the never-block guard, then the caps and the
    /// circuit breaker. Err is the refusal to audit.
    pub(super) fn admit(&mut self, addr: IpAddr, now: i64, in_flight: usize) -> Result<(), String> {
        let addr = addr.to_canonical();
        self.refresh_guard();
        if let Some(why) = self.guard.verdict(addr) {
            return Err(format!("refused: {why}"));
        }
        let load = Load {
            in_flight,
            ..self.load(now)
        };
        self.breaker.admit(now / NS, load)
    }

    /// Blocks, rate-limits or quarantines `req.addr`; `now` is wall-clock nanoseconds. An
    /// IPv4-mapped IPv6 address is taken as the IPv4 address it carries, for the guard, the
    /// records and the firewall alike.
    pub fn apply(&mut self, req: &Request, now: i64, in_flight: usize) -> Decision {
        let req = &Request {
            addr: req.addr.to_canonical(),
            ..req.clone()
        };
        let target = req.addr.to_string();
        let mut rec = ActionRecord {
            ts: now,
            incident_id: req.incident_id,
            alert_id: req.alert_id,
            ..self.record(&req.actor, req.kind.as_str(), &target, &req.reason)
        };
        if let Err(why) = self.admit(req.addr, now, in_flight) {
            return self.finish(rec, Outcome::Refused, why, 0);
        }
        let (secs, offense) = match self.duration(req) {
            Ok(d) => d,
            Err(why) => return self.finish(rec, Outcome::Refused, why, 0),
        };
        let window = req.confirm_within.filter(|w| *w > 0);
        if window.is_some() && !self.fw.native_expiry() {
            let why = format!(
                "the {} backend has no element timeouts, so an unconfirmed block would not roll \
                 back by itself; --confirm-within needs nftables or iptables",
                self.fw.kind().as_str()
            );
            return self.finish(rec, Outcome::Refused, format!("refused: {why}"), 0);
        }
        // With a window the firewall holds the address only that long until confirmed.
        let fw_secs = window.unwrap_or(secs);
        let cmds = match self.fw.add(req.kind, req.addr, fw_secs) {
            Ok(c) => c,
            Err(e) => return self.finish(rec, Outcome::Failed, e.to_string(), secs),
        };
        if let Err(e) = self.ensure_ready() {
            rec.output = Some(e.clone());
            return self.finish(rec, Outcome::Failed, e, secs);
        }
        let (ok, shown, status, output) = self.run_all(&cmds);
        rec.command = Some(shown);
        rec.exit_status = status;
        rec.output = Some(output);
        self.breaker.record(now / NS);
        if !ok {
            return self.finish(
                rec,
                Outcome::Failed,
                "the firewall command failed".into(),
                secs,
            );
        }
        if self.dry_run() {
            let msg = match window {
                Some(w) => format!(
                    "dry run: would {} {} for {w} s awaiting confirmation, then {secs} s once \
                     confirmed (nothing changed)",
                    req.kind.as_str(),
                    req.addr
                ),
                None => format!(
                    "dry run: would {} {} for {secs} s (nothing changed)",
                    req.kind.as_str(),
                    req.addr
                ),
            };
            return self.finish(rec, Outcome::DryRun, msg, secs);
        }
        self.confirm_and_record(rec, req, (secs, window), offense, now)
    }

    /// Reads the set back to check the address is in it, then records the block. `secs` is
    /// the block's full duration and `window` its confirmation window, if it has one.
    fn confirm_and_record(
        &mut self,
        mut rec: ActionRecord,
        req: &Request,
        (secs, window): (u64, Option<u64>),
        offense: u32,
        now: i64,
    ) -> Decision {
        if let Err(why) = self.verify_present(req.kind, req.addr) {
            rec.output = Some(format!("{}\n{why}", rec.output.unwrap_or_default()));
            let msg = format!("{} was not in the set after adding it", req.addr);
            return self.finish(rec, Outcome::Failed, msg, secs);
        }
        let held = window.unwrap_or(secs);
        let row = BlockRow {
            id: 0,
            addr: req.addr.to_string(),
            kind: req.kind.as_str().into(),
            backend: self.fw.kind().as_str().into(),
            created: now,
            expires: ends_after(now, held),
            temporary: held > 0,
            offense,
            incident_id: req.incident_id,
            reason: req.reason.clone(),
            pending_secs: window.map(|_| secs),
        };
        self.wrote("the blocks row", blocks::insert(&self.conn, &row));
        let done = if req.kind == ActionKind::Block {
            "blocked"
        } else {
            req.kind.as_str()
        };
        if let Some(w) = window {
            let msg = format!(
                "{done} {} for {w} s awaiting confirmation, verified in the set: run `nsm-tui \
                 confirm {}` within {w} s to keep it for {secs} s, or it rolls back",
                req.addr, req.addr
            );
            return self.finish(rec, Outcome::AwaitingConfirmation, msg, w);
        }
        let msg = format!(
            "{done} {} for {secs} s (offense {offense}), verified in the set",
            req.addr
        );
        self.finish(rec, Outcome::Executed, msg, secs)
    }

    /// Ok when the firewall's set for `kind` holds `addr`; Err says what the read-back saw.
    pub(super) fn verify_present(&mut self, kind: ActionKind, addr: IpAddr) -> Result<(), String> {
        let check = self.fw.read_back(kind, addr);
        let out = self.runner.run(&check);
        if self.fw.parse_read_back(kind, &out.stdout).contains(&addr) {
            Ok(())
        } else {
            Err(format!(
                "read back with `{}`: {addr} is not in the set ({})",
                check.argv.join(" "),
                out.combined()
            ))
        }
    }
}

/// The end of a block of `secs` seconds starting at `now` (ns); None = no expiry.
pub(super) fn ends_after(now: i64, secs: u64) -> Option<i64> {
    (secs > 0).then(|| {
        now.saturating_add(
            i64::try_from(secs)
                .unwrap_or(i64::MAX / NS)
                .saturating_mul(NS),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::exec::CmdOutput;
    use crate::respond::fw::{nft::Nft, FwOptions};
    use crate::store::schema::{migrate, MIGRATIONS};

    /// A live-looking runner whose `nft -j list set` output is scripted.
    struct Fake {
        listing: String,
        ran: Vec<String>,
    }

    impl Runner for Fake {
        fn run(&mut self, cmd: &Cmd) -> CmdOutput {
            self.ran.push(cmd.argv.join(" "));
            let listing = cmd.argv.get(1).is_some_and(|a| a == "-j");
            CmdOutput {
                status: Some(0),
                stdout: if listing {
                    self.listing.clone()
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

    fn enforcer(listing: &str) -> Enforcer {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, std::path::Path::new("mem"), MIGRATIONS).unwrap();
        let fake = Fake {
            listing: listing.into(),
            ran: Vec::new(),
        };
        Enforcer::new(
            Box::new(Nft::new(&FwOptions::default())),
            Box::new(fake),
            Guard::default(),
            conn,
            EnforcerSettings::default(),
        )
    }

    fn req(addr: &str) -> Request {
        Request {
            kind: ActionKind::Block,
            addr: addr.parse().unwrap(),
            secs: None,
            actor: "test".into(),
            reason: "r".into(),
            incident_id: Some(7),
            alert_id: None,
            confirm_within: None,
        }
    }

    #[test]
    fn missing_element_after_add_is_a_failure() {
        let mut e = enforcer(r#"{"nftables":[{"set":{"name":"block4","elem":[]}}]}"#);
        let d = e.apply(&req("198.51.100.4"), 1_000 * NS, 0);
        assert_eq!(d.outcome, Outcome::Failed, "{d:?}");
        assert!(d.message.contains("not in the set"));
        assert_eq!(blocks::count_active(&e.conn, 1_000 * NS).unwrap(), 0);
    }

    #[test]
    fn a_lost_blocks_row_is_counted_and_named() {
        let listing = r#"{"nftables":[{"set":{"name":"block4","elem":[{"elem":{"val":"198.51.100.4","timeout":3600,"expires":3599}}]}}]}"#;
        let mut e = enforcer(listing);
        e.conn
            .execute_batch(
                "CREATE TRIGGER lose BEFORE INSERT ON blocks \
                 BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;",
            )
            .unwrap();
        let d = e.apply(&req("198.51.100.4"), 1_000 * NS, 0);
        // The firewall holds the block; the record of it is what failed, and says so.
        assert_eq!(d.outcome, Outcome::Executed, "{d:?}");
        assert_eq!(d.write_errors.len(), 1, "{d:?}");
        assert!(
            d.message.contains("the blocks row could not be written"),
            "{d:?}"
        );
        assert_eq!(e.write_failures(), 1);
        // The audit row still landed.
        assert!(d.action_id.is_some());
    }

    #[test]
    fn durations_are_never_zero_and_never_past_max_secs() {
        let listing = r#"{"nftables":[{"set":{"name":"block4","elem":[{"elem":{"val":"198.51.100.4","timeout":3600,"expires":3599}}]}}]}"#;
        let mut e = enforcer(listing);
        let zero = Request {
            secs: Some(0),
            ..req("198.51.100.4")
        };
        let d = e.apply(&zero, 1_000 * NS, 0);
        assert_eq!(d.outcome, Outcome::Refused, "{d:?}");
        assert!(d.message.contains("0 s would never expire"), "{d:?}");
        let month = Request {
            secs: Some(30 * 86_400),
            ..req("198.51.100.4")
        };
        let d = e.apply(&month, 1_000 * NS, 0);
        assert_eq!(
            (d.outcome, d.secs),
            (Outcome::Executed, 7 * 86_400),
            "{d:?}"
        );
        assert!(d.commands.iter().all(|c| !c.contains("2592000")), "{d:?}");
        // Escalation stops at the cap too.
        e.settings.max_secs = 5000;
        let d = e.apply(&req("198.51.100.4"), 1_010 * NS, 0);
        assert_eq!((d.outcome, d.secs), (Outcome::Executed, 5000), "{d:?}");
    }

    #[test]
    fn mapped_ipv4_addresses_meet_the_guard_as_ipv4() {
        let listing = r#"{"nftables":[{"set":{"name":"block4","elem":[{"elem":{"val":"198.51.100.4","timeout":3600,"expires":3599}}]}}]}"#;
        let mut e = enforcer(listing);
        e.guard.protected.push(super::super::safety::Protected {
            net: "203.0.113.5".parse().unwrap(),
            prefix: 32,
            why: "an address of this host".into(),
        });
        for refused in [
            "::ffff:127.0.0.1",
            "::ffff:203.0.113.5",
            "::ffff:192.168.1.1",
        ] {
            let d = e.apply(&req(refused), 1_000 * NS, 0);
            assert_eq!(d.outcome, Outcome::Refused, "{refused}: {d:?}");
        }
        let d = e.apply(&req("::ffff:198.51.100.4"), 1_000 * NS, 0);
        assert_eq!(d.outcome, Outcome::Executed, "{d:?}");
        assert!(d.commands.iter().all(|c| !c.contains("::ffff")), "{d:?}");
        let addr: String = e
            .conn
            .query_row("SELECT addr FROM blocks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(addr, "198.51.100.4");
    }

    #[test]
    fn verified_blocks_escalate_and_are_recorded() {
        let listing = r#"{"nftables":[{"set":{"name":"block4","elem":[{"elem":{"val":"198.51.100.4","timeout":3600,"expires":3599}}]}}]}"#;
        let mut e = enforcer(listing);
        let first = e.apply(&req("198.51.100.4"), 1_000 * NS, 0);
        assert_eq!((first.outcome, first.secs), (Outcome::Executed, 3600));
        let second = e.apply(&req("198.51.100.4"), 1_010 * NS, 0);
        assert_eq!((second.outcome, second.secs), (Outcome::Executed, 7200));
        // The second block replaced the first in the blocks table.
        assert_eq!(blocks::count_active(&e.conn, 1_010 * NS).unwrap(), 1);
        assert_eq!(audit::verify(&e.conn).unwrap().rows, 2);
        // Expiry ends the recorded block and audits it.
        assert_eq!(e.expire(1_010 * NS + 7200 * NS), 1);
        let last: String = e
            .conn
            .query_row(
                "SELECT outcome FROM actions ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(last, "expired");
    }
}
