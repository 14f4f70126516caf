//! The iptables + ipset backend, for hosts without nftables: two `hash:ip` sets with
//! per-entry timeouts (`nsm_tui4`, `nsm_tui6`) and one DROP rule per set in INPUT and FORWARD.
//! Only blocking is offered; quarantine and rate limits need the nftables backend.
//!
//! Pure command building and parsing; called on the thread that carries out a response.

use std::net::IpAddr;

use super::{ActionKind, Cmd, Firewall, FwOptions, Listed, Step, Unsupported};
use crate::config::FirewallType;

pub const SET4: &str = "nsm_tui4";
pub const SET6: &str = "nsm_tui6";

pub struct Ipset;

impl Ipset {
    pub fn new(_opts: &FwOptions) -> Ipset {
        Ipset
    }
}

fn set_for(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() {
        SET4
    } else {
        SET6
    }
}

fn only_block(kind: ActionKind) -> Result<(), Unsupported> {
    match kind {
        ActionKind::Block => Ok(()),
        ActionKind::RateLimit => Err(Unsupported {
            backend: "iptables",
            what: "rate-limit a host (use firewall_type = \"nftables\")",
        }),
        ActionKind::Quarantine => Err(Unsupported {
            backend: "iptables",
            what: "quarantine a host (use firewall_type = \"nftables\")",
        }),
    }
}

/// The DROP rule of `set` in `chain`, for `-C` (check), `-I` (insert) or `-D` (delete).
fn rule(op: &str, chain: &str, set: &str) -> Cmd {
    let tool = if set == SET6 { "ip6tables" } else { "iptables" };
    Cmd::new(&[
        tool,
        "-w",
        op,
        chain,
        "-m",
        "set",
        "--match-set",
        set,
        "src",
        "-j",
        "DROP",
    ])
}

impl Firewall for Ipset {
    fn kind(&self) -> FirewallType {
        FirewallType::Iptables
    }

    fn native_expiry(&self) -> bool {
        true
    }

    fn setup(&self) -> Vec<Step> {
        let mut steps = vec![
            Step {
                check: None,
                apply: Cmd::new(&["ipset", "create", SET4, "hash:ip", "timeout", "0", "-exist"]),
            },
            Step {
                check: None,
                apply: Cmd::new(&[
                    "ipset", "create", SET6, "hash:ip", "family", "inet6", "timeout", "0", "-exist",
                ]),
            },
        ];
        for set in [SET4, SET6] {
            for chain in ["INPUT", "FORWARD"] {
                steps.push(Step {
                    check: Some(rule("-C", chain, set)),
                    apply: rule("-I", chain, set),
                });
            }
        }
        steps
    }

    fn add(&self, kind: ActionKind, addr: IpAddr, secs: u64) -> Result<Vec<Cmd>, Unsupported> {
        only_block(kind)?;
        let a = addr.to_string();
        let t = secs.to_string();
        // -exist re-adds with the new timeout when the address is already there.
        Ok(vec![Cmd::new(&[
            "ipset",
            "add",
            set_for(addr),
            &a,
            "timeout",
            &t,
            "-exist",
        ])])
    }

    fn remove(&self, kind: ActionKind, addr: IpAddr) -> Result<Vec<Cmd>, Unsupported> {
        only_block(kind)?;
        let a = addr.to_string();
        Ok(vec![Cmd::new(&[
            "ipset",
            "del",
            set_for(addr),
            &a,
            "-exist",
        ])])
    }

    fn list(&self) -> Vec<Cmd> {
        [SET4, SET6]
            .iter()
            .map(|s| Cmd::new(&["ipset", "save", s]))
            .collect()
    }

    fn parse_list(&self, outputs: &[String]) -> Vec<Listed> {
        outputs
            .iter()
            .flat_map(|o| o.lines())
            .filter_map(parse_save_line)
            .collect()
    }

    fn read_back(&self, _kind: ActionKind, addr: IpAddr) -> Cmd {
        Cmd::new(&["ipset", "save", set_for(addr)])
    }

    fn parse_read_back(&self, _kind: ActionKind, output: &str) -> Vec<IpAddr> {
        output
            .lines()
            .filter_map(parse_save_line)
            .map(|l| l.addr)
            .collect()
    }

    fn flush(&self) -> Vec<Cmd> {
        [SET4, SET6]
            .iter()
            .map(|s| Cmd::new(&["ipset", "flush", s]))
            .collect()
    }

    fn teardown(&self) -> Vec<Cmd> {
        let mut v = Vec::new();
        for set in [SET4, SET6] {
            for chain in ["INPUT", "FORWARD"] {
                v.push(rule("-D", chain, set));
            }
        }
        v.push(Cmd::new(&["ipset", "destroy", SET4]));
        v.push(Cmd::new(&["ipset", "destroy", SET6]));
        v
    }
}

/// One `add SET ADDR [timeout N]` line of `ipset save`.
fn parse_save_line(line: &str) -> Option<Listed> {
    let mut w = line.split_whitespace();
    if w.next()? != "add" {
        return None;
    }
    let set = w.next()?;
    if set != SET4 && set != SET6 {
        return None;
    }
    let addr: IpAddr = w.next()?.parse().ok()?;
    let mut expires_in = None;
    while let Some(k) = w.next() {
        if k == "timeout" {
            expires_in = w.next().and_then(|t| t.parse().ok());
        }
    }
    Some(Listed {
        kind: ActionKind::Block,
        addr,
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_parsing() {
        let b = Ipset::new(&FwOptions::default());
        let add = b
            .add(ActionKind::Block, "198.51.100.3".parse().unwrap(), 30)
            .unwrap();
        assert_eq!(
            add[0].argv.join(" "),
            "ipset add nsm_tui4 198.51.100.3 timeout 30 -exist"
        );
        assert!(b
            .add(ActionKind::Quarantine, "198.51.100.3".parse().unwrap(), 30)
            .is_err());
        let steps = b.setup();
        assert_eq!(
            steps[2].apply.argv.join(" "),
            "iptables -w -I INPUT -m set --match-set nsm_tui4 src -j DROP"
        );
        let save = "create nsm_tui4 hash:ip family inet hashsize 1024 maxelem 65536 timeout 0\nadd nsm_tui4 198.51.100.3 timeout 27\n".to_string();
        let got = b.parse_list(&[save]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].expires_in, Some(27));
    }
}
