//! The Isolation Forest laid out for scoring every flow: all trees in one array of 16-byte
//! nodes in pre-order (a split's left child is the next node), each leaf holding its `c(size)`
//! already, and an early exit once a flow's path is long enough to be ordinary.
//!
//! Built from an `IsolationForest` when it is trained or loaded; used by `ForestDetector` on
//! the aggregator thread. `IsolationForest::score` stays the reference: `outlier_score` returns
//! a score exactly when that score is above the threshold, and agrees with it bit for bit.

use super::forest::{c, IsolationForest};
use crate::engine::features::{FlowFeatures, N_FEATURES};

/// A leaf's feature index.
const LEAF: u8 = u8::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Flat {
    /// The split value, or for a leaf the average path length below it (`c(size)`).
    value: f64,
    /// The right child's index in the whole array (a split's left child is the next node).
    right: u32,
    feature: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlatForest {
    nodes: Vec<Flat>,
    /// Each tree's root in `nodes`.
    roots: Vec<u32>,
    lo: [f64; N_FEATURES],
    hi: [f64; N_FEATURES],
    /// `c(ψ)`, as `score` divides by it.
    norm: f64,
    threshold: f64,
    /// Summed path lengths past this mean the flow is no outlier, whatever the other trees say
    /// (path lengths are never negative): `trees × -c(ψ)·log2(threshold)`, plus a margin far
    /// above rounding so that a flow near the threshold is always scored in full.
    enough: f64,
}

impl FlatForest {
    /// `None` when a tree is not in pre-order (never the case for a forest that `validate`
    /// accepts and `fit` built; the caller then scores with the forest itself).
    pub fn new(f: &IsolationForest) -> Option<FlatForest> {
        let mut nodes = Vec::new();
        let mut roots = Vec::with_capacity(f.trees.len());
        for t in &f.trees {
            let base = u32::try_from(nodes.len()).ok()?;
            roots.push(base);
            for (i, n) in t.nodes.iter().enumerate() {
                if n.feature == LEAF {
                    nodes.push(Flat {
                        value: c(n.size as usize),
                        right: 0,
                        feature: LEAF,
                    });
                    continue;
                }
                if n.left as usize != i + 1 || usize::from(n.feature) >= N_FEATURES {
                    return None;
                }
                nodes.push(Flat {
                    value: n.value,
                    right: base.checked_add(n.right)?,
                    feature: n.feature,
                });
            }
        }
        let mut lo = [f64::NEG_INFINITY; N_FEATURES];
        let mut hi = [f64::INFINITY; N_FEATURES];
        for i in 0..N_FEATURES {
            lo[i] = f.lo.get(i).copied().unwrap_or(f64::NEG_INFINITY);
            hi[i] = f.hi.get(i).copied().unwrap_or(f64::INFINITY);
        }
        let norm = c(f.samples).max(f64::MIN_POSITIVE);
        let per_tree = -norm * f.threshold.log2();
        let enough = if per_tree.is_finite() && per_tree > 0.0 {
            per_tree * f.trees.len() as f64 + 1e-6
        } else {
            f64::INFINITY
        };
        Some(FlatForest {
            nodes,
            roots,
            lo,
            hi,
            norm,
            threshold: f.threshold,
            enough,
        })
    }

    /// The flow's score when it is above the threshold, else `None`; the score is the one
    /// `IsolationForest::score` gives.
    pub fn outlier_score(&self, x: &FlowFeatures) -> Option<f64> {
        let mut outside = 0u32;
        for i in 0..N_FEATURES {
            let v = x.0[i];
            if v < self.lo[i] || v > self.hi[i] {
                outside |= 1 << i;
            }
        }
        let mut total = 0.0;
        for &root in &self.roots {
            total += self.path(root as usize, x, outside);
            if total > self.enough {
                return None;
            }
        }
        let mean = total / self.roots.len().max(1) as f64;
        let score = 2f64.powf(-mean / self.norm);
        (score > self.threshold).then_some(score)
    }

    /// As `forest::path_length`: edges walked plus the leaf's `c(size)`; a split on a feature
    /// the flow lies outside the training range of ends the walk.
    fn path(&self, mut at: usize, x: &FlowFeatures, outside: u32) -> f64 {
        let mut depth = 0.0;
        while let Some(n) = self.nodes.get(at) {
            if n.feature == LEAF {
                return depth + n.value;
            }
            depth += 1.0;
            let f = usize::from(n.feature);
            if outside & (1 << f) != 0 {
                return depth;
            }
            let v = x.0.get(f).copied().unwrap_or(0.0);
            at = if v < n.value {
                at + 1
            } else {
                n.right as usize
            };
        }
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::super::forest::ForestParams;
    use super::super::rng::Rng;
    use super::*;

    fn flows(rng: &mut Rng, n: usize, spread: f64) -> Vec<FlowFeatures> {
        (0..n)
            .map(|_| {
                let mut v = [0.0; N_FEATURES];
                for (i, x) in v.iter_mut().enumerate() {
                    *x = (i as f64) + rng.unit() * spread * (1.0 + (i % 3) as f64);
                }
                FlowFeatures(v)
            })
            .collect()
    }

    #[test]
    fn agrees_with_the_reference_score_on_every_flow() {
        let mut rng = Rng::new(3);
        let train = flows(&mut rng, 2000, 1.0);
        let f = IsolationForest::fit(&train, &ForestParams::default()).unwrap();
        let flat = FlatForest::new(&f).unwrap();
        // Ordinary flows, flows somewhat apart and flows far outside the training range.
        let mut probe = flows(&mut rng, 3000, 1.0);
        probe.extend(flows(&mut rng, 3000, 2.5));
        probe.extend(flows(&mut rng, 500, 40.0));
        let mut outliers = 0;
        for x in &probe {
            let reference = f.score(x);
            match flat.outlier_score(x) {
                Some(s) => {
                    assert_eq!(s.to_bits(), reference.to_bits());
                    outliers += 1;
                }
                None => assert!(reference <= f.threshold, "{reference} > {}", f.threshold),
            }
            if reference > f.threshold {
                assert!(flat.outlier_score(x).is_some());
            }
        }
        assert!(
            outliers > 100,
            "{outliers} outliers: the probe must hold some"
        );
    }

    #[test]
    fn a_tree_out_of_pre_order_is_refused() {
        let mut rng = Rng::new(5);
        let mut f =
            IsolationForest::fit(&flows(&mut rng, 100, 1.0), &ForestParams::default()).unwrap();
        let root = f.trees[0].nodes[0];
        assert_ne!(root.feature, LEAF);
        f.trees[0].nodes[0].left = root.right;
        assert!(FlatForest::new(&f).is_none());
    }
}
