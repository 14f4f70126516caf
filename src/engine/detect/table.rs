//! Bounded per-key state for the stateful detectors: a hash map with capture-time expiry and a
//! hard cap, plus the fixed-window bookkeeping the heuristics share.
//!
//! Used only on the aggregator thread. When the cap is reached, expired entries go first; if the
//! table is still full, the least recently seen quarter is evicted and counted as dropped, so a
//! flood of spoofed sources costs bounded memory and shows up in `counters()`.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::engine::frame::Ts;

/// The hasher of every detector table and set: keys are addresses and ports, which a remote
/// sender chooses, so it is keyed per process (ahash's `RandomState`) but much faster than SipHash.
pub(crate) type Hasher = ahash::RandomState;
/// A detector-side hash set.
pub(crate) type Set<T> = HashSet<T, Hasher>;

/// An empty detector-side hash set.
pub(crate) fn new_set<T>() -> Set<T> {
    HashSet::with_hasher(Hasher::new())
}

struct Entry<V> {
    value: V,
    last: Ts,
}

/// A capped map whose entries expire `ttl` after they were last touched.
pub(crate) struct Table<K, V> {
    map: HashMap<K, Entry<V>, Hasher>,
    cap: usize,
    ttl_ns: i64,
    expired: u64,
    dropped: u64,
}

impl<K: Hash + Eq + Clone, V> Table<K, V> {
    pub(crate) fn new(cap: usize, ttl_secs: u64) -> Self {
        Table {
            map: HashMap::with_hasher(Hasher::new()),
            cap: fitting_cap(cap),
            ttl_ns: i64::try_from(ttl_secs)
                .unwrap_or(i64::MAX / Ts::NANOS_PER_SEC)
                .saturating_mul(Ts::NANOS_PER_SEC),
            expired: 0,
            dropped: 0,
        }
    }

    /// The entry for `key`, created with `init` when absent; marks it seen at `now`.
    pub(crate) fn entry(&mut self, key: K, now: Ts, init: impl FnOnce() -> V) -> &mut V {
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.make_room(now);
        }
        let e = self.map.entry(key).or_insert_with(|| Entry {
            value: init(),
            last: now,
        });
        e.last = e.last.max(now);
        &mut e.value
    }

    /// Stop tracking `key`.
    pub(crate) fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }

    /// The entry for `key` if it is tracked, without creating it.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|e| &mut e.value)
    }

    /// Free room for at least an eighth of the cap, so a full table pays one scan per
    /// `cap / 8` new keys rather than one per key: expired entries first, then the least
    /// recently seen quarter.
    ///
    /// The survivors move to a fresh map sized for the cap. Removing them in place would leave
    /// tombstones, and once those used up the map's spare room, the map would double rather
    /// than rehash (it only rehashes in place below half full): every table at its cap held
    /// twice the buckets it needs, about 14 MB for each of the scan tables under a flood.
    fn make_room(&mut self, now: Ts) {
        let ttl = self.ttl_ns;
        let before = self.map.len();
        let live = |e: &Entry<V>| since(now, e.last) <= ttl;
        let mut lasts: Vec<Ts> = self
            .map
            .values()
            .filter(|e| live(e))
            .map(|e| e.last)
            .collect();
        let alive = lasts.len();
        let cutoff = (alive >= self.cap - self.cap / 8).then(|| {
            let nth = alive / 4;
            *lasts.select_nth_unstable(nth).1
        });
        drop(lasts);
        let fresh = HashMap::with_capacity_and_hasher(self.cap, self.map.hasher().clone());
        let old = std::mem::replace(&mut self.map, fresh);
        self.map.extend(
            old.into_iter()
                .filter(|(_, e)| live(e) && cutoff.is_none_or(|c| e.last > c)),
        );
        self.expired += (before - alive) as u64;
        self.dropped += (alive - self.map.len()) as u64;
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
    /// Entries removed at the cap while still live.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
    /// Entries removed because they had expired.
    pub(crate) fn expired(&self) -> u64 {
        self.expired
    }
}

