//! Eviction: keeps `used_memory` under `maxmemory` by deleting keys the policy chooses.
//!
//! Runs before every command that may grow memory (DENYOOM) and from the cron when
//! the limit was lowered. It samples `maxmemory-samples` keys from one non-empty
//! partition at a time (partitions are visited round-robin across every database; a
//! key's partition is a hash of it, so this is a random draw), feeds them to a pool of
//! the best candidates that persists between evictions, and deletes the best. Each
//! write therefore pays for a few sampled keys per key evicted: O(1) amortised.
//!
//! Partition locks are only held while sampling or deleting, never together with the
//! pool's lock, so eviction can run from any command without lock-order concerns.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::Mutex;
use smallvec::SmallVec;

use super::accounting;
use super::policy::{Candidate, Clock, Policy, Pool, score, time_limit_us};
use crate::config::Config;
use crate::server::state::Server;
use crate::store::PARTITIONS;

/// Redis's reply to a command that would grow memory while none can be freed.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Eviction settings (hot copies of the configuration), the candidate pool and the
/// counters.
#[derive(Debug, Default)]
pub struct Eviction {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU32,
    tenacity: AtomicU32,
    pool: Mutex<Pool>,
    /// The pool's floor (`Pool::floor`) plus one, 0 while the pool is not full:
    /// samplers read it without the pool's lock to skip hopeless samples.
    pool_floor: AtomicU64,
    /// Next (database * PARTITIONS + partition) to sample.
    cursor: AtomicUsize,
    /// Keys evicted since start or CONFIG RESETSTAT (INFO evicted_keys).
    pub evicted: AtomicU64,
}

/// What an eviction attempt achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or no limit applies).
    Ok,
    /// Still over, but the time budget ran out while keys were being evicted: the
    /// command goes ahead and the cron carries on.
    Running,
    /// Over the limit with nothing left that the policy may evict.
    Fail,
}

const POLICY_ORDER: [Policy; 8] = [
    Policy::NoEviction,
    Policy::AllKeysLru,
    Policy::VolatileLru,
    Policy::AllKeysLfu,
    Policy::VolatileLfu,
    Policy::AllKeysRandom,
    Policy::VolatileRandom,
    Policy::VolatileTtl,
];

impl Eviction {
    /// Re-reads the eviction parameters (start-up and CONFIG SET).
    pub fn configure(&self, c: &Config) {
        super::report::mark_startup();
        let policy = Policy::parse(c.str("maxmemory-policy")).unwrap_or(Policy::NoEviction);
        let old = self.policy();
        self.maxmemory.store(c.int("maxmemory").max(0) as u64, Relaxed);
        self.policy.store(POLICY_ORDER.iter().position(|p| *p == policy).unwrap_or(0) as u8, Relaxed);
        self.samples.store(c.int("maxmemory-samples").clamp(1, 64) as u32, Relaxed);
        self.tenacity.store(c.int("maxmemory-eviction-tenacity").clamp(0, 100) as u32, Relaxed);
        let int = |name| u32::try_from(c.int(name)).unwrap_or(u32::MAX);
        crate::store::access::configure(policy.lfu(), int("lfu-log-factor"), int("lfu-decay-time"));
        if old != policy {
            // Scores of another policy mean nothing under this one.
            self.pool.lock().clear();
            self.pool_floor.store(0, Relaxed);
        }
    }

    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Relaxed)
    }

    pub fn policy(&self) -> Policy {
        POLICY_ORDER[usize::from(self.policy.load(Relaxed)) % POLICY_ORDER.len()]
    }
}

/// Bytes that count against `maxmemory`: Redis's used_memory less what it does not count
/// for eviction, the replication stream kept for lagging replicas beyond the backlog
/// size (their output buffers). Evicting data because a replica is slow would not help it.
pub fn used_for_eviction() -> u64 {
    accounting::used().saturating_sub(crate::replication::backlog::retained_for_replicas())
}

/// The dispatcher's check before a DENYOOM command: true when the command must be
/// refused with `OOM`. Costs one atomic load while no limit is set.
#[inline]
pub fn refuse(srv: &Server, now_ms: i64) -> bool {
    if srv.eviction.maxmemory.load(Relaxed) == 0 {
        return false;
    }
    perform(srv, now_ms, None) == Outcome::Fail
}

/// Called by the cron: evicts down to a limit lowered at run time without waiting for
/// the next write. `budget_us` bounds the time spent.
pub fn cron(srv: &Server, now_ms: i64, budget_us: u64) {
    if srv.eviction.maxmemory.load(Relaxed) != 0 {
        perform(srv, now_ms, Some(budget_us));
    }
}

