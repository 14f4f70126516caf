//! What pressing `b` would do: the exact firewall command (as an argument list), its expiry,
//! and whether the allowlist refuses the address, with the reason.
//!
//! Pure functions, called on the UI thread to fill the confirm dialog; the command itself
//! runs elsewhere, through a `Responder`.

use std::net::IpAddr;

use crate::config::FirewallType;
use crate::respond::safety::in_range;

/// nftables table and set names the block commands use.
pub const NFT_TABLE: &str = "nsm_tui";
/// ipset set names for iptables.
pub const IPSET_V4: &str = "nsm_tui_block4";
pub const IPSET_V6: &str = "nsm_tui_block6";
/// pf table name.
pub const PF_TABLE: &str = "nsm_tui_block";

/// Addresses the console must never block, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// The SSH client this console is reached from (`SSH_CONNECTION` / `SSH_CLIENT`).
    pub ssh_client: Option<IpAddr>,
    /// Permit loopback, link-local and private addresses.
    pub allow_local: bool,
    /// Configured never-block ranges (address, prefix length).
    pub ranges: Vec<(IpAddr, u8)>,
}

/// The SSH client's address from the environment values of `SSH_CONNECTION` or `SSH_CLIENT`
/// (both start with the client address).
pub fn ssh_client(ssh_connection: Option<&str>, ssh_client: Option<&str>) -> Option<IpAddr> {
    [ssh_connection, ssh_client]
        .into_iter()
        .flatten()
        .find_map(|v| v.split_whitespace().next()?.parse().ok())
}

/// A planned block, as the confirm dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPlan {
    pub addr: IpAddr,
    pub argv: Vec<String>,
    pub timeout_secs: u64,
    pub dry_run: bool,
    /// `Some(reason)` when the allowlist refuses the address.
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

fn local_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) if v.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v) if v.is_private() => Some("a private (RFC 1918) address"),
        IpAddr::V4(v) if v.is_link_local() => Some("a link-local address"),
        IpAddr::V4(v) if v.is_unspecified() || v.is_broadcast() || v.is_multicast() => {
            Some("not a unicast address")
        }
        IpAddr::V6(v) if v.is_loopback() => Some("a loopback address"),
        IpAddr::V6(v) if v.is_unspecified() || v.is_multicast() => Some("not a unicast address"),
        IpAddr::V6(v) if (v.segments()[0] & 0xfe00) == 0xfc00 => {
            Some("a unique-local (private) address")
        }
        IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80 => Some("a link-local address"),
        _ => None,
    }
}

/// Why the allowlist refuses `ip`, or `None` when blocking is allowed.
pub fn verdict(allow: &Allowlist, ip: IpAddr) -> Option<String> {
    if allow.ssh_client == Some(ip) {
        return Some(format!(
            "{ip} is the SSH client this console runs over (SSH_CONNECTION); blocking it would cut you off"
        ));
    }
    if let Some((n, l)) = allow.ranges.iter().find(|(n, l)| in_range(ip, *n, *l)) {
        return Some(format!("{ip} is inside the allowlisted range {n}/{l}"));
    }
    if !allow.allow_local {
        if let Some(kind) = local_kind(ip) {
            return Some(format!(
                "{ip} is {kind}; local addresses are not blocked unless enabled"
            ));
        }
    }
    None
}

/// Everything needed to plan a block, from the configuration and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSettings {
    pub firewall: FirewallType,
    pub timeout_secs: u64,
    pub dry_run: bool,
    pub allow: Allowlist,
}

impl Default for BlockSettings {
    fn default() -> Self {
        Self {
            firewall: FirewallType::Nftables,
            timeout_secs: 3600,
            dry_run: true,
            allow: Allowlist::default(),
        }
    }
}

impl BlockSettings {
    pub fn plan(&self, addr: IpAddr, reason: String, incident: Option<u64>) -> BlockPlan {
        BlockPlan {
            addr,
            argv: block_command(self.firewall, addr, self.timeout_secs),
            timeout_secs: self.timeout_secs,
            dry_run: self.dry_run,
            refused: verdict(&self.allow, addr),
            reason,
            incident,
        }
    }
}
