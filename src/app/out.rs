//! What the commands print, and how their errors read: standard output through [`outln!`], so
//! a closed pipe (`nsm-tui incidents list | head`) ends the command quietly instead of
//! panicking; and an error chain without the repetitions a wrapped OS error brings.

/// `println!` that returns the write error (`?`) instead of panicking on a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use outln;

/// `print!` that returns the write error (`?`) instead of panicking on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        write!(o, $($arg)*)?;
        o.flush()?
    }};
}
pub(crate) use out;

/// Whether `e` is standard output (or another pipe) closed by its reader.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit status for a failed command: 2 when the signatures cannot be used (a sensor that
/// would detect nothing must not look like one that ran), 1 for everything else.
pub fn exit_status(e: &anyhow::Error) -> u8 {
    let unusable_signatures = e.chain().any(|c| {
        c.downcast_ref::<crate::pipeline::signature_source::SignatureSourceError>()
            .is_some()
    });
    if unusable_signatures {
        2
    } else {
        1
    }
}

/// The error and its causes, outermost first, joined by `: `; a cause whose text the message
/// already ends with (an error that prints its source, then carries it as its source too) is
/// not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if c.is_empty() || text.ends_with(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open {path}: {source}")]
    struct Open {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_printed_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let shown = io.to_string();
        let e = anyhow::Error::new(Open {
            path: "x.pcap".into(),
            source: io,
        })
        .context("reading the capture");
        let t = error_text(&e);
        assert_eq!(
            t,
            format!("reading the capture: cannot open x.pcap: {shown}")
        );
        assert_eq!(t.matches(&shown).count(), 1, "{t}");
    }

    #[test]
    fn a_closed_pipe_is_recognised_through_context() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("printing the incidents");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
