//! DNS tunnelling: data smuggled in query names under one parent domain — long or high-entropy
//! labels, hex or base32 labels as random as their alphabet allows (low-volume tunnels and
//! `dig $(… | base32).example`), NULL/TXT/CNAME queries, many unique subdomains.
//!
//! A `StatefulDetector` on the aggregator thread, keyed by registered domain (the last two
//! labels, three under common two-level public suffixes such as `co.uk`). Only queries count.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use serde_json::json;

use super::super::builtin;
use super::super::config::{DnsTunnelConfig, LimitsConfig};
use super::super::table::{capped_insert, Set, Table, Window};
use super::super::{FlowCtx, StatefulDetector};
use crate::engine::alert::Alert;
use crate::engine::record::Analyzed;

const SUBDOMAIN_CAP: usize = 4096;
/// Subdomains shorter than this are too short for their entropy to mean anything.
const ENTROPY_MIN_LEN: usize = 24;
/// Labels shorter than this carry too few characters to judge their randomness.
const ENCODED_MIN_LEN: usize = 16;
/// Share of the entropy a random string of the label's length and alphabet is expected to
/// reach; random hex and base32 labels of 32 characters reach it 99 times in 100.
const ENCODED_RANDOMNESS: f64 = 0.8;
/// Base32 and hex of random bytes hold few vowels (5 of 32 base32 characters, 2 of 16 hex
/// ones); words and names spelled in the same letters hold twice as many.
const ENCODED_MAX_VOWELS: f64 = 0.3;
const TWO_LEVEL_SUFFIXES: [&str; 20] = [
    "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "com.au", "net.au", "org.au", "co.jp", "ne.jp",
    "co.nz", "com.br", "com.cn", "co.in", "co.za", "com.mx", "com.tr", "co.kr", "com.sg", "com.hk",
];

/// The registered domain of `name` and the subdomain part before it, lower-cased; `None` for
/// names that cannot carry a tunnel (single labels, reverse lookups, mDNS).
pub fn split_domain(name: &str) -> Option<(String, String)> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 || name.ends_with(".arpa") || name.ends_with(".local") {
        return None;
    }
    let last2 = labels[labels.len() - 2..].join(".");
    let keep = if labels.len() >= 3 && TWO_LEVEL_SUFFIXES.contains(&last2.as_str()) {
        3
    } else {
        2
    };
    let keep = keep.min(labels.len());
    let parent = labels[labels.len() - keep..].join(".");
    let sub = labels[..labels.len() - keep].join(".");
    Some((parent, sub))
}

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| f64::from(c) / n)
        .map(|p| -p * p.log2())
        .sum()
}

/// The alphabet of `label` when it looks like encoded random bytes: hex or base32 (RFC 4648,
/// lower-cased), letters and digits mixed, few vowels, and a character entropy of at least
/// `ENCODED_RANDOMNESS` of what a random string of its length over its alphabet is expected to
/// reach (the log2 of the expected number of distinct characters). Judged per alphabet: a hex
/// label can never pass a fixed cut meant for base32 (at most 4 bits per character, not 5).
pub fn encoded_label(label: &str) -> Option<&'static str> {
    let n = label.len();
    if n < ENCODED_MIN_LEN {
        return None;
    }
    let bytes = label.as_bytes();
    let hex = bytes.iter().all(u8::is_ascii_hexdigit);
    let base32 = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(b));
    let (name, k) = match (hex, base32) {
        (true, _) => ("hex", 16.0_f64),
        (false, true) => ("base32", 32.0),
        _ => return None,
    };
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let vowels = bytes.iter().filter(|b| b"aeiou".contains(b)).count();
    if digits == 0 || digits == n || vowels as f64 > ENCODED_MAX_VOWELS * n as f64 {
        return None;
    }
    let len = i32::try_from(n).unwrap_or(i32::MAX);
    let distinct: f64 = k * (1.0 - (1.0 - 1.0 / k).powi(len));
    (entropy(label) >= ENCODED_RANDOMNESS * distinct.log2()).then_some(name)
}

#[derive(Default)]
struct Counts {
    queries: u32,
    suspicious: u32,
    /// Queries for a new subdomain with a hex or base32 label.
    encoded: u32,
    /// The alphabet of the last encoded label.
    alphabet: Option<&'static str>,
    null_type: u32,
    txt: u32,
    cname: u32,
    max_label: usize,
    max_entropy: f64,
    subdomains: Set<u64>,
}

struct Domain {
    window: Window,
    c: Counts,
}

pub struct DnsTunnelDetector {
    cfg: DnsTunnelConfig,
    domains: Table<String, Domain>,
}

impl DnsTunnelDetector {
    pub fn new(cfg: &DnsTunnelConfig, limits: &LimitsConfig) -> Self {
        DnsTunnelDetector {
            cfg: cfg.clone(),
            domains: Table::new(limits.max_entries, cfg.window_secs),
        }
    }

