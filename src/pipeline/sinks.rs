//! Where the aggregator's results go: the EVE writer (inline, buffered), and the queues of the
//! SQLite writer and pcap logger threads, with the drop policy of live capture.
//!
//! Called only from the aggregator thread.

use std::io::Write;
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use super::counters::SharedCounters;
use crate::engine::frame::RawFrame;
use crate::output::eve::EveWriter;
use crate::store::StoreMsg;

/// Rows sent to the SQLite writer in one message.
pub const STORE_BATCH: usize = 2048;
/// Frames sent to the pcap logger in one message...
pub const PCAP_BATCH: usize = 1024;
/// ...or fewer, once they hold this many bytes: a message holds at most 2 MiB plus one frame
/// (at most 256 KiB), whatever the frames' sizes.
pub const PCAP_BATCH_BYTES: usize = 2 << 20;

/// The aggregator's outputs. Each is optional.
pub struct Sinks {
    pub eve: Option<EveWriter<Box<dyn Write + Send>>>,
    pub store: Option<Sender<StoreMsg>>,
    pub pcap: Option<Sender<Vec<RawFrame>>>,
    /// Live capture: never block on a full sink queue, count the loss instead.
    pub lossy: bool,
    pub counters: Arc<SharedCounters>,
    /// The pcap logger ended early; frames after count as lost.
    pcap_dead: bool,
}

impl Sinks {
    pub fn none(counters: Arc<SharedCounters>) -> Sinks {
        Sinks {
            eve: None,
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
