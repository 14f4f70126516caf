//! The aggregator: the single writer of flow state, stateful detectors and counters. Restores
//! capture order across workers, then for each packet updates its flow, runs the stateful
//! detectors, keeps the highest threat, and fans out to EVE, SQLite and the pcap logger.
//!
//! Runs on its own thread; blocks only on its input queue and (file replay) on full sink queues.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::observer::Observer;
use super::sinks::{Sinks, PCAP_BATCH, STORE_BATCH};
use super::worker::AnalyzedBatch;
use crate::engine::alert::highest;
use crate::engine::detect::{FlowCtx, StatefulDetector};
use crate::engine::flow::{FlowRecord, FlowTable};
use crate::engine::frame::{RawFrame, Ts};
use crate::engine::record::{Analyzed, PacketRow, ThreatRef};
use crate::engine::stats::Stats;
use crate::store::{AlertRow, FlowRow, StoreMsg};

/// What the aggregator does with each packet besides counting it.
pub struct AggregatorOptions {
    /// Interface names indexed by `RawFrame::iface`.
    pub iface_names: Vec<Arc<str>>,
    /// Write a `packets` row per packet (alerts and flows are always written when a db is open).
    pub store_packets: bool,
    /// Sees every packet after analysis (the console's model).
    pub observer: Option<Box<dyn Observer>>,
}

pub struct Aggregator {
    flows: FlowTable,
    detectors: Vec<Box<dyn StatefulDetector>>,
    sinks: Sinks,
    opts: AggregatorOptions,
    stats: Stats,
    published: Arc<Mutex<Stats>>,
    last_publish: Instant,
    last_expire_sec: i64,
    last_ts: Ts,
    packet_rows: Vec<PacketRow>,
    alert_rows: Vec<AlertRow>,
    flow_rows: Vec<FlowRow>,
    pcap_frames: Vec<RawFrame>,
    /// Sink errors (EVE write failures), reported once at the end.
    pub errors: Vec<String>,
}

impl Aggregator {
    pub fn new(
        flows: FlowTable,
        detectors: Vec<Box<dyn StatefulDetector>>,
        sinks: Sinks,
        opts: AggregatorOptions,
        published: Arc<Mutex<Stats>>,
    ) -> Self {
        Aggregator {
            flows,
            detectors,
            sinks,
            opts,
            stats: Stats::default(),
            published,
            last_publish: Instant::now(),
            last_expire_sec: i64::MIN,
            last_ts: Ts(0),
            packet_rows: Vec::with_capacity(STORE_BATCH),
            alert_rows: Vec::new(),
            flow_rows: Vec::new(),
            pcap_frames: Vec::with_capacity(PCAP_BATCH),
            errors: Vec::new(),
        }
    }

    /// Consume batches until every worker has hung up, in sequence order.
    pub fn run(mut self, rx: &Receiver<AnalyzedBatch>) -> (Stats, Vec<String>) {
        let mut pending: BTreeMap<u64, Vec<Analyzed>> = BTreeMap::new();
        let mut next = 0u64;
        for batch in rx {
            pending.insert(batch.seq, batch.packets);
            while let Some(packets) = pending.remove(&next) {
                next += 1;
                for a in packets {
                    self.process(a);
                }
            }
            self.maybe_publish();
        }
        // Sequence gaps can only come from dropped batches, which never reach workers; still,
        // never lose what arrived.
        for (_, packets) in std::mem::take(&mut pending) {
            for a in packets {
                self.process(a);
            }
        }
        self.finish()
    }

