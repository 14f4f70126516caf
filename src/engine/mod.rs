//! The pure engine: bytes and timestamps in, values out.
//!
//! Nothing in here performs IO (no capture, files, sockets, processes, database or terminal)
//! or reads the clock; a test scans these files for forbidden imports. Called from the
//! analysis workers and the aggregator thread.

pub mod alert;
pub mod applayer;
pub mod community_id;
pub mod decode;
pub mod detect;
pub mod features;
pub mod filter;
pub mod flow;
pub mod frame;
pub mod incident;
pub mod model;
pub mod packet;
pub mod record;
pub mod response_metrics;
pub mod stats;
pub mod stream;
pub mod text;

pub use alert::{Alert, Detector, RuleId, Severity};
pub use frame::{LinkType, RawFrame, Ts};
pub use packet::{Decoded, Proto};
