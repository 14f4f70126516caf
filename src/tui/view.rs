//! The packet table's view of the model: the sequence numbers of retained rows that pass the
//! current filter, maintained incrementally so each frame only looks at new rows.
//!
//! Owned and refreshed by the UI thread while it holds the model lock.

use std::collections::VecDeque;

use crate::engine::filter::Filter;
use crate::engine::model::Model;

#[derive(Debug, Clone, Default)]
pub struct FilteredView {
    filter: Option<Filter>,
    seqs: VecDeque<u64>,
    /// Next model sequence number not yet looked at.
    next: u64,
}

impl FilteredView {
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }
    /// Replace the filter; the next refresh re-evaluates every retained row.
    pub fn set_filter(&mut self, f: Option<Filter>) {
        self.filter = f;
        self.seqs.clear();
        self.next = 0;
    }
    /// Drop rows the model no longer retains and evaluate the rows added since last time.
    pub fn refresh(&mut self, m: &Model) {
        let first = m.first_seq();
        while self.seqs.front().is_some_and(|s| *s < first) {
            self.seqs.pop_front();
        }
        let start = self.next.max(first);
        let rows = m.rows();
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        for r in rows.iter().skip(skip) {
            if self.filter.as_ref().is_none_or(|f| f.matches(r)) {
                self.seqs.push_back(r.seq);
            }
        }
        self.next = m.next_seq();
    }
    pub fn len(&self) -> usize {
        self.seqs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }
    pub fn get(&self, i: usize) -> Option<u64> {
        self.seqs.get(i).copied()
    }
    /// Index of `seq`, or of the first row after it when it is gone.
    pub fn index_of(&self, seq: u64) -> usize {
        match self.seqs.binary_search(&seq) {
            Ok(i) | Err(i) => i,
        }
    }
    pub fn seqs(&self) -> &VecDeque<u64> {
        &self.seqs
    }
}
