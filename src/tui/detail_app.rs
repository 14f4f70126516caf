//! The detail pane's lines for a packet's application-layer record: the HTTP request or
//! response head, the TLS hello with its JA3, the SSH banner. Text from the wire is made
//! printable first.
//!
//! Drawn on the UI thread.

use crate::engine::applayer::tls::{version_name, Hello};
use crate::engine::applayer::{AppRecord, HttpRecord};
use crate::engine::text::printable;

/// Header lines shown at most; the rest are counted.
const MAX_HEADERS: usize = 12;

/// The record's lines, indented under a heading.
pub fn lines(rec: &AppRecord) -> Vec<String> {
    let mut out = Vec::new();
    match rec {
        AppRecord::Http(HttpRecord::Request(r)) => {
            out.push(format!(
                "HTTP request {} {} {}",
                printable(&r.method),
                printable(&r.uri),
                r.protocol
            ));
            headers(&mut out, &r.headers);
            if let Some(n) = r.content_length {
                out.push(format!("    body: {n} bytes (Content-Length)"));
            }
        }
        AppRecord::Http(HttpRecord::Response(r)) => {
            out.push(format!(
                "HTTP response {} {} {}",
                r.protocol,
                r.status,
                printable(&r.reason)
            ));
            headers(&mut out, &r.headers);
        }
        AppRecord::Tls(t) => {
            let hello = match t.hello {
                Hello::Client => "ClientHello",
                Hello::Server => "ServerHello",
            };
            out.push(format!(
                "TLS {hello} {}{}",
                version_name(t.version),
                t.sni
                    .as_deref()
                    .map_or(String::new(), |s| format!("  SNI {}", printable(s)))
            ));
            out.push(format!(
                "    {} cipher suite(s), extensions {:?}",
                t.ciphers.len(),
                t.extensions
            ));
            if !t.alpn.is_empty() {
                out.push(format!("    ALPN {}", printable(&t.alpn.join(", "))));
            }
            let name = if t.hello == Hello::Client {
                "JA3"
            } else {
                "JA3S"
            };
            match &t.ja3 {
                Some(j) => out.push(format!("    {name} {}  {}", j.hash, j.string)),
                None => out.push(format!("    {name}: hello cut by the segment's end")),
            }
            if let Some(j) = &t.ja4 {
                out.push(format!("    JA4 {j}"));
            }
        }
        AppRecord::Ssh(b) => out.push(format!(
            "SSH banner: protocol {}  software {}",
            printable(&b.proto_version),
            printable(&b.software_version)
        )),
    }
    out
}

fn headers(out: &mut Vec<String>, hs: &[(String, String)]) {
    for (n, v) in hs.iter().take(MAX_HEADERS) {
        out.push(format!("    {}: {}", printable(n), printable(v)));
    }
    if hs.len() > MAX_HEADERS {
        out.push(format!("    … {} more header(s)", hs.len() - MAX_HEADERS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::applayer::parse_tcp;

    #[test]
    fn request_head_and_banner_are_shown() {
        let r = parse_tcp(b"GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t\r\n\r\n").unwrap();
        let l = lines(&r);
        assert_eq!(
            l,
            [
                "HTTP request GET /x HTTP/1.1",
                "    Host: a.example",
                "    User-Agent: t"
            ]
        );
        let s = parse_tcp(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n").unwrap();
        assert_eq!(
            lines(&s),
            ["SSH banner: protocol 2.0  software OpenSSH_8.9p1 Ubuntu-3"]
        );
    }
}
