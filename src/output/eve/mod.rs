//! EVE JSON output: one Suricata-shaped JSON object per line (`alert`, `dns`, `http`,
//! `tls`, `ssh`, `flow`, `stats`), so Filebeat's Suricata module, Logstash and Splunk pipelines read it unchanged.
//!
//! Called on the output thread. Each event is written straight from borrowed values into a
//! reused buffer (`json::Obj`; no `serde_json::Value` trees), then handed to the inner writer in
//! one `write_all`; the inner writer (a `BufWriter` in practice) is the only thing that may
//! block. Write errors come back as `io::Error`.
//!
//! Field names and nesting follow Suricata 7: the common header (`timestamp`, `flow_id`,
//! `in_iface`, `pcap_cnt`, `event_type`, `vlan`, the tuple, `proto`, ICMP type/code,
//! `community_id`), then the event's own object. DNS uses Suricata's version 2 format (see
//! `dns.rs`). Where nsm-tui has counters Suricata lacks, they are added under new keys, never
//! by changing the meaning of Suricata's.

mod alert;
mod dns;
mod fields;
mod flow;
mod http;
mod http_tx;
mod json;
mod ssh;
mod stats;
mod tls;

use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Arc;

use fields::EveTime;
use json::Obj;

use crate::engine::alert::Alert;
use crate::engine::applayer::{AppRecord, HttpRecord, HttpResponse};
use crate::engine::flow::{FlowMeta, FlowRecord};
use crate::engine::frame::Ts;
use crate::engine::packet::{Decoded, Proto, Transport};
use crate::engine::record::Analyzed;
use crate::engine::stats::Stats;
use crate::enrich::geoip::{Geo, GeoIp};
use crate::metrics::{self as response_metrics, SharedMetrics};

/// What goes into every event besides the event itself.
#[derive(Debug, Clone)]
pub struct EveOptions {
    /// Interface names indexed by `RawFrame::iface` (EVE `in_iface`); flow events use the
    /// first. Empty: no `in_iface`.
    pub iface_names: Vec<Arc<str>>,
    /// Suricata's `host` (sensor name); `None` leaves it out.
    pub host: Option<String>,
    /// Add `payload_printable` to alerts.
    pub payload_printable: bool,
    /// Write nsm-tui's keys outside Suricata's schema: GeoIP objects (when a database is set)
    /// and the `stats` counters Suricata lacks.
    pub extensions: bool,
}

impl Default for EveOptions {
    fn default() -> Self {
        EveOptions {
            iface_names: Vec::new(),
            host: None,
            payload_printable: true,
            extensions: false,
        }
    }
}

/// Writes EVE events to `W`, one JSON object per line.
pub struct EveWriter<W: Write> {
    out: W,
    opts: EveOptions,
    buf: Vec<u8>,
    events: u64,
    /// Adds `src_geoip` / `dest_geoip` to events with addresses (with `extensions`).
    geo: Option<Arc<GeoIp>>,
    /// Adds `stats.response` to stats events (with `extensions`).
    response: Option<SharedMetrics>,
    /// HTTP requests waiting for their responses.
    http_pending: http_tx::Pending,
}

/// The 5-tuple part of the header, oriented as the event wants it.
#[derive(Debug, Clone, Copy)]
struct Tuple {
    src: IpAddr,
    dst: IpAddr,
    /// Present for TCP, UDP and SCTP.
    ports: Option<(u16, u16)>,
    proto: Proto,
    icmp: Option<(u8, u8)>,
    response_icmp: Option<(u8, u8)>,
}

/// The fields every event starts with.
struct Header<'a> {
    ts: Ts,
    flow_id: Option<u64>,
    in_iface: Option<&'a str>,
    pcap_cnt: Option<u64>,
    event_type: &'static str,
    vlan: &'a [u16],
    tuple: Option<Tuple>,
    community_id: Option<&'a str>,
    host: Option<&'a str>,
    geo: Option<&'a GeoIp>,
}

/// An event's own fields, written after the header into the same JSON object.
trait Body {
    fn entries(&self, m: &mut Obj) -> io::Result<()>;
}

