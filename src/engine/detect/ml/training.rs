//! Training the flow classifier (`nsm-tui train`): the labels file, flows tracked from the
//! captures' frames and labelled, and the forest fitted (cross-validation: `crossval`).
//!
//! Labels file: one label a line, tab-separated, `#` comments. `CAPTURE<TAB>CLASS` labels every
//! flow of a capture (named by its path as given, or its file name);
//! `SRC_IP<TAB>START<TAB>END<TAB>CLASS` labels the flows that address started within
//! `[START, END]` (Unix seconds). Flows no label covers are `benign`.
//!
//! Pure; driven frame by frame by the command that reads the captures.

use std::net::IpAddr;

use super::classifier::{Classifier, BENIGN};
use super::rforest::{RandomForest, RfParams};
use crate::engine::decode::decode;
use crate::engine::features::{FlowFeatures, N_FEATURES};
use crate::engine::flow::{FlowConfig, FlowRecord, FlowTable};
use crate::engine::frame::RawFrame;

#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Capture {
        capture: String,
        class: String,
    },
    Span {
        src: IpAddr,
        start: f64,
        end: f64,
        class: String,
    },
}

/// Parse a labels file's text; an error names the line (`name:line`) and the field.
pub fn parse_labels(name: &str, text: &str) -> Result<Vec<Label>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| format!("{name}:{}: {m}", n + 1);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        let class = |c: &str| -> Result<String, String> {
            if c.is_empty() || c.contains(char::is_whitespace) {
                Err(at(format!("class {c:?} must be one word")))
            } else {
                Ok(c.to_string())
            }
        };
        match f.as_slice() {
            [cap, c] => out.push(Label::Capture {
                capture: (*cap).to_string(),
                class: class(c)?,
            }),
            [ip, s, e, c] => {
                let src = ip
                    .parse()
                    .map_err(|_| at(format!("src_ip {ip:?} is not an address")))?;
                let num = |field: &str, v: &str| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| at(format!("{field} {v:?} is not Unix seconds")))
                };
                let (start, end) = (num("start", s)?, num("end", e)?);
                if end < start {
                    return Err(at(format!("end {e} is before start {s}")));
                }
                out.push(Label::Span {
                    src,
                    start,
                    end,
                    class: class(c)?,
                });
            }
            _ => {
                return Err(at(format!(
                    "expected CAPTURE<TAB>CLASS or SRC_IP<TAB>START<TAB>END<TAB>CLASS, found {} field(s)",
                    f.len()
                )))
            }
        }
    }
    Ok(out)
}

/// Labelled flow features, gathered capture by capture.
pub struct Dataset {
    labels: Vec<Label>,
    pub classes: Vec<String>,
    pub x: Vec<Vec<f64>>,
    pub y: Vec<u16>,
    pub sources: Vec<String>,
    /// The capture (index into `sources`) of each row.
    pub groups: Vec<usize>,
    flow_cfg: FlowConfig,
}

impl Dataset {
    pub fn new(labels: Vec<Label>, flow_cfg: FlowConfig) -> Self {
        Dataset {
            labels,
            classes: vec![BENIGN.to_string()],
            x: Vec::new(),
            y: Vec::new(),
            sources: Vec::new(),
            groups: Vec::new(),
            flow_cfg,
        }
    }

    fn class_id(&mut self, c: &str) -> u16 {
        let i = self.classes.iter().position(|k| k == c).unwrap_or_else(|| {
            self.classes.push(c.to_string());
            self.classes.len() - 1
        });
        u16::try_from(i).unwrap_or(0)
    }

    /// Start a capture: its flows are tracked by the returned reader until `end_capture`.
    pub fn capture(&self, name: &str) -> CaptureFlows {
        let file = name.rsplit('/').next().unwrap_or(name);
        let whole = self.labels.iter().find_map(|l| match l {
            Label::Capture { capture, class } if capture == name || capture == file => {
                Some(class.clone())
            }
            _ => None,
        });
        CaptureFlows {
            name: name.to_string(),
            whole,
            table: FlowTable::new(self.flow_cfg),
            flows: Vec::new(),
            last_sec: i64::MIN,
        }
    }

    /// Label a finished capture's flows and add them.
    pub fn end_capture(&mut self, mut c: CaptureFlows) {
        c.flows.extend(c.table.drain());
        // The order flows end in within a second follows the flow table's hashing, which
        // differs between runs; the forest's samples are drawn by row, so the same seed gives
        // the same classifier only with the rows in an order of their own.
        c.flows.sort_by_key(|r| {
            (
                r.start,
                r.end,
                r.src_ip,
                r.src_port,
                r.dest_ip,
                r.dest_port,
                r.ip_proto,
            )
        });
        for r in std::mem::take(&mut c.flows) {
            let class = c.whole.clone().or_else(|| self.span_class(&r));
            let id = self.class_id(class.as_deref().unwrap_or(BENIGN));
            self.x.push(FlowFeatures::of(&r).0.to_vec());
            self.y.push(id);
            self.groups.push(self.sources.len());
        }
        self.sources.push(c.name);
    }

