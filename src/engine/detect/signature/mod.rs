//! Signature matching: payload regexes from `signatures/*.json`, matched raw and (for HTTP
//! requests) URL-decoded, in one multi-pattern pass; patterns anchored at the start of the
//! payload (`^(?:GET|POST)\s…`) are prefiltered by their first bytes as well.
//!
//! `SignatureDetector` is a `PacketDetector` run on every analysis worker. An Aho-Corasick
//! automaton over each signature's required literals picks candidates (on a lower-cased copy
//! of the payload, after a SIMD search says some literal is there at all); the anchored
//! signatures' literals have a pass of their own, run only on payloads that start the way
//! they must. Only candidates (and the signatures without a usable literal) run their full
//! regex, after their protocol and port filters. `matches_reference` runs every regex one at a
//! time and must agree exactly. The set is immutable; a reload builds a new one and swaps it in
//! through a `SignatureSource` (the pipeline's handle swaps a reloaded set in whole).

mod http;
pub mod literal;
mod load;

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, MatchKind};
use serde_json::json;

use super::PacketDetector;
use crate::engine::alert::{Alert, Detector, RuleId, Severity};
use crate::engine::packet::{Decoded, Proto};
use crate::engine::record::Analyzed;

pub use load::{RuleFiles, SignatureError};

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

    /// The signature's first match in `raw`, else in `decoded` (the URL-decoded request).
    fn find(&self, raw: &[u8], decoded: Option<&[u8]>) -> Option<Hit> {
        if let Some(m) = self.regex.find(raw) {
            return Some(Hit::new(self.id, m.start(), m.as_bytes(), false));
        }
        let m = self.regex.find(decoded?)?;
        Some(Hit::new(self.id, m.start(), m.as_bytes(), true))
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

/// One signature match in one payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: RuleId,
    pub offset: usize,
    /// Up to `QUOTE_LEN` bytes of the match.
    pub matched: Vec<u8>,
    /// The match is in the URL-decoded request, not the raw payload.
    pub decoded: bool,
}

impl Hit {
    fn new(id: RuleId, offset: usize, m: &[u8], decoded: bool) -> Self {
        Hit {
            id,
            offset,
            matched: m[..m.len().min(QUOTE_LEN)].to_vec(),
            decoded,
        }
    }
}

/// Whether a lower-cased payload holds any prefilter literal at all.
#[derive(Debug)]
enum AnyLiteral {
    /// Teddy (SIMD) over the literals no other literal is part of: up to 128 of them.
    Teddy(packed::Searcher),
    /// More literals than Teddy takes: the automaton's own search.
    Automaton,
}

/// One multi-literal pass: a quick check that some literal is there, then an overlapping walk
/// that marks every signature whose literal it meets.
#[derive(Debug)]
struct LiteralPass {
    /// Over the lower-cased literals, matched against the lower-cased payload.
    automaton: AhoCorasick,
    any_literal: AnyLiteral,
    /// Automaton pattern index → signature index.
    owner: Vec<usize>,
}

impl LiteralPass {
    /// `None` when the automaton cannot be built (its signatures must then always be checked).
    fn new(patterns: &[&[u8]], owner: Vec<usize>) -> Option<LiteralPass> {
        // A DFA: the overlapping walk (every literal must be seen) cannot use the prefilters,
        // so its per-byte cost is what counts, and a DFA's is a table lookup. Literals are
        // lower-cased and so is the payload: case-sensitive search is what Teddy can do.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(patterns)
            .ok()?;
        let any_literal = teddy(patterns).map_or(AnyLiteral::Automaton, AnyLiteral::Teddy);
        Some(LiteralPass {
            automaton,
            any_literal,
            owner,
        })
    }

    /// Set `NEED_LITERAL` in `flags` for every signature with a literal in `lower`.
    fn mark(&self, lower: &[u8], flags: &mut [u8]) {
        // Most payloads hold no literal at all; a search for any one finds that out several
        // times faster than the overlapping walk.
        let any = match &self.any_literal {
            AnyLiteral::Teddy(t) => t.find(lower).is_some(),
            AnyLiteral::Automaton => self.automaton.is_match(lower),
        };
        if !any {
            return;
        }
        for m in self.automaton.find_overlapping_iter(lower) {
            if let Some(f) = self
                .owner
                .get(m.pattern().as_usize())
                .and_then(|&i| flags.get_mut(i))
            {
                *f |= NEED_LITERAL;
            }
        }
    }
}

