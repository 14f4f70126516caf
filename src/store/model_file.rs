//! The model file on disk: written whole by `nsm-tui learn` (a new file renamed over the old,
//! so a reader never sees half a model), read at the start of a run.
//!
//! Main thread only. Reading refuses a file larger than `MAX_MODEL_BYTES` and anything
//! `Model::from_json` refuses, naming the file.

use std::io::{Read, Write};
use std::path::Path;

use super::safe_file;
use crate::engine::detect::ml::model::Model;

/// A model of 20,000 host profiles and a 100-tree forest is a few MB.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// Write `m` to `path`, replacing what was there.
pub fn save(path: &Path, m: &Model) -> Result<(), String> {
    let tmp = safe_file::with_suffix(path, &format!(".{}.tmp", std::process::id()));
    let mut f = safe_file::create_new(&tmp).map_err(|e| e.to_string())?;
    let written = f
        .write_all(m.to_json().as_bytes())
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

/// Read and check the model at `path`; the error names the file and says what is wrong.
pub fn load(path: &Path) -> Result<Model, String> {
    let at = |e: String| format!("model file {}: {e}", path.display());
    let f = std::fs::File::open(path).map_err(|e| at(e.to_string()))?;
    let mut text = String::new();
    f.take(MAX_MODEL_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| at(e.to_string()))?;
    if text.len() as u64 > MAX_MODEL_BYTES {
        return Err(at(format!("larger than {} MB", MAX_MODEL_BYTES >> 20)));
    }
    Model::from_json(&text).map_err(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::detect::ml::model::TrainedOn;
    use crate::engine::detect::stats::Learned;

    #[test]
    fn saves_replaces_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        let m = Model::new(60, TrainedOn::default(), Learned::default(), None);
        save(&p, &m).unwrap();
        save(&p, &m).unwrap();
        assert_eq!(load(&p).unwrap(), m);
        std::fs::write(&p, "{\"format\":\"nsm-tui-model\"").unwrap();
        let e = load(&p).unwrap_err();
        assert!(
            e.starts_with(&format!("model file {}: not a model file", p.display())),
            "{e}"
        );
    }
}
