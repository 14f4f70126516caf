//! Builds the detector set from the configuration, at the IO edge: reads the signature files
//! from disk, reports bad entries, and reloads signatures on SIGHUP.
//!
//! Called on the main thread at start-up; the reload watcher runs on a thread of its own.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::engine::detect::signature::{RuleFiles, SignatureError};
use crate::engine::detect::{DetectorSet, SignatureHandle, SignatureSet};

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

fn report(errors: &[SignatureError], loaded: usize, path: &Path) {
    for e in errors {
        eprintln!("warning: signature skipped: {e}");
    }
    if !errors.is_empty() {
        eprintln!(
            "warning: {} signature problem(s) in {}; {loaded} signatures loaded",
            errors.len(),
            path.display()
        );
    }
}

/// The default detectors with the configured signatures, and the handle that swaps the
/// signature set on reload.
pub fn build(c: &Config) -> Result<(DetectorSet, SignatureHandle)> {
    let dir = &c.detector.signatures_dir;
    let (set, errors) = load_signatures(dir);
    report(&errors, set.len(), dir);
    let handle = SignatureHandle::new(set);
    let mut set = DetectorSet::defaults(&c.detector.thresholds(), handle.clone());
    let (blocklist, notes) = crate::enrich::load_blocklists(&c.enrich.blocklists);
    for n in notes {
        eprintln!("{n}");
    }
    if let Some(table) = blocklist {
        let d = crate::enrich::blocklist::BlocklistDetector::new(table);
        set.stateful.push(Box::new(d));
    }
    Ok((set, handle))
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub loaded: usize,
    pub skipped: Vec<String>,
    /// False when nothing loaded and something was wrong: the old set stays, as Suricata
    /// keeps its rules when a reload fails.
    pub swapped: bool,
}

/// Load the signatures in `dir` again and swap them in.
pub fn reload(dir: &Path, handle: &SignatureHandle) -> Reloaded {
    let (set, errors) = load_signatures(dir);
    let loaded = set.len();
    let swapped = loaded > 0 || errors.is_empty();
    if swapped {
        handle.replace(set);
    }
    Reloaded {
        loaded,
        skipped: errors.iter().map(ToString::to_string).collect(),
        swapped,
    }
}

/// Reload signatures from `dir` whenever the process receives SIGHUP (headless commands; the
/// console reloads on a key instead, since a hangup there means the terminal went away).
pub fn reload_on_sighup(dir: PathBuf, handle: SignatureHandle) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
        .context("installing the SIGHUP handler")?;
    std::thread::Builder::new()
        .name("signature-reload".into())
        .spawn(move || {
            for _ in signals.forever() {
                let r = reload(&dir, &handle);
                for e in &r.skipped {
                    eprintln!("warning: signature skipped: {e}");
                }
                if r.swapped {
                    eprintln!(
                        "signatures reloaded from {}: {} loaded",
                        dir.display(),
                        r.loaded
                    );
                } else {
                    eprintln!(
                        "warning: no signature in {} could be loaded; the previous set stays",
                        dir.display()
                    );
                }
            }
        })
        .context("starting the signature reload thread")?;
    Ok(())
}
