//! GeoIP: country, city, location and AS of an address from MaxMind-format databases
//! (GeoLite2 City/Country, DB-IP City/Country Lite, GeoLite2/DB-IP ASN, and the bundled
//! ip-location-db country database), with a bounded cache. Private, loopback, link-local,
//! multicast and reserved addresses are labelled with their scope and never looked up.
//!
//! Opened on the main thread at start-up; `lookup` takes `&self` and is called from the
//! aggregator thread (EVE, SQLite) and the console, so the cache sits behind a mutex.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use maxminddb::Reader;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::addr::{scope, Scope};
use crate::config::GeoipConfig;

/// The database shipped in `geoip/` of the source tree and compiled into the binary: country
/// level, CC BY 4.0 data (see `geoip/README.md`).
pub const BUNDLED_DB: &str = "geoip/geo-whois-asn-country.mmdb";

/// The bundled database's bytes (about 8 MB of the binary, paged in from it as lookups touch
/// them rather than copied to the heap).
static BUILT_IN_DB: &[u8] = include_bytes!("../../geoip/geo-whois-asn-country.mmdb");

/// How the built-in database is named in notices and `config --print`.
pub const BUILT_IN_NAME: &str = "built-in geo-whois-asn-country.mmdb";

/// The installed location database used when none is configured, before the built-in one.
pub const SYSTEM_CITY_DB: &str = "/usr/share/nsm-tui/GeoLite2-City.mmdb";

/// Addresses remembered per cache generation; the cache holds at most twice this.
pub const CACHE_GENERATION: usize = 32_768;

/// A database that could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("GeoIP database {path} not found")]
    Missing { path: PathBuf },
    #[error("GeoIP database {path} is not a readable MaxMind database: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// What a database knows about a public address, named as Logstash's geoip filter names it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GeoInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_iso_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
}

impl GeoInfo {
    fn is_empty(&self) -> bool {
        *self == GeoInfo::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// The answer for one address.
#[derive(Debug, Clone, PartialEq)]
pub enum Geo {
    /// Not a public address: labelled, not looked up.
    Scope(Scope),
    Found(Arc<GeoInfo>),
    /// Public, but no database entry.
    Unknown,
}

impl Geo {
    pub fn info(&self) -> Option<&GeoInfo> {
        match self {
            Geo::Found(g) => Some(g),
            _ => None,
        }
    }

    /// A short label for tables: `DE`, `Berlin, DE`, `private`, or `None` when unknown.
    pub fn label(&self) -> Option<String> {
        match self {
            Geo::Scope(s) => Some(s.as_str().to_string()),
            Geo::Found(g) => match (&g.city_name, &g.country_iso_code) {
                (Some(c), Some(cc)) => Some(format!("{c}, {cc}")),
                (None, Some(cc)) => Some(cc.clone()),
                (Some(c), None) => Some(c.clone()),
                (None, None) => g.as_org.clone(),
            },
            Geo::Unknown => None,
        }
    }
}

/// EVE's `src_geoip` / `dest_geoip`: the found fields, or `{"scope": "private"}`.
impl Serialize for Geo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Geo::Found(g) => g.serialize(s),
            Geo::Scope(sc) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("scope", sc.as_str())?;
                m.end()
            }
            Geo::Unknown => s.serialize_map(Some(0))?.end(),
        }
    }
}

