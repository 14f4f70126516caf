//! Commit-confirmed blocks (like Junos `commit confirmed`): `block --confirm-within SECS`
//! puts the address into the firewall with an element timeout of SECS, so the kernel drops it
//! by itself unless `nsm-tui confirm ADDR` re-applies it for its full duration in time. An
//! operator who cut off their own access just waits. The window's end is audited as
//! `rolled_back` by the next expiry pass (`ops::expire`).
//!
//! Same thread rules as `enforcer`: whoever owns the enforcer calls this; it blocks on the
//! firewall commands and SQLite.

use std::net::IpAddr;

use super::enforcer::{ends_after, Decision, Enforcer};
use crate::store::audit::{ActionRecord, Outcome};
use crate::store::blocks::{self, BlockRow};

impl Enforcer {
    /// Confirms the blocks of `addr` that wait for it: each gets its full duration in the
    /// firewall (read back to verify) and in the `blocks` table, and an audit row `confirmed`.
    /// `now` is wall-clock nanoseconds.
    pub fn confirm(&mut self, addr: IpAddr, actor: &str, now: i64) -> Decision {
        let addr = addr.to_canonical();
        // A window that already passed is recorded as rolled back first, not confirmed.
        self.expire(now);
        let target = addr.to_string();
        let waiting = blocks::awaiting(&self.conn, &target, now).unwrap_or_default();
        let Some((first, rest)) = waiting.split_first() else {
            let rec = ActionRecord {
                ts: now,
                ..self.record(actor, "confirm", &target, "confirm a block")
            };
            let why = if self.dry_run() {
                format!("no block of {addr} awaits confirmation (a dry run records none)")
            } else {
                format!(
                    "no block of {addr} awaits confirmation: it was never applied with \
                     --confirm-within, was confirmed already, or its window passed and it \
                     rolled back (see `nsm-tui blocks list`)"
                )
            };
            return self.finish(rec, Outcome::Failed, why, 0);
        };
        // Usually one row; with several kinds (block and rate limit) a failure wins.
        let mut decision = self.confirm_one(first, actor, now);
        for b in rest {
            let d = self.confirm_one(b, actor, now);
            if decision.outcome != Outcome::Failed {
                decision = d;
            }
        }
        decision
    }

