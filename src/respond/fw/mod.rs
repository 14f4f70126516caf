//! Firewall backends as pure command builders: each backend turns "block this address for
//! N seconds" (and unblock, list, flush, rate limit, quarantine) into argument lists, and
//! parses what its list command prints. Nothing here runs a process; `respond::exec` does.
//!
//! Called on whichever thread carries out a response (the CLI's main thread, the response
//! worker, the console's effect thread).

pub mod ipset;
pub mod nft;
pub mod pf;

use std::net::IpAddr;

use crate::config::FirewallType;

/// One command: the program and its arguments (never a shell line), and what to feed on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub stdin: Option<String>,
}

impl Cmd {
    pub fn new<S: AsRef<str>>(args: &[S]) -> Cmd {
        Cmd {
            argv: args.iter().map(|a| a.as_ref().to_string()).collect(),
            stdin: None,
        }
    }

    #[must_use]
    pub fn with_stdin(mut self, text: String) -> Cmd {
        self.stdin = Some(text);
        self
    }

    /// The command as a person would type it (for the audit trail); stdin is shown after `<<`.
    pub fn display(&self) -> String {
        let mut s = self.argv.join(" ");
        if let Some(input) = &self.stdin {
            s.push_str(" <<'EOF'\n");
            s.push_str(input);
            s.push_str("EOF");
        }
        s
    }
}

/// A setup step: `apply` runs only when `check` fails (or when there is no check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub check: Option<Cmd>,
    pub apply: Cmd,
}

/// What the firewall can be asked to do to one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Block,
    RateLimit,
    Quarantine,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Block => "block",
            ActionKind::RateLimit => "rate_limit",
            ActionKind::Quarantine => "quarantine",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        [
            ActionKind::Block,
            ActionKind::RateLimit,
            ActionKind::Quarantine,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An address the firewall currently holds, with the seconds it has left when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub kind: ActionKind,
    pub addr: IpAddr,
    pub expires_in: Option<u64>,
}

/// A backend cannot do what was asked (e.g. quarantine through ipset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {backend} backend cannot {what}")]
pub struct Unsupported {
    pub backend: &'static str,
    pub what: &'static str,
}

/// Settings every backend needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwOptions {
    /// Addresses that may still talk to a quarantined host.
    pub management: Vec<IpAddr>,
    /// Rate for rate-limited hosts in tc syntax (`1mbit`, `500kbit`).
    pub rate: String,
}

impl Default for FwOptions {
    fn default() -> Self {
        Self {
            management: Vec::new(),
            rate: "1mbit".into(),
        }
    }
}

/// One firewall: every method is pure and returns the commands to run.
pub trait Firewall: Send {
    fn kind(&self) -> FirewallType;
    /// Whether elements expire inside the firewall itself (so a block ends even if nsm-tui dies).
    fn native_expiry(&self) -> bool;
    /// Steps that create the table/sets/chains, each skipped when its check passes.
    fn setup(&self) -> Vec<Step>;
    /// Commands that add `addr` for `secs` seconds (0 = no expiry).
    fn add(&self, kind: ActionKind, addr: IpAddr, secs: u64) -> Result<Vec<Cmd>, Unsupported>;
    /// Whether `add` supports `kind` on this backend.
    fn add_supported(&self, kind: ActionKind) -> bool {
        self.kind() == FirewallType::Nftables || kind == ActionKind::Block
    }
    /// Commands that remove `addr`.
    fn remove(&self, kind: ActionKind, addr: IpAddr) -> Result<Vec<Cmd>, Unsupported>;
    /// Commands whose output `parse_list` reads.
    fn list(&self) -> Vec<Cmd>;
    /// Parses the outputs of `list()` (in the same order).
    fn parse_list(&self, outputs: &[String]) -> Vec<Listed>;
    /// The command that reads back the set holding `addr` for `kind` (to verify an add).
    fn read_back(&self, kind: ActionKind, addr: IpAddr) -> Cmd;
    /// The addresses in the output of `read_back`.
    fn parse_read_back(&self, kind: ActionKind, output: &str) -> Vec<IpAddr>;
    /// Empties every set nsm-tui manages, keeping the rules.
    fn flush(&self) -> Vec<Cmd>;
    /// Removes everything nsm-tui created.
    fn teardown(&self) -> Vec<Cmd>;
}

/// The backend for a configured firewall type.
pub fn backend(kind: FirewallType, opts: &FwOptions) -> Box<dyn Firewall> {
    match kind {
        FirewallType::Nftables => Box::new(nft::Nft::new(opts)),
        FirewallType::Iptables => Box::new(ipset::Ipset::new(opts)),
        FirewallType::Pf => Box::new(pf::Pf::new(opts)),
    }
}

/// Converts a tc-style rate (`1mbit`, `500kbit`, `2gbit`, `800bit`, `100kbps`) to bytes/second.
pub fn rate_bytes_per_sec(rate: &str) -> Option<u64> {
    let r = rate.trim().to_ascii_lowercase();
    let split = r.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = r.split_at(split);
    let n: u64 = num.parse().ok()?;
    let bits: u64 = match unit {
        "bit" => n,
        "kbit" => n.checked_mul(1_000)?,
        "mbit" => n.checked_mul(1_000_000)?,
        "gbit" => n.checked_mul(1_000_000_000)?,
        "bps" => n.checked_mul(8)?,
        "kbps" => n.checked_mul(8_000)?,
        "mbps" => n.checked_mul(8_000_000)?,
        _ => return None,
    };
    Some((bits / 8).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_convert_from_tc_syntax() {
        assert_eq!(rate_bytes_per_sec("1mbit"), Some(125_000));
        assert_eq!(rate_bytes_per_sec("500kbit"), Some(62_500));
        assert_eq!(rate_bytes_per_sec("2kbps"), Some(2_000));
        assert_eq!(rate_bytes_per_sec("fast"), None);
        assert_eq!(rate_bytes_per_sec("10furlongs"), None);
    }

    #[test]
    fn display_shows_stdin() {
        let c = Cmd::new(&["nft", "-f", "-"]).with_stdin("table inet x {}\n".into());
        assert_eq!(c.display(), "nft -f - <<'EOF'\ntable inet x {}\nEOF");
    }
}
