//! The keyspace: `databases` logical databases, each split into `PARTITIONS`
//! partitions with a mutex each.
//!
//! A key's partition is the top bits of its hash, so both worker threads serve
//! requests in parallel and only collide when they touch the same partition at the same
//! moment. A command that touches several keys locks all of their partitions, always in
//! ascending (database, partition) order so that two such commands can never deadlock,
//! and runs while holding them: multi-key commands are atomic.
//!
//! Every lock goes through `acquire`, which is where the two cross-cutting duties sit:
//! a partition already held by the calling command's scope (scope.rs) is lent instead
//! of locked again, and a partition touched for the first time since a snapshot began
//! is copied for it first (snapshot.rs). Releasing a lock hands the keys that expired
//! under it to the write journal (`PartGuard`'s drop).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use super::partition::{PartStats, Partition};
use super::scope::{self, Lent, Lookup, Scope};
use super::snapshot::Snapshots;
use super::table::Hasher;
use super::value::ValueRef;

/// Partitions per database. A power of two; 64 keeps lock collisions between a handful
/// of worker threads rare while costing little memory per empty database.
pub const PARTITIONS: usize = 64;
const PART_SHIFT: u32 = 64 - PARTITIONS.trailing_zeros();
/// Low bits of a SCAN cursor that hold the partition index.
const PART_BITS: u32 = PARTITIONS.trailing_zeros();
const PART_MASK: u64 = PARTITIONS as u64 - 1;

/// Pads a partition lock to its own cache line so neighbours do not false-share.
#[repr(align(64))]
pub struct Slot(Mutex<Partition>);

pub struct Db {
    parts: Box<[Slot]>,
}

/// Receives the deletions the store makes on its own (keys whose TTL passed), in the
/// order they happen: it is called before the partition's lock is released.
pub trait Journal: Send + Sync {
    fn expired(&self, db: usize, keys: &[Box<[u8]>]);
}

pub struct Keyspace {
    dbs: Box<[Db]>,
    hasher: Hasher,
    journal: OnceLock<Arc<dyn Journal>>,
    pub(super) snapshots: Snapshots,
    /// Clients' WATCHed keys (watch.rs).
    pub watches: Arc<super::watch::Watches>,
    /// Lock acquisitions that found their partition held by another thread: the
    /// connection balancer reads it to tell workers that slow each other down on a hot
    /// key from workers that share the load (server/balance.rs).
    contended: AtomicU64,
}

/// A locked (or lent) partition.
pub struct PartGuard<'a> {
    inner: Inner<'a>,
    ks: &'a Keyspace,
    db: usize,
}

enum Inner<'a> {
    Own(MutexGuard<'a, Partition>),
    Lent(Lent),
}

impl std::ops::Deref for PartGuard<'_> {
    type Target = Partition;
    fn deref(&self) -> &Partition {
        match &self.inner {
            Inner::Own(g) => g,
            Inner::Lent(l) => l,
        }
    }
}

impl std::ops::DerefMut for PartGuard<'_> {
    fn deref_mut(&mut self) -> &mut Partition {
        match &mut self.inner {
            Inner::Own(g) => &mut *g,
            Inner::Lent(l) => &mut *l,
        }
    }
}

