//! Exponentially weighted mean and variance: the baseline a statistical feature is held to,
//! and its z-score.
//!
//! Pure and `Copy`; one per feature per profile. West's incremental form: each observation
//! moves the mean by `alpha` of its distance and the variance the same way.

use serde::{Deserialize, Serialize};

/// A feature's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Ewma {
    pub mean: f64,
    pub var: f64,
    /// Observations taken.
    pub n: u64,
}

impl Ewma {
    /// Take one observation; `alpha` is the weight of the newest (0–1). The first
    /// observation sets the mean.
    pub fn update(&mut self, x: f64, alpha: f64) {
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            let incr = alpha * d;
            self.mean += incr;
            self.var = (1.0 - alpha) * (self.var + d * incr);
        }
        self.n += 1;
    }

    pub fn std(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }

    /// How many spreads `x` lies above the mean. The spread is floored at `floor_frac` of
    /// the mean and at `floor_abs`, so a feature that never varied does not turn its first
    /// small change into an enormous score.
    pub fn z(&self, x: f64, floor_frac: f64, floor_abs: f64) -> f64 {
        (x - self.mean) / self.spread(floor_frac, floor_abs)
    }

    /// The spread `z` divides by: the standard deviation, floored.
    pub fn spread(&self, floor_frac: f64, floor_abs: f64) -> f64 {
        self.std().max(self.mean.abs() * floor_frac).max(floor_abs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_the_mean_and_spread_of_a_steady_series() {
        let mut e = Ewma::default();
        for i in 0..2000 {
            e.update(if i % 2 == 0 { 9.0 } else { 11.0 }, 0.05);
        }
        assert!((e.mean - 10.0).abs() < 0.1, "{e:?}");
        assert!((e.std() - 1.0).abs() < 0.1, "{e:?}");
        assert!(e.z(20.0, 0.0, 0.0) > 9.0);
        assert!(e.z(10.0, 0.0, 0.0).abs() < 0.2);
    }

    #[test]
    fn a_constant_baseline_uses_the_floor() {
        let mut e = Ewma::default();
        for _ in 0..50 {
            e.update(4.0, 0.1);
        }
        assert_eq!(e.std(), 0.0);
        // Spread floored at 25% of the mean (1.0): 8 is 4 spreads above.
        assert!((e.z(8.0, 0.25, 0.5) - 4.0).abs() < 1e-9);
    }
}
