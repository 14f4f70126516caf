//! The run's response metrics shared between the threads that act (the enforcer, the response
//! worker) and those that report (EVE stats, the console's overview): the one lock around the
//! engine's pure [`ResponseMetrics`] value. Taken briefly, once per action or report.

use std::sync::{Arc, Mutex};

pub use crate::engine::response_metrics::ResponseMetrics;

/// The run's metrics, shared between the threads that act and those that report.
pub type SharedMetrics = Arc<Mutex<ResponseMetrics>>;

/// A new, empty shared metrics handle.
pub fn shared() -> SharedMetrics {
    Arc::new(Mutex::new(ResponseMetrics::default()))
}

/// A copy of the metrics now (a poisoned lock still holds whole counts).
pub fn snapshot(m: &SharedMetrics) -> ResponseMetrics {
    m.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Apply `f` to the shared metrics.
pub fn update(m: &SharedMetrics, f: impl FnOnce(&mut ResponseMetrics)) {
    f(&mut m.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
}
