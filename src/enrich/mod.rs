//! Enrichment around the engine: GeoIP locations (MaxMind-format databases), AbuseIPDB
//! reputation (asynchronous, cached, within a daily quota) and local blocklist feeds.
//!
//! Everything here is set up on the main thread at start-up; lookups then run on the
//! aggregator thread (blocklists), the output thread (GeoIP for EVE, reputation offers and
//! late alerts) or the reputation worker's runtime (AbuseIPDB).

pub mod addr;
pub mod blocklist;
pub mod geoip;
pub mod georecord;
pub mod reputation;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use blocklist::{Blocklist, BlocklistBuilder};
use geoip::GeoIp;
use reputation::{Reputation, ReputationOptions};

/// How long `nsm-tui read` waits at the end for reputation checks still in flight: a few
/// seconds (an answer takes well under one); a service that does not answer costs no more,
/// and the checks given up are counted in the summary.
pub const READ_FINISH_WAIT: Duration = Duration::from_secs(3);

/// The enrichers a pipeline runs with. `Default` is none at all.
#[derive(Default)]
pub struct Enrichment {
    pub geoip: Option<Arc<GeoIp>>,
    pub reputation: Option<Reputation>,
    /// How long the end of the input waits for pending reputation checks.
    pub finish_wait: Duration,
}

impl std::fmt::Debug for Enrichment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrichment")
            .field("geoip", &self.geoip)
            .field("reputation", &self.reputation.is_some())
            .finish()
    }
}

impl Enrichment {
    /// GeoIP and reputation as the configuration asks, with the notices to show once (which
    /// database is used, reputation off for want of a key). A configured GeoIP database that
    /// cannot be opened is an error naming it.
    pub fn from_config(c: &Config) -> Result<(Enrichment, Vec<String>), geoip::GeoIpError> {
        let (geo, mut notes) = GeoIp::from_config(&c.geoip)?;
        let reputation = match ReputationOptions::from_config(c) {
            None => {
                notes.push(
                    "AbuseIPDB reputation off: set ABUSEIPDB_API_KEY (or [integrations] \
                     abuseipdb_api_key) to check public addresses"
                        .to_string(),
                );
                None
            }
            Some(o) => match Reputation::start(o) {
                Ok(r) => Some(r),
                Err(e) => {
                    notes.push(format!("warning: AbuseIPDB reputation off: {e}"));
                    None
                }
            },
        };
        let e = Enrichment {
            geoip: geo.map(Arc::new),
            reputation,
            finish_wait: READ_FINISH_WAIT,
        };
        Ok((e, notes))
    }
}

/// Bad blocklist lines reported one by one; the rest are counted.
const SHOWN_LINE_ERRORS: usize = 20;

/// Loads every blocklist file or directory in `paths`. Unreadable files and bad lines are
/// returned as notices (with file and line); `None` when nothing was configured.
pub fn load_blocklists(paths: &[PathBuf]) -> (Option<Arc<Blocklist>>, Vec<String>) {
    if paths.is_empty() {
        return (None, Vec::new());
    }
    let mut b = BlocklistBuilder::new();
    let mut notes = Vec::new();
    let mut skipped = 0usize;
    for p in paths {
        match b.add_path(p) {
            Ok(errors) => {
                for e in &errors {
                    if skipped < SHOWN_LINE_ERRORS {
                        notes.push(format!("warning: blocklist line skipped: {e}"));
                    }
                    skipped += 1;
                }
            }
            Err(e) => notes.push(format!("warning: {e}")),
        }
    }
    if skipped > SHOWN_LINE_ERRORS {
        notes.push(format!(
            "warning: {} more blocklist lines skipped",
            skipped - SHOWN_LINE_ERRORS
        ));
    }
    let table = b.build();
    let per_list: Vec<String> = table
        .lists()
        .iter()
        .map(|(n, k)| format!("{n} {k}"))
        .collect();
    notes.push(format!(
        "blocklists: {} entries loaded ({})",
        table.len(),
        per_list.join(", ")
    ));
    (Some(Arc::new(table)), notes)
}
