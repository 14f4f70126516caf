//! Isolation Forest (Liu, Ting and Zhou, 2008) over flow features: unsupervised, trained on
//! flows the user calls normal or on the first flows of a run, scoring every flow as it ends.
//!
//! Written here rather than taken from a crate: the maintained ML crates (smartcore, linfa)
//! have no Isolation Forest, and the explanation an alert needs — which features isolated the
//! flow, at what depth — comes from walking our own trees. Pure; training is reproducible
//! from a seed. A flow's score is `2^(-E[h(x)] / c(ψ))`: near 1 for flows isolated in a few
//! splits, near 0.5 and below for ordinary ones. A flow with a feature outside the range the
//! training flows held is isolated at the first split on that feature. The threshold is the training scores'
//! `1 - contamination` quantile.

use serde::{Deserialize, Serialize};

use super::rng::Rng;
use crate::engine::features::{FlowFeatures, N_FEATURES, SCHEMA};

/// Training parameters (`[detector.isolation_forest]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForestParams {
    /// Share of training flows expected to be outliers; sets the threshold.
    pub contamination: f64,
    pub n_estimators: usize,
    /// Flows each tree is built from (ψ).
    pub max_samples: usize,
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            contamination: 0.001,
            n_estimators: 50,
            max_samples: 256,
            seed: 7,
        }
    }
}

/// One node: a split (feature, value, children) or a leaf holding `size` training flows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature index; `u8::MAX` for a leaf.
    pub feature: u8,
    pub value: f64,
    pub left: u32,
    pub right: u32,
    pub size: u32,
}

const LEAF: u8 = u8::MAX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// A trained forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    pub trees: Vec<Tree>,
    /// ψ actually used (at most the training set's size).
    pub samples: usize,
    /// Scores above this are outliers.
    pub threshold: f64,
    pub contamination: f64,
    /// Per feature, the range the training flows held, widened by `RANGE_MARGIN` of itself
    /// and at least `RANGE_FLOOR` (a factor e of a count, in the log scale).
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

/// How far past the training range (as a share of it) a value still counts as inside.
/// Only a value far outside what was learned is isolated outright: with 20 features, a
/// narrow margin would set apart a good share of ordinary flows by one feature each.
const RANGE_MARGIN: f64 = 0.5;
const RANGE_FLOOR: f64 = 1.0;

/// How a flow scored, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: f64,
    /// Mean path length over the trees, and the average for ψ samples (`c(ψ)`).
    pub path: f64,
    pub expected_path: f64,
    /// The features that isolated the flow, most decisive first (at most three).
    pub features: Vec<usize>,
}

