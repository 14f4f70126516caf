//! Fuzz target for the frame decoder: the first byte picks a link type, the rest is the frame.
//! Run from the crate root with `cargo fuzz run decode fuzz/corpus/decode fuzz/seeds/decode`
//! (needs cargo-fuzz); new inputs go to the first directory. The seeds are the first frames of
//! the shared link-type and malformed captures, each behind its link-type selector byte.
//! `decode` must return for every input with its payload inside the frame; a panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::{LinkType, RawFrame, Ts};

/// Every link type the decoder handles, plus one it does not.
const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let linktype = LinkType(LINK_TYPES[usize::from(selector) % LINK_TYPES.len()]);
    let frame = RawFrame {
        ts: Ts(0),
        linktype,
        iface: 0,
        orig_len: data.len() as u32,
        data: data.to_vec(),
    };
    let d = decode(&frame);
    assert!(d.payload_offset + d.payload_len <= frame.data.len());
});
