//! The process's log: `tracing` events written to standard error, as text lines or one JSON
//! object per line, at the level `-v`/`-q` choose. Set up once on the main thread before the
//! command runs; events from every thread go through it.
//!
//! Text lines read as the program's notices always have (`warning: …`, plain text for
//! information). Under systemd (`JOURNAL_STREAM` set) each line starts with its journal priority
//! (`<4>` for a warning), the sd-daemon(3) convention journald reads from a service's stream.
//! The console holds standard error while it draws (`gag`), so events written then appear
//! after the terminal is restored, never over the screen.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (`warning: …`).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message`, `target` and the event's fields.
    Json,
}

/// The most detailed level shown: information by default, each `-v` one step more (debug,
/// trace), `-q` only warnings and errors.
pub fn level(verbose: u8, quiet: bool) -> LevelFilter {
    match (quiet, verbose) {
        (true, _) => LevelFilter::WARN,
        (false, 0) => LevelFilter::INFO,
        (false, 1) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    }
}

/// Installs the process's subscriber. A second call (tests in one process) keeps the first.
pub fn init(level: LevelFilter, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    // Set once: failing means a subscriber is already installed, which then serves.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .event_format(Text {
                journal: std::env::var_os("JOURNAL_STREAM").is_some(),
            })
            .try_init(),
    };
}

/// The text line: `[<priority>]` under systemd, `warning: `/`error: `/`debug: `/`trace: `
/// before the message (none for information), then the event's other fields as `key=value`.
struct Text {
    journal: bool,
}

/// The sd-daemon(3) priority prefix of a level.
pub fn journal_prefix(level: Level) -> &'static str {
    match level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error: ",
        Level::WARN => "warning: ",
        Level::INFO => "",
        Level::DEBUG => "debug: ",
        Level::TRACE => "trace: ",
    }
}

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        if self.journal {
            w.write_str(journal_prefix(level))?;
        }
        w.write_str(level_word(level))?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_steps() {
        assert_eq!(level(0, false), LevelFilter::INFO);
        assert_eq!(level(1, false), LevelFilter::DEBUG);
        assert_eq!(level(2, false), LevelFilter::TRACE);
        assert_eq!(level(5, false), LevelFilter::TRACE);
        assert_eq!(level(0, true), LevelFilter::WARN);
    }

    #[test]
    fn journal_priorities_follow_sd_daemon() {
        assert_eq!(journal_prefix(Level::ERROR), "<3>");
        assert_eq!(journal_prefix(Level::WARN), "<4>");
        assert_eq!(journal_prefix(Level::INFO), "<6>");
        assert_eq!(journal_prefix(Level::DEBUG), "<7>");
    }
}
