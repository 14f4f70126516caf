//! How the console's block requests leave the UI: the `Responder` trait (the real one is
//! `respond::console::FirewallResponder`), and an in-memory one for runs without a database.
//!
//! Called on the console's effect thread, never on the UI thread (blocking runs commands).

use super::plan::BlockPlan;

/// What happened to a request, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub message: String,
}

/// Carries out (or records) a block the user confirmed.
pub trait Responder: Send {
    /// `now_secs` is wall-clock seconds since the epoch, read by the caller. A refused plan
    /// is passed too, so the refusal is recorded like any other decision.
    fn block(&mut self, plan: &BlockPlan, now_secs: i64) -> Outcome;

    /// Called about once a second: ends blocks whose time is up.
    fn tick(&mut self, _now_secs: i64) {}

    /// Called once when the console ends: removes temporary blocks unless
    /// `keep_blocks_on_exit`; returns a line for the run summary, if there is anything to say.
    fn finish(&mut self, _now_secs: i64) -> Option<String> {
        None
    }
}

/// Keeps requests in memory; for tests and for runs without a database.
#[derive(Debug, Default)]
pub struct MemoryResponder {
    pub requests: Vec<BlockPlan>,
}

impl Responder for MemoryResponder {
    fn block(&mut self, plan: &BlockPlan, _now_secs: i64) -> Outcome {
        if let Some(why) = &plan.refused {
            return Outcome {
                ok: false,
                message: format!("not blocked: {why}"),
            };
        }
        self.requests.push(plan.clone());
        Outcome {
            ok: true,
            message: format!(
                "{}block of {} noted (no database)",
                if plan.dry_run { "dry run: " } else { "" },
                plan.addr
            ),
        }
    }
}
