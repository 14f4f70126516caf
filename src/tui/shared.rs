//! The model shared between the aggregator thread (writer, through `ModelObserver`) and the UI
//! thread (reader), plus a generation counter so the UI redraws only when something changed.
//!
//! The observer never waits for the UI: it buffers packets and hands them over with
//! `try_lock`, taking the lock unconditionally only when its buffer is full. The UI holds the
//! lock only while it refreshes its view and draws one frame.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::engine::flow::{FlowMeta, FlowRecord};
use crate::engine::incident::{Change, Incident};
use crate::engine::model::{Model, ModelConfig};
use crate::engine::record::Analyzed;
use crate::engine::stats::Stats;
use crate::pipeline::observer::Observer;

/// Packets buffered by the observer while the UI holds the lock. Each is a cloned frame plus
/// decoding (about 2 KB for a full-size frame), so the buffer stays under ~8 MB.
const PENDING_MAX: usize = 4096;

/// The model and its generation.
#[derive(Debug)]
pub struct Shared {
    model: Mutex<Model>,
    generation: AtomicU64,
}

impl Shared {
    pub fn new(config: ModelConfig) -> Arc<Shared> {
        Arc::new(Shared {
            model: Mutex::new(Model::new(config)),
            generation: AtomicU64::new(0),
        })
    }
    /// Lock the model; a poisoned lock (a panicking writer) still yields the data.
    pub fn lock(&self) -> MutexGuard<'_, Model> {
        self.model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn try_lock(&self) -> Option<MutexGuard<'_, Model>> {
        match self.model.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    /// Tell the UI the model changed outside the observer.
    pub fn touch(&self) {
        self.bump();
    }
    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// Feeds the shared model from the pipeline's aggregator thread.
pub struct ModelObserver {
    shared: Arc<Shared>,
    pending: Vec<Pending>,
}

/// What waits for the model's lock, in the order it happened.
#[allow(
    clippy::large_enum_variant,
    reason = "nearly every entry is a packet: boxing it would add an allocation per packet"
)]
enum Pending {
    Packet(Analyzed, Option<FlowMeta>),
    Incident(Incident, Change),
}

impl ModelObserver {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            pending: Vec::new(),
        }
    }

    fn flush(&mut self, force: bool) {
        if self.pending.is_empty() {
            return;
        }
        let guard = if force || self.pending.len() >= PENDING_MAX {
            Some(self.shared.lock())
        } else {
            self.shared.try_lock()
        };
        if let Some(mut m) = guard {
            drain_into(&mut self.pending, &mut m);
            drop(m);
            self.shared.bump();
        }
    }
}

/// Applies what waited, in order.
fn drain_into(pending: &mut Vec<Pending>, m: &mut Model) {
    for p in pending.drain(..) {
        match p {
            Pending::Packet(a, flow) => m.apply(&a, flow.as_ref()),
            Pending::Incident(inc, change) => m.incident_changed(&inc, change),
        }
    }
}

impl Observer for ModelObserver {
    fn packet(&mut self, a: &Analyzed, flow: Option<&FlowMeta>) {
        self.pending.push(Pending::Packet(a.clone(), flow.copied()));
        self.flush(false);
    }
    fn incident(&mut self, inc: &Incident, change: Change, _alert: &crate::engine::alert::Alert) {
        // Applied in place while the UI does not hold the model; only otherwise is the
        // incident (with its alert list) cloned to wait.
        if let Some(mut m) = self.shared.try_lock() {
            drain_into(&mut self.pending, &mut m);
            m.incident_changed(inc, change);
            drop(m);
            self.shared.bump();
        } else {
            self.pending.push(Pending::Incident(inc.clone(), change));
        }
    }
    fn flow_ended(&mut self, _r: &FlowRecord) {}
    fn late_alert(&mut self, a: &Analyzed, alert: &crate::engine::alert::Alert) {
        self.flush(true);
        self.shared.lock().late_alert(a, alert);
        self.shared.bump();
    }
    fn stats(&mut self, s: &Stats) {
        self.flush(true);
        self.shared.lock().stats(s);
        self.shared.bump();
    }
    fn finished(&mut self, s: &Stats) {
        self.flush(true);
        let mut m = self.shared.lock();
        m.stats(s);
        m.finished = true;
        drop(m);
        self.shared.bump();
    }
}
