//! Records the GeoIP answer of every address of a packet or alert row the database keeps into
//! its `ip_geo` table (one row per address; the `packets_geo` and `alerts_geo` views join it
//! to packets and alerts), so the packet insert path stays as fast as without GeoIP.
//!
//! `GeoRecorder` lives on the output thread: it looks each new address up (cached) and hands
//! back batches of rows, which the output stage queues for the SQLite writer beside the
//! packet, alert and flow rows (one connection, one write lock, the same transactions).

use std::collections::HashSet;
use std::net::IpAddr;

use std::sync::Arc;

use super::geoip::{Geo, GeoIp};
use super::reputation::cache::now_nanos;
use crate::engine::record::Analyzed;
use crate::store::geo_records::GeoRow;

/// Addresses per batch handed to the writer.
pub const BATCH: usize = 256;
/// Addresses remembered as recorded; past this the memory starts over (rows are upserts, so an
/// address seen again is only recorded again). 114,688 is what 131,072 hash buckets hold
/// without growing: about 3 MB (500,000 grew the table to a million buckets, 22 MB, kept after
/// each clear).
const SEEN_CAP: usize = 114_688;

pub struct GeoRecorder {
    geo: Arc<GeoIp>,
    /// Two lookups per packet on the output thread: ahash, keyed per process, not SipHash.
    seen: HashSet<IpAddr, ahash::RandomState>,
    batch: Vec<GeoRow>,
}

impl GeoRecorder {
    pub fn new(geo: Arc<GeoIp>) -> GeoRecorder {
        GeoRecorder {
            geo,
            seen: HashSet::with_hasher(ahash::RandomState::new()),
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// Looks up the packet's addresses not recorded yet; returns a full batch of rows to
    /// write, if this packet completed one.
    pub fn observe(&mut self, a: &Analyzed) -> Option<Vec<GeoRow>> {
        let ip = a.decoded.ip?;
        for addr in [ip.src, ip.dst] {
            if self.seen.insert(addr) {
                let row = row(addr, &self.geo.lookup(addr));
                self.batch.push(row);
            }
        }
        if self.seen.len() >= SEEN_CAP {
            self.seen.clear();
        }
        (self.batch.len() >= BATCH).then(|| self.take())
    }

    /// The rows not handed back yet (at the end of a run).
    pub fn take(&mut self) -> Vec<GeoRow> {
        std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH))
    }
}

fn row(ip: IpAddr, g: &Geo) -> GeoRow {
    let i = g.info();
    GeoRow {
        ip,
        scope: match g {
            Geo::Scope(s) => s.as_str(),
            _ => "public",
        },
        country_iso_code: i.and_then(|x| x.country_iso_code.clone()),
        country_name: i.and_then(|x| x.country_name.clone()),
        city_name: i.and_then(|x| x.city_name.clone()),
        lat: i.and_then(|x| x.location.map(|l| l.lat)),
        lon: i.and_then(|x| x.location.map(|l| l.lon)),
        asn: i.and_then(|x| x.asn),
        as_org: i.and_then(|x| x.as_org.clone()),
        looked_up_at: now_nanos(),
    }
}
