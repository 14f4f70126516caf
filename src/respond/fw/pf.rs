//! The pf backend (macOS and the BSDs): anchor `nsm_tui` with table `<nsm_tui_block>` and
//! block rules both ways. pf tables have no per-entry timeout, so expiry is enforced by
//! nsm-tui's own sweep over the blocks it recorded. Only command building is tested here.
//!
//! Pure; called on the thread that carries out a response.

use std::net::IpAddr;

use super::{ActionKind, Cmd, Firewall, FwOptions, Listed, Step, Unsupported};
use crate::config::FirewallType;

pub const ANCHOR: &str = "nsm_tui";
pub const TABLE: &str = "nsm_tui_block";

pub struct Pf;

impl Pf {
    pub fn new(_opts: &FwOptions) -> Pf {
        Pf
    }
}

fn pfctl_table(op: &str, addr: Option<IpAddr>) -> Cmd {
    let mut argv: Vec<String> = ["pfctl", "-a", ANCHOR, "-t", TABLE, "-T", op]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    if let Some(a) = addr {
        argv.push(a.to_string());
    }
    Cmd { argv, stdin: None }
}

fn only_block(kind: ActionKind) -> Result<(), Unsupported> {
    if kind == ActionKind::Block {
        Ok(())
    } else {
        Err(Unsupported {
            backend: "pf",
            what: "rate-limit or quarantine a host",
        })
    }
}

impl Firewall for Pf {
    fn kind(&self) -> FirewallType {
        FirewallType::Pf
    }

    fn native_expiry(&self) -> bool {
        false
    }

    fn setup(&self) -> Vec<Step> {
        let rules = format!(
            "table <{TABLE}> persist\nblock drop quick from <{TABLE}> to any\nblock drop quick from any to <{TABLE}>\n"
        );
        vec![Step {
            check: None,
            apply: Cmd::new(&["pfctl", "-a", ANCHOR, "-f", "-"]).with_stdin(rules),
        }]
    }

    fn add(&self, kind: ActionKind, addr: IpAddr, _secs: u64) -> Result<Vec<Cmd>, Unsupported> {
        only_block(kind)?;
        Ok(vec![pfctl_table("add", Some(addr))])
    }

    fn remove(&self, kind: ActionKind, addr: IpAddr) -> Result<Vec<Cmd>, Unsupported> {
        only_block(kind)?;
        Ok(vec![pfctl_table("delete", Some(addr))])
    }

    fn list(&self) -> Vec<Cmd> {
        vec![pfctl_table("show", None)]
    }

    fn parse_list(&self, outputs: &[String]) -> Vec<Listed> {
        outputs
            .iter()
            .flat_map(|o| o.lines())
            .filter_map(|l| l.trim().parse().ok())
            .map(|addr| Listed {
                kind: ActionKind::Block,
                addr,
                expires_in: None,
            })
            .collect()
    }

    fn read_back(&self, _kind: ActionKind, _addr: IpAddr) -> Cmd {
        pfctl_table("show", None)
    }

    fn parse_read_back(&self, _kind: ActionKind, output: &str) -> Vec<IpAddr> {
        output
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    fn flush(&self) -> Vec<Cmd> {
        vec![pfctl_table("flush", None)]
    }

    fn teardown(&self) -> Vec<Cmd> {
        vec![
            pfctl_table("kill", None),
            Cmd::new(&["pfctl", "-a", ANCHOR, "-F", "rules"]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let p = Pf::new(&FwOptions::default());
        let a = p
            .add(ActionKind::Block, "203.0.113.5".parse().unwrap(), 60)
            .unwrap();
        assert_eq!(
            a[0].argv.join(" "),
            "pfctl -a nsm_tui -t nsm_tui_block -T add 203.0.113.5"
        );
        assert!(!p.native_expiry());
        let s = &p.setup()[0].apply;
        assert!(s
            .stdin
            .as_deref()
            .unwrap()
            .contains("block drop quick from <nsm_tui_block>"));
        let listed = p.parse_list(&["   203.0.113.5\n   2001:db8::2\n".into()]);
        assert_eq!(listed.len(), 2);
    }
}
