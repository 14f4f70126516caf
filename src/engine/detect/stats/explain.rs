//! One feature against its baseline, in words a person can act on:
//! `bytes out 48.0 MB vs 1.2 MB ± 0.4 MB, z = 11.8`.

use super::ewma::Ewma;
use crate::engine::features::human_bytes;

/// `v` bytes in the unit `like` is written in (`0.4 MB` beside `1.2 MB`, not `409.6 KB`).
fn bytes_like(v: f64, like: f64) -> String {
    let unit = human_bytes(like);
    let scale = match unit.rsplit(' ').next() {
        Some("KB") => 1024f64,
        Some("MB") => 1024f64.powi(2),
        Some("GB") => 1024f64.powi(3),
        Some("TB") => 1024f64.powi(4),
        _ => return human_bytes(v),
    };
    let suffix = unit.rsplit(' ').next().unwrap_or("B");
    format!("{:.1} {suffix}", v / scale)
}
use crate::engine::features::window::WINDOW_SCHEMA;

/// A window feature's value against its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDeviation {
    /// Index into `WINDOW_SCHEMA`.
    pub feature: usize,
    pub value: f64,
    pub mean: f64,
    /// The spread the z-score divides by (the standard deviation, floored).
    pub std: f64,
    pub z: f64,
}

/// The deviation of `value` of feature `i` from `base`, its spread floored (see `Ewma::z`);
/// `None` when the numbers are not finite.
pub fn deviation(
    i: usize,
    value: f64,
    base: &Ewma,
    floor_abs: f64,
    floor_frac: f64,
) -> Option<FeatureDeviation> {
    let z = base.z(value, floor_frac, floor_abs);
    z.is_finite().then(|| FeatureDeviation {
        feature: i,
        value,
        mean: base.mean,
        std: base.spread(floor_frac, floor_abs),
        z,
    })
}

impl FeatureDeviation {
    pub fn text(&self) -> String {
        let name = WINDOW_SCHEMA
            .get(self.feature)
            .copied()
            .unwrap_or("feature");
        let show = |v: f64, like: f64| match self.feature {
            3 | 4 => bytes_like(v, like),
            5 => format!("{:.0}%", v * 100.0),
            _ => format!("{v:.1}"),
        };
        format!(
            "{name} {} vs {} ± {}, z = {:.1}",
            show(self.value, self.value),
            show(self.mean, self.mean),
            show(self.std, self.mean),
            self.z
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_the_issue_asks() {
        assert_eq!(bytes_like(300.0, 10.0), "300 B");
        let d = FeatureDeviation {
            feature: 3,
            value: 48.0 * 1048576.0,
            mean: 1.2 * 1048576.0,
            std: 0.4 * 1048576.0,
            z: 11.8,
        };
        assert_eq!(d.text(), "bytes out 48.0 MB vs 1.2 MB ± 0.4 MB, z = 11.8");
    }
}
