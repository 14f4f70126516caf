//! Live capture through libpcap (the `pcap` crate): interface choice, BPF filter, snaplen,
//! promiscuous and immediate mode, buffer size, and the kernel drop counters.
//!
//! Runs on the capture thread; `next_frame` blocks up to the read timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use pcap::{Active, Capture, Device, Precision};

use super::{CaptureError, Source};
use crate::engine::frame::{LinkType, RawFrame, Ts};
use crate::engine::stats::CaptureStats;

/// How to open the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Interface name; `None` picks the default route's interface.
    pub iface: Option<String>,
    /// BPF filter in libpcap syntax.
    pub filter: Option<String>,
    pub snaplen: i32,
    pub promiscuous: bool,
    pub immediate: bool,
    pub buffer_size_mb: u32,
    /// Read timeout, so the capture thread can notice shutdown and flush partial batches. A
    /// few milliseconds: the last packets of a burst (the probe that completes a scan) wait at
    /// most this long before the detectors see them.
    pub timeout_ms: i32,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            iface: None,
            filter: None,
            snaplen: 65535,
            promiscuous: true,
            immediate: true,
            buffer_size_mb: 16,
            timeout_ms: 5,
        }
    }
}

pub struct LiveSource {
    cap: Capture<Active>,
    iface: String,
    linktype: LinkType,
    /// How long `next_frame` waits for a packet before returning `Ok(None)`.
    timeout: Duration,
}

/// Sleep between polls of the non-blocking handle while the link is quiet. At line rate the
/// loop never sleeps; on an idle link this costs at most 200 wake-ups a second.
const IDLE_POLL: Duration = Duration::from_millis(5);

/// The interface of the default IPv4 route from a `/proc/net/route` text.
pub fn default_route_iface(route_table: &str) -> Option<String> {
    route_table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.len() > 2 && cols[1] == "00000000").then(|| cols[0].to_string())
    })
}

/// The interface to use when none was named: the default route's, else the first up,
/// non-loopback device libpcap lists.
pub fn pick_default_iface() -> Result<String, CaptureError> {
    if let Ok(table) = std::fs::read_to_string(Path::new("/proc/net/route")) {
        if let Some(i) = default_route_iface(&table) {
            return Ok(i);
        }
    }
    let devices = Device::list().map_err(|e| CaptureError::Live {
        iface: "?".into(),
        detail: e.to_string(),
    })?;
    devices
        .into_iter()
        .find(|d| d.flags.is_up() && !d.flags.is_loopback() && d.name != "any")
        .map(|d| d.name)
        .ok_or(CaptureError::NoInterface)
}

fn interface_names() -> String {
    match Device::list() {
        Ok(list) => list
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("(cannot list interfaces: {e})"),
    }
}

fn looks_like_permission(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("permitted") || m.contains("permission") || m.contains("eperm")
}

