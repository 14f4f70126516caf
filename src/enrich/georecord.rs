//! Records the GeoIP answer of every address seen into the database's `ip_geo` table (one row
//! per address; the `packets_geo` and `alerts_geo` views join it to packets and alerts), so
//! the packet insert path stays as fast as without GeoIP.
//!
//! `GeoRecorder` lives on the output thread: it looks each new address up (cached) and hands
//! batches to a writer thread with its own SQLite connection over a bounded channel; a full
//! channel drops the batch and counts it rather than holding up the output.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::geoip::{Geo, GeoIp};
use super::reputation::cache::now_nanos;
use crate::engine::record::Analyzed;
use crate::store::geo_records::{GeoRecords, GeoRow};

/// Addresses per message to the writer.
const BATCH: usize = 256;
/// Addresses remembered as recorded; past this the memory starts over (rows are upserts, so an
/// address seen again is only recorded again). 114,688 is what 131,072 hash buckets hold
/// without growing: about 3 MB (500,000 grew the table to a million buckets, 22 MB, kept after
/// each clear).
const SEEN_CAP: usize = 114_688;

pub struct GeoRecorder {
    geo: Arc<GeoIp>,
    /// Two lookups per packet on the output thread: ahash, keyed per process, not SipHash.
    seen: HashSet<IpAddr, ahash::RandomState>,
    batch: Vec<(IpAddr, Geo)>,
    tx: Option<Sender<Vec<(IpAddr, Geo)>>>,
    join: Option<JoinHandle<Result<u64, String>>>,
    /// Addresses lost to a full writer queue.
    pub dropped: Arc<AtomicU64>,
}

impl GeoRecorder {
    /// Opens its own connection to the (already migrated) database at `db`.
    pub fn start(db: &Path, geo: Arc<GeoIp>) -> Result<GeoRecorder, String> {
        let records = GeoRecords::open(db)?;
        let (tx, rx) = bounded(64);
        let join = std::thread::Builder::new()
            .name("geo-record".into())
            .spawn(move || write_loop(records, &rx))
            .map_err(|e| format!("starting the GeoIP recorder: {e}"))?;
        Ok(GeoRecorder {
            geo,
            seen: HashSet::with_hasher(ahash::RandomState::new()),
            batch: Vec::with_capacity(BATCH),
            tx: Some(tx),
            join: Some(join),
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues the packet's addresses not recorded yet. Never blocks.
    pub fn observe(&mut self, a: &Analyzed) {
        let Some(ip) = a.decoded.ip else { return };
        for addr in [ip.src, ip.dst] {
            if self.seen.insert(addr) {
                self.batch.push((addr, self.geo.lookup(addr)));
            }
        }
        if self.seen.len() >= SEEN_CAP {
            self.seen.clear();
        }
        if self.batch.len() >= BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let Some(tx) = &self.tx else { return };
        let rows = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let n = rows.len() as u64;
        match tx.try_send(rows) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(n, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => self.tx = None,
        }
    }

    /// Writes what is left and waits for the writer; returns the rows written or its error.
    pub fn finish(mut self) -> Result<u64, String> {
        if let Some(tx) = self.tx.take() {
            let rows = std::mem::take(&mut self.batch);
            if !rows.is_empty() {
                // The end of the run may wait for the disk.
                let _ = tx.send(rows);
            }
        }
        match self.join.take() {
            Some(j) => j
                .join()
                .map_err(|_| "the GeoIP recorder panicked".to_string())?,
            None => Ok(0),
        }
    }
}

fn write_loop(mut records: GeoRecords, rx: &Receiver<Vec<(IpAddr, Geo)>>) -> Result<u64, String> {
    let mut written = 0u64;
    for mut rows in rx {
        // Everything queued goes in one transaction.
        while let Ok(more) = rx.try_recv() {
            rows.extend(more);
        }
        let stored = rows.iter().map(|(ip, g)| {
            let i = g.info();
            GeoRow {
                ip: *ip,
                scope: match g {
                    Geo::Scope(s) => s.as_str(),
                    _ => "public",
                },
                country_iso_code: i.and_then(|x| x.country_iso_code.as_deref()),
                country_name: i.and_then(|x| x.country_name.as_deref()),
                city_name: i.and_then(|x| x.city_name.as_deref()),
                lat: i.and_then(|x| x.location.map(|l| l.lat)),
                lon: i.and_then(|x| x.location.map(|l| l.lon)),
                asn: i.and_then(|x| x.asn),
                as_org: i.and_then(|x| x.as_org.as_deref()),
            }
        });
        written += records.write(stored, now_nanos())?;
    }
    Ok(written)
}
