//! The output stage: takes the aggregator's results in capture order and writes them out —
//! the observer (console model), EVE JSON, rows for the SQLite writer (including a snapshot
//! of the capture counters every few seconds and at the end), frames for the pcap logger.
//! Running it on its own thread keeps serialisation off the aggregator, the one stage that
//! cannot be split across cores.
//!
//! Runs on the `output` thread; blocks on its input queue and (file replay) on full sink queues.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Receiver;

use super::observer::Observer;
use super::sinks::{Sinks, PCAP_BATCH, PCAP_BATCH_BYTES, STORE_BATCH, STORE_BATCH_BYTES};
use crate::engine::alert::{highest, Severity};
use crate::engine::detect::FlowAlert;
use crate::engine::flow::{FlowMeta, FlowRecord};
use crate::engine::frame::{RawFrame, Ts};
use crate::engine::record::{Analyzed, PacketRow, ThreatRef};
use crate::engine::stats::Stats;
use crate::enrich::georecord::GeoRecorder;
use crate::store::rows::CaptureStatsRow;
use crate::store::{AlertRow, FlowRow, StoreMsg};

/// A `capture_stats` row at most this often while a run goes on (the aggregator ticks every
/// 250 ms; a row per tick would be 345,600 rows a day). The end of a run always writes one.
const STATS_ROW_EVERY: Duration = Duration::from_secs(5);
/// How long the end of a live run waits for room in the writer's queue for its last
/// `capture_stats` row (file replays block as for every other row).
const FINAL_STATS_WAIT: Duration = Duration::from_secs(2);

/// Something that happened between packets.
pub enum OutEvent {
    FlowEnded(FlowRecord),
    /// An alert about a flow or a host's window (statistical, behavioural, machine learning).
    FlowAlert(Box<FlowAlert>),
    /// What the statistical detectors learned, for the database.
    Learned(Box<crate::engine::detect::stats::Learned>),
    /// Fresh counters for the observer.
    Stats(Stats),
    /// The last event: final counters and the newest capture time.
    Finished(Stats, Ts),
}

/// A batch of the aggregator's results in capture order: the packets with their flows, and
/// events, each placed after the first `n` packets of the batch.
pub struct OutBatch {
    pub packets: Vec<Analyzed>,
    pub metas: Vec<Option<FlowMeta>>,
    pub events: Vec<(usize, OutEvent)>,
}

/// How long a stopped run still waits for reputation checks already in flight.
const STOPPED_REPUTATION_WAIT: Duration = Duration::from_secs(2);

/// What the output stage does besides EVE.
pub struct OutputOptions {
    /// The capture source (interface or file), as `capture_stats` rows name it.
    pub source: Arc<str>,
    /// Interface names indexed by `RawFrame::iface`.
    pub iface_names: Vec<Arc<str>>,
    /// Write a `packets` row per packet (alerts and flows are always written when a db is open).
    pub store_packets: bool,
    /// Sees every packet after analysis (the console's model).
    pub observer: Option<Box<dyn Observer>>,
    /// AbuseIPDB checks: addresses are offered here, late alerts come back here.
    pub reputation: Option<crate::enrich::reputation::Reputation>,
    /// How long the end of the input waits for pending reputation checks.
    pub reputation_wait: std::time::Duration,
    /// Raised by Ctrl-C / SIGTERM: then the wait for pending checks is cut to
    /// `STOPPED_REPUTATION_WAIT`, since the person asked to stop.
    pub stopped: Arc<AtomicBool>,
    /// Writes the GeoIP of each new address to the database's `ip_geo` table.
    pub geo_record: Option<GeoRecorder>,
    /// Live capture: EVE reaches its file within the aggregator's stats tick (a quarter of a
    /// second) and an alert at once.
    pub live: bool,
    /// Live capture writes a `stats` event this often (None: only at the end; a file replay
    /// always, so that its EVE does not depend on how fast it ran).
    pub eve_stats_every: Option<Duration>,
}

pub struct Output {
    sinks: Sinks,
    opts: OutputOptions,
    packet_rows: Vec<PacketRow>,
    alert_rows: Vec<AlertRow>,
    flow_rows: Vec<FlowRow>,
    /// Bytes held by the three row vectors: a message to the writer closes at
    /// `STORE_BATCH_BYTES` as well as at `STORE_BATCH` rows.
    row_bytes: usize,
    pcap_frames: Vec<RawFrame>,
    /// Bytes held by `pcap_frames`.
    pcap_bytes: usize,
    errors: Vec<String>,
    last_stats_row: Option<Instant>,
    /// Late (reputation) alerts by severity: the aggregator's counters never saw them.
    late: BTreeMap<Severity, u64>,
    /// The EVE output failed (a full disk); every event after counts as lost.
    eve_dead: bool,
    /// When the last live `stats` event was written.
    last_eve_stats: Instant,
}

