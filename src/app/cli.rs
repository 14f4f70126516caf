//! Command-line interface: the argument definitions and how they override the configuration
//! (CLI > environment > file > defaults).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "nsm-tui",
    version,
    about = "Network security monitoring for the terminal: capture, decode, detect, respond",
    after_help = "Examples:\n  sudo nsm-tui --headless -i eth0 -f 'not port 22'\n  nsm-tui read capture.pcapng --eve alerts.json\n  nsm-tui config --print"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Live capture without the console: EVE, SQLite and pcap outputs plus a stats line.
    #[arg(long)]
    pub headless: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a pcap or pcapng file through the full pipeline, as fast as the machine allows.
    Read {
        /// The capture file, or `-` for standard input.
        file: PathBuf,
    },
    /// Write a reproducible synthetic capture (TCP sessions with HTTP, DNS, UDP, ICMP and a
    /// share of attacks: scans, brute force, injections, DNS tunnelling, a SYN flood).
    Generate {
        /// Output pcap file.
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Number of packets.
        #[arg(long, default_value_t = 100_000)]
        packets: u64,
        /// Random seed; the same seed gives the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of sessions that are attacks (0.0 to 1.0).
        #[arg(long, default_value_t = 0.02)]
        attack_share: f64,
        /// Mean gap between the starts of sessions, in microseconds.
        #[arg(long, default_value_t = 300)]
        session_gap_us: u64,
    },
    /// Open the console on a capture file, replayed at the speed it was captured (or faster).
    Replay {
        /// The capture file.
        file: PathBuf,
        /// Replay N times faster than captured.
        #[arg(long, value_name = "N", conflicts_with = "fast")]
        speed: Option<f64>,
        /// Replay as fast as possible.
        #[arg(long)]
        fast: bool,
    },
    /// Open the console on the bundled attack capture: no root, no interface, no downloads.
    Demo {
        /// Replay N times faster than captured.
        #[arg(long, value_name = "N", conflicts_with = "fast")]
        speed: Option<f64>,
        /// Replay as fast as possible.
        #[arg(long)]
        fast: bool,
    },
    #[command(flatten)]
    Respond(super::respond::RespondCmd),
    /// Show or check the configuration.
    Config {
        /// Print the effective configuration (secrets masked).
        #[arg(long)]
        print: bool,
    },
}

/// Options shared by every mode.
#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// Configuration file (default: ./nsm-tui.toml, then /etc/nsm-tui/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Capture interface (`any` for all; default: the default route's interface).
    #[arg(short = 'i', long = "interface", global = true, value_name = "IFACE")]
    pub interface: Option<String>,
    /// BPF capture filter, e.g. 'tcp port 80' or 'not port 22'.
    #[arg(short = 'f', long = "filter", global = true, value_name = "BPF")]
    pub filter: Option<String>,
    /// Bytes captured per packet.
    #[arg(long, global = true)]
    pub snaplen: Option<u32>,
    /// Do not put the interface into promiscuous mode.
    #[arg(long, global = true)]
    pub no_promisc: bool,
    /// Kernel capture buffer in MiB.
    #[arg(long, global = true, value_name = "MIB")]
    pub buffer_size: Option<u32>,
    /// Analysis worker threads (default: cores - 1, at least 1).
    #[arg(long, global = true)]
    pub workers: Option<usize>,
    /// Stop after this many packets.
    #[arg(short = 'c', long = "count", global = true, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds (capture time when reading a file).
    #[arg(long, global = true, value_name = "SECS")]
    pub duration: Option<u64>,
    /// EVE JSON output file, or `-` for standard output.
    #[arg(long, global = true, value_name = "PATH|-")]
    pub eve: Option<String>,
    /// SQLite database file.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "no_db")]
    pub db: Option<PathBuf>,
    /// Do not write a database.
    #[arg(long, global = true)]
    pub no_db: bool,
    /// Store alerts and flows but not one row per packet.
    #[arg(long, global = true)]
    pub no_packet_rows: bool,
    /// Log every captured packet to this pcap file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with = "no_pcap_log"
    )]
    pub pcap_log: Option<PathBuf>,
    /// Do not log packets to pcap.
    #[arg(long, global = true)]
    pub no_pcap_log: bool,
    /// Directory of signature files (every *.json in it).
    #[arg(long, global = true, value_name = "DIR")]
    pub signatures: Option<PathBuf>,
    /// Blocklist file or directory of IP/CIDR lists (repeatable; adds to `[enrich] blocklists`).
    #[arg(long, global = true, value_name = "PATH")]
    pub blocklist: Vec<PathBuf>,
    /// GeoIP database (.mmdb: GeoLite2 or DB-IP City/Country) instead of the configured one.
    #[arg(long, global = true, value_name = "PATH")]
    pub geoip: Option<PathBuf>,
}

impl GlobalArgs {
    /// Apply the flags that were given on top of the loaded configuration.
    pub fn apply(&self, c: &mut Config) {
        if let Some(i) = &self.interface {
            c.sniffer.interface = Some(i.clone());
        }
        if let Some(f) = &self.filter {
            c.sniffer.capture_filter = f.clone();
        }
        if let Some(s) = self.snaplen {
            c.sniffer.snaplen = s;
        }
        if self.no_promisc {
            c.sniffer.promiscuous = false;
        }
        if let Some(b) = self.buffer_size {
            c.sniffer.buffer_size_mb = b;
        }
        if let Some(w) = self.workers {
            c.sniffer.workers = w;
        }
        if let Some(n) = self.count {
            c.sniffer.packet_count_limit = n;
        }
        if let Some(d) = self.duration {
            c.sniffer.capture_duration = d;
        }
        if let Some(e) = &self.eve {
            c.output.eve_path = Some(PathBuf::from(e));
        }
        if let Some(db) = &self.db {
            c.storage.db_path = db.clone();
            c.storage.db_enabled = true;
        }
        if self.no_db {
            c.storage.db_enabled = false;
        }
        if self.no_packet_rows {
            c.storage.store_packets = false;
        }
        if let Some(p) = &self.pcap_log {
            c.storage.pcap_log_path = p.clone();
            c.storage.pcap_log_enabled = true;
        }
        if self.no_pcap_log {
            c.storage.pcap_log_enabled = false;
        }
        if let Some(s) = &self.signatures {
            c.detector.signatures_dir = s.clone();
        }
        c.enrich.blocklists.extend(self.blocklist.iter().cloned());
        if let Some(g) = &self.geoip {
            c.geoip.city_db = g.clone();
            c.geoip.enabled = true;
        }
    }
}
