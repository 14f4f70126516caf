//! Application-layer records of single TCP segments: an HTTP/1.x request or response head, a
//! TLS ClientHello or ServerHello, an SSH identification banner.
//!
//! Called by the decoder on an analysis worker for every TCP segment with a payload; pure and
//! non-blocking. Which parser runs is decided by the payload's first bytes alone (a method
//! token or `HTTP/`, a TLS handshake record header, `SSH-`), so a segment of any other
//! protocol costs a few byte comparisons and no allocation. A record is parsed from the one
//! segment it starts in: a head or hello split over several segments yields what its first
//! segment holds. HTTP messages over a reassembled stream (bodies over several segments,
//! chunked, keep-alive) are `http_stream`'s, fed by the stream detector on the aggregator.

pub mod http;
pub mod http_stream;
pub mod ja4;
pub mod ssh;
pub mod tls;

pub use http::{HttpRecord, HttpRequest, HttpResponse};
pub use ssh::SshBanner;
pub use tls::{Hello, TlsRecord};

/// What one segment said at the application layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppRecord {
    Http(HttpRecord),
    Tls(TlsRecord),
    Ssh(SshBanner),
}

/// The application protocols this module parses, as flows and the filter name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppKind {
    Http,
    Tls,
    Ssh,
}

impl AppRecord {
    pub fn kind(&self) -> AppKind {
        match self {
            AppRecord::Http(_) => AppKind::Http,
            AppRecord::Tls(_) => AppKind::Tls,
            AppRecord::Ssh(_) => AppKind::Ssh,
        }
    }

    /// The HTTP request's `Host`, when this is a request that names one.
    pub fn http_host(&self) -> Option<&str> {
        match self {
            AppRecord::Http(HttpRecord::Request(r)) => r.host.as_deref(),
            _ => None,
        }
    }

    /// The TLS ClientHello's server name, when this is one that carries it.
    pub fn sni(&self) -> Option<&str> {
        match self {
            AppRecord::Tls(t) => t.sni.as_deref(),
            _ => None,
        }
    }
}

/// The record a TCP segment's payload starts, if it starts one this module knows. Ports are
/// not consulted: the first bytes decide, so HTTP on 8080 or SSH on 2222 is found as well.
pub fn parse_tcp(payload: &[u8]) -> Option<Box<AppRecord>> {
    let first = *payload.first()?;
    let rec = match first {
        tls::CONTENT_HANDSHAKE => AppRecord::Tls(tls::parse(payload)?),
        b'S' if payload.starts_with(b"SSH-") => AppRecord::Ssh(ssh::parse(payload)?),
        b'A'..=b'Z' if http::looks_like_http(payload) => AppRecord::Http(http::parse(payload)?),
        _ => return None,
    };
    Some(Box::new(rec))
}

/// Lower-case hex of `bytes` (the JA3 digests as JA3 writes them).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_payloads_are_not_parsed() {
        for p in [
            &b""[..],
            b"\x00\x01\x02",
            b"USER anonymous\r\n",
            b"220 ftp ready\r\n",
            b"\x17\x03\x03\x00\x10abcdefghijklmnop",
            b"SSH",
            b"GETTING",
        ] {
            assert_eq!(parse_tcp(p), None, "{p:?}");
        }
    }

    #[test]
    fn first_bytes_choose_the_parser() {
        let r = parse_tcp(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n").map(|r| r.kind());
        assert_eq!(r, Some(AppKind::Http));
        let r = parse_tcp(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n").map(|r| r.kind());
        assert_eq!(r, Some(AppKind::Ssh));
    }
}
