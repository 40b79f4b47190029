//! The hash table behind big hashes and sets (Redis's `hashtable` encoding).
//!
//! Entries live densely in a `Vec`, so a uniformly random element is one index away
//! (SRANDMEMBER, SPOP and HRANDFIELD stay O(1) per element on big collections) and an
//! entry costs its own size plus a 4-byte chain link. Buckets are power-of-two chains of
//! entry indexes, so HSCAN/SSCAN can use Redis's reverse-binary cursor: an element that
//! is present for the whole scan is returned at least once however the table is resized
//! between calls (an element's bucket depends only on its hash and the table size, never
//! on where the dense vector keeps it).
//!
//! Resizing rehashes in one go rather than incrementally as Redis does: a latency spike
//! on the insert that doubles a million-entry table, in exchange for a single table.

use std::hash::BuildHasher;
use std::sync::OnceLock;

/// An end of chain (and the limit on entries: 2^32 - 1, far past what memory allows).
const NONE: u32 = u32::MAX;
const MIN_BUCKETS: usize = 4;

/// What a table entry must expose: the bytes it is found by.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

impl Keyed for Box<[u8]> {
    fn key(&self) -> &[u8] {
        self
    }
}

/// One process-wide random seed: chains cannot be lengthened on purpose by clients that
/// do not know it, and a table needs no per-instance hasher state.
fn hash(key: &[u8]) -> u64 {
    static STATE: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    STATE.get_or_init(foldhash::fast::RandomState::default).hash_one(key)
}

#[derive(Clone, Debug)]
pub struct Dict<E> {
    entries: Vec<E>,
    /// `next[i]`: the entry after `entries[i]` in its bucket's chain.
    next: Vec<u32>,
    /// Index of the first entry of each bucket's chain.
    buckets: Box<[u32]>,
}

impl<E: Keyed> Default for Dict<E> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<E: Keyed> Dict<E> {
    pub fn with_capacity(n: usize) -> Self {
        let size = n.next_power_of_two().max(MIN_BUCKETS);
        Dict { entries: Vec::with_capacity(n), next: Vec::with_capacity(n), buckets: vec![NONE; size].into_boxed_slice() }
    }