    fn span_class(&self, r: &FlowRecord) -> Option<String> {
        let t = r.start.secs() as f64;
        self.labels.iter().find_map(|l| match l {
            Label::Span {
                src,
                start,
                end,
                class,
            } if *src == r.src_ip && t >= *start && t <= *end => Some(class.clone()),
            _ => None,
        })
    }

    fn counts(&self) -> Vec<u64> {
        let mut n = vec![0u64; self.classes.len()];
        for &c in &self.y {
            n[usize::from(c)] += 1;
        }
        n
    }

    /// Fit the forest on every flow; `None` without flows.
    pub fn fit(&self, p: &RfParams) -> Option<Classifier> {
        let k = self.classes.len();
        let forest = RandomForest::fit(&self.x, &self.y, k, p)?;
        let counts = self.counts();
        let mut means = vec![vec![0.0; N_FEATURES]; k];
        for (row, &c) in self.x.iter().zip(&self.y) {
            for (m, v) in means[usize::from(c)].iter_mut().zip(row) {
                *m += v;
            }
        }
        for (m, &n) in means.iter_mut().zip(&counts) {
            m.iter_mut().for_each(|v| *v /= n.max(1) as f64);
        }
        Some(Classifier::new(
            self.classes.clone(),
            means,
            forest,
            self.sources.clone(),
            counts,
        ))
    }
}

/// The flows of one capture being read.
pub struct CaptureFlows {
    name: String,
    whole: Option<String>,
    table: FlowTable,
    flows: Vec<FlowRecord>,
    last_sec: i64,
}

