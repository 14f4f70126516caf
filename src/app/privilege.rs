//! Least privilege for live capture: once the capture handle is open, the process gives up
//! what it no longer needs, on the main thread before any other thread starts (credentials
//! and capabilities belong to each thread; threads started later inherit the reduced set).
//!
//! - No response action can run (responses off, or dry run): the process switches to an
//!   unprivileged user (`[sniffer] user`, default `nsm-tui` if it exists, else `nobody`) with
//!   no capabilities, an empty bounding set and `no_new_privs`.
//! - Responses enabled: it stays user 0 with `CAP_NET_ADMIN` alone, in the bounding set too.
//!   The firewall tools (`nft`, `iptables`, `ipset`, `ss -K`) run as child processes: a child
//!   of user 0 receives exactly the bounding set on exec, so each runs with `CAP_NET_ADMIN`
//!   and nothing more, and the tools that insist on user 0 or on files under `/run` (the
//!   xtables lock) keep working. Ambient capabilities under another user would hand the same
//!   single capability to the children, but not the user id those tools check.
//!
//! The outputs written after the switch (database with its WAL files, EVE, pcap log, and the
//! files SIGHUP reopens and rotation creates beside them) need their directories writable by
//! the new user: directories nsm-tui creates are given to that user, existing output files
//! too, and a directory the user cannot write is refused here with the fix, before capture.
//! Opening the files before the switch would not do: SQLite creates its WAL files, rotation
//! and SIGHUP create new files, and side connections reopen the database by path.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::account::{self, Account};
use crate::config::Config;

/// What the process keeps after the capture opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// No capabilities, as this user.
    Nothing(Account),
    /// User 0 with `CAP_NET_ADMIN` alone, for the firewall tools.
    NetAdmin,
}

/// Which command captures: the console also blocks from its confirm dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// `--headless`: only automatic responses can act.
    Headless,
    /// The live console: its block dialog reaches the firewall whenever the database (its
    /// audit chain) is on, automatic responses or not.
    Console,
}

/// Whether a response action can run during this capture: not a dry run, and automatic
/// responses on or, in the console, blocks from its dialog possible.
pub fn responses_possible(c: &Config, runner: Runner) -> bool {
    !c.response.dry_run
        && (c.response.auto_response_enabled || (runner == Runner::Console && c.storage.db_enabled))
}

/// What this configuration lets the process keep.
///
/// # Errors
/// When the configured user (or, unset, both `nsm-tui` and `nobody`) does not exist.
pub fn plan(c: &Config, runner: Runner) -> Result<Keep> {
    if responses_possible(c, runner) {
        return Ok(Keep::NetAdmin);
    }
    let user = match &c.sniffer.user {
        Some(name) => account::find(name)
            .with_context(|| format!("[sniffer] user: no user {name:?} in {}", account::PASSWD))?,
        None => account::default_user().with_context(|| {
            format!(
                "[sniffer] user is unset and neither nsm-tui nor nobody is in {}; name a user",
                account::PASSWD
            )
        })?,
    };
    Ok(Keep::Nothing(user))
}

/// Gives up what `c` does not need; returns a line saying what the process now runs as.
/// Does nothing but say so when the process is not user 0 (it has no user to give up, and
/// capabilities given by file are dropped the same way below).
///
/// # Errors
/// When another thread already runs, a system call refuses, or an output directory is not
/// writable by the new user (naming it and the fix).
pub fn drop_after_open(c: &Config, runner: Runner) -> Result<String> {
    let threads = thread_count().context("counting the process's threads")?;
    if threads != 1 {
        bail!("privileges are given up before other threads start, but {threads} run");
    }
    let keep = plan(c, runner)?;
    let outputs = outputs(c);
    let new_owner = match &keep {
        Keep::Nothing(user) if rustix::process::geteuid().is_root() && user.uid != 0 => Some(user),
        _ => None,
    };
    prepare_outputs(&outputs, new_owner)?;
    imp::drop_to(&keep)?;
    check_writable(&outputs, &keep)?;
    Ok(match keep {
        Keep::NetAdmin => "privileges: user 0 with CAP_NET_ADMIN alone (responses enabled)".into(),
        Keep::Nothing(u) => format!(
            "privileges: running as {} (uid {}) without capabilities",
            u.name,
            rustix::process::getuid().as_raw()
        ),
    })
}

/// The files the run writes after the switch: database, EVE file, pcap log.
fn outputs(c: &Config) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if c.storage.db_enabled {
        v.push(c.storage.db_path.clone());
    }
    if let Some(e) = &c.output.eve_path {
        if e.as_os_str() != "-" {
            v.push(e.clone());
        }
    }
    if c.storage.pcap_log_enabled {
        v.push(c.storage.pcap_log_path.clone());
    }
    v
}

