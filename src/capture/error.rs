//! Capture errors, worded so a person can act on them (needs root, which interfaces exist,
//! what libpcap said about a filter).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open capture file: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng file (first bytes {magic})")]
    NotACapture { path: PathBuf, magic: String },
    #[error("{path}: {reason} (after {packets} packets)")]
    Corrupt {
        path: PathBuf,
        packets: u64,
        reason: String,
    },
    #[error(
        "capturing on {iface} is not permitted: nsm-tui needs root or the CAP_NET_RAW and \
         CAP_NET_ADMIN capabilities.\n  Run it with sudo, or grant them once:\n    \
         sudo setcap cap_net_raw,cap_net_admin=eip {exe}\n  (libpcap said: {detail})"
    )]
    NotPermitted {
        iface: String,
        exe: String,
        detail: String,
    },
    #[error("no such interface {iface:?}; interfaces that exist: {available}")]
    NoSuchInterface { iface: String, available: String },
    #[error("invalid capture filter {filter:?}: {detail}")]
    BadFilter { filter: String, detail: String },
    #[error("no capture interface found (no default route and no up, non-loopback interface); pass -i IFACE")]
    NoInterface,
    #[error("live capture on {iface}: {detail}")]
    Live { iface: String, detail: String },
}
