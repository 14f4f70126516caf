//! Command-line interface: the argument definitions and how they override the configuration
//! (CLI > environment > file > defaults).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::engine::detect::ml::crossval::FoldBy;

#[derive(Debug, Parser)]
#[command(
    name = "nsm-tui",
    version,
    about = "Network security monitoring for the terminal: capture, decode, detect, respond",
    after_help = "Examples:\n  sudo nsm-tui --headless -i eth0 not port 22\n  nsm-tui -r capture.pcapng tcp port 80\n  nsm-tui read capture.pcapng --eve alerts.json\n  nsm-tui config --print"
)]
pub struct Cli {
    /// Configuration file (default: ./nsm-tui.toml, then /etc/nsm-tui/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Live capture without the console: EVE, SQLite and pcap outputs plus a stats line.
    #[arg(long)]
    pub headless: bool,
    /// Read this capture file instead of capturing live, as `nsm-tui read FILE` does
    /// (tcpdump's and Suricata's `-r`).
    #[arg(
        short = 'r',
        value_name = "FILE",
        conflicts_with_all = ["interface", "snaplen", "no_promisc", "buffer_size"],
        help_heading = "Capture"
    )]
    pub read: Option<PathBuf>,
    /// BPF filter given as trailing words, as tcpdump takes it (`nsm-tui -i eth0 not port 22`);
    /// the same as `-f` with the words joined by spaces.
    #[arg(
        value_name = "EXPRESSION",
        trailing_var_arg = true,
        conflicts_with = "filter",
        help_heading = "Capture"
    )]
    pub expression: Vec<String>,
    #[command(flatten)]
    pub capture: CaptureArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    #[command(flatten)]
    pub detect: DetectArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How much the program logs to standard error, and in which form (every command).
