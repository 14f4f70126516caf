//! The SQLite writer thread: receives rows from the output stage (packets, alerts, flows,
//! incidents, GeoIP answers, capture counter snapshots) and commits them in large
//! transactions: the run's one connection that writes, so nothing waits on another's lock.
//!
//! `spawn_writer` starts the thread; it owns the `SqliteStore`. It blocks on the channel when
//! idle and on the disk while committing, never on anyone else. Queued messages are coalesced
//! until `batch_size` rows are pending or `batch_window` has passed since the first of them,
//! then written in one transaction; a `Flush` commits at once and acknowledges after the
//! commit. When every sender is gone it commits the rest, checkpoints the WAL and returns a
//! summary. While it runs, WAL checkpoints (and their waits for the disk) happen on a
//! checkpointer thread (`checkpoint.rs`), not between its commits. On a database error it
//! stops and returns the error (senders then see a closed channel).

use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::checkpoint::Checkpointer;
use super::geo_records::GeoRow;
use super::incidents::IncidentSave;
use super::rows::{AlertRow, CaptureStatsRow, FlowRow};
use super::sqlite::{SideRows, SqliteStore};
use super::StoreError;
use crate::engine::frame::Ts;
use crate::engine::record::PacketRow;

/// One message to the writer.
#[derive(Debug)]
pub enum StoreMsg {
    Packets(Vec<PacketRow>),
    Alerts(Vec<AlertRow>),
    Flows(Vec<FlowRow>),
    /// Incidents opened or changed (the run's incident tracker).
    Incidents(Vec<IncidentSave>),
    /// GeoIP answers of addresses seen (the GeoIP recorder).
    Geo(Vec<GeoRow>),
    /// The capture counters at a stats tick or at the end of a run.
    CaptureStats(CaptureStatsRow),
    /// What the statistical detectors learned (saved over the previous save).
    Profiles(Box<crate::engine::detect::stats::Learned>),
    /// Commit everything received so far, then send `()` back.
    Flush(Sender<()>),
}

/// What the writer did over its lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterSummary {
    pub packets: u64,
    pub alerts: u64,
    pub flows: u64,
    /// Incident saves (a new incident or a change of one).
    pub incident_saves: u64,
    /// GeoIP answers recorded.
    pub geo_rows: u64,
    /// Capture counter snapshots written.
    pub capture_stats: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Rows removed by retention, all tables together.
    pub retention_deleted: u64,
}

/// A commit closes once its rows hold this many bytes, whatever `batch_size` says: 50k packet
/// rows are about 11 MiB (so a packet commit holds about 36k), 50k alert rows with their explanations and evidence several times
/// that, all held until the commit.
const COMMIT_BYTES: usize = 8 << 20;

/// Rows waiting for the next commit.
#[derive(Default)]
struct Pending {
    /// As the messages brought them: appending them to one vector cost a copy of every row.
    packets: Vec<Vec<PacketRow>>,
    packet_rows: usize,
    /// Bytes of the rows held (`approx_bytes`): a commit closes at `COMMIT_BYTES` too.
    bytes: usize,
    alerts: Vec<AlertRow>,
    flows: Vec<FlowRow>,
    incidents: Vec<IncidentSave>,
    geo: Vec<GeoRow>,
    capture_stats: Vec<CaptureStatsRow>,
    /// Only the newest save counts.
    profiles: Option<Box<crate::engine::detect::stats::Learned>>,
    acks: Vec<Sender<()>>,
}

impl Pending {
    fn push(&mut self, msg: StoreMsg) {
        match msg {
            StoreMsg::Packets(v) => {
                self.packet_rows += v.len();
                self.bytes += v.iter().map(PacketRow::approx_bytes).sum::<usize>();
                self.packets.push(v);
            }
            StoreMsg::Alerts(mut v) => {
                self.bytes += v.iter().map(AlertRow::approx_bytes).sum::<usize>();
                self.alerts.append(&mut v);
            }
            StoreMsg::Flows(mut v) => {
                self.bytes += v.iter().map(FlowRow::approx_bytes).sum::<usize>();
                self.flows.append(&mut v);
            }
            StoreMsg::Incidents(mut v) => self.incidents.append(&mut v),
            StoreMsg::Geo(mut v) => self.geo.append(&mut v),
            StoreMsg::CaptureStats(r) => self.capture_stats.push(r),
            StoreMsg::Profiles(l) => self.profiles = Some(l),
            StoreMsg::Flush(ack) => self.acks.push(ack),
        }
    }
    fn rows(&self) -> usize {
        self.packet_rows
            + self.alerts.len()
            + self.flows.len()
            + self.incidents.len()
            + self.geo.len()
            + self.capture_stats.len()
            + self.profiles.as_ref().map_or(0, |l| l.hosts.len() + 2)
    }
}

/// Starts the writer thread (named `sqlite-writer`).
pub fn spawn_writer(
    store: SqliteStore,
    rx: Receiver<StoreMsg>,
) -> JoinHandle<Result<WriterSummary, StoreError>> {
    let run = move || Writer::new(store).run(&rx);
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(run)
        .unwrap_or_else(|e| {
            // The closure (and the store) is gone with the failed spawn; report why on a
            // plain thread so the caller still sees it at join.
            std::thread::spawn(move || Err(StoreError::Spawn(e)))
        })
}

