//! Blocklists: the FireHOL, Spamhaus DROP and Emerging Threats formats, bad lines reported
//! with file and line, directories, lookups agreeing with a brute-force reference on random
//! tables, the detector, and `nsm-tui read --blocklist` naming the list in EVE.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use nsm_tui::engine::detect::{FlowCtx, StatefulDetector};
use nsm_tui::enrich::blocklist::{Blocklist, BlocklistBuilder, BlocklistDetector, Net};
use nsm_tui::enrich::load_blocklists;

const FIREHOL: &str = "\
#
# firehol_level1
#
# ipv4 hash:net ipset
#
# Maintainer      : FireHOL
#
0.0.0.0/8
1.10.16.0/20
1.19.0.0/16
5.134.128.0/19
";

const DROP: &str = "\
; Spamhaus DROP List 2024/05/01 - (c) 2024 The Spamhaus Project SLU
; https://www.spamhaus.org/drop/drop.txt
; Last-Modified: Wed, 01 May 2024 10:00:00 GMT
; Expires: Wed, 01 May 2024 11:00:00 GMT
1.10.16.0/20 ; SBL256894
1.19.0.0/16 ; SBL434604
2.56.192.0/22 ; SBL459831
";

const ET: &str = "\
1.0.203.190
1.12.244.59
2.57.122.230
";

fn build(lists: &[(&str, &str)]) -> Blocklist {
    let mut b = BlocklistBuilder::new();
    for (name, text) in lists {
        let errs = b.add_text(name, Path::new(name), text);
        assert!(errs.is_empty(), "{errs:?}");
    }
    b.build()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn feed_formats_load_and_match_with_their_notes() {
    let t = build(&[
        ("firehol_level1", FIREHOL),
        ("spamhaus_drop", DROP),
        ("emerging-compromised", ET),
    ]);
    assert_eq!(t.len(), 4 + 3 + 3);
    let names: Vec<(String, usize)> = t.lists().iter().map(|(n, k)| (n.to_string(), *k)).collect();
    assert_eq!(
        names,
        [
            ("firehol_level1".to_string(), 4),
            ("spamhaus_drop".to_string(), 3),
            ("emerging-compromised".to_string(), 3)
        ]
    );
    // Duplicate prefixes keep the list loaded first.
    let h = t.lookup(ip("1.10.20.1")).unwrap();
    assert_eq!(&*h.entry.list, "firehol_level1");
    let h = t.lookup(ip("2.56.193.7")).unwrap();
    assert_eq!(&*h.entry.list, "spamhaus_drop");
    assert_eq!(h.entry.note.as_deref(), Some("SBL459831"));
    assert_eq!(h.entry.net.to_string(), "2.56.192.0/22");
    let h = t.lookup(ip("1.12.244.59")).unwrap();
    assert_eq!(&*h.entry.list, "emerging-compromised");
    assert!(t.lookup(ip("1.12.244.60")).is_none());
    assert!(t.lookup(ip("2.56.196.0")).is_none());
}

#[test]
fn bad_lines_name_file_and_line_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.txt"),
        "1.2.3.4\n300.1.1.1\n\n5.6.7.0/24 # ok\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.netset"),
        "# c\n10.0.0.0/33\n2001:db8::/32\nfoo bar\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".hidden"), "9.9.9.9\n").unwrap();
    let mut b = BlocklistBuilder::new();
    let errs = b.add_path(dir.path()).unwrap();
    let shown: Vec<String> = errs
        .iter()
        .map(|e| {
            let file = e.file.file_name().unwrap().to_string_lossy().to_string();
            format!("{file}:{}", e.line)
        })
        .collect();
    assert_eq!(shown, ["a.txt:2", "b.netset:2", "b.netset:4"]);
    assert!(errs[0].to_string().contains("300.1.1.1"), "{}", errs[0]);
    assert!(errs[1].to_string().contains("33"), "{}", errs[1]);
    let t = b.build();
    assert_eq!(t.len(), 3);
    assert!(
        t.lookup(ip("9.9.9.9")).is_none(),
        "hidden files are skipped"
    );
    assert!(t.lookup(ip("2001:db8:ffff::1")).is_some());

    // Through the loader the notices carry the same places and the count.
    let (table, notes) = load_blocklists(&[dir.path().to_path_buf()]);
    assert_eq!(table.unwrap().len(), 3);
    assert!(notes.iter().any(|n| n.contains("a.txt:2")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("3 entries loaded")),
        "{notes:?}"
    );
    let (none, notes) = load_blocklists(&[dir.path().join("missing.txt")]);
    assert_eq!(none.unwrap().len(), 0);
    assert!(notes.iter().any(|n| n.contains("missing.txt")), "{notes:?}");
}

/// A small deterministic generator (xorshift) so the test needs no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn contains(n: &Net, a: IpAddr) -> bool {
    let (v, bits) = match (n.addr, a) {
        (IpAddr::V4(x), IpAddr::V4(y)) => {
            ((u128::from(u32::from(x)), u128::from(u32::from(y))), 32)
        }
        (IpAddr::V6(x), IpAddr::V6(y)) => ((u128::from(x), u128::from(y)), 128),
        _ => return false,
    };
    let host = bits - u32::from(n.len);
    let mask = if host >= 128 { 0 } else { u128::MAX << host };
    (v.0 & mask) == (v.1 & mask)
}

