//! DHCP floods and starvation: client requests (DISCOVER, REQUEST, …) far beyond what booting
//! machines send — many from one client hardware address, or many in all (starvation tools
//! make up a new address for every request).
//!
//! A `StatefulDetector` on the aggregator thread. Requests are read from UDP datagrams to port
//! 67 with the BOOTP request opcode and the DHCP magic cookie; one alert per client address and
//! one network-wide per window (`[detector.flood] window_secs`, `dhcp_requests`,
//! `dhcp_requests_per_client`).

use serde_json::json;

use super::super::builtin;
use super::super::config::{FloodConfig, LimitsConfig};
use super::super::table::{capped_insert, new_set, Set, Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::frame::Ts;
use crate::engine::packet::Transport;
use crate::engine::record::Analyzed;

const DHCP_SERVER_PORT: u16 = 67;
const BOOTREQUEST: u8 = 1;
const MAGIC_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
const OPTION_MESSAGE_TYPE: u8 = 53;
/// Distinct client addresses remembered per network-wide window.
const CLIENT_CAP: usize = 4096;

/// A client request: the client hardware address and the DHCP message type, if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub chaddr: [u8; 16],
    pub hlen: u8,
    pub message_type: Option<u8>,
}

impl Request {
    /// The hardware address as `aa:bb:cc:…`.
    pub fn client(&self) -> String {
        let n = usize::from(self.hlen.min(16));
        let hex: Vec<String> = self.chaddr[..n]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        hex.join(":")
    }
}

/// A BOOTP/DHCP client request in a UDP payload, or `None`.
pub fn parse_request(payload: &[u8]) -> Option<Request> {
    if payload.len() < 240 || payload[0] != BOOTREQUEST || payload[236..240] != MAGIC_COOKIE {
        return None;
    }
    let mut chaddr = [0u8; 16];
    chaddr.copy_from_slice(&payload[28..44]);
    let mut message_type = None;
    let mut opts = &payload[240..];
    while let [code, rest @ ..] = opts {
        match code {
            0 => opts = rest,
            255 => break,
            _ => {
                let [len, body @ ..] = rest else { break };
                let len = usize::from(*len);
                let Some(value) = body.get(..len) else { break };
                if *code == OPTION_MESSAGE_TYPE && len == 1 {
                    message_type = Some(value[0]);
                }
                opts = &body[len..];
            }
        }
    }
    Some(Request {
        chaddr,
        hlen: payload[2],
        message_type,
    })
}

fn message_name(t: Option<u8>) -> &'static str {
    match t {
        Some(1) => "DISCOVER",
        Some(3) => "REQUEST",
        Some(4) => "DECLINE",
        Some(7) => "RELEASE",
        Some(8) => "INFORM",
        Some(_) => "other",
        None => "BOOTP",
    }
}

struct Count {
    window: Window,
    requests: u32,
}

pub struct DhcpFloodDetector {
    window_secs: u64,
    total_threshold: u32,
    client_threshold: u32,
    clients: Table<[u8; 16], Count>,
    all: Count,
    /// Distinct client addresses in the network-wide window, up to `CLIENT_CAP`.
    distinct: Set<[u8; 16]>,
}

impl DhcpFloodDetector {
    pub fn new(cfg: &FloodConfig, limits: &LimitsConfig) -> Self {
        DhcpFloodDetector {
            window_secs: cfg.window_secs,
            total_threshold: cfg.dhcp_requests,
            client_threshold: cfg.dhcp_requests_per_client,
            clients: Table::new(limits.max_entries, cfg.window_secs),
            all: Count {
                window: Window::new(Ts(0)),
                requests: 0,
            },
            distinct: new_set(),
        }
    }
}

impl StatefulDetector for DhcpFloodDetector {
    fn name(&self) -> &'static str {
        "dhcp_flood"
    }

    fn observe(&mut self, a: &Analyzed, _flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let Transport::Udp(u) = &a.decoded.transport else {
            return;
        };
        if u.dst_port != DHCP_SERVER_PORT {
            return;
        }
        let Some(req) = parse_request(a.decoded.payload(&a.frame.data)) else {
            return;
        };
        let now = a.frame.ts;
        let secs = self.window_secs;
        let c = self.clients.entry(req.chaddr, now, || Count {
            window: Window::new(now),
            requests: 0,
        });
        if c.window.roll(now, secs) {
            c.requests = 0;
        }
        c.requests = c.requests.saturating_add(1);
        if !c.window.alerted && c.requests >= self.client_threshold {
            c.window.alerted = true;
            let (n, elapsed) = (c.requests, c.window.elapsed(now));
            let explanation = format!(
                "{n} DHCP requests from client {} in {elapsed:.1} s, the last a {} \
                 (threshold {} from one client in {secs} s)",
                req.client(),
                message_name(req.message_type),
                self.client_threshold
            );
            let evidence = json!({
                "client_mac": req.client(), "requests": n,
                "message_type": message_name(req.message_type), "elapsed_secs": elapsed,
                "window_secs": secs, "threshold": self.client_threshold,
            });
            let what = "DHCP flood from one client";
            out.push(builtin::DHCP_FLOOD.alert_described(a, what, explanation, evidence));
        }
        if self.all.window.roll(now, secs) {
            self.all.requests = 0;
            self.distinct.clear();
        }
        self.all.requests = self.all.requests.saturating_add(1);
        capped_insert(&mut self.distinct, req.chaddr, CLIENT_CAP);
        if !self.all.window.alerted && self.all.requests >= self.total_threshold {
            self.all.window.alerted = true;
            let (n, elapsed) = (self.all.requests, self.all.window.elapsed(now));
            let clients = self.distinct.len();
            let explanation = format!(
                "{n} DHCP requests from {clients} client addresses in {elapsed:.1} s \
                 (threshold {} in {secs} s): address-pool starvation or a request flood",
                self.total_threshold
            );
            let evidence = json!({
                "requests": n, "distinct_clients": clients, "elapsed_secs": elapsed,
                "window_secs": secs, "threshold": self.total_threshold,
            });
            let what = "DHCP flood or starvation";
            out.push(builtin::DHCP_FLOOD.alert_described(a, what, explanation, evidence));
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("dhcp.tracked", self.clients.len() as u64),
            ("dhcp.expired", self.clients.expired()),
            ("dhcp.dropped", self.clients.dropped()),
        ]
    }
}
