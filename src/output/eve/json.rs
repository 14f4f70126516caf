//! A minimal JSON object writer for EVE events: keys are written as they are (they are fixed
//! ASCII names), strings are escaped only when they hold something to escape, numbers go
//! through `itoa`, and rare nested values fall back to serde.
//!
//! Used by the EVE writer on the output thread; the flow and dns events, most of the output,
//! are written through it without serde.

use std::io;
use std::net::IpAddr;

use serde::Serialize;

/// One JSON object being written into a buffer; `close` writes the closing brace.
pub(super) struct Obj<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Start an object at the end of `buf`.
    pub(super) fn open(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    /// Write `"key":` (with the comma before it when needed). `key` must need no escaping:
    /// every caller passes a fixed field name.
    fn key(&mut self, key: &str) {
        debug_assert!(!needs_escape(key.as_bytes()), "{key:?}");
        if !std::mem::take(&mut self.first) {
            self.buf.push(b',');
        }
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// Write `"key":` for a key that comes from data (escaped like any string).
    fn any_key(&mut self, key: &str) {
        if !std::mem::take(&mut self.first) {
            self.buf.push(b',');
        }
        string(self.buf, key);
        self.buf.push(b':');
    }

    /// A value known to hold nothing to escape (fixed names, timestamps, hex digits).
    pub(super) fn plain(&mut self, key: &str, v: &[u8]) {
        debug_assert!(!needs_escape(v), "{v:?}");
        self.key(key);
        self.buf.push(b'"');
        self.buf.extend_from_slice(v);
        self.buf.push(b'"');
    }

    /// A payload as Suricata's `payload_printable`: every byte outside printable ASCII (and
    /// CR, LF) shown as `.`, escaped as serde_json escapes it.
    pub(super) fn printable(&mut self, key: &str, v: &[u8]) {
        self.key(key);
        let buf = &mut *self.buf;
        buf.reserve(v.len() + 2);
        buf.push(b'"');
        let mut start = 0;
        for (i, &b) in v.iter().enumerate() {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                continue;
            }
            buf.extend_from_slice(&v[start..i]);
            start = i + 1;
            match b {
                b'"' | b'\\' | b'\n' | b'\r' => escape(buf, b),
                _ => buf.push(b'.'),
            }
        }
        buf.extend_from_slice(&v[start..]);
        buf.push(b'"');
    }

    /// An array under a key that comes from data.
    pub(super) fn arr_any(&mut self, key: &str) -> Arr<'_> {
        self.any_key(key);
        Arr::open(self.buf)
    }

    pub(super) fn str(&mut self, key: &str, v: &str) {
        self.key(key);
        string(self.buf, v);
    }

    pub(super) fn u64(&mut self, key: &str, v: impl Into<u64>) {
        self.key(key);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(v.into()).as_bytes());
    }

    pub(super) fn bool(&mut self, key: &str, v: bool) {
        self.key(key);
        self.buf
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// An address in its usual text form (`10.0.0.1`, `2001:db8::1`).
    pub(super) fn ip(&mut self, key: &str, ip: IpAddr) {
        self.key(key);
        self.buf.push(b'"');
        match ip {
            IpAddr::V4(v4) => {
                // Up to 15 bytes, put together on the stack and copied once.
                let mut text = [0u8; 15];
                let mut n = 0;
                for (i, o) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text[n] = b'.';
                        n += 1;
                    }
                    if o >= 100 {
                        text[n] = b'0' + o / 100;
                        n += 1;
                    }
                    if o >= 10 {
                        text[n] = b'0' + o / 10 % 10;
                        n += 1;
                    }
                    text[n] = b'0' + o % 10;
                    n += 1;
                }
                self.buf.extend_from_slice(&text[..n]);
            }
            IpAddr::V6(v6) => {
                use std::io::Write as _;
                // Writing into a Vec cannot fail.
                let _ = write!(self.buf, "{v6}");
            }
        }
        self.buf.push(b'"');
    }

    /// A nested object under `key`; write into it, then `close` it.
    pub(super) fn obj(&mut self, key: &str) -> Obj<'_> {
        self.key(key);
        Obj::open(self.buf)
    }

    /// An array under `key`; write into it, then `close` it.
    pub(super) fn arr(&mut self, key: &str) -> Arr<'_> {
        self.key(key);
        Arr::open(self.buf)
    }

    /// Any serde value (the rare events and nested maps: alerts, stats, GeoIP records).
    pub(super) fn value<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> io::Result<()> {
        self.key(key);
        serde_json::to_writer(&mut *self.buf, v).map_err(io::Error::other)
    }

    pub(super) fn close(self) {
        self.buf.push(b'}');
    }
}

/// One JSON array being written into a buffer.
pub(super) struct Arr<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Arr<'a> {
    fn open(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'[');
        Arr { buf, first: true }
    }

    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.buf.push(b',');
        }
    }

    pub(super) fn str(&mut self, v: &str) {
        self.comma();
        string(self.buf, v);
    }

    /// A value as one string: a string as it is, anything else (numbers, booleans, arrays,
    /// objects) as its compact JSON text.
    pub(super) fn text_of(&mut self, v: &serde_json::Value) {
        use serde_json::Value;
        self.comma();
        match v {
            Value::String(t) => string(self.buf, t),
            // Their JSON text holds nothing to escape.
            Value::Number(_) | Value::Bool(_) | Value::Null => {
                self.buf.push(b'"');
                // Writing into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *self.buf, v);
                self.buf.push(b'"');
            }
            Value::Array(_) | Value::Object(_) => string(self.buf, &v.to_string()),
        }
    }

    pub(super) fn obj(&mut self) -> Obj<'_> {
        self.comma();
        Obj::open(self.buf)
    }

    pub(super) fn close(self) {
        self.buf.push(b']');
    }
}

