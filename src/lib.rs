//! nsm-tui: network security monitoring for the terminal.
//!
//! `engine` is pure (bytes and timestamps in, values out); `capture`, `pipeline`, `store`,
//! `output` and `config` are the IO around it; `cli` and `run` turn arguments into runs. The
//! binary in `main.rs` only parses arguments and calls into here.

pub mod app;
pub mod capture;
pub mod config;
pub mod engine;
pub mod enrich;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod respond;
pub mod store;
pub mod synth;
pub mod tui;