/// Average path length of an unsuccessful search in a binary search tree of `n` nodes.
pub fn c(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        n => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

impl IsolationForest {
    /// Train on `data`; `None` when there are fewer than 16 flows to learn from.
    pub fn fit(data: &[FlowFeatures], p: &ForestParams) -> Option<IsolationForest> {
        if data.len() < 16 {
            return None;
        }
        let psi = p.max_samples.clamp(16, data.len());
        let height = (psi as f64).log2().ceil() as usize;
        let mut rng = Rng::new(p.seed);
        let mut idx: Vec<usize> = (0..data.len()).collect();
        let trees = (0..p.n_estimators.max(1))
            .map(|_| {
                // ψ distinct flows: a partial Fisher-Yates shuffle.
                for i in 0..psi {
                    let j = i + rng.below(idx.len() - i);
                    idx.swap(i, j);
                }
                let mut sample: Vec<usize> = idx[..psi].to_vec();
                let mut t = Tree { nodes: Vec::new() };
                build(&mut t, data, &mut sample, 0, height, &mut rng);
                t
            })
            .collect();
        let (mut lo, mut hi) = (
            vec![f64::INFINITY; N_FEATURES],
            vec![f64::NEG_INFINITY; N_FEATURES],
        );
        for x in data {
            for (i, &v) in x.0.iter().enumerate() {
                lo[i] = lo[i].min(v);
                hi[i] = hi[i].max(v);
            }
        }
        for i in 0..N_FEATURES {
            let m = ((hi[i] - lo[i]) * RANGE_MARGIN).max(RANGE_FLOOR);
            lo[i] -= m;
            hi[i] += m;
        }
        let mut f = IsolationForest {
            trees,
            samples: psi,
            threshold: 1.0,
            contamination: p.contamination,
            lo,
            hi,
        };
        let mut scores: Vec<f64> = data.iter().map(|x| f.score(x)).collect();
        scores.sort_by(f64::total_cmp);
        let q = ((1.0 - p.contamination.clamp(0.0, 0.5)) * (scores.len() - 1) as f64).round();
        f.threshold = scores.get(q as usize).copied().unwrap_or(1.0).max(0.5);
        Some(f)
    }

    /// Which features of `x` lie outside what the training flows held.
    fn outside(&self, x: &FlowFeatures) -> [bool; N_FEATURES] {
        std::array::from_fn(|i| {
            let v = x.0[i];
            match (self.lo.get(i), self.hi.get(i)) {
                (Some(&lo), Some(&hi)) => v < lo || v > hi,
                _ => false,
            }
        })
    }

    pub fn score(&self, x: &FlowFeatures) -> f64 {
        let out = self.outside(x);
        let total: f64 = self
            .trees
            .iter()
            .map(|t| path_length(t, x, &out, None))
            .sum();
        let mean = total / self.trees.len().max(1) as f64;
        2f64.powf(-mean / c(self.samples).max(f64::MIN_POSITIVE))
    }

    /// The score with the path length and the features that isolated `x`: the features of
    /// the last split on its path in each tree, most frequent first.
    pub fn explain(&self, x: &FlowFeatures) -> Verdict {
        let mut weight = [0f64; N_FEATURES];
        let out = self.outside(x);
        let total: f64 = self
            .trees
            .iter()
            .map(|t| path_length(t, x, &out, Some(&mut weight)))
            .sum();
        let path = total / self.trees.len().max(1) as f64;
        let expected_path = c(self.samples);
        let mut order: Vec<usize> = (0..N_FEATURES).filter(|&i| weight[i] > 0.0).collect();
        order.sort_by(|&a, &b| weight[b].total_cmp(&weight[a]));
        order.truncate(3);
        Verdict {
            score: 2f64.powf(-path / expected_path.max(f64::MIN_POSITIVE)),
            path,
            expected_path,
            features: order,
        }
    }

    /// Whether the forest's shape is sound (indices in range): a model file's check.
    pub fn validate(&self) -> Result<(), String> {
        if self.trees.is_empty() {
            return Err("the forest has no trees".into());
        }
        if self.lo.len() != N_FEATURES || self.hi.len() != N_FEATURES {
            return Err(format!(
                "the forest's feature ranges do not have {N_FEATURES} entries"
            ));
        }
        for (ti, t) in self.trees.iter().enumerate() {
            let n = t.nodes.len() as u32;
            if n == 0 {
                return Err(format!("tree {ti} has no nodes"));
            }
            for (ni, node) in t.nodes.iter().enumerate() {
                let bad_feature = node.feature != LEAF && usize::from(node.feature) >= N_FEATURES;
                // Children come after their parent, so a walk always ends.
                let bad_child = node.feature != LEAF
                    && (node.left >= n
                        || node.right >= n
                        || node.left as usize <= ni
                        || node.right as usize <= ni);
                if bad_feature || bad_child || !node.value.is_finite() {
                    return Err(format!("tree {ti} node {ni} is malformed"));
                }
            }
        }
        Ok(())
    }
}

/// The feature names of a verdict, for the explanation.
pub fn feature_names(v: &Verdict) -> Vec<&'static str> {
    v.features
        .iter()
        .filter_map(|&i| SCHEMA.get(i).copied())
        .collect()
}

fn build(
    t: &mut Tree,
    data: &[FlowFeatures],
    sample: &mut [usize],
    depth: usize,
    height: usize,
    rng: &mut Rng,
) -> u32 {
    let me = t.nodes.len() as u32;
    t.nodes.push(Node {
        feature: LEAF,
        value: 0.0,
        left: 0,
        right: 0,
        size: sample.len() as u32,
    });
    if depth >= height || sample.len() <= 1 {
        return me;
    }
    // Features that still vary within this node's flows; pick one at random.
    let mut varying = [(0usize, 0f64, 0f64); N_FEATURES];
    let mut k = 0;
    for f in 0..N_FEATURES {
        let (lo, hi) = sample
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                let v = data[i].0[f];
                (lo.min(v), hi.max(v))
            });
        if hi > lo {
            varying[k] = (f, lo, hi);
            k += 1;
        }
    }
    if k == 0 {
        return me;
    }
    let (f, lo, hi) = varying[rng.below(k)];
    let value = lo + rng.unit() * (hi - lo);
    let mut split = 0;
    for i in 0..sample.len() {
        if data[sample[i]].0[f] < value {
            sample.swap(i, split);
            split += 1;
        }
    }
    let (l, r) = sample.split_at_mut(split);
    let left = build(t, data, l, depth + 1, height, rng);
    let right = build(t, data, r, depth + 1, height, rng);
    t.nodes[me as usize] = Node {
        feature: f as u8,
        value,
        left,
        right,
        size: 0,
    };
    me
}

