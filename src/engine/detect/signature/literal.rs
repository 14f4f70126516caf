//! Required-literal analysis of a signature's regex: byte strings at least one of which every
//! match must contain (compared ASCII-case-insensitively), for the Aho-Corasick prefilter.
//!
//! Also the start prefixes of patterns anchored at the start of the payload.
//!
//! Called when a signature set is built (on whichever thread loads signatures). A signature whose
//! regex yields neither goes to the always-check list instead.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Shorter literals would make the prefilter pass almost every payload.
pub const MIN_LITERAL: usize = 3;
/// More alternatives than this cost more in the automaton than they save.
const MAX_ALTERNATIVES: usize = 32;

/// Parse `pattern` the way `regex::bytes` compiles it with Unicode off.
pub fn parse(pattern: &str) -> Result<Hir, Box<regex_syntax::Error>> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(Box::new)
}

/// The prefilter literals of `hir` (lower-cased), or `None` when none is long enough.
pub fn required_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let req = required(hir)?;
    (score(&req) >= MIN_LITERAL).then_some(req)
}

fn score(alts: &[Vec<u8>]) -> usize {
    alts.iter().map(Vec::len).min().unwrap_or(0)
}

/// Tokens in nearly every HTTP request or response: a prefilter on them passes a third of all
/// payloads, so any other literal long enough is preferred (what Suricata's `fast_pattern`
/// choice does by hand in ET rules).
const COMMON: &[&[u8]] = &[
    b"http",
    b"http://",
    b"https://",
    b"user-agent:",
    b"host:",
    b"accept:",
    b"content-type:",
    b"content-length:",
    b"cookie:",
];

fn weak(alts: &[Vec<u8>]) -> bool {
    alts.iter().any(|l| COMMON.contains(&l.as_slice()))
}

/// The better of two requirements: not made of common protocol tokens (when the other is long
/// enough), then longer shortest literal, then fewer alternatives.
fn better(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    match (a, b) {
        (Some(a), Some(b)) if weak(&a) != weak(&b) => {
            let (strong, common) = if weak(&a) { (b, a) } else { (a, b) };
            Some(if score(&strong) >= MIN_LITERAL {
                strong
            } else {
                common
            })
        }
        (Some(a), Some(b)) => {
            let (sa, sb) = (score(&a), score(&b));
            if sb > sa || (sb == sa && b.len() < a.len()) {
                Some(b)
            } else {
                Some(a)
            }
        }
        (a, b) => a.or(b),
    }
}

/// The byte a node matches exactly once, folded to lower case (`[Ss]` → `s`).
fn single_byte(h: &Hir) -> Option<u8> {
    match h.kind() {
        HirKind::Literal(l) if l.0.len() == 1 => Some(l.0[0].to_ascii_lowercase()),
        HirKind::Class(Class::Bytes(c)) => {
            let mut bytes = c.ranges().iter().flat_map(|r| r.start()..=r.end());
            fold_pair(bytes.next(), bytes.next(), bytes.next())
        }
        HirKind::Class(Class::Unicode(c)) => {
            let mut chars = c.ranges().iter().flat_map(|r| r.start()..=r.end());
            let ascii = |ch: Option<char>| {
                ch.and_then(|ch| u8::try_from(u32::from(ch)).ok().filter(u8::is_ascii))
            };
            let (a, b, rest) = (chars.next(), chars.next(), chars.next());
            if a.is_some_and(|c| !c.is_ascii()) || b.is_some_and(|c| !c.is_ascii()) {
                return None;
            }
            fold_pair(ascii(a), ascii(b), rest.map(|_| 0))
        }
        HirKind::Capture(c) => single_byte(&c.sub),
        _ => None,
    }
}