impl LiveSource {
    pub fn open(opts: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let iface = match &opts.iface {
            Some(i) => i.clone(),
            None => pick_default_iface()?,
        };
        let exists = iface == "any"
            || Device::list()
                .map(|l| l.iter().any(|d| d.name == iface))
                .unwrap_or(true);
        if !exists {
            return Err(CaptureError::NoSuchInterface {
                iface,
                available: interface_names(),
            });
        }
        let live_err = |e: pcap::Error| {
            let detail = e.to_string();
            if looks_like_permission(&detail) {
                let exe = std::env::current_exe()
                    .map_or_else(|_| "nsm-tui".into(), |p| p.display().to_string());
                CaptureError::NotPermitted {
                    iface: iface.clone(),
                    exe,
                    detail,
                }
            } else if detail.contains("No such device") || detail.contains("doesn't exist") {
                CaptureError::NoSuchInterface {
                    iface: iface.clone(),
                    available: interface_names(),
                }
            } else {
                CaptureError::Live {
                    iface: iface.clone(),
                    detail,
                }
            }
        };
        let inactive = Capture::from_device(iface.as_str()).map_err(live_err)?;
        let mut cap = inactive
            .snaplen(opts.snaplen)
            .promisc(opts.promiscuous)
            .immediate_mode(opts.immediate)
            .buffer_size(
                i32::try_from(opts.buffer_size_mb.saturating_mul(1 << 20)).unwrap_or(i32::MAX),
            )
            .timeout(opts.timeout_ms)
            .precision(Precision::Nano)
            .open()
            .map_err(live_err)?;
        if let Some(f) = &opts.filter {
            cap.filter(f, true).map_err(|e| CaptureError::BadFilter {
                filter: f.clone(),
                detail: e.to_string(),
            })?;
        }
        let linktype = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
        // In immediate mode libpcap's read timeout does not fire on Linux, so a blocking read
        // on a quiet link would hold a partial batch (and shutdown) until the next packet.
        // Non-blocking reads with a bounded wait keep both prompt.
        let cap = cap.setnonblock().map_err(|e| CaptureError::Live {
            iface: iface.clone(),
            detail: e.to_string(),
        })?;
        Ok(LiveSource {
            cap,
            timeout: Duration::from_millis(u64::try_from(opts.timeout_ms).unwrap_or(100)),
            iface,
            linktype,
        })
    }
}

fn to_frame(
    r: Result<pcap::Packet<'_>, pcap::Error>,
    linktype: LinkType,
    iface: &str,
) -> Result<Option<RawFrame>, CaptureError> {
    match r {
        Ok(p) => {
            // Precision::Nano makes tv_usec carry nanoseconds.
            let secs = p.header.ts.tv_sec;
            let nanos = u32::try_from(p.header.ts.tv_usec).unwrap_or(0);
            Ok(Some(RawFrame {
                ts: Ts::from_parts(secs, nanos),
                linktype,
                iface: 0,
                orig_len: p.header.len,
                data: p.data.to_vec(),
            }))
        }
        Err(pcap::Error::TimeoutExpired) => Ok(None),
        Err(e) => Err(CaptureError::Live {
            iface: iface.to_string(),
            detail: e.to_string(),
        }),
    }
}

impl Source for LiveSource {
    fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
        let started = Instant::now();
        loop {
            match self.cap.next_packet() {
                Err(pcap::Error::TimeoutExpired) if started.elapsed() < self.timeout => {
                    std::thread::sleep(IDLE_POLL);
                }
                other => return to_frame(other, self.linktype, &self.iface),
            }
        }
    }

    fn name(&self) -> &str {
        &self.iface
    }

    fn is_live(&self) -> bool {
        true
    }

    fn interfaces(&self) -> Vec<(String, LinkType)> {
        vec![(self.iface.clone(), self.linktype)]
    }

    fn stats(&mut self) -> CaptureStats {
        match self.cap.stats() {
            Ok(s) => CaptureStats {
                received: u64::from(s.received),
                kernel_drops: u64::from(s.dropped),
                if_drops: u64::from(s.if_dropped),
                queue_drops: 0,
            },
            Err(_) => CaptureStats::default(),
        }
    }
}

impl LiveOptions {
    /// Live capture options from the configuration.
    pub fn from_config(c: &crate::config::Config) -> LiveOptions {
        LiveOptions {
            iface: c.sniffer.interface.clone(),
            filter: Some(c.sniffer.capture_filter.clone()).filter(|f| !f.trim().is_empty()),
            snaplen: i32::try_from(c.sniffer.snaplen).unwrap_or(65535),
            promiscuous: c.sniffer.promiscuous,
            immediate: c.sniffer.immediate_mode,
            buffer_size_mb: c.sniffer.buffer_size_mb,
            ..LiveOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_route_is_read_from_proc_route() {
        let table = "Iface\tDestination\tGateway\tFlags\n\
                     eth1\t0000A8C0\t00000000\t0001\n\
                     eth0\t00000000\t0100A8C0\t0003\n";
        assert_eq!(default_route_iface(table).as_deref(), Some("eth0"));
        assert_eq!(default_route_iface("Iface\tDestination\n"), None);
    }
}