/// The fields any of the supported database layouts may carry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Record {
    country: Option<CountryRec>,
    registered_country: Option<CountryRec>,
    city: Option<Names>,
    location: Option<LocationRec>,
    /// ip-location-db's layout: just the ISO code.
    country_code: Option<String>,
    /// u32 in MaxMind's files; some writers store it wider.
    autonomous_system_number: Option<u64>,
    autonomous_system_organization: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CountryRec {
    iso_code: Option<String>,
    names: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Names {
    names: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LocationRec {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl Record {
    fn merge_into(self, g: &mut GeoInfo) {
        let country = self.country.or(self.registered_country);
        if let Some(c) = country {
            g.country_iso_code = g.country_iso_code.take().or(c.iso_code);
            g.country_name = g.country_name.take().or_else(|| c.names.get("en").cloned());
        }
        g.country_iso_code = g.country_iso_code.take().or(self.country_code);
        if let Some(c) = self.city {
            g.city_name = g.city_name.take().or_else(|| c.names.get("en").cloned());
        }
        if let Some(LocationRec {
            latitude: Some(lat),
            longitude: Some(lon),
        }) = self.location
        {
            g.location = g.location.or(Some(Location { lat, lon }));
        }
        g.asn = g.asn.or(self
            .autonomous_system_number
            .and_then(|n| u32::try_from(n).ok()));
        g.as_org = g.as_org.take().or(self.autonomous_system_organization);
    }
}

struct Db {
    /// The file's path, or [`BUILT_IN_NAME`].
    source: String,
    reader: Reader<Cow<'static, [u8]>>,
}

impl Db {
    fn open(path: &Path) -> Result<Db, GeoIpError> {
        if !path.is_file() {
            return Err(GeoIpError::Missing {
                path: path.to_path_buf(),
            });
        }
        let corrupt = |reason: String| GeoIpError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| corrupt(e.to_string()))?;
        let reader = Reader::from_source(Cow::Owned(bytes)).map_err(|e| corrupt(e.to_string()))?;
        Ok(Db {
            source: path.display().to_string(),
            reader,
        })
    }

    fn built_in() -> Result<Db, GeoIpError> {
        let reader =
            Reader::from_source(Cow::Borrowed(BUILT_IN_DB)).map_err(|e| GeoIpError::Corrupt {
                path: PathBuf::from(BUILT_IN_NAME),
                reason: e.to_string(),
            })?;
        Ok(Db {
            source: BUILT_IN_NAME.to_string(),
            reader,
        })
    }

    fn record(&self, ip: IpAddr) -> Result<Option<Record>, maxminddb::MaxMindDbError> {
        self.reader.lookup(ip)?.decode::<Record>()
    }
}

/// Two generations of answers: when the young one fills, it becomes the old one and the old
/// one is dropped, so the cache stays bounded and recently used addresses survive.
#[derive(Default)]
struct Cache {
    young: HashMap<IpAddr, Geo>,
    old: HashMap<IpAddr, Geo>,
}

/// Open databases and the lookup cache.
pub struct GeoIp {
    dbs: Vec<Db>,
    cache: Mutex<Cache>,
    generation: usize,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("dbs", &self.sources())
            .finish_non_exhaustive()
    }
}

impl GeoIp {
    /// Opens a location database and, optionally, an ASN database.
    pub fn open(city: &Path, asn: Option<&Path>) -> Result<GeoIp, GeoIpError> {
        GeoIp::with_location(Db::open(city)?, asn)
    }

    /// The country database compiled into the binary and, optionally, an ASN database.
    pub fn built_in(asn: Option<&Path>) -> Result<GeoIp, GeoIpError> {
        GeoIp::with_location(Db::built_in()?, asn)
    }

    fn with_location(location: Db, asn: Option<&Path>) -> Result<GeoIp, GeoIpError> {
        let mut dbs = vec![location];
        if let Some(a) = asn {
            dbs.push(Db::open(a)?);
        }
        Ok(GeoIp {
            dbs,
            cache: Mutex::new(Cache::default()),
            generation: CACHE_GENERATION,
        })
    }

    /// The same databases with a smaller cache generation (tests of the cache bound).
    pub fn with_cache_generation(mut self, n: usize) -> Self {
        self.generation = n.max(1);
        self
    }

    /// The databases in use: file paths, or [`BUILT_IN_NAME`].
    pub fn sources(&self) -> Vec<&str> {
        self.dbs.iter().map(|d| d.source.as_str()).collect()
    }

    /// The database type each file declares (`GeoLite2-City`, `DBIP-Country-Lite` …).
    pub fn database_types(&self) -> Vec<&str> {
        self.dbs
            .iter()
            .map(|d| d.reader.metadata().database_type.as_str())
            .collect()
    }

    /// Addresses cached now.
    pub fn cached(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.young.len() + c.old.len())
    }

    pub fn lookup(&self, ip: IpAddr) -> Geo {
        let sc = scope(ip);
        if !sc.is_public() {
            return Geo::Scope(sc);
        }
        let Ok(mut cache) = self.cache.lock() else {
            return self.query(ip);
        };
        if let Some(g) = cache.young.get(&ip) {
            return g.clone();
        }
        let g = match cache.old.remove(&ip) {
            Some(g) => g,
            None => self.query(ip),
        };
        if cache.young.len() >= self.generation {
            cache.old = std::mem::take(&mut cache.young);
        }
        cache.young.insert(ip, g.clone());
        g
    }

    /// Asks every database; a lookup error (a damaged file) counts as no entry.
    fn query(&self, ip: IpAddr) -> Geo {
        let mut info = GeoInfo::default();
        for db in &self.dbs {
            if let Ok(Some(rec)) = db.record(ip) {
                rec.merge_into(&mut info);
            }
        }
        if info.is_empty() {
            Geo::Unknown
        } else {
            Geo::Found(Arc::new(info))
        }
    }

    /// The databases the configuration asks for: the configured `city_db` (flag or file),
    /// else [`SYSTEM_CITY_DB`] when installed, else the built-in country database; plus the
    /// configured `asn_db`. A configured file that is missing or unreadable is an error naming
    /// it. Returns the enricher (none when GeoIP is off) and the notice naming the databases.
    pub fn from_config(c: &GeoipConfig) -> Result<(Option<GeoIp>, Vec<String>), GeoIpError> {
        GeoIp::from_config_with(c, Path::new(SYSTEM_CITY_DB))
    }

    /// [`GeoIp::from_config`] with the installed location database at `system_city`.
    pub fn from_config_with(
        c: &GeoipConfig,
        system_city: &Path,
    ) -> Result<(Option<GeoIp>, Vec<String>), GeoIpError> {
        if !c.enabled {
            return Ok((None, Vec::new()));
        }
        let asn = c.asn_db.as_deref();
        let g = match &c.city_db {
            Some(p) => GeoIp::open(p, asn)?,
            None if system_city.is_file() => GeoIp::open(system_city, asn)?,
            None => GeoIp::built_in(asn)?,
        };
        let note = format!("GeoIP: {}", g.sources().join(", "));
        Ok((Some(g), vec![note]))
    }
}
