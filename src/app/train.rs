//! `nsm-tui train --labels LABELS.tsv CAPTURE…`: reads each capture, labels its flows, trains
//! the flow classifier, prints k-fold cross-validated precision, recall and F1 per class and the
//! accuracy (folds of flows or of whole captures), and writes the classifier file.
//!
//! Main thread only; the captures are read one after the other.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use super::out::outln;
use crate::capture::file::FileSource;
use crate::capture::Source;
use crate::config::Config;
use crate::engine::detect::ml::crossval::{cross_validate, FoldBy};
use crate::engine::detect::ml::rforest::RfParams;
use crate::engine::detect::ml::training::{parse_labels, Dataset};
use crate::engine::flow::FlowConfig;

pub struct TrainArgs {
    pub labels: PathBuf,
    pub out: PathBuf,
    pub folds: usize,
    pub fold_by: FoldBy,
    pub trees: usize,
    pub seed: u64,
    pub captures: Vec<PathBuf>,
}

pub fn run(a: &TrainArgs, c: &Config) -> Result<()> {
    let text = std::fs::read_to_string(&a.labels)
        .with_context(|| format!("reading labels {}", a.labels.display()))?;
    let labels =
        parse_labels(&a.labels.display().to_string(), &text).map_err(anyhow::Error::msg)?;
    let mut data = Dataset::new(
        labels,
        FlowConfig {
            idle_timeout_secs: c.output.flow_timeout_secs,
            max_flows: c.output.max_flows,
        },
    );
    for path in &a.captures {
        let mut src =
            FileSource::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut flows = data.capture(&path.display().to_string());
        while let Some(frame) = src
            .next_frame()
            .with_context(|| format!("reading {}", path.display()))?
        {
            flows.frame(&frame);
        }
        data.end_capture(flows);
    }
    let params = RfParams {
        n_trees: a.trees.max(1),
        seed: a.seed,
        ..RfParams::default()
    };
    outln!(
        "{} flows from {} capture(s), classes: {}",
        data.y.len(),
        a.captures.len(),
        data.classes.join(", ")
    );
    if a.folds >= 2 {
        let t = Instant::now();
        let r = cross_validate(&data, a.folds, a.fold_by, &params);
        let by = match a.fold_by {
            FoldBy::Flow => "flows",
            FoldBy::Capture => "captures",
        };
        outln!(
            "{}-fold cross-validation by {by} ({:.1} s):",
            r.folds,
            t.elapsed().as_secs_f64()
        );
        outln!(
            "  {:<24} {:>9} {:>9} {:>9} {:>9}",
            "class",
            "flows",
            "precision",
            "recall",
            "f1"
        );
        for s in &r.classes {
            outln!(
                "  {:<24} {:>9} {:>9.3} {:>9.3} {:>9.3}",
                s.class,
                s.flows,
                s.precision,
                s.recall,
                s.f1
            );
        }
        outln!("  accuracy {:.3} over {} flows", r.accuracy, r.flows);
    }
    let t = Instant::now();
    let model = data
        .fit(&params)
        .with_context(|| "no flows in the captures: nothing to train on")?;
    outln!(
        "trained {} trees in {:.1} s",
        model.forest.trees.len(),
        t.elapsed().as_secs_f64()
    );
    crate::store::classifier_file::save(&a.out, &model).map_err(anyhow::Error::msg)?;
    outln!("wrote {}", a.out.display());
    Ok(())
}