/// Path length of `x` in `t` (edges plus `c(size)` at the leaf); counts the feature of the
/// last split on the path in `weight` when given. A split on a feature where `x` lies outside the
/// training range isolates it there: axis splits drawn within that range alone would send it
/// down with the most extreme training flows and never set it apart.
fn path_length(
    t: &Tree,
    x: &FlowFeatures,
    outside: &[bool; N_FEATURES],
    weight: Option<&mut [f64; N_FEATURES]>,
) -> f64 {
    let mut at = 0usize;
    let mut depth = 0f64;
    let mut last = None;
    while let Some(n) = t.nodes.get(at) {
        if n.feature == LEAF {
            break;
        }
        depth += 1.0;
        let f = usize::from(n.feature);
        last = Some(f);
        if outside[f] {
            break;
        }
        let v = x.0.get(f).copied().unwrap_or(0.0);
        at = if v < n.value { n.left } else { n.right } as usize;
    }
    // The split that set the flow apart (the last on its path) is the one that explains it.
    if let (Some(w), Some(f)) = (weight, last) {
        w[f] += 1.0;
    }
    match t.nodes.get(at) {
        Some(n) if n.feature == LEAF => depth + c(n.size as usize),
        _ => depth,
    }
}

#[cfg(test)]
mod tests {
    use super::super::rng::Rng;
    use super::*;

    /// Ordinary flows: five features vary a little, the others hardly at all.
    fn normal(rng: &mut Rng) -> FlowFeatures {
        let mut v = [0.0; N_FEATURES];
        for (i, x) in v.iter_mut().enumerate() {
            *x = i as f64 + if i < 5 { rng.unit() } else { 0.01 * rng.unit() };
        }
        FlowFeatures(v)
    }

    #[test]
    fn an_outlier_scores_above_the_threshold_and_normal_flows_below() {
        let mut rng = Rng::new(1);
        let data: Vec<FlowFeatures> = (0..2000).map(|_| normal(&mut rng)).collect();
        let f = IsolationForest::fit(&data, &ForestParams::default()).unwrap();
        f.validate().unwrap();
        let mut odd = normal(&mut rng);
        odd.0[9] = 40.0;
        odd.0[12] = -5.0;
        let v = f.explain(&odd);
        assert!(v.score > f.threshold, "{v:?} vs {}", f.threshold);
        assert!(
            v.features[..2].contains(&9) && v.features[..2].contains(&12),
            "{v:?}"
        );
        assert!(v.path < v.expected_path);
        let fresh: Vec<FlowFeatures> = (0..1000).map(|_| normal(&mut rng)).collect();
        let flagged = fresh.iter().filter(|x| f.score(x) > f.threshold).count();
        assert!(flagged <= 10, "{flagged} of 1000 ordinary flows flagged");
    }

    #[test]
    fn training_is_reproducible_from_the_seed() {
        let mut rng = Rng::new(2);
        let data: Vec<FlowFeatures> = (0..500).map(|_| normal(&mut rng)).collect();
        let p = ForestParams::default();
        assert_eq!(
            IsolationForest::fit(&data, &p),
            IsolationForest::fit(&data, &p)
        );
        let other = ForestParams { seed: 8, ..p };
        assert_ne!(
            IsolationForest::fit(&data, &p),
            IsolationForest::fit(&data, &other)
        );
    }

    #[test]
    fn too_few_flows_train_nothing_and_bad_trees_are_refused() {
        assert!(IsolationForest::fit(
            &[FlowFeatures([0.0; N_FEATURES]); 5],
            &ForestParams::default()
        )
        .is_none());
        let mut rng = Rng::new(3);
        let data: Vec<FlowFeatures> = (0..100).map(|_| normal(&mut rng)).collect();
        let mut f = IsolationForest::fit(&data, &ForestParams::default()).unwrap();
        f.trees[0].nodes[0].left = 0;
        assert!(f.validate().is_err());
    }

    #[test]
    fn c_matches_the_paper() {
        assert_eq!(c(1), 0.0);
        assert_eq!(c(2), 1.0);
        assert!((c(256) - 10.24).abs() < 0.01, "{}", c(256));
    }
}