type Eve = crate::output::eve::EveWriter<Box<dyn std::io::Write + Send>>;

/// What the output stage hands back when it ends.
pub struct OutputEnd {
    /// Sink errors met.
    pub errors: Vec<String>,
    /// Alerts that arrived after their packet (AbuseIPDB), by severity, for the run summary.
    pub late_alerts: BTreeMap<Severity, u64>,
}

impl Output {
    pub fn new(sinks: Sinks, mut opts: OutputOptions) -> Self {
        if let (Some(o), Some(link)) = (&mut opts.observer, sinks.store_link()) {
            o.attach_store(&link);
        }
        Output {
            sinks,
            opts,
            packet_rows: Vec::with_capacity(STORE_BATCH),
            alert_rows: Vec::new(),
            flow_rows: Vec::new(),
            row_bytes: 0,
            pcap_frames: Vec::with_capacity(PCAP_BATCH),
            pcap_bytes: 0,
            errors: Vec::new(),
            last_stats_row: None,
            late: BTreeMap::new(),
            eve_dead: false,
            last_eve_stats: Instant::now(),
        }
    }

    /// Write everything until the aggregator hangs up; returns the sink errors met and the
    /// late alerts counted.
    pub fn run(mut self, rx: &Receiver<OutBatch>) -> OutputEnd {
        for mut b in rx {
            let mut events = b.events.into_iter().peekable();
            for (i, (a, meta)) in b.packets.iter_mut().zip(&b.metas).enumerate() {
                while let Some((_, ev)) = events.next_if(|(at, _)| *at <= i) {
                    self.event(ev);
                }
                self.packet(a, meta.as_ref());
            }
            for (_, ev) in events {
                self.event(ev);
            }
            if let Some(r) = &mut self.opts.reputation {
                let found = r.drain();
                self.late_alerts(found);
            }
        }
        self.flush_store();
        self.flush_pcap();
        OutputEnd {
            errors: self.errors,
            late_alerts: self.late,
        }
    }

    fn event(&mut self, ev: OutEvent) {
        match ev {
            OutEvent::FlowEnded(r) => self.flow_ended(&r),
            OutEvent::FlowAlert(fa) => self.flow_alert(*fa),
            OutEvent::Learned(l) => {
                let n = l.hosts.len() + 2;
                self.sinks.store(StoreMsg::Profiles(l), n);
            }
            OutEvent::Stats(s) => {
                if let Some(o) = &mut self.opts.observer {
                    o.stats(&s);
                }
                self.stats_row(&s);
                self.live_eve(&s);
            }
            OutEvent::Finished(s, ts) => self.finish(&s, ts),
        }
    }

    /// Live capture: the periodic `stats` event when it is due, and everything written so far
    /// handed to the file.
    fn live_eve(&mut self, s: &Stats) {
        self.maybe_reopen_eve();
        if !self.opts.live {
            return;
        }
        let due = self
            .opts
            .eve_stats_every
            .is_some_and(|every| self.last_eve_stats.elapsed() >= every);
        if due {
            self.last_eve_stats = Instant::now();
            let now = Ts(wall_ns());
            self.write_eve(1, |eve| eve.stats(s, now));
        }
        self.flush_eve();
    }

