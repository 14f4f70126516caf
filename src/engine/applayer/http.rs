//! HTTP/1.x message heads: a request line or status line and its headers, parsed with
//! httparse, plus where the body starts in the segment and what `Content-Length` says.
//!
//! A head cut short by the segment's end yields what was complete (request line, the headers
//! before the cut); the body's start is then unknown. Chunked bodies are not walked here.

/// Headers kept per message; a head with more is cut at this many (httparse's fixed array).
const MAX_HEADERS: usize = 64;

/// Request methods recognised by their first bytes (RFC 9110 and WebDAV's common ones).
const METHODS: [&[u8]; 13] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
];

/// A request or response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpRecord {
    Request(HttpRequest),
    Response(HttpResponse),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent (Suricata's `url`).
    pub uri: String,
    /// `HTTP/1.0`, `HTTP/1.1`.
    pub protocol: String,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub referer: Option<String>,
    pub content_length: Option<u64>,
    /// Offset in the segment's payload where the body starts; `None` when the head did not
    /// end in this segment.
    pub body_offset: Option<usize>,
    /// Every header in order, values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub protocol: String,
    pub status: u16,
    pub reason: String,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub location: Option<String>,
    pub body_offset: Option<usize>,
    pub headers: Vec<(String, String)>,
}

/// Whether `payload` starts like an HTTP/1.x request or status line.
pub fn looks_like_http(payload: &[u8]) -> bool {
    payload.starts_with(b"HTTP/1.") || METHODS.iter().any(|m| payload.starts_with(m))
}

/// The head `payload` starts with, or `None` when httparse finds it malformed or it has no
/// complete first line.
pub fn parse(payload: &[u8]) -> Option<HttpRecord> {
    if payload.starts_with(b"HTTP/") {
        response(payload).map(HttpRecord::Response)
    } else {
        request(payload).map(HttpRecord::Request)
    }
}

fn protocol(minor: Option<u8>) -> String {
    format!("HTTP/1.{}", minor.unwrap_or(0))
}

fn request(payload: &[u8]) -> Option<HttpRequest> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    let body_offset = match req.parse(payload) {
        Ok(httparse::Status::Complete(n)) => Some(n),
        Ok(httparse::Status::Partial) => None,
        // Too many headers: the first MAX_HEADERS are lost with httparse; keep nothing.
        Err(_) => return None,
    };
    let (method, uri) = (req.method?, req.path?);
    // httparse reports a partial parse before the version: the line must be whole.
    let version = req.version?;
    let headers = collect(req.headers);
    Some(HttpRequest {
        method: method.to_string(),
        uri: uri.to_string(),
        protocol: protocol(Some(version)),
        host: find(&headers, "host"),
        user_agent: find(&headers, "user-agent"),
        content_type: find(&headers, "content-type"),
        referer: find(&headers, "referer"),
        content_length: find(&headers, "content-length").and_then(|v| v.trim().parse().ok()),
        body_offset,
        headers,
    })
}

fn response(payload: &[u8]) -> Option<HttpResponse> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut hs);
    let body_offset = match res.parse(payload) {
        Ok(httparse::Status::Complete(n)) => Some(n),
        Ok(httparse::Status::Partial) => None,
        Err(_) => return None,
    };
    let (version, status) = (res.version?, res.code?);
    let headers = collect(res.headers);
    Some(HttpResponse {
        protocol: protocol(Some(version)),
        status,
        reason: res.reason.unwrap_or("").to_string(),
        content_type: find(&headers, "content-type"),
        content_length: find(&headers, "content-length").and_then(|v| v.trim().parse().ok()),
        location: find(&headers, "location"),
        body_offset,
        headers,
    })
}

/// The parsed headers (httparse leaves unfilled slots empty after a partial parse).
fn collect(hs: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    hs.iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// The first header named `name` (case-insensitively).
fn find(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &[u8]) -> HttpRequest {
        match parse(p) {
            Some(HttpRecord::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn request_line_headers_and_body_start() {
        let p = b"POST /login.php?x=1 HTTP/1.1\r\nHost: dvwa.example\r\nUser-Agent: curl/8.5\r\n\
Referer: http://dvwa.example/\r\nContent-Type: application/x-www-form-urlencoded\r\n\
Content-Length: 9\r\n\r\nuser=root";
        let r = req(p);
        assert_eq!(r.method, "POST");
        assert_eq!(r.uri, "/login.php?x=1");
        assert_eq!(r.protocol, "HTTP/1.1");
        assert_eq!(r.host.as_deref(), Some("dvwa.example"));
        assert_eq!(r.user_agent.as_deref(), Some("curl/8.5"));
        assert_eq!(r.referer.as_deref(), Some("http://dvwa.example/"));
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.content_length, Some(9));
        assert_eq!(&p[r.body_offset.unwrap()..], b"user=root");
        assert_eq!(r.headers.len(), 5);
    }

    #[test]
    fn a_head_cut_by_the_segment_keeps_what_was_complete() {
        let r = req(b"GET /a HTTP/1.0\r\nHost: h\r\nAcce");
        assert_eq!(
            (&*r.method, &*r.uri, &*r.protocol),
            ("GET", "/a", "HTTP/1.0")
        );
        assert_eq!(r.host.as_deref(), Some("h"));
        assert_eq!(r.body_offset, None);
        assert_eq!(parse(b"GET /a-very-long-path"), None);
    }

    #[test]
    fn response_status_and_length() {
        let p =
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\nabc";
        let Some(HttpRecord::Response(r)) = parse(p) else {
            panic!("not a response");
        };
        assert_eq!(
            (r.status, &*r.reason, &*r.protocol),
            (404, "Not Found", "HTTP/1.1")
        );
        assert_eq!(r.content_type.as_deref(), Some("text/html"));
        assert_eq!(r.content_length, Some(3));
        assert_eq!(&p[r.body_offset.unwrap()..], b"abc");
    }

    #[test]
    fn malformed_heads_are_no_record() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n"), None);
        assert_eq!(parse(b"HTTP/1.1 abc OK\r\n\r\n"), None);
        assert!(!looks_like_http(b"GETX / HTTP/1.1"));
    }
}
