//! The whole network's baselines as the console shows them: each feature the network is held
//! to, the open window so far and the last closed one against the learned band.

use super::{BaselineDetector, FLOORS, FLOOR_FRAC};
use crate::engine::features::window::{HostWindow, WINDOW_SCHEMA};
use crate::engine::stats::{BaselineRow, BaselineView, BASELINE_ROWS};

/// The window features the network-wide baseline judges (connections, bytes out, bytes in).
const NETWORK_FEATURES: [usize; BASELINE_ROWS] = [0, 3, 4];

/// A closed window's network-wide values, and where each lay against the band of the time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Judged {
    values: [f64; BASELINE_ROWS],
    sides: [i8; BASELINE_ROWS],
}

impl BaselineDetector {
    fn row(&self, i: usize, now: f64) -> BaselineRow {
        let base = &self.network.features[i];
        BaselineRow {
            feature: WINDOW_SCHEMA[i],
            bytes: matches!(i, 3 | 4),
            now,
            last: None,
            last_side: 0,
            mean: base.mean,
            spread: base.spread(FLOOR_FRAC, FLOORS[i]),
        }
    }

    /// `total`, the network's closing window, against the baseline before it learns it.
    pub(super) fn judged(&self, total: &HostWindow) -> Judged {
        let x = total.features();
        let warmed = self.warmed(&self.network);
        let k = self.params.anomaly_threshold;
        Judged {
            values: NETWORK_FEATURES.map(|i| x[i]),
            sides: NETWORK_FEATURES.map(|i| {
                if warmed {
                    self.row(i, x[i]).side(x[i], k)
                } else {
                    0
                }
            }),
        }
    }

    /// The network-wide baselines against the open window and the last closed one.
    pub fn view(&self) -> BaselineView {
        let mut open = HostWindow::default();
        for w in self.windows.values() {
            open.flows += w.flows;
            open.bytes_out += w.bytes_out;
            open.bytes_in += w.bytes_in;
        }
        let now = open.features();
        let mut rows = NETWORK_FEATURES.map(|i| self.row(i, now[i]));
        if let Some(j) = &self.last_network {
            for (k, r) in rows.iter_mut().enumerate() {
                r.last = Some(j.values[k]);
                r.last_side = j.sides[k];
            }
        }
        BaselineView {
            windows: self.network.windows,
            warmup: self.cfg.warmup_windows.max(1),
            window_secs: self.params.window_secs.max(1),
            threshold: self.params.anomaly_threshold,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::detect::config::{BaselineConfig, BeaconConfig, LearnParams};
    use crate::engine::detect::FlowDetector;
    use crate::engine::features::testutil::flow;
    use crate::engine::frame::Ts;

    fn minute(d: &mut BaselineDetector, m: i64, flows: i64, bytes_out: u64) {
        let mut out = Vec::new();
        for k in 0..flows {
            d.flow_ended(
                &flow(
                    [10, 0, 0, 5],
                    [10, 0, 1, 1],
                    443,
                    m * 60 + 1 + k % 50,
                    0.5,
                    (4, 4),
                    (bytes_out, 2000),
                ),
                &mut out,
            );
        }
        assert!(out.is_empty());
    }

    #[test]
    fn learning_then_a_band_with_the_open_window_against_it() {
        let cfg = BaselineConfig {
            warmup_windows: 3,
            ..BaselineConfig::default()
        };
        let params = LearnParams {
            window_secs: 60,
            ..LearnParams::default()
        };
        let mut d = BaselineDetector::new(&cfg, &BeaconConfig::default(), params).quiet();
        let v = d.baseline_view().unwrap();
        assert_eq!((v.windows, v.warmup, v.window_secs), (0, 3, 60));
        assert!(v.learning());
        assert_eq!(
            v.rows.map(|r| r.feature),
            ["connections", "bytes out", "bytes in"]
        );
        assert_eq!(v.rows[0].last, None);

        for m in 0..4 {
            minute(&mut d, m, 10, 1000);
        }
        // Minute 3 is open: ten connections so far; minutes 0-2 were learned.
        let v = d.baseline_view().unwrap();
        assert_eq!(v.windows, 3);
        assert!(!v.learning());
        let conn = v.rows[0];
        assert_eq!((conn.now, conn.last, conn.mean), (10.0, Some(10.0), 10.0));
        // A steady baseline's spread is its floor: 20 connections.
        assert_eq!(conn.spread, 20.0);
        assert_eq!(conn.band(v.threshold), (0.0, 10.0 + 20.0 * v.threshold));
        assert_eq!(conn.side(conn.now, v.threshold), 0);
        assert_eq!(conn.last_side, 0);
        assert_eq!(v.rows[1].now, 10_000.0);
        assert!(v.rows[1].bytes && !v.rows[0].bytes);

        // 200 connections in the next minute lie above the band, once it has closed too.
        minute(&mut d, 4, 200, 1000);
        let open = d.baseline_view().unwrap().rows[0];
        assert_eq!((open.now, open.side(open.now, v.threshold)), (200.0, 1));
        d.tick(Ts::from_parts(5 * 60 + 1, 0), &mut Vec::new());
        let v = d.baseline_view().unwrap();
        let conn = v.rows[0];
        assert_eq!((conn.last, conn.last_side, conn.now), (Some(200.0), 1, 0.0));
        // The band has learned a little of it since.
        assert!(conn.mean > 10.0, "{conn:?}");
        assert_eq!(v.windows, 5);
    }

    #[test]
    fn off_when_the_baselines_are() {
        let cfg = BaselineConfig {
            enabled: false,
            ..BaselineConfig::default()
        };
        let d = BaselineDetector::new(&cfg, &BeaconConfig::default(), LearnParams::default());
        assert_eq!(d.baseline_view(), None);
    }
}