impl Header<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        m.plain("timestamp", EveTime::new(self.ts).as_bytes());
        if let Some(id) = self.flow_id {
            m.u64("flow_id", id);
        }
        if let Some(i) = self.in_iface {
            m.str("in_iface", i);
        }
        if let Some(c) = self.pcap_cnt {
            m.u64("pcap_cnt", c);
        }
        m.plain("event_type", self.event_type.as_bytes());
        if !self.vlan.is_empty() {
            m.value("vlan", self.vlan)?;
        }
        if let Some(t) = &self.tuple {
            t.entries(m);
            if let Some(g) = self.geo {
                geo_entries(m, g, t)?;
            }
        }
        if let Some(c) = self.community_id.filter(|c| !c.is_empty()) {
            m.str("community_id", c);
        }
        if let Some(h) = self.host {
            m.str("host", h);
        }
        Ok(())
    }
}

impl Tuple {
    fn entries(&self, m: &mut Obj) {
        m.ip("src_ip", self.src);
        if let Some((sp, _)) = self.ports {
            m.u64("src_port", sp);
        }
        m.ip("dest_ip", self.dst);
        if let Some((_, dp)) = self.ports {
            m.u64("dest_port", dp);
        }
        match self.proto.eve_keyword() {
            Some(k) => m.plain("proto", k.as_bytes()),
            None => m.str("proto", &self.proto.eve_name()),
        }
        if let Some((t, c)) = self.icmp {
            m.u64("icmp_type", t);
            m.u64("icmp_code", c);
        }
        if let Some((t, c)) = self.response_icmp {
            m.u64("response_icmp_type", t);
            m.u64("response_icmp_code", c);
        }
    }

    /// The tuple of a packet as it travels (alerts and DNS events are per packet).
    fn of_packet(d: &Decoded) -> Option<Tuple> {
        let ip = d.ip.as_ref()?;
        let icmp = match &d.transport {
            Transport::Icmp(i) | Transport::Icmpv6(i) => Some((i.icmp_type, i.code)),
            _ => None,
        };
        Some(Tuple {
            src: ip.src,
            dst: ip.dst,
            ports: d.ports(),
            proto: d.proto(),
            icmp,
            response_icmp: None,
        })
    }
}

impl<W: Write> EveWriter<W> {
    /// A writer with default options (no `in_iface`, no `host`, `payload_printable` on).
    pub fn new(out: W) -> Self {
        Self::with_options(out, EveOptions::default())
    }

    pub fn with_options(out: W, opts: EveOptions) -> Self {
        EveWriter {
            out,
            opts,
            buf: Vec::with_capacity(4096),
            events: 0,
            geo: None,
            response: None,
            http_pending: http_tx::Pending::default(),
        }
    }

    /// Look up the addresses of every event in `geo` (GeoIP enrichment) when the options ask
    /// for extensions; `None` turns it off.
    pub fn set_geoip(&mut self, geo: Option<Arc<GeoIp>>) {
        self.geo = geo.filter(|_| self.opts.extensions);
    }

