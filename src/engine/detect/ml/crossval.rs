//! k-fold cross-validation of the flow classifier: folds of shuffled flows, or of whole
//! captures (every flow of a capture held out together, the captures of each class spread over
//! the folds), scored per class (precision, recall, F1) and overall (accuracy).
//!
//! Pure; called by `nsm-tui train` on the dataset it gathered.

use std::str::FromStr;

use super::rforest::{RandomForest, RfParams};
use super::rng::Rng;
use super::training::Dataset;

/// What a fold holds out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FoldBy {
    /// Flows shuffled with the seed: flows of one capture fall on both sides.
    #[default]
    Flow,
    /// Whole captures: a capture is scored by a forest that never saw its flows.
    Capture,
}

impl FromStr for FoldBy {
    type Err = String;
    fn from_str(s: &str) -> Result<FoldBy, String> {
        match s {
            "flow" => Ok(FoldBy::Flow),
            "capture" => Ok(FoldBy::Capture),
            _ => Err(format!("fold-by {s:?}: expected flow or capture")),
        }
    }
}

/// Cross-validated scores of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScore {
    pub class: String,
    pub flows: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The scores of a cross-validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CvReport {
    /// Folds actually used (at most the number of captures when folding by capture).
    pub folds: usize,
    pub classes: Vec<ClassScore>,
    /// Share of held-out flows whose predicted class was their label.
    pub accuracy: f64,
    /// Flows scored.
    pub flows: u64,
}

/// The fold of each row.
fn assign(d: &Dataset, k: usize, by: FoldBy, seed: u64) -> (usize, Vec<usize>) {
    let n = d.x.len();
    match by {
        FoldBy::Flow => {
            let mut order: Vec<usize> = (0..n).collect();
            let mut rng = Rng::new(seed);
            for i in (1..n).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let k = k.clamp(2, n.max(2));
            let mut fold = vec![0; n];
            for (pos, &i) in order.iter().enumerate() {
                fold[i] = pos % k;
            }
            (k, fold)
        }
        FoldBy::Capture => {
            // Each capture's class is that of most of its flows; captures sorted by class
            // then name take the folds in turn, so each class is spread over the folds.
            let groups = d.sources.len();
            let mut votes = vec![vec![0u64; d.classes.len()]; groups];
            for (&g, &c) in d.groups.iter().zip(&d.y) {
                if let Some(v) = votes.get_mut(g).and_then(|v| v.get_mut(usize::from(c))) {
                    *v += 1;
                }
            }
            let class_of = |g: usize| {
                votes[g]
                    .iter()
                    .enumerate()
                    .max_by_key(|&(_, n)| *n)
                    .map_or(0, |(c, _)| c)
            };
            let mut order: Vec<usize> = (0..groups).collect();
            order.sort_by(|&a, &b| (class_of(a), &d.sources[a]).cmp(&(class_of(b), &d.sources[b])));
            let k = k.clamp(2, groups.max(2));
            let mut group_fold = vec![0; groups];
            for (pos, &g) in order.iter().enumerate() {
                group_fold[g] = pos % k;
            }
            let fold = d
                .groups
                .iter()
                .map(|&g| group_fold.get(g).copied().unwrap_or(0))
                .collect();
            (k, fold)
        }
    }
}