/// Evicts until memory is under the limit, the policy has nothing left, or the time
/// budget (`maxmemory-eviction-tenacity` unless given) is spent.
pub fn perform(srv: &Server, now_ms: i64, budget_us: Option<u64>) -> Outcome {
    let ev = &srv.eviction;
    let mut limit = ev.maxmemory.load(Relaxed);
    // A replica applies its primary's deletions instead (replica-ignore-maxmemory).
    if limit == 0 || crate::store::limits::keep_expired() || srv.replication.replica_mode.load(Relaxed) {
        return Outcome::Ok;
    }
    let mut used = used_for_eviction();
    if used <= limit {
        return Outcome::Ok;
    }
    let policy = ev.policy();
    if policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    let mut to_free = (used - limit) as i64;
    let budget = budget_us.or_else(|| time_limit_us(ev.tenacity.load(Relaxed)));
    let start = Instant::now();
    let mut freed = 0i64;
    let mut count = 0u64;
    while freed < to_free {
        // Measured on this thread, exactly: the global figure lags by its slack.
        let before = accounting::thread_net();
        if !evict_one(srv, policy, now_ms) {
            // What this thread freed is not all published yet: count it here.
            let now_used = (used_for_eviction() as i64).min(used as i64 - freed);
            return if now_used <= limit as i64 { Outcome::Ok } else { Outcome::Fail };
        }
        freed += before - accounting::thread_net();
        count += 1;
        if count.is_multiple_of(16) {
            // CONFIG SET maxmemory during a long pass: free for the new limit rather
            // than the old one, within the same time budget.
            let now_limit = ev.maxmemory.load(Relaxed);
            if now_limit != limit {
                limit = now_limit;
                used = used_for_eviction();
                if limit == 0 || used <= limit {
                    return Outcome::Ok;
                }
                to_free = (used - limit) as i64;
                freed = 0;
            }
            if budget.is_some_and(|b| start.elapsed().as_micros() as u64 >= b) {
                return Outcome::Running;
            }
        }
    }
    Outcome::Ok
}

/// Deletes one key chosen by `policy`; false when there is none to choose.
fn evict_one(srv: &Server, policy: Policy, now_ms: i64) -> bool {
    let volatile = policy.volatile();
    if policy.random() {
        let Some((db, key)) = next_samples(srv, volatile, 1, now_ms, policy).and_then(|mut v| v.pop()).map(|c| (c.db, c.key)) else {
            return false;
        };
        return delete(srv, db, &key, volatile);
    }
    // Every attempt adds a fresh sample to the pool and tries its best candidate, which
    // may have vanished since it was pooled: then the next attempt tries again.
    let samples = srv.eviction.samples.load(Relaxed) as usize;
    for _ in 0..64 {
        let found = next_samples(srv, volatile, samples, now_ms, policy);
        let best = {
            let mut pool = srv.eviction.pool.lock();
            for c in found.into_iter().flatten() {
                pool.offer(c.score, c.db, &c.key);
            }
            let best = pool.take_best();
            srv.eviction.pool_floor.store(pool.floor().map_or(0, |f| f.saturating_add(1)), Relaxed);
            best
        };
        match best {
            Some(c) if delete(srv, c.db, &c.key, volatile) => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

/// Samples up to `n` keys from the next partition (round-robin over every database)
/// that has candidates. None when no partition has any.
fn next_samples(srv: &Server, volatile: bool, n: usize, now_ms: i64, policy: Policy) -> Option<SmallVec<[Candidate; 8]>> {
    let ks = &srv.keyspace;
    let total = ks.databases() * PARTITIONS;
    let clock = Clock { now_ms, lfu_decay_minutes: crate::store::access::lfu_params().1 };
    for _ in 0..total {
        let at = srv.eviction.cursor.fetch_add(1, Relaxed) % total;
        let (db, part) = (at / PARTITIONS, at % PARTITIONS);
        let p = ks.lock_part(db, part);
        let available = if volatile { p.expires_len() } else { p.len() };
        if available == 0 {
            continue;
        }
        // Keys that could not enter the full pool are not copied.
        let floor = srv.eviction.pool_floor.load(Relaxed);
        let mut out = SmallVec::new();
        p.sample(volatile, n, |key, bits, expire| {
            let score = score(policy, bits, expire, clock);
            if floor == 0 || score >= floor || policy.random() {
                out.push(Candidate { score, db, key: key.into() });
            }
        });
        return Some(out);
    }
    None
}

/// Deletes one chosen key, journaling a DEL (the partition's expired log reaches the
/// journal before its lock is released), counting it and telling the hook.
fn delete(srv: &Server, db: usize, key: &[u8], volatile: bool) -> bool {
    let mut part = srv.keyspace.lock(db, key);
    let deleted = part.evict(key, volatile);
    if deleted {
        // WATCH must see the change before anyone else can take the partition.
        crate::commands::watch::touch_watched(srv, db, key);
    }
    drop(part);
    if deleted {
        srv.eviction.evicted.fetch_add(1, Relaxed);
        on_evicted(srv, db, key);
    }
    deleted
}

/// Keyspace notification of an eviction: the `evicted` event of the `e` class.
/// Blocked clients are deliberately not woken (the key is gone, not written).
pub fn on_evicted(srv: &Server, db: usize, key: &[u8]) {
    crate::server::pubsub::keyspace::notify_keyspace_event(srv, crate::server::pubsub::keyspace::class::EVICTED, "evicted", db, key);
}
