//! The capture thread: pulls frames from a `Source`, batches them and hands the batches to the
//! analysis workers.
//!
//! Live capture never blocks libpcap: a full queue drops the batch and counts it. File replay
//! blocks on a full queue, so nothing is lost. Stops at end of file, at the packet or duration
//! limit, or when the stop flag is raised; dropping the sender then tells the workers to finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::counters::{QueueDepths, SharedCounters};
use crate::capture::prefetch::{Next, Prefetch};
use crate::capture::{CaptureError, Source};
use crate::engine::frame::LinkType;
use crate::engine::frame::{RawFrame, Ts};

/// A run of consecutive frames. `first_cnt` is the pcap_cnt of the first one.
pub struct Batch {
    pub seq: u64,
    pub first_cnt: u64,
    pub frames: Vec<RawFrame>,
    /// Bytes of the frames' data (counted in `SharedCounters::capture_queue_bytes` while the
    /// batch waits for a worker).
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Stop after this many packets (0 = no limit).
    pub max_packets: u64,
    /// Stop after this long: wall time for live capture, capture time for files (0 = none).
    pub duration_secs: u64,
    pub batch_size: usize,
}

/// Why the capture thread stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEnd {
    EndOfFile,
    PacketLimit,
    Duration,
    Stopped,
    /// The source failed part-way; what was read before is kept.
    Error(String),
}

/// A batch closes at `Limits::batch_size` frames or once its frames hold this many bytes,
/// whichever comes first, so a batch's memory is bounded by bytes and not only by count: at
/// most `BATCH_MAX_BYTES` plus one frame (a frame keeps at most 256 KiB), 2.25 MiB. Ordinary
/// traffic never reaches it (1024 frames of 1,514 bytes are 1.5 MB).
pub const BATCH_MAX_BYTES: usize = 2 << 20;

/// Live capture hands over a partial batch once its first frame has waited this long, so a
/// busy link that never fills a batch between read time-outs (a scan of a few hundred
/// packets) still reaches the detectors within milliseconds.
const LIVE_BATCH_MAX_WAIT: Duration = Duration::from_millis(5);

