//! TCP reset: ends this host's TCP connections to and from an address at once with `ss -K`
//! (the kernel's SOCK_DESTROY, which needs CONFIG_INET_DIAG_DESTROY), so a session that was
//! established before a block does not linger. The kernel aborts each socket and sends the
//! peer a RST. Linux only; connections forwarded through this host are not its sockets and
//! are not touched (a block stops those).
//!
//! `commands`, `read_back` and `count_sockets` are pure. `Enforcer::reset` runs them through
//! the enforcer's runner on the thread that carries out responses (the CLI's main thread, the
//! response worker) and blocks while `ss` runs.

use std::net::IpAddr;

use super::enforcer::{Decision, Enforcer};
use super::fw::Cmd;
use crate::store::audit::{ActionRecord, Outcome};

const NS: i64 = 1_000_000_000;

/// A request to reset the TCP connections of one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRequest {
    pub addr: IpAddr,
    pub actor: String,
    pub reason: String,
    pub incident_id: Option<i64>,
    pub alert_id: Option<i64>,
}

/// `addr` as an `ss` filter operand: IPv6 in brackets (ss reads a bare `2001:db8::1` as
/// address `2001:db8:` and port 1).
fn operand(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// `ss -K -t -n dst ADDR` and `ss -K -t -n src ADDR`: destroy the TCP sockets whose peer is
/// `addr`, then those whose local end is `addr`. Listening sockets are never matched (ss
/// lists only non-listening sockets without `-l`/`-a`). Each prints the sockets it killed.
pub fn commands(addr: IpAddr) -> Vec<Cmd> {
    let a = operand(addr);
    ["dst", "src"]
        .iter()
        .map(|dir| Cmd::new(&["ss", "-K", "-t", "-n", dir, &a]))
        .collect()
}

/// Lists the connections still open to or from `addr` that can carry data (TIME-WAIT
/// leftovers cannot and are not counted).
pub fn read_back(addr: IpAddr) -> Cmd {
    let a = operand(addr);
    Cmd::new(&[
        "ss",
        "-t",
        "-n",
        "state",
        "connected",
        "exclude",
        "time-wait",
        "(",
        "dst",
        &a,
        "or",
        "src",
        &a,
        ")",
    ])
}

/// Sockets listed in `ss` output: every non-blank line but the header.
pub fn count_sockets(output: &str) -> usize {
    output
        .lines()
        .filter(|l| {
            let first = l.split_whitespace().next().unwrap_or("");
            !first.is_empty() && first != "State" && first != "Netid"
        })
        .count()
}

/// What a live reset achieved: `killed` sockets listed by `ss -K`, `left` by the read-back.
/// Nothing killed while connections stay open means the kernel cannot destroy sockets.
pub fn verdict(addr: IpAddr, killed: usize, left: usize) -> (Outcome, String) {
    match (killed, left) {
        (0, 0) => (
            Outcome::Executed,
            format!("no TCP connection to or from {addr} was open"),
        ),
        (0, n) => (
            Outcome::Failed,
            format!(
                "ss -K reset nothing and {n} connection(s) to or from {addr} are still open: \
                 the kernel cannot destroy sockets (it needs CONFIG_INET_DIAG_DESTROY)"
            ),
        ),
        (k, 0) => (
            Outcome::Executed,
            format!("reset {k} TCP connection(s) to and from {addr}"),
        ),
        (k, n) => (
            Outcome::Executed,
            format!(
                "reset {k} TCP connection(s) to and from {addr}; {n} opened since (block the \
                 address to keep it out)"
            ),
        ),
    }
}

impl Enforcer {
    /// Resets the TCP connections to and from `req.addr`; `now` is wall-clock nanoseconds.
    /// Passes the same guard and caps as a block and leaves one audit row.
    pub fn reset(&mut self, req: &ResetRequest, now: i64, in_flight: usize) -> Decision {
        // An IPv4-mapped address is the IPv4 address it carries (see `apply`).
        let req = &ResetRequest {
            addr: req.addr.to_canonical(),
            ..req.clone()
        };
        let target = req.addr.to_string();
        let mut rec = ActionRecord {
            ts: now,
            incident_id: req.incident_id,
            alert_id: req.alert_id,
            ..self.record(&req.actor, "reset", &target, &req.reason)
        };
        if let Err(why) = self.admit(req.addr, now, in_flight) {
            return self.finish(rec, Outcome::Refused, why, 0);
        }
        let (ok, shown, status, output) = self.run_all(&commands(req.addr));
        rec.command = Some(shown);
        rec.exit_status = status;
        rec.output = Some(output.clone());
        self.breaker.record(now / NS);
        if !ok {
            let msg = format!("resetting the connections of {} failed", req.addr);
            return self.finish(rec, Outcome::Failed, msg, 0);
        }
        if self.dry_run() {
            let msg = format!(
                "dry run: would reset the TCP connections to and from {} (nothing changed)",
                req.addr
            );
            return self.finish(rec, Outcome::DryRun, msg, 0);
        }
        let killed = count_sockets(&output);
        let check = read_back(req.addr);
        let left_out = self.runner.run(&check);
        let left = count_sockets(&left_out.stdout);
        rec.output = Some(format!(
            "{output}\nread back with `{}`: {left} connection(s) left\n{}",
            check.argv.join(" "),
            left_out.combined()
        ));
        let (outcome, msg) = verdict(req.addr, killed, left);
        self.finish(rec, outcome, msg, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::enforcer::EnforcerSettings;
    use crate::respond::exec::{CmdOutput, DryRunner, Runner};
    use crate::respond::fw::{nft::Nft, FwOptions};
    use crate::respond::safety::Guard;
    use crate::store::audit;
    use crate::store::schema::{migrate, MIGRATIONS};
    use rusqlite::Connection;

    #[test]
    fn commands_are_argument_lists_for_both_directions() {
        let v4 = commands("198.51.100.2".parse().unwrap());
        assert_eq!(
            v4.iter().map(|c| c.argv.join(" ")).collect::<Vec<_>>(),
            [
                "ss -K -t -n dst 198.51.100.2",
                "ss -K -t -n src 198.51.100.2"
            ]
        );
        assert!(v4.iter().all(|c| c.stdin.is_none()));
        let v6 = commands("2001:db8::7".parse().unwrap());
        assert_eq!(v6[0].argv, ["ss", "-K", "-t", "-n", "dst", "[2001:db8::7]"]);
        let rb = read_back("2001:db8::7".parse().unwrap()).argv.join(" ");
        assert_eq!(
            rb,
            "ss -t -n state connected exclude time-wait ( dst [2001:db8::7] or src [2001:db8::7] )"
        );
    }

    #[test]
    fn counts_listed_sockets_not_the_header() {
        let out = "State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\
                   ESTAB 0      0      198.51.100.1:8080  198.51.100.2:40312\n\
                   ESTAB 0      0      198.51.100.1:8080  198.51.100.2:40314\n\n";
        assert_eq!(count_sockets(out), 2);
        assert_eq!(count_sockets("State Recv-Q Send-Q Local Address:Port\n"), 0);
        assert_eq!(count_sockets(""), 0);
    }

    /// A live-looking runner: `ss -K` prints `killed`, the read-back prints `left`.
    struct Ss {
        killed: &'static str,
        left: &'static str,
        ran: Vec<String>,
    }

    impl Runner for Ss {
        fn run(&mut self, cmd: &Cmd) -> CmdOutput {
            self.ran.push(cmd.argv.join(" "));
            let kill = cmd.argv.get(1).is_some_and(|a| a == "-K");
            let dst = cmd.argv.get(4).is_some_and(|a| a == "dst");
            CmdOutput {
                status: Some(0),
                stdout: match (kill, dst) {
                    (true, true) => self.killed.into(),
                    (true, false) => "State Recv-Q\n".into(),
                    (false, _) => self.left.into(),
                },
                stderr: String::new(),
            }
        }
        fn is_live(&self) -> bool {
            true
        }
    }

    fn enforcer(runner: Box<dyn Runner>, guard: Guard) -> Enforcer {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, std::path::Path::new("mem"), MIGRATIONS).unwrap();
        Enforcer::new(
            Box::new(Nft::new(&FwOptions::default())),
            runner,
            guard,
            conn,
            EnforcerSettings::default(),
        )
    }

    fn req(addr: &str) -> ResetRequest {
        ResetRequest {
            addr: addr.parse().unwrap(),
            actor: "test".into(),
            reason: "r".into(),
            incident_id: None,
            alert_id: None,
        }
    }

    fn last(e: &Enforcer) -> (String, String, Option<String>) {
        e.conn
            .query_row(
                "SELECT action, outcome, command FROM actions ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    }

    const KILLED: &str = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n\
                          ESTAB 0 0 198.51.100.1:8080 198.51.100.2:40312\n";

    #[test]
    fn reset_runs_both_commands_and_audits_them() {
        let ss = Ss {
            killed: KILLED,
            left: "State Recv-Q\n",
            ran: Vec::new(),
        };
        let mut e = enforcer(Box::new(ss), Guard::default());
        let d = e.reset(&req("198.51.100.2"), 1_000 * NS, 0);
        assert_eq!(d.outcome, Outcome::Executed, "{d:?}");
        assert!(d.message.contains("reset 1 TCP connection"), "{d:?}");
        let (action, outcome, command) = last(&e);
        assert_eq!((action.as_str(), outcome.as_str()), ("reset", "executed"));
        assert_eq!(
            command.as_deref(),
            Some("ss -K -t -n dst 198.51.100.2\nss -K -t -n src 198.51.100.2")
        );
        assert_eq!(audit::verify(&e.conn).unwrap().first_broken, None);
    }

    #[test]
    fn nothing_destroyed_while_connections_stay_means_no_kernel_support() {
        let ss = Ss {
            killed: "State Recv-Q\n",
            left: KILLED,
            ran: Vec::new(),
        };
        let mut e = enforcer(Box::new(ss), Guard::default());
        let d = e.reset(&req("198.51.100.2"), 1_000 * NS, 0);
        assert_eq!(d.outcome, Outcome::Failed, "{d:?}");
        assert!(d.message.contains("CONFIG_INET_DIAG_DESTROY"), "{d:?}");
    }

    #[test]
    fn dry_run_and_guard_and_caps() {
        let mut e = enforcer(Box::new(DryRunner::default()), Guard::default());
        let d = e.reset(&req("198.51.100.2"), 1_000 * NS, 0);
        assert_eq!(d.outcome, Outcome::DryRun);
        assert_eq!(
            d.commands.len(),
            1,
            "one audit command text with both lines"
        );
        assert!(d.commands[0].starts_with("ss -K -t -n dst 198.51.100.2"));
        // Private addresses are refused as for a block; nothing runs.
        let d = e.reset(&req("10.1.2.3"), 1_001 * NS, 0);
        assert_eq!(d.outcome, Outcome::Refused);
        assert!(d.message.contains("private"), "{d:?}");
        assert_eq!(last(&e).2, None);
        // Resets count toward max_actions_per_minute.
        e.breaker.caps.per_minute = 2;
        assert_eq!(
            e.reset(&req("198.51.100.3"), 1_002 * NS, 0).outcome,
            Outcome::DryRun
        );
        let d = e.reset(&req("198.51.100.4"), 1_003 * NS, 0);
        assert_eq!(d.outcome, Outcome::Refused);
        assert!(d.message.contains("circuit breaker") || d.message.contains("max_actions"));
    }
}
