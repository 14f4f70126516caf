//! Addresses nsm-tui must never block, and why: every established SSH peer of this host, the
//! SSH client of the session, the machine's own addresses, its default gateways, the DNS
//! servers of resolv.conf, configured allowlist ranges, and private/local ranges unless
//! `allow_private` is set. This is the one guard: the console's block dialog, `nsm-tui block`,
//! `reset`, quarantine, rate limit and automatic response all ask it.
//!
//! `Guard::verdict` is pure. `discover` gathers the protected addresses (environment,
//! `ip -j addr`, `ip -j route`, resolv.conf, `ss`) on the thread that builds the responder;
//! `Guard::refresh_sessions` re-reads the SSH peers (`ss`) whenever a block is planned or
//! enforced, never per packet.
//!
//! Why every sshd peer, and not only `SSH_CONNECTION`: the product is run as `sudo nsm-tui`
//! over SSH, and sudo's default `env_reset` drops `SSH_CONNECTION` and `SSH_CLIENT`, so the
//! variables cannot find the administrator. Walking up the process tree to the session's sshd
//! breaks under `su`, tmux and screen (the console's parent is the tmux server, not the
//! session). The kernel's socket table has no such gap: every established TCP connection owned
//! by an `sshd` (or `sshd-session`) process is someone's SSH session on this host, including
//! one opened after nsm-tui started, so all of them are protected. An attacker with a live SSH
//! session is not blockable by address here; that is deliberate (lock them out with sshd, not
//! with a firewall rule that could cut off the administrator too). The variables still count
//! when present (e.g. without sudo).

use std::net::IpAddr;

use super::exec::Runner;
use super::fw::Cmd;

/// One protected range and why it is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    pub net: IpAddr,
    pub prefix: u8,
    pub why: String,
}

/// Everything a block request is checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    pub protected: Vec<Protected>,
    /// Permit private, loopback-free local ranges (RFC 1918, ULA, link-local).
    pub allow_private: bool,
    /// Peers of this host's established SSH sessions (sshd's sockets), as last read.
    pub ssh_peers: Vec<IpAddr>,
}

/// The command that lists established TCP sockets with their owning processes.
pub fn ss_command() -> Cmd {
    Cmd::new(&["ss", "-Htnp", "state", "established"])
}

fn socket_addr(s: &str) -> Option<IpAddr> {
    // `10.0.0.2:51234`, `[2001:db8::1]:22`, `[::ffff:10.0.0.2]:22`, `[fe80::1%eth0]:22`.
    let host = s.rsplit_once(':')?.0;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.split('%').next()?;
    let ip: IpAddr = host.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v) => v.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    })
}

