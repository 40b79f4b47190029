//! The sizes at which compact encodings convert to their general ones
//! (`hash-max-listpack-entries`, `set-max-intset-entries`, ...). Like Redis's, they can be
//! changed at run time; a change applies to later writes, and existing values are not
//! converted. The store knows no configuration, so the server sets these on load and on
//! CONFIG SET.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::hash::{MAX_PACKED_ENTRIES, MAX_PACKED_VALUE};
use super::set::MAX_INTSET_ENTRIES;
use super::zset::{MAX_PACK_ENTRIES, MAX_PACK_VALUE};

static HASH_ENTRIES: AtomicUsize = AtomicUsize::new(MAX_PACKED_ENTRIES);
static HASH_VALUE: AtomicUsize = AtomicUsize::new(MAX_PACKED_VALUE);
static SET_INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(MAX_INTSET_ENTRIES);
static ZSET_ENTRIES: AtomicUsize = AtomicUsize::new(MAX_PACK_ENTRIES);
static ZSET_VALUE: AtomicUsize = AtomicUsize::new(MAX_PACK_VALUE);

/// The thresholds in effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub set_intset_entries: usize,
    pub zset_entries: usize,
    pub zset_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_entries: MAX_PACKED_ENTRIES,
            hash_value: MAX_PACKED_VALUE,
            set_intset_entries: MAX_INTSET_ENTRIES,
            zset_entries: MAX_PACK_ENTRIES,
            zset_value: MAX_PACK_VALUE,
        }
    }
}

pub fn set(l: Limits) {
    HASH_ENTRIES.store(l.hash_entries, Relaxed);
    HASH_VALUE.store(l.hash_value, Relaxed);
    SET_INTSET_ENTRIES.store(l.set_intset_entries, Relaxed);
    ZSET_ENTRIES.store(l.zset_entries, Relaxed);
    ZSET_VALUE.store(l.zset_value, Relaxed);
}

pub fn hash_entries() -> usize {
    HASH_ENTRIES.load(Relaxed)
}
pub fn hash_value() -> usize {
    HASH_VALUE.load(Relaxed)
}
pub fn set_intset_entries() -> usize {
    SET_INTSET_ENTRIES.load(Relaxed)
}
pub fn zset_entries() -> usize {
    ZSET_ENTRIES.load(Relaxed)
}
pub fn zset_value() -> usize {
    ZSET_VALUE.load(Relaxed)
}

/// Set on a read-only replica: keys whose TTL passed read as missing but are not deleted
/// (the primary's DEL deletes them, so the data never differs from the primary's because
/// the two clocks disagree), and active expiry stops.
static KEEP_EXPIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_keep_expired(on: bool) {
    KEEP_EXPIRED.store(on, Relaxed);
}

pub fn keep_expired() -> bool {
    KEEP_EXPIRED.load(Relaxed)
}

thread_local! {
    static APPLYING_PRIMARY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (a command from this replica's primary) seeing keys whose TTL passed as
/// still there: the primary decides when they go and sends a DEL, so its commands must
/// find exactly what it had.
pub fn applying_primary_stream<T>(f: impl FnOnce() -> T) -> T {
    APPLYING_PRIMARY.with(|c| c.set(true));
    let out = f();
    APPLYING_PRIMARY.with(|c| c.set(false));
    out
}

/// Whether an expired key is to be treated as present right now (see above).
pub fn expired_still_present() -> bool {
    keep_expired() && APPLYING_PRIMARY.with(|c| c.get())
}