/// One byte, or two bytes that are the same letter in both cases.
fn fold_pair(a: Option<u8>, b: Option<u8>, more: Option<u8>) -> Option<u8> {
    match (a, b, more) {
        (Some(a), None, None) => Some(a.to_ascii_lowercase()),
        (Some(a), Some(b), None) if a != b && a.eq_ignore_ascii_case(&b) => {
            Some(a.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// For a pattern anchored at the start of the payload (`^` without `(?m)`): the byte strings
/// (lower-cased) one of which every match begins with, e.g. the request methods of
/// `^(?:GET|POST)\s`. Checking a payload's first bytes is far cheaper than any scan, so such
/// signatures skip the automaton. `None` when the pattern is not anchored or its first
/// element is not a short list of literal alternatives of at least `MIN_LITERAL` bytes.
pub fn start_prefixes(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let HirKind::Concat(items) = hir.kind() else {
        return None;
    };
    let (first, rest) = items.split_first()?;
    if !matches!(first.kind(), HirKind::Look(regex_syntax::hir::Look::Start)) {
        return None;
    }
    let alts = prefix_alternatives(rest.first()?)?;
    (score(&alts) >= MIN_LITERAL && alts.len() <= MAX_ALTERNATIVES).then_some(alts)
}

/// Exact byte strings (lower-cased) a node matches: a literal, a run of single bytes, or an
/// alternation of those.
fn prefix_alternatives(h: &Hir) -> Option<Vec<Vec<u8>>> {
    match h.kind() {
        HirKind::Capture(c) => prefix_alternatives(&c.sub),
        HirKind::Alternation(branches) => union(branches, prefix_alternatives),
        HirKind::Literal(l) => Some(vec![l.0.to_ascii_lowercase()]),
        HirKind::Concat(items) => {
            let mut run = Vec::new();
            for item in items {
                match item.kind() {
                    HirKind::Literal(l) => run.extend(l.0.to_ascii_lowercase()),
                    _ => run.push(single_byte(item)?),
                }
            }
            Some(vec![run])
        }
        _ => single_byte(h).map(|b| vec![vec![b]]),
    }
}

fn required(h: &Hir) -> Option<Vec<Vec<u8>>> {
    match h.kind() {
        HirKind::Literal(l) => Some(vec![l.0.to_ascii_lowercase()]),
        HirKind::Class(_) => single_byte(h).map(|b| vec![vec![b]]),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Concat(items) => concat(items),
        HirKind::Alternation(branches) => {
            union(branches, required).filter(|alts| alts.len() <= MAX_ALTERNATIVES)
        }
        _ => None,
    }
}

/// Every branch's strings, sorted and deduplicated; `None` when a branch has none.
fn union(branches: &[Hir], of: fn(&Hir) -> Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let mut alts = Vec::new();
    for b in branches {
        alts.extend(of(b)?);
    }
    alts.sort();
    alts.dedup();
    Some(alts)
}

/// The best requirement of a sequence. Adjacent exact parts join up: `\$\{(?:env|sys)`
/// requires `${env` or `${sys`, better than the two-byte `${` or the short words alone.
fn concat(items: &[Hir]) -> Option<Vec<Vec<u8>>> {
    let mut best = None;
    // The exact strings the items since the last inexact one match (one of them).
    let mut runs: Vec<Vec<u8>> = vec![Vec::new()];
    let flush = |runs: &mut Vec<Vec<u8>>, best: Option<Vec<Vec<u8>>>| {
        let done = std::mem::replace(runs, vec![Vec::new()]);
        if done.iter().all(Vec::is_empty) {
            best
        } else {
            better(best, Some(done))
        }
    };
    for item in items {
        let exact = match item.kind() {
            HirKind::Literal(l) => Some(vec![l.0.to_ascii_lowercase()]),
            _ => single_byte(item)
                .map(|b| vec![vec![b]])
                .or_else(|| prefix_alternatives(item)),
        };
        match exact {
            Some(alts) if runs.len() * alts.len() <= MAX_ALTERNATIVES => {
                runs = runs
                    .iter()
                    .flat_map(|r| alts.iter().map(move |a| [r.as_slice(), a].concat()))
                    .collect();
                runs.sort();
                runs.dedup();
            }
            _ => {
                best = flush(&mut runs, best);
                best = better(best, required(item));
            }
        }
    }
    flush(&mut runs, best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        let hir = parse(p).unwrap();
        required_literals(&hir).map(|v| {
            v.into_iter()
                .map(|b| String::from_utf8(b).unwrap())
                .collect()
        })
    }

    #[test]
    fn extracts_the_longest_required_run_case_folded() {
        assert_eq!(
            lits(r"(?i)union\s+(all\s+)?select"),
            Some(vec!["select".into()])
        );
        assert_eq!(lits(r"(?i)\$\{jndi:"), Some(vec!["${jndi:".into()]));
        assert_eq!(
            lits(r"(?i)(cat|more|less)\s+/etc/passwd"),
            Some(vec!["/etc/passwd".into()])
        );
        assert_eq!(
            lits(r"(?i)<script|javascript:"),
            Some(vec!["<script".into(), "javascript:".into()])
        );
        assert_eq!(lits(r"(?i)sleep\(\s*\d+"), Some(vec!["sleep(".into()]));
        // Adjacent exact parts join: `${` with the lookup names, not the bare words.
        assert_eq!(
            lits(r"(?i)\$\{[^}]{0,40}\$\{(?:lower|env|::-)[^}]*\}"),
            Some(vec!["${::-".into(), "${env".into(), "${lower".into()])
        );
    }

    #[test]
    fn common_protocol_tokens_give_way_to_rarer_literals() {
        assert_eq!(
            lits(r"(?i)user-agent:[^\r\n]*sqlmap"),
            Some(vec!["sqlmap".into()])
        );
        assert_eq!(
            lits(r"(?i)(?:wget|curl)\s+https?://"),
            Some(vec!["curl".into(), "wget".into()])
        );
        // With nothing else long enough, the common token still beats no prefilter at all.
        assert_eq!(
            lits(r"(?i)user-agent:\s*x"),
            Some(vec!["user-agent:".into()])
        );
    }

    #[test]
    fn start_anchored_method_lists_become_prefixes() {
        let pre = |p: &str| {
            start_prefixes(&parse(p).unwrap()).map(|v| {
                v.into_iter()
                    .map(|b| String::from_utf8(b).unwrap())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            pre(r"(?i)^(?:GET|POST)\s[^\r\n]*union"),
            Some(vec!["get".into(), "post".into()])
        );
        assert_eq!(pre(r"^PASS\s+\S"), Some(vec!["pass".into()]));
        // Not anchored, anchored per line, or too short: no prefix.
        assert_eq!(pre(r"(?i)(?:GET|POST)\s"), None);
        assert_eq!(pre(r"(?m)^(?:GET|POST)\s"), None);
        assert_eq!(pre(r"^(?:GE|POST)\s"), None);
        assert_eq!(pre(r"(?i)^[A-Z]+\s"), None);
    }

    #[test]
    fn short_or_optional_literals_go_to_the_always_check_list() {
        assert_eq!(lits(r"(\.\./){3,}"), Some(vec!["../".into()]));
        assert_eq!(lits(r"a?bc?"), None);
        assert_eq!(lits(r"(?i)(abc)?\d+"), None);
        assert_eq!(lits(r"[a-z]{50,}"), None);
    }
}