/// Whether a JSON string body needs escaping: quotes, backslashes and control characters.
fn needs_escape(s: &[u8]) -> bool {
    first_escape(s, 0).is_some()
}

/// Whether `b` must be escaped in a JSON string.
fn is_escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The eight bytes of `s` from `i` as a little-endian word.
fn word_at(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

/// The high bit of every byte of `w` that is below 0x20, a quote or a backslash, with the
/// usual "has a byte less than" and "has a zero byte" bit tricks. Bits above the lowest set
/// one may be spurious (borrows), the lowest is always right: it marks the first such byte.
fn escape_mask(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
    below_space | has_zero(w ^ (LO * u64::from(b'"'))) | has_zero(w ^ (LO * u64::from(b'\\')))
}

/// The index of the first byte at or after `from` that needs escaping, looking at eight
/// bytes at a time.
fn first_escape(s: &[u8], mut from: usize) -> Option<usize> {
    while from + 8 <= s.len() {
        let mask = escape_mask(word_at(s, from));
        if mask != 0 {
            return Some(from + (mask.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    s[from..]
        .iter()
        .position(|&b| is_escaped(b))
        .map(|p| from + p)
}

/// The escape sequence serde_json writes for a byte that needs one.
fn escape(buf: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => buf.extend_from_slice(b"\\\""),
        b'\\' => buf.extend_from_slice(b"\\\\"),
        b'\n' => buf.extend_from_slice(b"\\n"),
        b'\r' => buf.extend_from_slice(b"\\r"),
        b'\t' => buf.extend_from_slice(b"\\t"),
        0x08 => buf.extend_from_slice(b"\\b"),
        0x0c => buf.extend_from_slice(b"\\f"),
        c => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]);
        }
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it: the runs between bytes to escape
/// are copied whole.
pub(super) fn string(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    buf.reserve(bytes.len() + 2);
    buf.push(b'"');
    let mut start = 0;
    while let Some(i) = first_escape(bytes, start) {
        buf.extend_from_slice(&bytes[start..i]);
        escape(buf, bytes[i]);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_serde_json_does() {
        for s in [
            "plain",
            "",
            "quote \" and \\ backslash",
            "ctl \n\r\t\u{8}\u{c}\u{1}\u{1f} end",
            "utf-8 é ✓ \u{7f}",
        ] {
            let mut buf = Vec::new();
            string(&mut buf, s);
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn escape_check_agrees_with_the_bytewise_one() {
        let bytewise = |s: &[u8]| s.iter().position(|&b| is_escaped(b));
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for len in 0..20 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    cases.push(v.clone());
                    // Next to bytes that borrow or carry in the word arithmetic.
                    if pos + 1 < len {
                        v[pos + 1] = 0x80;
                        cases.push(v.clone());
                        v[pos + 1] = 0x21;
                        cases.push(v);
                    }
                }
            }
        }
        for c in &cases {
            assert_eq!(first_escape(c, 0), bytewise(c), "{c:?}");
            let text = String::from_utf8_lossy(c);
            let mut buf = Vec::new();
            string(&mut buf, &text);
            assert_eq!(buf, serde_json::to_vec(&*text).unwrap_or_default());
        }
    }

    #[test]
    fn ipv4_addresses_as_display_writes_them() {
        for o in [0u8, 1, 9, 10, 99, 100, 199, 200, 255] {
            for ip in [
                std::net::Ipv4Addr::new(o, 0, 255, o),
                std::net::Ipv4Addr::new(10, o, o, 7),
            ] {
                let mut buf = Vec::new();
                let mut m = Obj::open(&mut buf);
                m.ip("a", IpAddr::V4(ip));
                m.close();
                assert_eq!(String::from_utf8_lossy(&buf), format!(r#"{{"a":"{ip}"}}"#));
            }
        }
    }

    #[test]
    fn objects_arrays_numbers_and_addresses() {
        let mut buf = Vec::new();
        let mut o = Obj::open(&mut buf);
        o.str("a", "x");
        o.u64("n", 18_446_744_073_709_551_615u64);
        o.bool("t", true);
        o.ip("v4", "192.0.2.255".parse().unwrap());
        o.ip("v6", "2001:db8::1".parse().unwrap());
        let mut inner = o.obj("in");
        inner.u64("z", 0u8);
        inner.close();
        let mut a = o.arr("list");
        a.str("p");
        a.obj().close();
        a.close();
        o.printable("p", b"GET /\"x\\\r\n\t\x00\xff~");
        o.value("v", &[1.5f64]).unwrap();
        o.close();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            r#"{"a":"x","n":18446744073709551615,"t":true,"v4":"192.0.2.255","v6":"2001:db8::1","in":{"z":0},"list":["p",{}],"p":"GET /\"x\\\r\n...~","v":[1.5]}"#
        );
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }
}
