//! The real terminal: raw mode and the alternate screen, restored on exit, on panic (a panic
//! hook) and on SIGTERM or a hangup (the stop flag); and the UI loop that polls keys, applies
//! effects and redraws at most `fps` times a second, only when the model or the UI changed.
//!
//! Runs on the main thread.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use crossbeam_channel::{Receiver, Sender};
use crossterm::event::{self, Event};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use super::app::{App, Effect};
use super::effects::{Done, Job};
use super::shared::Shared;
use crate::capture::paced::Controls;

/// Put the terminal back as it was; safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, cursor::Show);
}

/// Enter raw mode and the alternate screen, and make a panic restore the terminal first.
pub fn setup() -> Result<Terminal<CrosstermBackend<std::io::Stdout>>> {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
    }));
    enable_raw_mode().context("switching the terminal to raw mode")?;
    execute!(std::io::stdout(), EnterAlternateScreen, cursor::Hide)
        .context("entering the alternate screen")?;
    Terminal::new(CrosstermBackend::new(std::io::stdout())).context("opening the terminal")
}

/// OSC 52: the terminal (even across SSH) puts `text` on the local clipboard.
fn copy(text: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{b64}\x07");
    let _ = out.flush();
}

/// What the loop talks to besides the terminal.
pub struct Channels {
    pub shared: Arc<Shared>,
    pub controls: Arc<Controls>,
    pub stop: Arc<AtomicBool>,
    pub jobs: Sender<Job>,
    pub done: Receiver<Done>,
}

fn apply(app: &mut App, ch: &Channels, effects: Vec<Effect>) -> bool {
    for e in effects {
        match e {
            Effect::Quit => return true,
            Effect::SetPaused(p) => ch.controls.paused.store(p, Ordering::Relaxed),
            Effect::Copy(text) => copy(&text),
            Effect::Block(plan) => {
                if ch.jobs.try_send(Job::Block(plan)).is_err() {
                    app.pending_actions = app.pending_actions.saturating_sub(1);
                    app.report("too many requests queued; try again".into(), false);
                }
            }
            Effect::EditIncident { id, edit } => {
                let edited = ch.shared.lock().edit_incident(id, &edit);
                ch.shared.touch();
                match edited {
                    Err(e) => app.report(e, false),
                    Ok(()) => {
                        if ch.jobs.try_send(Job::EditIncident(id, edit)).is_err() {
                            app.report("too many requests queued; try again".into(), false);
                        }
                    }
                }
            }
            Effect::ReloadSignatures => {
                if ch.jobs.try_send(Job::ReloadSignatures).is_err() {
                    app.report("too many requests queued; try again".into(), false);
                }
            }
            Effect::Export { path, what } => {
                if ch.jobs.try_send(Job::Export { path, what }).is_err() {
                    app.report("too many requests queued; try again".into(), false);
                }
            }
        }
    }
    false
}

/// Run until the user quits or the stop flag is raised.
pub fn run<B: ratatui::backend::Backend>(
    term: &mut Terminal<B>,
    app: &mut App,
    ch: &Channels,
    fps: u32,
) -> Result<()> {
    let tick = Duration::from_millis(1000 / u64::from(fps.clamp(1, 60)));
    let mut drawn_gen = u64::MAX;
    let mut dirty = true;
    let had_terminal = std::io::stdout().is_terminal();
    while !ch.stop.load(Ordering::Relaxed) {
        // A closed terminal (tmux killed, SSH dropped) ends the console like `q` does.
        if had_terminal && !std::io::stdout().is_terminal() {
            break;
        }
        while let Ok(d) = ch.done.try_recv() {
            if d.was_block {
                app.pending_actions = app.pending_actions.saturating_sub(1);
            }
            app.report(d.outcome.message, d.outcome.ok);
            dirty = true;
        }
        let gen = ch.shared.generation();
        if dirty || gen != drawn_gen {
            let m = ch.shared.lock();
            if !(app.paused && app.live) {
                app.view.refresh(&m);
            }
            term.draw(|f| super::draw(f, app, &m))?;
            drawn_gen = gen;
            dirty = false;
        }
        if !event::poll(tick).context("reading the terminal")? {
            continue;
        }
        match event::read().context("reading the terminal")? {
            Event::Key(k) => {
                let effects = {
                    let m = ch.shared.lock();
                    app.handle_key(&k, &m)
                };
                dirty = true;
                if apply(app, ch, effects) {
                    break;
                }
            }
            Event::Resize(..) => dirty = true,
            _ => {}
        }
    }
    Ok(())
}
