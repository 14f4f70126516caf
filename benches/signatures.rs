//! Signature matching cost: the prefiltered multi-pattern pass (`SignatureSet::matches`) beside
//! the plain one-regex-at-a-time reference (`matches_reference`) on the same decoded packets,
//! in the same run. Both must report the same hits; the bench checks that too.
//!
//!   cargo bench --bench signatures [-- PACKETS]   (default 400,000 generated packets)
//!
//! Packets come from the project's generator (seed 7, 1% attacks: the benchmark capture's mix),
//! decoded once up front so only matching is timed. Each way runs three times; the best counts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on a failed setup step"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::packet::Decoded;
use nsm_tui::synth::SynthOptions;

fn best(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut out = (Duration::MAX, 0);
    for _ in 0..3 {
        let t = Instant::now();
        let hits = f();
        out = (out.0.min(t.elapsed()), hits);
    }
    out
}

fn main() {
    let packets: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(400_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("generated.pcap");
    let opts = SynthOptions {
        packets,
        seed: 7,
        attack_share: 0.01,
        ..SynthOptions::default()
    };
    nsm_tui::app::run::generate(&file, opts).expect("generating the capture");
    let mut src = FileSource::open(&file).expect("reading the capture");
    let mut decoded: Vec<(Decoded, Vec<u8>)> = Vec::new();
    while let Ok(Some(frame)) = src.next_frame() {
        let d = decode(&frame);
        let payload = d.payload(&frame.data).to_vec();
        decoded.push((d, payload));
    }
    let bytes: usize = decoded.iter().map(|(_, p)| p.len()).sum();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
    let (set, errors) = nsm_tui::pipeline::detectors::load_signatures(&root);
    assert!(errors.is_empty(), "{errors:?}");
    println!(
        "{} packets, {:.1} MB of payload, {} signatures ({} without a prefilter literal; \
         literal check: {})",
        decoded.len(),
        bytes as f64 / 1e6,
        set.len(),
        set.always_checked(),
        if set.simd_prefilter() {
            "SIMD"
        } else {
            "automaton"
        }
    );
    let (fast, fast_hits) = best(|| {
        decoded
            .iter()
            .map(|(d, p)| set.matches(d, p).len())
            .sum::<usize>()
    });
    let (slow, slow_hits) = best(|| {
        decoded
            .iter()
            .map(|(d, p)| set.matches_reference(d, p).len())
            .sum::<usize>()
    });
    assert_eq!(fast_hits, slow_hits, "the prefilter changed the hits");
    for (label, t) in [
        ("prefiltered pass (matches)", fast),
        ("one regex at a time (reference)", slow),
    ] {
        let s = t.as_secs_f64();
        println!(
            "{label:<34} {:8.3} s {:>12.0} pkt/s {:8.1} MB/s {:7.0} ns/pkt",
            s,
            decoded.len() as f64 / s,
            bytes as f64 / s / 1e6,
            s * 1e9 / decoded.len() as f64
        );
    }
    println!(
        "{fast_hits} hits either way; the prefiltered pass is {:.1}x the reference's speed",
        slow.as_secs_f64() / fast.as_secs_f64()
    );
}
