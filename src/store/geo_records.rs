//! The `ip_geo` table: one GeoIP answer per address (the `packets_geo` and `alerts_geo` views
//! join it to packets and alerts), written in batches on a connection of its own.
//!
//! Owned by the GeoIP recorder's writer thread; it blocks on the disk and on the database's
//! write lock (busy time-out 5 s), never on the output stage.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

/// One address's answer as the table keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoRow<'a> {
    pub ip: IpAddr,
    /// `public`, or why the address has no location (`private`, `loopback`, …).
    pub scope: &'a str,
    pub country_iso_code: Option<&'a str>,
    pub country_name: Option<&'a str>,
    pub city_name: Option<&'a str>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub asn: Option<u32>,
    pub as_org: Option<&'a str>,
}

/// A side connection for `ip_geo` rows.
pub struct GeoRecords {
    conn: Connection,
    path: PathBuf,
}

impl GeoRecords {
    /// Opens its own connection to the database at `db` (a side connection: migrated, the
    /// packet writer's durability, checkpoints left to the packet writer).
    pub fn open(db: &Path) -> Result<GeoRecords, String> {
        Ok(GeoRecords {
            conn: super::sqlite::open_side(db).map_err(|e| e.to_string())?,
            path: db.to_path_buf(),
        })
    }

    /// Upserts `rows` in one transaction (each one takes the database's write lock away from
    /// the packet writer), stamped `looked_up_at = now` (ns).
    pub fn write<'a>(
        &mut self,
        rows: impl Iterator<Item = GeoRow<'a>>,
        now: i64,
    ) -> Result<u64, String> {
        let path = &self.path;
        let err = |e: rusqlite::Error| format!("writing ip_geo in {}: {e}", path.display());
        let tx = self.conn.transaction().map_err(err)?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO ip_geo (ip, scope, country_iso_code, country_name, \
                     city_name, lat, lon, asn, as_org, looked_up_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(err)?;
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
                    now
                ])
                .map_err(err)?;
                n += 1;
            }
        }
        tx.commit().map_err(err)?;
        Ok(n)
    }
}
