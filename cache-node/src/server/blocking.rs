//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN...): who waits for which key, in
//! arrival order, and waking them when a write touches one of their keys.
//!
//! A blocking command that finds nothing registers its keys while it still holds their
//! partition locks, so a write that lands after the check always finds the registration
//! (no lost wake-up). A write signals its keys after it ran; only the earliest waiter of
//! a key is woken. It re-runs its command: served, it signals its keys again so the next
//! waiter looks; not served (another client took the data first), it re-registers with
//! its original place in line. First blocked, first served.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use tokio::sync::Notify;

/// One blocked client's place in line.
#[derive(Debug)]
pub struct Waiter {
    /// Arrival order: lower is served first.
    pub seq: u64,
    pub notify: Notify,
}

/// A key in a database.
type DbKey = (usize, Box<[u8]>);

#[derive(Default)]
pub struct Blocking {
    next_seq: AtomicU64,
    /// Registrations (key, waiter) currently held: writes skip the lock when it is 0.
    registered: AtomicUsize,
    queues: Mutex<HashMap<DbKey, Vec<Arc<Waiter>>>>,
}

impl Blocking {
    /// A new place at the end of the line.
    pub fn new_waiter(&self) -> Arc<Waiter> {
        Arc::new(Waiter { seq: self.next_seq.fetch_add(1, Relaxed), notify: Notify::new() })
    }

    /// Queues `waiter` on each key (once per key), ordered by arrival.
    pub fn register(&self, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
        let mut queues = self.queues.lock();
        for key in keys {
            let queue = queues.entry((db, key.clone().into_boxed_slice())).or_default();
            if queue.iter().any(|w| Arc::ptr_eq(w, waiter)) {
                continue;
            }
            let at = queue.partition_point(|w| w.seq < waiter.seq);
            queue.insert(at, waiter.clone());
            self.registered.fetch_add(1, Relaxed);
        }
    }

    pub fn unregister(&self, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
        let mut queues = self.queues.lock();
        for key in keys {
            let k = (db, key.clone().into_boxed_slice());
            if let Some(queue) = queues.get_mut(&k) {
                let before = queue.len();
                queue.retain(|w| !Arc::ptr_eq(w, waiter));
                self.registered.fetch_sub(before - queue.len(), Relaxed);
                if queue.is_empty() {
                    queues.remove(&k);
                }
            }
        }
    }

    /// Wakes the earliest client waiting on `key`, if any.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.registered.load(Relaxed) == 0 {
            return;
        }
        let queues = self.queues.lock();
        if let Some(first) = queues.get(&(db, Box::from(key))).and_then(|q| q.first()) {
            first.notify.notify_one();
        }
    }

    /// Wakes every waiter of every key (FLUSHALL, SWAPDB: any key may have changed).
    pub fn signal_all(&self) {
        if self.registered.load(Relaxed) == 0 {
            return;
        }
        for queue in self.queues.lock().values() {
            for w in queue {
                w.notify.notify_one();
            }
        }
    }

    /// Clients blocked right now (INFO clients `blocked_clients` counts clients, which
    /// the connections track; this counts registrations, for tests and fast paths).
    pub fn registrations(&self) -> usize {
        self.registered.load(Relaxed)
    }
}

/// What a blocked command carries between its attempts.
#[derive(Debug)]
pub struct BlockState {
    pub waiter: Arc<Waiter>,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    /// None: wait forever (timeout 0).
    pub deadline: Option<tokio::time::Instant>,
    /// Set by the connection when the deadline passed: the command's next run replies
    /// its timeout answer instead of blocking again.
    pub timed_out: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<Vec<u8>> {
        k.iter().map(|k| k.as_bytes().to_vec()).collect()
    }

    #[tokio::test]
    async fn only_the_earliest_waiter_of_a_key_is_woken_and_keeps_its_place() {
        let b = Blocking::default();
        let (first, second) = (b.new_waiter(), b.new_waiter());
        // The later waiter registers first: the line is by arrival, not registration.
        b.register(0, &keys(&["q"]), &second);
        b.register(0, &keys(&["q", "q"]), &first);
        assert_eq!(b.registrations(), 2);
        b.signal(0, b"q");
        // A stored permit: the wake-up is not lost even though nobody awaits yet.
        tokio::time::timeout(std::time::Duration::from_secs(1), first.notify.notified()).await.unwrap();
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), second.notify.notified()).await.is_err());
        b.signal(1, b"q");
        b.signal(0, b"other");
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), first.notify.notified()).await.is_err());
        b.unregister(0, &keys(&["q"]), &first);
        b.signal(0, b"q");
        tokio::time::timeout(std::time::Duration::from_secs(1), second.notify.notified()).await.unwrap();
        b.unregister(0, &keys(&["q", "never"]), &second);
        assert_eq!(b.registrations(), 0);
        assert!(b.queues.lock().is_empty());
    }
}
