//! What pressing `b` would do: the exact firewall command (as an argument list), its expiry,
//! and whether the guard refuses the address, with the reason.
//!
//! The verdict is the enforcer's own guard (`respond::safety::Guard`, built by
//! `safety::for_config` from `[response] allowlist` and `allow_private`), its SSH peers re-read
//! with `ss` when the dialog opens (one short command per key press, never per packet). Called
//! on the UI thread to fill the confirm dialog; the block itself runs elsewhere, through a
//! `Responder`, whose enforcer asks the same guard again.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::config::FirewallType;
use crate::respond::exec::Runner;
use crate::respond::safety::Guard;

/// Runs `ss` to refresh the guard's SSH peers when a block is planned; none in tests.
#[derive(Clone, Default)]
pub struct SessionProbe(pub Option<Arc<Mutex<Box<dyn Runner>>>>);

impl SessionProbe {
    /// A probe that runs the system's `ss`, for at most 2 s: it runs on the console's UI
    /// thread when `b` opens the dialog (a probe that fails keeps the peers found at start).
    pub fn system() -> SessionProbe {
        SessionProbe(Some(Arc::new(Mutex::new(Box::new(
            crate::respond::exec::SystemRunner {
                timeout: std::time::Duration::from_secs(2),
            },
        )))))
    }
}

impl std::fmt::Debug for SessionProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "SessionProbe(ss)"
        } else {
            "SessionProbe(none)"
        })
    }
}

impl PartialEq for SessionProbe {
    fn eq(&self, other: &Self) -> bool {
        self.0.is_some() == other.0.is_some()
    }
}
impl Eq for SessionProbe {}

/// A planned block, as the confirm dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPlan {
    pub addr: IpAddr,
    pub argv: Vec<String>,
    pub timeout_secs: u64,
    /// Whether a repeat offender gets longer than `timeout_secs` (escalation factor above 1).
    pub escalates: bool,
    pub dry_run: bool,
    /// `Some(reason)` when the guard refuses the address.
    pub refused: Option<String>,
    pub reason: String,
    /// The incident the block is for (its one id, as stored and as listed).
    pub incident: Option<u64>,
}

impl BlockPlan {
    pub fn command_line(&self) -> String {
        self.argv.join(" && ")
    }
}

/// The commands the configured firewall backend runs to block `addr` for `timeout_secs`,
/// one line each; a script fed on standard input follows `<<<` with its lines joined by `; `.
/// Built by the same code that executes them, so the dialog shows exactly what will run.
pub fn block_command(fw: FirewallType, addr: IpAddr, timeout_secs: u64) -> Vec<String> {
    let backend = crate::respond::fw::backend(fw, &crate::respond::fw::FwOptions::default());
    match backend.add(crate::respond::fw::ActionKind::Block, addr, timeout_secs) {
        Ok(cmds) => cmds
            .iter()
            .map(|c| match &c.stdin {
                Some(script) => {
                    let lines: Vec<&str> =
                        script.lines().filter(|l| !l.trim().is_empty()).collect();
                    format!("{} <<< '{}'", c.argv.join(" "), lines.join("; "))
                }
                None => c.argv.join(" "),
            })
            .collect(),
        Err(e) => vec![format!("(not supported: {e:?})")],
    }
}

/// Everything needed to plan a block, from the configuration and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSettings {
    pub firewall: FirewallType,
    /// The first block's duration (`[actions] default_action_timeout`).
    pub timeout_secs: u64,
    /// Repeat offenders get `timeout × factor^(n−1)` (`[response] escalation_factor`), as
    /// every block; the enforcer computes the actual duration.
    pub escalation_factor: u32,
    pub dry_run: bool,
    /// The enforcer's guard (see `respond::safety`).
    pub guard: Guard,
    pub probe: SessionProbe,
}

impl Default for BlockSettings {
    fn default() -> Self {
        Self {
            firewall: FirewallType::Nftables,
            timeout_secs: 3600,
            escalation_factor: 2,
            dry_run: true,
            guard: Guard::default(),
            probe: SessionProbe::default(),
        }
    }
}

impl BlockSettings {
    /// Block settings from the configuration and this machine: the enforcer's guard
    /// (`respond::safety::for_config`), whose SSH peers are re-read whenever a block is planned.
    pub fn from_config(
        c: &crate::config::Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> BlockSettings {
        BlockSettings {
            firewall: c.actions.firewall_type,
            // The enforcer never blocks longer than max_block_secs; the dialog says the same.
            timeout_secs: c
                .actions
                .default_action_timeout
                .min(c.response.max_block_secs),
            escalation_factor: c.response.escalation_factor,
            dry_run: c.response.dry_run,
            guard: crate::respond::safety::for_config(c, env),
            probe: SessionProbe::system(),
        }
    }

    /// Why the guard refuses `addr` now (SSH peers re-read first), or `None`.
    pub fn verdict(&self, addr: IpAddr) -> Option<String> {
        match &self.probe.0 {
            Some(p) => {
                let mut g = self.guard.clone();
                match p.lock() {
                    Ok(mut r) => g.refresh_sessions(r.as_mut()),
                    Err(poisoned) => g.refresh_sessions(poisoned.into_inner().as_mut()),
                }
                g.verdict(addr)
            }
            None => self.guard.verdict(addr),
        }
    }

    pub fn plan(&self, addr: IpAddr, reason: String, incident: Option<u64>) -> BlockPlan {
        // An IPv4-mapped address is planned (and shown) as the IPv4 address it carries.
        let addr = addr.to_canonical();
        BlockPlan {
            addr,
            argv: block_command(self.firewall, addr, self.timeout_secs),
            timeout_secs: self.timeout_secs,
            escalates: self.escalation_factor > 1,
            dry_run: self.dry_run,
            refused: self.verdict(addr),
            reason,
            incident,
        }
    }
}
