//! The run's metrics in Prometheus form: packets, bytes, drops by kind, alerts by severity,
//! response actions by outcome, queue depths and the reputation quota. Nothing is counted
//! here: each scrape reads the counters the pipeline threads already keep (atomics, the
//! aggregator's published snapshot, the response metrics) and encodes them with
//! `prometheus-client`. Called on the metrics server's thread; it takes the snapshot's lock
//! and the response metrics' lock briefly, once per scrape.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::counters::SharedCounters;
use crate::engine::alert::Severity;
use crate::engine::stats::Stats;
use crate::enrich::reputation::Status as ReputationStatus;
use crate::metrics::SharedMetrics;

/// What a scrape reads: the running pipeline's counters.
#[derive(Debug)]
pub struct RunView {
    pub counters: Arc<SharedCounters>,
    pub published: Arc<Mutex<Stats>>,
    pub response: Option<SharedMetrics>,
    pub reputation: Option<Arc<ReputationStatus>>,
}

/// Where the running pipeline shows its counters to the exporter; empty until a run starts
/// (a scrape then reports zeros).
#[derive(Debug, Clone, Default)]
pub struct MetricsSlot(Arc<Mutex<Option<RunView>>>);

impl MetricsSlot {
    /// The run that scrapes read from now on.
    pub fn attach(&self, view: RunView) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(view);
    }
}

/// The registry a scrape encodes: one collector reading `slot`.
pub fn registry(slot: MetricsSlot) -> Registry {
    let mut r = Registry::with_prefix("nsm_tui");
    r.register_collector(Box::new(RunCollector(slot)));
    r
}

/// The OpenMetrics text of `registry` now.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}

#[derive(Debug)]
struct RunCollector(MetricsSlot);

/// The values of one scrape, copied out of the locks before encoding.
#[derive(Default)]
struct Scrape {
    stats: Stats,
    drops: Vec<(&'static str, u64)>,
    queues: Vec<(&'static str, u64)>,
    actions: Vec<(String, u64)>,
    reputation: Option<crate::enrich::reputation::StatusSnapshot>,
}

impl Scrape {
    fn read(view: Option<&RunView>) -> Scrape {
        let Some(v) = view else {
            return Scrape::default();
        };
        let g = |a: &AtomicU64| a.load(Relaxed);
        let c = &v.counters;
        let q = &c.queues;
        Scrape {
            stats: v
                .published
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            drops: vec![
                ("kernel", g(&c.kernel_drops)),
                ("interface", g(&c.if_drops)),
                ("queue", g(&c.queue_drops)),
                ("store", g(&c.db_drops)),
                ("pcap_queue", g(&c.pcap_drops)),
                ("eve_write", g(&c.eve_lost)),
                ("pcap_write", g(&c.pcap_lost)),
            ],
            queues: vec![
                ("capture", g(&q.capture)),
                ("results", g(&q.results)),
                ("output", g(&q.output)),
                ("store", g(&q.store)),
                ("pcap", g(&q.pcap)),
            ],
            actions: v
                .response
                .as_ref()
                .map(|m| crate::metrics::snapshot(m).by_outcome.into_iter().collect())
                .unwrap_or_default(),
            reputation: v.reputation.as_ref().map(|s| s.snapshot()),
        }
    }
}

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

/// One counter family with a label: `name_total{label="key"} value` for each pair.
fn counters<K: AsRef<str>>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: &[(K, u64)],
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (k, v) in values {
        let labels = [(label, k.as_ref())];
        ConstCounter::new(*v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauges(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for (k, v) in values {
        let labels = [(label, *k)];
        ConstGauge::new(i64::try_from(*v).unwrap_or(i64::MAX)).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for RunCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = {
            let view = self.0 .0.lock().unwrap_or_else(PoisonError::into_inner);
            Scrape::read(view.as_ref())
        };
        let st = &s.stats;
        counter(&mut e, "packets", "Packets analysed.", st.decoder.pkts)?;
        counter(
            &mut e,
            "bytes",
            "Bytes of the packets analysed (on the wire).",
            st.decoder.bytes,
        )?;
        counter(
            &mut e,
            "captured_packets",
            "Frames the capture source handed over.",
            st.capture.received,
        )?;
        counters(
            &mut e,
            "drops",
            "Packets, rows or events lost, by where: kernel, interface, queue (analysis), \
             store (database queue), pcap_queue, eve_write, pcap_write.",
            "kind",
            &s.drops,
        )?;
        let alerts: Vec<(&str, u64)> = Severity::ALL
            .iter()
            .map(|sev| (sev.as_str(), st.alerts.get(sev).copied().unwrap_or(0)))
            .collect();
        counters(
            &mut e,
            "alerts",
            "Alerts raised, by severity.",
            "severity",
            &alerts,
        )?;
        counters(
            &mut e,
            "actions",
            "Response actions, by outcome.",
            "outcome",
            &s.actions,
        )?;
        gauges(
            &mut e,
            "queue_depth",
            "Messages waiting in each pipeline queue.",
            "queue",
            &s.queues,
        )?;
        gauge(
            &mut e,
            "flows_active",
            "Flows in the flow table.",
            st.flow.active,
        )?;
        counter(&mut e, "flows", "Flows created.", st.flow.created)?;
        if let Some(r) = &s.reputation {
            gauge(
                &mut e,
                "reputation_quota_remaining",
                "AbuseIPDB checks left in today's quota.",
                r.quota_remaining,
            )?;
            gauge(
                &mut e,
                "reputation_pending",
                "Addresses waiting for a reputation check.",
                r.pending,
            )?;
            counter(
                &mut e,
                "reputation_checks",
                "Reputation checks that reached the API.",
                r.api_checks,
            )?;
        }
        Ok(())
    }
}
