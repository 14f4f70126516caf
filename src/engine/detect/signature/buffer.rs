//! What a signature inspects (its `buffer`): the packet payload, or one field of the packet's
//! parsed application layer (HTTP request parts, the DNS query name, the TLS server name).
//!
//! Called per packet by the signature matcher on analysis workers. A buffer the packet does not
//! have (no HTTP request, no DNS query) is `None`, and the signatures on it do not run.

use std::borrow::Cow;
use std::str::FromStr;

use super::http;
use crate::engine::applayer::{AppRecord, HttpRecord};
use crate::engine::packet::Decoded;

/// The bytes a signature's regex runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Buffer {
    /// The packet's transport payload (the default), URL-decoded as well when it is an HTTP
    /// request.
    Packet,
    /// The reassembled stream: per packet, the packet payload as for `Packet`; the stream pass
    /// (`signature::stream`) runs these signatures, and `Packet`'s, across segment boundaries.
    Stream,
    /// The request target, raw and URL-decoded.
    HttpUri,
    HttpMethod,
    /// Every request header line as `Name: value`, each ended by CRLF.
    HttpHeader,
    HttpUserAgent,
    HttpHost,
    /// The request body in this segment (after the head, at most `Content-Length` bytes; the
    /// rest of the segment when no length is given), raw and URL-decoded; the stream pass gives
    /// it whole and de-chunked (`signature::http_message`).
    HttpRequestBody,
    /// The response body in this segment, bounded the same way.
    HttpResponseBody,
    /// The question names of a DNS query, one per line.
    DnsQuery,
    /// The server name of a TLS ClientHello.
    TlsSni,
}

impl Buffer {
    pub const ALL: [Buffer; 11] = [
        Buffer::Packet,
        Buffer::Stream,
        Buffer::HttpUri,
        Buffer::HttpMethod,
        Buffer::HttpHeader,
        Buffer::HttpUserAgent,
        Buffer::HttpHost,
        Buffer::HttpRequestBody,
        Buffer::HttpResponseBody,
        Buffer::DnsQuery,
        Buffer::TlsSni,
    ];

    /// The name signature files use.
    pub fn name(self) -> &'static str {
        match self {
            Buffer::Packet => "packet",
            Buffer::Stream => "stream",
            Buffer::HttpUri => "http.uri",
            Buffer::HttpMethod => "http.method",
            Buffer::HttpHeader => "http.header",
            Buffer::HttpUserAgent => "http.user_agent",
            Buffer::HttpHost => "http.host",
            Buffer::HttpRequestBody => "http.request_body",
            Buffer::HttpResponseBody => "http.response_body",
            Buffer::DnsQuery => "dns.query",
            Buffer::TlsSni => "tls.sni",
        }
    }

    /// Position in `ALL`.
    pub fn index(self) -> usize {
        Buffer::ALL.iter().position(|&b| b == self).unwrap_or(0)
    }

    /// The buffer's bytes in this packet, or `None` when the packet has no such buffer.
    pub fn view<'a>(self, d: &'a Decoded, payload: &'a [u8]) -> Option<View<'a>> {
        let request = || match d.app.as_deref() {
            Some(AppRecord::Http(HttpRecord::Request(r))) => Some(r),
            _ => None,
        };
        let text = |s: &'a str| View::plain(Cow::Borrowed(s.as_bytes()));
        match self {
            Buffer::Packet | Buffer::Stream => Some(View {
                raw: Cow::Borrowed(payload),
                decoded: http::decoded_request(payload),
            }),
            Buffer::HttpUri => request().map(|r| View::decoding(r.uri.as_bytes())),
            Buffer::HttpMethod => request().map(|r| text(&r.method)),
            Buffer::HttpHeader => request().map(|r| {
                let mut b = Vec::new();
                for (name, value) in &r.headers {
                    b.extend_from_slice(name.as_bytes());
                    b.extend_from_slice(b": ");
                    b.extend_from_slice(value.as_bytes());
                    b.extend_from_slice(b"\r\n");
                }
                View::plain(Cow::Owned(b))
            }),
            Buffer::HttpUserAgent => request().and_then(|r| r.user_agent.as_deref()).map(text),
            Buffer::HttpHost => request().and_then(|r| r.host.as_deref()).map(text),
            Buffer::HttpRequestBody => request()
                .and_then(|r| body(payload, r.body_offset, r.content_length))
                .map(View::decoding),
            Buffer::HttpResponseBody => match d.app.as_deref() {
                Some(AppRecord::Http(HttpRecord::Response(r))) => {
                    body(payload, r.body_offset, r.content_length).map(View::plain_slice)
                }
                _ => None,
            },
            Buffer::DnsQuery => {
                let dns = d.dns.as_deref().filter(|q| !q.is_response)?;
                let names: Vec<&str> = dns.questions.iter().map(|q| q.name.as_str()).collect();
                (!names.is_empty()).then(|| View::plain(Cow::Owned(names.join("\n").into())))
            }
            Buffer::TlsSni => d.app.as_deref().and_then(AppRecord::sni).map(text),
        }
    }
}

impl FromStr for Buffer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Buffer::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Buffer::ALL.iter().map(|b| b.name()).collect();
                format!(
                    "unknown buffer {s:?} (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// The body bytes of the segment: from `offset`, at most `length` of them; `None` when the head
/// did not end in the segment or the body is empty.
fn body(payload: &[u8], offset: Option<usize>, length: Option<u64>) -> Option<&[u8]> {
    let rest = payload.get(offset?..)?;
    let n = length.map_or(rest.len(), |l| {
        usize::try_from(l).map_or(rest.len(), |l| l.min(rest.len()))
    });
    Some(&rest[..n]).filter(|b| !b.is_empty())
}

/// One buffer of one packet: its bytes, and their URL-decoded form where the buffer has one
/// and decoding changes something.
#[derive(Debug)]
pub struct View<'a> {
    pub raw: Cow<'a, [u8]>,
    pub decoded: Option<Vec<u8>>,
}

impl<'a> View<'a> {
    fn plain(raw: Cow<'a, [u8]>) -> Self {
        View { raw, decoded: None }
    }
    fn plain_slice(raw: &'a [u8]) -> Self {
        View::plain(Cow::Borrowed(raw))
    }
    fn decoding(raw: &'a [u8]) -> Self {
        View {
            raw: Cow::Borrowed(raw),
            decoded: http::url_decoded(raw),
        }
    }
    /// The raw bytes, then the decoded ones.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(&*self.raw).chain(self.decoded.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for b in Buffer::ALL {
            assert_eq!(b.name().parse::<Buffer>(), Ok(b));
            assert_eq!(Buffer::ALL[b.index()], b);
        }
        assert!("http.cookie"
            .parse::<Buffer>()
            .unwrap_err()
            .starts_with("unknown buffer \"http.cookie\" (expected one of packet, stream,"));
    }

    #[test]
    fn bodies_are_bounded_by_the_length() {
        let p = b"HEADbody-and-more";
        assert_eq!(body(p, Some(4), Some(4)), Some(&b"body"[..]));
        assert_eq!(body(p, Some(4), None), Some(&b"body-and-more"[..]));
        assert_eq!(body(p, Some(4), Some(1000)), Some(&b"body-and-more"[..]));
        assert_eq!(body(p, None, Some(4)), None);
        assert_eq!(body(p, Some(17), None), None);
    }
}
