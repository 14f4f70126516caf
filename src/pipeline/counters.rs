//! Counters shared between pipeline threads: what the capture thread and the sinks dropped,
//! read by the aggregator for stats and by the UI for the status bar.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crate::engine::stats::CaptureStats;

#[derive(Debug, Default)]
pub struct SharedCounters {
    pub received: AtomicU64,
    pub queue_drops: AtomicU64,
    pub kernel_drops: AtomicU64,
    pub if_drops: AtomicU64,
    /// Packet rows the SQLite writer's queue had no room for (live capture only).
    pub db_drops: AtomicU64,
    /// Frames the pcap logger's queue had no room for (live capture only).
    pub pcap_drops: AtomicU64,
    /// EVE events lost to write errors (the output stage).
    pub eve_lost: AtomicU64,
    /// Frames the pcap log lost to write errors (the pcap logger thread; shared with it).
    pub pcap_lost: Arc<AtomicU64>,
    /// How full each queue was when last looked at (for the metrics exporter).
    pub queues: QueueDepths,
    /// Frame bytes of the batches queued between the capture thread and the workers: live
    /// capture drops a batch that would take them past `pipeline::LIVE_CAPTURE_QUEUE_BYTES`.
    pub capture_queue_bytes: AtomicUsize,
}

/// Messages waiting in each of the pipeline's bounded queues, noted once per batch by the
/// thread that sends into it or takes from it (never per packet).
#[derive(Debug, Default)]
pub struct QueueDepths {
    /// Capture → analysis workers (batches).
    pub capture: AtomicU64,
    /// Analysis workers → aggregator (batches).
    pub results: AtomicU64,
    /// Aggregator → output stage (batches).
    pub output: AtomicU64,
    /// Output stage → SQLite writer (messages).
    pub store: AtomicU64,
    /// Output stage → pcap logger (messages).
    pub pcap: AtomicU64,
}

impl QueueDepths {
    /// Notes that `queue` holds `len` messages now.
    pub fn note(queue: &AtomicU64, len: usize) {
        queue.store(len as u64, Relaxed);
    }
}

impl SharedCounters {
    pub fn capture(&self) -> CaptureStats {
        CaptureStats {
            received: self.received.load(Relaxed),
            kernel_drops: self.kernel_drops.load(Relaxed),
            if_drops: self.if_drops.load(Relaxed),
            queue_drops: self.queue_drops.load(Relaxed),
        }
    }
    /// Copies the sinks' counters into `s`.
    pub fn sink_stats(&self, s: &mut crate::engine::stats::Stats) {
        s.db_drops = self.db_drops.load(Relaxed);
        s.eve_lost = self.eve_lost.load(Relaxed);
        s.pcap_lost = self.pcap_lost.load(Relaxed);
    }
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}
