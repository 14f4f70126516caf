//! The flow table proper: a slab of flows, a hash index by key, and a lazy
//! timing wheel of one-second buckets that finds idle flows without scanning the table.
//!
//! Runs on the aggregator thread only. Each flow has one "primary" wheel entry at
//! `queued_at`; touching a flow only moves its `deadline` later, and the entry is moved to the
//! new deadline when its bucket comes up. So a busy flow costs one bucket move per idle period,
//! not one per packet, and the wheel holds about one entry per flow.

use ahash::RandomState;
use hashbrown::HashTable;

use super::key::{packet_key, FlowKey, PacketKey};
use super::tcp::TcpState;
use super::{
    AppProto, Direction, EndReason, FlowConfig, FlowCounts, FlowMeta, FlowRecord, FlowShape,
    FlowState, FlowUpdate, IcmpSummary, TcpSummary,
};
use crate::engine::community_id::CommunityId;
use crate::engine::frame::Ts;
use crate::engine::packet::{Decoded, TcpFlags, Transport};
use crate::engine::stats::FlowStats;

/// Longest idle timeout accepted; bounds the wheel at ~2 MB of empty buckets.
const MAX_IDLE_SECS: u64 = 86_400;
/// How long a closed TCP flow lingers for late retransmissions before it ends.
const CLOSED_LINGER_SECS: i64 = 1;
/// Community ID seed: 0, the value every other tool uses by default.
const COMMUNITY_ID_SEED: u16 = 0;

#[derive(Debug, Clone, Copy)]
struct Entry {
    slot: u32,
    gen: u32,
}

#[derive(Debug)]
struct Flow {
    meta: FlowMeta,
    key: FlowKey,
    client_is_lo: bool,
    client: (std::net::IpAddr, u16),
    server: (std::net::IpAddr, u16),
    /// Indexed by `Direction as usize`: 0 to server, 1 to client.
    pkts: [u64; 2],
    bytes: [u64; 2],
    first: Ts,
    last: Ts,
    tcp: Option<TcpState>,
    tcp_flags: [u8; 2],
    icmp: Option<IcmpSummary>,
    shape: FlowShape,
    alerted: bool,
    /// Capture second at which the flow ends unless touched again.
    deadline: i64,
    /// Second of the bucket holding this flow's primary wheel entry.
    queued_at: i64,
}

/// Flows a table reserves room for at once, at most (a larger cap grows as it fills).
const PRESIZE_MAX: usize = 1 << 20;

#[derive(Debug, Default)]
struct Slot {
    gen: u32,
    flow: Option<Flow>,
}

/// The index hash of the flow in `slot` (for the index's rehash, which only meets slots that
/// hold a flow).
fn slot_hash(slots: &[Slot], hasher: &RandomState, slot: u32) -> u64 {
    slots
        .get(slot as usize)
        .and_then(|s| s.flow.as_ref())
        .map_or(0, |f| hasher.hash_one(f.key))
}

/// Bounded bidirectional flow table; see the module docs of `engine::flow`.
pub struct FlowTable {
    idle: i64,
    max_flows: usize,
    /// Slot numbers, hashed by their flow's key (`hasher`): the key itself lives in the slot,
    /// so a bucket is 4 bytes rather than 64 with the key beside it.
    index: HashTable<u32>,
    hasher: RandomState,
    /// Slot and flow id of the flow the last `update` touched: alerts mark the flow of the
    /// packet just counted, so no index by flow id is kept.
    recent: Option<(u32, u64)>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    wheel: Vec<Vec<Entry>>,
    spare: Vec<Entry>,
    /// First second whose bucket has not been processed.
    base: i64,
    /// Latest capture second seen.
    clock: i64,
    started: bool,
    /// Earliest second that may hold an eviction candidate.
    evict_from: i64,
    pending: Vec<FlowRecord>,
    seq: u64,
    /// Where this table's flow ids start: random per table (per run), so that the ids of two
    /// runs or two sensors do not meet in one SIEM, as Suricata's do not.
    id_base: u64,
    stats: FlowStats,
    closed: u64,
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> Self {
        let idle = cfg.idle_timeout_secs.clamp(1, MAX_IDLE_SECS);
        let span = usize::try_from(idle).unwrap_or(1) + 2;
        let max_flows = cfg.max_flows.max(1);
        // Sized for the cap at once: growing by doubling copies the whole table at each step
        // and, at the last, holds the old and the new copy together (a flow explosion peaked
        // ~60 MB higher) and leaves a third of the final allocation unused. The memory is only
        // reserved; pages are taken as flows fill them.
        let reserve = max_flows.min(PRESIZE_MAX);
        FlowTable {
            idle: i64::try_from(idle).unwrap_or(1),
            max_flows,
            index: HashTable::with_capacity(reserve),
            hasher: RandomState::new(),
            recent: None,
            slots: Vec::with_capacity(reserve),
            free: Vec::new(),
            wheel: (0..span).map(|_| Vec::new()).collect(),
            spare: Vec::new(),
            base: 0,
            clock: 0,
            started: false,
            evict_from: 0,
            pending: Vec::new(),
            seq: 0,
            id_base: RandomState::new().hash_one(0x006e_736d_2d74_7569_u64),
            stats: FlowStats::default(),
            closed: 0,
        }
    }