struct Writer {
    store: SqliteStore,
    /// Background WAL checkpoints (file databases); `None` leaves them to SQLite.
    checkpointer: Option<Checkpointer>,
    summary: WriterSummary,
    newest: Option<Ts>,
    batches_since_retention: u32,
}

impl Writer {
    fn new(mut store: SqliteStore) -> Self {
        let checkpointer =
            Checkpointer::start(store.path()).filter(|_| store.hand_over_checkpoints().is_ok());
        Writer {
            store,
            checkpointer,
            summary: WriterSummary::default(),
            newest: None,
            batches_since_retention: 0,
        }
    }

    fn run(mut self, rx: &Receiver<StoreMsg>) -> Result<WriterSummary, StoreError> {
        let batch_size = self.store.options().batch_size.max(1);
        let window = self.store.options().batch_window;
        while let Ok(first) = rx.recv() {
            let mut pending = Pending::default();
            pending.push(first);
            let deadline = Instant::now() + window;
            let mut closed = false;
            while pending.rows() < batch_size
                && pending.bytes < COMMIT_BYTES
                && pending.acks.is_empty()
            {
                match rx.recv_deadline(deadline) {
                    Ok(msg) => pending.push(msg),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            self.commit(pending)?;
            if closed {
                break;
            }
        }
        if let Some(mut c) = self.checkpointer.take() {
            c.stop();
        }
        self.store.checkpoint()?;
        Ok(self.summary)
    }

    fn commit(&mut self, pending: Pending) -> Result<(), StoreError> {
        let data_rows = pending.rows() - pending.capture_stats.len();
        if data_rows > 0 {
            let runs: Vec<&[PacketRow]> = pending.packets.iter().map(Vec::as_slice).collect();
            let side = SideRows {
                incidents: &pending.incidents,
                geo: &pending.geo,
                profiles: pending.profiles.as_deref(),
            };
            self.store
                .write_batch(&runs, &pending.alerts, &pending.flows, side)?;
            self.summary.packets += pending.packet_rows as u64;
            self.summary.alerts += pending.alerts.len() as u64;
            self.summary.flows += pending.flows.len() as u64;
            self.summary.incident_saves += pending.incidents.len() as u64;
            self.summary.geo_rows += pending.geo.len() as u64;
            self.summary.batches += 1;
            let newest = pending.packets.iter().flatten().map(|p| p.ts).max();
            self.newest = self.newest.max(newest);
            self.maybe_retain()?;
            if self
                .checkpointer
                .as_ref()
                .is_some_and(Checkpointer::take_wal_too_long)
            {
                // Best effort: a busy checkpointer means the WAL is being copied already.
                let _ = self.store.checkpoint_passive();
            }
        }
        // After the rows they count, so a reader never sees counters ahead of the data.
        self.store.write_capture_stats(&pending.capture_stats)?;
        self.summary.capture_stats += pending.capture_stats.len() as u64;
        for ack in pending.acks {
            // A flusher that stopped waiting is not an error.
            let _ = ack.send(());
        }
        Ok(())
    }

    fn maybe_retain(&mut self) -> Result<(), StoreError> {
        let every = self.store.options().retention_every_batches;
        if every == 0 {
            return Ok(());
        }
        self.batches_since_retention += 1;
        if self.batches_since_retention < every {
            return Ok(());
        }
        self.batches_since_retention = 0;
        // Before the first packet there is no capture time to measure age against.
        let reference = self.newest.unwrap_or(Ts(i64::MIN));
        let report = self.store.apply_retention(reference)?;
        self.summary.retention_deleted += report.packets + report.alerts + report.flows;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::engine::alert::{Alert, Detector, RuleId, Severity};
    use crate::engine::packet::Proto;
    use crate::store::StoreOptions;

    /// An alert row whose explanation holds `bytes` bytes.
    fn big_alert(n: u64, bytes: usize) -> AlertRow {
        AlertRow {
            alert: Alert {
                ts: Ts(i64::try_from(n).unwrap()),
                rule: RuleId(1_000_001),
                description: Arc::from("d"),
                severity: Severity::Low,
                category: Arc::from("c"),
                detector: Detector::Signature,
                packet: n,
                flow_id: None,
                explanation: "x".repeat(bytes),
                evidence: serde_json::Value::Null,
            },
            evidence: None,
            src: None,
            dst: None,
            src_port: None,
            dst_port: None,
            proto: Proto::Tcp,
        }
    }

    /// Rows are held in memory until their commit: a commit closes at `COMMIT_BYTES` however
    /// few rows that is, so large rows never pile up to `batch_size` of them.
    #[test]
    fn a_commit_closes_at_its_byte_budget_before_its_row_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let opts = StoreOptions {
            batch_size: 1_000_000,
            batch_window: Duration::from_secs(60),
            ..StoreOptions::default()
        };
        let store = SqliteStore::open(&path, &opts).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(64);
        let writer = spawn_writer(store, rx);
        // 40 rows of 1 MiB each: 40 MiB, at most 9 of them per 8 MiB commit.
        for n in 0..40 {
            tx.send(StoreMsg::Alerts(vec![big_alert(n, 1 << 20)]))
                .unwrap();
        }
        drop(tx);
        let summary = writer.join().unwrap().unwrap();
        assert_eq!(summary.alerts, 40);
        assert!(summary.batches >= 5, "{summary:?}");
        let row = big_alert(0, 1 << 20);
        assert!(row.approx_bytes() > 1 << 20);
    }
}
