//! Fuzz target for the signature loader: the input is the text of one JSON rule file, loaded
//! as `SignatureSet::from_sources` loads a file of the signature directory; whatever loads is
//! then matched against a small HTTP request. A bad file or entry must come back as an error,
//! never a panic, and a hostile pattern must stay within the regex size limit. Seeds: the
//! repository's `signatures/*.json` and the entries in `fuzz/seeds/signatures`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsm_tui::engine::decode::decode;
use nsm_tui::engine::detect::signature::SignatureSet;
use nsm_tui::engine::{LinkType, RawFrame, Ts};

/// IPv4 TCP from 10.0.0.5:40000 to 10.0.0.1:80 carrying `GET /?id=1' HTTP/1.1` (link type 228).
fn http_frame() -> RawFrame {
    let payload = b"GET /?id=1%27%20or%201=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    let total = 40 + payload.len();
    let mut data = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        6,
        0,
        0,
        10,
        0,
        0,
        5,
        10,
        0,
        0,
        1,
        0x9c,
        0x40,
        0,
        80,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0x50,
        0x18,
        0xff,
        0xff,
        0,
        0,
        0,
        0,
    ];
    data.extend_from_slice(payload);
    RawFrame {
        ts: Ts(0),
        linktype: LinkType(228),
        iface: 0,
        orig_len: data.len() as u32,
        data,
    }
}

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let (set, _errors) = SignatureSet::from_sources(&[("fuzz.json".to_string(), text.to_string())]);
    if !set.is_empty() {
        let frame = http_frame();
        let d = decode(&frame);
        let payload = &frame.data[d.payload_offset..d.payload_offset + d.payload_len];
        let _ = set.matches(&d, payload);
    }
});