/// Peers of established TCP sockets owned by an sshd process, from `ss -Htnp state
/// established` output (`Recv-Q Send-Q Local:Port Peer:Port users:(("sshd",pid=..,fd=..))`).
/// OpenSSH 9.8 and later name the per-session process `sshd-session`; both count.
///
/// A process that gave up its capabilities (the capture once open) cannot see whose sockets
/// they are: a socket with no process shown counts when its local port is 22, so the guard
/// errs on the side of the administrator.
pub fn sshd_peers(ss_output: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in ss_output.lines() {
        let Some(at) = line.find("users:(") else {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_ssh = cols
                .len()
                .checked_sub(2)
                .and_then(|i| cols.get(i))
                .is_some_and(|c| c.rsplit_once(':').is_some_and(|(_, p)| p == "22"));
            if local_ssh {
                if let Some(ip) = cols.last().and_then(|c| socket_addr(c)) {
                    if !out.contains(&ip) {
                        out.push(ip);
                    }
                }
            }
            continue;
        };
        let users = &line[at..];
        let sshd = users
            .split("((\"")
            .chain(users.split(",(\""))
            .skip(1)
            .any(|p| p.starts_with("sshd\"") || p.starts_with("sshd-"));
        if !sshd {
            continue;
        }
        // The last two address columns before the process column are local and peer.
        let cols: Vec<&str> = line[..at].split_whitespace().collect();
        if let Some(ip) = cols.last().and_then(|c| socket_addr(c)) {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// Parses `ADDR` or `ADDR/LEN`.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = match s.trim().split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s.trim(), None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => l.parse::<u8>().ok().filter(|n| *n <= max)?,
        None => max,
    };
    Some((addr, len))
}

pub fn in_range(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

fn special(ip: IpAddr) -> Option<(&'static str, bool)> {
    // (description, whether `allow_private` lifts the refusal)
    match ip {
        IpAddr::V4(v) if v.is_loopback() => Some(("a loopback address", false)),
        IpAddr::V4(v) if v.is_unspecified() || v.is_broadcast() || v.is_multicast() => {
            Some(("not a unicast address", false))
        }
        IpAddr::V4(v) if v.is_private() => Some(("a private (RFC 1918) address", true)),
        IpAddr::V4(v) if v.is_link_local() => Some(("a link-local address", true)),
        IpAddr::V6(v) if v.is_loopback() => Some(("a loopback address", false)),
        IpAddr::V6(v) if v.is_unspecified() || v.is_multicast() => {
            Some(("not a unicast address", false))
        }
        IpAddr::V6(v) if (v.segments()[0] & 0xfe00) == 0xfc00 => {
            Some(("a unique-local (private) address", true))
        }
        IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80 => {
            Some(("a link-local address", true))
        }
        _ => None,
    }
}

impl Guard {
    pub fn protect(&mut self, net: IpAddr, prefix: u8, why: impl Into<String>) {
        self.protected.push(Protected {
            net,
            prefix,
            why: why.into(),
        });
    }

    /// Re-reads the established SSH peers with `ss` (through `runner`, which must really run
    /// it). A failed read keeps the previous list, so a protected session stays protected.
    pub fn refresh_sessions(&mut self, runner: &mut dyn Runner) {
        let out = runner.run(&ss_command());
        if out.ok() {
            self.ssh_peers = sshd_peers(&out.stdout);
        }
    }

    /// Why `ip` must not be blocked, or `None` when it may be.
    pub fn verdict(&self, ip: IpAddr) -> Option<String> {
        // `::ffff:127.0.0.1` is 127.0.0.1 to the kernel: judge the address it carries.
        let ip = ip.to_canonical();
        if self.ssh_peers.contains(&ip) {
            return Some(format!(
                "{ip} is the peer of an established SSH session to this host (sshd); blocking \
                 it would cut off an administrator"
            ));
        }
        if let Some(p) = self
            .protected
            .iter()
            .find(|p| in_range(ip, p.net, p.prefix))
        {
            return Some(format!("{ip} is {}", p.why));
        }
        match special(ip) {
            Some((kind, false)) => Some(format!("{ip} is {kind}; it is never blocked")),
            Some((kind, true)) if !self.allow_private => Some(format!(
                "{ip} is {kind}; private ranges are blocked only with allow_private = true"
            )),
            _ => None,
        }
    }
}

/// The SSH client address from `SSH_CONNECTION` or `SSH_CLIENT` (both start with it); the
/// environment values, or `None` when unset (as under `sudo`).
pub fn ssh_client(ssh_connection: Option<&str>, ssh_client: Option<&str>) -> Option<IpAddr> {
    [ssh_connection, ssh_client]
        .into_iter()
        .flatten()
        .find_map(|v| v.split_whitespace().next()?.parse().ok())
}

/// Name servers listed in resolv.conf text.
pub fn resolv_nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "nameserver").then_some(())?;
            // Scoped IPv6 servers look like fe80::1%eth0.
            w.next()?.split('%').next()?.parse().ok()
        })
        .collect()
}

