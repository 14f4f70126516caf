//! The `ip_geo` table: one GeoIP answer per address (the `packets_geo` and `alerts_geo` views
//! join it to packets and alerts).
//!
//! Rows are made by the GeoIP recorder on the pipeline's output thread and written by the
//! SQLite writer inside its transactions (`upsert`), so they never contend with the packet,
//! alert and flow rows for the database's write lock.

use std::net::IpAddr;

use rusqlite::{params, Connection};

/// One address's answer as the table keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoRow {
    pub ip: IpAddr,
    /// `public`, or why the address has no location (`private`, `loopback`, …).
    pub scope: &'static str,
    pub country_iso_code: Option<String>,
    pub country_name: Option<String>,
    pub city_name: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    /// When the answer was looked up (ns).
    pub looked_up_at: i64,
}

/// Inserts or replaces `rows` on `conn` (inside the caller's transaction).
pub fn upsert(conn: &Connection, rows: &[GeoRow]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO ip_geo (ip, scope, country_iso_code, country_name, \
         city_name, lat, lon, asn, as_org, looked_up_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for r in rows {
        stmt.execute(params![
            r.ip.to_string(),
            r.scope,
            r.country_iso_code,
            r.country_name,
            r.city_name,
            r.lat,
            r.lon,
            r.asn,
            r.as_org,
            r.looked_up_at
        ])?;
    }
    Ok(())
}
