//! The aggregator: the single writer of flow state, stateful detectors and counters. Restores
//! capture order across workers, then for each packet updates its flow, runs the stateful
//! detectors and counts; the results go on, in order, to the output stage.
//!
//! Runs on its own thread; blocks only on its input queue and on a full output queue.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::counters::{QueueDepths, SharedCounters};
use super::output::{OutBatch, OutEvent};
use super::worker::AnalyzedBatch;
use crate::engine::detect::{FlowAlert, FlowCtx, FlowDetector, StatefulDetector};
use crate::engine::flow::{FlowMeta, FlowTable};
use crate::engine::frame::Ts;
use crate::engine::record::Analyzed;
use crate::engine::stats::Stats;

/// How often fresh counters go to the console and the output stage, packets or not.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// Flows ended per hand-over when the input ends.
const DRAIN_CHUNK: usize = 4096;
/// Ended flows are handed on at each new capture second, or as soon as this many are waiting:
/// a flood of new flows evicts one flow per packet, and a second's worth of records (a million
/// in a SYN flood, ~330 MB as events) would otherwise ride in one batch. 4096 records are
/// ~1.3 MB of events; a capture that ends fewer flows within a second sees no difference.
const ENDED_FLUSH: usize = 4096;

pub struct Aggregator {
    flows: FlowTable,
    detectors: Vec<Box<dyn StatefulDetector>>,
    /// Detectors fed each ended flow and the passing of capture time.
    flow_detectors: Vec<Box<dyn FlowDetector>>,
    out: Sender<OutBatch>,
    /// Events for the batch being processed, by position.
    events: Vec<(usize, OutEvent)>,
    counters: Arc<SharedCounters>,
    stats: Stats,
    published: Arc<Mutex<Stats>>,
    last_publish: Instant,
    last_expire_sec: i64,
    last_ts: Ts,
}

impl Aggregator {
    pub fn new(
        flows: FlowTable,
        detectors: Vec<Box<dyn StatefulDetector>>,
        flow_detectors: Vec<Box<dyn FlowDetector>>,
        out: Sender<OutBatch>,
        counters: Arc<SharedCounters>,
        published: Arc<Mutex<Stats>>,
    ) -> Self {
        Aggregator {
            flows,
            detectors,
            flow_detectors,
            out,
            events: Vec::new(),
            counters,
            stats: Stats::default(),
            published,
            last_publish: Instant::now(),
            last_expire_sec: i64::MIN,
            last_ts: Ts(0),
        }
    }

