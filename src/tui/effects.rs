//! The effect executor: a thread that carries out what the UI asked for (blocks through the
//! `Responder`, pcap exports, signature reloads, incident edits) and sends back one outcome per job for the
//! status bar.
//!
//! The UI only ever `try_send`s jobs and `try_recv`s outcomes, so it never waits on this thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use super::app::ExportWhat;
use super::incident_edit::IncidentWriter;
use super::shared::Shared;
use crate::engine::frame::RawFrame;
use crate::engine::model::{IncidentEdit, Model};
use crate::respond::plan::BlockPlan;
use crate::respond::responder::{Outcome, Responder};

/// Jobs and outcomes queued between the UI and the executor; a person cannot queue more.
const QUEUE: usize = 32;

#[derive(Debug, Clone)]
pub enum Job {
    Block(BlockPlan),
    Export {
        path: PathBuf,
        what: ExportWhat,
    },
    ReloadSignatures,
    /// A person's change to the incident with this id.
    EditIncident(u64, IncidentEdit),
}

/// Reloads the signature files and says how it went (the console's `R`).
pub type Reloader = Box<dyn FnMut() -> Outcome + Send>;

/// One finished job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub was_block: bool,
    pub outcome: Outcome,
}

/// The frames an export takes, cloned out of the model (the caller holds the lock briefly).
pub fn collect_frames(m: &Model, what: &ExportWhat) -> Vec<RawFrame> {
    match what {
        ExportWhat::All => m.rows().iter().map(|r| r.frame.clone()).collect(),
        ExportWhat::Filtered(f) => m
            .rows()
            .iter()
            .filter(|r| f.as_ref().is_none_or(|f| f.matches(r)))
            .map(|r| r.frame.clone())
            .collect(),
        ExportWhat::Incident { id, before_secs } => m
            .incident(*id)
            .map(|i| {
                m.incident_rows(i, *before_secs)
                    .into_iter()
                    .map(|r| r.frame.clone())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Write the frames an export takes to `path`; the outcome reports the count.
pub fn export(shared: &Shared, path: &Path, what: &ExportWhat) -> Outcome {
    let frames = collect_frames(&shared.lock(), what);
    match crate::store::write_pcap(path, frames.iter()) {
        Ok(n) => Outcome {
            ok: true,
            message: format!("wrote {n} packets to {}", path.display()),
        },
        Err(e) => Outcome {
            ok: false,
            message: format!("could not write {}: {e}", path.display()),
        },
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Start the executor; it ends when the job sender is dropped. Between jobs it lets the
/// responder expire blocks once a second; at the end it asks it to clean up (temporary blocks)
/// and prints what it says on stderr (the run summary).
pub fn spawn(
    shared: Arc<Shared>,
    mut responder: Box<dyn Responder>,
    mut reloader: Reloader,
    mut incidents: IncidentWriter,
) -> std::io::Result<(Sender<Job>, Receiver<Done>, JoinHandle<()>)> {
    let (job_tx, job_rx) = bounded::<Job>(QUEUE);
    let (done_tx, done_rx) = bounded::<Done>(QUEUE);
    let join = std::thread::Builder::new()
        .name("console-effects".into())
        .spawn(move || {
            loop {
                let job = match job_rx.recv_timeout(std::time::Duration::from_secs(1)) {
                    Ok(job) => job,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        responder.tick(now_secs());
                        continue;
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                };
                let done = match job {
                    Job::Block(plan) => Done {
                        was_block: true,
                        outcome: responder.block(&plan, now_secs()),
                    },
                    Job::Export { path, what } => Done {
                        was_block: false,
                        outcome: export(&shared, &path, &what),
                    },
                    Job::ReloadSignatures => Done {
                        was_block: false,
                        outcome: reloader(),
                    },
                    Job::EditIncident(id, edit) => Done {
                        was_block: false,
                        outcome: incidents(id, &edit),
                    },
                };
                // The UI drains outcomes every frame; if it is gone, nobody needs them.
                if done_tx.send(done).is_err() {
                    break;
                }
            }
            if let Some(summary) = responder.finish(now_secs()) {
                tracing::info!("{summary}");
            }
        })?;
    Ok((job_tx, done_rx, join))
}
