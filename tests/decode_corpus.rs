//! The decoder over the shared capture corpus: every frame of every capture under
//! `pcaps/linktypes/` and `pcaps/malformed/` decodes without panicking, and specific captures
//! decode to what tcpdump shows in them. Without the shared data they skip with a note, or fail
//! under CI and `NSM_TUI_REQUIRE_ALL=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::packet::Decoded;
use nsm_tui::engine::RawFrame;

/// Every frame the file source can read (stopping at the first unreadable record), decoded.
fn decode_file(path: &Path) -> Vec<(RawFrame, Decoded)> {
    let Ok(mut src) = FileSource::open(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Ok(Some(frame)) = src.next_frame() {
        let d = decode(&frame);
        assert!(
            d.payload_offset + d.payload_len <= frame.data.len(),
            "{}: payload {}+{} past {} bytes",
            path.display(),
            d.payload_offset,
            d.payload_len,
            frame.data.len()
        );
        out.push((frame, d));
    }
    out
}

#[track_caller]
fn pcaps() -> Option<PathBuf> {
    common::shared_data().map(|d| d.join("pcaps"))
}

#[track_caller]
fn decoded(rel: &str) -> Option<Vec<Decoded>> {
    let path = pcaps()?.join(rel);
    if !common::prerequisite(path.is_file(), &format!("the shared capture pcaps/{rel}")) {
        return None;
    }
    let all: Vec<Decoded> = decode_file(&path).into_iter().map(|(_, d)| d).collect();
    assert!(!all.is_empty(), "{rel}: no frames read");
    Some(all)
}

fn share(ds: &[Decoded], pred: impl Fn(&Decoded) -> bool) -> f64 {
    ds.iter().filter(|d| pred(d)).count() as f64 / ds.len().max(1) as f64
}

fn issue_counts(ds: &[Decoded]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for key in ds.iter().filter_map(|d| d.issue.map(|i| i.key())) {
        *m.entry(key).or_insert(0) += 1;
    }
    m
}

#[test]
fn every_frame_of_the_corpus_decodes_without_panicking() {
    let Some(root) = pcaps() else { return };
    let mut frames = 0;
    let mut report = String::new();
    for sub in ["linktypes", "malformed"] {
        for file in common::captures_under(&root.join(sub)) {
            let ds: Vec<Decoded> = decode_file(&file).into_iter().map(|(_, d)| d).collect();
            frames += ds.len();
            let rel = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            report.push_str(&format!("{rel}\t{}\t{:?}\n", ds.len(), issue_counts(&ds)));
        }
    }
    println!("{report}");
    assert!(frames > 1000, "only {frames} frames read from the corpus");
}

#[test]
fn vlan_stacks() {
    let Some(ds) = decoded("linktypes/vlan/802.1ad_QinQ.pcap") else {
        return;
    };
    assert!(
        ds.iter()
            .all(|d| d.vlans == [200, 2001] && d.arp.is_some() && d.issue.is_none()),
        "{ds:?}"
    );
    let Some(ds) = decoded("linktypes/vlan/vlan-qinqinq.pcap") else {
        return;
    };
    assert!(ds.iter().all(|d| d.vlans == [30, 20, 10]));
    assert!(share(&ds, |d| d.transport.tcp().is_some()) >= 0.9);
    let syn = ds[0].transport.tcp().copied().unwrap();
    assert_eq!(
        (
            syn.src_port,
            syn.mss,
            syn.wscale,
            syn.sack_permitted,
            syn.timestamps
        ),
        (59856, Some(1460), Some(4), true, true)
    );
    let Some(ds) = decoded("linktypes/vlan/http-vlan-0.pcap") else {
        return;
    };
    assert!(ds.iter().any(|d| d.vlans == [0]));
    assert!(share(&ds, |d| d.ip.is_some()) >= 0.9);
}

#[test]
fn mpls_labels_are_popped() {
    let Some(ds) = decoded("linktypes/vlan/mixed-vlan-mpls.pcap") else {
        return;
    };
    let mpls: Vec<&Decoded> = ds.iter().filter(|d| d.ethertype == Some(0x8847)).collect();
    assert!(!mpls.is_empty());
    assert!(
        mpls.iter()
            .all(|d| d.issue.is_none() && d.ports().is_some()),
        "{mpls:?}"
    );
    let Some(ds) = decoded("linktypes/vlan/mpls-in-vlan.pcap") else {
        return;
    };
    assert!(
        ds.iter()
            .all(|d| d.transport.tcp().is_some() && !d.vlans.is_empty()),
        "{ds:?}"
    );
}

#[test]
fn cooked_captures_decode_ip() {
    // linux_dlt_sll2.pcap: 4 ICMP/ICMPv6 pings on lo, one ARP and one RARP (0x8035).
    let Some(ds) = decoded("linktypes/sll2/linux_dlt_sll2.pcap") else {
        return;
    };
    assert_eq!(
        ds.iter()
            .filter(|d| d.ip.is_some() && d.issue.is_none())
            .count(),
        4,
        "{ds:?}"
    );
    assert_eq!(ds.iter().filter(|d| d.arp.is_some()).count(), 1);
    assert_eq!(
        ds[5].issue.map(|i| i.key()).as_deref(),
        Some("ethertype.0x8035")
    );
    for rel in [
        "linktypes/sll2/sv_decode-sll2-01.pcap",
        "linktypes/sll2/sv_decode-sll2-02.pcap",
    ] {
        let Some(ds) = decoded(rel) else { return };
        let ok = share(&ds, |d| d.ip.is_some() && d.issue.is_none());
        assert!(
            ok >= 0.9,
            "{rel}: {ok:.2} clean IP; issues {:?}",
            issue_counts(&ds)
        );
    }
    let Some(ds) = decoded("linktypes/sll/linuxsll-arp.pcap") else {
        return;
    };
    assert!(
        share(&ds, |d| d.arp.is_some()) > 0.5,
        "{:?}",
        issue_counts(&ds)
    );
    let Some(ds) = decoded("linktypes/sll/tcp-handshake-nano.pcap") else {
        return;
    };
    assert!(ds.iter().all(|d| d.transport.tcp().is_some()));
}

#[test]
fn raw_null_and_ipv6_captures_decode_ip() {
    let Some(root) = pcaps() else { return };
    for dir in ["raw", "null", "ipv6"] {
        let files = common::captures_under(&root.join("linktypes").join(dir));
        if !common::prerequisite(
            !files.is_empty(),
            &format!("the shared captures under pcaps/linktypes/{dir}"),
        ) {
            return;
        }
        for file in files {
            let ds: Vec<Decoded> = decode_file(&file).into_iter().map(|(_, d)| d).collect();
            if file.ends_with("null/loopback.pcap") {
                // Despite its folder, this one is Ethernet carrying the 0x9000 loopback protocol.
                assert!(ds
                    .iter()
                    .all(|d| d.issue.map(|i| i.key()).as_deref() == Some("ethertype.0x9000")));
                continue;
            }
            let ip = share(&ds, |d| d.ip.is_some());
            assert!(
                ip >= 0.9,
                "{}: IP in {ip:.2} of {} frames; issues {:?}",
                file.display(),
                ds.len(),
                issue_counts(&ds)
            );
        }
    }
}

#[test]
fn ipv6_extension_headers_and_fragments_in_captures() {
    let Some(ds) = decoded("linktypes/ipv6/ipv6-hbh-routing0.pcap") else {
        return;
    };
    assert!(
        ds[0].ip.is_some_and(|ip| ip.ext_headers >= 2),
        "{:?}",
        ds[0]
    );
    let Some(ds) = decoded("linktypes/ipv6/ipv6_fragments.pcapng") else {
        return;
    };
    assert!(ds.iter().any(|d| d
        .ip
        .is_some_and(|ip| ip.fragment.is_some_and(|f| f.offset > 0))));
    assert!(ds.iter().any(|d| d
        .ip
        .is_some_and(|ip| ip.fragment.is_some_and(|f| f.offset == 0 && f.more))));
}

#[test]
fn dns_questions_and_answers_from_captures() {
    let Some(ds) = decoded("linktypes/pcapng/dns_query_response.pcapng") else {
        return;
    };
    let q = ds[0].dns.as_ref().expect("query");
    assert_eq!(
        (
            q.id,
            q.is_response,
            q.questions[0].name.as_str(),
            q.questions[0].qtype
        ),
        (6159, false, "wireshark.org", 1)
    );
    let r = ds[1].dns.as_ref().expect("response");
    assert_eq!(
        (r.answers[0].rtype, r.answers[0].data.as_str()),
        (1, "128.121.50.122")
    );
    let Some(ds) = decoded("linktypes/pcapng/pcapng-multi-interface.pcapng") else {
        return;
    };
    let apple = ds[1].dns.as_ref().expect("apple response");
    let data: Vec<&str> = apple.answers.iter().map(|a| a.data.as_str()).collect();
    assert_eq!(
        data,
        [
            "www-apple-com.v.aaplimg.com",
            "www.apple.com.edgekey.net",
            "e6858.dsce9.akamaiedge.net",
            "23.194.101.24"
        ]
    );
    let aaaa = ds[5].dns.as_ref().expect("aaaa response");
    assert_eq!(aaaa.answers[0].data, "2607:f8b0:4023:2007::66");
}
