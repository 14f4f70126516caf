//! The reputation cache's table (`reputation_cache`): reports by address and provider, and the
//! count of checks fetched since midnight UTC, from which the reputation client derives its
//! daily quota.
//!
//! Owned by the reputation worker thread, on a connection of its own (the database runs in
//! WAL mode beside the SQLite writer). Without a database file it keeps the table in memory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::schema;

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// One provider's report on one address (AbuseIPDB's answer), as the table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ip: IpAddr,
    /// abuseConfidenceScore, 0 to 100.
    pub score: u8,
    pub total_reports: u64,
    pub isp: Option<String>,
    pub usage_type: Option<String>,
    pub country_code: Option<String>,
    /// The parsed fields of the provider's answer, as JSON (never the answer as received).
    pub raw: String,
}

#[derive(Debug, thiserror::Error)]
#[error("reputation cache {path}: {source}")]
pub struct CacheError {
    pub path: PathBuf,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

pub struct ReputationCache {
    conn: Connection,
    path: PathBuf,
    provider: &'static str,
    ttl: Duration,
}

impl ReputationCache {
    /// Opens (and migrates) the database at `path`, or an in-memory table for `None`, for the
    /// reports of `provider`, kept `ttl`.
    pub fn open(
        path: Option<&Path>,
        provider: &'static str,
        ttl: Duration,
    ) -> Result<ReputationCache, CacheError> {
        let shown = path.map_or_else(|| PathBuf::from(":memory:"), Path::to_path_buf);
        let err = |e: Box<dyn std::error::Error + Send + Sync>| CacheError {
            path: shown.clone(),
            source: e,
        };
        let mut conn = match path {
            Some(p) => super::sqlite::connect(p).map_err(|e| err(Box::new(e)))?,
            None => Connection::open_in_memory().map_err(|e| err(Box::new(e)))?,
        };
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| err(Box::new(e)))?;
        if path.is_some() {
            // Whatever mode the writer chose persists; WAL lets both write without blocking
            // readers. Failure here only costs concurrency.
            let _ = conn.pragma_update(None, "journal_mode", "WAL");
        }
        schema::migrate(&mut conn, &shown, schema::MIGRATIONS).map_err(|e| err(Box::new(e)))?;
        Ok(ReputationCache {
            conn,
            path: shown,
            provider,
            ttl,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A report fetched less than the TTL before `now` (nanoseconds).
    pub fn get(&self, ip: IpAddr, now: i64) -> Result<Option<Report>, rusqlite::Error> {
        let ttl = i64::try_from(self.ttl.as_nanos()).unwrap_or(i64::MAX);
        self.conn
            .query_row(
                "SELECT score, reports, isp, usage_type, country, raw FROM reputation_cache \
                 WHERE ip = ?1 AND provider = ?2 AND fetched_at > ?3",
                params![ip.to_string(), self.provider, now.saturating_sub(ttl)],
                |r| {
                    Ok(Report {
                        ip,
                        score: u8::try_from(r.get::<_, i64>(0)?.clamp(0, 100)).unwrap_or(0),
                        total_reports: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                        isp: r.get(2)?,
                        usage_type: r.get(3)?,
                        country_code: r.get(4)?,
                        raw: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    })
                },
            )
            .optional()
    }

    pub fn put(&self, r: &Report, now: i64) -> Result<(), rusqlite::Error> {
        self.conn.execute(
            "INSERT OR REPLACE INTO reputation_cache \
             (ip, provider, score, reports, isp, usage_type, country, fetched_at, raw) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                r.ip.to_string(),
                self.provider,
                i64::from(r.score),
                i64::try_from(r.total_reports).unwrap_or(i64::MAX),
                r.isp,
                r.usage_type,
                r.country_code,
                now,
                r.raw
            ],
        )?;
        Ok(())
    }

    /// Checks spent since midnight UTC of `now`.
    pub fn used_today(&self, now: i64) -> Result<u64, rusqlite::Error> {
        let day_start = now - now.rem_euclid(NANOS_PER_DAY);
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM reputation_cache WHERE provider = ?1 AND fetched_at >= ?2",
            params![self.provider, day_start],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
