//! Capture sources: one `Source` trait, a file reader (pcap and pcapng via pcap-file) and a
//! live capture (libpcap via the `pcap` crate). Called only from the capture thread.

pub mod error;
pub mod file;
pub mod filtered;
pub mod live;
pub mod paced;
pub mod pcap_lax;
pub mod prefetch;

pub use error::CaptureError;

use crate::engine::frame::{LinkType, RawFrame};
use crate::engine::stats::CaptureStats;

/// Where frames come from. `next_frame` may block (live capture waits for traffic, up to the
/// read timeout); it returns `Ok(None)` at end of file, or on a live read timeout with nothing
/// captured when `is_live()`.
pub trait Source: Send {
    fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError>;
    /// Human name of the source: the file path or the interface.
    fn name(&self) -> &str;
    /// Whether this source is live capture (drops allowed, never ends by itself).
    fn is_live(&self) -> bool;
    /// Names of the capture interfaces, indexed by `RawFrame::iface`.
    fn interfaces(&self) -> Vec<(String, LinkType)>;
    /// Whether frames arrive through a pipe (standard input, a FIFO): a reader then waits for
    /// a writer that may pause, and the capture thread reads it through `prefetch` so that a
    /// pause still hands the frames so far to the detectors.
    fn is_pipe(&self) -> bool {
        false
    }
    /// Kernel and interface drop counters (live capture); zeros for files.
    fn stats(&mut self) -> CaptureStats {
        CaptureStats::default()
    }
}
