//! The console's model: a bounded ring of recent packets, the run's incidents as its incident
//! tracker reports them (with a person's state and notes), counters, rate history and top-N
//! tables, all updated from analysed packets.
//!
//! Written only by the aggregator thread (through the console's observer adapter) and read by
//! the UI thread under a short lock. Pure: time comes from frame timestamps, never the clock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use super::alert::{highest, Alert, RuleId, Severity};
use super::flow::FlowMeta;
use super::frame::{RawFrame, Ts};
use super::incident::{can_move, Change, IncidentState};
pub use super::incident::{AlertRef, Incident};
use super::packet::{Decoded, Proto, TcpFlags, Transport};
use super::record::Analyzed;
use super::stats::Stats;

/// Sizes and windows of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelConfig {
    /// Packets kept for the table, the detail view and pcap export.
    pub retained_packets: usize,
    /// Incidents kept; the oldest are dropped beyond this.
    pub max_incidents: usize,
    /// Seconds of rate history kept for sparklines and the rate chart.
    pub rate_history_secs: usize,
    /// Distinct addresses tracked for top talkers; beyond this the smallest half is pruned.
    pub max_talkers: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            retained_packets: 100_000,
            max_incidents: 10_000,
            rate_history_secs: 600,
            max_talkers: 4096,
        }
    }
}

/// The highest threat on a packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Threat {
    pub severity: Severity,
    pub category: Arc<str>,
    pub rule: RuleId,
    pub description: Arc<str>,
}

/// One retained packet: the frame, its decoding, its alerts and a one-line summary.
#[derive(Debug, Clone)]
pub struct Row {
    /// Position in the model's ring numbering (0-based, never reused).
    pub seq: u64,
    pub pcap_cnt: u64,
    pub frame: RawFrame,
    pub decoded: Decoded,
    pub alerts: Vec<Alert>,
    pub info: String,
    pub threat: Option<Threat>,
    pub flow_id: Option<u64>,
}

impl Row {
    pub fn ts(&self) -> Ts {
        self.frame.ts
    }
    pub fn src(&self) -> Option<IpAddr> {
        self.decoded.source_addr()
    }
    pub fn dst(&self) -> Option<IpAddr> {
        self.decoded.dest_addr()
    }
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.decoded.ports()
    }
    pub fn proto(&self) -> Proto {
        self.decoded.proto()
    }
    /// The application protocol of the packet's HTTP head, TLS hello or SSH banner.
    pub fn app_kind(&self) -> Option<crate::engine::applayer::AppKind> {
        self.decoded
            .app
            .as_deref()
            .map(crate::engine::applayer::AppRecord::kind)
    }
    pub fn length(&self) -> u32 {
        self.frame.orig_len
    }
    pub fn tcp_flags(&self) -> Option<TcpFlags> {
        self.decoded.transport.tcp().map(|t| t.flags)
    }
    pub fn severity(&self) -> Option<Severity> {
        self.threat.as_ref().map(|t| t.severity)
    }
    pub fn is_dns(&self) -> bool {
        self.decoded.dns.is_some()
    }
}

/// What a person does to an incident from the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentEdit {
    State(IncidentState),
    Note(String),
}

/// Packets and bytes seen in one second of capture time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateBucket {
    pub sec: i64,
    pub pkts: u64,
    pub bytes: u64,
}

/// Everything the console shows, updated packet by packet.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub config: ModelConfig,
    rows: VecDeque<Row>,
    next_seq: u64,
    /// The pipeline's incidents as the tracker last reported them (oldest first, ids rising),
    /// with a person's state and notes from the console.
    incidents: VecDeque<Incident>,
    pub packets: u64,
    pub bytes: u64,
    pub alerts_by_severity: BTreeMap<Severity, u64>,
    pub categories: BTreeMap<Arc<str>, u64>,
    pub protocols: BTreeMap<String, u64>,
    talkers: HashMap<IpAddr, u64>,
    destinations: HashMap<IpAddr, u64>,
    rate: VecDeque<RateBucket>,
    /// The pipeline's latest counters (drops, decode errors, DB backlog).
    pub stats: Stats,
    pub finished: bool,
    /// A problem that ended or hurt the run (the source failed, an output broke), for the
    /// status bar.
    pub notice: Option<String>,
}

