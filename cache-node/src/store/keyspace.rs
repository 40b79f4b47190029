//! The keyspace: `databases` logical databases, each split into `PARTITIONS`
//! partitions with a mutex each.
//!
//! A key's partition is the top bits of its hash, so both worker threads serve
//! requests in parallel and only collide when they touch the same partition at the same
//! moment. A command that touches several keys locks all of their partitions, always in
//! ascending (database, partition) order so that two such commands can never deadlock,
//! and runs while holding them: multi-key commands are atomic.

use std::hash::BuildHasher;

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use super::partition::Partition;
use super::table::Hasher;

/// Partitions per database. A power of two; 64 keeps lock collisions between a handful
/// of worker threads rare while costing little memory per empty database.
pub const PARTITIONS: usize = 64;
const PART_SHIFT: u32 = 64 - PARTITIONS.trailing_zeros();

/// Pads a partition lock to its own cache line so neighbours do not false-share.
#[repr(align(64))]
pub struct Slot(Mutex<Partition>);

pub struct Db {
    parts: Box<[Slot]>,
}

pub struct Keyspace {
    dbs: Box<[Db]>,
    hasher: Hasher,
}

pub type PartGuard<'a> = MutexGuard<'a, Partition>;

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        let hasher = Hasher::with_seed(fastrand::u64(..));
        let dbs = (0..databases.max(1)).map(|_| Db { parts: (0..PARTITIONS).map(|_| Slot(Mutex::new(Partition::new(hasher)))).collect() }).collect();
        Keyspace { dbs, hasher }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Partition index of a key.
    pub fn partition_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) >> PART_SHIFT) as usize
    }

    fn slot(&self, db: usize, part: usize) -> &Mutex<Partition> {
        &self.dbs[db].parts[part].0
    }

    /// Locks the partition that holds `key`.
    pub fn lock(&self, db: usize, key: &[u8]) -> PartGuard<'_> {
        self.slot(db, self.partition_of(key)).lock()
    }

    /// Locks one partition by index.
    pub fn lock_part(&self, db: usize, part: usize) -> PartGuard<'_> {
        self.slot(db, part).lock()
    }

    /// Locks every partition holding one of `keys` (all in database `db`).
    pub fn lock_keys<'k>(&self, db: usize, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        self.lock_pairs(keys.into_iter().map(|k| (db, k)))
    }

    /// Locks every partition holding one of the (database, key) pairs.
    pub fn lock_pairs<'k>(&self, pairs: impl IntoIterator<Item = (usize, &'k [u8])>) -> Locked<'_> {
        let mut ids: SmallVec<[(usize, usize); 8]> = pairs.into_iter().map(|(db, k)| (db, self.partition_of(k))).collect();
        ids.sort_unstable();
        ids.dedup();
        let guards = ids.into_iter().map(|(db, p)| ((db, p), self.slot(db, p).lock())).collect();
        Locked { ks: self, guards }
    }

    /// Locks every partition of one database.
    pub fn lock_db(&self, db: usize) -> Locked<'_> {
        let guards = (0..PARTITIONS).map(|p| ((db, p), self.slot(db, p).lock())).collect();
        Locked { ks: self, guards }
    }

    /// Locks every partition of every database (FLUSHALL, SWAPDB).
    pub fn lock_all(&self) -> Locked<'_> {
        let mut guards = SmallVec::new();
        for db in 0..self.dbs.len() {
            for p in 0..PARTITIONS {
                guards.push(((db, p), self.slot(db, p).lock()));
            }
        }
        Locked { ks: self, guards }
    }

    /// Sum of a per-partition quantity over one database, locking one partition at a time.
    pub fn sum_db(&self, db: usize, f: impl Fn(&Partition) -> usize) -> usize {
        (0..PARTITIONS).map(|p| f(&self.slot(db, p).lock())).sum()
    }
}

/// A set of held partition locks, sorted by (database, partition).
pub struct Locked<'a> {
    ks: &'a Keyspace,
    guards: SmallVec<[((usize, usize), PartGuard<'a>); 8]>,
}

impl<'a> Locked<'a> {
    /// The partition of `key` in `db`. Panics only on a programming error: asking for a
    /// key that was not part of the lock request.
    pub fn part(&mut self, db: usize, key: &[u8]) -> &mut Partition {
        let id = (db, self.ks.partition_of(key));
        let i = self.guards.binary_search_by(|(k, _)| k.cmp(&id)).unwrap_or_else(|_| unreachable!("partition {id:?} was not locked"));
        &mut self.guards[i].1
    }

    /// Every locked partition, in lock order.
    pub fn parts(&mut self) -> impl Iterator<Item = (usize, &mut Partition)> {
        self.guards.iter_mut().map(|((db, _), g)| (*db, &mut **g))
    }

    /// Exchanges the contents of two databases. Both must be fully locked (lock_all).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        for p in 0..PARTITIONS {
            let ia = self.guards.binary_search_by(|(k, _)| k.cmp(&(a, p)));
            let ib = self.guards.binary_search_by(|(k, _)| k.cmp(&(b, p)));
            if let (Ok(ia), Ok(ib)) = (ia, ib) {
                let (lo, hi) = if ia < ib { (ia, ib) } else { (ib, ia) };
                let (left, right) = self.guards.split_at_mut(hi);
                std::mem::swap(&mut *left[lo].1, &mut *right[0].1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::partition::Ttl;

    #[test]
    fn multi_key_locking_and_swap() {
        let ks = Keyspace::new(2);
        {
            let mut l = ks.lock_keys(0, [&b"a"[..], b"b", b"a"]);
            l.part(0, b"a").set_str(b"a", b"1", Ttl::Clear, 0);
            l.part(0, b"b").set_str(b"b", b"2", Ttl::Clear, 0);
        }
        assert_eq!(ks.sum_db(0, |p| p.len()), 2);
        ks.lock_all().swap_dbs(0, 1);
        assert_eq!(ks.sum_db(0, |p| p.len()), 0);
        assert_eq!(ks.sum_db(1, |p| p.len()), 2);
        assert!(ks.lock(1, b"a").contains(b"a", 0));
    }

    #[test]
    fn threads_do_not_deadlock_on_overlapping_keys() {
        let ks = std::sync::Arc::new(Keyspace::new(1));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let ks = ks.clone();
                std::thread::spawn(move || {
                    for i in 0..2000u32 {
                        let a = format!("k{}", (i + t) % 50);
                        let b = format!("k{}", (i * 7 + t) % 50);
                        let mut l = ks.lock_keys(0, [a.as_bytes(), b.as_bytes()]);
                        l.part(0, a.as_bytes()).set_str(a.as_bytes(), b"x", Ttl::Clear, 0);
                        l.part(0, b.as_bytes()).remove(b.as_bytes(), 0);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
