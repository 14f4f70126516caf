//! Builds an `Enforcer` from the configuration at the IO edge: opens (and migrates) the
//! database, discovers the never-block addresses, picks the backend and the real or dry-run
//! command runner.
//!
//! Called once on the thread that will own the enforcer.

use std::net::IpAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use super::enforcer::{Enforcer, EnforcerSettings};
use super::exec::{DryRunner, Runner, SystemRunner};
use super::fw::{self, FwOptions};
use super::limits::Caps;
use super::safety;
use crate::config::Config;

/// Wall-clock nanoseconds since the epoch (response bookkeeping only; never detection).
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Opens the database for response bookkeeping (WAL, migrated, 5 s busy time-out).
pub fn open_db(path: &Path) -> anyhow::Result<Connection> {
    Ok(crate::store::sqlite::open_side(path)?)
}

/// Settings of the enforcer from `[response]` and `[actions]`.
pub fn settings(c: &Config) -> EnforcerSettings {
    let r = &c.response;
    EnforcerSettings {
        default_secs: c.actions.default_action_timeout,
        escalation_factor: r.escalation_factor,
        max_secs: r.max_block_secs,
        caps: Caps {
            per_minute: r.max_actions_per_minute,
            max_concurrent: r.max_concurrent_actions,
            max_active_blocks: r.max_active_blocks,
            cooldown_secs: i64::try_from(r.breaker_cooldown_secs).unwrap_or(i64::MAX),
        },
        keep_on_exit: r.keep_blocks_on_exit,
    }
}

/// Checks the response settings that the config loader does not know how to read.
pub fn validate(c: &Config) -> anyhow::Result<()> {
    super::policy::parse(&c.response.policy).map_err(anyhow::Error::msg)?;
    for (field, list) in [
        ("allowlist", &c.response.allowlist),
        ("management_addresses", &c.response.management_addresses),
    ] {
        for (i, e) in list.iter().enumerate() {
            if safety::parse_cidr(e).is_none() {
                anyhow::bail!("[response] {field}[{i}] = {e:?}: not an address or CIDR range");
            }
        }
    }
    if fw::rate_bytes_per_sec(&c.actions.bandwidth_limit).is_none() {
        anyhow::bail!(
            "[actions] bandwidth_limit = {:?}: expected a rate like 1mbit or 500kbit",
            c.actions.bandwidth_limit
        );
    }
    Ok(())
}

/// The enforcer for `config`, writing to the database at `db`.
pub fn enforcer(config: &Config, db: &Path) -> anyhow::Result<Enforcer> {
    validate(config)?;
    let conn = open_db(db)?;
    let r = &config.response;
    let management: Vec<IpAddr> = r
        .management_addresses
        .iter()
        .filter_map(|m| safety::parse_cidr(m).map(|(a, _)| a))
        .collect();
    let opts = FwOptions {
        management,
        rate: config.actions.bandwidth_limit.clone(),
    };
    let backend = fw::backend(config.actions.firewall_type, &opts);
    let env = |k: &str| std::env::var(k).ok();
    let guard = safety::for_config(config, &env);
    let runner: Box<dyn Runner> = if r.dry_run {
        Box::new(DryRunner::default())
    } else {
        Box::new(SystemRunner::default())
    };
    // The SSH peers are re-read before every action, by a runner that really runs `ss`.
    Ok(
        Enforcer::new(backend, runner, guard, conn, settings(config))
            .with_probe(Box::new(SystemRunner::default())),
    )
}