impl Drop for PartGuard<'_> {
    fn drop(&mut self) {
        // A lent partition stays locked by its scope, whose own guard reports later.
        if let Inner::Own(g) = &mut self.inner
            && !g.expired_log.is_empty()
        {
            self.ks.journal_expired(self.db, &mut g.expired_log);
        }
    }
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        let hasher = Hasher::with_seed(fastrand::u64(..));
        let dbs = (0..databases.max(1)).map(|_| Db { parts: (0..PARTITIONS).map(|_| Slot(Mutex::new(Partition::new(hasher)))).collect() }).collect();
        Keyspace { dbs, hasher, journal: OnceLock::new(), snapshots: Snapshots::default(), watches: Default::default(), contended: AtomicU64::new(0) }
    }

    /// Installs the journal that hears about expired keys (once, at start-up).
    pub fn set_journal(&self, journal: Arc<dyn Journal>) {
        let _ = self.journal.set(journal);
    }

    fn journal_expired(&self, db: usize, keys: &mut Vec<Box<[u8]>>) {
        // Still under the partition lock: an expiry is a change for WATCH.
        if !self.watches.is_idle() {
            for k in keys.iter() {
                self.watches.touch_deleted(db, k);
            }
        }
        if let Some(j) = self.journal.get() {
            j.expired(db, keys);
        }
        keys.clear();
    }

    /// The single way a partition is locked (see the module comment).
    fn acquire(&self, db: usize, part: usize) -> PartGuard<'_> {
        let inner = match scope::lend(self, (db, part)) {
            Lookup::Lent(l) => Inner::Lent(l),
            Lookup::NotHeld => {
                let slot = self.slot(db, part);
                // The uncontended path is the same single compare-and-swap as `lock`.
                let mut g = match slot.try_lock() {
                    Some(g) => g,
                    None => {
                        self.contended.fetch_add(1, Relaxed);
                        slot.lock()
                    }
                };
                self.snapshots.on_lock(db, part, &mut g);
                Inner::Own(g)
            }
        };
        PartGuard { inner, ks: self, db }
    }

    /// Hands the keys that expired in this thread's scope to the journal (between the
    /// commands of an atomic run, which share one scope).
    pub fn flush_expired_in_scope(&self) {
        scope::for_each_held(self, |db, part| {
            if !part.expired_log.is_empty() {
                self.journal_expired(db, &mut part.expired_log);
            }
        });
    }

    /// Locks the partitions of `pairs` for a whole command: the handler's own lock calls
    /// on this thread are served from them until the returned scope is dropped.
    pub fn scope<'k>(&self, pairs: impl IntoIterator<Item = (usize, &'k [u8])>) -> Scope<'_> {
        Scope::enter(self, self.lock_pairs(pairs))
    }

    /// A scope over every partition of one database (FLUSHDB).
    pub fn scope_db(&self, db: usize) -> Scope<'_> {
        Scope::enter(self, self.lock_db(db))
    }

    /// A scope over every partition (FLUSHALL, SWAPDB).
    pub fn scope_all(&self) -> Scope<'_> {
        Scope::enter(self, self.lock_all())
    }

    /// Lock acquisitions so far that had to wait for another thread.
    pub fn contended(&self) -> u64 {
        self.contended.load(Relaxed)
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Cache hints for a batch of keys known ahead, as (database, `key_hash`) (a
    /// replica applying its primary's stream, a pipeline of scripts): a first pass loads
    /// their bucket slots, a second their first nodes, so the memory waits of the batch
    /// overlap and the lookups find them in cache instead of waiting on memory twice
    /// each. A busy partition is skipped: a hint never waits.
    pub fn prefetch(&self, keys: &[(usize, u64)]) {
        for head in [false, true] {
            for &(db, hash) in keys {
                let Some(d) = self.dbs.get(db) else { continue };
                if let Some(p) = d.parts[(hash >> PART_SHIFT) as usize].0.try_lock() {
                    p.prefetch(hash, head);
                }
            }
        }
    }

    /// The hash `prefetch` takes.
    pub fn key_hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
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
        self.acquire(db, self.partition_of(key))
    }

    /// Locks one partition by index.
    pub fn lock_part(&self, db: usize, part: usize) -> PartGuard<'_> {
        self.acquire(db, part)
    }

    /// Locks every partition holding one of `keys` (all in database `db`).
    pub fn lock_keys<'k>(&self, db: usize, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        self.lock_pairs(keys.into_iter().map(|k| (db, k)))
    }

    /// Locks every partition holding one of the (database, key) pairs.
    pub fn lock_pairs<'k>(&self, pairs: impl IntoIterator<Item = (usize, &'k [u8])>) -> Locked<'_> {
        let mut pairs = pairs.into_iter();
        let (first, second) = (pairs.next(), pairs.next());
        let mut guards = SmallVec::new();
        // Most writes name one key: no list of partitions to sort and deduplicate.
        if let (Some((db, k)), None) = (first, second) {
            let p = self.partition_of(k);
            guards.push(((db, p), self.acquire(db, p)));
            return Locked { ks: self, guards };
        }
        let mut ids: SmallVec<[(usize, usize); 8]> = first.into_iter().chain(second).chain(pairs).map(|(db, k)| (db, self.partition_of(k))).collect();
        ids.sort_unstable();
        ids.dedup();
        guards.extend(ids.into_iter().map(|(db, p)| ((db, p), self.acquire(db, p))));
        Locked { ks: self, guards }
    }

    /// Locks every partition of one database.
    pub fn lock_db(&self, db: usize) -> Locked<'_> {
        let guards = (0..PARTITIONS).map(|p| ((db, p), self.acquire(db, p))).collect();
        Locked { ks: self, guards }
    }

    /// Locks every partition of every database (FLUSHALL, SWAPDB).
    pub fn lock_all(&self) -> Locked<'_> {
        let mut guards = SmallVec::new();
        for db in 0..self.dbs.len() {
            for p in 0..PARTITIONS {
                guards.push(((db, p), self.acquire(db, p)));
            }
        }
        Locked { ks: self, guards }
    }

    /// Sum of a per-partition quantity over one database, locking one partition at a time.
    pub fn sum_db(&self, db: usize, f: impl Fn(&Partition) -> usize) -> usize {
        (0..PARTITIONS).map(|p| f(&self.acquire(db, p))).sum()
    }

    /// One SCAN call over database `db`: visits live keys from `cursor` on until about
    /// `count` were seen (`count` is a hint, as in Redis) and returns the next cursor, 0
    /// when the scan is complete.
    ///
    /// The cursor is `inner << 6 | partition`: partitions are walked in order, each with
    /// its table's reverse-binary cursor (`Partition::scan_step`), one partition lock at
    /// a time. A key lives in a fixed partition, so a key present for the whole scan is
    /// returned at least once however the tables grow or shrink between calls.
    pub fn scan(&self, db: usize, cursor: u64, count: usize, now: i64, mut f: impl FnMut(&[u8], ValueRef<'_>)) -> u64 {
        let mut part = (cursor & PART_MASK) as usize;
        let mut inner = cursor >> PART_BITS;
        let mut seen = 0usize;
        // Bounds the work of one call when few buckets hold keys (Redis: count * 10).
        let mut steps = count.max(1).saturating_mul(10);
        loop {
            {
                let p = self.lock_part(db, part);
                if p.is_empty() {
                    // Nothing here can be "present for the whole scan"; skipping costs no step.
                    inner = 0;
                } else {
                    loop {
                        inner = p.scan_step(inner, now, |k, v| {
                            seen += 1;
                            f(k, v);
                        });
                        steps -= 1;
                        if inner == 0 || seen >= count || steps == 0 {
                            break;
                        }
                    }
                }
            }
            if inner == 0 {
                part += 1;
                if part == PARTITIONS {
                    return 0;
                }
            }
            if seen >= count || steps == 0 {
                // `inner` is below the bucket count of a table, so the shift cannot overflow.
                return inner << PART_BITS | part as u64;
            }
        }
    }

    /// A random live key of database `db` (None when it has none), choosing the
    /// partition in proportion to its size so every key has about the same chance.
    pub fn random_key(&self, db: usize, now: i64) -> Option<Vec<u8>> {
        // Each failed attempt deleted expired keys it met, so retries make progress.
        for _ in 0..100 {
            let mut sizes = [0usize; PARTITIONS];
            for (p, size) in sizes.iter_mut().enumerate() {
                *size = self.lock_part(db, p).len();
            }
            let total: usize = sizes.iter().sum();
            if total == 0 {
                return None;
            }
            let mut pick = fastrand::usize(..total);
            let part = sizes.iter().position(|&n| {
                if pick < n {
                    true
                } else {
                    pick -= n;
                    false
                }
            })?;
            if let Some(k) = self.lock_part(db, part).random_key(now) {
                return Some(k);
            }
        }
        None
    }
    /// (keys, keys with a TTL) of one database, locking one partition at a time.
    pub fn db_sizes(&self, db: usize) -> (usize, usize) {
        (0..PARTITIONS).fold((0, 0), |(k, x), p| {
            let g = self.acquire(db, p);
            (k + g.len(), x + g.expires_len())
        })
    }

    /// Keyspace-wide hit, miss and expiry counters (INFO stats), summed over every
    /// partition of every database, one lock at a time.
    pub fn stats(&self) -> PartStats {
        let mut total = PartStats::default();
        for db in 0..self.dbs.len() {
            for p in 0..PARTITIONS {
                let s = self.acquire(db, p).stats;
                total.hits += s.hits;
                total.misses += s.misses;
                total.expired += s.expired;
            }
        }
        total
    }

    /// Zeroes the counters `stats` sums (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        for db in 0..self.dbs.len() {
            for p in 0..PARTITIONS {
                self.acquire(db, p).stats = PartStats::default();
            }
        }
    }
}

