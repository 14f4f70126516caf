//! A set of distinct values that holds its first few inline and moves to a hash set only past
//! them: the per-key sets of the detector tables (ports a source probed on one host, hosts a
//! source swept), of which a flood of spoofed sources creates one per packet, nearly all
//! holding one value.
//!
//! Used on the aggregator thread. Inline, a set costs no allocation and no hashing, and a
//! third of the memory of the hash set it replaces.

use std::hash::Hash;

use super::table::{new_set, Set};

/// Values kept inline before the set moves to the heap.
const INLINE: usize = 4;

pub(crate) enum SmallSet<T> {
    Empty,
    Inline {
        items: [T; INLINE],
        len: u8,
    },
    /// Boxed: the inline form is what nearly every set stays in, and it is the smaller.
    Heap(Box<Set<T>>),
}

impl<T: Copy + Eq + Hash> SmallSet<T> {
    pub(crate) fn new() -> Self {
        SmallSet::Empty
    }

    /// Forget every value; a set that moved to the heap keeps its allocation for the next window.
    pub(crate) fn clear(&mut self) {
        match self {
            SmallSet::Empty => {}
            SmallSet::Inline { .. } => *self = SmallSet::Empty,
            SmallSet::Heap(s) => s.clear(),
        }
    }

    /// Add `item` unless the set already holds `cap` values; returns the number held.
    pub(crate) fn insert_capped(&mut self, item: T, cap: usize) -> usize {
        match self {
            SmallSet::Empty => {
                if cap == 0 {
                    return 0;
                }
                *self = SmallSet::Inline {
                    items: [item; INLINE],
                    len: 1,
                };
                1
            }
            SmallSet::Inline { items, len } => {
                let n = usize::from(*len);
                if items[..n].contains(&item) || n >= cap {
                    return n;
                }
                if n < INLINE {
                    items[n] = item;
                    *len += 1;
                    return n + 1;
                }
                let mut s = new_set();
                s.extend(items.iter().copied());
                s.insert(item);
                let held = s.len();
                *self = SmallSet::Heap(Box::new(s));
                held
            }
            SmallSet::Heap(s) => {
                if s.len() < cap {
                    s.insert(item);
                }
                s.len()
            }
        }
    }

    /// The values, in no particular order.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = &T> + '_> {
        match self {
            SmallSet::Empty => Box::new(std::iter::empty()),
            SmallSet::Inline { items, len } => Box::new(items[..usize::from(*len)].iter()),
            SmallSet::Heap(s) => Box::new(s.iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_values_across_the_move_to_the_heap_and_honours_the_cap() {
        let mut s: SmallSet<u32> = SmallSet::new();
        for round in 0..2 {
            for v in [5, 5, 7, 9, 7, 11, 13, 5, 15, 17] {
                s.insert_capped(v, 100);
            }
            assert_eq!(s.iter().count(), 7, "round {round}");
            let mut got: Vec<u32> = s.iter().copied().collect();
            got.sort_unstable();
            assert_eq!(got, [5, 7, 9, 11, 13, 15, 17]);
            s.clear();
            assert_eq!(s.iter().count(), 0);
        }
        let mut capped: SmallSet<u32> = SmallSet::new();
        for v in 0..10 {
            capped.insert_capped(v, 3);
        }
        assert_eq!(capped.iter().count(), 3);
        let mut big: SmallSet<u32> = SmallSet::new();
        for v in 0..10 {
            big.insert_capped(v, 6);
        }
        assert_eq!(big.iter().count(), 6);
    }
}