    /// Account one packet to its flow, creating the flow if needed. `None` for packets without
    /// an IP layer, and for TCP/UDP/ICMP packets whose transport header could not be read
    /// (truncated, or non-first fragments: nsm-tui does not reassemble).
    pub fn update(
        &mut self,
        ts: Ts,
        d: &Decoded,
        wire_len: u32,
        payload: &[u8],
    ) -> Option<FlowUpdate> {
        let pk = packet_key(d)?;
        self.advance(ts.secs());
        let (slot, is_new) = match self.find(&pk.key) {
            Some(s) if !self.is_reuse(s, d) => (s, false),
            Some(s) => {
                self.end(s, EndReason::Closed);
                (self.create(ts, d, &pk), true)
            }
            None => (self.create(ts, d, &pk), true),
        };
        let (clock, idle) = (self.clock, self.idle);
        let f = self.slots.get_mut(slot as usize)?.flow.as_mut()?;
        let to_server = pk.src_is_lo == f.client_is_lo;
        let i = usize::from(!to_server);
        f.pkts[i] += 1;
        f.bytes[i] += u64::from(wire_len);
        let gap = (!is_new).then(|| ts.since(f.last) as f64 / 1e9);
        let flags = match &d.transport {
            Transport::Tcp(t) => Some(t.flags),
            _ => None,
        };
        f.shape.observe(gap, wire_len, flags, payload);
        f.shape.observe_dns(d.dns.as_deref());
        f.last = f.last.max(ts);
        observe_transport(f, d, to_server, is_new);
        if f.meta.app_proto.is_none() {
            f.meta.app_proto = d.app.as_deref().map(|a| AppProto::from(a.kind()));
        }
        let linger = if f.tcp == Some(TcpState::Closed) {
            CLOSED_LINGER_SECS.min(idle)
        } else {
            idle
        };
        let deadline = clock + linger + 1;
        f.deadline = deadline;
        let requeue = deadline < f.queued_at;
        if requeue {
            f.queued_at = deadline;
        }
        self.recent = Some((slot, f.meta.flow_id));
        let update = FlowUpdate {
            flow_id: f.meta.flow_id,
            meta: FlowMeta {
                counts: FlowCounts {
                    pkts_toserver: f.pkts[0],
                    pkts_toclient: f.pkts[1],
                    bytes_toserver: f.bytes[0],
                    bytes_toclient: f.bytes[1],
                    start: f.first,
                },
                ..f.meta
            },
            direction: if to_server {
                Direction::ToServer
            } else {
                Direction::ToClient
            },
            to_server,
            is_new,
            pkts_toserver: f.pkts[0],
            pkts_toclient: f.pkts[1],
            bytes_toserver: f.bytes[0],
            bytes_toclient: f.bytes[1],
            established: f
                .tcp
                .map_or(f.pkts[0] > 0 && f.pkts[1] > 0, TcpState::is_established),
            tcp_state: f.tcp,
            start: f.first,
        };
        if requeue {
            let gen = self.slots[slot as usize].gen;
            self.push(deadline, Entry { slot, gen });
        }
        Some(update)
    }