/// A set of held partition locks, sorted by (database, partition).
pub struct Locked<'a> {
    ks: &'a Keyspace,
    guards: SmallVec<[((usize, usize), PartGuard<'a>); 4]>,
}

impl<'a> Locked<'a> {
    /// The partition of `key` in `db`. Panics only on a programming error: asking for a
    /// key that was not part of the lock request.
    pub fn part(&mut self, db: usize, key: &[u8]) -> &mut Partition {
        let id = (db, self.ks.partition_of(key));
        let i = self.guards.binary_search_by(|(k, _)| k.cmp(&id)).unwrap_or_else(|_| unreachable!("partition {id:?} was not locked"));
        &mut self.guards[i].1
    }

    /// Every locked partition with its (database, partition) id, in lock order.
    pub(super) fn parts_with_ids(&mut self) -> impl Iterator<Item = ((usize, usize), &mut Partition)> {
        self.guards.iter_mut().map(|(id, g)| (*id, &mut **g))
    }

    /// Hands the keys that expired under these locks to the journal now (the dispatcher
    /// does this before journaling the command itself, so a DEL of an expired key comes
    /// before the write that found it expired).
    pub fn flush_expired(&mut self) {
        for ((db, _), g) in self.guards.iter_mut() {
            if !g.expired_log.is_empty() {
                let ks = self.ks;
                ks.journal_expired(*db, &mut g.expired_log);
            }
        }
    }

    /// Every locked partition, in lock order.
    pub fn parts(&mut self) -> impl Iterator<Item = (usize, &mut Partition)> {
        self.guards.iter_mut().map(|((db, _), g)| (*db, &mut **g))
    }

    /// Empties every locked partition, keeping its statistics, and returns the old
    /// contents so the caller can free them after releasing the locks (FLUSHDB,
    /// FLUSHALL): other clients never wait for the memory to be freed.
    pub fn take_parts(&mut self) -> Vec<Partition> {
        let hasher = self.ks.hasher;
        self.guards
            .iter_mut()
            .map(|(_, g)| {
                let mut fresh = Partition::new(hasher);
                fresh.stats = g.stats;
                // Already copied for a snapshot in progress (if any): not again.
                fresh.saved_gen = g.saved_gen;
                std::mem::replace(&mut **g, fresh)
            })
            .collect()
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

    fn put(ks: &Keyspace, db: usize, k: &str, ttl: Ttl) {
        ks.lock(db, k.as_bytes()).set_str(k.as_bytes(), b"v", ttl, 0);
    }

    #[test]
    fn scan_returns_every_stable_key_while_tables_resize() {
        let ks = Keyspace::new(1);
        for i in 0..2000 {
            put(&ks, 0, &format!("stable{i}"), Ttl::Clear);
        }
        let mut seen = std::collections::HashSet::new();
        let (mut cursor, mut calls) = (0, 0);
        loop {
            cursor = ks.scan(0, cursor, 10, 0, |k, _| {
                seen.insert(k.to_vec());
            });
            calls += 1;
            // Grow every table, then shrink them again, between calls.
            if calls == 20 {
                (0..20_000).for_each(|i| put(&ks, 0, &format!("tmp{i}"), Ttl::Clear));
            }
            if calls == 400 {
                (0..20_000).for_each(|i| assert!(ks.lock(0, format!("tmp{i}").as_bytes()).remove(format!("tmp{i}").as_bytes(), 0)));
            }
            if cursor == 0 {
                break;
            }
            assert!(calls < 100_000, "scan does not terminate");
        }
        for i in 0..2000 {
            assert!(seen.contains(format!("stable{i}").as_bytes()), "missed stable{i}");
        }
    }

    #[test]
    fn scan_count_hint_empty_db_and_expired_keys() {
        let ks = Keyspace::new(2);
        assert_eq!(ks.scan(0, 0, 10, 0, |_, _| panic!("empty db")), 0, "an empty db completes in one call");
        for i in 0..100 {
            put(&ks, 1, &format!("k{i}"), if i < 50 { Ttl::At(10) } else { Ttl::Clear });
        }
        let mut n = 0;
        let next = ks.scan(1, 0, 1000, 100, |_, _| n += 1);
        assert_eq!((next, n), (0, 50), "expired keys are skipped");
        let mut n = 0;
        let next = ks.scan(1, 0, 5, 100, |_, _| n += 1);
        assert!(next != 0 && (5..50).contains(&n), "count is a hint: {n}");
        // Any cursor value is accepted, including ones from a larger table.
        ks.scan(1, u64::MAX, 10, 100, |_, _| {});
        assert_eq!(ks.sum_db(1, |p| p.len()), 100, "scan never deletes");
    }

    #[test]
    fn random_key_skips_and_reclaims_expired_keys() {
        let ks = Keyspace::new(1);
        assert_eq!(ks.random_key(0, 0), None);
        for i in 0..300 {
            put(&ks, 0, &format!("x{i}"), Ttl::At(10));
        }
        put(&ks, 0, "live", Ttl::Clear);
        assert_eq!(ks.random_key(0, 100), Some(b"live".to_vec()));
        for i in 0..300 {
            put(&ks, 0, &format!("x{i}"), Ttl::At(10));
        }
        ks.lock(0, b"live").remove(b"live", 0);
        assert_eq!(ks.random_key(0, 100), None);
    }

    #[test]
    fn take_parts_empties_and_keeps_stats() {
        let ks = Keyspace::new(2);
        for i in 0..100 {
            put(&ks, 0, &format!("a{i}"), Ttl::At(1000));
            put(&ks, 1, &format!("b{i}"), Ttl::Clear);
        }
        ks.lock(0, b"a1").get(b"a1", 0);
        let old = ks.lock_db(0).take_parts();
        assert_eq!(old.iter().map(Partition::len).sum::<usize>(), 100);
        drop(old);
        assert_eq!(ks.sum_db(0, |p| p.len() + p.expires_len()), 0);
        assert_eq!(ks.sum_db(0, |p| p.stats.hits as usize), 1);
        assert_eq!(ks.sum_db(1, |p| p.len()), 100);
        put(&ks, 0, "again", Ttl::At(5));
        assert_eq!(ks.sum_db(0, |p| p.len()), 1);
    }

    #[test]
    fn sizes_and_stats_sum_over_partitions() {
        let ks = Keyspace::new(2);
        for i in 0..100u32 {
            let k = format!("k{i}");
            let ttl = if i % 4 == 0 { Ttl::At(10_000) } else { Ttl::Clear };
            ks.lock(1, k.as_bytes()).set_str(k.as_bytes(), b"v", ttl, 0);
        }
        assert_eq!(ks.db_sizes(0), (0, 0));
        assert_eq!(ks.db_sizes(1), (100, 25));
        assert!(ks.lock(1, b"k1").get(b"k1", 0).is_some());
        assert!(ks.lock(1, b"nope").get(b"nope", 0).is_none());
        // k0 has expired by t=20000: a read deletes it and counts it.
        assert!(ks.lock(1, b"k0").get(b"k0", 20_000).is_none());
        let s = ks.stats();
        assert_eq!((s.hits, s.misses, s.expired), (1, 2, 1));
        ks.reset_stats();
        let s = ks.stats();
        assert_eq!((s.hits, s.misses, s.expired), (0, 0, 0));
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
