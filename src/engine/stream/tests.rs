//! Reassembly from bytes: order, overlaps, gaps, depth, memcap and sequence wraparound.

use super::*;

/// Push segments of flow 1 toward the server; return every delivered piece as
/// (context, new bytes).
fn run(r: &mut Reassembler, segs: &[(u32, &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for &(seq, payload) in segs {
        let s = Segment {
            flow_id: 1,
            to_server: true,
            seq,
            syn: false,
            ends: false,
            payload,
        };
        r.push(&s, |p| {
            out.push((p.context().to_vec(), p.new_bytes().to_vec()));
        });
    }
    out
}

fn stream(pieces: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    pieces.iter().flat_map(|(_, n)| n.clone()).collect()
}

#[test]
fn in_order_data_is_delivered_with_the_context_before_it() {
    let mut r = Reassembler::new(StreamLimits::default());
    let out = run(&mut r, &[(100, b"GET /?q=UNION "), (114, b"SELECT 1")]);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], (Vec::new(), b"GET /?q=UNION ".to_vec()));
    assert_eq!(out[1], (b"GET /?q=UNION ".to_vec(), b"SELECT 1".to_vec()));
    let c = r.counters();
    assert_eq!(
        (c.segments, c.reassembled_bytes, c.out_of_order),
        (2, 22, 0)
    );
}

#[test]
fn out_of_order_segments_wait_for_the_hole() {
    let mut r = Reassembler::new(StreamLimits::default());
    let out = run(
        &mut r,
        &[(0, b"abc"), (6, b"ghi"), (9, b"jkl"), (3, b"def")],
    );
    assert_eq!(stream(&out), b"abcdefghijkl");
    assert_eq!(out.len(), 4, "each segment is its own piece: {out:?}");
    assert_eq!(out[2].0, b"abcdef".to_vec());
    let c = r.counters();
    assert_eq!((c.out_of_order, c.gaps, c.overlaps), (2, 0, 0));
    assert_eq!(
        r.memuse(),
        12,
        "only the context is held once the hole filled"
    );
}

#[test]
fn overlaps_keep_the_first_data_and_count_conflicts() {
    let mut r = Reassembler::new(StreamLimits::default());
    // Same bytes again: an overlap, no conflict.
    let out = run(&mut r, &[(0, b"abcdef"), (3, b"defGHI")]);
    assert_eq!(stream(&out), b"abcdefGHI");
    assert_eq!(
        (r.counters().overlaps, r.counters().overlap_conflicts),
        (1, 0)
    );
    // Different bytes over delivered data: the first copy stays.
    let out = run(&mut r, &[(6, b"XYZjkl")]);
    assert_eq!(stream(&out), b"jkl");
    assert_eq!(
        (r.counters().overlaps, r.counters().overlap_conflicts),
        (2, 1)
    );
    // Different bytes over a held segment: the held copy wins.
    let out = run(&mut r, &[(15, b"pqr"), (12, b"mnoXYZ")]);
    assert_eq!(stream(&out), b"mnopqr");
    assert_eq!(
        (r.counters().overlaps, r.counters().overlap_conflicts),
        (3, 2)
    );
}

#[test]
fn a_segment_spanning_held_ones_fills_the_holes_between_them() {
    let mut r = Reassembler::new(StreamLimits::default());
    let out = run(&mut r, &[(0, b"a"), (3, b"d"), (6, b"g"), (1, b"bcdefgh")]);
    assert_eq!(stream(&out), b"abcdefgh");
    assert_eq!(r.counters().overlap_conflicts, 0);
}

#[test]
fn a_hole_that_never_fills_is_a_gap() {
    let mut r = Reassembler::new(StreamLimits::default());
    run(&mut r, &[(0, b"abc"), (10, b"xyz")]);
    r.end_flow(1);
    assert_eq!(r.counters().gaps, 1);
    assert_eq!((r.memuse(), r.directions()), (0, 0));
    // Too many held segments: the stream moves past the hole, without the old context.
    let mut r = Reassembler::new(StreamLimits::default());
    let mut segs: Vec<(u32, Vec<u8>)> = vec![(0, b"ab".to_vec())];
    for i in 0..=MAX_HELD_SEGMENTS as u32 {
        segs.push((10 + 2 * i, b"zz".to_vec()));
    }
    let segs: Vec<(u32, &[u8])> = segs.iter().map(|(s, p)| (*s, &p[..])).collect();
    let out = run(&mut r, &segs);
    assert_eq!(r.counters().gaps, 1);
    assert_eq!(out[1].0, Vec::<u8>::new(), "no context across a gap");
    assert_eq!(stream(&out).len(), 2 + 2 * (MAX_HELD_SEGMENTS + 1));
}

#[test]
fn past_the_depth_a_direction_is_no_longer_followed() {
    let mut r = Reassembler::new(StreamLimits {
        depth: 10,
        ..StreamLimits::default()
    });
    let out = run(&mut r, &[(0, b"0123456"), (7, b"789ab"), (12, b"cdef")]);
    assert_eq!(stream(&out), b"0123456789");
    assert_eq!(r.counters().depth_reached, 1);
    assert_eq!(r.counters().reassembled_bytes, 10);
}

#[test]
fn at_the_memcap_new_data_is_not_held() {
    let mut r = Reassembler::new(StreamLimits {
        memcap: 100,
        context: 16,
        ..StreamLimits::default()
    });
    for flow in 0..20u64 {
        let s = Segment {
            flow_id: flow,
            to_server: true,
            seq: 1000,
            syn: false,
            ends: false,
            payload: b"start",
        };
        r.push(&s, |_| {});
        let s = Segment {
            seq: 2000,
            payload: &[b'x'; 30],
            ..s
        };
        r.push(&s, |_| {});
    }
    assert!(r.memuse() <= 100, "memuse {}", r.memuse());
    assert!(r.counters().memcap_drops > 0);
    r.end_flow(0);
    assert!(r.memuse() < 100);
}

#[test]
fn sequence_numbers_wrap() {
    let mut r = Reassembler::new(StreamLimits::default());
    let base = u32::MAX - 3;
    let out = run(
        &mut r,
        &[
            (base, b"abcd"),
            (base.wrapping_add(8), b"ijkl"),
            (base.wrapping_add(4), b"efgh"),
        ],
    );
    assert_eq!(stream(&out), b"abcdefghijkl");
    assert_eq!(r.counters().gaps, 0);
    // An old retransmission from before the wrap is recognised as such.
    let out = run(&mut r, &[(base, b"abcd")]);
    assert!(out.is_empty());
    assert_eq!(r.counters().overlaps, 1);
}

#[test]
fn syn_fin_and_rst_start_and_end_directions() {
    let mut r = Reassembler::new(StreamLimits::default());
    let mut seg = Segment {
        flow_id: 7,
        to_server: true,
        seq: 41,
        syn: true,
        ends: false,
        payload: b"",
    };
    r.push(&seg, |_| {});
    // The first data segment is lost: the second is held, not taken as the start.
    seg = Segment {
        syn: false,
        seq: 45,
        payload: b"efg",
        ..seg
    };
    let mut got = Vec::new();
    r.push(&seg, |p| got.extend_from_slice(p.new_bytes()));
    assert!(got.is_empty());
    seg = Segment {
        seq: 42,
        payload: b"abc",
        ends: true,
        ..seg
    };
    r.push(&seg, |p| got.extend_from_slice(p.new_bytes()));
    assert_eq!(got, b"abcefg".to_vec());
    assert_eq!(r.directions(), 0);
}