    /// Flows that ended since the last call: idle past the timeout at capture time `now`,
    /// closed, evicted, or replaced by a reused tuple. Cheap when nothing is due.
    pub fn expire(&mut self, now: Ts) -> Vec<FlowRecord> {
        if self.started {
            self.advance(now.secs());
        }
        std::mem::take(&mut self.pending)
    }

    /// How many ended flows wait for the next `expire`: evictions and reused tuples end flows
    /// between seconds, so a flood of new flows (a million a second) would otherwise pile up
    /// a second's worth of records.
    pub fn ended_pending(&self) -> usize {
        self.pending.len()
    }

    /// End every flow (reason `shutdown`), oldest first, after any that ended earlier.
    pub fn drain(&mut self) -> Vec<FlowRecord> {
        let mut out = Vec::new();
        self.drain_chunks(usize::MAX, |mut part| out.append(&mut part));
        out
    }

    /// As `drain`, handing the records over `chunk` at a time (the flows that ended earlier
    /// first, in one piece), so the stages after the aggregator can start on the first ones
    /// while later ones are still being ended.
    pub fn drain_chunks(&mut self, chunk: usize, mut emit: impl FnMut(Vec<FlowRecord>)) {
        let earlier = std::mem::take(&mut self.pending);
        if !earlier.is_empty() {
            emit(earlier);
        }
        // By first packet, ties by slot: slots are handed out in the order flows arrive, so
        // the same capture ends its flows in the same order on every run (flow ids are not:
        // they start from a random base), and what learns from them learns the same.
        let mut live: Vec<(Ts, u32)> = self
            .index
            .iter()
            .filter_map(|&slot| {
                let f = self.slots.get(slot as usize)?.flow.as_ref()?;
                Some((f.first, slot))
            })
            .collect();
        live.sort_unstable();
        for part in live.chunks(chunk.max(1)) {
            for &(_, slot) in part {
                self.end(slot, EndReason::Shutdown);
            }
            emit(std::mem::take(&mut self.pending));
        }
        for b in &mut self.wheel {
            b.clear();
        }
    }

    /// Remember that an alert fired in this flow (EVE `flow.alerted`).
    /// Cheap for the flow of the last update (the aggregator's only case); any other live flow
    /// is found by a scan of the table.
    pub fn mark_alerted(&mut self, flow_id: u64) {
        let flow = match self.recent {
            Some((slot, id)) if id == flow_id => self
                .slots
                .get_mut(slot as usize)
                .and_then(|s| s.flow.as_mut())
                .filter(|f| f.meta.flow_id == flow_id),
            _ => self
                .slots
                .iter_mut()
                .filter_map(|s| s.flow.as_mut())
                .find(|f| f.meta.flow_id == flow_id),
        };
        if let Some(f) = flow {
            f.alerted = true;
        }
    }

    pub fn stats(&self) -> FlowStats {
        FlowStats {
            active: self.index.len() as u64,
            ..self.stats
        }
    }