    /// Bytes of the entry, chain and bucket arrays, not counting what entries point to
    /// (MEMORY USAGE).
    pub fn table_bytes(&self) -> usize {
        use crate::memory::accounting::alloc_size;
        alloc_size(self.entries.capacity() * std::mem::size_of::<E>()) + alloc_size(self.next.capacity() * 4) + alloc_size(self.buckets.len() * 4)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn bucket(&self, key: &[u8]) -> usize {
        hash(key) as usize & (self.buckets.len() - 1)
    }

    /// Index of the entry with this key.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let mut i = self.buckets[self.bucket(key)];
        while i != NONE {
            if self.entries[i as usize].key() == key {
                return Some(i as usize);
            }
            i = self.next[i as usize];
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<&E> {
        self.find(key).map(|i| &self.entries[i])
    }

    /// The entry at a dense index (`0..len`); with a random index, a fair random pick.
    pub fn at(&self, i: usize) -> &E {
        &self.entries[i]
    }

    /// Replaces the entry at `i` by one with the same key (a hash field's new value).
    pub fn replace_at(&mut self, i: usize, e: E) {
        debug_assert_eq!(self.entries[i].key(), e.key());
        self.entries[i] = e;
    }

    /// Adds an entry whose key the caller knows is absent.
    pub fn insert_new(&mut self, e: E) {
        debug_assert!(self.find(e.key()).is_none());
        if self.entries.len() >= self.buckets.len() {
            self.rehash(self.buckets.len() * 2);
        }
        let b = self.bucket(e.key());
        let i = self.entries.len() as u32;
        self.next.push(self.buckets[b]);
        self.buckets[b] = i;
        self.entries.push(e);
    }

    /// Removes and returns the entry with this key. The last entry moves into its slot.
    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let i = self.find(key)?;
        Some(self.remove_at(i))
    }

    /// Removes and returns the entry at dense index `i < len` (SPOP's random pick).
    pub fn remove_at(&mut self, i: usize) -> E {
        let cur = i as u32;
        self.relink(cur, self.next[i]);
        let last = (self.entries.len() - 1) as u32;
        if cur != last {
            // The last entry moves into slot `cur`: point its link there.
            self.relink(last, cur);
        }
        let e = self.entries.swap_remove(i);
        self.next.swap_remove(i);
        self.shrink_if_sparse();
        e
    }

    /// Makes the link (bucket head or chain link) that points at entry `from` point at
    /// `to` instead.
    fn relink(&mut self, from: u32, to: u32) {
        let b = self.bucket(self.entries[from as usize].key());
        if self.buckets[b] == from {
            self.buckets[b] = to;
            return;
        }
        let mut p = self.buckets[b];
        while self.next[p as usize] != from {
            p = self.next[p as usize];
        }
        self.next[p as usize] = to;
    }

    /// Gives memory back once a table is mostly empty (Redis shrinks below 10% fill).
    fn shrink_if_sparse(&mut self) {
        let n = self.entries.len();
        if self.buckets.len() > MIN_BUCKETS && n * 10 < self.buckets.len() {
            self.rehash(n.next_power_of_two().max(MIN_BUCKETS));
        }
        if self.entries.capacity() > 64 && n * 4 < self.entries.capacity() {
            self.entries.shrink_to(n * 2);
            self.next.shrink_to(n * 2);
        }
    }

    fn rehash(&mut self, size: usize) {
        self.buckets = vec![NONE; size].into_boxed_slice();
        for i in 0..self.entries.len() {
            let b = self.bucket(self.entries[i].key());
            self.next[i] = self.buckets[b];
            self.buckets[b] = i as u32;
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, E> {
        self.entries.iter()
    }

    /// Visits the entries of the bucket at `cursor` and returns the next cursor, 0 when
    /// the scan is complete (Redis's reverse-binary increment, as in the keyspace table).
    pub fn scan_step(&self, cursor: u64, mut f: impl FnMut(&E)) -> u64 {
        let mask = (self.buckets.len() - 1) as u64;
        let mut i = self.buckets[(cursor & mask) as usize];
        while i != NONE {
            f(&self.entries[i as usize]);
            i = self.next[i as usize];
        }
        (cursor | !mask).reverse_bits().wrapping_add(1).reverse_bits()
    }

    /// Panics unless every entry is reachable exactly once, from its own bucket.
    #[cfg(test)]
    pub fn check_invariants(&self) {
        assert_eq!(self.entries.len(), self.next.len());
        let mut seen = vec![false; self.entries.len()];
        for b in 0..self.buckets.len() {
            let mut i = self.buckets[b];
            while i != NONE {
                assert!(!seen[i as usize], "entry {i} linked twice");
                seen[i as usize] = true;
                assert_eq!(self.bucket(self.entries[i as usize].key()), b, "entry in the wrong bucket");
                i = self.next[i as usize];
            }
        }
        assert!(seen.iter().all(|s| *s), "unreachable entry");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn key(i: u32) -> Box<[u8]> {
        format!("k{i}").into_bytes().into_boxed_slice()
    }

    #[test]
    fn insert_find_remove_keep_links_consistent() {
        let mut d: Dict<Box<[u8]>> = Dict::default();
        for i in 0..1000 {
            d.insert_new(key(i));
        }
        d.check_invariants();
        for i in (0..1000).step_by(3) {
            assert_eq!(d.remove(&key(i)).as_deref(), Some(&*key(i)));
            assert!(d.remove(&key(i)).is_none());
        }
        d.check_invariants();
        for i in 0..1000 {
            assert_eq!(d.find(&key(i)).is_some(), i % 3 != 0, "{i}");
        }
        for i in 0..1000 {
            d.remove(&key(i));
        }
        assert!(d.is_empty());
        assert_eq!(d.buckets.len(), MIN_BUCKETS, "an emptied table shrinks");
        d.check_invariants();
    }

    #[test]
    fn scan_returns_stable_entries_across_resizes() {
        let mut d: Dict<Box<[u8]>> = Dict::default();
        for i in 0..500 {
            d.insert_new(key(i));
        }
        let (mut cursor, mut seen, mut calls) = (0u64, BTreeSet::new(), 0);
        loop {
            cursor = d.scan_step(cursor, |e| {
                seen.insert(e.clone());
            });
            calls += 1;
            if calls == 10 {
                (10_000..20_000).for_each(|i| d.insert_new(key(i)));
            }
            if calls == 3000 {
                (10_000..20_000).for_each(|i| {
                    d.remove(&key(i));
                });
            }
            if cursor == 0 {
                break;
            }
        }
        assert!((0..500).all(|i| seen.contains(&key(i))));
    }
}
