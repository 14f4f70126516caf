//! Behavioural heuristics over many packets: port, protocol and host scans, login brute force
//! (with SSH login attempts inferred from encrypted sizes),
//! floods (DHCP included), reflection and backscatter, ICMP reconnaissance, OS fingerprinting,
//! DNS tunnelling and unsolicited DNS answers.
//!
//! Each is a `StatefulDetector` run on the aggregator thread in capture order, with per-key state
//! capped and expired by capture time (see `table`).

pub mod backscatter;
pub mod bruteforce;
pub mod dhcp;
pub mod dns_tunnel;
pub mod dns_unsolicited;
pub mod flood;
pub mod os_fingerprint;
pub mod protocol_scan;
pub mod recon_icmp;
pub mod scan;
pub mod ssh_auth;

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod login_tests;
#[cfg(test)]
mod probe_tests;
#[cfg(test)]
mod tests;

pub use backscatter::BackscatterDetector;
pub use bruteforce::BruteForceDetector;
pub use dhcp::DhcpFloodDetector;
pub use dns_tunnel::DnsTunnelDetector;
pub use dns_unsolicited::DnsUnsolicitedDetector;
pub use flood::FloodDetector;
pub use os_fingerprint::OsFingerprintDetector;
pub use protocol_scan::ProtocolScanDetector;
pub use recon_icmp::ReconIcmpDetector;
pub use scan::ScanDetector;