    /// Flows that ended because TCP closed them (not part of `FlowStats`).
    pub fn closed_count(&self) -> u64 {
        self.closed
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// A SYN on a closed TCP flow starts a new connection on the same tuple.
    fn is_reuse(&self, slot: u32, d: &Decoded) -> bool {
        let Some(t) = d.transport.tcp() else {
            return false;
        };
        let syn_only = t.flags.0 & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN;
        syn_only
            && self
                .slots
                .get(slot as usize)
                .and_then(|s| s.flow.as_ref())
                .is_some_and(|f| f.tcp == Some(TcpState::Closed))
    }

    /// The slot of the flow with this key.
    fn find(&self, key: &FlowKey) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hasher.hash_one(key), |&s| {
                slots
                    .get(s as usize)
                    .and_then(|x| x.flow.as_ref())
                    .is_some_and(|f| f.key == *key)
            })
            .copied()
    }

    fn create(&mut self, ts: Ts, d: &Decoded, pk: &PacketKey) -> u32 {
        if self.index.len() >= self.max_flows {
            self.evict_one();
        }
        // A bijection on 52 bits: ids stay distinct within the run (for 2^52 flows); the one
        // input that maps to 0 (no flow) is skipped.
        self.seq += 1;
        let mut flow_id = mix52(self.id_base.wrapping_add(self.seq));
        if flow_id == 0 {
            self.seq += 1;
            flow_id = mix52(self.id_base.wrapping_add(self.seq));
        }
        let f = new_flow(ts, d, pk, flow_id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot::default());
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        match f.key.proto() {
            6 => self.stats.tcp += 1,
            17 => self.stats.udp += 1,
            1 => self.stats.icmpv4 += 1,
            58 => self.stats.icmpv6 += 1,
            _ => {}
        }
        self.stats.created += 1;
        let hash = self.hasher.hash_one(f.key);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.flow = Some(f);
        }
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, slot, |&s| slot_hash(slots, hasher, s));
        slot
    }

    /// Remove a flow and queue its record.
    fn end(&mut self, slot: u32, reason: EndReason) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(f) = s.flow.take() else { return };
        s.gen = s.gen.wrapping_add(1);
        self.free.push(slot);
        if let Ok(e) = self
            .index
            .find_entry(self.hasher.hash_one(f.key), |&s| s == slot)
        {
            e.remove();
        }
        match reason {
            EndReason::Timeout => self.stats.timed_out += 1,
            EndReason::Evicted => self.stats.evicted += 1,
            EndReason::Closed => self.closed += 1,
            EndReason::Shutdown => {}
        }
        self.pending.push(record(f, reason));
    }

    fn bucket(&self, sec: i64) -> usize {
        usize::try_from(sec.rem_euclid(self.wheel.len() as i64)).unwrap_or(0)
    }

    fn push(&mut self, sec: i64, e: Entry) {
        let b = self.bucket(sec);
        self.wheel[b].push(e);
        self.evict_from = self.evict_from.min(sec);
    }

    /// The live flow an entry points at, if the slot has not been reused since.
    fn live(&self, e: Entry) -> Option<&Flow> {
        self.slots
            .get(e.slot as usize)
            .filter(|s| s.gen == e.gen)
            .and_then(|s| s.flow.as_ref())
    }

    /// Move the clock to `sec` and end every flow whose deadline has passed.
    fn advance(&mut self, sec: i64) {
        if !self.started {
            (self.started, self.base, self.clock, self.evict_from) = (true, sec, sec, sec);
            return;
        }
        if sec <= self.clock {
            return;
        }
        self.clock = sec;
        let steps = (sec - self.base + 1).min(self.wheel.len() as i64);
        for i in 0..steps {
            self.process_bucket(self.base + i);
        }
        self.base = sec + 1;
        self.evict_from = self.evict_from.max(self.base);
    }

    fn process_bucket(&mut self, s: i64) {
        let b = self.bucket(s);
        let mut list = std::mem::replace(&mut self.wheel[b], std::mem::take(&mut self.spare));
        for e in list.drain(..) {
            let Some(f) = self.live(e) else { continue };
            // Entries that are not the flow's primary one are stale duplicates.
            if f.queued_at != s {
                continue;
            }
            if f.deadline <= self.clock {
                let reason = if f.tcp == Some(TcpState::Closed) {
                    EndReason::Closed
                } else {
                    EndReason::Timeout
                };
                self.end(e.slot, reason);
            } else {
                let d = f.deadline;
                self.requeue(e, d);
            }
        }
        self.spare = list;
    }

    fn requeue(&mut self, e: Entry, deadline: i64) {
        if let Some(f) = self
            .slots
            .get_mut(e.slot as usize)
            .and_then(|s| s.flow.as_mut())
        {
            f.queued_at = deadline;
        }
        self.push(deadline, e);
    }

    /// Push out the flow with the earliest deadline (closed flows before idle ones, then the
    /// least recently seen). Returns whether one was evicted.
    fn evict_one(&mut self) -> bool {
        let span = self.wheel.len() as i64;
        let start = self.evict_from.max(self.base);
        for s in start..self.base + span {
            let b = self.bucket(s);
            while let Some(e) = self.wheel[b].pop() {
                let Some(f) = self.live(e) else { continue };
                if f.queued_at != s {
                    continue;
                }
                if f.deadline <= s {
                    self.evict_from = s;
                    self.end(e.slot, EndReason::Evicted);
                    return true;
                }
                let d = f.deadline;
                self.requeue(e, d);
            }
            self.evict_from = s + 1;
        }
        false
    }
}

