//! The nftables backend: nsm-tui's own table `inet nsm_tui` with timeout sets for blocked,
//! quarantined and rate-limited hosts (IPv4 and IPv6), and filter chains hooked on input,
//! forward and output at priority -10 that consult them. The kernel expires elements on its
//! own, so a block ends on time even when nsm-tui is gone.
//!
//! Pure command building and JSON parsing; called on the thread that carries out a response.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{rate_bytes_per_sec, ActionKind, Cmd, Firewall, FwOptions, Listed, Step, Unsupported};
use crate::config::FirewallType;

pub const TABLE: &str = "nsm_tui";
pub const FAMILY: &str = "inet";

/// The set holding addresses of `kind` for one address family.
pub fn set_name(kind: ActionKind, v4: bool) -> &'static str {
    match (kind, v4) {
        (ActionKind::Block, true) => "block4",
        (ActionKind::Block, false) => "block6",
        (ActionKind::Quarantine, true) => "quar4",
        (ActionKind::Quarantine, false) => "quar6",
        (ActionKind::RateLimit, true) => "limit4",
        (ActionKind::RateLimit, false) => "limit6",
    }
}

const HOOKS: [&str; 3] = ["input", "forward", "output"];

const MANAGED: [(ActionKind, bool); 6] = [
    (ActionKind::Block, true),
    (ActionKind::Block, false),
    (ActionKind::Quarantine, true),
    (ActionKind::Quarantine, false),
    (ActionKind::RateLimit, true),
    (ActionKind::RateLimit, false),
];

pub struct Nft {
    management: Vec<IpAddr>,
    bytes_per_sec: u64,
}

impl Nft {
    pub fn new(opts: &FwOptions) -> Nft {
        Nft {
            management: opts.management.clone(),
            bytes_per_sec: rate_bytes_per_sec(&opts.rate).unwrap_or(125_000),
        }
    }

    /// The whole table as one nft script, loaded in a single transaction. Safe to load again
    /// over a table that exists: sets keep their elements, while the chains' rules, the
    /// management addresses and the rate meters are replaced, so a changed `bandwidth_limit` or
    /// `management_addresses` takes effect at the next start.
    pub fn table_script(&self) -> String {
        let mut s = format!("table {FAMILY} {TABLE} {{\n");
        for (kind, v4) in MANAGED {
            let ty = if v4 { "ipv4_addr" } else { "ipv6_addr" };
            let _ = writeln!(
                s,
                "\tset {} {{ type {ty}; flags timeout; }}",
                set_name(kind, v4)
            );
        }
        for (name, ty) in [("mgmt4", "ipv4_addr"), ("mgmt6", "ipv6_addr")] {
            let _ = writeln!(s, "\tset {name} {{ type {ty}; }}");
        }
        // Per-host meters: each limited host gets its own token bucket.
        for (name, ty) in [("meter4", "ipv4_addr"), ("meter6", "ipv6_addr")] {
            let _ = writeln!(
                s,
                "\tset {name} {{ type {ty}; flags dynamic,timeout; timeout 1m; }}"
            );
        }
        for hook in HOOKS {
            let _ = writeln!(
                s,
                "\tchain {hook} {{ type filter hook {hook} priority -10; policy accept; }}"
            );
        }
        s.push_str("}\n");
        for set in ["mgmt4", "mgmt6", "meter4", "meter6"] {
            let _ = writeln!(s, "flush set {FAMILY} {TABLE} {set}");
        }
        for (name, v4) in [("mgmt4", true), ("mgmt6", false)] {
            let elems: Vec<String> = self
                .management
                .iter()
                .filter(|a| a.is_ipv4() == v4)
                .map(ToString::to_string)
                .collect();
            if !elems.is_empty() {
                let _ = writeln!(
                    s,
                    "add element {FAMILY} {TABLE} {name} {{ {} }}",
                    elems.join(", ")
                );
            }
        }
        for hook in HOOKS {
            let _ = writeln!(s, "flush chain {FAMILY} {TABLE} {hook}");
            for rule in self.rules(hook) {
                let _ = writeln!(s, "add rule {FAMILY} {TABLE} {hook} {rule}");
            }
        }
        s
    }

    fn rules(&self, hook: &str) -> Vec<String> {
        let rate = self.bytes_per_sec;
        let mut r = Vec::new();
        for (ip, sfx) in [("ip", "4"), ("ip6", "6")] {
            if hook != "output" {
                r.push(format!("{ip} saddr @block{sfx} counter drop"));
                r.push(format!(
                    "{ip} saddr @quar{sfx} {ip} daddr != @mgmt{sfx} counter drop"
                ));
                r.push(format!(
                    "{ip} saddr @limit{sfx} update @meter{sfx} {{ {ip} saddr limit rate over {rate} bytes/second }} counter drop"
                ));
            }
            if hook != "input" {
                r.push(format!(
                    "{ip} daddr @quar{sfx} {ip} saddr != @mgmt{sfx} counter drop"
                ));
            }
        }
        r
    }
}

fn nft(args: &[&str]) -> Cmd {
    let mut argv = vec!["nft"];
    argv.extend_from_slice(args);
    Cmd::new(&argv)
}

impl Firewall for Nft {
    fn kind(&self) -> FirewallType {
        FirewallType::Nftables
    }

    fn native_expiry(&self) -> bool {
        true
    }

    fn setup(&self) -> Vec<Step> {
        // No check: the script is idempotent, and loading it always brings the rules in line
        // with the configuration.
        vec![Step {
            check: None,
            apply: nft(&["-f", "-"]).with_stdin(self.table_script()),
        }]
    }

