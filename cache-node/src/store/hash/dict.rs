//! The hash table behind big hashes and sets (Redis's `hashtable` encoding).
//!
//! Entries live densely in a `Vec`, so a uniformly random element is one index away
//! (SRANDMEMBER, SPOP and HRANDFIELD stay O(1) per element on big collections) and an
//! entry costs its own size plus a 4-byte chain link. Buckets are power-of-two chains of
//! entry indexes, so HSCAN/SSCAN can use Redis's reverse-binary cursor: an element that
//! is present for the whole scan is returned at least once however the table is resized
//! between calls (an element's bucket depends only on its hash and the table size, never
//! on where the dense vector keeps it). Each entry's hash is kept beside its link
//! (4 more bytes), so a chain walk compares keys only on a hash match and a resize never
//! hashes a key again.
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

/// The low 32 bits of a key's hash: its bucket is `hash & mask` (a table never has more
/// than 2^32 buckets), and the whole of it is a tag compared before the key.
type Hash32 = u32;

fn hash32(key: &[u8]) -> Hash32 {
    hash(key) as Hash32
}

/// An entry's chain link with its key's hash. Kept apart from the entries, so walking a
/// chain reads one small array and dereferences an entry's key only on a tag match (a
/// miss usually touches no key at all), and resizing never rehashes a key.
#[derive(Clone, Copy, Debug)]
struct Link {
    hash: Hash32,
    /// The entry after this one in its bucket's chain.
    next: u32,
}

/// Where an absent key would go: returned by `lookup`, spent by `insert_vacant`, so an
/// insert after a failed lookup does not hash the key again.
#[derive(Clone, Copy, Debug)]
pub struct Vacant(Hash32);

#[derive(Clone, Debug)]
pub struct Dict<E> {
    entries: Vec<E>,
    /// `links[i]`: `entries[i]`'s hash and chain link.
    links: Vec<Link>,
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
        Dict { entries: Vec::with_capacity(n), links: Vec::with_capacity(n), buckets: vec![NONE; size].into_boxed_slice() }
    }

    /// Bytes of the entry, chain and bucket arrays, not counting what entries point to
    /// (MEMORY USAGE).
    pub fn table_bytes(&self) -> usize {
        use crate::memory::accounting::alloc_size;
        alloc_size(self.entries.capacity() * std::mem::size_of::<E>())
            + alloc_size(self.links.capacity() * std::mem::size_of::<Link>())
            + alloc_size(self.buckets.len() * 4)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn bucket(&self, h: Hash32) -> usize {
        h as usize & (self.buckets.len() - 1)
    }

    /// Index of the entry with this key.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        self.lookup(key).ok()
    }

    /// Index of the entry with this key, or where to insert it.
    pub fn lookup(&self, key: &[u8]) -> Result<usize, Vacant> {
        let h = hash32(key);
        let mut i = self.buckets[self.bucket(h)];
        while i != NONE {
            let link = self.links[i as usize];
            if link.hash == h && self.entries[i as usize].key() == key {
                return Ok(i as usize);
            }
            i = link.next;
        }
        Err(Vacant(h))
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
        let v = Vacant(hash32(e.key()));
        self.insert_vacant(v, e);
    }

    /// Adds `e`, whose key `lookup` just did not find (no change to the table since).
    pub fn insert_vacant(&mut self, Vacant(h): Vacant, e: E) {
        debug_assert!(self.find(e.key()).is_none());
        debug_assert_eq!(h, hash32(e.key()));
        if self.entries.len() >= self.buckets.len() {
            self.rehash(self.buckets.len() * 2);
        }
        let b = self.bucket(h);
        let i = self.entries.len() as u32;
        self.links.push(Link { hash: h, next: self.buckets[b] });
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
        self.relink(cur, self.links[i].next);
        let last = (self.entries.len() - 1) as u32;
        if cur != last {
            // The last entry moves into slot `cur`: point its link there.
            self.relink(last, cur);
        }
        let e = self.entries.swap_remove(i);
        self.links.swap_remove(i);
        self.shrink_if_sparse();
        e
    }

    /// Makes the link (bucket head or chain link) that points at entry `from` point at
    /// `to` instead.
    fn relink(&mut self, from: u32, to: u32) {
        let b = self.bucket(self.links[from as usize].hash);
        if self.buckets[b] == from {
            self.buckets[b] = to;
            return;
        }
        let mut p = self.buckets[b];
        while self.links[p as usize].next != from {
            p = self.links[p as usize].next;
        }
        self.links[p as usize].next = to;
    }

    /// Gives memory back once a table is mostly empty (Redis shrinks below 10% fill).
    fn shrink_if_sparse(&mut self) {
        let n = self.entries.len();
        if self.buckets.len() > MIN_BUCKETS && n * 10 < self.buckets.len() {
            self.rehash(n.next_power_of_two().max(MIN_BUCKETS));
        }
        if self.entries.capacity() > 64 && n * 4 < self.entries.capacity() {
            self.entries.shrink_to(n * 2);
            self.links.shrink_to(n * 2);
        }
    }

    fn rehash(&mut self, size: usize) {
        self.buckets = vec![NONE; size].into_boxed_slice();
        for (i, link) in self.links.iter_mut().enumerate() {
            let b = link.hash as usize & (size - 1);
            link.next = self.buckets[b];
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
            i = self.links[i as usize].next;
        }
        (cursor | !mask).reverse_bits().wrapping_add(1).reverse_bits()
    }

    /// Panics unless every entry is reachable exactly once, from its own bucket.
    #[cfg(test)]
    pub fn check_invariants(&self) {
        assert_eq!(self.entries.len(), self.links.len());
        let mut seen = vec![false; self.entries.len()];
        for b in 0..self.buckets.len() {
            let mut i = self.buckets[b];
            while i != NONE {
                assert!(!seen[i as usize], "entry {i} linked twice");
                seen[i as usize] = true;
                assert_eq!(self.links[i as usize].hash, hash32(self.entries[i as usize].key()), "stale hash");
                assert_eq!(self.bucket(self.links[i as usize].hash), b, "entry in the wrong bucket");
                i = self.links[i as usize].next;
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
    fn lookup_then_insert_vacant_across_growth() {
        let mut d: Dict<Box<[u8]>> = Dict::default();
        for i in 0..5000 {
            let k = key(i % 2500);
            match d.lookup(&k) {
                Ok(at) => assert_eq!(d.at(at), &k, "found the wrong entry"),
                Err(v) => d.insert_vacant(v, k),
            }
        }
        assert_eq!(d.len(), 2500);
        d.check_invariants();
        assert!((0..2500).all(|i| d.find(&key(i)).is_some()));
        assert!(d.find(&key(2500)).is_none());
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
