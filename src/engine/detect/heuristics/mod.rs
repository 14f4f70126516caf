//! Behavioural heuristics over many packets: port, protocol and host scans, login brute force,
//! floods (DHCP included), DNS tunnelling.
//!
//! Each is a `StatefulDetector` run on the aggregator thread in capture order, with per-key state
//! capped and expired by capture time (see `table`).

pub mod bruteforce;
pub mod dhcp;
pub mod dns_tunnel;
pub mod flood;
pub mod protocol_scan;
pub mod scan;

#[cfg(test)]
mod tests;

pub use bruteforce::BruteForceDetector;
pub use dhcp::DhcpFloodDetector;
pub use dns_tunnel::DnsTunnelDetector;
pub use flood::FloodDetector;
pub use protocol_scan::ProtocolScanDetector;
pub use scan::ScanDetector;