/// Local addresses from `ip -j addr show` output.
pub fn ip_addr_json(text: &str) -> Vec<IpAddr> {
    let Ok(serde_json::Value::Array(ifaces)) = serde_json::from_str(text) else {
        return Vec::new();
    };
    ifaces
        .iter()
        .filter_map(|i| i.get("addr_info")?.as_array())
        .flatten()
        .filter_map(|a| a.get("local")?.as_str()?.parse().ok())
        .collect()
}

/// Gateways from `ip -j route show default` output.
pub fn ip_route_gateways(text: &str) -> Vec<IpAddr> {
    let Ok(serde_json::Value::Array(routes)) = serde_json::from_str(text) else {
        return Vec::new();
    };
    routes
        .iter()
        .filter_map(|r| r.get("gateway")?.as_str()?.parse().ok())
        .collect()
}

/// Builds the guard for this machine: environment, interfaces, routes, resolv.conf, plus
/// the configured allowlist. Unparsable allowlist entries are returned as errors by the caller's
/// config validation; here they are skipped.
pub fn discover(
    runner: &mut dyn Runner,
    env: &dyn Fn(&str) -> Option<String>,
    resolv_conf: Option<&str>,
    allowlist: &[String],
    allow_private: bool,
) -> Guard {
    let mut g = Guard {
        protected: Vec::new(),
        allow_private,
        ssh_peers: Vec::new(),
    };
    g.refresh_sessions(runner);
    let conn = env("SSH_CONNECTION");
    let client = env("SSH_CLIENT");
    if let Some(ip) = ssh_client(conn.as_deref(), client.as_deref()) {
        g.protect(
            ip,
            full(ip),
            "the SSH client of this session (SSH_CONNECTION); blocking it would cut you off",
        );
    }
    let out = runner.run(&Cmd::new(&["ip", "-j", "addr", "show"]));
    for ip in ip_addr_json(&out.stdout) {
        g.protect(ip, full(ip), "one of this machine's own addresses");
    }
    for fam in ["-4", "-6"] {
        let out = runner.run(&Cmd::new(&["ip", "-j", fam, "route", "show", "default"]));
        for ip in ip_route_gateways(&out.stdout) {
            g.protect(ip, full(ip), "this machine's default gateway");
        }
    }
    for ip in resolv_conf.map(resolv_nameservers).unwrap_or_default() {
        g.protect(ip, full(ip), "a DNS server in /etc/resolv.conf");
    }
    for entry in allowlist {
        if let Some((net, len)) = parse_cidr(entry) {
            g.protect(net, len, format!("inside the allowlisted range {entry}"));
        }
    }
    g
}

/// The guard for `config` on this machine: `discover` with the system's commands and
/// resolv.conf, the `[response] allowlist` and `allow_private`. The console's block dialog and
/// every enforcer are built from this one function.
pub fn for_config(c: &crate::config::Config, env: &dyn Fn(&str) -> Option<String>) -> Guard {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").ok();
    discover(
        &mut super::exec::SystemRunner::default(),
        env,
        resolv.as_deref(),
        &c.response.allowlist,
        c.response.allow_private,
    )
}

