//! Signature matching: regexes from `signatures/*.json` over a packet's payload or one of its
//! application-layer buffers (`buffer`: HTTP URI, headers, body, DNS query, TLS SNI…), matched
//! raw and (HTTP requests, URIs and bodies) URL-decoded, in one multi-pattern pass per buffer;
//! patterns anchored at the start of a buffer (`^(?:GET|POST)\s…`) are prefiltered by their
//! first bytes as well.
//!
//! `SignatureDetector` is a `PacketDetector` run on every analysis worker. An Aho-Corasick
//! automaton over the required literals of each buffer's signatures picks candidates (on a
//! lower-cased copy of that buffer, after a SIMD search says some literal is there at all);
//! the anchored signatures' literals have a pass of their own, run only on buffers that start
//! the way they must. Only candidates (and the signatures without a usable literal) run their
//! full regex, on their own buffer alone, after their protocol and port filters. A buffer the
//! packet lacks (no HTTP request, no DNS query) costs nothing. `matches_reference` runs every regex one at a
//! time and must agree exactly. The set is immutable; a reload builds a new one and swaps it in
//! through a `SignatureSource` (the pipeline's handle swaps a reloaded set in whole). The
//! payload signatures also run over reassembled TCP data, across segment boundaries
//! (`stream`, called by the stream detector on the aggregator).

mod buffer;
mod http;
mod http_message;
pub mod literal;
mod load;
mod prefilter;
mod stream;

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::json;

use super::PacketDetector;
use crate::engine::alert::{Alert, Detector, RuleId, Severity};
use crate::engine::packet::{Decoded, Proto};
use crate::engine::record::Analyzed;

pub use buffer::{Buffer, View};
pub use load::{RuleFiles, SignatureError};
use prefilter::{AnyLiteral, LiteralPass, NEED_LITERAL};

/// Bytes of a match quoted in the explanation and evidence.
const QUOTE_LEN: usize = 64;

/// The protocol a signature is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoFilter {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any IP packet (`IP` or `ANY`).
    Any,
}

impl FromStr for ProtoFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Ok(ProtoFilter::Tcp),
            "UDP" => Ok(ProtoFilter::Udp),
            "ICMP" => Ok(ProtoFilter::Icmp),
            "ICMPV6" | "IPV6-ICMP" => Ok(ProtoFilter::Icmpv6),
            "IP" | "ANY" => Ok(ProtoFilter::Any),
            _ => Err(format!(
                "unknown protocol {s:?} (expected TCP, UDP, ICMP, ICMPv6, IP or ANY)"
            )),
        }
    }
}

/// One loaded signature.
#[derive(Debug, Clone)]
pub struct Signature {
    pub id: RuleId,
    pub description: Arc<str>,
    pub pattern: String,
    pub severity: Severity,
    /// The signature's `type`, used as the alert category.
    pub category: Arc<str>,
    pub protocol: Option<ProtoFilter>,
    /// Matched against either port; empty means any.
    pub ports: Vec<u16>,
    /// What the regex runs on (`packet` unless the file says otherwise).
    pub buffer: Buffer,
    /// Alert once per flow (`"once_per_flow": true`, as Suricata's `threshold: type limit,
    /// track by_flow, count 1`): a session that sends its password with every command or
    /// request is one finding, not one per packet.
    pub once_per_flow: bool,
    /// The file and entry index it came from.
    pub file: Arc<str>,
    pub index: usize,
    regex: regex::bytes::Regex,
    /// Prefilter literals; `None` puts the signature on the always-check list.
    literals: Option<Vec<Vec<u8>>>,
    /// Start prefixes (anchored patterns): checked at offset 0 instead of the literals.
    prefixes: Option<Vec<Vec<u8>>>,
}

impl Signature {
    /// Whether the packet's protocol and ports are ones this signature looks at.
    pub fn applies(&self, d: &Decoded) -> bool {
        let proto_ok = match self.protocol {
            None | Some(ProtoFilter::Any) => true,
            Some(ProtoFilter::Tcp) => d.proto() == Proto::Tcp,
            Some(ProtoFilter::Udp) => d.proto() == Proto::Udp,
            Some(ProtoFilter::Icmp) => d.proto() == Proto::Icmp,
            Some(ProtoFilter::Icmpv6) => d.proto() == Proto::Icmpv6,
        };
        proto_ok
            && (self.ports.is_empty()
                || d.ports()
                    .is_some_and(|(s, t)| self.ports.contains(&s) || self.ports.contains(&t)))
    }

