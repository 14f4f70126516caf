//! A classic-pcap reader with libpcap's tolerance. pcap-file refuses records whose captured
//! length exceeds the file's snaplen, which libpcap (and so tcpdump) accepts by truncating them
//! to the snaplen; captures from real tools do contain such records. The format is a 24-byte
//! header and 16-byte record headers, so reading it here costs little and keeps counts equal
//! to `tcpdump -r`.
//!
//! Runs on the capture thread; blocks only on file reads.

use std::io::{self, Read};

use crate::engine::frame::{LinkType, Ts};

/// libpcap's MAXIMUM_SNAPLEN: records claiming more are damaged.
const MAX_SNAPLEN: u32 = 262_144;
/// The most bytes of one record the pipeline keeps, whatever the link type: libpcap's
/// MAXIMUM_SNAPLEN. The link types that allow larger records (D-Bus, USBPcap) carry nothing
/// the engine decodes, so their records are cut here (the rest is read and discarded) and a
/// frame never holds more than 256 KiB.
pub const MAX_FRAME_BYTES: usize = MAX_SNAPLEN as usize;
/// Link types whose packets may legitimately be larger (D-Bus, USBPcap): records up to this
/// length are accepted, as libpcap accepts them, but only `MAX_FRAME_BYTES` of them are kept.
fn max_snaplen_for(linktype: LinkType) -> u32 {
    match linktype.0 {
        231 => 128 * 1024 * 1024,
        249 => 1024 * 1024,
        _ => MAX_SNAPLEN,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub big_endian: bool,
    pub nanos: bool,
    pub snaplen: u32,
    pub linktype: LinkType,
}

/// One record: timestamp, original length and the captured bytes.
#[derive(Debug)]
pub struct Record {
    pub ts: Ts,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

pub struct LaxPcapReader<R> {
    r: R,
    header: Header,
}

/// Read exactly `buf.len()` bytes, or report how many were there before end of file.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> LaxPcapReader<R> {
    /// Parse the file header. Errors are strings a person can read.
    pub fn new(mut r: R) -> Result<Self, String> {
        let mut h = [0u8; 24];
        let n = read_full(&mut r, &mut h).map_err(|e| e.to_string())?;
        if n < 24 {
            return Err(format!("truncated file header ({n} of 24 bytes)"));
        }
        let (big_endian, nanos) = match [h[0], h[1], h[2], h[3]] {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            m => return Err(format!("bad pcap magic {m:02x?}")),
        };
        let u32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        // The link type's upper bits may carry FCS information (LT_FCS_*); libpcap masks them.
        let linktype = LinkType(u32_at(20) & 0x03ff_ffff);
        let max = max_snaplen_for(linktype);
        let mut snaplen = u32_at(16);
        if snaplen == 0 || snaplen > max {
            snaplen = max;
        }
        Ok(LaxPcapReader {
            r,
            header: Header {
                big_endian,
                nanos,
                snaplen,
                linktype,
            },
        })
    }

    pub fn header(&self) -> Header {
        self.header
    }

    /// The next record, `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, String> {
        let mut h = [0u8; 16];
        let n = read_full(&mut self.r, &mut h).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(None);
        }
        if n < 16 {
            return Err(format!("truncated record header ({n} of 16 bytes)"));
        }
        let be = self.header.big_endian;
        let u32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (secs, frac, caplen, orig_len) = (u32_at(0), u32_at(4), u32_at(8), u32_at(12));
        let max = max_snaplen_for(self.header.linktype);
        if caplen > max {
            return Err(format!(
                "invalid packet capture length {caplen}, bigger than maximum of {max}"
            ));
        }
        let keep = (caplen.min(self.header.snaplen) as usize).min(MAX_FRAME_BYTES);
        // Read straight into spare capacity: no zero-filling of a buffer about to be overwritten.
        // `keep` is at most 256 KiB, so a record that claims more than the file holds never
        // allocates what it claims.
        let mut data = Vec::with_capacity(keep);
        let got = (&mut self.r)
            .take(keep as u64)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        if got < keep {
            return Err(format!(
                "truncated record: {caplen} captured bytes announced, {got} present"
            ));
        }
        let discard = u64::from(caplen) - keep as u64;
        if discard > 0 {
            let skipped = io::copy(&mut (&mut self.r).take(discard), &mut io::sink())
                .map_err(|e| e.to_string())?;
            if skipped < discard {
                let got = keep as u64 + skipped;
                return Err(format!(
                    "truncated record: {caplen} captured bytes announced, {got} present"
                ));
            }
        }
        let nanos = if self.header.nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        };
        Ok(Some(Record {
            ts: Ts::from_parts(i64::from(secs), nanos),
            orig_len,
            data,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(big: bool, nanos: bool, snaplen: u32, records: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        file_lt(big, nanos, snaplen, 1, records)
    }

    fn file_lt(
        big: bool,
        nanos: bool,
        snaplen: u32,
        linktype: u32,
        records: &[(u32, u32, u32, &[u8])],
    ) -> Vec<u8> {
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&w(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend_from_slice(
            &(if big {
                2u16.to_be_bytes()
            } else {
                2u16.to_le_bytes()
            }),
        );
        out.extend_from_slice(
            &(if big {
                4u16.to_be_bytes()
            } else {
                4u16.to_le_bytes()
            }),
        );
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&w(snaplen));
        out.extend_from_slice(&w(linktype));
        for (s, f, orig, data) in records {
            out.extend_from_slice(&w(*s));
            out.extend_from_slice(&w(*f));
            out.extend_from_slice(&w(u32::try_from(data.len()).unwrap()));
            out.extend_from_slice(&w(*orig));
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn reads_both_byte_orders_and_resolutions() {
        for big in [false, true] {
            for nanos in [false, true] {
                let bytes = file(
                    big,
                    nanos,
                    65535,
                    &[(10, 5, 60, b"abcd"), (11, 0, 4, b"xy")],
                );
                let mut r = LaxPcapReader::new(&bytes[..]).unwrap();
                assert_eq!(r.header().linktype, LinkType::ETHERNET);
                let a = r.next_record().unwrap().unwrap();
                assert_eq!(a.data, b"abcd");
                assert_eq!(a.orig_len, 60);
                assert_eq!(a.ts, Ts::from_parts(10, if nanos { 5 } else { 5000 }));
                assert_eq!(r.next_record().unwrap().unwrap().data, b"xy");
                assert!(r.next_record().unwrap().is_none());
            }
        }
    }

    #[test]
    fn record_longer_than_snaplen_is_truncated_like_libpcap() {
        let bytes = file(false, false, 3, &[(1, 0, 6, b"abcdef"), (2, 0, 2, b"gh")]);
        let mut r = LaxPcapReader::new(&bytes[..]).unwrap();
        assert_eq!(r.next_record().unwrap().unwrap().data, b"abc");
        assert_eq!(r.next_record().unwrap().unwrap().data, b"gh");
    }

    #[test]
    fn truncated_record_is_an_error_not_a_panic() {
        let mut bytes = file(false, false, 100, &[(1, 0, 6, b"abcdef")]);
        bytes.truncate(bytes.len() - 2);
        let mut r = LaxPcapReader::new(&bytes[..]).unwrap();
        assert!(r.next_record().unwrap_err().contains("truncated record"));
        assert!(LaxPcapReader::new(&bytes[..10]).is_err());
    }

    #[test]
    fn large_records_of_dbus_are_cut_to_the_frame_maximum() {
        let big = vec![7u8; MAX_FRAME_BYTES + 1000];
        let bytes = file_lt(
            false,
            false,
            0,
            231,
            &[(1, 0, 2_000_000, &big), (2, 0, 2, b"gh")],
        );
        let mut r = LaxPcapReader::new(&bytes[..]).unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!(a.data.len(), MAX_FRAME_BYTES);
        assert_eq!(a.orig_len, 2_000_000);
        assert_eq!(r.next_record().unwrap().unwrap().data, b"gh");
    }

    #[test]
    fn a_record_claiming_more_than_the_file_holds_is_an_error() {
        // Claims 128 MiB (D-Bus allows it); the file ends after 10 bytes.
        let mut bytes = file_lt(false, false, 0, 231, &[]);
        for v in [1u32, 0, 128 << 20, 128 << 20] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(&[0; 10]);
        let mut r = LaxPcapReader::new(&bytes[..]).unwrap();
        let e = r.next_record().unwrap_err();
        assert!(
            e.contains("134217728 captured bytes announced, 10 present"),
            "{e}"
        );
    }
}