#[derive(Debug, Args, Default, Clone, PartialEq)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// More detail in the log: -v debug, -vv trace (default: information).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only warnings and errors in the log.
    #[arg(short = 'q', long = "quiet", global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log lines as text or as one JSON object per line.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: super::logging::LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a pcap or pcapng file through the full pipeline, as fast as the machine allows.
    Read {
        /// The capture file, or `-` for standard input.
        file: PathBuf,
        /// BPF filter: only the packets it accepts are analysed, e.g. 'tcp port 80'.
        #[arg(short = 'f', long = "filter", value_name = "BPF")]
        filter: Option<String>,
        /// BPF filter given as trailing words, as tcpdump takes it (`nsm-tui read f.pcap tcp
        /// port 80`); the same as `-f` with the words joined by spaces.
        #[arg(
            value_name = "EXPRESSION",
            trailing_var_arg = true,
            conflicts_with = "filter"
        )]
        expression: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        outputs: OutputArgs,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Write a reproducible synthetic capture (TCP sessions with HTTP, DNS, UDP, ICMP and a
    /// share of attacks: scans, brute force, injections, DNS tunnelling, a SYN flood).
    Generate {
        /// Output pcap file.
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Traffic to make: `mixed` (ordinary sessions with a share of attacks, about 6.6
        /// packets per flow) or `attack` (a network under attack: scans, floods, random DNS and
        /// injection requests in many short flows, about 3 packets per flow).
        #[arg(long, default_value = "mixed", value_parser = ["mixed", "attack"])]
        profile: String,
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
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        outputs: OutputArgs,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Open the console on the bundled attack capture: no root, no interface, no downloads;
    /// nothing is written unless --db or --pcap-log asks for it.
    Demo {
        /// Replay N times faster than captured.
        #[arg(long, value_name = "N", conflicts_with = "fast")]
        speed: Option<f64>,
        /// Replay as fast as possible.
        #[arg(long)]
        fast: bool,
        #[command(flatten)]
        outputs: OutputArgs,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Train the flow classifier on labelled captures and write it to a file that
    /// `[detector] classifier_file` names; prints cross-validated precision and recall.
    Train {
        /// Labels, tab-separated: `CAPTURE<TAB>CLASS`, or
        /// `SRC_IP<TAB>START<TAB>END<TAB>CLASS` (Unix seconds); flows no label covers are
        /// `benign`.
        #[arg(long, value_name = "LABELS.tsv")]
        labels: PathBuf,
        /// The classifier file to write.
        #[arg(long, value_name = "FILE", default_value = "classifier.json")]
        out: PathBuf,
        /// Folds of the cross-validation (0: none).
        #[arg(long, value_name = "K", default_value_t = 5)]
        folds: usize,
        /// What a fold holds out: `flow` (shuffled flows) or `capture` (whole captures, so a
        /// capture is scored by a forest that never saw its flows).
        #[arg(long, value_name = "flow|capture", default_value = "flow")]
        fold_by: FoldBy,
        /// Trees in the forest.
        #[arg(long, value_name = "N", default_value_t = 50)]
        trees: usize,
        /// Random seed; the same seed and captures give the same classifier.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The capture files.
        #[arg(required = true, value_name = "CAPTURE")]
        captures: Vec<PathBuf>,
    },
    #[command(flatten)]
    Respond(super::respond::RespondCmd),
    /// Learn what normal traffic looks like from captures you trust (and/or live traffic):
    /// host baselines and profiles and the Isolation Forest, written to the model file every
    /// run loads.
    Learn {
        /// Capture files of normal traffic.
        captures: Vec<PathBuf>,
        /// Also learn from live capture on the configured interface for SECS seconds.
        #[arg(long, value_name = "SECS")]
        live: Option<u64>,
        /// Where to write the model (default: `[detector] model_file`, else data/model.json).
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// Random seed of the forest's training (default: `[detector.isolation_forest] seed`).
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        capture: CaptureArgs,
        /// Also save the host profiles into this database (`--db`), where runs and
        /// `profile show` look first.
        #[command(flatten)]
        db: DbArgs,
    },
    /// What the statistical detectors learned (`profile show HOST`).
    Profile {
        #[command(subcommand)]
        cmd: ProfileCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Show or check the configuration (with the same flags as a live run applied).
    Config {
        /// Print the effective configuration (secrets masked).
        #[arg(long)]
        print: bool,
        #[command(flatten)]
        capture: CaptureArgs,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        outputs: OutputArgs,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Write the man pages and the bash, zsh and fish completions into DIR (for packagers).
    #[command(hide = true)]
    GenerateDocs {
        /// Output directory: `man1/` and `completions/` are made in it.
        dir: PathBuf,
    },
}

/// Live capture settings (the console and `--headless`).
#[derive(Debug, Args, Default, Clone, PartialEq)]
#[command(next_help_heading = "Capture")]
pub struct CaptureArgs {
    /// Capture interface (`any` for all; default: the default route's interface).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,
    /// BPF capture filter, e.g. 'tcp port 80' or 'not port 22'.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Bytes captured per packet.
    #[arg(long, value_name = "BYTES")]
    pub snaplen: Option<u32>,
    /// Do not put the interface into promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Kernel capture buffer in MiB.
    #[arg(long, value_name = "MIB")]
    pub buffer_size: Option<u32>,
}

/// How much to analyse, with how many threads.
#[derive(Debug, Args, Default, Clone, PartialEq)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Analysis worker threads (default: cores - 1, at least 1).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Stop after this many packets.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds (capture time when reading a file).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}

/// Where the run's results go.
#[derive(Debug, Args, Default, Clone, PartialEq)]
#[command(next_help_heading = "Outputs")]
pub struct OutputArgs {
    /// EVE JSON output file, or `-` for standard output.
    #[arg(long, value_name = "PATH|-")]
    pub eve: Option<String>,
    /// Add nsm-tui's keys outside Suricata's EVE schema: GeoIP objects and the stats counters
    /// Suricata lacks (`[output] eve_extensions`).
    #[arg(long)]
    pub eve_extensions: bool,
    /// SQLite database file.
    #[arg(long, value_name = "PATH", conflicts_with = "no_db")]
    pub db: Option<PathBuf>,
    /// Do not write a database.
    #[arg(long)]
    pub no_db: bool,
    /// Store alerts and flows but not one row per packet.
    #[arg(long)]
    pub no_packet_rows: bool,
    /// Log every captured packet to this pcap file.
    #[arg(long, value_name = "PATH", conflicts_with = "no_pcap_log")]
    pub pcap_log: Option<PathBuf>,
    /// Do not log packets to pcap.
    #[arg(long)]
    pub no_pcap_log: bool,
    /// Serve Prometheus metrics over HTTP at this address (e.g. 127.0.0.1:9100, path /metrics).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// What detection uses besides the built-in detectors.
#[derive(Debug, Args, Default, Clone, PartialEq)]
#[command(next_help_heading = "Detection")]
pub struct DetectArgs {
    /// Directory of signature files (every *.json in it).
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,
    /// Blocklist file or directory of IP/CIDR lists (repeatable; adds to `[enrich] blocklists`).
    #[arg(long, value_name = "PATH")]
    pub blocklist: Vec<PathBuf>,
    /// GeoIP database (.mmdb: GeoLite2 or DB-IP City/Country) instead of the configured one.
    #[arg(long, value_name = "PATH")]
    pub geoip: Option<PathBuf>,
    /// Model file from `nsm-tui learn` instead of the configured one.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
}

/// `nsm-tui profile …`.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// A host's learned behaviour: baselines, usual ports and hours, protocol mix.
    Show {
        /// The host's address.
        host: std::net::IpAddr,
    },
}

/// The database a response or incident command reads and changes.
#[derive(Debug, Args, Default, Clone, PartialEq)]
pub struct DbArgs {
    /// SQLite database file (default: [storage] db_path).
    // Its own id: a global arg shares its value with every arg of the same id up the tree,
    // and the live run's `--db` is another option.
    #[arg(long = "db", id = "database", value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,
}

impl CaptureArgs {
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
    }
}

impl LimitArgs {
    /// Apply the flags that were given on top of the loaded configuration.
    pub fn apply(&self, c: &mut Config) {
        if let Some(w) = self.workers {
            c.sniffer.workers = w;
        }
        if let Some(n) = self.count {
            c.sniffer.packet_count_limit = n;
        }
        if let Some(d) = self.duration {
            c.sniffer.capture_duration = d;
        }
    }
}

impl OutputArgs {
    /// Apply the flags that were given on top of the loaded configuration.
    pub fn apply(&self, c: &mut Config) {
        if let Some(e) = &self.eve {
            c.output.eve_path = Some(PathBuf::from(e));
        }
        if self.eve_extensions {
            c.output.eve_extensions = true;
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
        if let Some(a) = self.metrics_listen {
            c.output.metrics_listen = Some(a);
        }
    }
}

impl DetectArgs {
    /// Apply the flags that were given on top of the loaded configuration.
    pub fn apply(&self, c: &mut Config) {
        if let Some(s) = &self.signatures {
            c.detector.signatures_dir = Some(s.clone());
        }
        c.enrich.blocklists.extend(self.blocklist.iter().cloned());
        if let Some(g) = &self.geoip {
            c.geoip.city_db = Some(g.clone());
            c.geoip.enabled = true;
        }
        if let Some(m) = &self.model {
            c.detector.model_file = Some(m.clone());
        }
    }
}

impl DbArgs {
    /// Apply the flag that was given on top of the loaded configuration.
    pub fn apply(&self, c: &mut Config) {
        if let Some(db) = &self.db {
            c.storage.db_path = db.clone();
            c.storage.db_enabled = true;
        }
    }
}

impl Cli {
    /// Refuses live-run options given before a command's name (`nsm-tui --db x report`): the
    /// command would not use them there; each command takes its options after its name.
    pub fn check(&self) -> Result<(), String> {
        let Some(cmd) = &self.command else {
            return Ok(());
        };
        let given = self.headless
            || self.read.is_some()
            || !self.expression.is_empty()
            || self.capture != CaptureArgs::default()
            || self.limits != LimitArgs::default()
            || self.outputs != OutputArgs::default()
            || self.detect != DetectArgs::default();
        if !given {
            return Ok(());
        }
        let name = match cmd {
            Command::Read { .. } => "read",
            Command::Generate { .. } => "generate",
            Command::Replay { .. } => "replay",
            Command::Demo { .. } => "demo",
            Command::Train { .. } => "train",
            Command::Config { .. } => "config",
            Command::Respond(r) => r.name(),
            Command::GenerateDocs { .. } => "generate-docs",
            Command::Learn { .. } => "learn",
            Command::Profile { .. } => "profile",
        };
        Err(format!(
            "options before the command name belong to live capture; put them after it \
             (nsm-tui {name} … --option), and see `nsm-tui {name} --help` for the ones it takes"
        ))
    }

    /// Apply the flags of the chosen command on top of the loaded configuration
    /// (CLI > environment > file > defaults).
    pub fn apply(&self, c: &mut Config) {
        match &self.command {
            None if self.read.is_some() => {
                self.limits.apply(c);
                apply_read_outputs(&self.outputs, c);
                self.detect.apply(c);
            }
            None => {
                self.capture.apply(c);
                if let Some(f) = joined(&self.expression) {
                    c.sniffer.capture_filter = f;
                }
                self.limits.apply(c);
                self.outputs.apply(c);
                self.detect.apply(c);
            }
            Some(Command::Config {
                capture,
                limits,
                outputs,
                detect,
                ..
            }) => {
                capture.apply(c);
                limits.apply(c);
                outputs.apply(c);
                detect.apply(c);
            }
            Some(Command::Read {
                limits,
                outputs,
                detect,
                ..
            }) => {
                limits.apply(c);
                apply_read_outputs(outputs, c);
                detect.apply(c);
            }
            Some(Command::Replay {
                limits,
                outputs,
                detect,
                ..
            }) => {
                limits.apply(c);
                outputs.apply(c);
                detect.apply(c);
            }
            Some(Command::Demo {
                outputs, detect, ..
            }) => {
                outputs.apply(c);
                detect.apply(c);
                // The demo writes nothing unless asked to.
                c.storage.db_enabled = outputs.db.is_some();
                c.storage.pcap_log_enabled = outputs.pcap_log.is_some();
            }
            Some(Command::Respond(r)) => r.db().apply(c),
            Some(Command::Learn {
                capture, seed, db, ..
            }) => {
                capture.apply(c);
                db.apply(c);
                if let Some(s) = seed {
                    c.detector.isolation_forest.seed = *s;
                }
            }
            Some(Command::Profile { db, .. }) => db.apply(c),
            Some(
                Command::Generate { .. } | Command::GenerateDocs { .. } | Command::Train { .. },
            ) => {}
        }
    }
}

/// A trailing BPF expression as one filter: the words joined by spaces, as tcpdump joins them;
/// `None` when no words were given.
fn joined(words: &[String]) -> Option<String> {
    (!words.is_empty()).then(|| words.join(" "))
}

/// Reading a file writes no second copy of it: the pcap log only when `--pcap-log` asks.
fn apply_read_outputs(outputs: &OutputArgs, c: &mut Config) {
    outputs.apply(c);
    c.storage.pcap_log_enabled = outputs.pcap_log.is_some();
}

impl Cli {
    /// The file to read and its BPF filter, when the command reads a file (`read FILE` or
    /// `-r FILE`), with the filter from `-f` or the trailing words.
    pub fn read_input(&self) -> Option<(PathBuf, Option<String>)> {
        match &self.command {
            Some(Command::Read {
                file,
                filter,
                expression,
                ..
            }) => Some((file.clone(), filter.clone().or_else(|| joined(expression)))),
            None => self.read.clone().map(|f| {
                (
                    f,
                    self.capture
                        .filter
                        .clone()
                        .or_else(|| joined(&self.expression)),
                )
            }),
            Some(_) => None,
        }
    }
}