/// Cross-validate over `k` folds.
pub fn cross_validate(d: &Dataset, k: usize, by: FoldBy, p: &RfParams) -> CvReport {
    let nc = d.classes.len();
    let (k, fold) = assign(d, k, by, p.seed);
    // confusion[truth][predicted]
    let mut confusion = vec![vec![0u64; nc]; nc];
    for f in 0..k {
        let (mut tx, mut ty, mut test) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &fi) in fold.iter().enumerate() {
            if fi == f {
                test.push(i);
            } else {
                tx.push(d.x[i].clone());
                ty.push(d.y[i]);
            }
        }
        if test.is_empty() {
            continue;
        }
        let Some(forest) = RandomForest::fit(&tx, &ty, nc, p) else {
            continue;
        };
        for i in test {
            let (pred, _) = forest.predict(&d.x[i]);
            confusion[usize::from(d.y[i])][pred] += 1;
        }
    }
    let flows: u64 = confusion.iter().flatten().sum();
    let right: u64 = (0..nc).map(|c| confusion[c][c]).sum();
    let classes = (0..nc)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
            let actual: u64 = confusion[c].iter().sum();
            let precision = tp / predicted.max(1) as f64;
            let recall = tp / actual.max(1) as f64;
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScore {
                class: d.classes[c].clone(),
                flows: actual,
                precision,
                recall,
                f1,
            }
        })
        .collect();
    CvReport {
        folds: k,
        classes,
        accuracy: right as f64 / flows.max(1) as f64,
        flows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::testutil::flow;
    use crate::engine::features::FlowFeatures;
    use crate::engine::flow::FlowConfig;

    /// Six captures: three of web flows (benign), three of probes (port_scan); the third
    /// scan capture's probes look like web flows, so only a fold that holds it out alone
    /// shows the forest cannot tell them apart.
    fn dataset() -> Dataset {
        let mut d = Dataset::new(Vec::new(), FlowConfig::default());
        d.classes.push("port_scan".into());
        for g in 0..6usize {
            d.sources.push(format!("c{g}.pcap"));
            for i in 0..120u16 {
                let web = flow(
                    [10, 0, 0, 1],
                    [10, 0, 0, 2],
                    443,
                    i64::from(i),
                    1.0 + f64::from(i % 5) * 0.1,
                    (8, 9),
                    (900, 20_000),
                );
                let mut probe = flow([10, 0, 0, 9], [10, 0, 0, 2], i, 0, 0.0, (1, 1), (60, 54));
                probe.shape.syn = 1;
                probe.shape.rst = 1;
                let (r, c) = match g {
                    0..=2 => (web, 0),
                    5 => (web, 1),
                    _ => (probe, 1),
                };
                d.x.push(FlowFeatures::of(&r).0.to_vec());
                d.y.push(c);
                d.groups.push(g);
            }
        }
        d
    }

    #[test]
    fn flow_folds_score_each_class_with_f1_and_accuracy() {
        let mut d = dataset();
        // Without the mislabelled capture the classes are separable.
        d.x.truncate(600);
        d.y.truncate(600);
        d.groups.truncate(600);
        let r = cross_validate(&d, 5, FoldBy::Flow, &RfParams::default());
        assert_eq!(r.folds, 5);
        assert_eq!(r.flows, 600);
        assert_eq!(r.classes[1].class, "port_scan");
        assert_eq!(r.classes[1].flows, 240);
        let s = &r.classes[1];
        assert!(s.precision > 0.95 && s.recall > 0.95, "{r:?}");
        assert!((s.f1 - 2.0 * s.precision * s.recall / (s.precision + s.recall)).abs() < 1e-9);
        assert!(r.accuracy > 0.95, "{r:?}");
    }

    #[test]
    fn capture_folds_hold_each_capture_out_whole() {
        let d = dataset();
        let (k, fold) = assign(&d, 3, FoldBy::Capture, 7);
        assert_eq!(k, 3);
        for g in 0..6 {
            let mine: Vec<usize> = (0..d.y.len())
                .filter(|&i| d.groups[i] == g)
                .map(|i| fold[i])
                .collect();
            assert!(mine.iter().all(|&f| f == mine[0]), "capture {g} split");
        }
        // Each class's captures spread over the folds.
        let benign: std::collections::BTreeSet<usize> = (0..3).map(|g| fold[g * 120]).collect();
        assert_eq!(benign.len(), 3);
        let r = cross_validate(&d, 3, FoldBy::Capture, &RfParams::default());
        assert_eq!(r.flows, 720);
        // The held-out web-like "scan" capture is predicted benign: scan recall 2 of 3
        // captures' flows, benign precision falls; flow folds would have hidden part of it.
        let scan = &r.classes[1];
        assert!((scan.recall - 2.0 / 3.0).abs() < 0.02, "{r:?}");
        assert!(r.classes[0].precision < 0.8, "{r:?}");
        assert!(r.accuracy < 0.9, "{r:?}");
    }

    #[test]
    fn fold_by_parses_and_names_a_bad_value() {
        assert_eq!("capture".parse::<FoldBy>(), Ok(FoldBy::Capture));
        assert_eq!(
            "host".parse::<FoldBy>().unwrap_err(),
            "fold-by \"host\": expected flow or capture"
        );
    }
}
