//! Behavioural heuristics over many packets: port scans and host sweeps, login brute force,
//! floods, DNS tunnelling.
//!
//! Each is a `StatefulDetector` run on the aggregator thread in capture order, with per-key state
//! capped and expired by capture time (see `table`).

pub mod bruteforce;
pub mod dns_tunnel;
pub mod flood;
pub mod scan;

#[cfg(test)]
mod tests;

pub use bruteforce::BruteForceDetector;
pub use dns_tunnel::DnsTunnelDetector;
pub use flood::FloodDetector;
pub use scan::ScanDetector;
