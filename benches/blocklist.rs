//! Blocklist cost: build time and ns per lookup of a 100,000-entry table, and the whole
//! pipeline over a generated capture with and without that table loaded.
//!
//!   cargo bench --bench blocklist [-- PACKETS]     (default 1,000,000 generated packets)
//!
//! The pipeline runs with its default detectors and signatures, no database, pcap log or EVE
//! output (so analysis dominates and the blocklist's share is as large as it can be), three
//! times each way, alternating; the best run of each is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on a failed setup step"
)]

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsm_tui::capture::file::FileSource;
use nsm_tui::config::Config;
use nsm_tui::enrich::blocklist::BlocklistBuilder;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// 100,000 entries shaped like the public feeds: mostly single addresses (ET compromised,
/// blocklist.de), one in ten a network (Spamhaus DROP, FireHOL level1: mostly /19 to /24, a
/// few up to /8), a few IPv6 networks, FireHOL's bogons, and the generator's attacker range so
/// the capture has matches.
fn feed(n: usize) -> String {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut s = String::from(
        "# generated\n203.0.113.0/29 ; attackers\n10.0.0.0/8\n192.168.0.0/16\n224.0.0.0/3\n",
    );
    for i in 0..n - 4 {
        let a = std::net::Ipv4Addr::from(r.next() as u32);
        if i % 1000 == 0 {
            s.push_str(&format!("2a0{}:{:x}::/32\n", i % 10, r.next() as u16));
        } else if i % 500 == 1 {
            s.push_str(&format!("{a}/{}\n", 8 + r.next() % 11));
        } else if i % 10 == 2 {
            s.push_str(&format!("{a}/{}\n", 19 + r.next() % 6));
        } else {
            s.push_str(&format!("{a}\n"));
        }
    }
    s
}

fn lookup_bench(text: &str) {
    let t0 = Instant::now();
    let mut b = BlocklistBuilder::new();
    let errs = b.add_text("bench", Path::new("bench"), text);
    let table = b.build();
    let built = t0.elapsed();
    let (r4, r6) = table.ranges();
    println!(
        "table: {} entries ({} bad lines), {r4} IPv4 + {r6} IPv6 ranges, built in {:.1} ms",
        table.len(),
        errs.len(),
        built.as_secs_f64() * 1e3
    );
    let mut r = Rng(7);
    let addrs: Vec<IpAddr> = (0..1 << 16)
        .map(|_| IpAddr::from((r.next() as u32).to_be_bytes()))
        .collect();
    let n = 20_000_000usize;
    let mut hits = 0usize;
    let t0 = Instant::now();
    for i in 0..n {
        hits += usize::from(table.lookup(black_box(addrs[i & 0xffff])).is_some());
    }
    let dt = t0.elapsed();
    println!(
        "lookup: {:.1} ns per IPv4 lookup ({n} random addresses, {:.1}% hit)",
        dt.as_nanos() as f64 / n as f64,
        hits as f64 * 100.0 / n as f64
    );
}

fn run_pipeline(file: &Path, c: &Config) -> (Duration, u64) {
    let src = FileSource::open(file).expect("open the generated capture");
    let mut opts = nsm_tui::pipeline::PipelineOptions::from_config(c);
    opts.tick = Duration::from_secs(3600);
    let (detectors, _handle) = nsm_tui::pipeline::detectors::build(c).expect("detectors");
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let s = nsm_tui::pipeline::run(Box::new(src), detectors, opts, &stop, |_| {})
        .expect("pipeline run");
    let alerts = s.stats.alerts.values().sum();
    (t0.elapsed(), alerts)
}

fn main() {
    let packets: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("nsm-tui-bench-blocklist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let text = feed(100_000);
    lookup_bench(&text);

    let list = dir.join("bench_feed.txt");
    std::fs::write(&list, &text).expect("write feed");
    let pcap = dir.join("generated.pcap");
    let opts = nsm_tui::synth::SynthOptions {
        packets,
        seed: 7,
        attack_share: 0.01,
        ..Default::default()
    };
    let n = nsm_tui::app::run::generate(&pcap, opts).expect("generate");
    let mut base = Config::default();
    base.storage.db_enabled = false;
    base.storage.pcap_log_enabled = false;
    base.output.eve_path = None;
    let mut with = base.clone();
    with.enrich.blocklists = vec![list];

    let mut best = [Duration::MAX, Duration::MAX];
    let mut alerts = [0, 0];
    for _ in 0..3 {
        for (i, c) in [&base, &with].into_iter().enumerate() {
            let (dt, a) = run_pipeline(&pcap, c);
            best[i] = best[i].min(dt);
            alerts[i] = a;
        }
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "pipeline without blocklist: {n} packets in {:.3} s, {:.0} packets/s, {} alerts",
        best[0].as_secs_f64(),
        rate(best[0]),
        alerts[0]
    );
    println!(
        "pipeline with 100k blocklist: {n} packets in {:.3} s, {:.0} packets/s, {} alerts",
        best[1].as_secs_f64(),
        rate(best[1]),
        alerts[1]
    );
    println!(
        "blocklist cost: {:+.2}% of throughput",
        (1.0 - rate(best[1]) / rate(best[0])) * 100.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