pub fn run(
    mut src: Box<dyn Source>,
    tx: &Sender<Batch>,
    limits: Limits,
    stop: &Arc<AtomicBool>,
    counters: &SharedCounters,
) -> CaptureEnd {
    let live = src.is_live();
    // A pipe is read on a thread of its own, so that a writer's pause hands over the batch
    // being filled (as a quiet link does in live capture).
    let mut pipe = None;
    if src.is_pipe() {
        let name = src.name().to_string();
        match Prefetch::start(src) {
            Ok(p) => pipe = Some(p),
            Err(e) => return CaptureEnd::Error(format!("{name}: {e}")),
        }
        src = Box::new(Handed);
    }
    let batch_size = limits.batch_size.max(1);
    let started = Instant::now();
    let mut first_ts: Option<Ts> = None;
    let mut last_stats = Instant::now();
    let mut seq = 0u64;
    let mut cnt = 0u64;
    let mut frames = Vec::with_capacity(batch_size);
    // Bytes held by the frames of the batch being filled.
    let mut batch_bytes = 0usize;
    // When the batch being filled got its first frame (live capture only).
    let mut batch_started: Option<Instant> = None;
    let queued = &counters.capture_queue_bytes;
    let mut send = |frames: &mut Vec<RawFrame>, cnt: u64| -> bool {
        if frames.is_empty() {
            return true;
        }
        let bytes = frames.iter().map(|f| f.data.len()).sum();
        let batch = Batch {
            seq,
            first_cnt: cnt + 1 - frames.len() as u64,
            frames: std::mem::replace(frames, Vec::with_capacity(batch_size)),
            bytes,
        };
        seq += 1;
        QueueDepths::note(&counters.queues.capture, tx.len());
        if !live {
            queued.fetch_add(bytes, Ordering::Relaxed);
            return tx.send(batch).is_ok();
        }
        if queued.load(Ordering::Relaxed) + bytes > super::LIVE_CAPTURE_QUEUE_BYTES {
            SharedCounters::add(&counters.queue_drops, batch.frames.len() as u64);
            return true;
        }
        queued.fetch_add(bytes, Ordering::Relaxed);
        match tx.try_send(batch) {
            Ok(()) => true,
            Err(TrySendError::Full(b)) => {
                queued.fetch_sub(bytes, Ordering::Relaxed);
                SharedCounters::add(&counters.queue_drops, b.frames.len() as u64);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    };
    let end = loop {
        if stop.load(Ordering::Relaxed) {
            break CaptureEnd::Stopped;
        }
        if live && last_stats.elapsed() >= Duration::from_secs(1) {
            publish_source_stats(src.as_mut(), counters);
            last_stats = Instant::now();
        }
        if live
            && limits.duration_secs > 0
            && started.elapsed() >= Duration::from_secs(limits.duration_secs)
        {
            break CaptureEnd::Duration;
        }
        let next = match &mut pipe {
            Some(p) => p.next_within(LIVE_BATCH_MAX_WAIT),
            None => src.next_frame().map(|f| match f {
                Some(f) => Next::Frame(f),
                None if live => Next::Idle,
                None => Next::End,
            }),
        };
        match next {
            Ok(Next::Frame(frame)) => {
                if !live && limits.duration_secs > 0 {
                    let first = *first_ts.get_or_insert(frame.ts);
                    if frame.ts.since(first)
                        >= i64::try_from(limits.duration_secs).unwrap_or(i64::MAX)
                            * Ts::NANOS_PER_SEC
                    {
                        break CaptureEnd::Duration;
                    }
                }
                cnt += 1;
                SharedCounters::add(&counters.received, 1);
                batch_bytes += frame.data.len();
                frames.push(frame);
                let full = frames.len() >= batch_size || batch_bytes >= BATCH_MAX_BYTES;
                let waited = live
                    && batch_started.get_or_insert_with(Instant::now).elapsed()
                        >= LIVE_BATCH_MAX_WAIT;
                if full || waited {
                    batch_started = None;
                    batch_bytes = 0;
                    if !send(&mut frames, cnt) {
                        break CaptureEnd::Stopped;
                    }
                }
                if limits.max_packets > 0 && cnt >= limits.max_packets {
                    break CaptureEnd::PacketLimit;
                }
            }
            Ok(Next::Idle) => {
                // Read timeout (or a pipe's writer pausing): hand over what we have so a quiet
                // link still shows up promptly.
                batch_started = None;
                batch_bytes = 0;
                if !send(&mut frames, cnt) {
                    break CaptureEnd::Stopped;
                }
            }
            Ok(Next::End) => break CaptureEnd::EndOfFile,
            Err(e) => break CaptureEnd::Error(capture_error_line(&e)),
        }
    };
    send(&mut frames, cnt);
    if live {
        publish_source_stats(src.as_mut(), counters);
    }
    end
}

/// What stands in for a source handed to its reader thread (never read).
struct Handed;

impl Source for Handed {
    fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
        Ok(None)
    }
    fn name(&self) -> &str {
        "pipe"
    }
    fn is_live(&self) -> bool {
        false
    }
    fn interfaces(&self) -> Vec<(String, LinkType)> {
        Vec::new()
    }
}

fn capture_error_line(e: &CaptureError) -> String {
    e.to_string()
}

fn publish_source_stats(src: &mut dyn Source, counters: &SharedCounters) {
    let s = src.stats();
    counters
        .kernel_drops
        .store(s.kernel_drops, Ordering::Relaxed);
    counters.if_drops.store(s.if_drops, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::worker;

    /// A live source of `n` frames of `size` bytes each.
    struct Live {
        n: usize,
        size: usize,
    }

    impl Source for Live {
        fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
            if self.n == 0 {
                return Ok(None);
            }
            self.n -= 1;
            Ok(Some(RawFrame {
                ts: Ts(0),
                linktype: LinkType::ETHERNET,
                iface: 0,
                orig_len: u32::try_from(self.size).unwrap_or(u32::MAX),
                data: vec![0; self.size],
            }))
        }
        fn name(&self) -> &str {
            "live"
        }
        fn is_live(&self) -> bool {
            true
        }
        fn interfaces(&self) -> Vec<(String, LinkType)> {
            Vec::new()
        }
    }

    const MIB: usize = 1 << 20;

    fn limits(n: usize) -> Limits {
        Limits {
            max_packets: n as u64,
            duration_secs: 0,
            batch_size: 1024,
        }
    }

    #[test]
    fn live_capture_queues_batches_up_to_the_byte_bound_then_drops_and_counts() {
        // 1 MiB frames: batches of two close at `BATCH_MAX_BYTES`; 40 MiB hold twenty.
        let (tx, rx) = crossbeam_channel::bounded(1000);
        let counters = SharedCounters::default();
        let stop = Arc::new(AtomicBool::new(false));
        let src = Box::new(Live { n: 100, size: MIB });
        let end = run(src, &tx, limits(100), &stop, &counters);
        assert_eq!(end, CaptureEnd::PacketLimit);
        let queued = crate::pipeline::LIVE_CAPTURE_QUEUE_BYTES / (2 * MIB);
        assert_eq!(rx.len(), queued);
        assert_eq!(
            counters.capture_queue_bytes.load(Ordering::Relaxed),
            queued * 2 * MIB
        );
        assert_eq!(
            counters.queue_drops.load(Ordering::Relaxed),
            100 - 2 * queued as u64
        );
    }

    #[test]
    fn the_workers_give_back_the_bytes_of_each_batch_they_take() {
        let (tx, rx) = crossbeam_channel::bounded(1000);
        let (res_tx, res_rx) = crossbeam_channel::unbounded();
        let counters = Arc::new(SharedCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let src = Box::new(Live { n: 64, size: 300 });
        run(src, &tx, limits(64), &stop, &counters);
        assert_eq!(
            counters.capture_queue_bytes.load(Ordering::Relaxed),
            64 * 300
        );
        drop(tx);
        worker::run(&rx, &res_tx, &Arc::new(Vec::new()), &counters);
        assert_eq!(counters.capture_queue_bytes.load(Ordering::Relaxed), 0);
        assert_eq!(
            res_rx.try_iter().map(|b| b.packets.len()).sum::<usize>(),
            64
        );
        assert_eq!(counters.queue_drops.load(Ordering::Relaxed), 0);
    }
}