/// The cap a table keeps: `cap`, or less when `cap` lies just above what a power-of-two
/// number of hash buckets holds. hashbrown fills at most 7/8 of its buckets, so the default
/// 65,536 entries would need 131,072 buckets, twice the memory of 57,344 entries in 65,536
/// buckets; under a flood of spoofed sources every table sits at its cap, and nine tables of
/// doubled buckets cost ~70 MB. Entries beyond are evicted and counted as for any cap.
fn fitting_cap(cap: usize) -> usize {
    let cap = cap.max(1);
    if cap < 64 {
        return cap;
    }
    let fits = cap.next_power_of_two() / 8 * 7;
    cap.min(fits)
}

/// A fixed window that restarts when a packet arrives after it has ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start: Ts,
    /// The window already raised its alert.
    pub(crate) alerted: bool,
}

impl Window {
    pub(crate) fn new(now: Ts) -> Self {
        Window {
            start: now,
            alerted: false,
        }
    }
    /// Restart the window when `now` is past its end; returns whether it restarted.
    pub(crate) fn roll(&mut self, now: Ts, secs: u64) -> bool {
        if since(now, self.start) > secs_ns(secs) || now < self.start {
            *self = Window::new(now);
            return true;
        }
        false
    }
    /// Seconds from the window's start to `now`.
    pub(crate) fn elapsed(&self, now: Ts) -> f64 {
        since(now, self.start) as f64 / 1e9
    }
}

/// Nanoseconds from `earlier` to `now`, never negative and never overflowing, whatever
/// timestamps a capture file holds.
pub(crate) fn since(now: Ts, earlier: Ts) -> i64 {
    now.0.saturating_sub(earlier.0).max(0)
}

#[cfg(test)]
#[test]
fn caps_fit_their_hash_buckets() {
    assert_eq!(fitting_cap(0), 1);
    assert_eq!(fitting_cap(10), 10);
    assert_eq!(fitting_cap(50_000), 50_000);
    assert_eq!(fitting_cap(65_536), 57_344);
    assert_eq!(fitting_cap(100_000), 100_000);
}

pub(crate) fn secs_ns(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / Ts::NANOS_PER_SEC)
        .saturating_mul(Ts::NANOS_PER_SEC)
}

/// Insert into a set that stops growing at `cap`; returns the set's size.
pub(crate) fn capped_insert<T: Hash + Eq>(set: &mut Set<T>, item: T, cap: usize) -> usize {
    if set.len() < cap {
        set.insert(item);
    }
    set.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Ts {
        Ts(s * Ts::NANOS_PER_SEC)
    }

    /// A flood of new keys keeps a table at its cap: its map never grows past the buckets the
    /// cap fits in (it doubled once its removals' tombstones used up the spare room).
    #[test]
    fn a_table_at_its_cap_never_outgrows_its_buckets() {
        let mut tb: Table<u32, u64> = Table::new(1024, 3600);
        let room = {
            for k in 0..896u32 {
                tb.entry(k, t(0), || 0);
            }
            tb.map.capacity()
        };
        assert_eq!(tb.len(), 896);
        for k in 896..200_000u32 {
            tb.entry(k, t(i64::from(k) / 1000), || 0);
            assert!(
                tb.map.capacity() <= room,
                "grew to {} at key {k}",
                tb.map.capacity()
            );
        }
        assert!(tb.dropped() > 190_000);
        assert!(tb.len() <= 896);
    }

    #[test]
    fn cap_evicts_expired_first_then_oldest_and_counts() {
        let mut tb: Table<u32, u32> = Table::new(8, 10);
        for k in 0..8 {
            *tb.entry(k, t(0), || 0) += 1;
        }
        *tb.entry(100, t(20), || 0) += 1;
        assert_eq!(tb.expired(), 8);
        assert_eq!(tb.len(), 1);
        for k in 0..7 {
            tb.entry(k, t(21 + i64::from(k)), || 0);
        }
        assert_eq!(tb.len(), 8);
        tb.entry(999, t(30), || 0);
        assert!(tb.dropped() >= 1);
        assert!(tb.len() <= 8);
        assert!(
            tb.get_mut(&100).is_none(),
            "the least recently seen entry goes first"
        );
    }

    #[test]
    fn window_rolls_after_its_length() {
        let mut w = Window::new(t(0));
        assert!(!w.roll(t(60), 60));
        assert!(w.roll(t(61), 60));
        assert_eq!(w.start, t(61));
    }
}