    fn confirm_one(&mut self, b: &BlockRow, actor: &str, now: i64) -> Decision {
        let full = b.pending_secs.unwrap_or(0);
        let reason = format!("confirm the {} of {} for {full} s", b.kind, b.addr);
        let mut rec = ActionRecord {
            ts: now,
            incident_id: b.incident_id,
            ..self.record(actor, "confirm", &b.addr, &reason)
        };
        let (Some(ip), Some(kind)) = (b.ip(), crate::respond::fw::ActionKind::parse(&b.kind))
        else {
            let msg = format!(
                "blocks row {} is unreadable: {:?} {:?}",
                b.id, b.addr, b.kind
            );
            return self.finish(rec, Outcome::Failed, msg, 0);
        };
        let cmds = match self.fw.add(kind, ip, full) {
            Ok(c) => c,
            Err(e) => return self.finish(rec, Outcome::Failed, e.to_string(), 0),
        };
        let (ok, shown, status, output) = self.run_all(&cmds);
        rec.command = Some(shown);
        rec.exit_status = status;
        rec.output = Some(output);
        if !ok {
            let msg = format!("re-applying {ip} for {full} s failed; it still rolls back");
            return self.finish(rec, Outcome::Failed, msg, 0);
        }
        if let Err(why) = self.verify_present(kind, ip) {
            rec.output = Some(format!("{}\n{why}", rec.output.unwrap_or_default()));
            let msg = format!("{ip} was not in the set after re-applying it");
            return self.finish(rec, Outcome::Failed, msg, 0);
        }
        self.wrote(
            "the blocks row",
            blocks::confirm(&self.conn, b.id, ends_after(now, full)),
        );
        let how_long = if full > 0 {
            format!("for {full} s")
        } else {
            "with no expiry".into()
        };
        let msg = format!("confirmed: {} {ip} {how_long}", b.kind);
        self.finish(rec, Outcome::Confirmed, msg, full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::enforcer::{EnforcerSettings, Request};
    use crate::respond::exec::{CmdOutput, Runner};
    use crate::respond::fw::{nft::Nft, pf::Pf, ActionKind, Cmd, Firewall, FwOptions};
    use crate::respond::safety::Guard;
    use crate::store::audit;
    use crate::store::schema::{migrate, MIGRATIONS};
    use rusqlite::Connection;

    const S: i64 = 1_000_000_000;

    /// A live-looking runner whose `nft -j list set` shows both test addresses; it keeps the
    /// scripts it was fed.
    #[derive(Default)]
    struct Fake {
        scripts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl Runner for Fake {
        fn run(&mut self, cmd: &Cmd) -> CmdOutput {
            if let Some(s) = &cmd.stdin {
                self.scripts.lock().unwrap().push(s.clone());
            }
            let listing = cmd.argv.get(1).is_some_and(|a| a == "-j");
            CmdOutput {
                status: Some(0),
                stdout: if listing {
                    r#"{"nftables":[{"set":{"name":"block4","elem":["198.51.100.4","198.51.100.5"]}}]}"#.into()
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

    fn enforcer(
        fw: Box<dyn Firewall>,
    ) -> (Enforcer, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, std::path::Path::new("mem"), MIGRATIONS).unwrap();
        let fake = Fake::default();
        let scripts = fake.scripts.clone();
        let e = Enforcer::new(
            fw,
            Box::new(fake),
            Guard::default(),
            conn,
            EnforcerSettings::default(),
        );
        (e, scripts)
    }

    fn req(addr: &str, window: Option<u64>) -> Request {
        Request {
            kind: ActionKind::Block,
            addr: addr.parse().unwrap(),
            secs: None,
            actor: "cli".into(),
            reason: "r".into(),
            incident_id: None,
            alert_id: None,
            confirm_within: window,
        }
    }

    fn outcomes(e: &Enforcer) -> Vec<(String, String)> {
        let mut st = e
            .conn
            .prepare("SELECT action, outcome FROM actions ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn confirmed_block_gets_its_full_duration() {
        let (mut e, scripts) = enforcer(Box::new(Nft::new(&FwOptions::default())));
        let ip: IpAddr = "198.51.100.4".parse().unwrap();
        let d = e.apply(&req("198.51.100.4", Some(3)), 1_000 * S, 0);
        assert_eq!(
            (d.outcome, d.secs),
            (Outcome::AwaitingConfirmation, 3),
            "{d:?}"
        );
        assert!(d.message.contains("nsm-tui confirm 198.51.100.4"), "{d:?}");
        assert!(scripts
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .contains("{ 198.51.100.4 timeout 3s }"));
        let row = &blocks::active(&e.conn, 1_000 * S).unwrap()[0];
        assert_eq!(
            (row.pending_secs, row.expires),
            (Some(3600), Some(1_003 * S))
        );

        let d = e.confirm(ip, "cli", 1_001 * S);
        assert_eq!((d.outcome, d.secs), (Outcome::Confirmed, 3600), "{d:?}");
        assert!(scripts
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .contains("timeout 3600s"));
        let row = &blocks::active(&e.conn, 1_010 * S).unwrap()[0];
        assert_eq!((row.pending_secs, row.expires), (None, Some(4_601 * S)));
        // Past the window nothing rolls back; a second confirm finds nothing to do.
        assert_eq!(e.expire(1_010 * S), 0);
        assert_eq!(e.confirm(ip, "cli", 1_011 * S).outcome, Outcome::Failed);
        assert_eq!(
            outcomes(&e),
            [
                ("block".into(), "awaiting_confirmation".into()),
                ("confirm".into(), "confirmed".into()),
                ("confirm".into(), "failed".into())
            ]
        );
        assert_eq!(audit::verify(&e.conn).unwrap().first_broken, None);
    }

    #[test]
    fn unconfirmed_block_rolls_back_and_is_no_offense() {
        let (mut e, _) = enforcer(Box::new(Nft::new(&FwOptions::default())));
        let ip: IpAddr = "198.51.100.5".parse().unwrap();
        let d = e.apply(&req("198.51.100.5", Some(2)), 1_000 * S, 0);
        assert_eq!(d.outcome, Outcome::AwaitingConfirmation);
        assert_eq!(e.expire(1_001 * S), 0, "the window is still open");
        assert_eq!(e.expire(1_002 * S), 1);
        // Too late: the window passed.
        let late = e.confirm(ip, "cli", 1_003 * S);
        assert_eq!(late.outcome, Outcome::Failed);
        assert!(late.message.contains("rolled back"), "{late:?}");
        let reason: String = e
            .conn
            .query_row(
                "SELECT reason FROM actions WHERE outcome = 'rolled_back'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(reason.contains("not confirmed within 2 s"), "{reason}");
        // The rolled-back block does not escalate the next one.
        let d = e.apply(&req("198.51.100.5", None), 1_004 * S, 0);
        assert_eq!((d.outcome, d.secs), (Outcome::Executed, 3600));
        assert_eq!(audit::verify(&e.conn).unwrap().first_broken, None);
    }

    #[test]
    fn backends_without_element_timeouts_refuse_a_window() {
        let (mut e, scripts) = enforcer(Box::new(Pf::new(&FwOptions::default())));
        let d = e.apply(&req("198.51.100.4", Some(3)), 1_000 * S, 0);
        assert_eq!(d.outcome, Outcome::Refused, "{d:?}");
        assert!(d.message.contains("--confirm-within needs"), "{d:?}");
        assert!(scripts.lock().unwrap().is_empty(), "pf was touched");
    }
}