#[test]
fn lookups_agree_with_brute_force_on_random_tables() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..20 {
        let mut text = String::new();
        let mut nets = Vec::new();
        for _ in 0..300 {
            // Addresses packed into a small space so prefixes nest and overlap often.
            let a = IpAddr::from([
                10,
                (r.next() % 4) as u8,
                (r.next() % 8) as u8,
                r.next() as u8,
            ]);
            let len = [8u8, 14, 16, 20, 24, 28, 30, 32][(r.next() % 8) as usize];
            let net = Net::parse(&format!("{a}/{len}")).unwrap();
            text.push_str(&format!("{a}/{len}\n"));
            nets.push(net);
        }
        let t = build(&[("l", &text)]);
        for _ in 0..2000 {
            let a = IpAddr::from([
                10 + (r.next() % 2) as u8,
                (r.next() % 5) as u8,
                (r.next() % 9) as u8,
                r.next() as u8,
            ]);
            // Reference: the longest matching prefix.
            let want = nets
                .iter()
                .filter(|n| contains(n, a))
                .max_by_key(|n| n.len)
                .copied();
            let got = t.lookup(a).map(|h| h.entry.net);
            assert_eq!(got, want, "round {round}, {a}");
        }
    }
}

#[test]
fn detector_alerts_once_per_new_flow_naming_the_list() {
    let table = Arc::new(build(&[("spamhaus_drop", DROP)]));
    let mut d = BlocklistDetector::new(table);
    let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4([192, 168, 1, 5], [2, 56, 192, 9], 64)
        .udp(5000, 53);
    let mut data = Vec::new();
    b.write(&mut data, b"q").unwrap();
    let frame = nsm_tui::engine::frame::RawFrame {
        ts: nsm_tui::engine::frame::Ts::from_parts(1_700_000_000, 0),
        linktype: nsm_tui::engine::frame::LinkType::ETHERNET,
        iface: 0,
        orig_len: data.len() as u32,
        data,
    };
    let a = nsm_tui::engine::record::Analyzed {
        pcap_cnt: 1,
        decoded: nsm_tui::engine::decode::decode(&frame),
        frame,
        alerts: Vec::new(),
        stream_http: Vec::new(),
    };
    let new_flow = FlowCtx {
        flow_id: 1,
        is_new: true,
        ..FlowCtx::default()
    };
    let mut out = Vec::new();
    d.observe(&a, Some(&new_flow), &mut out);
    d.observe(
        &a,
        Some(&FlowCtx {
            is_new: false,
            ..new_flow
        }),
        &mut out,
    );
    assert_eq!(out.len(), 1);
    let al = &out[0];
    assert_eq!(&*al.category, "reputation");
    assert!(al.description.contains("spamhaus_drop"));
    assert!(
        al.explanation.contains("destination 2.56.192.9"),
        "{}",
        al.explanation
    );
    assert!(al.explanation.contains("SBL459831"), "{}", al.explanation);
    assert_eq!(al.evidence["list"], "spamhaus_drop");
    assert!(d.counters().contains(&("blocklist_matched_flows", 1)));
}

#[test]
fn read_with_blocklist_names_the_list_in_eve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pcap = root.join("tests/fixtures/demo_attacks.pcap");
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("demo_drop.txt");
    std::fs::write(&list, "; demo\n203.0.113.0/25 ; SBL000001\nnonsense\n").unwrap();
    let eve = dir.path().join("eve.json");
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .current_dir(root)
        .arg("read")
        .arg(&pcap)
        .arg("--blocklist")
        .arg(&list)
        .arg("--eve")
        .arg(&eve)
        .args(["--eve-extensions", "--no-db", "--no-pcap-log"])
        .env_remove("ABUSEIPDB_API_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("demo_drop.txt:3"), "{stderr}");
    assert!(stderr.contains("1 entries loaded"), "{stderr}");
    assert_eq!(
        stderr.matches("AbuseIPDB reputation off").count(),
        1,
        "{stderr}"
    );
    let text = std::fs::read_to_string(&eve).unwrap();
    let hits: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["alert"]["signature_id"] == 9_000_100)
        .collect();
    assert!(!hits.is_empty());
    for h in &hits {
        assert_eq!(h["alert"]["category"], "reputation");
        assert_eq!(h["alert"]["metadata"]["list"][0], "demo_drop");
        let src = h["src_ip"].as_str().unwrap();
        let dst = h["dest_ip"].as_str().unwrap();
        assert!(src.starts_with("203.0.113.") || dst.starts_with("203.0.113."));
        // Documentation addresses are labelled, never located.
        assert!(h["src_geoip"]["scope"].is_string(), "{h}");
    }
    // One alert per flow, not per packet.
    let mut flows: Vec<(u64, String)> = hits
        .iter()
        .map(|h| {
            let m = h["alert"]["metadata"]["matched_ip"][0].as_str().unwrap();
            (h["flow_id"].as_u64().unwrap(), m.to_string())
        })
        .collect();
    flows.sort_unstable();
    let n = flows.len();
    flows.dedup();
    assert_eq!(flows.len(), n);
}
