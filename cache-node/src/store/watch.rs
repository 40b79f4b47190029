//! WATCH: which clients watch which keys, and the "touch" that marks them.
//!
//! A write that changes a key touches it; every client watching the key gets its
//! dirty flag set and its next EXEC fails. Writers pay one relaxed load while nobody
//! watches anything (`is_idle`). That load cannot miss a WATCH that happened before the
//! write: WATCH registers while holding the key's partition lock, and writers touch
//! while still holding it, so the lock orders the two (see `commands/watch.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

/// One client's watch of one key.
#[derive(Debug)]
struct Entry {
    client: u64,
    dirty: Arc<AtomicBool>,
    /// The key existed but had expired when it was watched: its deletion is not a change
    /// (Redis 7.0 `watchedKey.expired`).
    expired: bool,
}

type Key = (usize, Box<[u8]>);

#[derive(Debug, Default)]
pub struct Watches {
    /// Entries in `map`; 0 lets writers skip the registry.
    count: AtomicUsize,
    map: Mutex<HashMap<Key, Vec<Entry>>>,
}

impl Watches {
    /// True while no client watches any key (the writers' fast path).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.count.load(Relaxed) == 0
    }

    /// Registers `client`'s watch of `key`; the caller holds the key's partition. Returns
    /// false when the client already watches it.
    pub fn watch(&self, db: usize, key: &[u8], client: u64, dirty: &Arc<AtomicBool>, expired: bool) -> bool {
        let mut map = self.map.lock();
        let list = map.entry((db, key.into())).or_default();
        if list.iter().any(|e| e.client == client) {
            return false;
        }
        list.push(Entry { client, dirty: dirty.clone(), expired });
        self.count.fetch_add(1, Relaxed);
        true
    }

    /// Drops `client`'s watches of `keys`.
    pub fn unwatch(&self, client: u64, keys: &[(usize, Box<[u8]>)]) {
        if keys.is_empty() {
            return;
        }
        let mut map = self.map.lock();
        for k in keys {
            if let Some(list) = map.get_mut(k) {
                let before = list.len();
                list.retain(|e| e.client != client);
                self.count.fetch_sub(before - list.len(), Relaxed);
                if list.is_empty() {
                    map.remove(k);
                }
            }
        }
    }

    /// A write changed `key`; `present` says whether it is in the table now (asked only
    /// for watches of keys that were already expired). The caller holds the partition.
    pub fn touch(&self, db: usize, key: &[u8], present: impl FnOnce() -> bool) {
        if self.is_idle() {
            return;
        }
        let mut map = self.map.lock();
        let Some(list) = map.get_mut(&(db, Box::<[u8]>::from(key))) else { return };
        let mut present = Some(present);
        let mut is_present = None;
        for e in list.iter_mut() {
            if e.expired {
                let p = *is_present.get_or_insert_with(|| present.take().is_some_and(|f| f()));
                if !p {
                    // The expired key is gone: logically nothing changed, but it is no
                    // longer "watched while expired".
                    e.expired = false;
                    continue;
                }
            }
            e.dirty.store(true, Relaxed);
        }
    }

    /// `touch` of a key that is gone (expired, evicted, flushed).
    pub fn touch_deleted(&self, db: usize, key: &[u8]) {
        self.touch(db, key, || false);
    }

    /// Every watched key of the databases `dbs` accepts (FLUSHDB, FLUSHALL, SWAPDB).
    pub fn keys_where(&self, dbs: impl Fn(usize) -> bool) -> Vec<(usize, Box<[u8]>)> {
        if self.is_idle() {
            return Vec::new();
        }
        self.map.lock().keys().filter(|(db, _)| dbs(*db)).cloned().collect()
    }

    /// Whether `client`'s watch of `key` was made while the key was expired.
    pub fn watched_expired(&self, db: usize, key: &[u8], client: u64) -> bool {
        self.map.lock().get(&(db, Box::<[u8]>::from(key))).and_then(|l| l.iter().find(|e| e.client == client)).is_some_and(|e| e.expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    #[test]
    fn touch_marks_only_the_watchers_of_that_key() {
        let w = Watches::default();
        assert!(w.is_idle());
        let (a, b) = (flag(), flag());
        assert!(w.watch(0, b"k", 1, &a, false));
        assert!(!w.watch(0, b"k", 1, &a, false), "a second WATCH of one key is one entry");
        assert!(w.watch(1, b"k", 2, &b, false));
        assert!(!w.is_idle());
        w.touch(0, b"other", || true);
        w.touch(2, b"k", || true);
        assert!(!a.load(Relaxed) && !b.load(Relaxed));
        w.touch(0, b"k", || true);
        assert!(a.load(Relaxed) && !b.load(Relaxed));
        w.unwatch(1, &[(0, b"k".as_slice().into())]);
        w.unwatch(2, &[(1, b"k".as_slice().into()), (1, b"never".as_slice().into())]);
        assert!(w.is_idle());
        assert!(w.keys_where(|_| true).is_empty());
    }

    #[test]
    fn an_expired_key_deleted_is_no_change_but_a_new_value_is() {
        let w = Watches::default();
        let a = flag();
        w.watch(0, b"k", 1, &a, true);
        assert!(w.watched_expired(0, b"k", 1));
        w.touch_deleted(0, b"k");
        assert!(!a.load(Relaxed));
        assert!(!w.watched_expired(0, b"k", 1), "after the deletion the key is simply absent");
        w.touch(0, b"k", || true);
        assert!(a.load(Relaxed));

        let b = flag();
        w.watch(0, b"j", 2, &b, true);
        w.touch(0, b"j", || true);
        assert!(b.load(Relaxed), "overwriting a still-present expired key is a change");
    }

    #[test]
    fn keys_where_filters_by_database() {
        let w = Watches::default();
        let a = flag();
        w.watch(0, b"x", 1, &a, false);
        w.watch(3, b"y", 1, &a, false);
        let got = w.keys_where(|db| db == 3);
        assert_eq!(got, vec![(3, b"y".as_slice().into())]);
    }
}
