//! Counters shared between pipeline threads: what the capture thread and the sinks dropped,
//! read by the aggregator for stats and by the UI for the status bar.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