impl Model {
    pub fn new(config: ModelConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Add one analysed packet (with its flow, when the flow table tracked it).
    pub fn apply(&mut self, a: &Analyzed, flow: Option<&FlowMeta>) {
        let flow_id = flow.map(|f| f.flow_id);
        self.count(a);
        let threat = highest(&a.alerts).map(|t| Threat {
            severity: t.severity,
            category: t.category.clone(),
            rule: t.rule,
            description: t.description.clone(),
        });
        let row = Row {
            seq: self.next_seq,
            pcap_cnt: a.pcap_cnt,
            frame: a.frame.clone(),
            decoded: a.decoded.clone(),
            alerts: a.alerts.clone(),
            info: info_line(&a.decoded, &a.frame.data),
            threat,
            flow_id,
        };
        for alert in &a.alerts {
            self.count_alert(alert);
        }
        self.next_seq += 1;
        self.rows.push_back(row);
        while self.rows.len() > self.config.retained_packets.max(1) {
            self.rows.pop_front();
        }
    }

    /// An alert that arrived after its packet (AbuseIPDB reputation): it joins the counters,
    /// and the packet's row when that is still retained (its incident comes from the tracker).
    pub fn late_alert(&mut self, a: &Analyzed, alert: &Alert) {
        self.count_alert(alert);
        if let Some(row) = self
            .rows
            .iter_mut()
            .rev()
            .find(|r| r.pcap_cnt == a.pcap_cnt)
        {
            row.alerts.push(alert.clone());
            row.threat = highest(&row.alerts).map(|t| Threat {
                severity: t.severity,
                category: t.category.clone(),
                rule: t.rule,
                description: t.description.clone(),
            });
        }
    }

    /// Take the pipeline's counters.
    pub fn stats(&mut self, s: &Stats) {
        self.stats = s.clone();
    }

    fn count(&mut self, a: &Analyzed) {
        let len = u64::from(a.frame.orig_len);
        self.packets += 1;
        self.bytes += len;
        *self.protocols.entry(a.decoded.proto().name()).or_default() += 1;
        if let Some(ip) = &a.decoded.ip {
            bump(&mut self.talkers, ip.src, len, self.config.max_talkers);
            bump(&mut self.destinations, ip.dst, len, self.config.max_talkers);
        }
        self.add_rate(a.frame.ts, len);
    }

    fn add_rate(&mut self, ts: Ts, len: u64) {
        let sec = ts.secs();
        let cap = self.config.rate_history_secs.max(1);
        match self.rate.back().map(|b| b.sec) {
            Some(last) if sec <= last => {}
            Some(last) => {
                // Quiet seconds appear as zeros, but never more than the history holds.
                let gap = usize::try_from(sec - last).unwrap_or(cap).min(cap);
                for i in (1..gap).rev() {
                    self.rate.push_back(RateBucket {
                        sec: sec - i as i64,
                        ..RateBucket::default()
                    });
                }
                self.rate.push_back(RateBucket {
                    sec,
                    ..RateBucket::default()
                });
            }
            None => self.rate.push_back(RateBucket {
                sec,
                ..RateBucket::default()
            }),
        }
        while self.rate.len() > cap {
            self.rate.pop_front();
        }
        if let Some(b) = self.rate.back_mut() {
            b.pkts += 1;
            b.bytes += len;
        }
    }

    fn count_alert(&mut self, alert: &Alert) {
        *self.alerts_by_severity.entry(alert.severity).or_default() += 1;
        *self.categories.entry(alert.category.clone()).or_default() += 1;
    }

    /// The pipeline's incident tracker opened or changed `inc`: add it, or bring the retained
    /// copy up to date. A person's state and notes stay, except that an escalation reopens a
    /// resolved incident, as in the store.
    pub fn incident_changed(&mut self, inc: &Incident, change: Change) {
        if change == Change::Opened {
            if self.incidents.back().is_some_and(|last| last.id >= inc.id) {
                return;
            }
            self.incidents.push_back(inc.clone());
            while self.incidents.len() > self.config.max_incidents.max(1) {
                self.incidents.pop_front();
            }
            return;
        }
        // Gone when it has scrolled out of the retained incidents; the tracker goes on.
        let Some(mine) = self.incident_mut(inc.id) else {
            return;
        };
        if matches!(change, Change::Escalated(_)) && mine.state == IncidentState::Resolved {
            mine.state = IncidentState::New;
        }
        (mine.severity, mine.first_seen, mine.last_seen, mine.count) =
            (inc.severity, inc.first_seen, inc.last_seen, inc.count);
        if mine.alerts.len() < inc.alerts.len() {
            mine.alerts
                .extend_from_slice(&inc.alerts[mine.alerts.len()..]);
        }
        if mine.destinations.len() < inc.destinations.len() {
            mine.destinations.clone_from(&inc.destinations);
        }
    }

    /// Apply a person's change to incident `id`; Err says why it cannot be done.
    pub fn edit_incident(&mut self, id: u64, edit: &IncidentEdit) -> Result<(), String> {
        let inc = self
            .incident_mut(id)
            .ok_or_else(|| format!("incident #{id} is no longer retained"))?;
        match edit {
            IncidentEdit::State(to) => {
                if !can_move(inc.state, *to) {
                    return Err(format!("incident #{id} is already {to}"));
                }
                inc.state = *to;
            }
            IncidentEdit::Note(text) => {
                let text = text.trim();
                if text.is_empty() {
                    return Err("an empty note was not added".into());
                }
                inc.notes.push(text.replace('\n', " "));
            }
        }
        Ok(())
    }

    fn incident_mut(&mut self, id: u64) -> Option<&mut Incident> {
        let idx = self.incidents.partition_point(|i| i.id < id);
        self.incidents.get_mut(idx).filter(|i| i.id == id)
    }

    pub fn rows(&self) -> &VecDeque<Row> {
        &self.rows
    }
    /// The row with sequence number `seq`, if still retained.
    pub fn row(&self, seq: u64) -> Option<&Row> {
        let first = self.rows.front()?.seq;
        self.rows
            .get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }
    /// Sequence number of the oldest retained row (equal to `next_seq` when empty).
    pub fn first_seq(&self) -> u64 {
        self.rows.front().map_or(self.next_seq, |r| r.seq)
    }
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
    pub fn incidents(&self) -> &VecDeque<Incident> {
        &self.incidents
    }
    pub fn incident(&self, id: u64) -> Option<&Incident> {
        let idx = self.incidents.partition_point(|i| i.id < id);
        self.incidents.get(idx).filter(|i| i.id == id)
    }
    pub fn alerts_total(&self) -> u64 {
        self.alerts_by_severity.values().sum()
    }
    pub fn rate_history(&self) -> &VecDeque<RateBucket> {
        &self.rate
    }
    /// Packets and bytes of the last complete second (the newest one is still filling).
    pub fn current_rate(&self) -> (u64, u64) {
        let n = self.rate.len();
        let b = if n >= 2 {
            self.rate.get(n - 2)
        } else {
            self.rate.back()
        };
        b.map_or((0, 0), |b| (b.pkts, b.bytes))
    }
    pub fn top_talkers(&self, n: usize) -> Vec<(IpAddr, u64)> {
        top(&self.talkers, n)
    }
    pub fn top_destinations(&self, n: usize) -> Vec<(IpAddr, u64)> {
        top(&self.destinations, n)
    }
    /// Retained rows of an incident: packets from or to its source between `before` seconds
    /// ahead of its first alert and its last alert.
    pub fn incident_rows(&self, inc: &Incident, before_secs: u64) -> Vec<&Row> {
        let start = Ts(inc.first_seen.0.saturating_sub(
            i64::try_from(before_secs)
                .unwrap_or(0)
                .saturating_mul(Ts::NANOS_PER_SEC),
        ));
        self.rows
            .iter()
            .filter(|r| r.ts() >= start && r.ts() <= inc.last_seen)
            .filter(|r| inc.source.is_none() || r.src() == inc.source || r.dst() == inc.source)
            .collect()
    }
}

fn bump(map: &mut HashMap<IpAddr, u64>, ip: IpAddr, len: u64, cap: usize) {
    *map.entry(ip).or_default() += len;
    if map.len() > cap.max(2) {
        // Keep the larger half so memory stays flat; the smallest talkers never rank anyway.
        let mut v: Vec<u64> = map.values().copied().collect();
        v.sort_unstable();
        let cut = v[v.len() / 2];
        map.retain(|_, b| *b > cut);
    }
}

fn top(map: &HashMap<IpAddr, u64>, n: usize) -> Vec<(IpAddr, u64)> {
    let mut v: Vec<(IpAddr, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

const HTTP_METHODS: [&str; 9] = [
    "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
];
/// Characters of payload shown in the info column.
const SNIPPET_CHARS: usize = 48;

/// The table's info column: DNS question, HTTP request line, ARP, ICMP or a payload snippet.
pub fn info_line(d: &Decoded, data: &[u8]) -> String {
    if let Some(dns) = &d.dns {
        let q = dns.questions.first();
        let name = q.map_or("", |q| q.name.as_str());
        let kind = if dns.is_response { "response" } else { "query" };
        let qt = q.map_or(String::new(), |q| format!("{} ", qtype_name(q.qtype)));
        return format!("DNS {kind} {qt}{name}");
    }
    if let Some(arp) = &d.arp {
        return match arp.operation {
            1 => format!("who-has {} tell {}", arp.target_ip, arp.sender_ip),
            2 => format!("{} is-at {}", arp.sender_ip, mac(&arp.sender_mac)),
            op => format!("ARP op {op}"),
        };
    }
    match d.transport {
        Transport::Icmp(i) | Transport::Icmpv6(i) => {
            return format!("type {} code {}", i.icmp_type, i.code)
        }
        _ => {}
    }
    let payload = d.payload(data);
    if HTTP_METHODS
        .iter()
        .any(|m| payload.starts_with(m.as_bytes()))
    {
        let end = payload
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(payload.len());
        return printable(&payload[..end], 120);
    }
    if payload.is_empty() {
        return String::new();
    }
    printable(payload, SNIPPET_CHARS)
}

fn printable(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

fn mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn qtype_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}
