//! Signature matching: payload regexes from `signatures/*.json`, matched raw and (for HTTP
//! requests) URL-decoded, in one multi-pattern pass; patterns anchored at the start of the
//! payload (`^(?:GET|POST)\s…`) are prefiltered by their first bytes alone.
//!
//! `SignatureDetector` is a `PacketDetector` run on every analysis worker. An Aho-Corasick
//! automaton over each signature's required literals picks candidates; only candidates (and the
//! signatures without a usable literal) run their full regex, after their protocol and port
//! filters. `matches_reference` runs every regex one at a time and must agree exactly. The set is
//! immutable; a reload builds a new one and swaps it in through `SignatureHandle`.

mod http;
pub mod literal;
mod load;

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
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

/// Loaded signatures with their prefilter.
#[derive(Debug)]
pub struct SignatureSet {
    sigs: Vec<Signature>,
    automaton: Option<AhoCorasick>,
    /// Automaton pattern index → signature index.
    owner: Vec<usize>,
    always: Vec<usize>,
    /// Signatures with start prefixes, grouped by prefix list (many share the request
    /// methods), so each list is compared once per payload.
    prefixed: Vec<(Vec<Vec<u8>>, Vec<usize>)>,
}

impl SignatureSet {
    pub fn new(sigs: Vec<Signature>) -> Self {
        let mut patterns: Vec<&[u8]> = Vec::new();
        let mut owner = Vec::new();
        let mut always = Vec::new();
        let mut prefixed: Vec<(Vec<Vec<u8>>, Vec<usize>)> = Vec::new();
        for (i, s) in sigs.iter().enumerate() {
            match (&s.prefixes, &s.literals) {
                (Some(p), _) => match prefixed.iter_mut().find(|(q, _)| q == p) {
                    Some((_, members)) => members.push(i),
                    None => prefixed.push((p.clone(), vec![i])),
                },
                (None, Some(lits)) => lits.iter().for_each(|l| {
                    patterns.push(l);
                    owner.push(i);
                }),
                (None, None) => always.push(i),
            }
        }
        // A DFA: the overlapping walk (every literal must be seen) cannot use the prefilters,
        // so its per-byte cost is what counts, and a DFA's is a table lookup.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .ok();
        if automaton.is_none() {
            // Without an automaton every signature must be checked, or matches would be lost.
            always = (0..sigs.len()).collect();
        }
        SignatureSet {
            sigs,
            automaton,
            owner,
            always,
            prefixed,
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
    /// Signatures the prefilter cannot skip.
    pub fn always_checked(&self) -> usize {
        self.always.len()
    }

    /// All signature matches of one packet, in signature order: prefilter, filters, regex.
    pub fn matches(&self, d: &Decoded, payload: &[u8]) -> Vec<Hit> {
        if payload.is_empty() || self.sigs.is_empty() {
            return Vec::new();
        }
        let decoded = http::decoded_request(payload);
        let mut candidate = vec![false; self.sigs.len()];
        for &i in &self.always {
            candidate[i] = true;
        }
        for (prefixes, members) in &self.prefixed {
            let starts = |buf: &[u8]| {
                prefixes.iter().any(|p| {
                    buf.get(..p.len())
                        .is_some_and(|b| b.eq_ignore_ascii_case(p))
                })
            };
            if starts(payload) || decoded.as_deref().is_some_and(starts) {
                members.iter().for_each(|&i| candidate[i] = true);
            }
        }
        if let Some(ac) = &self.automaton {
            for buf in std::iter::once(payload).chain(decoded.as_deref()) {
                // Most payloads hold no literal at all; `is_match` finds that out with the
                // automaton's prefilter, which the overlapping walk cannot use.
                if !ac.is_match(buf) {
                    continue;
                }
                for m in ac.find_overlapping_iter(buf) {
                    if let Some(&i) = self.owner.get(m.pattern().as_usize()) {
                        candidate[i] = true;
                    }
                }
            }
        }
        let sigs = self
            .sigs
            .iter()
            .zip(candidate)
            .filter_map(|(s, c)| c.then_some(s));
        sigs.filter(|s| s.applies(d))
            .filter_map(|s| s.find(payload, decoded.as_deref()))
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

/// The current signature set, shared by every worker's detector and swapped whole on reload.
#[derive(Debug, Clone)]
pub struct SignatureHandle(Arc<RwLock<Arc<SignatureSet>>>);

impl SignatureHandle {
    pub fn new(set: SignatureSet) -> Self {
        SignatureHandle(Arc::new(RwLock::new(Arc::new(set))))
    }
    /// The set in force now; cheap (one `Arc` clone under a read lock).
    pub fn current(&self) -> Arc<SignatureSet> {
        // A poisoned lock still holds a complete set: replacing it is a single assignment.
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
    /// Swap in a reloaded set; packets in flight finish with the old one.
    pub fn replace(&self, set: SignatureSet) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
    }
}

/// The `PacketDetector` over the current signature set.
pub struct SignatureDetector {
    handle: SignatureHandle,
}

impl SignatureDetector {
    pub fn new(handle: SignatureHandle) -> Self {
        SignatureDetector { handle }
    }
}

impl PacketDetector for SignatureDetector {
    fn name(&self) -> &'static str {
        "signature"
    }
    fn inspect(&self, a: &Analyzed, out: &mut Vec<Alert>) {
        self.handle.current().check(a, out);
    }
}
