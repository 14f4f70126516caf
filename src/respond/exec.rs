//! Runs firewall commands: the `Runner` trait, the real one (`std::process::Command`, no
//! shell, stdin piped when the command has input, a time-out), and the dry-run recorder.
//!
//! Called on the thread that carries out a response; blocks for as long as the command runs
//! (bounded by the time-out).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::fw::Cmd;

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CmdOutput {
    /// Exit status; `None` when it could not start, was killed, or timed out.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }

    /// stdout and stderr together, for the audit trail (trimmed, at most 4 KiB).
    pub fn combined(&self) -> String {
        let mut s = self.stdout.trim().to_string();
        let e = self.stderr.trim();
        if !e.is_empty() {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(e);
        }
        if s.len() > 4096 {
            let mut cut = 4096;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        s
    }
}

pub trait Runner: Send {
    fn run(&mut self, cmd: &Cmd) -> CmdOutput;
    /// Whether commands really touch the system (false for dry runs).
    fn is_live(&self) -> bool;
}

/// Runs commands for real.
pub struct SystemRunner {
    pub timeout: Duration,
}

impl Default for SystemRunner {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
        }
    }
}

impl Runner for SystemRunner {
    fn run(&mut self, cmd: &Cmd) -> CmdOutput {
        run_with_timeout(cmd, self.timeout)
    }
    fn is_live(&self) -> bool {
        true
    }
}

fn failed(msg: String) -> CmdOutput {
    CmdOutput {
        status: None,
        stdout: String::new(),
        stderr: msg,
    }
}

fn run_with_timeout(cmd: &Cmd, timeout: Duration) -> CmdOutput {
    let Some((prog, args)) = cmd.argv.split_first() else {
        return failed("empty command".into());
    };
    let mut child = match Command::new(prog)
        .args(args)
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed(format!("could not run {prog}: {e}")),
    };
    if let (Some(text), Some(mut pipe)) = (&cmd.stdin, child.stdin.take()) {
        // Dropping the pipe afterwards closes it, so the program sees end of input.
        let _ = pipe.write_all(text.as_bytes());
    }
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return failed(format!("{prog} timed out after {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return failed(format!("waiting for {prog}: {e}")),
        }
    }
    match child.wait_with_output() {
        Ok(out) => CmdOutput {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) => failed(format!("collecting output of {prog}: {e}")),
    }
}

/// Records what would have run and touches nothing; every command "succeeds" silently.
#[derive(Debug, Default)]
pub struct DryRunner {
    pub recorded: Vec<Cmd>,
}

impl Runner for DryRunner {
    fn run(&mut self, cmd: &Cmd) -> CmdOutput {
        self.recorded.push(cmd.clone());
        CmdOutput {
            status: Some(0),
            ..CmdOutput::default()
        }
    }
    fn is_live(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_without_a_shell_and_feeds_stdin() {
        let mut r = SystemRunner::default();
        let out = r.run(&Cmd::new(&["cat"]).with_stdin("a; b $(x)\n".into()));
        assert!(out.ok());
        assert_eq!(out.stdout, "a; b $(x)\n");
        let missing = r.run(&Cmd::new(&["/nonexistent/nsm-tool"]));
        assert_eq!(missing.status, None);
        assert!(missing.stderr.contains("/nonexistent/nsm-tool"));
    }

    #[test]
    fn times_out() {
        let mut r = SystemRunner {
            timeout: Duration::from_millis(100),
        };
        let out = r.run(&Cmd::new(&["sleep", "5"]));
        assert_eq!(out.status, None);
        assert!(out.stderr.contains("timed out"));
    }
}
