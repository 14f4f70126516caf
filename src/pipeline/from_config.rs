//! Pipeline options from the effective configuration: worker count, limits, flow table, EVE,
//! SQLite and pcap log settings.

use std::time::Duration;

use super::capture::Limits;
use super::{EveTarget, PipelineOptions};
use crate::config::Config;
use crate::engine::flow::FlowConfig;
use crate::store::{PcapLogOptions, StoreOptions};

impl PipelineOptions {
    /// Pipeline options from the effective configuration.
    pub fn from_config(c: &Config) -> PipelineOptions {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let eve = c.output.eve_path.as_ref().map(|p| {
            if p.as_os_str() == "-" {
                EveTarget::Stdout
            } else {
                EveTarget::File(p.clone())
            }
        });
        let db = c.storage.db_enabled.then(|| {
            let opts = StoreOptions {
                max_packets: (c.storage.retention_max_packets > 0)
                    .then_some(c.storage.retention_max_packets),
                max_age_secs: (c.storage.retention_max_age_hours > 0)
                    .then_some(c.storage.retention_max_age_hours * 3600),
                ..StoreOptions::default()
            };
            (c.storage.db_path.clone(), opts)
        });
        let pcap_log = c.storage.pcap_log_enabled.then(|| {
            let opts = PcapLogOptions {
                snaplen: c.sniffer.snaplen,
                rotate_bytes: (c.storage.pcap_rotate_mb > 0)
                    .then_some(c.storage.pcap_rotate_mb * 1024 * 1024),
            };
            (c.storage.pcap_log_path.clone(), opts)
        });
        PipelineOptions {
            workers: c.effective_workers(cores),
            limits: Limits {
                max_packets: c.sniffer.packet_count_limit,
                duration_secs: c.sniffer.capture_duration,
                batch_size: c.sniffer.analysis_batch_size.max(1),
            },
            flow: FlowConfig {
                idle_timeout_secs: c.output.flow_timeout_secs,
                max_flows: c.output.max_flows,
            },
            eve,
            sensor_name: sensor_name(c),
            eve_extensions: c.output.eve_extensions,
            eve_reopen: None,
            db,
            store_packets: c.storage.store_packets,
            pcap_log,
            tick: Duration::from_secs(c.output.stats_interval_secs.max(1)),
            eve_stats_every: (c.output.stats_interval_secs > 0)
                .then(|| Duration::from_secs(c.output.stats_interval_secs)),
            observer: None,
            enrich: crate::enrich::Enrichment::default(),
            response_metrics: None,
            metrics: None,
        }
    }
}

/// The sensor's name for EVE's `host`, as Suricata's `sensor-name`: the configured one, else
/// this machine's host name; `None` when neither is known (or the configured one is empty).
fn sensor_name(c: &Config) -> Option<String> {
    match &c.output.sensor_name {
        Some(n) => Some(n.trim().to_string()).filter(|n| !n.is_empty()),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty()),
    }
}
