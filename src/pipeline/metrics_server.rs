//! The `--metrics-listen` HTTP server: answers `GET /metrics` with the run's metrics in the
//! OpenMetrics text format Prometheus scrapes. One thread of its own, one connection at a
//! time (a scraper every few seconds), each bounded by short time-outs so a client that
//! stalls cannot hold it; it lives as long as the process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result};
use prometheus_client::registry::Registry;

use super::exporter::{self, MetricsSlot};

/// How long one connection may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// A request head longer than this is refused (a scrape's is about 200 bytes).
const MAX_REQUEST: usize = 8 * 1024;
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A listening metrics server: the address it listens on and the slot a run attaches to.
#[derive(Debug)]
pub struct MetricsServer {
    pub addr: SocketAddr,
    pub slot: MetricsSlot,
}

/// Listens on `addr` and serves scrapes on a thread of its own.
pub fn start(addr: SocketAddr) -> Result<MetricsServer> {
    let listener = TcpListener::bind(addr)
        .with_context(|| format!("--metrics-listen {addr}: cannot listen on that address"))?;
    let addr = listener
        .local_addr()
        .context("--metrics-listen: reading the bound address")?;
    let slot = MetricsSlot::default();
    let registry = exporter::registry(slot.clone());
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(s) => {
                        if let Err(e) = serve(s, &registry) {
                            tracing::debug!("metrics: a scrape failed: {e}");
                        }
                    }
                    Err(e) => tracing::warn!("metrics: accepting a connection failed: {e}"),
                }
            }
        })
        .context("starting the metrics thread")?;
    tracing::info!("metrics at http://{addr}/metrics");
    Ok(MetricsServer { addr, slot })
}

/// The request line of one request head: method and path.
fn request_line(s: &mut TcpStream) -> std::io::Result<(String, String)> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    Ok((method, path))
}

fn serve(mut s: TcpStream, registry: &Registry) -> std::io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let (method, path) = request_line(&mut s)?;
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method.as_str(), path) {
        ("GET" | "HEAD", "/metrics") => match exporter::encode(registry) {
            Ok(text) => ("200 OK", CONTENT_TYPE, text),
            Err(_) => (
                "500 Internal Server Error",
                "text/plain",
                "encoding failed\n".into(),
            ),
        },
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "try /metrics\n".into()),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".into()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    if method != "HEAD" {
        s.write_all(body.as_bytes())?;
    }
    s.flush()
}
