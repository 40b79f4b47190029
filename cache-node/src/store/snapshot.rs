//! Point-in-time snapshots without fork: copy a partition on its first touch.
//!
//! Redis forks and lets the kernel copy pages on write. We have many threads and our own
//! locks, so we do the same at partition granularity:
//!
//! 1. **The cut.** `Keyspace::begin_snapshot` takes every partition lock (the order all
//!    multi-partition commands use, so none is half done), starts a new generation, runs
//!    the caller's `at_cut` (which records the journal offset or switches AOF files at
//!    exactly this point) and lets go. Everything acknowledged before is in the snapshot;
//!    nothing after is.
//! 2. **Copy on first touch.** Every lock acquisition compares the partition's
//!    `saved_gen` with the running generation. The first one after the cut — a client's
//!    or the saver's — copies the partition's entries (keys, values, TTLs) into the
//!    snapshot's buffer before anything can change them, and marks it saved.
//! 3. **The saver** walks the partitions in order, taking each copy (making it itself
//!    when no client did), and serializes it outside every lock.
//!
//! A client pays at most one copy of one partition (1/64 of a database) per snapshot;
//! memory grows by the copies made but not yet written, at most the data set, as with
//! fork. See docs/architecture.md.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::keyspace::{Keyspace, PARTITIONS};
use super::partition::Partition;
use super::value::Value;

/// One key as it was at the cut.
pub struct Entry {
    pub key: Box<[u8]>,
    pub value: Value,
    pub expire_ms: Option<i64>,
}

#[derive(Default)]
pub struct Snapshots {
    /// Generation of the snapshot in progress; 0 when there is none.
    active: AtomicU64,
    last: AtomicU64,
    /// Copies made by lock acquisitions the saver has not taken yet.
    copies: Mutex<HashMap<(usize, usize), Vec<Entry>>>,
}

fn copy_entries(p: &Partition) -> Vec<Entry> {
    let mut out = Vec::with_capacity(p.len());
    // Keys already past their TTL are kept: the saver drops them against the cut's clock.
    p.for_each(i64::MIN, |k, v, at| out.push(Entry { key: k.into(), value: v.to_value(), expire_ms: at }));
    out
}

impl Snapshots {
    /// Called with every partition lock just taken (see keyspace.rs `acquire`).
    pub(super) fn on_lock(&self, db: usize, part: usize, p: &mut Partition) {
        let generation = self.active.load(Ordering::Acquire);
        if generation != 0 && p.saved_gen != generation {
            p.saved_gen = generation;
            let c = copy_entries(p);
            self.copies.lock().insert((db, part), c);
        }
    }

    pub fn in_progress(&self) -> bool {
        self.active.load(Ordering::Acquire) != 0
    }
}

/// A snapshot being taken. Yields every partition's entries as they were at the cut;
/// dropping it (finished or not) ends the snapshot.
pub struct SnapshotRun<'a> {
    ks: &'a Keyspace,
    next: (usize, usize),
    /// (keys, keys with a TTL) of each database at the cut (RESIZEDB hints).
    pub db_sizes: Vec<(u64, u64)>,
}

impl Keyspace {
    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshots.in_progress()
    }

    /// Starts a snapshot (see the module comment). `at_cut` runs while every partition is
    /// locked. None when another snapshot is in progress.
    pub fn begin_snapshot(&self, at_cut: impl FnOnce()) -> Option<SnapshotRun<'_>> {
        let mut all = self.lock_all();
        let s = &self.snapshots;
        if s.in_progress() {
            return None;
        }
        let generation = s.last.fetch_add(1, Ordering::Relaxed) + 1;
        s.active.store(generation, Ordering::Release);
        at_cut();
        // Keys that expired under these locks belong before the cut in the journal.
        all.flush_expired();
        let mut db_sizes = vec![(0u64, 0u64); self.databases()];
        for (db, p) in all.parts() {
            db_sizes[db].0 += p.len() as u64;
            db_sizes[db].1 += p.expires_len() as u64;
        }
        drop(all);
        Some(SnapshotRun { ks: self, next: (0, 0), db_sizes })
    }
}

impl SnapshotRun<'_> {
    /// The next partition's entries: (database, entries), in database order.
    pub fn next_part(&mut self) -> Option<(usize, Vec<Entry>)> {
        let (db, part) = self.next;
        if db >= self.ks.databases() {
            return None;
        }
        self.next = if part + 1 == PARTITIONS { (db + 1, 0) } else { (db, part + 1) };
        let taken = self.ks.snapshots.copies.lock().remove(&(db, part));
        let entries = match taken {
            Some(c) => c,
            None => {
                // Locking copies it unless a client did between the check and here.
                drop(self.ks.lock_part(db, part));
                self.ks.snapshots.copies.lock().remove(&(db, part)).unwrap_or_default()
            }
        };
        Some((db, entries))
    }
}

impl Drop for SnapshotRun<'_> {
    fn drop(&mut self) {
        let s = &self.ks.snapshots;
        s.active.store(0, Ordering::Release);
        s.copies.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::partition::Ttl;

    fn collect(run: &mut SnapshotRun<'_>) -> Vec<(usize, Vec<u8>, Value)> {
        let mut out = Vec::new();
        while let Some((db, entries)) = run.next_part() {
            out.extend(entries.into_iter().map(|e| (db, e.key.to_vec(), e.value)));
        }
        out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out
    }

    #[test]
    fn snapshot_holds_the_data_at_the_cut_despite_later_writes() {
        let ks = Keyspace::new(2);
        for i in 0..500 {
            let k = format!("k{i}");
            ks.lock(i % 2, k.as_bytes()).set_str(k.as_bytes(), b"before", Ttl::Clear, 0);
        }
        let mut cut_ran = false;
        let mut run = ks.begin_snapshot(|| cut_ran = true).unwrap();
        assert!(cut_ran);
        assert!(ks.begin_snapshot(|| {}).is_none(), "one snapshot at a time");
        // Writes after the cut: overwrite half, delete some, add new keys, flush a db.
        for i in 0..250 {
            let k = format!("k{i}");
            ks.lock(i % 2, k.as_bytes()).set_str(k.as_bytes(), b"after", Ttl::Clear, 0);
        }
        ks.lock(0, b"new").set_str(b"new", b"x", Ttl::Clear, 0);
        drop(ks.lock_db(1).take_parts());
        let got = collect(&mut run);
        assert_eq!(got.len(), 500);
        assert!(got.iter().all(|(_, _, v)| *v == Value::Str(b"before".to_vec())));
        drop(run);
        assert!(!ks.snapshots.in_progress());
        // A second snapshot sees the new state.
        let mut run = ks.begin_snapshot(|| {}).unwrap();
        let got = collect(&mut run);
        assert_eq!(got.len(), 250 + 1);
    }

    #[test]
    fn concurrent_writers_see_one_consistent_cut() {
        // Two counters always written together under one lock_keys: any snapshot must
        // hold equal values.
        let ks = std::sync::Arc::new(Keyspace::new(1));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (ks, stop) = (ks.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let v = n.to_string();
                    let mut l = ks.lock_keys(0, [&b"a"[..], b"zz"]);
                    l.part(0, b"a").set_str(b"a", v.as_bytes(), Ttl::Clear, 0);
                    l.part(0, b"zz").set_str(b"zz", v.as_bytes(), Ttl::Clear, 0);
                }
            })
        };
        for _ in 0..200 {
            let mut run = ks.begin_snapshot(|| {}).unwrap();
            let got = collect(&mut run);
            if got.len() == 2 {
                assert_eq!(got[0].2, got[1].2, "a torn snapshot");
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
    }
}
