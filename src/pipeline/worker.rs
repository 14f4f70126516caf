//! Analysis workers: decode each frame of a batch and run the stateless detectors on it.
//!
//! Any number of workers pull batches from one queue; results carry the batch's sequence
//! number so the aggregator can restore capture order. Blocks only on its two channels.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::capture::Batch;
use super::counters::SharedCounters;
use crate::engine::decode::decode;
use crate::engine::detect::PacketDetector;
use crate::engine::record::Analyzed;

pub struct AnalyzedBatch {
    pub seq: u64,
    pub packets: Vec<Analyzed>,
}

pub type PacketDetectors = Arc<Vec<Box<dyn PacketDetector>>>;

/// Analyse one batch.
pub fn analyze(batch: Batch, detectors: &[Box<dyn PacketDetector>]) -> AnalyzedBatch {
    let packets = batch
        .frames
        .into_iter()
        .zip(batch.first_cnt..)
        .map(|(frame, pcap_cnt)| {
            let decoded = decode(&frame);
            let mut a = Analyzed {
                pcap_cnt,
                frame,
                decoded,
                alerts: Vec::new(),
                stream_http: Vec::new(),
            };
            let mut alerts = Vec::new();
            for d in detectors {
                d.inspect(&a, &mut alerts);
            }
            a.alerts = alerts;
            a
        })
        .collect();
    AnalyzedBatch {
        seq: batch.seq,
        packets,
    }
}

/// Loop until the capture side hangs up or the aggregator goes away.
pub fn run(
    rx: &Receiver<Batch>,
    tx: &Sender<AnalyzedBatch>,
    detectors: &PacketDetectors,
    counters: &SharedCounters,
) {
    for batch in rx {
        counters
            .capture_queue_bytes
            .fetch_sub(batch.bytes, Ordering::Relaxed);
        if tx.send(analyze(batch, detectors)).is_err() {
            return;
        }
    }
}
