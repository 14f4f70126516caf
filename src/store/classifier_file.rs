//! The classifier file on disk: written whole by `nsm-tui train` (a new file renamed over the
//! old, so a reader never sees half a classifier), read at the start of a run.
//!
//! Main thread only. Reading refuses a file larger than `MAX_CLASSIFIER_BYTES` and anything
//! `Classifier::from_json` refuses, naming the file.

use std::path::Path;

use super::safe_file;
use crate::engine::detect::ml::classifier::Classifier;

/// 50 trees of depth 16 over a million flows are tens of MB of JSON at most.
pub const MAX_CLASSIFIER_BYTES: u64 = 512 << 20;

/// Write `c` to `path`, replacing what was there.
pub fn save(path: &Path, c: &Classifier) -> Result<(), String> {
    safe_file::replace_whole(path, c.to_json().as_bytes())
}

/// Read and check the classifier at `path`; the error names the file and says what is wrong.
pub fn load(path: &Path) -> Result<Classifier, String> {
    let at = |e: String| format!("classifier file {}: {e}", path.display());
    let text = safe_file::read_capped(path, MAX_CLASSIFIER_BYTES).map_err(at)?;
    Classifier::from_json(&text).map_err(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("classifier.json");
        std::fs::write(&p, "{\"format\":\"nsm-tui-classifier\",\"version\":1").unwrap();
        let e = load(&p).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "classifier file {}: not a classifier file",
                p.display()
            )),
            "{e}"
        );
    }
}
