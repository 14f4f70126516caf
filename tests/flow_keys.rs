//! Flows keyed as Suricata keys them, from packet bytes through the real decoder and flow
//! table: ICMP by type and counterpart type (an echo request and its reply are one flow, a
//! destination unreachable between the same hosts another), SCTP by its ports; and the
//! Community ID of those flows as the reference implementation computes it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::Source;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::flow::{FlowConfig, FlowRecord, FlowTable, FlowUpdate};
use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};

fn eth_ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    let total = u16::try_from(20 + l4.len()).unwrap();
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(l4);
    f
}

fn eth_ipv6(src: [u8; 16], dst: [u8; 16], next: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd];
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&u16::try_from(l4.len()).unwrap().to_be_bytes());
    f.extend_from_slice(&[next, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(l4);
    f
}

/// An ICMP message: type, code, checksum (not checked), identifier 7, sequence `seq`.
fn icmp(icmp_type: u8, code: u8, seq: u16) -> Vec<u8> {
    let mut m = vec![icmp_type, code, 0, 0, 0, 7];
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"payload!");
    m
}

/// An SCTP common header (ports, verification tag, checksum) and one DATA chunk.
fn sctp(sport: u16, dport: u16) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    s.extend_from_slice(&[
        0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, b'd', b'a', b't', b'a',
    ]);
    s
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

struct Net {
    table: FlowTable,
    secs: i64,
}

impl Net {
    fn new() -> Net {
        Net {
            table: FlowTable::new(FlowConfig {
                idle_timeout_secs: 60,
                max_flows: 1000,
            }),
            secs: 1_700_000_000,
        }
    }

    fn send(&mut self, data: Vec<u8>) -> FlowUpdate {
        self.secs += 1;
        let frame = RawFrame {
            ts: Ts::from_parts(self.secs, 0),
            linktype: LinkType::ETHERNET,
            iface: 0,
            orig_len: u32::try_from(data.len()).unwrap(),
            data,
        };
        let d = decode(&frame);
        self.table
            .update(frame.ts, &d, frame.orig_len, &[])
            .expect("a decodable IP packet has a flow")
    }

    fn flows(mut self) -> Vec<FlowRecord> {
        let mut r = self.table.drain();
        r.sort_by_key(|f| f.start);
        r
    }
}

#[test]
fn icmp_echo_and_reply_are_one_flow_other_types_their_own() {
    let mut n = Net::new();
    let req = n.send(eth_ipv4(A, B, 1, &icmp(8, 0, 1)));
    let rep = n.send(eth_ipv4(B, A, 1, &icmp(0, 0, 1)));
    let req2 = n.send(eth_ipv4(A, B, 1, &icmp(8, 0, 2)));
    let unreach = n.send(eth_ipv4(B, A, 1, &icmp(3, 1, 0)));
    let unreach_back = n.send(eth_ipv4(A, B, 1, &icmp(3, 3, 0)));
    let ts_req = n.send(eth_ipv4(A, B, 1, &icmp(13, 0, 0)));
    let ts_rep = n.send(eth_ipv4(B, A, 1, &icmp(14, 0, 0)));
    assert_eq!(req.flow_id, rep.flow_id, "the reply joins its request");
    assert_eq!(
        req.flow_id, req2.flow_id,
        "Suricata keys on types, not the sequence"
    );
    assert_ne!(
        unreach.flow_id, req.flow_id,
        "an error is not part of the echo flow"
    );
    assert_ne!(
        unreach_back.flow_id, unreach.flow_id,
        "a type without counterpart is one-way: each direction its own flow"
    );
    assert_eq!(ts_req.flow_id, ts_rep.flow_id);
    assert_ne!(ts_req.flow_id, req.flow_id);

    let flows = n.flows();
    assert_eq!(flows.len(), 4);
    let echo = &flows[0];
    assert_eq!((echo.pkts_toserver, echo.pkts_toclient), (2, 1));
    let i = echo.icmp.unwrap();
    assert_eq!((i.icmp_type, i.response), (8, Some((0, 0))));
    // Reference Community IDs (communityid 1.5, seed 0) of each flow's tuple.
    let ids: Vec<&str> = flows.iter().map(|f| f.community_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "1:YcMyyWJfhc95EW1GfXt6jlZ3DiQ=",
            "1:JHjlyD5IJJjl3wHWOMj46lLWZag=",
            "1:sn6MAmXQ6UD1gYE1XbV3XTNewrk=",
            "1:6zK3cgZa+RmEpj3VhWmGXnOWUZk=",
        ]
    );
}

