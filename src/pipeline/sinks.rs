//! Where the aggregator's results go: the EVE writer (inline, buffered), and the queues of the
//! SQLite writer and pcap logger threads, with the drop policy of live capture.
//!
//! Called only from the aggregator thread.

use std::io::Write;
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use super::counters::{QueueDepths, SharedCounters};
use crate::engine::frame::RawFrame;
use crate::output::eve::EveWriter;
use crate::store::StoreMsg;

/// Rows sent to the SQLite writer in one message...
pub const STORE_BATCH: usize = 2048;
/// ...or fewer, once they hold this many bytes (`approx_bytes` of each row): 2048 packet rows
/// with their 64-byte payload snippets, or about 700 alert rows with their explanations.
pub const STORE_BATCH_BYTES: usize = 512 << 10;
/// Frames sent to the pcap logger in one message...
pub const PCAP_BATCH: usize = 1024;
/// ...or fewer, once they hold this many bytes: a message holds at most 2 MiB plus one frame
/// (at most 256 KiB), whatever the frames' sizes.
pub const PCAP_BATCH_BYTES: usize = 2 << 20;

/// The aggregator's outputs. Each is optional.
pub struct Sinks {
    pub eve: Option<EveWriter<Box<dyn Write + Send>>>,
    /// The EVE file and the flag SIGHUP raises: the file is reopened by name (after
    /// logrotate moved it away), as Suricata does.
    pub eve_reopen: Option<(std::path::PathBuf, Arc<std::sync::atomic::AtomicBool>)>,
    pub store: Option<Sender<StoreMsg>>,
    pub pcap: Option<Sender<Vec<RawFrame>>>,
    /// Live capture: never block on a full sink queue, count the loss instead.
    pub lossy: bool,
    pub counters: Arc<SharedCounters>,
    /// The pcap logger ended early; frames after count as lost.
    pcap_dead: bool,
}

/// The SQLite writer's queue as an observer that stores rows of its own (the incident
/// tracker) holds it: the same queue as the output stage's rows, the same drop policy.
#[derive(Clone)]
pub struct StoreLink {
    tx: Sender<StoreMsg>,
    lossy: bool,
    counters: Arc<SharedCounters>,
}

/// Why a message did not reach the writer.
pub enum NotSent {
    /// Live capture and the queue is full: the message is handed back to offer again later.
    Full(StoreMsg),
    /// The writer ended (its error is reported when it is joined).
    Closed,
}

impl StoreLink {
    /// Queues `msg`; replaying a file waits for room, live capture never does.
    pub fn offer(&self, msg: StoreMsg) -> Result<(), NotSent> {
        if self.lossy {
            self.tx.try_send(msg).map_err(|e| match e {
                TrySendError::Full(m) => NotSent::Full(m),
                TrySendError::Disconnected(_) => NotSent::Closed,
            })
        } else {
            self.tx.send(msg).map_err(|_| NotSent::Closed)
        }
    }

    /// Queues `msg` at the end of a run: live capture waits up to `wait` for room.
    pub fn offer_last(&self, msg: StoreMsg, wait: std::time::Duration) -> Result<(), NotSent> {
        if !self.lossy {
            return self.offer(msg);
        }
        self.tx.send_timeout(msg, wait).map_err(|e| match e {
            crossbeam_channel::SendTimeoutError::Timeout(m) => NotSent::Full(m),
            crossbeam_channel::SendTimeoutError::Disconnected(_) => NotSent::Closed,
        })
    }

    /// Counts `rows` rows given up on as database drops.
    pub fn dropped(&self, rows: usize) {
        SharedCounters::add(&self.counters.db_drops, rows as u64);
    }
}

impl Sinks {
    /// A link to the SQLite writer's queue for an observer, when there is a database.
    pub fn store_link(&self) -> Option<StoreLink> {
        self.store.as_ref().map(|tx| StoreLink {
            tx: tx.clone(),
            lossy: self.lossy,
            counters: self.counters.clone(),
        })
    }

    pub fn none(counters: Arc<SharedCounters>) -> Sinks {
        Sinks {
            eve: None,
            eve_reopen: None,
            store: None,
            pcap: None,
            lossy: false,
            counters,
            pcap_dead: false,
        }
    }

    /// Send to the SQLite writer; `rows` is how many rows the message holds, for the counter.
    pub fn store(&mut self, msg: StoreMsg, rows: usize) {
        let Some(tx) = &self.store else { return };
        QueueDepths::note(&self.counters.queues.store, tx.len());
        let ok = if self.lossy {
            match tx.try_send(msg) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    SharedCounters::add(&self.counters.db_drops, rows as u64);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        } else {
            tx.send(msg).is_ok()
        };
        if !ok {
            // The writer thread ended (its error is reported when it is joined).
            self.store = None;
        }
    }

    pub fn pcap(&mut self, frames: Vec<RawFrame>) {
        let Some(tx) = &self.pcap else {
            if self.pcap_dead {
                SharedCounters::add(&self.counters.pcap_lost, frames.len() as u64);
            }
            return;
        };
        let n = frames.len() as u64;
        QueueDepths::note(&self.counters.queues.pcap, tx.len());
        let ok = if self.lossy {
            match tx.try_send(frames) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    SharedCounters::add(&self.counters.pcap_drops, n);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        } else {
            tx.send(frames).is_ok()
        };
        if !ok {
            // The logger thread ended early: these frames, and all after, are lost.
            SharedCounters::add(&self.counters.pcap_lost, n);
            self.pcap = None;
            self.pcap_dead = true;
        }
    }
}
