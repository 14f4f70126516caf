//! Live capture through libpcap (the `pcap` crate): interface choice, BPF filter, snaplen,
//! promiscuous and immediate mode, buffer size, and the kernel drop counters.
//!
//! Runs on the capture thread; `next_frame` waits at most the read timeout.
//!
//! How the ring is set up decides whether bursts survive. On Linux, immediate mode makes
//! libpcap use TPACKET_V2: a ring of fixed-size slots of about `snaplen` bytes each, so 16 MiB
//! with a 65535-byte snaplen holds only ~250 packets, which a 50k pkt/s burst fills in 5 ms.
//! Without immediate mode libpcap uses TPACKET_V3: packets packed at their real size into
//! blocks that the kernel hands over when full or after the read timeout (the block timeout).
//! The defaults therefore leave immediate mode off and use a 10 ms timeout: the ring holds
//! tens of thousands of packets and a packet reaches the detectors within about 10 ms.

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
    /// Read timeout, and without immediate mode the kernel's block timeout: the longest a
    /// packet waits in a partly filled block before the capture thread sees it. Also bounds
    /// how long `next_frame` waits on a quiet link, so shutdown is noticed promptly.
    pub timeout_ms: i32,
}

/// The default read (block) timeout: packets reach the detectors within about this long.
pub const DEFAULT_TIMEOUT_MS: i32 = 10;

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            iface: None,
            filter: None,
            snaplen: 65535,
            promiscuous: true,
            immediate: false,
            buffer_size_mb: 32,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

/// Below this many full-size packets the kernel ring cannot absorb a short burst (a port
/// scan, a ping flood, a stall of the capture thread) and `open` warns.
pub const MIN_RING_SLOTS: u64 = 4096;

/// Rounds up to libpcap's TPACKET_ALIGNMENT (16 bytes).
fn tpacket_align(n: u64) -> u64 {
    n.div_ceil(16) * 16
}

/// About how many full-size packets the kernel ring holds with these options. Immediate mode
/// (TPACKET_V2) gives every packet a slot of snaplen plus ~70 bytes of headers, whatever its
/// size; otherwise (TPACKET_V3) packets take their real size plus ~80 bytes, counted here at
/// a full Ethernet frame (1514 bytes) or the snaplen when smaller.
#[must_use]
pub fn ring_slots(opts: &LiveOptions) -> u64 {
    let buffer = u64::from(opts.buffer_size_mb) << 20;
    let snaplen = u64::try_from(opts.snaplen.max(1)).unwrap_or(65535);
    let slot = if opts.immediate {
        tpacket_align(snaplen + 70)
    } else {
        tpacket_align(snaplen.min(1514) + 80)
    };
    buffer / slot
}

/// The one-line warning `open` prints when the ring is small, or `None`.
#[must_use]
pub fn small_ring_warning(opts: &LiveOptions) -> Option<String> {
    let slots = ring_slots(opts);
    if slots >= MIN_RING_SLOTS {
        return None;
    }
    let how = if opts.immediate {
        format!(
            "immediate mode gives each packet a {}-byte slot of the {} MiB buffer",
            opts.snaplen, opts.buffer_size_mb
        )
    } else {
        format!("a {} MiB buffer", opts.buffer_size_mb)
    };
    let fix = if opts.immediate {
        "turn immediate_mode off, lower snaplen or raise buffer_size_mb"
    } else {
        "raise buffer_size_mb"
    };
    Some(format!(
        "warning: the kernel capture ring holds only about {slots} packets ({how}); bursts \
         will be dropped in the kernel: {fix}"
    ))
}

pub struct LiveSource {
    cap: Capture<Active>,
    iface: String,
    linktype: LinkType,
    /// How long `next_frame` waits for a packet before returning `Ok(None)`.
    timeout: Duration,
    /// Whether the last `next_frame` returned a frame: when the ring then runs dry,
    /// `next_frame` returns at once so the capture thread hands over its partial batch.
    streaming: bool,
}

/// Sleep between polls of the non-blocking handle while no packet is ready. While packets
/// flow the loop never sleeps; a block the kernel hands over waits at most this long.
const IDLE_POLL: Duration = Duration::from_millis(1);

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
        if let Some(w) = small_ring_warning(opts) {
            tracing::warn!("{}", w.strip_prefix("warning: ").unwrap_or(&w));
        }
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
        // A blocking read on a quiet link would hold shutdown until the next packet: in
        // immediate mode libpcap's read timeout does not fire on Linux, and with TPACKET_V3
        // the kernel never hands over an empty block. Non-blocking reads with a bounded wait
        // keep shutdown prompt.
        let cap = cap.setnonblock().map_err(|e| CaptureError::Live {
            iface: iface.clone(),
            detail: e.to_string(),
        })?;
        Ok(LiveSource {
            cap,
            timeout: Duration::from_millis(u64::try_from(opts.timeout_ms).unwrap_or(100)),
            streaming: false,
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
    /// The next frame; `Ok(None)` when none is ready: at once when the ring has just run dry
    /// (so a partial batch goes to the detectors now), else after waiting up to the timeout.
    fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
        let started = Instant::now();
        loop {
            match self.cap.next_packet() {
                Err(pcap::Error::TimeoutExpired)
                    if !self.streaming && started.elapsed() < self.timeout =>
                {
                    std::thread::sleep(IDLE_POLL);
                }
                other => {
                    let r = to_frame(other, self.linktype, &self.iface);
                    self.streaming = matches!(r, Ok(Some(_)));
                    return r;
                }
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
            timeout_ms: DEFAULT_TIMEOUT_MS,
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

    #[test]
    fn default_ring_holds_thousands_of_packets() {
        let d = LiveOptions::default();
        assert!(!d.immediate);
        assert!(ring_slots(&d) >= 4 * MIN_RING_SLOTS, "{}", ring_slots(&d));
        assert_eq!(small_ring_warning(&d), None);
        let c = crate::config::Config::default();
        assert_eq!(small_ring_warning(&LiveOptions::from_config(&c)), None);
    }

    #[test]
    fn immediate_mode_with_a_large_snaplen_warns() {
        let o = LiveOptions {
            immediate: true,
            buffer_size_mb: 16,
            ..LiveOptions::default()
        };
        // The old defaults: ~250 slots of 64 KiB.
        assert!((250..260).contains(&ring_slots(&o)), "{}", ring_slots(&o));
        let w = small_ring_warning(&o).expect("a warning");
        assert!(w.contains("immediate") && !w.contains('\n'), "{w}");
        // A small snaplen makes immediate mode safe again.
        let o = LiveOptions { snaplen: 1600, ..o };
        assert_eq!(small_ring_warning(&o), None);
    }

    #[test]
    fn a_small_buffer_warns() {
        let o = LiveOptions {
            buffer_size_mb: 1,
            ..LiveOptions::default()
        };
        let w = small_ring_warning(&o).expect("a warning");
        assert!(w.contains("buffer_size_mb"), "{w}");
    }
}