    fn query(
        &mut self,
        a: &Analyzed,
        client: IpAddr,
        name: &str,
        qtype: u16,
        out: &mut Vec<Alert>,
    ) {
        let Some((parent, sub)) = split_domain(name) else {
            return;
        };
        if sub.is_empty() {
            return;
        }
        let now = a.frame.ts;
        let longest = sub.split('.').map(str::len).max().unwrap_or(0);
        let flat: String = sub.chars().filter(|&ch| ch != '.').collect();
        let ent = if flat.len() >= ENTROPY_MIN_LEN {
            entropy(&flat)
        } else {
            0.0
        };
        let suspicious = longest > self.cfg.long_label || ent >= self.cfg.entropy;
        let alphabet = sub.split('.').find_map(encoded_label);
        let secs = self.cfg.window_secs;
        let d = self.domains.entry(parent.clone(), now, || Domain {
            window: Window::new(now),
            c: Counts::default(),
        });
        if d.window.roll(now, secs) {
            d.c = Counts::default();
        }
        let c = &mut d.c;
        c.queries += 1;
        c.suspicious += u32::from(suspicious);
        c.null_type += u32::from(qtype == 10 || qtype >= 65280);
        c.txt += u32::from(qtype == 16);
        c.cname += u32::from(qtype == 5);
        c.max_label = c.max_label.max(longest);
        c.max_entropy = c.max_entropy.max(ent);
        let mut h = DefaultHasher::new();
        sub.hash(&mut h);
        let before = c.subdomains.len();
        let new_sub = capped_insert(&mut c.subdomains, h.finish(), SUBDOMAIN_CAP) > before;
        if let (Some(alpha), true) = (alphabet, new_sub) {
            c.encoded += 1;
            c.alphabet = Some(alpha);
        }
        if d.window.alerted {
            return;
        }
        let Some(why) = verdict(&self.cfg, c) else {
            return;
        };
        d.window.alerted = true;
        let elapsed = d.window.elapsed(now);
        let c = &d.c;
        let explanation = format!(
            "{client} sent {} queries under {parent} in {elapsed:.0} s: {why} ({} unique subdomains, \
             {} long/high-entropy, {} {} encoded, {} NULL, {} TXT, {} CNAME; longest label {}, \
             max entropy {:.2}; thresholds {} suspicious, {} encoded, {} NULL, {} TXT, {} unique \
             in {secs} s)",
            c.queries,
            c.subdomains.len(),
            c.suspicious,
            c.encoded,
            c.alphabet.unwrap_or("hex/base32"),
            c.null_type,
            c.txt,
            c.cname,
            c.max_label,
            c.max_entropy,
            self.cfg.suspicious_queries,
            self.cfg.encoded_queries,
            self.cfg.null_queries,
            self.cfg.txt_queries,
            self.cfg.unique_subdomains,
        );
        let evidence = json!({
            "src": client.to_string(), "domain": parent, "reason": why, "queries": c.queries,
            "unique_subdomains": c.subdomains.len(), "suspicious_queries": c.suspicious,
            "encoded_queries": c.encoded, "encoded_alphabet": c.alphabet,
            "null_queries": c.null_type, "txt_queries": c.txt, "cname_queries": c.cname,
            "longest_label": c.max_label, "max_entropy": c.max_entropy, "sample_query": name,
            "elapsed_secs": elapsed, "window_secs": secs,
            "thresholds": {
                "long_label": self.cfg.long_label, "entropy": self.cfg.entropy,
                "suspicious_queries": self.cfg.suspicious_queries,
                "encoded_queries": self.cfg.encoded_queries, "null_queries": self.cfg.null_queries,
                "txt_queries": self.cfg.txt_queries, "unique_subdomains": self.cfg.unique_subdomains,
            },
        });
        out.push(builtin::DNS_TUNNEL.alert(a, explanation, evidence));
    }
}

/// Why a domain's counts look like a tunnel, if they do.
fn verdict(cfg: &DnsTunnelConfig, c: &Counts) -> Option<&'static str> {
    let unique = c.subdomains.len();
    let odd_types = u64::from(c.txt + c.cname + c.null_type);
    if c.suspicious >= cfg.suspicious_queries {
        Some("long or high-entropy subdomains")
    } else if c.encoded >= cfg.encoded_queries {
        Some("hex or base32 subdomains as random as their alphabet allows")
    } else if c.null_type >= cfg.null_queries {
        Some("NULL/private-type queries")
    } else if c.txt >= cfg.txt_queries && unique >= cfg.txt_queries as usize {
        Some("TXT queries with distinct subdomains")
    } else if unique >= cfg.unique_subdomains
        && (c.suspicious > 0 || odd_types * 2 >= u64::from(c.queries))
    {
        Some("many unique subdomains")
    } else {
        None
    }
}

impl StatefulDetector for DnsTunnelDetector {
    fn name(&self) -> &'static str {
        "dns_tunnel"
    }

    fn observe(&mut self, a: &Analyzed, _flow: Option<&FlowCtx>, out: &mut Vec<Alert>) {
        let (Some(dns), Some(ip)) = (a.decoded.dns.as_deref(), a.decoded.ip.as_ref()) else {
            return;
        };
        if dns.is_response {
            return;
        }
        for q in &dns.questions {
            self.query(a, ip.src, &q.name, q.qtype, out);
        }
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("dns_tunnel.tracked", self.domains.len() as u64),
            ("dns_tunnel.expired", self.domains.expired()),
            ("dns_tunnel.dropped", self.domains.dropped()),
        ]
    }
}
