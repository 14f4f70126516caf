//! Enrichment around the engine: GeoIP locations (MaxMind-format databases), AbuseIPDB
//! reputation (asynchronous, cached, within a daily quota) and local blocklist feeds.
//!
//! Everything here is set up on the main thread at start-up; lookups then run on the
//! aggregator thread (GeoIP, blocklists) or on the reputation worker's runtime (AbuseIPDB).

pub mod addr;
pub mod blocklist;
pub mod geoip;
pub mod reputation;
