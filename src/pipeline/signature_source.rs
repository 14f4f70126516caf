//! Where the signatures come from: the path the command line or the configuration names, else
//! the installed directories, else the set compiled into the binary, so a sensor started from
//! any directory detects the same things. A path that was asked for and does not exist, or
//! that yields no signature, is an error naming it, never a quiet fallback.
//!
//! Called on the main thread at start-up and by the reload watcher on SIGHUP; reads files.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::engine::detect::signature::SignatureError;
use crate::engine::detect::SignatureSet;

/// Installed signature directories, searched in this order when none is configured (as
/// Suricata reads its rules from under `/etc` or `/var/lib`, never from the working directory).
pub const SYSTEM_DIRS: [&str; 2] = ["/etc/nsm-tui/signatures", "/usr/share/nsm-tui/signatures"];

/// The default rule files, compiled in: (name shown in alert explanations, JSON text). A test
/// checks that every `signatures/*.json` of the source tree is listed here.
pub const BUILT_IN: &[(&str, &str)] = &[(
    "built-in/basic_threats.json",
    include_str!("../../signatures/basic_threats.json"),
)];

/// The signature source in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureOrigin {
    /// The set compiled into the binary.
    BuiltIn,
    /// A directory of `*.json` files or one file; `configured` when the user named it.
    Path { path: PathBuf, configured: bool },
}

impl fmt::Display for SignatureOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureOrigin::BuiltIn => f.write_str("built-in"),
            SignatureOrigin::Path { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

/// Signatures that cannot be used: the run stops (exit status 2) rather than detect nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureSourceError {
    #[error("signatures {}: no such file or directory", path.display())]
    Missing { path: PathBuf },
    #[error(
        "signatures {}: no signature could be loaded ({why}); fix the files or point \
         --signatures / [detector] signatures_dir elsewhere",
        path.display()
    )]
    Empty { path: PathBuf, why: String },
}

/// The source to use: `configured` (flag or configuration) when given, which must exist; else
/// the first of `system_dirs` that exists; else the built-in set.
pub fn resolve(
    configured: Option<&Path>,
    system_dirs: &[&Path],
) -> Result<SignatureOrigin, SignatureSourceError> {
    if let Some(p) = configured {
        if !p.exists() {
            return Err(SignatureSourceError::Missing {
                path: p.to_path_buf(),
            });
        }
        return Ok(SignatureOrigin::Path {
            path: p.to_path_buf(),
            configured: true,
        });
    }
    Ok(system_dirs
        .iter()
        .find(|d| d.is_dir())
        .map_or(SignatureOrigin::BuiltIn, |d| SignatureOrigin::Path {
            path: d.to_path_buf(),
            configured: false,
        }))
}

/// Load the set `origin` names. Bad entries are skipped and returned.
pub fn load(origin: &SignatureOrigin) -> (SignatureSet, Vec<SignatureError>) {
    match origin {
        SignatureOrigin::BuiltIn => {
            let sources: Vec<(String, String)> = BUILT_IN
                .iter()
                .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
                .collect();
            SignatureSet::from_sources(&sources)
        }
        SignatureOrigin::Path { path, .. } => super::detectors::load_signatures(path),
    }
}

/// The start-up check on a loaded set: a path without a single signature is an error naming
/// it. The caller prints `errors` first, since the message refers to them.
pub fn require_some(
    origin: &SignatureOrigin,
    set: &SignatureSet,
    errors: &[SignatureError],
) -> Result<(), SignatureSourceError> {
    match origin {
        SignatureOrigin::Path { path, .. } if set.is_empty() => {
            let why = if errors.is_empty() {
                "no *.json signature file in it".to_string()
            } else {
                format!("{} problem(s) reported above", errors.len())
            };
            Err(SignatureSourceError::Empty {
                path: path.clone(),
                why,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_signature_file_is_built_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
        let mut shipped: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        shipped.sort();
        let mut built: Vec<String> = BUILT_IN
            .iter()
            .map(|(n, _)| n.trim_start_matches("built-in/").to_string())
            .collect();
        built.sort();
        assert_eq!(shipped, built);
        for (name, text) in BUILT_IN {
            let on_disk = std::fs::read_to_string(dir.join(name.trim_start_matches("built-in/")));
            assert_eq!(on_disk.unwrap(), *text, "{name}");
        }
    }

    #[test]
    fn built_in_set_loads_without_problems() {
        let (set, errors) = load(&SignatureOrigin::BuiltIn);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(set.len() > 10, "{}", set.len());
    }

    #[test]
    fn configured_path_wins_and_must_exist() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path().join("etc-signatures");
        std::fs::create_dir(&sys).unwrap();
        let mine = tmp.path().join("mine");
        std::fs::create_dir(&mine).unwrap();
        assert_eq!(
            resolve(Some(&mine), &[&sys]).unwrap(),
            SignatureOrigin::Path {
                path: mine.clone(),
                configured: true
            }
        );
        let gone = tmp.path().join("gone");
        let e = resolve(Some(&gone), &[&sys]).unwrap_err();
        assert!(e.to_string().contains("gone"), "{e}");
    }

    #[test]
    fn installed_directories_then_built_in() {
        let tmp = tempfile::tempdir().unwrap();
        let etc = tmp.path().join("etc");
        let share = tmp.path().join("share");
        assert_eq!(
            resolve(None, &[&etc, &share]).unwrap(),
            SignatureOrigin::BuiltIn
        );
        std::fs::create_dir(&share).unwrap();
        assert_eq!(
            resolve(None, &[&etc, &share]).unwrap(),
            SignatureOrigin::Path {
                path: share.clone(),
                configured: false
            }
        );
        std::fs::create_dir(&etc).unwrap();
        assert_eq!(
            resolve(None, &[&etc, &share]).unwrap(),
            SignatureOrigin::Path {
                path: etc.clone(),
                configured: false
            }
        );
    }

    #[test]
    fn an_empty_directory_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let origin = SignatureOrigin::Path {
            path: tmp.path().to_path_buf(),
            configured: true,
        };
        let (set, errors) = load(&origin);
        let e = require_some(&origin, &set, &errors).unwrap_err();
        assert!(
            e.to_string().contains(&tmp.path().display().to_string()),
            "{e}"
        );
    }
}
