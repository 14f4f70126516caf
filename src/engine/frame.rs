//! Raw frames: all that a capture source hands to the engine (timestamp, link type, bytes).
//!
//! Built by the capture thread, moved (never copied) through the pipeline to the analysis
//! workers and on to the pcap logger.

use std::fmt;

/// Capture timestamp in nanoseconds since the Unix epoch. The engine never reads the clock:
/// every time-based decision takes this value from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ts(pub i64);

impl Ts {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    pub fn from_parts(secs: i64, nanos: u32) -> Self {
        Ts(secs
            .saturating_mul(Self::NANOS_PER_SEC)
            .saturating_add(i64::from(nanos)))
    }
    pub fn secs(self) -> i64 {
        self.0.div_euclid(Self::NANOS_PER_SEC)
    }
    pub fn subsec_nanos(self) -> u32 {
        // rem_euclid of a positive modulus is in 0..1e9, which fits u32.
        u32::try_from(self.0.rem_euclid(Self::NANOS_PER_SEC)).unwrap_or(0)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// `self - earlier`, in nanoseconds, never negative.
    pub fn since(self, earlier: Ts) -> i64 {
        (self.0 - earlier.0).max(0)
    }
    pub fn plus_secs(self, secs: u64) -> Ts {
        Ts(self.0.saturating_add(
            i64::try_from(secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(Self::NANOS_PER_SEC),
        ))
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's
/// `civil_from_days`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// A libpcap link-layer header type (`LINKTYPE_*` / `DLT_*` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD's DLT_LOOP value as written into pcap files.
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// DLT_RAW as some platforms number it (12 on most BSDs, 14 on OpenBSD).
    pub const RAW_BSD12: LinkType = LinkType(12);
    pub const RAW_BSD14: LinkType = LinkType(14);

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "NULL",
            1 => "EN10MB",
            12 | 14 | 101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => "unknown",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// One captured frame, as the capture source produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub ts: Ts,
    pub linktype: LinkType,
    /// Index of the capture interface (pcapng interface id; 0 for pcap and live).
    pub iface: u32,
    /// Length of the packet on the wire (may exceed `data.len()` when snaplen truncated it).
    pub orig_len: u32,
    pub data: Vec<u8>,
}
