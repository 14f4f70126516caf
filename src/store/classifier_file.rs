//! The classifier file on disk: written whole by `nsm-tui train` (a new file renamed over the
//! old, so a reader never sees half a classifier), read at the start of a run.
//!
//! Main thread only. Reading refuses a file larger than `MAX_CLASSIFIER_BYTES` and anything
//! `Classifier::from_json` refuses, naming the file.

use std::io::{Read, Write};
use std::path::Path;

use super::safe_file;
use crate::engine::detect::ml::classifier::Classifier;

/// 50 trees of depth 16 over a million flows are tens of MB of JSON at most.
pub const MAX_CLASSIFIER_BYTES: u64 = 512 << 20;

/// Write `c` to `path`, replacing what was there.
pub fn save(path: &Path, c: &Classifier) -> Result<(), String> {
    let tmp = safe_file::with_suffix(path, &format!(".{}.tmp", std::process::id()));
    let mut f = safe_file::create_new(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let written = f
        .write_all(c.to_json().as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("writing {}: {e}", tmp.display()));
    }
    if safe_file::check_existing(path).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "{} exists and is not a regular file of ours; not replacing it",
            path.display()
        ));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("replacing {}: {e}", path.display())
    })
}

/// Read and check the classifier at `path`; the error names the file and says what is wrong.
pub fn load(path: &Path) -> Result<Classifier, String> {
    let at = |e: String| format!("classifier file {}: {e}", path.display());
    let f = std::fs::File::open(path).map_err(|e| at(e.to_string()))?;
    let mut text = String::new();
    f.take(MAX_CLASSIFIER_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| at(e.to_string()))?;
    if text.len() as u64 > MAX_CLASSIFIER_BYTES {
        return Err(at(format!("larger than {} MB", MAX_CLASSIFIER_BYTES >> 20)));
    }
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
