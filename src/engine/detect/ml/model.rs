//! The model file `nsm-tui learn` writes and every run may load: the baselines and profiles
//! learned from traffic the user calls normal, and the Isolation Forest trained on its flows.
//!
//! Pure: JSON text in and out (the store reads and writes the file). A file carries its format
//! name, version and the hashes of the feature schemas it was built on; a file from another
//! version or schema, or one that does not parse or holds a malformed forest, is refused with
//! the reason (the caller names the file and goes on without the model).

use serde::{Deserialize, Serialize};

use super::forest::IsolationForest;
use crate::engine::detect::stats::Learned;
use crate::engine::features::{schema_hash, WINDOW_SCHEMA};

pub const FORMAT: &str = "nsm-tui-model";
pub const VERSION: u32 = 1;

/// What a model was learned from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainedOn {
    pub sources: Vec<String>,
    pub packets: u64,
    pub flows: u64,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub version: u32,
    /// Hex hashes of the flow and window feature schemas.
    pub flow_schema: String,
    pub window_schema: String,
    /// Seconds per host window the baselines were learned with.
    pub window_secs: u64,
    pub trained_on: TrainedOn,
    pub baseline: Learned,
    pub forest: Option<IsolationForest>,
}

/// Hash of the window schema, as the flow schema's.
pub fn window_schema_hash() -> u64 {
    crate::engine::features::flow::names_hash(&WINDOW_SCHEMA)
}

impl Model {
    pub fn new(
        window_secs: u64,
        trained_on: TrainedOn,
        baseline: Learned,
        forest: Option<IsolationForest>,
    ) -> Self {
        Model {
            format: FORMAT.into(),
            version: VERSION,
            flow_schema: format!("{:016x}", schema_hash()),
            window_schema: format!("{:016x}", window_schema_hash()),
            window_secs,
            trained_on,
            baseline,
            forest,
        }
    }

    pub fn to_json(&self) -> String {
        // A model holds only numbers, strings and addresses: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parse and check a model file's text; the error says what is wrong with it.
    pub fn from_json(text: &str) -> Result<Model, String> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| format!("not a model file: {e}"))?;
        if head.format.as_deref() != Some(FORMAT) {
            return Err(format!(
                "not a model file: `format` is {:?}, expected {FORMAT:?}",
                head.format.unwrap_or_default()
            ));
        }
        if head.version != Some(VERSION) {
            return Err(format!(
                "model format version {} is not the version this nsm-tui reads ({VERSION}); run `nsm-tui learn` again",
                head.version.map_or_else(|| "missing".to_string(), |v| v.to_string())
            ));
        }
        let m: Model = serde_json::from_str(text).map_err(|e| format!("malformed model: {e}"))?;
        let flow = format!("{:016x}", schema_hash());
        if m.flow_schema != flow {
            return Err(format!("built on flow features {} but this nsm-tui computes {flow}; run `nsm-tui learn` again", m.flow_schema));
        }
        let window = format!("{:016x}", window_schema_hash());
        if m.window_schema != window {
            return Err(format!("built on window features {} but this nsm-tui computes {window}; run `nsm-tui learn` again", m.window_schema));
        }
        if let Some(f) = &m.forest {
            f.validate().map_err(|e| format!("malformed forest: {e}"))?;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::detect::ml::forest::ForestParams;
    use crate::engine::features::{FlowFeatures, N_FEATURES};

    fn model() -> Model {
        let data: Vec<FlowFeatures> = (0..64)
            .map(|i| FlowFeatures([f64::from(i); N_FEATURES]))
            .collect();
        let forest = IsolationForest::fit(&data, &ForestParams::default());
        Model::new(60, TrainedOn::default(), Learned::default(), forest)
    }

    #[test]
    fn round_trips() {
        let m = model();
        assert_eq!(Model::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn wrong_files_are_refused_with_the_reason() {
        assert!(Model::from_json("{")
            .unwrap_err()
            .starts_with("not a model file"));
        assert!(Model::from_json("{\"format\":\"x\"}")
            .unwrap_err()
            .contains("expected \"nsm-tui-model\""));
        let mut m = model();
        m.version = 99;
        assert!(Model::from_json(&m.to_json())
            .unwrap_err()
            .contains("version 99"));
        let mut m = model();
        m.flow_schema = "0000000000000000".into();
        assert!(Model::from_json(&m.to_json())
            .unwrap_err()
            .contains("built on flow features"));
        let mut m = model();
        if let Some(f) = m.forest.as_mut() {
            f.trees[0].nodes[0].left = 0;
        }
        assert!(Model::from_json(&m.to_json())
            .unwrap_err()
            .starts_with("malformed forest"));
    }
}
