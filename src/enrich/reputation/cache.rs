//! The reputation cache and the daily quota derived from it: every report fetched since
//! midnight UTC is one check spent today, so a restart neither re-spends quota on cached
//! addresses nor forgets what it used. The table lives in the store
//! (`store::reputation_cache`); this adapter speaks in the client's [`Report`].
//!
//! Owned by the reputation worker thread.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::client::Report;
use crate::store::reputation_cache::ReputationCache;

pub use crate::store::reputation_cache::CacheError;

/// Provider name written in the `provider` column.
pub const PROVIDER: &str = "abuseipdb";

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Nanoseconds since the Unix epoch, as the schema stores time.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub struct Cache(ReputationCache);

impl Cache {
    /// Opens (and migrates) the database at `path`, or an in-memory table for `None`.
    pub fn open(path: Option<&Path>, ttl: Duration) -> Result<Cache, CacheError> {
        ReputationCache::open(path, PROVIDER, ttl).map(Cache)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// A report fetched less than the TTL before `now` (nanoseconds).
    pub fn get(&self, ip: IpAddr, now: i64) -> Result<Option<Report>, rusqlite::Error> {
        self.0.get(ip, now)
    }

    pub fn put(&self, r: &Report, now: i64) -> Result<(), rusqlite::Error> {
        self.0.put(r, now)
    }

    /// Checks spent since midnight UTC of `now`.
    pub fn used_today(&self, now: i64) -> Result<u64, rusqlite::Error> {
        self.0.used_today(now)
    }

    /// The UTC day number of `now`, to notice when the quota resets.
    pub fn day(now: i64) -> i64 {
        now.div_euclid(NANOS_PER_DAY)
    }
}