    /// Add the run's response metrics to every `stats` event (runs that can act).
    pub fn set_response_metrics(&mut self, m: Option<SharedMetrics>) {
        self.response = m;
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// One `alert` event for `alert`, raised on packet `a`.
    pub fn alert(
        &mut self,
        a: &Analyzed,
        alert: &Alert,
        flow: Option<&FlowMeta>,
    ) -> io::Result<()> {
        let mut head = packet_header(&self.opts, a, "alert", flow, alert.ts, alert.flow_id);
        head.geo = self.geo.as_deref();
        let payload = self
            .opts
            .payload_printable
            .then(|| a.decoded.payload(&a.frame.data))
            .filter(|p| !p.is_empty());
        let app_proto = flow
            .and_then(|f| f.app_proto)
            .map(crate::engine::flow::AppProto::as_str)
            .or(a.decoded.dns.as_ref().map(|_| "dns"))
            .or(a
                .decoded
                .app
                .as_deref()
                .map(|r| crate::engine::flow::AppProto::from(r.kind()).as_str()));
        let body = alert::AlertBody {
            alert,
            flow: flow.map(|f| &f.counts),
            app_proto,
            payload,
        };
        emit(&mut self.buf, &mut self.out, &head, &body)?;
        self.events += 1;
        Ok(())
    }

    /// `dns` events for packet `a` (none when it carries no DNS): one per question of a
    /// query, one per response.
    pub fn dns(&mut self, a: &Analyzed, flow: Option<&FlowMeta>) -> io::Result<()> {
        let Some(info) = a.decoded.dns.as_deref() else {
            return Ok(());
        };
        let mut head = packet_header(&self.opts, a, "dns", flow, a.frame.ts, None);
        head.geo = self.geo.as_deref();
        if info.is_response {
            let flags = dns::header_flags(&a.decoded, &a.frame.data, info);
            emit(
                &mut self.buf,
                &mut self.out,
                &head,
                &dns::Answer { info, flags },
            )?;
            self.events += 1;
        } else {
            for q in &info.questions {
                emit(
                    &mut self.buf,
                    &mut self.out,
                    &head,
                    &dns::Query { info, question: q },
                )?;
                self.events += 1;
            }
        }
        Ok(())
    }

    /// The `http`, `tls` or `ssh` event of packet `a` (none when it carries no such record).
    pub fn app(&mut self, a: &Analyzed, flow: Option<&FlowMeta>) -> io::Result<()> {
        let Some(rec) = a.decoded.app.as_deref() else {
            return Ok(());
        };
        let event_type = match rec {
            AppRecord::Http(_) => "http",
            AppRecord::Tls(_) => "tls",
            AppRecord::Ssh(_) => "ssh",
        };
        if let (AppRecord::Http(h), Some(f)) = (rec, flow) {
            return self.http(a, h, f);
        }
        let mut head = packet_header(&self.opts, a, event_type, flow, a.frame.ts, None);
        head.geo = self.geo.as_deref();
        let (buf, out) = (&mut self.buf, &mut self.out);
        match rec {
            AppRecord::Http(h) => emit(buf, out, &head, &http::Http(h))?,
            AppRecord::Tls(t) => emit(buf, out, &head, &tls::Tls(t))?,
            AppRecord::Ssh(banner) => {
                let ports = a.decoded.ports().unwrap_or((0, 0));
                emit(buf, out, &head, &ssh::Ssh { banner, ports })?;
            }
        }
        self.events += 1;
        Ok(())
    }

    /// The `http` events of the messages the stream pass found on packet `a` that the
    /// per-packet pass did not parse (see `Analyzed::stream_http`).
    pub fn stream_http(&mut self, a: &Analyzed, flow: Option<&FlowMeta>) -> io::Result<()> {
        let Some(f) = flow else {
            return Ok(());
        };
        for h in &a.stream_http {
            self.http(a, h, f)?;
        }
        Ok(())
    }

    /// An HTTP head of a flow: a request waits for its response; a response is written with
    /// the flow's oldest waiting request as one transaction (alone when none waits).
    fn http(&mut self, a: &Analyzed, h: &HttpRecord, f: &FlowMeta) -> io::Result<()> {
        match h {
            HttpRecord::Request(req) => {
                let w = http_tx::Waiting {
                    req: http_tx::Waiting::request(req),
                    ts: a.frame.ts,
                    pcap_cnt: (a.pcap_cnt > 0).then_some(a.pcap_cnt),
                    iface: a.frame.iface as usize,
                    vlan: a.decoded.vlans.clone(),
                    tuple: Tuple::of_packet(&a.decoded),
                    community_id: f.community_id.as_str().to_string(),
                };
                match self.http_pending.push(f.flow_id, w) {
                    Some(w) => self.transaction(f.flow_id, &w, None, None),
                    None => Ok(()),
                }
            }
            HttpRecord::Response(resp) => match self.http_pending.pop(f.flow_id) {
                Some(w) => self.transaction(f.flow_id, &w, Some(resp), Some(a)),
                None => {
                    let mut head = packet_header(&self.opts, a, "http", Some(f), a.frame.ts, None);
                    head.geo = self.geo.as_deref();
                    emit(&mut self.buf, &mut self.out, &head, &http::Http(h))?;
                    self.events += 1;
                    Ok(())
                }
            },
        }
    }

    /// One `http` event for request `w`, oriented as the request, with its response when it
    /// came (`at`: the response's packet, whose time and number the event takes).
    fn transaction(
        &mut self,
        flow_id: u64,
        w: &http_tx::Waiting,
        resp: Option<&HttpResponse>,
        at: Option<&Analyzed>,
    ) -> io::Result<()> {
        let head = Header {
            ts: at.map_or(w.ts, |a| a.frame.ts),
            flow_id: Some(flow_id),
            in_iface: self.opts.iface_names.get(w.iface).map(|s| &**s),
            pcap_cnt: at.map_or(w.pcap_cnt, |a| (a.pcap_cnt > 0).then_some(a.pcap_cnt)),
            event_type: "http",
            vlan: &w.vlan,
            tuple: w.tuple,
            community_id: Some(&w.community_id),
            host: self.opts.host.as_deref(),
            geo: self.geo.as_deref(),
        };
        let body = http_tx::Transaction { req: &w.req, resp };
        emit(&mut self.buf, &mut self.out, &head, &body)?;
        self.events += 1;
        Ok(())
    }

    /// One `flow` event for an ended flow, after the flow's HTTP requests still waiting for a
    /// response.
    pub fn flow(&mut self, r: &FlowRecord) -> io::Result<()> {
        for w in self.http_pending.take_flow(r.flow_id) {
            self.transaction(r.flow_id, &w, None, None)?;
        }
        let tuple = Tuple {
            src: r.src_ip,
            dst: r.dest_ip,
            ports: r.has_ports().then_some((r.src_port, r.dest_port)),
            proto: r.proto(),
            icmp: r.icmp.map(|i| (i.icmp_type, i.icmp_code)),
            response_icmp: r.icmp.and_then(|i| i.response),
        };
        let head = Header {
            ts: r.end,
            flow_id: Some(r.flow_id),
            in_iface: self.opts.iface_names.first().map(|s| &**s),
            pcap_cnt: None,
            event_type: "flow",
            vlan: &r.vlans,
            tuple: Some(tuple),
            community_id: Some(r.community_id.as_str()),
            host: self.opts.host.as_deref(),
            geo: self.geo.as_deref(),
        };
        emit(&mut self.buf, &mut self.out, &head, &flow::FlowBody(r))?;
        self.events += 1;
        Ok(())
    }

    /// One `stats` event with the run's counters, stamped with capture time `ts`.
    pub fn stats(&mut self, s: &Stats, ts: Ts) -> io::Result<()> {
        let head = Header {
            ts,
            flow_id: None,
            in_iface: None,
            pcap_cnt: None,
            event_type: "stats",
            vlan: &[],
            tuple: None,
            community_id: None,
            host: self.opts.host.as_deref(),
            geo: None,
        };
        let response = self
            .response
            .as_ref()
            .filter(|_| self.opts.extensions)
            .map(response_metrics::snapshot);
        let body = stats::StatsBody {
            stats: s,
            response: response.as_ref(),
            extensions: self.opts.extensions,
        };
        emit(&mut self.buf, &mut self.out, &head, &body)?;
        self.events += 1;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes what the current writer holds, then writes to `out` from now on (a reopened
    /// file after SIGHUP, as Suricata does for log rotation).
    pub fn switch_to(&mut self, out: W) -> io::Result<()> {
        self.out.flush()?;
        self.out = out;
        Ok(())
    }

    /// The inner writer, after flushing nothing (call `flush` first if needed).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Write one event into `buf` and hand it on as one line.
fn emit<W: Write, B: Body>(
    buf: &mut Vec<u8>,
    out: &mut W,
    head: &Header<'_>,
    body: &B,
) -> io::Result<()> {
    buf.clear();
    let mut m = Obj::open(buf);
    head.entries(&mut m)?;
    body.entries(&mut m)?;
    m.close();
    buf.push(b'\n');
    out.write_all(buf)
}

/// The header of a per-packet event (alert, dns), tuple as the packet travels.
fn packet_header<'a>(
    opts: &'a EveOptions,
    a: &'a Analyzed,
    event_type: &'static str,
    flow: Option<&'a FlowMeta>,
    ts: Ts,
    alert_flow_id: Option<u64>,
) -> Header<'a> {
    Header {
        ts,
        flow_id: flow.map(|f| f.flow_id).or(alert_flow_id),
        in_iface: opts.iface_names.get(a.frame.iface as usize).map(|s| &**s),
        // 0: an alert about a flow or a host, raised on no packet of its own.
        pcap_cnt: (a.pcap_cnt > 0).then_some(a.pcap_cnt),
        event_type,
        vlan: &a.decoded.vlans,
        tuple: Tuple::of_packet(&a.decoded),
        community_id: flow.map(|f| f.community_id.as_str()),
        host: opts.host.as_deref(),
        geo: None,
    }
}

/// `src_geoip` and `dest_geoip` (Logstash's field names inside); an address the database does
/// not know gets no object.
fn geo_entries(m: &mut Obj, g: &GeoIp, t: &Tuple) -> io::Result<()> {
    for (key, ip) in [("src_geoip", t.src), ("dest_geoip", t.dst)] {
        match g.lookup(ip) {
            Geo::Unknown => {}
            // Private and reserved addresses, most of a sensor's traffic: no serde.
            Geo::Scope(sc) => {
                let mut o = m.obj(key);
                o.str("scope", sc.as_str());
                o.close();
            }
            geo @ Geo::Found(_) => m.value(key, &geo)?,
        }
    }
    Ok(())
}