fn new_flow(ts: Ts, d: &Decoded, pk: &PacketKey, flow_id: u64) -> Flow {
    let (src, dst) = (pk.src, pk.dst);
    let (sport, dport) = d.ports().unwrap_or((0, 0));
    let tcp = d.transport.tcp().map(|t| TcpState::initial(t.flags));
    // A SYN/ACK seen first comes from the server: its receiver is the client.
    let reversed = tcp == Some(TcpState::SynRecv);
    let (client, server) = if reversed {
        ((dst, dport), (src, sport))
    } else {
        ((src, sport), (dst, dport))
    };
    let icmp = match &d.transport {
        Transport::Icmp(i) | Transport::Icmpv6(i) if !reversed => Some(IcmpSummary {
            icmp_type: i.icmp_type,
            icmp_code: i.code,
            response: None,
        }),
        _ => None,
    };
    let dns_port = matches!(d.transport, Transport::Tcp(_) | Transport::Udp(_))
        && (sport == 53 || dport == 53);
    let app_proto = (dns_port || d.dns.is_some()).then_some(AppProto::Dns);
    let community_id = CommunityId::of(COMMUNITY_ID_SEED, src, dst, pk.key.proto(), &d.transport);
    Flow {
        meta: FlowMeta {
            flow_id,
            community_id,
            app_proto,
            counts: FlowCounts::default(),
        },
        key: pk.key,
        client_is_lo: pk.src_is_lo != reversed,
        client,
        server,
        pkts: [0; 2],
        bytes: [0; 2],
        first: ts,
        last: ts,
        tcp,
        tcp_flags: [0; 2],
        icmp,
        shape: FlowShape::default(),
        alerted: false,
        deadline: i64::MAX,
        queued_at: i64::MAX,
    }
}

/// Per-packet transport bookkeeping: TCP flags and state, ICMP reply type.
fn observe_transport(f: &mut Flow, d: &Decoded, to_server: bool, is_new: bool) {
    let i = usize::from(!to_server);
    match &d.transport {
        Transport::Tcp(t) => {
            f.tcp_flags[i] |= (t.flags.0 & 0xff) as u8;
            if !is_new {
                f.tcp = f.tcp.map(|s| s.next(t.flags, to_server));
            }
        }
        Transport::Icmp(ic) | Transport::Icmpv6(ic) => {
            if let Some(s) = f.icmp.as_mut() {
                if !to_server && s.response.is_none() {
                    s.response = Some((ic.icmp_type, ic.code));
                }
            }
        }
        _ => {}
    }
}

fn record(f: Flow, reason: EndReason) -> FlowRecord {
    let both_ways = f.pkts[0] > 0 && f.pkts[1] > 0;
    let state = match f.tcp {
        Some(TcpState::Closed) => FlowState::Closed,
        Some(s) if s.is_established() => FlowState::Established,
        Some(_) => FlowState::New,
        None if both_ways => FlowState::Established,
        None => FlowState::New,
    };
    FlowRecord {
        flow_id: f.meta.flow_id,
        community_id: f.meta.community_id,
        app_proto: f.meta.app_proto,
        ip_proto: f.key.proto(),
        src_ip: f.client.0,
        dest_ip: f.server.0,
        src_port: f.client.1,
        dest_port: f.server.1,
        vlans: f.key.vlans().to_vec(),
        icmp: f.icmp,
        shape: f.shape,
        pkts_toserver: f.pkts[0],
        pkts_toclient: f.pkts[1],
        bytes_toserver: f.bytes[0],
        bytes_toclient: f.bytes[1],
        start: f.first,
        end: f.last,
        state,
        tcp: f.tcp.map(|state| TcpSummary {
            state,
            flags_ts: f.tcp_flags[0],
            flags_tc: f.tcp_flags[1],
        }),
        reason,
        alerted: f.alerted,
    }
}

/// A bijection on 52-bit integers: ids look like hashes (as Suricata's do), stay unique per
/// run, are non-zero for non-zero input, and fit a JSON number without precision loss.
fn mix52(x: u64) -> u64 {
    const MASK: u64 = (1 << 52) - 1;
    let mut z = x & MASK;
    z = z.wrapping_mul(0x9E37_79B9_7F4A_7C15) & MASK;
    z ^= z >> 26;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9) & MASK;
    z ^= z >> 26;
    z
}
