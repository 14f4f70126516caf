//! The URL-decoded view of an HTTP request payload (and of a request's target or body), so
//! `%27+OR+1%3D1` matches like `' OR 1=1`.
//!
//! Called per packet by the signature matcher on analysis workers; allocates only for payloads
//! that start with an HTTP method and contain something to decode.

/// The request methods the shipped request-line signatures name (HTTP and WebDAV).
const METHODS: [&[u8]; 17] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"CONNECT ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"SEARCH ",
];

/// Whether the payload opens an HTTP request.
pub fn is_request(payload: &[u8]) -> bool {
    METHODS.iter().any(|m| payload.starts_with(m))
}

/// `%XX` and `+` decoded once over the whole request, or `None` when it is not a request or
/// nothing changes. Malformed escapes stay as they are.
pub fn decoded_request(payload: &[u8]) -> Option<Vec<u8>> {
    if !is_request(payload) {
        return None;
    }
    url_decoded(payload)
}

/// `%XX` and `+` decoded once, or `None` when nothing changes. Malformed escapes stay as they
/// are. Decoding is local to each escape, so a part of a request decodes to the same bytes as
/// that part of the decoded request.
pub fn url_decoded(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(v);
                    i += 3;
                    continue;
                }
                out.push(b);
            }
            _ => out.push(b),
        }
        i += 1;
    }
    (out != bytes).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus_in_requests_only() {
        let d = decoded_request(b"GET /?id=%25%27+or+0%3D0 HTTP/1.1\r\n").unwrap();
        assert_eq!(d, b"GET /?id=%' or 0=0 HTTP/1.1\r\n".to_vec());
        assert_eq!(decoded_request(b"HTTP/1.1 200 OK\r\n%41"), None);
        assert_eq!(
            decoded_request(b"PROPFIND /a%2e%2e/ HTTP/1.1").as_deref(),
            Some(&b"PROPFIND /a../ HTTP/1.1"[..])
        );
        assert_eq!(decoded_request(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(decoded_request(b"GET /%zz%4 HTTP/1.1").as_deref(), None);
        assert_eq!(decoded_request(b"GET /%4").as_deref(), None);
    }
}
