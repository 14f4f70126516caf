//! The response subcommands (`block`, `confirm`, `unblock`, `reset`, `blocks`, `incidents`,
//! `audit`, `report`, `export`): their clap definitions and what they do. They work on a
//! database a running nsm-tui is writing (WAL, busy time-out).
//!
//! Called on the binary's main thread.

use crate::engine::text::printable;
use std::net::IpAddr;

use anyhow::bail;
use clap::{Args, Subcommand};

use super::cli::DbArgs;
use super::out::{out, outln};
use crate::config::Config;
use crate::respond::enforcer::{Decision, Request};
use crate::respond::fw::ActionKind;
use crate::respond::reset::ResetRequest;
use crate::respond::setup::{self, now_ns};
use crate::store::audit;

#[derive(Debug, Subcommand)]
pub enum RespondCmd {
    /// Block an address now ([response] dry_run decides whether the firewall is touched).
    Block(BlockArgs),
    /// Keep a block made with --confirm-within: re-apply it for its full duration.
    Confirm {
        /// The blocked address to keep blocked.
        addr: IpAddr,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Remove an address from every nsm-tui set.
    Unblock {
        /// The address to unblock.
        addr: IpAddr,
        #[command(flatten)]
        db: DbArgs,
    },
    /// End this host's TCP connections to and from an address now (`ss -K`; Linux, needs
    /// CONFIG_INET_DIAG_DESTROY). Pair it with `block` so the address cannot reconnect.
    Reset(ResetArgs),
    /// List, flush or re-apply nsm-tui's blocks.
    Blocks {
        #[command(subcommand)]
        cmd: BlocksCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Incidents: alerts grouped by source and category.
    Incidents {
        #[command(subcommand)]
        cmd: IncidentsCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Check the audit trail's hash chain.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Summary of incidents, alerts and responses.
    Report(ReportArgs),
    /// Dump incidents, alerts and actions for another system.
    Export {
        /// Only `json` for now.
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

impl RespondCmd {
    /// The command's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            RespondCmd::Block(_) => "block",
            RespondCmd::Confirm { .. } => "confirm",
            RespondCmd::Unblock { .. } => "unblock",
            RespondCmd::Reset(_) => "reset",
            RespondCmd::Blocks { .. } => "blocks",
            RespondCmd::Incidents { .. } => "incidents",
            RespondCmd::Audit { .. } => "audit",
            RespondCmd::Report(_) => "report",
            RespondCmd::Export { .. } => "export",
        }
    }

    /// The database flag of whichever command this is.
    pub fn db(&self) -> &DbArgs {
        match self {
            RespondCmd::Block(a) => &a.db,
            RespondCmd::Reset(a) => &a.db,
            RespondCmd::Report(a) => &a.db,
            RespondCmd::Confirm { db, .. }
            | RespondCmd::Unblock { db, .. }
            | RespondCmd::Blocks { db, .. }
            | RespondCmd::Incidents { db, .. }
            | RespondCmd::Audit { db, .. }
            | RespondCmd::Export { db, .. } => db,
        }
    }
}

#[derive(Debug, Args)]
pub struct BlockArgs {
    /// The address to block.
    pub addr: IpAddr,
    /// Duration: 90, 90s, 15m, 1h, 2d (default: [actions] default_action_timeout, escalated
    /// for repeat offenders).
    #[arg(long = "for", id = "block_for", value_name = "DURATION")]
    pub for_duration: Option<String>,
    /// Rate-limit instead of blocking.
    #[arg(long, conflicts_with = "quarantine")]
    pub rate_limit: bool,
    /// Quarantine: drop everything to and from the host except the management addresses.
    #[arg(long)]
    pub quarantine: bool,
    /// Why, for the audit trail.
    #[arg(long, default_value = "manual block from the command line")]
    pub reason: String,
    /// Incident this action belongs to.
    #[arg(long)]
    pub incident: Option<i64>,
    /// Commit-confirmed: the firewall holds the block only this long (90, 90s, 2m) unless
    /// `nsm-tui confirm ADDR` keeps it; unconfirmed, it rolls back by itself. 0 = off
    /// (default: [response] confirm_within_secs).
    #[arg(long, value_name = "DURATION")]
    pub confirm_within: Option<String>,
    /// Decide and audit, but change no firewall rule (whatever [response] dry_run says).
    /// Exits non-zero when the guard refuses the address, naming why.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The address whose connections end.
    pub addr: IpAddr,
    /// Why, for the audit trail.
    #[arg(long, default_value = "manual reset from the command line")]
    pub reason: String,
    /// Incident this action belongs to.
    #[arg(long)]
    pub incident: Option<i64>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Subcommand)]
pub enum BlocksCmd {
    /// Active blocks as recorded and as the firewall holds them.
    List {
        /// text or json.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Empty every nsm-tui set.
    Flush,
    /// Re-apply recorded blocks missing from the firewall; end expired ones.
    Reconcile,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCmd {
    /// Every stored incident, oldest first.
    List {
        /// text or json.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// One incident with its alerts, notes and actions.
    Show {
        /// The incident's id (as `list` and the console show it).
        id: i64,
    },
    /// Mark an incident acknowledged.
    Ack {
        /// The incident's id.
        id: i64,
    },
    /// Mark an incident resolved.
    Resolve {
        /// The incident's id.
        id: i64,
    },
    /// Append a note to an incident.
    Note {
        /// The incident's id.
        id: i64,
        /// The note (one line).
        text: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Walk the hash chain and report the first broken row.
    Verify,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How far back from now: 30m, 24h, 7d; 0 = everything (e.g. for a recorded capture).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// text or json.
    #[arg(long, default_value = "text")]
    pub format: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Parses `90`, `90s`, `15m`, `1h`, `2d`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1),
        Some((i, 'm')) => (&t[..i], 60),
        Some((i, 'h')) => (&t[..i], 3600),
        Some((i, 'd')) => (&t[..i], 86_400),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("duration {s:?}: expected a number with s, m, h or d (e.g. 1h)"))
}

/// Runs one response subcommand.
pub fn run(cmd: RespondCmd, config: &Config) -> anyhow::Result<()> {
    let db = config.storage.db_path.clone();
    match cmd {
        RespondCmd::Block(a) => block(&a, config),
        RespondCmd::Confirm { addr, .. } => {
            let mut e = setup::enforcer(config, &db)?;
            report_decision(&e.confirm(addr, "cli", now_ns()))
        }
        RespondCmd::Reset(a) => {
            let mut e = setup::enforcer(config, &db)?;
            let req = ResetRequest {
                addr: a.addr,
                actor: "cli".into(),
                reason: a.reason,
                incident_id: a.incident,
                alert_id: None,
            };
            report_decision(&e.reset(&req, now_ns(), 0))
        }
        RespondCmd::Unblock { addr, .. } => {
            let mut e = setup::enforcer(config, &db)?;
            report_decision(&e.remove(addr, None, "cli", now_ns()))
        }
        RespondCmd::Blocks { cmd, .. } => blocks(cmd, config),
        RespondCmd::Incidents { cmd, .. } => super::incidents::run(cmd, &setup::open_db(&db)?),
        RespondCmd::Audit {
            cmd: AuditCmd::Verify,
            ..
        } => {
            let conn = setup::open_db(&db)?;
            let v = audit::verify(&conn)?;
            match v.first_broken {
                None => {
                    outln!("audit trail OK: {} rows, hash chain intact", v.rows);
                    Ok(())
                }
                Some((id, why)) => bail!("audit trail broken at row {id}: {why}"),
            }
        }
        RespondCmd::Report(a) => {
            let secs = parse_duration(&a.since).map_err(anyhow::Error::msg)?;
            let conn = setup::open_db(&db)?;
            let r = super::report::build(&conn, now_ns(), secs)?;
            match a.format.as_str() {
                "json" => outln!("{}", serde_json::to_string_pretty(&r)?),
                "text" => out!("{}", super::report::text(&r)),
                f => bail!("--format {f:?}: expected text or json"),
            }
            Ok(())
        }
        RespondCmd::Export { format, .. } => {
            if format != "json" {
                bail!("--format {format:?}: only json is supported");
            }
            let conn = setup::open_db(&db)?;
            outln!("{}", super::report::export(&conn)?);
            Ok(())
        }
    }
}

fn block(a: &BlockArgs, config: &Config) -> anyhow::Result<()> {
    let secs = a
        .for_duration
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--for: {e}"))?;
    if secs == Some(0) {
        bail!(
            "--for 0: a block lasts at least 1 s (a 0 s firewall element would never expire); \
             at most [response] max_block_secs = {} s",
            config.response.max_block_secs
        );
    }
    let confirm_within = match a.confirm_within.as_deref() {
        Some(w) => parse_duration(w).map_err(|e| anyhow::anyhow!("--confirm-within: {e}"))?,
        None => config.response.confirm_within_secs,
    };
    let kind = if a.rate_limit {
        ActionKind::RateLimit
    } else if a.quarantine {
        ActionKind::Quarantine
    } else {
        ActionKind::Block
    };
    let mut e = if a.dry_run {
        let mut c = config.clone();
        c.response.dry_run = true;
        setup::enforcer(&c, &config.storage.db_path)?
    } else {
        setup::enforcer(config, &config.storage.db_path)?
    };
    let req = Request {
        kind,
        addr: a.addr,
        secs,
        actor: "cli".into(),
        reason: a.reason.clone(),
        incident_id: a.incident,
        alert_id: None,
        confirm_within: (confirm_within > 0).then_some(confirm_within),
    };
    let d = e.apply(&req, now_ns(), 0);
    report_decision(&d)
}

fn report_decision(d: &Decision) -> anyhow::Result<()> {
    for c in &d.commands {
        outln!(
            "{}{c}",
            if d.outcome == audit::Outcome::DryRun {
                "would run: "
            } else {
                "ran: "
            }
        );
    }
    if !d.write_errors.is_empty() {
        bail!(
            "{} ({}); {} record write(s) failed",
            d.message,
            d.outcome.as_str(),
            d.write_errors.len()
        )
    } else if d.outcome.carried_out() {
        outln!("{}", d.message);
        Ok(())
    } else {
        bail!("{} ({})", d.message, d.outcome.as_str())
    }
}

/// Err when a write to the audit trail or the blocks table failed (e.g. while expiring).
fn writes_ok(e: &crate::respond::enforcer::Enforcer) -> anyhow::Result<()> {
    match e.write_failures() {
        0 => Ok(()),
        n => bail!("{n} audit-trail or blocks-table write(s) failed; those records are lost"),
    }
}

fn blocks(cmd: BlocksCmd, config: &Config) -> anyhow::Result<()> {
    let mut e = setup::enforcer(config, &config.storage.db_path)?;
    let now = now_ns();
    match cmd {
        BlocksCmd::List { format } => {
            e.expire(now);
            let l = e.list(now);
            if format == "json" {
                outln!("{}", serde_json::to_string_pretty(&l)?);
                return Ok(());
            }
            outln!(
                "{:<40} {:<11} {:>9} {:>7}  reason",
                "address",
                "kind",
                "left (s)",
                "offense"
            );
            for b in &l.recorded {
                let left = b.secs_left(now).map_or("-".to_string(), |s| s.to_string());
                let waiting = if b.awaiting_confirmation() {
                    " [awaiting confirmation, else rolls back]"
                } else {
                    ""
                };
                outln!(
                    "{:<40} {:<11} {left:>9} {:>7}  {}{waiting}",
                    printable(&b.addr),
                    printable(&b.kind),
                    b.offense,
                    printable(&b.reason)
                );
            }
            match &l.live {
                Some(live) => outln!("firewall holds {} element(s)", live.len()),
                None => outln!("(dry run: the firewall was not read)"),
            }
            writes_ok(&e)
        }
        BlocksCmd::Flush => report_decision(&e.flush("cli", now)),
        BlocksCmd::Reconcile => {
            let r = e.reconcile(now);
            outln!(
                "re-applied {} block(s), ended {} expired, {} failed",
                r.reapplied.len(),
                r.expired,
                r.failed.len()
            );
            for (ip, why) in &r.failed {
                eprintln!("  {ip}: {why}");
            }
            if r.failed.is_empty() {
                writes_ok(&e)
            } else {
                bail!("reconcile failed for {} block(s)", r.failed.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert!(parse_duration("1w").unwrap_err().contains("\"1w\""));
    }
}