    /// Consume batches until every worker has hung up, in sequence order; returns the final
    /// counters.
    pub fn run(mut self, rx: &Receiver<AnalyzedBatch>) -> Stats {
        let mut pending: BTreeMap<u64, Vec<Analyzed>> = BTreeMap::new();
        let mut next = 0u64;
        // A quiet link still gets its counters published (and live EVE its stats events).
        loop {
            match rx.recv_timeout(PUBLISH_EVERY) {
                Ok(batch) => {
                    pending.insert(batch.seq, batch.packets);
                    while let Some(packets) = pending.remove(&next) {
                        next += 1;
                        self.batch(packets);
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
            QueueDepths::note(&self.counters.queues.results, rx.len());
            QueueDepths::note(&self.counters.queues.output, self.out.len());
            self.maybe_publish();
        }
        // Sequence gaps can only come from dropped batches, which never reach workers; still,
        // never lose what arrived.
        for (_, packets) in std::mem::take(&mut pending) {
            self.batch(packets);
        }
        self.finish()
    }

    /// Process a batch in place and hand it on whole: moving ~350-byte packets one by one
    /// between collections cost more than the flow lookup.
    fn batch(&mut self, mut packets: Vec<Analyzed>) {
        let mut metas = Vec::with_capacity(packets.len());
        for (i, a) in packets.iter_mut().enumerate() {
            metas.push(self.process(i, a));
        }
        let events = std::mem::take(&mut self.events);
        self.send(OutBatch {
            packets,
            metas,
            events,
        });
    }

    fn send(&mut self, b: OutBatch) {
        // The output thread only goes away when it failed; its error is reported at join.
        let _ = self.out.send(b);
    }

    fn send_events(&mut self) {
        if !self.events.is_empty() {
            let events = std::mem::take(&mut self.events);
            self.send(OutBatch {
                packets: Vec::new(),
                metas: Vec::new(),
                events,
            });
        }
    }

    /// Flows, stateful detectors and counters for packet `i` of the current batch.
    pub fn process(&mut self, i: usize, a: &mut Analyzed) -> Option<FlowMeta> {
        self.stats.decoder.record(&a.frame, &a.decoded);
        let ts = a.frame.ts;
        self.last_ts = self.last_ts.max(ts);
        let payload = a.decoded.payload(&a.frame.data);
        let update = self.flows.update(ts, &a.decoded, a.frame.orig_len, payload);
        let ctx = update.as_ref().map(FlowCtx::from);
        let mut alerts = std::mem::take(&mut a.alerts);
        for d in &mut self.detectors {
            d.observe(a, ctx.as_ref(), &mut alerts);
            d.take_http(&mut a.stream_http);
        }
        let flow_id = ctx.map(|c| c.flow_id);
        for al in &mut alerts {
            al.flow_id = flow_id;
            *self.stats.alerts.entry(al.severity).or_default() += 1;
        }
        if !alerts.is_empty() {
            if let Some(id) = flow_id {
                self.flows.mark_alerted(id);
            }
        }
        a.alerts = alerts;
        if ts.secs() != self.last_expire_sec || self.flows.ended_pending() >= ENDED_FLUSH {
            let new_second = ts.secs() != self.last_expire_sec;
            self.last_expire_sec = ts.secs();
            let ended = self.flows.expire(ts);
            for d in &mut self.detectors {
                ended.iter().for_each(|r| d.flow_ended(r.flow_id));
            }
            let mut found = Vec::new();
            for d in &mut self.flow_detectors {
                for r in &ended {
                    d.flow_ended(r, &mut found);
                }
                if new_second {
                    d.tick(ts, &mut found);
                    if let Some(l) = d.export(Some(ts)) {
                        self.events.push((i + 1, OutEvent::Learned(Box::new(l))));
                    }
                }
            }
            for r in ended {
                self.events.push((i + 1, OutEvent::FlowEnded(r)));
            }
            self.flow_alerts(i + 1, found);
        }
        update.map(|u| u.meta)
    }

    /// Count alerts the flow detectors raised and queue them after packet `at`.
    fn flow_alerts(&mut self, at: usize, found: Vec<FlowAlert>) {
        for fa in found {
            *self.stats.alerts.entry(fa.alert.severity).or_default() += 1;
            self.events.push((at, OutEvent::FlowAlert(Box::new(fa))));
        }
    }

    fn current_stats(&mut self) -> Stats {
        self.stats.capture = self.counters.capture();
        self.counters.sink_stats(&mut self.stats);
        self.stats.flow = self.flows.stats();
        let counters: Vec<(&'static str, u64)> = self
            .flow_detectors
            .iter()
            .flat_map(|d| d.counters())
            .collect();
        self.stats.learning = crate::engine::stats::LearningStats::from_counters(&counters);
        let counters: Vec<(&'static str, u64)> =
            self.detectors.iter().flat_map(|d| d.counters()).collect();
        self.stats.stream = crate::engine::stats::StreamStats::from_counters(&counters);
        self.stats.baselines = self.flow_detectors.iter().find_map(|d| d.baseline_view());
        self.stats.clone()
    }

    fn maybe_publish(&mut self) {
        if self.last_publish.elapsed() >= PUBLISH_EVERY {
            self.last_publish = Instant::now();
            let s = self.current_stats();
            if let Ok(mut p) = self.published.lock() {
                *p = s.clone();
            }
            self.events.push((0, OutEvent::Stats(s)));
            self.send_events();
        }
    }

    /// End of input: end every flow and hand over the final counters.
    fn finish(mut self) -> Stats {
        // In pieces, so the output stage writes the first flows while the rest are ended.
        self.send_events();
        let out = &self.out;
        let flow_detectors = &mut self.flow_detectors;
        let detectors = &mut self.detectors;
        let stats = &mut self.stats;
        self.flows.drain_chunks(DRAIN_CHUNK, |records| {
            for d in detectors.iter_mut() {
                records.iter().for_each(|r| d.flow_ended(r.flow_id));
            }
            let mut found = Vec::new();
            for d in flow_detectors.iter_mut() {
                for r in &records {
                    d.flow_ended(r, &mut found);
                }
            }
            let events = records
                .into_iter()
                .map(|r| (0, OutEvent::FlowEnded(r)))
                .chain(found.into_iter().map(|fa| {
                    *stats.alerts.entry(fa.alert.severity).or_default() += 1;
                    (0, OutEvent::FlowAlert(Box::new(fa)))
                }))
                .collect();
            // As in `send`: a gone output thread reports its own error at join.
            let _ = out.send(OutBatch {
                packets: Vec::new(),
                metas: Vec::new(),
                events,
            });
        });
        let mut found = Vec::new();
        for d in &mut self.flow_detectors {
            d.finish(&mut found);
            if let Some(l) = d.export(None) {
                self.events.push((0, OutEvent::Learned(Box::new(l))));
            }
        }
        self.flow_alerts(0, found);
        self.send_events();
        let stats = self.current_stats();
        if let Ok(mut p) = self.published.lock() {
            *p = stats.clone();
        }
        self.events
            .push((0, OutEvent::Finished(stats.clone(), self.last_ts)));
        self.send_events();
        stats
    }
}