fn dir_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates the missing directories of each output while the process may still create them;
/// with a `user` to switch to, gives them, and the output files that already exist (a
/// database with its WAL files), to that user. Directories that already exist are left as
/// they are: they may be shared (`/var/log`, `/tmp`).
fn prepare_outputs(outputs: &[PathBuf], user: Option<&Account>) -> Result<()> {
    let chown = |p: &Path| match user {
        Some(user) => std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))
            .with_context(|| format!("giving {} to user {}", p.display(), user.name)),
        None => Ok(()),
    };
    for out in outputs {
        let dir = dir_of(out);
        let mut missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        missing.reverse();
        for d in missing {
            if d.as_os_str().is_empty() {
                continue;
            }
            std::fs::create_dir(d).with_context(|| format!("creating {}", d.display()))?;
            chown(d)?;
        }
        let mut files = vec![out.clone()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = out.as_os_str().to_owned();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
        for f in files.iter().filter(|f| f.is_file()) {
            chown(f)?;
        }
    }
    Ok(())
}

/// After the switch: every output's directory and existing file is writable by the new user.
fn check_writable(outputs: &[PathBuf], keep: &Keep) -> Result<()> {
    use rustix::fs::Access;
    let who = match keep {
        Keep::Nothing(u) => u.name.clone(),
        Keep::NetAdmin => "root".into(),
    };
    for out in outputs {
        let dir = dir_of(out);
        for (p, need) in [
            (dir.as_path(), Access::WRITE_OK | Access::EXEC_OK),
            (out.as_path(), Access::WRITE_OK),
        ] {
            if p == out.as_path() && !p.exists() {
                continue;
            }
            if rustix::fs::access(p, need).is_err() {
                let (p, what) = match unreachable_ancestor(p) {
                    Some(a) => (a, "cannot be entered"),
                    None => (p.to_path_buf(), "is not writable"),
                };
                bail!(
                    "{} {what} by user {who}, which nsm-tui runs as once the capture is open \
                     (for {}); give it to that user (chown {who} {}), name another with \
                     [sniffer] user, or keep user 0 without capabilities with \
                     [sniffer] user = \"root\"",
                    p.display(),
                    out.display(),
                    p.display()
                );
            }
        }
    }
    Ok(())
}

/// The outermost directory above `p` the process cannot enter, if any.
fn unreachable_ancestor(p: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(p).ok()?;
    let mut above: Vec<&Path> = abs.ancestors().skip(1).collect();
    above.reverse();
    above
        .into_iter()
        .find(|a| rustix::fs::access(*a, rustix::fs::Access::EXEC_OK).is_err())
        .map(Path::to_path_buf)
}

fn thread_count() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

#[cfg(target_os = "linux")]
mod imp {
    use anyhow::{Context, Result};
    use rustix::process::{Gid, Uid};
    use rustix::thread::{CapabilitySet, CapabilitySets};

    use super::Keep;

    /// Drops every capability but `keep` from the bounding set; capabilities this kernel
    /// does not know are skipped.
    fn bound_to(keep: CapabilitySet) -> Result<()> {
        for cap in CapabilitySet::all().iter() {
            if keep.contains(cap) {
                continue;
            }
            match rustix::thread::remove_capability_from_bounding_set(cap) {
                Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                Err(e) => return Err(e).context("dropping a capability from the bounding set"),
            }
        }
        Ok(())
    }

    pub(super) fn drop_to(keep: &Keep) -> Result<()> {
        let root = rustix::process::geteuid().is_root();
        let kept = match keep {
            Keep::NetAdmin => CapabilitySet::NET_ADMIN,
            Keep::Nothing(_) => CapabilitySet::empty(),
        };
        let current = rustix::thread::capabilities(None).context("reading capabilities")?;
        if current.effective.contains(CapabilitySet::SETPCAP) {
            bound_to(kept)?;
        }
        rustix::thread::clear_ambient_capability_set().context("clearing ambient capabilities")?;
        if let Keep::Nothing(user) = keep {
            if root && user.uid != 0 {
                let gid = Gid::from_raw(user.gid);
                rustix::thread::set_thread_groups(&[gid]).context("setting groups")?;
                rustix::thread::set_thread_res_gid(gid, gid, gid).context("setting the group")?;
                let uid = Uid::from_raw(user.uid);
                rustix::thread::set_thread_res_uid(uid, uid, uid)
                    .with_context(|| format!("switching to user {}", user.name))?;
            }
        }
        let have = current.permitted;
        let sets = CapabilitySets {
            effective: kept & have,
            permitted: kept & have,
            inheritable: CapabilitySet::empty(),
        };
        rustix::thread::set_capabilities(None, sets).context("setting capabilities")?;
        rustix::thread::set_no_new_privs(true).context("setting no_new_privs")?;
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use anyhow::Result;

    use super::Keep;

    /// Elsewhere the process keeps what it was started with.
    pub(super) fn drop_to(_keep: &Keep) -> Result<()> {
        Ok(())
    }
}