impl CaptureFlows {
    pub fn frame(&mut self, frame: &RawFrame) {
        let d = decode(frame);
        let payload = d.payload(&frame.data);
        self.table.update(frame.ts, &d, frame.orig_len, payload);
        if frame.ts.secs() != self.last_sec {
            self.last_sec = frame.ts.secs();
            self.flows.extend(self.table.expire(frame.ts));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::alert::Severity;
    use crate::engine::detect::config::LearnParams;
    use crate::engine::detect::ml::classifier::ClassifierDetector;
    use crate::engine::detect::FlowDetector;
    use crate::engine::features::testutil::flow;
    use crate::engine::frame::Ts;

    #[test]
    fn labels_parse_and_bad_lines_are_named() {
        let l = parse_labels(
            "l.tsv",
            "# c\nscan.pcap\tport_scan\n10.0.0.9\t100\t200.5\tbrute_force\n",
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        assert!(matches!(&l[1], Label::Span { end, .. } if *end == 200.5));
        let e = parse_labels("l.tsv", "\n10.0.0.x\t1\t2\tc\n").unwrap_err();
        assert_eq!(e, "l.tsv:2: src_ip \"10.0.0.x\" is not an address");
        let e = parse_labels("l.tsv", "a\tb\tc\n").unwrap_err();
        assert!(e.starts_with("l.tsv:1: expected"), "{e}");
        let e = parse_labels("l.tsv", "10.0.0.1\t5\t2\tc\n").unwrap_err();
        assert!(e.contains("before start"), "{e}");
    }

    fn dataset() -> Dataset {
        let mut d = Dataset::new(Vec::new(), FlowConfig::default());
        let attack = d.class_id("port_scan");
        for i in 0..400u16 {
            let web = flow(
                [10, 0, 0, 1],
                [10, 0, 0, 2],
                443,
                i64::from(i),
                1.0 + f64::from(i % 5) * 0.1,
                (8, 9),
                (900, 20_000),
            );
            d.x.push(FlowFeatures::of(&web).0.to_vec());
            d.y.push(0);
            let mut probe = flow([10, 0, 0, 9], [10, 0, 0, 2], i, 0, 0.0, (1, 1), (60, 54));
            probe.shape.syn = 1;
            probe.shape.rst = 1;
            d.x.push(FlowFeatures::of(&probe).0.to_vec());
            d.y.push(attack);
        }
        d
    }

    #[test]
    fn a_classified_flow_raises_one_explained_alert_per_host_class_and_window() {
        let c = dataset().fit(&RfParams::default()).unwrap();
        let c = Classifier::from_json(&c.to_json()).unwrap();
        let mut det = ClassifierDetector::new(c, LearnParams::default());
        let mut out = Vec::new();
        for p in 0..50u16 {
            let mut probe = flow(
                [10, 0, 0, 7],
                [10, 0, 0, 2],
                1000 + p,
                5,
                0.0,
                (1, 1),
                (60, 54),
            );
            probe.shape.syn = 1;
            probe.shape.rst = 1;
            det.flow_ended(&probe, &mut out);
        }
        det.flow_ended(
            &flow(
                [10, 0, 0, 1],
                [10, 0, 0, 2],
                443,
                6,
                1.2,
                (8, 9),
                (900, 20_000),
            ),
            &mut out,
        );
        det.tick(Ts::from_parts(1000, 0), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        let a = &out[0].alert;
        assert_eq!(a.category.as_ref(), "ml_classified:port_scan");
        assert_eq!(a.rule.0, 9_000_040);
        assert!(
            a.explanation
                .starts_with("50 flow(s) from 10.0.0.7 classified as port_scan"),
            "{}",
            a.explanation
        );
        assert!(a.explanation.contains("class mean"), "{}", a.explanation);
    }

    fn probe(src: [u8; 4], dst: [u8; 4], port: u16) -> FlowRecord {
        let mut p = flow(src, dst, port, 5, 0.0, (1, 1), (60, 54));
        p.shape.syn = 1;
        p.shape.rst = 1;
        p
    }

    fn severities(flows: &[FlowRecord]) -> Vec<(String, Severity)> {
        let c = dataset().fit(&RfParams::default()).unwrap();
        let mut det = ClassifierDetector::new(c, LearnParams::default());
        let mut out = Vec::new();
        for f in flows {
            det.flow_ended(f, &mut out);
        }
        det.finish(&mut out);
        out.iter()
            .map(|a| (a.alert.explanation.clone(), a.alert.severity))
            .collect()
    }

    #[test]
    fn severity_is_medium_only_for_several_flows_or_a_crowd_at_one_destination_well_above_benign() {
        use crate::engine::detect::ml::classifier::severity;
        assert_eq!(severity(1, 1, 1.0), Severity::Low);
        assert_eq!(severity(2, 19, 1.0), Severity::Low);
        assert_eq!(severity(3, 1, 0.5), Severity::Medium);
        assert_eq!(severity(1, 20, 0.9), Severity::Medium);
        assert_eq!(
            severity(500, 500, 0.4),
            Severity::Low,
            "too close to benign"
        );

        // One probe from a host: a lone flow's guess, Low, and the alert says why.
        let got = severities(&[probe([10, 0, 0, 7], [10, 0, 0, 2], 1000)]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, Severity::Low);
        assert!(
            got[0].0.contains("Low: Medium needs 3 flows"),
            "{}",
            got[0].0
        );
        // Three from one host: Medium.
        let three: Vec<FlowRecord> = (0..3)
            .map(|p| probe([10, 0, 0, 7], [10, 0, 0, 2], 1000 + p))
            .collect();
        let got = severities(&three);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, Severity::Medium, "{}", got[0].0);
        // Twenty sources one flow each to one destination (spoofed): each alert Medium;
        // nineteen: Low.
        for (n, want) in [(20u8, Severity::Medium), (19, Severity::Low)] {
            let crowd: Vec<FlowRecord> = (0..n)
                .map(|i| probe([10, 0, 1, i], [10, 0, 0, 2], 80))
                .collect();
            let got = severities(&crowd);
            assert_eq!(got.len(), usize::from(n), "{got:?}");
            assert!(got.iter().all(|(_, s)| *s == want), "{n}: {got:?}");
            assert!(got[0]
                .0
                .contains(&format!("{n} flow(s) of the class to 10.0.0.2")));
        }
    }

    #[test]
    fn confidence_threshold_still_gates_the_alerts() {
        let c = dataset().fit(&RfParams::default()).unwrap();
        let params = LearnParams {
            confidence: 1.01,
            ..LearnParams::default()
        };
        let mut det = ClassifierDetector::new(c, params);
        let mut out = Vec::new();
        for p in 0..50u16 {
            det.flow_ended(&probe([10, 0, 0, 7], [10, 0, 0, 2], 1000 + p), &mut out);
        }
        det.finish(&mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn wrong_classifier_files_are_refused_with_the_reason() {
        let c = dataset().fit(&RfParams::default()).unwrap();
        assert!(Classifier::from_json("[")
            .unwrap_err()
            .starts_with("not a classifier file"));
        let mut bad = c.clone();
        bad.version = 9;
        assert!(Classifier::from_json(&bad.to_json())
            .unwrap_err()
            .contains("version 9"));
        let mut bad = c.clone();
        bad.flow_schema = "00".into();
        assert!(Classifier::from_json(&bad.to_json())
            .unwrap_err()
            .contains("built on flow features 00"));
        let mut bad = c;
        bad.class_means.pop();
        assert!(Classifier::from_json(&bad.to_json())
            .unwrap_err()
            .starts_with("malformed classifier"));
    }
}