#[test]
fn icmpv6_pairs_follow_suricatas_counterparts() {
    let a6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let b6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let mut n = Net::new();
    let echo = n.send(eth_ipv6(a6, b6, 58, &icmp(128, 0, 1)));
    let reply = n.send(eth_ipv6(b6, a6, 58, &icmp(129, 0, 1)));
    let ns = n.send(eth_ipv6(a6, b6, 58, &icmp(135, 0, 0)));
    let na = n.send(eth_ipv6(b6, a6, 58, &icmp(136, 0, 0)));
    // Multicast router advertisement and solicitation: a pair Suricata has and Zeek lacks.
    let mra = n.send(eth_ipv6(a6, b6, 58, &icmp(151, 0, 0)));
    let mrs = n.send(eth_ipv6(b6, a6, 58, &icmp(152, 0, 0)));
    assert_eq!(echo.flow_id, reply.flow_id);
    assert_eq!(ns.flow_id, na.flow_id);
    assert_eq!(mra.flow_id, mrs.flow_id);
    assert_ne!(echo.flow_id, ns.flow_id);
    assert_ne!(ns.flow_id, mra.flow_id);
    assert_eq!(n.flows().len(), 3);
}

#[test]
fn sctp_associations_are_keyed_with_their_ports() {
    let mut n = Net::new();
    let one = n.send(eth_ipv4(A, B, 132, &sctp(40000, 2905)));
    let back = n.send(eth_ipv4(B, A, 132, &sctp(2905, 40000)));
    let two = n.send(eth_ipv4(A, B, 132, &sctp(40001, 2905)));
    assert_eq!(one.flow_id, back.flow_id);
    assert_ne!(one.flow_id, two.flow_id);
    let flows = n.flows();
    assert_eq!(flows.len(), 2);
    assert!(flows[0].has_ports());
    assert_eq!((flows[0].src_port, flows[0].dest_port), (40000, 2905));
    assert_eq!((flows[0].pkts_toserver, flows[0].pkts_toclient), (1, 1));
    // The reference implementation hashes SCTP with its ports (it refuses SCTP without them).
    assert_eq!(
        flows[0].community_id.as_str(),
        "1:bsB2Hw3CradirzSy1mFGe3/iuI0="
    );
}

/// The SCTP associations of a shared capture (ForCES over SCTP, Linux cooked capture): two
/// flows, each with the Community ID the reference implementation gives its tuple.
#[test]
fn shared_sctp_capture_flows_match_the_reference_community_ids() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let path = data.join("pcaps/linktypes/sll/forces1.pcap");
    if !common::prerequisite(path.is_file(), "the shared capture forces1.pcap") {
        return;
    }
    let mut src = FileSource::open(&path).unwrap();
    let mut table = FlowTable::new(FlowConfig {
        idle_timeout_secs: 600,
        max_flows: 1000,
    });
    while let Some(f) = src.next_frame().unwrap() {
        let d = decode(&f);
        table.update(f.ts, &d, f.orig_len, &[]);
    }
    let mut got: Vec<(u16, u16, String)> = table
        .drain()
        .into_iter()
        .filter(|r| r.ip_proto == 132)
        .map(|r| {
            let (lo, hi) = if r.src_port > r.dest_port {
                (r.src_port, r.dest_port)
            } else {
                (r.dest_port, r.src_port)
            };
            (lo, hi, r.community_id.to_string())
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (48316, 6706, "1:V2P+aftkwDpLT/mB3OJB97C7LMM=".to_string()),
            (57077, 6704, "1:8DqTXFnQbulU179m53JKuIeULbE=".to_string()),
        ]
    );
}
