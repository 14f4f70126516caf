//! Runs firewall commands: the `Runner` trait, the real one (`std::process::Command`, no
//! shell, stdin piped when the command has input, a time-out), and the dry-run recorder.
//!
//! Called on the thread that carries out a response; blocks for as long as the command runs
//! (bounded by the time-out).

use std::io::{Read, Write};
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

/// Reads a child's pipe to its end on a thread of its own, so a command that writes more than
/// a pipe holds never waits on us while we wait on it.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<std::thread::JoinHandle<Vec<u8>>> {
    let mut pipe = pipe?;
    std::thread::Builder::new()
        .name("cmd-output".into())
        .spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
        .ok()
}

fn collected(h: Option<std::thread::JoinHandle<Vec<u8>>>) -> String {
    h.and_then(|h| h.join().ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
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
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    if let (Some(text), Some(mut pipe)) = (&cmd.stdin, child.stdin.take()) {
        // Dropping the pipe afterwards closes it, so the program sees end of input.
        let _ = pipe.write_all(text.as_bytes());
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                // Reaped elsewhere: a process stuck in the kernel may outlive SIGKILL for a
                // while, and the caller (perhaps the console's UI thread) must not wait on it.
                let _ = std::thread::Builder::new()
                    .name("cmd-reaper".into())
                    .spawn(move || {
                        let _ = child.wait();
                    });
                return failed(format!("{prog} timed out after {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return failed(format!("waiting for {prog}: {e}")),
        }
    };
    CmdOutput {
        status: status.code(),
        stdout: collected(out),
        stderr: collected(err),
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
    fn output_larger_than_a_pipe_is_collected_and_a_stuck_command_times_out_promptly() {
        let mut r = SystemRunner {
            timeout: Duration::from_secs(20),
        };
        let big = r.run(&Cmd::new(&["head", "-c", "300000", "/dev/zero"]));
        assert_eq!((big.status, big.stdout.len()), (Some(0), 300_000));
        let mut quick = SystemRunner {
            timeout: Duration::from_millis(200),
        };
        let started = Instant::now();
        let out = quick.run(&Cmd::new(&["sleep", "5"]));
        assert!(
            out.status.is_none() && out.stderr.contains("timed out"),
            "{out:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

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
