//! Fuzz target for the capture file reader that `nsm-tui read` and the console's replay use:
//! the input is a whole pcap or pcapng file, read through `FileSource` to its end (or its first
//! error), and each frame it yields goes through the decoder as the pipeline would pass it.
//! Seeds: the shared captures (link types, malformed) of 64 KiB or less, picked at run time
//! by `.ci/fuzz`. A panic, or a frame larger than a record may hold, is a bug.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nsm_tui::capture::file::FileSource;
use nsm_tui::capture::pcap_lax::MAX_FRAME_BYTES;
use nsm_tui::capture::Source;
use nsm_tui::engine::decode::decode;

/// Frames read per input at most: enough to reach every block of a seed, few enough that one
/// input cannot hold the fuzzer for long.
const MAX_FRAMES: usize = 4096;

fuzz_target!(|input: &[u8]| {
    let bytes: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(input.to_vec()));
    let Ok(mut src) = FileSource::from_reader(Path::new("fuzz.pcap"), bytes) else {
        return;
    };
    for _ in 0..MAX_FRAMES {
        match src.next_frame() {
            Ok(Some(frame)) => {
                assert!(frame.data.len() <= MAX_FRAME_BYTES);
                let d = decode(&frame);
                assert!(d.payload_offset + d.payload_len <= frame.data.len());
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = src.interfaces();
    let _ = src.linktype();
});