    /// The signature's first match in the view's raw bytes, else in its decoded ones.
    fn find(&self, view: &View<'_>) -> Option<Hit> {
        let (buffer, id) = (self.buffer, self.id);
        if let Some(m) = self.regex.find(&view.raw) {
            return Some(Hit::new(id, buffer, m.start(), m.as_bytes(), false));
        }
        let m = self.regex.find(view.decoded.as_deref()?)?;
        Some(Hit::new(id, buffer, m.start(), m.as_bytes(), true))
    }

    /// Whether this signature runs on every payload (no literal for the prefilter).
    pub fn always_checked(&self) -> bool {
        self.literals.is_none() && self.prefixes.is_none()
    }

    /// Whether the literals say more than the start prefixes do (for `^(?:GET|POST)\s+\S`
    /// the best literal is the method list itself, which the prefix check already covers).
    fn literal_beyond_prefix(&self) -> bool {
        match (&self.literals, &self.prefixes) {
            (Some(l), Some(p)) => !l.iter().all(|x| p.contains(x)),
            (l, _) => l.is_some(),
        }
    }
}

/// One signature match in one buffer of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: RuleId,
    /// The buffer the match is in; `offset` counts from its start.
    pub buffer: Buffer,
    pub offset: usize,
    /// Up to `QUOTE_LEN` bytes of the match.
    pub matched: Vec<u8>,
    /// The match is in the URL-decoded form of the buffer, not its raw bytes.
    pub decoded: bool,
}

impl Hit {
    fn new(id: RuleId, buffer: Buffer, offset: usize, m: &[u8], decoded: bool) -> Self {
        Hit {
            id,
            buffer,
            offset,
            matched: m[..m.len().min(QUOTE_LEN)].to_vec(),
            decoded,
        }
    }
}

/// The prefilter of the signatures on one buffer.
#[derive(Debug)]
struct Group {
    buffer: Buffer,
    /// Literals of the signatures that may match anywhere: run on every view of the buffer.
    anywhere: Option<LiteralPass>,
    /// Literals of the anchored signatures: run only on views that start with one of their
    /// prefixes (a request line), which keeps their short words (`and`, `php`, …) out of the
    /// pass every payload pays for.
    anchored: Option<LiteralPass>,
    /// Signatures with start prefixes, grouped by prefix list (many share the request
    /// methods), so each list is compared once per view.
    prefixed: Vec<(Vec<Vec<u8>>, Vec<usize>)>,
}

impl Group {
    /// Build the passes of the signatures `members` (indices into `sigs`); the members whose
    /// pass cannot be built join `always`.
    fn new(buffer: Buffer, sigs: &[Signature], members: &[usize], always: &mut Vec<usize>) -> Self {
        // (patterns, owners) for the anywhere pass [0] and the anchored pass [1].
        let mut passes: [(Vec<&[u8]>, Vec<usize>); 2] = Default::default();
        let mut prefixed: Vec<(Vec<Vec<u8>>, Vec<usize>)> = Vec::new();
        for &i in members {
            let s = &sigs[i];
            if let Some(p) = &s.prefixes {
                match prefixed.iter_mut().find(|(q, _)| q == p) {
                    Some((_, m)) => m.push(i),
                    None => prefixed.push((p.clone(), vec![i])),
                }
            }
            // A prefixed signature with a literal needs both: `^GET\s…/etc/passwd` is no
            // candidate for every GET request.
            if let Some(lits) = s.literals.as_ref().filter(|_| s.literal_beyond_prefix()) {
                let pass = &mut passes[usize::from(s.prefixes.is_some())];
                lits.iter().for_each(|l| {
                    pass.0.push(l);
                    pass.1.push(i);
                });
            }
            if s.always_checked() {
                always.push(i);
            }
        }
        let [(any_pats, any_owner), (req_pats, req_owner)] = passes;
        let anywhere = LiteralPass::new(&any_pats, any_owner.clone());
        let anchored = LiteralPass::new(&req_pats, req_owner.clone());
        // Without its automaton a pass's signatures must always be checked, or matches would
        // be lost.
        if anywhere.is_none() {
            always.extend(any_owner);
        }
        if anchored.is_none() {
            always.extend(req_owner);
        }
        Group {
            buffer,
            anywhere,
            anchored,
            prefixed,
        }
    }

