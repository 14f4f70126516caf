//! Builds the detector set from the configuration, at the IO edge: reads the signature files
//! and blocklists from disk, reports bad entries, and reloads both on SIGHUP.
//!
//! Called on the main thread at start-up; the reload watcher runs on a thread of its own.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::engine::detect::ml::classifier::ClassifierDetector;
use crate::engine::detect::signature::{RuleFiles, SignatureError};
use crate::engine::detect::{DetectorSet, Prior, SignatureSet, SignatureSource};
use crate::enrich::blocklist::BlocklistHandle;
use crate::pipeline::signature_source::{self, SignatureOrigin};

/// The current signature set, shared by every worker's detector and swapped whole on reload.
#[derive(Debug, Clone)]
pub struct SignatureHandle(Arc<RwLock<Arc<SignatureSet>>>);

impl SignatureHandle {
    pub fn new(set: SignatureSet) -> Self {
        SignatureHandle(Arc::new(RwLock::new(Arc::new(set))))
    }
    /// Swap in a reloaded set; packets in flight finish with the old one.
    pub fn replace(&self, set: SignatureSet) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
    }
}

impl SignatureSource for SignatureHandle {
    fn current(&self) -> Arc<SignatureSet> {
        // A poisoned lock still holds a complete set: replacing it is a single assignment.
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Signature files on the local filesystem.
pub struct FsRuleFiles;

impl RuleFiles for FsRuleFiles {
    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let rd = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
        Ok(rd.flatten().map(|e| e.path()).collect())
    }
    fn read(&self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

/// Load every `*.json` in `dir` (or one file). Bad entries are skipped and returned, never
/// silently dropped.
pub fn load_signatures(path: &Path) -> (SignatureSet, Vec<SignatureError>) {
    if path.is_file() {
        SignatureSet::load_file(path, &FsRuleFiles)
    } else {
        SignatureSet::load_dir(path, &FsRuleFiles)
    }
}

fn report(errors: &[SignatureError], loaded: usize, origin: &SignatureOrigin) {
    for e in errors {
        tracing::warn!("signature skipped: {e}");
    }
    if !errors.is_empty() {
        tracing::warn!(
            "{} signature problem(s) in {origin}; {loaded} signatures loaded",
            errors.len(),
        );
    }
}

/// What a reload swaps: the signature set, and the blocklist table when lists are configured.
#[derive(Debug, Clone)]
pub struct Handles {
    pub signatures: SignatureHandle,
    pub blocklist: Option<BlocklistHandle>,
    /// Where the signatures were loaded from; a reload reads the same source again.
    pub origin: SignatureOrigin,
    blocklists: Vec<PathBuf>,
}

/// The signature source the configuration selects (see `signature_source::resolve`).
pub fn signature_origin(c: &Config) -> Result<SignatureOrigin> {
    let system: Vec<&Path> = signature_source::SYSTEM_DIRS
        .iter()
        .map(Path::new)
        .collect();
    Ok(signature_source::resolve(
        c.detector.signatures_dir.as_deref(),
        &system,
    )?)
}

/// The signature set the configuration selects, with where it came from; problems in the
/// files are printed, and a source without a single signature is an error.
pub fn load_configured(c: &Config) -> Result<(SignatureSet, SignatureOrigin)> {
    let origin = signature_origin(c)?;
    let (set, errors) = signature_source::load(&origin);
    // Printed before the check: its error refers to these problems as "reported above".
    report(&errors, set.len(), &origin);
    signature_source::require_some(&origin, &set, &errors)?;
    Ok((set, origin))
}

/// The default detectors with the configured signatures and blocklists, and the handles that
/// swap them on reload.
pub fn build(c: &Config) -> Result<(DetectorSet, Handles)> {
    let (set, origin) = load_configured(c)?;
    let handle = SignatureHandle::new(set);
    let mut set =
        DetectorSet::with_prior(&c.detector.thresholds(), Arc::new(handle.clone()), prior(c));
    attach_classifier(c, &mut set);
    let (blocklist, notes) = crate::enrich::load_blocklists(&c.enrich.blocklists);
    for n in notes {
        log_note(&n);
    }
    let blocklist = blocklist.map(BlocklistHandle::new);
    if let Some(h) = &blocklist {
        let d = crate::enrich::blocklist::BlocklistDetector::shared(h.clone());
        set.stateful.push(Box::new(d));
    }
    let handles = Handles {
        signatures: handle,
        blocklist,
        origin,
        blocklists: c.enrich.blocklists.clone(),
    };
    Ok((set, handles))
}

/// What earlier learning hands this run: the model file (`nsm-tui learn`) when there is one,
/// and the profiles the database saved at the end of earlier runs (newer, so they win). A
/// model or database that cannot be read is reported and the run goes on learning afresh.
pub fn prior(c: &Config) -> Prior {
    let mut prior = Prior::default();
    let path = c.detector.model_path();
    if c.detector.model_file.is_some() || path.exists() {
        match crate::store::model_file::load(&path) {
            Ok(m) if m.window_secs != c.detector.thresholds().learn.window_secs => {
                tracing::warn!(
                    "model file {}: baselines learned over {} s windows, this run uses {} s \
                     (`[detector] feature_window_size`): using its forest only",
                    path.display(),
                    m.window_secs,
                    c.detector.feature_window_size
                );
                prior.forest = m.forest;
            }
            Ok(m) => {
                tracing::info!(
                    "model {}: {} host profiles, forest {}",
                    path.display(),
                    m.baseline.hosts.len(),
                    if m.forest.is_some() {
                        "trained"
                    } else {
                        "none"
                    }
                );
                prior.baseline = Some(m.baseline);
                prior.forest = m.forest;
            }
            Err(e) => tracing::warn!("{e}; detection goes on without it"),
        }
    }
    let db = &c.storage.db_path;
    if c.storage.db_enabled && db.exists() {
        let loaded = crate::store::sqlite::open_side(db)
            .map_err(|e| e.to_string())
            .and_then(|conn| {
                crate::store::profiles::load(&conn, c.detector.baseline.max_hosts)
                    .map_err(|e| e.to_string())
            });
        match loaded {
            Ok((l, bad)) => {
                if bad > 0 {
                    tracing::warn!("{}: {bad} saved profile(s) could not be read", db.display());
                }
                if !l.hosts.is_empty() || l.population.windows > 0 {
                    prior.baseline = Some(l);
                }
            }
            Err(e) => tracing::warn!(
                "profiles in {}: {e}; baselines start learning afresh",
                db.display()
            ),
        }
    }
    prior
}

/// The flow classifier `[detector] classifier_file` names, when it loads; a file that is
/// refused is reported and detection goes on without it.
fn attach_classifier(c: &Config, set: &mut DetectorSet) {
    let Some(path) = &c.detector.classifier_file else {
        return;
    };
    match crate::store::classifier_file::load(path) {
        Ok(m) => set.flow.push(Box::new(ClassifierDetector::new(
            m,
            c.detector.thresholds().learn,
        ))),
        Err(e) => log_note(&format!("{e}; running without the classifier")),
    }
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub loaded: usize,
    pub skipped: Vec<String>,
    /// Blocklist entries loaded, when lists are configured; their problems join `skipped`.
    pub blocklist_entries: Option<usize>,
    /// False when nothing loaded: the old set stays, as Suricata keeps its rules when a
    /// reload fails (and as start-up refuses a source without signatures).
    pub swapped: bool,
}

/// Load the signatures (and the blocklists configured at start) again from the source used at
/// start, and swap them in; the built-in set reloads as the same set.
pub fn reload(h: &Handles) -> Reloaded {
    let (set, errors) = signature_source::load(&h.origin);
    let loaded = set.len();
    let swapped = loaded > 0;
    if swapped {
        h.signatures.replace(set);
    }
    let mut skipped: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let mut blocklist_entries = None;
    if let Some(bh) = &h.blocklist {
        let (table, notes) = crate::enrich::load_blocklists(&h.blocklists);
        skipped.extend(notes.into_iter().filter(|n| n.starts_with("warning")));
        // A list that cannot be read at all keeps the table that was loaded.
        if let Some(t) = table.filter(|t| !t.is_empty()) {
            blocklist_entries = Some(t.len());
            bh.replace(t);
        }
    }
    Reloaded {
        loaded,
        skipped,
        blocklist_entries,
        swapped,
    }
}

/// Reload signatures and blocklists whenever the process receives SIGHUP (headless commands;
/// the console reloads on a key instead, since a hangup there means the terminal went away).
pub fn reload_on_sighup(handles: Handles) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
        .context("installing the SIGHUP handler")?;
    std::thread::Builder::new()
        .name("signature-reload".into())
        .spawn(move || {
            let origin = handles.origin.clone();
            for _ in signals.forever() {
                let r = reload(&handles);
                for e in &r.skipped {
                    tracing::warn!("signature skipped: {e}");
                }
                if let Some(n) = r.blocklist_entries {
                    tracing::info!("blocklists reloaded: {n} entries");
                }
                if r.swapped {
                    tracing::info!("signatures reloaded from {origin}: {} loaded", r.loaded);
                } else {
                    tracing::warn!(
                        "no signature in {origin} could be loaded; the previous set stays"
                    );
                }
            }
        })
        .context("starting the signature reload thread")?;
    Ok(())
}

/// Logs a notice from loading (GeoIP, reputation, blocklists): a warning when it says so, else
/// information.
pub fn log_note(n: &str) {
    match n.strip_prefix("warning: ") {
        Some(w) => tracing::warn!("{w}"),
        None => tracing::info!("{n}"),
    }
}