/// Loaded signatures with their prefilter.
#[derive(Debug)]
pub struct SignatureSet {
    sigs: Vec<Signature>,
    /// Literals of the signatures that may match anywhere: run on every payload.
    anywhere: Option<LiteralPass>,
    /// Literals of the anchored request signatures: run only on payloads that start with one
    /// of their prefixes (a request line), which keeps their short words (`and`, `php`, …)
    /// out of the pass every payload pays for.
    anchored: Option<LiteralPass>,
    /// Signatures with start prefixes, grouped by prefix list (many share the request
    /// methods), so each list is compared once per payload.
    prefixed: Vec<(Vec<Vec<u8>>, Vec<usize>)>,
    /// Per signature, what a payload must show before its regex runs: `NEED_PREFIX`,
    /// `NEED_LITERAL`, both, or nothing (always checked).
    need: Vec<u8>,
}

/// A payload starts with one of the signature's prefixes.
const NEED_PREFIX: u8 = 1;
/// A payload holds one of the signature's literals.
const NEED_LITERAL: u8 = 2;

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
        // (patterns, owners) for the anywhere pass [0] and the anchored pass [1].
        let mut passes: [(Vec<&[u8]>, Vec<usize>); 2] = Default::default();
        let mut always = Vec::new();
        let mut prefixed: Vec<(Vec<Vec<u8>>, Vec<usize>)> = Vec::new();
        for (i, s) in sigs.iter().enumerate() {
            if let Some(p) = &s.prefixes {
                match prefixed.iter_mut().find(|(q, _)| q == p) {
                    Some((_, members)) => members.push(i),
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
        SignatureSet {
            sigs,
            anywhere,
            anchored,
            prefixed,
            need,
        }
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
        [&self.anywhere, &self.anchored]
            .into_iter()
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
        let decoded = http::decoded_request(payload);
        let Scratch { lower, flags } = s;
        flags.clear();
        flags.resize(self.sigs.len(), 0);
        let mut any_start = false;
        for (prefixes, members) in &self.prefixed {
            let starts = |buf: &[u8]| {
                prefixes.iter().any(|p| {
                    buf.get(..p.len())
                        .is_some_and(|b| b.eq_ignore_ascii_case(p))
                })
            };
            if starts(payload) || decoded.as_deref().is_some_and(starts) {
                members.iter().for_each(|&i| flags[i] |= NEED_PREFIX);
                any_start = true;
            }
        }
        let anchored = self.anchored.as_ref().filter(|_| any_start);
        if self.anywhere.is_some() || anchored.is_some() {
            for buf in std::iter::once(payload).chain(decoded.as_deref()) {
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
        self.sigs
            .iter()
            .zip(self.need.iter().zip(flags.iter()))
            .filter(|&(s, (&need, &has))| has & need == need && s.applies(d))
            .filter_map(|(s, _)| s.find(payload, decoded.as_deref()))
            .collect()
    }

    /// The same matches as `matches`, one regex at a time with no prefilter (the reference).
    pub fn matches_reference(&self, d: &Decoded, payload: &[u8]) -> Vec<Hit> {
        if payload.is_empty() {
            return Vec::new();
        }
        let decoded = http::decoded_request(payload);
        self.sigs
            .iter()
            .filter(|s| s.applies(d))
            .filter_map(|s| s.find(payload, decoded.as_deref()))
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

/// Teddy over the literals that hold no shorter literal (a payload holds some literal exactly
/// when it holds one of those); `None` past 128 of them or when the CPU lacks SIMD.
fn teddy(literals: &[&[u8]]) -> Option<packed::Searcher> {
    let minimal = literals
        .iter()
        .enumerate()
        .filter(|&(i, l)| {
            !literals.iter().enumerate().any(|(j, m)| {
                j != i && m.len() <= l.len() && (m.len() < l.len() || j < i) && contains(l, m)
            })
        })
        .map(|(_, l)| *l);
    // Past Teddy's own limit of 64 patterns its buckets hold more each and verify more often,
    // yet up to 128 it still beats a byte-at-a-time automaton by several times.
    let mut b = packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .heuristic_pattern_limits(false)
        .builder();
    b.extend(minimal);
    b.build()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
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
    if hit.decoded {
        let _ = write!(explanation, " of the URL-decoded HTTP request");
    } else {
        let _ = write!(explanation, " of the payload");
    }
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
        evidence: json!({ "offset": hit.offset, "matched": matched, "decoded": hit.decoded, "pattern": sig.pattern }),
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