    /// Mark in `flags` what `view` shows of each member's prefixes and literals.
    fn mark(&self, view: &View<'_>, lower: &mut Vec<u8>, flags: &mut [u8]) {
        let mut any_start = false;
        for (prefixes, members) in &self.prefixed {
            let starts = |buf: &[u8]| {
                prefixes.iter().any(|p| {
                    buf.get(..p.len())
                        .is_some_and(|b| b.eq_ignore_ascii_case(p))
                })
            };
            if view.parts().any(starts) {
                members.iter().for_each(|&i| flags[i] |= NEED_PREFIX);
                any_start = true;
            }
        }
        let anchored = self.anchored.as_ref().filter(|_| any_start);
        if self.anywhere.is_none() && anchored.is_none() {
            return;
        }
        for buf in view.parts() {
            lower.clear();
            lower.extend(buf.iter().map(u8::to_ascii_lowercase));
            if let Some(p) = &self.anywhere {
                p.mark(lower, flags);
            }
            if let Some(p) = anchored {
                p.mark(lower, flags);
            }
        }
    }
}

/// Loaded signatures with their prefilter: one group per buffer the signatures inspect.
#[derive(Debug)]
pub struct SignatureSet {
    sigs: Vec<Signature>,
    groups: Vec<Group>,
    /// Per signature, what its buffer must show before its regex runs: `NEED_PREFIX`,
    /// `NEED_LITERAL`, both, or nothing (always checked).
    need: Vec<u8>,
    /// The signatures that alert once per flow.
    once_per_flow: Vec<RuleId>,
}

/// A buffer starts with one of the signature's prefixes.
const NEED_PREFIX: u8 = 1;

/// The views of one packet's buffers, by `Buffer::index`, each made at most once.
type Views<'a> = [Option<Option<View<'a>>>; Buffer::ALL.len()];

fn view_of<'v, 'a>(
    views: &'v mut Views<'a>,
    b: Buffer,
    d: &'a Decoded,
    payload: &'a [u8],
) -> Option<&'v View<'a>> {
    views[b.index()]
        .get_or_insert_with(|| b.view(d, payload))
        .as_ref()
}

/// Per-thread buffers `matches` reuses, so a payload costs no allocation unless it matches.
#[derive(Default)]
struct Scratch {
    lower: Vec<u8>,
    flags: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

impl SignatureSet {
    pub fn new(sigs: Vec<Signature>) -> Self {
        let mut always = Vec::new();
        let groups = Buffer::ALL
            .into_iter()
            .filter_map(|b| {
                let members: Vec<usize> =
                    (0..sigs.len()).filter(|&i| sigs[i].buffer == b).collect();
                (!members.is_empty()).then(|| Group::new(b, &sigs, &members, &mut always))
            })
            .collect();
        always.sort_unstable();
        always.dedup();
        let need = sigs
            .iter()
            .enumerate()
            .map(|(i, s)| match always.binary_search(&i) {
                Ok(_) => 0,
                Err(_) => {
                    (u8::from(s.prefixes.is_some()) * NEED_PREFIX)
                        | (u8::from(s.literal_beyond_prefix()) * NEED_LITERAL)
                }
            })
            .collect();
        let once_per_flow = sigs
            .iter()
            .filter(|s| s.once_per_flow)
            .map(|s| s.id)
            .collect();
        SignatureSet {
            sigs,
            groups,
            need,
            once_per_flow,
        }
    }

    /// Whether signature `id` alerts once per flow.
    pub fn once_per_flow(&self, id: RuleId) -> bool {
        self.once_per_flow.contains(&id)
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.sigs
    }
    pub fn len(&self) -> usize {
        self.sigs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }
    /// Whether the any-literal checks run as SIMD (Teddy) rather than through the automaton.
    pub fn simd_prefilter(&self) -> bool {
        self.groups
            .iter()
            .flat_map(|g| [&g.anywhere, &g.anchored])
            .flatten()
            .all(|p| matches!(p.any_literal, AnyLiteral::Teddy(_)))
    }
    /// Signatures the prefilter cannot skip.
    pub fn always_checked(&self) -> usize {
        self.need.iter().filter(|&&n| n == 0).count()
    }

