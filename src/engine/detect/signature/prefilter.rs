//! The literal pass of the signature prefilter: a SIMD check that a lower-cased buffer holds
//! some required literal at all, then an Aho-Corasick walk that marks every signature whose
//! literal it meets.
//!
//! Built with a signature set on whichever thread loads signatures; run per packet on the
//! analysis workers.

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, MatchKind};

/// A buffer holds one of the signature's literals.
pub(super) const NEED_LITERAL: u8 = 2;

/// Whether a lower-cased payload holds any prefilter literal at all.
#[derive(Debug)]
pub(super) enum AnyLiteral {
    /// Teddy (SIMD) over the literals no other literal is part of: up to 128 of them.
    Teddy(packed::Searcher),
    /// More literals than Teddy takes: the automaton's own search.
    Automaton,
}

/// One multi-literal pass: a quick check that some literal is there, then an overlapping walk
/// that marks every signature whose literal it meets.
#[derive(Debug)]
pub(super) struct LiteralPass {
    /// Over the lower-cased literals, matched against the lower-cased payload.
    automaton: AhoCorasick,
    pub(super) any_literal: AnyLiteral,
    /// Automaton pattern index → signature index.
    owner: Vec<usize>,
}

impl LiteralPass {
    /// `None` when the automaton cannot be built (its signatures must then always be checked)
    /// or there is no literal to look for.
    pub(super) fn new(patterns: &[&[u8]], owner: Vec<usize>) -> Option<LiteralPass> {
        if patterns.is_empty() {
            return None;
        }
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
    pub(super) fn mark(&self, lower: &[u8], flags: &mut [u8]) {
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
