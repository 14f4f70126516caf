//! Feature vectors for the learning detectors: per flow at its end (`flow`), per host per
//! window of capture time (`window`). Pure.

pub mod flow;
#[cfg(test)]
pub(crate) mod testutil;
pub mod window;

pub use flow::{human_bytes, schema_hash, FlowFeatures, N_FEATURES, SCHEMA};
pub use window::{HostWindow, N_WINDOW, WINDOW_SCHEMA};
