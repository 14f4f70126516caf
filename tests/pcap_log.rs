//! The pcap logger against real files: round trips through pcap-file, rotation and link-type
//! splitting, exports, and that tcpdump reads what was written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;
use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
use nsm_tui::store::{spawn_pcap_logger, write_pcap, PcapLogOptions, PcapLogSummary, PcapLogger};
use pcap_file::pcap::PcapReader;
use pcap_file::TsResolution;

/// An Ethernet/IPv4/UDP frame with `payload` bytes, valid enough for tcpdump to decode.
fn udp_frame(i: u32, payload: usize) -> Vec<u8> {
    let ip_len = 20 + 8 + payload;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
    f.extend_from_slice(&[
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let udp_len = 8 + payload;
    f.extend_from_slice(&(1000 + (i % 1000) as u16).to_be_bytes());
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&[(udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    f.extend((0..payload).map(|b| (b as u32 + i) as u8));
    f
}

fn frame(i: u32, linktype: LinkType, data: Vec<u8>, orig_len: u32) -> RawFrame {
    RawFrame {
        ts: Ts::from_parts(1_700_000_000 + i64::from(i), 123_456_789 + i),
        linktype,
        iface: 0,
        orig_len,
        data,
    }
}

struct ReadBack {
    linktype: u32,
    nanos: bool,
    packets: Vec<(Ts, u32, Vec<u8>)>,
}

fn read_back(path: &Path) -> ReadBack {
    let mut r = PcapReader::new(File::open(path).unwrap()).unwrap();
    let header = r.header();
    let mut packets = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        let ts = Ts::from_parts(p.timestamp.as_secs() as i64, p.timestamp.subsec_nanos());
        packets.push((ts, p.orig_len, p.data.into_owned()));
    }
    ReadBack {
        linktype: header.datalink.into(),
        nanos: header.ts_resolution == TsResolution::NanoSecond,
        packets,
    }
}

#[test]
fn round_trip_keeps_link_types_nanoseconds_and_orig_len() {
    let dir = tempfile::tempdir().unwrap();
    // Only the data directory is ever created; any other must exist.
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let base = dir.path().join("out/capture.pcap");
    let kinds = [LinkType::ETHERNET, LinkType::LINUX_SLL, LinkType::RAW];
    let frames: Vec<RawFrame> = (0..60u32)
        .map(|i| {
            let data = udp_frame(i, (i as usize * 7) % 300);
            let orig = data.len() as u32 + if i % 4 == 0 { 1_000 } else { 0 };
            frame(i, kinds[(i % 3) as usize], data, orig)
        })
        .collect();
    let opts = PcapLogOptions {
        snaplen: 200,
        rotate_bytes: None,
    };
    let mut logger = PcapLogger::create(&base, opts).unwrap();
    for f in &frames {
        logger.write(f).unwrap();
    }
    let summary = logger.finish().unwrap();
    assert_eq!(summary.packets, 60);
    assert_eq!(
        summary.truncated,
        frames.iter().filter(|f| f.data.len() > 200).count() as u64
    );
    let names: Vec<_> = summary.files.iter().map(|f| f.path.clone()).collect();
    let dir_out = dir.path().join("out");
    assert_eq!(
        names,
        ["capture.pcap", "capture.1.pcap", "capture.2.pcap"].map(|n| dir_out.join(n))
    );

    for (info, kind) in summary.files.iter().zip(kinds) {
        assert_eq!(info.linktype, kind);
        let back = read_back(&info.path);
        assert_eq!(back.linktype, kind.0);
        assert!(
            back.nanos,
            "{} should be nanosecond pcap",
            info.path.display()
        );
        assert_eq!(std::fs::metadata(&info.path).unwrap().len(), info.bytes);
        let expected: Vec<(Ts, u32, Vec<u8>)> = frames
            .iter()
            .filter(|f| f.linktype == kind)
            .map(|f| (f.ts, f.orig_len, f.data[..f.data.len().min(200)].to_vec()))
            .collect();
        assert_eq!(back.packets.len() as u64, info.packets);
        assert_eq!(back.packets, expected);
    }
}

/// tcpdump's one-line-per-packet output of a file; callers check `common::need_tool("tcpdump")`.
fn tcpdump_lines(path: &Path, extra: &[&str]) -> Vec<String> {
    let out = Command::new("tcpdump")
        .args(["-n", "-q", "-tt"])
        .args(extra)
        .arg("-r")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tcpdump -r {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn rotated(dir: &Path, frames: &[RawFrame], limit: u64) -> PcapLogSummary {
    let opts = PcapLogOptions {
        snaplen: 65_535,
        rotate_bytes: Some(limit),
    };
    let mut logger = PcapLogger::create(&dir.join("rot.pcap"), opts).unwrap();
    for f in frames {
        logger.write(f).unwrap();
    }
    logger.finish().unwrap()
}

#[test]
fn rotation_splits_by_size_and_tcpdump_reads_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<RawFrame> = (0..1_000u32)
        .map(|i| {
            let data = udp_frame(i, 50 + (i as usize * 13) % 500);
            let len = data.len() as u32;
            frame(i, LinkType::ETHERNET, data, len)
        })
        .collect();
    let limit = 20_000;
    let summary = rotated(dir.path(), &frames, limit);
    assert!(summary.files.len() > 10, "{} files", summary.files.len());
    assert_eq!(summary.files.iter().map(|f| f.packets).sum::<u64>(), 1_000);
    for (i, info) in summary.files.iter().enumerate() {
        let expected_name = if i == 0 {
            "rot.pcap".to_string()
        } else {
            format!("rot.{i}.pcap")
        };
        assert_eq!(info.path, dir.path().join(expected_name));
        let size = std::fs::metadata(&info.path).unwrap().len();
        assert!(size <= limit, "{} is {size} bytes", info.path.display());
    }
    // The files, in order, hold the frames in order.
    let all: Vec<(Ts, u32, Vec<u8>)> = summary
        .files
        .iter()
        .flat_map(|f| read_back(&f.path).packets)
        .collect();
    let expected: Vec<_> = frames
        .iter()
        .map(|f| (f.ts, f.orig_len, f.data.clone()))
        .collect();
    assert_eq!(all, expected);

    if !common::need_tool("tcpdump") {
        return;
    }
    let mut seen = 0;
    for info in &summary.files {
        let lines = tcpdump_lines(&info.path, &["--nano"]);
        assert_eq!(
            lines.len() as u64,
            info.packets,
            "{}: {lines:?}",
            info.path.display()
        );
        // tcpdump prints the same nanosecond timestamp we wrote.
        let ts = frames[seen].ts;
        let want = format!("{}.{:09} IP 10.0.0.1.", ts.secs(), ts.subsec_nanos());
        assert!(lines[0].starts_with(&want), "{:?} vs {want:?}", lines[0]);
        seen += lines.len();
    }
    assert_eq!(seen, 1_000);
}

#[test]
fn oversized_record_still_gets_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let big = udp_frame(1, 3_000);
    let len = big.len() as u32;
    let frames = [
        frame(0, LinkType::ETHERNET, udp_frame(0, 10), 52),
        frame(1, LinkType::ETHERNET, big, len),
    ];
    let summary = rotated(dir.path(), &frames, 1_000);
    assert_eq!(
        summary.files.iter().map(|f| f.packets).collect::<Vec<_>>(),
        [1, 1]
    );
}

#[test]
fn export_and_thread_helpers_write_readable_files() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<RawFrame> = (0..25u32)
        .map(|i| {
            let data = udp_frame(i, 40);
            let len = data.len() as u32;
            frame(i, LinkType::ETHERNET, data, len)
        })
        .collect();

    let export = dir.path().join("export.pcap");
    assert_eq!(write_pcap(&export, frames.iter().take(10)).unwrap(), 10);
    assert_eq!(read_back(&export).packets.len(), 10);
    let empty = dir.path().join("empty.pcap");
    assert_eq!(write_pcap(&empty, []).unwrap(), 0);
    let back = read_back(&empty);
    assert_eq!((back.linktype, back.packets.len()), (1, 0));

    let (tx, rx) = crossbeam_channel::bounded(4);
    let logger =
        PcapLogger::create(&dir.path().join("live.pcap"), PcapLogOptions::default()).unwrap();
    let handle = spawn_pcap_logger(logger, rx, std::sync::Arc::default());
    for chunk in frames.chunks(6) {
        tx.send(chunk.to_vec()).unwrap();
    }
    drop(tx);
    let summary = handle.join().unwrap().unwrap();
    assert_eq!(summary.packets, 25);
    assert_eq!(read_back(&summary.files[0].path).packets.len(), 25);
}

#[test]
fn timestamps_outside_pcap_range_are_clamped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clamp.pcap");
    let mut logger = PcapLogger::create(&path, PcapLogOptions::default()).unwrap();
    let data = udp_frame(0, 8);
    let len = data.len() as u32;
    let mut early = frame(0, LinkType::ETHERNET, data.clone(), len);
    early.ts = Ts(-5);
    let mut late = frame(1, LinkType::ETHERNET, data.clone(), len);
    late.ts = Ts::from_parts(i64::from(u32::MAX) + 10, 0);
    // orig_len below the captured length is malformed; it is raised to keep the file valid.
    let short = frame(2, LinkType::ETHERNET, data.clone(), 3);
    for f in [&early, &late, &short] {
        logger.write(f).unwrap();
    }
    let summary = logger.finish().unwrap();
    assert_eq!(summary.clamped_ts, 2);
    let back = read_back(&path).packets;
    assert_eq!(back[0].0, Ts(0));
    assert_eq!(back[1].0, Ts::from_parts(i64::from(u32::MAX), 999_999_999));
    assert_eq!(back[2].1, len);
}

/// A capture of the shared corpus, or `None` when it is absent (a skip note, or a failure under
/// CI; see `common::prerequisite`).
#[track_caller]
fn shared_capture(rel: &str) -> Option<PathBuf> {
    let p = common::shared_data()?.join(rel);
    common::prerequisite(p.is_file(), &format!("the shared capture {rel}")).then_some(p)
}

#[test]
fn real_capture_copied_through_the_logger_reads_the_same_in_tcpdump() {
    let Some(src) = shared_capture("pcaps/bruteforce/sshguess.pcap") else {
        return;
    };
    if !common::need_tool("tcpdump") {
        return;
    }
    let mut source = FileSource::open(&src).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = source.next_frame().unwrap() {
        frames.push(f);
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.pcap");
    assert_eq!(write_pcap(&copy, &frames).unwrap(), frames.len() as u64);
    let back = read_back(&copy).packets;
    assert_eq!(back.len(), frames.len());
    for (b, f) in back.iter().zip(&frames) {
        assert_eq!((b.0, b.1, &b.2), (f.ts, f.orig_len, &f.data));
    }
    // Same decode, line for line (tcpdump prints microseconds unless asked for more).
    let (a, b) = (tcpdump_lines(&src, &[]), tcpdump_lines(&copy, &[]));
    assert_eq!(a.len(), frames.len());
    assert_eq!(a, b);
}