    fn add(&self, kind: ActionKind, addr: IpAddr, secs: u64) -> Result<Vec<Cmd>, Unsupported> {
        let set = set_name(kind, addr.is_ipv4());
        let a = addr.to_string();
        let elem_t = if secs > 0 {
            format!("{a} timeout {secs}s")
        } else {
            a.clone()
        };
        // add + delete + add in one transaction: a fresh timeout whether or not the
        // address was already there, and no error either way.
        let line = format!(
            "add element {FAMILY} {TABLE} {set} {{ {a} }}\ndelete element {FAMILY} {TABLE} {set} {{ {a} }}\nadd element {FAMILY} {TABLE} {set} {{ {elem_t} }}\n"
        );
        Ok(vec![nft(&["-f", "-"]).with_stdin(line)])
    }

    fn remove(&self, kind: ActionKind, addr: IpAddr) -> Result<Vec<Cmd>, Unsupported> {
        let set = set_name(kind, addr.is_ipv4());
        let a = addr.to_string();
        Ok(vec![nft(&[
            "delete", "element", FAMILY, TABLE, set, "{", &a, "}",
        ])])
    }

    fn list(&self) -> Vec<Cmd> {
        MANAGED
            .iter()
            .map(|(k, v4)| nft(&["-j", "list", "set", FAMILY, TABLE, set_name(*k, *v4)]))
            .collect()
    }

    fn parse_list(&self, outputs: &[String]) -> Vec<Listed> {
        outputs
            .iter()
            .zip(MANAGED)
            .flat_map(|(out, (kind, _))| {
                parse_set_json(out)
                    .into_iter()
                    .map(move |(addr, expires_in)| Listed {
                        kind,
                        addr,
                        expires_in,
                    })
            })
            .collect()
    }

    fn read_back(&self, kind: ActionKind, addr: IpAddr) -> Cmd {
        nft(&[
            "-j",
            "list",
            "set",
            FAMILY,
            TABLE,
            set_name(kind, addr.is_ipv4()),
        ])
    }

    fn parse_read_back(&self, _kind: ActionKind, output: &str) -> Vec<IpAddr> {
        parse_set_json(output).into_iter().map(|(a, _)| a).collect()
    }

    fn flush(&self) -> Vec<Cmd> {
        MANAGED
            .iter()
            .map(|(k, v4)| nft(&["flush", "set", FAMILY, TABLE, set_name(*k, *v4)]))
            .collect()
    }

    fn teardown(&self) -> Vec<Cmd> {
        vec![nft(&["delete", "table", FAMILY, TABLE])]
    }
}

/// The elements of `nft -j list set …` output: address and seconds left (when it has a timeout).
pub fn parse_set_json(text: &str) -> Vec<(IpAddr, Option<u64>)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let Some(items) = v.get("nftables").and_then(|n| n.as_array()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(elems) = item.pointer("/set/elem").and_then(|e| e.as_array()) else {
            continue;
        };
        for e in elems {
            // Plain elements are strings; elements with a timeout are {"elem": {"val": …}}.
            let (val, expires) = match e {
                serde_json::Value::String(s) => (Some(s.as_str()), None),
                other => (
                    other.pointer("/elem/val").and_then(|x| x.as_str()),
                    other
                        .pointer("/elem/expires")
                        .and_then(serde_json::Value::as_u64),
                ),
            };
            if let Some(addr) = val.and_then(|s| s.parse().ok()) {
                out.push((addr, expires));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_is_one_transaction_with_a_timeout() {
        let n = Nft::new(&FwOptions::default());
        let cmds = n
            .add(ActionKind::Block, "203.0.113.9".parse().unwrap(), 90)
            .unwrap();
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].argv, ["nft", "-f", "-"]);
        let script = cmds[0].stdin.as_deref().unwrap();
        assert!(script.ends_with("add element inet nsm_tui block4 { 203.0.113.9 timeout 90s }\n"));
        let v6 = n
            .remove(ActionKind::Block, "2001:db8::1".parse().unwrap())
            .unwrap();
        assert_eq!(
            v6[0].argv.join(" "),
            "nft delete element inet nsm_tui block6 { 2001:db8::1 }"
        );
    }

    #[test]
    fn table_hooks_input_and_forward_and_exempts_management() {
        let n = Nft::new(&FwOptions {
            management: vec!["192.0.2.10".parse().unwrap()],
            rate: "1mbit".into(),
        });
        let s = n.table_script();
        assert!(s.contains("type filter hook input priority -10; policy accept;"));
        assert!(s.contains("type filter hook forward priority -10; policy accept;"));
        assert!(s.contains("set block4 { type ipv4_addr; flags timeout; }"));
        assert!(s.contains("set mgmt4 { type ipv4_addr; }"));
        assert!(s.contains("add element inet nsm_tui mgmt4 { 192.0.2.10 }"));
        assert!(s.contains("limit rate over 125000 bytes/second"));
        // Loading it again replaces the rules instead of adding a second copy.
        let flush = s.find("flush chain inet nsm_tui input").unwrap();
        let rule = s
            .find("add rule inet nsm_tui input ip saddr @block4")
            .unwrap();
        assert!(flush < rule);
    }

    #[test]
    fn parses_plain_and_timed_elements() {
        let j = r#"{"nftables":[{"metainfo":{"version":"1.0.6"}},{"set":{"family":"inet","name":"block4","table":"nsm_tui","type":"ipv4_addr","flags":["timeout"],"elem":[{"elem":{"val":"198.51.100.7","timeout":60,"expires":57}},"198.51.100.8"]}}]}"#;
        let got = parse_set_json(j);
        assert_eq!(
            got,
            vec![
                ("198.51.100.7".parse().unwrap(), Some(57)),
                ("198.51.100.8".parse().unwrap(), None)
            ]
        );
        assert!(parse_set_json("not json").is_empty());
    }
}
