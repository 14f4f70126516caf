//! Small EVE field values, mostly without allocating: Suricata's timestamp format, two-digit
//! hex TCP flags, and DNS type and rcode names.
//!
//! Used by the EVE writer on the output thread.

use std::borrow::Cow;
use std::cell::Cell;

use crate::engine::frame::Ts;

/// Length of `2024-01-15T10:20:30.123456+0000`.
const TS_LEN: usize = 31;

/// A capture timestamp in Suricata's EVE format, UTC, microseconds:
/// `2024-01-15T10:20:30.123456+0000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EveTime([u8; TS_LEN]);

impl EveTime {
    pub fn new(ts: Ts) -> Self {
        let secs = ts.secs();
        let micros = ts.subsec_nanos() / 1000;
        // Events come in capture order, so most share the second of the one before: the
        // date and time part is formatted once per second and kept per thread.
        let mut b = LAST_SECOND.with(|c| {
            let (last, b) = c.get();
            if last == Some(secs) {
                b
            } else {
                let b = format_second(secs);
                c.set((Some(secs), b));
                b
            }
        });
        put(&mut b[20..26], u64::from(micros));
        EveTime(b)
    }

    /// The text as bytes (ASCII digits and punctuation; nothing to escape in JSON).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written.
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000000+0000")
    }
}

thread_local! {
    /// The second last formatted on this thread and its text (microseconds left as zeros).
    static LAST_SECOND: Cell<(Option<i64>, [u8; TS_LEN])> =
        const { Cell::new((None, [0; TS_LEN])) };
}

/// `secs` (since the epoch) as `2024-01-15T10:20:30.000000+0000`.
fn format_second(secs: i64) -> [u8; TS_LEN] {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = crate::engine::frame::civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00.000000+0000";
    put(&mut b[0..4], y.clamp(0, 9999).unsigned_abs());
    put(&mut b[5..7], u64::from(m));
    put(&mut b[8..10], u64::from(d));
    put(&mut b[11..13], sod.unsigned_abs() / 3600);
    put(&mut b[14..16], sod.unsigned_abs() / 60 % 60);
    put(&mut b[17..19], sod.unsigned_abs() % 60);
    b
}

/// Writes `v` as zero-padded decimal filling `out` (higher digits are dropped).
fn put(out: &mut [u8], mut v: u64) {
    for c in out.iter_mut().rev() {
        *c = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// A byte as two lower-case hex digits, as Suricata prints TCP flags (`"1b"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hex2([u8; 2]);

impl Hex2 {
    pub fn new(b: u8) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        Hex2([DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
    }

    /// The two digits as bytes (nothing to escape in JSON).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        // Only hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("00")
    }
}

/// A DNS record type as Suricata names it (`A`, `AAAA`, `TXT`, …; unknown types as the number).
pub fn rrtype_text(t: u16) -> Cow<'static, str> {
    rrtype_name(t).map_or_else(|| Cow::Owned(t.to_string()), Cow::Borrowed)
}

fn rrtype_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        24 => "SIG",
        25 => "KEY",
        28 => "AAAA",
        29 => "LOC",
        33 => "SRV",
        35 => "NAPTR",
        37 => "CERT",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        44 => "SSHFP",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return None,
    })
}

/// A DNS response code as Suricata names it (`NOERROR`, `NXDOMAIN`, …; others as the number).
pub fn rcode_text(rcode: u8) -> Cow<'static, str> {
    rcode_name(rcode).map_or_else(|| Cow::Owned(rcode.to_string()), Cow::Borrowed)
}

fn rcode_name(rcode: u8) -> Option<&'static str> {
    Some(match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_suricata_format() {
        assert_eq!(
            EveTime::new(Ts(0)).as_str(),
            "1970-01-01T00:00:00.000000+0000"
        );
        // 2024-01-15 10:20:30.123456789 UTC
        let ts = Ts::from_parts(1_705_314_030, 123_456_789);
        assert_eq!(EveTime::new(ts).as_str(), "2024-01-15T10:20:30.123456+0000");
        // Leap day and end of a leap year.
        assert_eq!(
            EveTime::new(Ts::from_parts(951_782_400, 0)).as_str(),
            "2000-02-29T00:00:00.000000+0000"
        );
        assert_eq!(
            EveTime::new(Ts::from_parts(1_735_689_599, 999_999_999)).as_str(),
            "2024-12-31T23:59:59.999999+0000"
        );
        // The same second again (the per-second cache), then the second after.
        assert_eq!(
            EveTime::new(Ts::from_parts(1_735_689_599, 1_000)).as_str(),
            "2024-12-31T23:59:59.000001+0000"
        );
        assert_eq!(
            EveTime::new(Ts::from_parts(1_735_689_600, 0)).as_str(),
            "2025-01-01T00:00:00.000000+0000"
        );
        // Before the epoch.
        assert_eq!(
            EveTime::new(Ts::from_parts(-1, 500_000_000)).as_str(),
            "1969-12-31T23:59:59.500000+0000"
        );
    }

    #[test]
    fn small_fields_as_text() {
        assert_eq!(Hex2::new(0x1b).as_str(), "1b");
        assert_eq!(Hex2::new(0x02).as_str(), "02");
        assert_eq!(rrtype_text(28), "AAAA");
        assert_eq!(rrtype_text(65_280), "65280");
        assert_eq!(rcode_text(3), "NXDOMAIN");
        assert_eq!(rcode_text(200), "200");
    }
}