    /// After SIGHUP: what EVE holds goes to the old file, and the next events to a file opened
    /// by name (a new one when logrotate moved the old one away). A file that cannot be opened
    /// leaves EVE on the old one, with a warning.
    fn maybe_reopen_eve(&mut self) {
        let Some((path, flag)) = &self.sinks.eve_reopen else {
            return;
        };
        if !flag.swap(false, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let Some(eve) = &mut self.sinks.eve else {
            return;
        };
        match crate::store::safe_file::open_append(path) {
            Ok(f) => {
                let w: Box<dyn std::io::Write + Send> =
                    Box::new(std::io::BufWriter::with_capacity(1 << 16, f));
                if let Err(e) = eve.switch_to(w) {
                    self.eve_failed(&e, 0);
                } else {
                    tracing::info!("EVE output reopened: {}", path.display());
                }
            }
            Err(e) => tracing::warn!(
                "EVE output not reopened ({e}); still writing to the file it had open"
            ),
        }
    }

    /// Hands what EVE holds to the file (live capture).
    fn flush_eve(&mut self) {
        if let Some(eve) = &mut self.sinks.eve {
            if let Err(e) = eve.flush() {
                self.eve_failed(&e, 0);
            }
        }
    }

    /// Writes `events` EVE events with `write`; after a failure, counts them as lost.
    fn write_eve(&mut self, events: u64, write: impl FnOnce(&mut Eve) -> std::io::Result<()>) {
        if events == 0 {
            return;
        }
        match &mut self.sinks.eve {
            Some(eve) => {
                if let Err(e) = write(eve) {
                    self.eve_failed(&e, events);
                }
            }
            None if self.eve_dead => {
                super::counters::SharedCounters::add(&self.sinks.counters.eve_lost, events);
            }
            None => {}
        }
    }

    fn eve_failed(&mut self, e: &std::io::Error, events: u64) {
        self.errors.push(format!(
            "EVE output: {e}; EVE disabled for the rest of the run"
        ));
        self.sinks.eve = None;
        self.eve_dead = true;
        super::counters::SharedCounters::add(&self.sinks.counters.eve_lost, events);
    }

    fn packet(&mut self, a: &mut Analyzed, meta: Option<&FlowMeta>) {
        if let Some(o) = &mut self.opts.observer {
            o.packet(a, meta);
        }
        if let Some(r) = &mut self.opts.reputation {
            r.observe(a, meta.map(|m| m.flow_id));
        }
        // The answers the `packets_geo` and `alerts_geo` views join: the addresses of the
        // packet and alert rows the database keeps.
        let geo_wanted = self.opts.store_packets || !a.alerts.is_empty();
        if let Some(rows) = self
            .opts
            .geo_record
            .as_mut()
            .filter(|_| geo_wanted)
            .and_then(|g| g.observe(a))
        {
            let n = rows.len();
            self.sinks.store(StoreMsg::Geo(rows), n);
        }
        let events = a.alerts.len() as u64
            + u64::from(a.decoded.dns.is_some())
            + u64::from(a.decoded.app.is_some())
            + a.stream_http.len() as u64;
        self.write_eve(events, |eve| {
            let mut res = Ok(());
            for al in &a.alerts {
                res = res.and(eve.alert(a, al, meta));
            }
            if a.decoded.dns.is_some() {
                res = res.and(eve.dns(a, meta));
            }
            if a.decoded.app.is_some() {
                res = res.and(eve.app(a, meta));
            }
            if !a.stream_http.is_empty() {
                res = res.and(eve.stream_http(a, meta));
            }
            res
        });
        // Live capture: an alert reaches the file at once (a SIEM sees it while it matters).
        if !a.alerts.is_empty() && self.opts.live {
            self.flush_eve();
        }
        if self.sinks.store.is_some() {
            self.store_rows(a, meta.map(|m| m.flow_id));
        }
        if self.sinks.pcap.is_some() {
            // The packet is done with: hand its bytes to the logger without copying them.
            let f = &mut a.frame;
            self.pcap_bytes += f.data.len();
            self.pcap_frames.push(RawFrame {
                data: std::mem::take(&mut f.data),
                ..*f
            });
            if self.pcap_frames.len() >= PCAP_BATCH || self.pcap_bytes >= PCAP_BATCH_BYTES {
                self.flush_pcap();
            }
        }
    }

    fn store_rows(&mut self, a: &Analyzed, flow_id: Option<u64>) {
        // Without packet rows, only a packet with alerts needs its row (the alerts copy it).
        if !self.opts.store_packets && a.alerts.is_empty() {
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
            self.push_alert_row(AlertRow::of_packet(al, &row));
        }
        if self.opts.store_packets {
            self.row_bytes += row.approx_bytes();
            self.packet_rows.push(row);
        }
        self.flush_store_if_full();
    }

    fn flow_ended(&mut self, r: &FlowRecord) {
        if let Some(o) = &mut self.opts.observer {
            o.flow_ended(r);
        }
        self.write_eve(1, |eve| eve.flow(r));
        if self.sinks.store.is_some() {
            let row = flow_row(r);
            self.row_bytes += row.approx_bytes();
            self.flow_rows.push(row);
            self.flush_store_if_full();
        }
    }

    fn finish(&mut self, s: &Stats, ts: Ts) {
        let mut s = s.clone();
        if let Some(mut r) = self.opts.reputation.take() {
            let found = r.finish_unless_stopped(
                self.opts.reputation_wait,
                &self.opts.stopped,
                STOPPED_REPUTATION_WAIT,
            );
            self.late_alerts(found);
            tracing::info!("{}", r.status().snapshot().line());
        }
        // Every late alert of the run, not only those the final wait brought.
        for (sev, n) in &self.late {
            *s.alerts.entry(*sev).or_default() += n;
        }
        if let Some(rows) = self.opts.geo_record.as_mut().map(GeoRecorder::take) {
            let n = rows.len();
            if n > 0 {
                self.sinks.store(StoreMsg::Geo(rows), n);
            }
        }
        let s = &s;
        self.flush_store();
        self.final_stats_row(s);
        self.flush_pcap();
        self.write_eve(1, |eve| eve.stats(s, ts).and_then(|()| eve.flush()));
        if let Some(o) = &mut self.opts.observer {
            o.finished(s);
        }
    }

    /// An alert about traffic rather than a packet: written, stored and grouped as the alert of
    /// a packet carrying the addresses it is about.
    fn flow_alert(&mut self, fa: FlowAlert) {
        let a = fa.as_packet();
        let meta = fa.alert.flow_id.map(|flow_id| FlowMeta {
            flow_id,
            community_id: fa.community_id(0),
            app_proto: None,
            counts: fa.counts.unwrap_or_default(),
        });
        if let Some(o) = &mut self.opts.observer {
            o.late_alert(&a, &fa.alert);
        }
        self.write_eve(1, |eve| eve.alert(&a, &fa.alert, meta.as_ref()));
        if self.opts.live {
            self.flush_eve();
        }
        if self.sinks.store.is_some() {
            self.push_alert_row(AlertRow::for_decoded(fa.alert, &a.decoded));
            self.flush_store_if_full();
        }
    }

    /// Reputation alerts raised after their packet was written.
    fn late_alerts(&mut self, found: Vec<crate::enrich::reputation::Finding>) {
        for f in found {
            *self.late.entry(f.alert.severity).or_default() += 1;
            if let Some(o) = &mut self.opts.observer {
                o.late_alert(&f.packet, &f.alert);
            }
            self.write_eve(1, |eve| eve.alert(&f.packet, &f.alert, None));
            if self.sinks.store.is_some() {
                self.push_alert_row(AlertRow::for_decoded(f.alert, &f.packet.decoded));
            }
        }
    }

    fn push_alert_row(&mut self, row: AlertRow) {
        self.row_bytes += row.approx_bytes();
        self.alert_rows.push(row);
    }

    /// Sends the rows held once a kind reaches `STORE_BATCH` rows or all of them
    /// `STORE_BATCH_BYTES`: alert rows carry their explanation and evidence, several times the
    /// size of a packet row, so a count alone would let the queue hold several times its budget.
    fn flush_store_if_full(&mut self) {
        if self.packet_rows.len() >= STORE_BATCH
            || self.alert_rows.len() >= STORE_BATCH
            || self.flow_rows.len() >= STORE_BATCH
            || self.row_bytes >= STORE_BATCH_BYTES
        {
            self.flush_store();
        }
    }

    fn flush_store(&mut self) {
        self.row_bytes = 0;
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

    /// Sends the capture counters to the SQLite writer, at most every `STATS_ROW_EVERY`.
    fn stats_row(&mut self, s: &Stats) {
        if self.sinks.store.is_none()
            || self
                .last_stats_row
                .is_some_and(|t| t.elapsed() < STATS_ROW_EVERY)
        {
            return;
        }
        self.last_stats_row = Some(Instant::now());
        // Rows queued before the counters go first, so the row never runs ahead of them.
        self.flush_store();
        let row = CaptureStatsRow::from_stats(wall_ns(), &self.opts.source, s, false);
        self.sinks.store(StoreMsg::CaptureStats(row), 1);
    }

    /// The run's last counters: waits briefly for room even in live capture, where every
    /// other row is dropped when the writer lags, since this row is the run's health record.
    fn final_stats_row(&mut self, s: &Stats) {
        let Some(tx) = &self.sinks.store else { return };
        let row = CaptureStatsRow::from_stats(wall_ns(), &self.opts.source, s, true);
        if tx
            .send_timeout(StoreMsg::CaptureStats(row), FINAL_STATS_WAIT)
            .is_err()
        {
            crate::pipeline::counters::SharedCounters::add(&self.sinks.counters.db_drops, 1);
        }
    }

    fn flush_pcap(&mut self) {
        if !self.pcap_frames.is_empty() {
            self.pcap_bytes = 0;
            let frames = std::mem::replace(&mut self.pcap_frames, Vec::with_capacity(PCAP_BATCH));
            self.sinks.pcap(frames);
        }
    }
}

/// Wall-clock nanoseconds since the epoch, for `capture_stats.ts` (when a run's counters
/// were read; never used for detection).
fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The `flows` table row of an ended flow.
fn flow_row(r: &FlowRecord) -> FlowRow {
    FlowRow {
        flow_id: r.flow_id,
        community_id: r.community_id.to_string(),
        proto: r.proto(),
        src: r.src_ip,
        src_port: r.src_port,
        dst: r.dest_ip,
        dst_port: r.dest_port,
        pkts_toserver: r.pkts_toserver,
        pkts_toclient: r.pkts_toclient,
        bytes_toserver: r.bytes_toserver,
        bytes_toclient: r.bytes_toclient,
        state: r.tcp.map_or_else(|| r.state.as_str(), |t| t.state.as_str()),
        first_ts: r.start,
        last_ts: r.end,
        reason: r.reason.as_str(),
    }
}
