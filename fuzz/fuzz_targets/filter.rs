//! Fuzz target for the console's display filter language (`/` in the console): any text must
//! parse to a filter or to an error whose position lies inside the text, and a parsed filter
//! must print and evaluate on a decoded row without panicking. Seeds: the expressions of the
//! README and the tests, in `fuzz/seeds/filter`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::filter::parse;
use nsm_tui::engine::model::Row;
use nsm_tui::engine::{LinkType, RawFrame, Ts};

/// An IPv4 UDP datagram from 10.0.0.5:5353 to 10.0.0.1:53 (link type 228, raw IPv4).
const UDP_FRAME: [u8; 28] = [
    0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 5, 10, 0, 0, 1, 0x14, 0xe9, 0, 53, 0, 8, 0,
    0,
];

fn row(data: &[u8]) -> Row {
    let frame = RawFrame {
        ts: Ts(0),
        linktype: LinkType(228),
        iface: 0,
        orig_len: data.len() as u32,
        data: data.to_vec(),
    };
    Row {
        seq: 0,
        pcap_cnt: 1,
        decoded: decode(&frame),
        frame,
        alerts: Vec::new(),
        info: String::new(),
        threat: None,
        flow_id: None,
    }
}

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match parse(text) {
        Ok(Some(f)) => {
            let _ = f.to_string();
            let _ = f.matches(&row(&UDP_FRAME));
            let _ = f.matches(&row(&[]));
        }
        Ok(None) => {}
        Err(e) => assert!(e.pos <= text.chars().count(), "{e} for {text:?}"),
    }
});