fn full(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

#[cfg(test)]
mod sshd_without_process_info {
    use super::sshd_peers;

    #[test]
    fn sockets_on_port_22_count_when_the_owner_cannot_be_seen() {
        let out = "0 0 198.51.100.1:22 198.51.100.2:58150\n0 0 198.51.100.1:8080 198.51.100.9:4000\n0 0 [fd00::1]:22 [fd00::2]:51000\n";
        let peers: Vec<String> = sshd_peers(out).iter().map(ToString::to_string).collect();
        assert_eq!(peers, ["198.51.100.2", "fd00::2"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::exec::DryRunner;

    #[test]
    fn refuses_ssh_allowlist_and_private() {
        let env = |k: &str| (k == "SSH_CLIENT").then(|| "198.51.100.22 50022 22".to_string());
        let mut r = DryRunner::default();
        let g = discover(
            &mut r,
            &env,
            Some("# x\nnameserver 9.9.9.9\nnameserver fe80::1%eth0\n"),
            &["203.0.113.0/24".into()],
            false,
        );
        let why = g.verdict("198.51.100.22".parse().unwrap()).unwrap();
        assert!(why.contains("SSH client"), "{why}");
        assert!(g
            .verdict("203.0.113.77".parse().unwrap())
            .unwrap()
            .contains("allowlisted"));
        assert!(g
            .verdict("9.9.9.9".parse().unwrap())
            .unwrap()
            .contains("DNS"));
        assert!(g
            .verdict("10.1.2.3".parse().unwrap())
            .unwrap()
            .contains("allow_private"));
        assert!(g.verdict("127.0.0.1".parse().unwrap()).is_some());
        assert_eq!(g.verdict("198.51.100.23".parse().unwrap()), None);
        let mut open = g.clone();
        open.allow_private = true;
        assert_eq!(open.verdict("10.1.2.3".parse().unwrap()), None);
        assert!(open.verdict("127.0.0.1".parse().unwrap()).is_some());
    }

    #[test]
    fn sshd_peers_come_from_the_socket_table() {
        let ss = "0      0      10.0.0.1:22     10.0.0.2:51234 users:((\"sshd\",pid=123,fd=4),(\"sshd\",pid=130,fd=4))\n\
                  0      0      192.0.2.2:41916 203.0.113.80:443 users:((\"cargo\",pid=5731,fd=9))\n\
                  0      0      [::ffff:10.0.0.1]:22 [::ffff:10.0.0.9]:4000 users:((\"sshd-session\",pid=9,fd=4))\n\
                  0      0      [2001:db8::1]:22 [2001:db8::7]:5000 users:((\"sshd\",pid=9,fd=4))\n\
                  0      0      10.0.0.1:22     10.0.0.2:51235 users:((\"sshd\",pid=124,fd=4))\n\
                  0      0      10.0.0.1:5555   10.0.0.3:51235 users:((\"nc\",pid=124,fd=4),(\"xsshd\",pid=1,fd=3))\n\
                  garbage line\n";
        assert_eq!(
            sshd_peers(ss),
            vec![
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "10.0.0.9".parse().unwrap(),
                "2001:db8::7".parse().unwrap()
            ]
        );
        assert!(sshd_peers("").is_empty());
    }

    /// Answers `ss` with scripted text; everything else with nothing.
    struct Ss(String);
    impl Runner for Ss {
        fn run(&mut self, cmd: &Cmd) -> crate::respond::exec::CmdOutput {
            crate::respond::exec::CmdOutput {
                status: Some(0),
                stdout: if cmd.argv[0] == "ss" {
                    self.0.clone()
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

    #[test]
    fn ssh_peers_are_protected_without_the_environment_and_refreshed() {
        let no_env = |_: &str| None;
        let mut r = Ss(String::new());
        let mut g = discover(&mut r, &no_env, None, &[], true);
        let peer: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(g.verdict(peer), None);
        // A session opened after start is protected once the guard is refreshed.
        r.0 = format!("0 0 192.0.2.5:22 {peer}:40000 users:((\"sshd\",pid=1,fd=4))\n");
        g.refresh_sessions(&mut r);
        let why = g.verdict(peer).expect("refused");
        assert!(why.contains("SSH session"), "{why}");
    }

    #[test]
    fn parses_ip_json_and_cidrs() {
        let a = r#"[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1"}]},{"ifname":"eth0","addr_info":[{"local":"192.0.2.5","prefixlen":24},{"local":"2001:db8::5"}]}]"#;
        assert_eq!(ip_addr_json(a).len(), 3);
        let r = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"}]"#;
        assert_eq!(
            ip_route_gateways(r),
            vec!["192.0.2.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            parse_cidr("10.0.0.0/8"),
            Some(("10.0.0.0".parse().unwrap(), 8))
        );
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("2001:db8::/32").map(|c| c.1), Some(32));
        assert!(in_range(
            "10.200.1.1".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
    }
}