    /// All signature matches of one packet, in signature order: prefilter, filters, regex.
    pub fn matches(&self, d: &Decoded, payload: &[u8]) -> Vec<Hit> {
        if payload.is_empty() || self.sigs.is_empty() {
            return Vec::new();
        }
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.matches_with(&mut s, d, payload),
            // Only a re-entrant call could find it borrowed; give that one fresh buffers.
            Err(_) => self.matches_with(&mut Scratch::default(), d, payload),
        })
    }

    fn matches_with(&self, s: &mut Scratch, d: &Decoded, payload: &[u8]) -> Vec<Hit> {
        let mut views: Views<'_> = Default::default();
        let Scratch { lower, flags } = s;
        flags.clear();
        flags.resize(self.sigs.len(), 0);
        for g in &self.groups {
            if let Some(v) = view_of(&mut views, g.buffer, d, payload) {
                g.mark(v, lower, flags);
            }
        }
        let mut hits = Vec::new();
        for (s, (&need, &has)) in self.sigs.iter().zip(self.need.iter().zip(flags.iter())) {
            if has & need == need && s.applies(d) {
                let hit = view_of(&mut views, s.buffer, d, payload).and_then(|v| s.find(v));
                hits.extend(hit);
            }
        }
        hits
    }

    /// The same matches as `matches`, one regex at a time with no prefilter (the reference).
    pub fn matches_reference(&self, d: &Decoded, payload: &[u8]) -> Vec<Hit> {
        if payload.is_empty() {
            return Vec::new();
        }
        self.sigs
            .iter()
            .filter(|s| s.applies(d))
            .filter_map(|s| s.find(&s.buffer.view(d, payload)?))
            .collect()
    }

    /// Push one alert per matching signature of the packet.
    pub fn check(&self, a: &Analyzed, out: &mut Vec<Alert>) {
        let payload = a.decoded.payload(&a.frame.data);
        for hit in self.matches(&a.decoded, payload) {
            if let Some(sig) = self.sigs.iter().find(|s| s.id == hit.id) {
                out.push(alert(sig, &hit, a));
            }
        }
    }
}

/// `bytes` with non-printable bytes escaped (`\x00`, `\r`, `\"`).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        for c in std::ascii::escape_default(b) {
            s.push(char::from(c));
        }
    }
    s
}

fn alert(sig: &Signature, hit: &Hit, a: &Analyzed) -> Alert {
    let matched = escape(&hit.matched);
    let mut explanation = format!("matched \"{matched}\" at offset {}", hit.offset);
    let _ = match (hit.buffer, hit.decoded) {
        (Buffer::Packet | Buffer::Stream, true) => {
            write!(explanation, " of the URL-decoded HTTP request")
        }
        (Buffer::Packet | Buffer::Stream, false) => write!(explanation, " of the payload"),
        (b, true) => write!(explanation, " of the URL-decoded {}", b.name()),
        (b, false) => write!(explanation, " of {}", b.name()),
    };
    let _ = write!(explanation, " (signature {} in {})", sig.id, sig.file);
    Alert {
        ts: a.frame.ts,
        rule: sig.id,
        description: sig.description.clone(),
        severity: sig.severity,
        category: sig.category.clone(),
        detector: Detector::Signature,
        packet: a.pcap_cnt,
        flow_id: None,
        explanation,
        evidence: json!({
            "buffer": hit.buffer.name(),
            "offset": hit.offset,
            "matched": matched,
            "decoded": hit.decoded,
            "pattern": sig.pattern,
        }),
    }
}

/// Where a signature detector finds the set in force: the pipeline's reloadable handle, or a
/// fixed set. Asked once per packet that carries payload.
pub trait SignatureSource: Send + Sync {
    /// The set in force now (cheap: one `Arc` clone).
    fn current(&self) -> Arc<SignatureSet>;
}

/// A set that never changes (tests, one-off matching).
#[derive(Debug, Clone)]
pub struct FixedSignatures(pub Arc<SignatureSet>);

impl SignatureSource for FixedSignatures {
    fn current(&self) -> Arc<SignatureSet> {
        self.0.clone()
    }
}

/// The `PacketDetector` over the current signature set.
pub struct SignatureDetector {
    handle: Arc<dyn SignatureSource>,
}

impl SignatureDetector {
    pub fn new(handle: Arc<dyn SignatureSource>) -> Self {
        SignatureDetector { handle }
    }
}

impl PacketDetector for SignatureDetector {
    fn name(&self) -> &'static str {
        "signature"
    }
    fn inspect(&self, a: &Analyzed, out: &mut Vec<Alert>) {
        // Most packets carry no payload: skip the shared lock for them.
        if !a.decoded.payload(&a.frame.data).is_empty() {
            self.handle.current().check(a, out);
        }
    }
}
