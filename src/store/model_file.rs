//! The model file on disk: written whole by `nsm-tui learn` (a new file renamed over the old,
//! so a reader never sees half a model), read at the start of a run.
//!
//! Main thread only. Reading refuses a file larger than `MAX_MODEL_BYTES` and anything
//! `Model::from_json` refuses, naming the file.

use std::path::Path;

use super::safe_file;
use crate::engine::detect::ml::model::Model;

/// A model of 20,000 host profiles and a 100-tree forest is a few MB.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// Write `m` to `path`, replacing what was there.
pub fn save(path: &Path, m: &Model) -> Result<(), String> {
    safe_file::replace_whole(path, m.to_json().as_bytes())
}

/// Read and check the model at `path`; the error names the file and says what is wrong.
pub fn load(path: &Path) -> Result<Model, String> {
    let at = |e: String| format!("model file {}: {e}", path.display());
    let text = safe_file::read_capped(path, MAX_MODEL_BYTES).map_err(at)?;
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