    pub fn process(&mut self, mut a: Analyzed) {
        self.stats.decoder.record(&a.frame, &a.decoded);
        let ts = a.frame.ts;
        self.last_ts = self.last_ts.max(ts);
        let update = self.flows.update(ts, &a.decoded, a.frame.orig_len);
        let ctx = update.as_ref().map(|u| FlowCtx {
            flow_id: u.flow_id,
            is_new: u.is_new,
            to_server: u.to_server,
            pkts_toserver: u.pkts_toserver,
            pkts_toclient: u.pkts_toclient,
            bytes_toserver: u.bytes_toserver,
            bytes_toclient: u.bytes_toclient,
            established: u.established,
        });
        let mut alerts = std::mem::take(&mut a.alerts);
        for d in &mut self.detectors {
            d.observe(&a, ctx.as_ref(), &mut alerts);
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
        let meta = update.as_ref().map(|u| &u.meta);
        if let Some(o) = &mut self.opts.observer {
            o.packet(&a, meta);
        }
        self.emit_eve(&a, meta);
        self.emit_store(&a, flow_id);
        let a_frame = a.frame;
        self.pcap_frames.push(a_frame);
        if self.pcap_frames.len() >= PCAP_BATCH {
            self.flush_pcap();
        }
        if ts.secs() != self.last_expire_sec {
            self.last_expire_sec = ts.secs();
            let ended = self.flows.expire(ts);
            self.emit_flows(ended);
        }
    }

    fn emit_eve(&mut self, a: &Analyzed, meta: Option<&crate::engine::flow::FlowMeta>) {
        let Some(eve) = &mut self.sinks.eve else {
            return;
        };
        let mut res = Ok(());
        for al in &a.alerts {
            res = res.and(eve.alert(a, al, meta));
        }
        if a.decoded.dns.is_some() {
            res = res.and(eve.dns(a, meta));
        }
        if let Err(e) = res {
            self.errors.push(format!(
                "EVE output: {e}; EVE disabled for the rest of the run"
            ));
            self.sinks.eve = None;
        }
    }

    fn emit_store(&mut self, a: &Analyzed, flow_id: Option<u64>) {
        if self.sinks.store.is_none() {
            return;
        }
        let iface = self
            .opts
            .iface_names
            .get(a.frame.iface as usize)
            .cloned()
            .unwrap_or_else(|| "".into());
        let threat = highest(&a.alerts).map(|t| ThreatRef {
            rule: t.rule,
            severity: t.severity,
            category: t.category.clone(),
        });
        let row = PacketRow::new(a, iface, flow_id, threat);
        for al in &a.alerts {
            self.alert_rows.push(AlertRow::for_packet(al.clone(), &row));
        }
        if self.opts.store_packets {
            self.packet_rows.push(row);
        }
        if self.packet_rows.len() >= STORE_BATCH || self.alert_rows.len() >= STORE_BATCH {
            self.flush_store();
        }
    }

    fn emit_flows(&mut self, ended: Vec<FlowRecord>) {
        for r in ended {
            if let Some(o) = &mut self.opts.observer {
                o.flow_ended(&r);
            }
            if let Some(eve) = &mut self.sinks.eve {
                if let Err(e) = eve.flow(&r) {
                    self.errors.push(format!(
                        "EVE output: {e}; EVE disabled for the rest of the run"
                    ));
                    self.sinks.eve = None;
                }
            }
            if self.sinks.store.is_some() {
                self.flow_rows.push(flow_row(&r));
            }
        }
        if self.flow_rows.len() >= STORE_BATCH {
            self.flush_store();
        }
    }

    fn flush_store(&mut self) {
        if !self.packet_rows.is_empty() {
            let rows = std::mem::replace(&mut self.packet_rows, Vec::with_capacity(STORE_BATCH));
            let n = rows.len();
            self.sinks.store(StoreMsg::Packets(rows), n);
        }
        if !self.alert_rows.is_empty() {
            let rows = std::mem::take(&mut self.alert_rows);
            let n = rows.len();
            self.sinks.store(StoreMsg::Alerts(rows), n);
        }
        if !self.flow_rows.is_empty() {
            let rows = std::mem::take(&mut self.flow_rows);
            let n = rows.len();
            self.sinks.store(StoreMsg::Flows(rows), n);
        }
    }

    fn flush_pcap(&mut self) {
        if !self.pcap_frames.is_empty() {
            let frames = std::mem::replace(&mut self.pcap_frames, Vec::with_capacity(PCAP_BATCH));
            self.sinks.pcap(frames);
        }
    }

    fn current_stats(&mut self) -> Stats {
        self.stats.capture = self.sinks.counters.capture();
        self.stats.db_drops = self
            .sinks
            .counters
            .db_drops
            .load(std::sync::atomic::Ordering::Relaxed);
        self.stats.flow = self.flows.stats();
        self.stats.clone()
    }

    fn maybe_publish(&mut self) {
        if self.last_publish.elapsed() >= Duration::from_millis(250) {
            self.last_publish = Instant::now();
            let s = self.current_stats();
            if let Some(o) = &mut self.opts.observer {
                o.stats(&s);
            }
            if let Ok(mut p) = self.published.lock() {
                *p = s;
            }
        }
    }

    /// End of input: end every flow, write the final stats event, flush all sinks.
    fn finish(mut self) -> (Stats, Vec<String>) {
        let ended = self.flows.drain();
        self.emit_flows(ended);
        self.flush_store();
        self.flush_pcap();
        let stats = self.current_stats();
        if let Some(eve) = &mut self.sinks.eve {
            if let Err(e) = eve.stats(&stats, self.last_ts).and_then(|()| eve.flush()) {
                self.errors.push(format!("EVE output: {e}"));
            }
        }
        if let Some(o) = &mut self.opts.observer {
            o.finished(&stats);
        }
        if let Ok(mut p) = self.published.lock() {
            *p = stats.clone();
        }
        (stats, self.errors)
    }
}

/// The `flows` table row of an ended flow.
fn flow_row(r: &FlowRecord) -> FlowRow {
    FlowRow {
        flow_id: r.flow_id,
        community_id: r.community_id.to_string(),
        proto: r.proto().name(),
        src: r.src_ip,
        src_port: r.src_port,
        dst: r.dest_ip,
        dst_port: r.dest_port,
        pkts_toserver: r.pkts_toserver,
        pkts_toclient: r.pkts_toclient,
        bytes_toserver: r.bytes_toserver,
        bytes_toclient: r.bytes_toclient,
        state: r.tcp.map_or_else(
            || r.state.as_str().to_string(),
            |t| t.state.as_str().to_string(),
        ),
        first_ts: r.start,
        last_ts: r.end,
        reason: r.reason.as_str().to_string(),
    }
}
