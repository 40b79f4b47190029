//! One partition of one database: a hash table of entries plus the index of entries
//! that carry a TTL. A partition is only touched under its mutex (see keyspace.rs), so
//! everything here is plain single-threaded code.

use super::access;
use super::node::{INLINE_MAX, Node, Payload};
use super::table::{Hasher, Table};
use super::value::{Value, ValueRef};

/// What a write does to the key's time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Remove any TTL (plain SET).
    Clear,
    /// Keep the current TTL (KEEPTTL, APPEND, INCR, SETRANGE...).
    Keep,
    /// Expire at this unix time in milliseconds.
    At(i64),
}

/// Counters kept under the partition lock (so they cost no atomic operations).
#[derive(Clone, Copy, Debug, Default)]
pub struct PartStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
}

pub struct Partition {
    table: Table,
    /// Entries with a TTL, for active expiry sampling; each such node stores its index.
    expires: Vec<Node>,
    pub stats: PartStats,
    /// Keys deleted because their TTL passed since the lock was taken. Whoever releases
    /// the lock hands them to the write journal (as DELs) before anyone else can write
    /// those keys, so replicas and the AOF see the deletion in the right order.
    pub expired_log: Vec<Box<[u8]>>,
    /// The snapshot generation this partition was last copied for (see snapshot.rs).
    pub saved_gen: u64,
}

/// LRU clock resolution is one second, 24 bits wide, as in Redis.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u64 & 0x00FF_FFFF) as u32
}

fn make_node(key: &[u8], value: Value, expire: Option<i64>, lru: u32) -> Node {
    match value {
        Value::Str(s) if s.len() <= INLINE_MAX => Node::new(key, Payload::Inline(&s), expire, lru),
        other => Node::new(key, Payload::Boxed(Box::new(other)), expire, lru),
    }
}

fn node_value<'a>(n: Node) -> ValueRef<'a> {
    match n.inline_value() {
        Some(s) => ValueRef::Str(s),
        None => match n.boxed() {
            Some(v) => ValueRef::from_value(v),
            None => ValueRef::Str(b""),
        },
    }
}

impl Partition {
    pub fn new(hasher: Hasher) -> Self {
        Partition { table: Table::new(hasher), expires: Vec::new(), stats: PartStats::default(), expired_log: Vec::new(), saved_gen: 0 }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Cache hints for a key about to be looked up (`hash` by the keyspace's hasher,
    /// which the table shares): its bucket slot, or with `head` its chain's first node.
    pub fn prefetch(&self, hash: u64, head: bool) {
        if head { self.table.prefetch_head(hash) } else { self.table.prefetch_slot(hash) }
    }

    /// The live node for `key`, deleting it first if its TTL has passed.
    fn live(&mut self, key: &[u8], now: i64) -> Option<Node> {
        let n = self.table.find(key)?;
        if let Some(at) = n.expire()
            && at < now
        {
            if super::limits::expired_still_present() {
                return Some(n);
            }
            if super::limits::keep_expired() {
                return None;
            }
            if let Some(n) = self.delete_node(key) {
                unsafe { n.free() }; // SAFETY: unlinked from the table and the TTL index; not used again.
            }
            self.note_expired(key);
            return None;
        }
        Some(n)
    }

    fn note_expired(&mut self, key: &[u8]) {
        self.stats.expired += 1;
        self.expired_log.push(key.into());
    }

    /// Unlinks `key`'s node from the table and the TTL index; the caller frees it.
    #[must_use]
    fn delete_node(&mut self, key: &[u8]) -> Option<Node> {
        let n = self.table.remove(key)?;
        if n.has_expire() {
            self.unindex(n);
        }
        Some(n)
    }

    fn unindex(&mut self, n: Node) {
        let pos = n.xpos();
        self.expires.swap_remove(pos);
        if let Some(moved) = self.expires.get(pos) {
            moved.set_xpos(pos);
        }
    }

    fn index(&mut self, n: Node) {
        n.set_xpos(self.expires.len());
        self.expires.push(n);
    }

    /// Puts `new` in the table in place of `old` (same key) and fixes the TTL index.
    fn swap_node(&mut self, old: Node, new: Node) {
        let replaced = self.table.replace(new);
        debug_assert_eq!(replaced, Some(old));
        match (old.has_expire(), new.has_expire()) {
            (true, true) => {
                let pos = old.xpos();
                new.set_xpos(pos);
                self.expires[pos] = new;
            }
            (true, false) => self.unindex(old),
            (false, true) => self.index(new),
            (false, false) => {}
        }
    }

    /// Read lookup: counts a keyspace hit or miss and touches the LRU clock.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<ValueRef<'_>> {
        match self.live(key, now) {
            Some(n) => {
                self.stats.hits += 1;
                n.set_lru(access::touched(n.lru(), now));
                Some(node_value(n))
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Read lookup that counts a keyspace hit or miss but leaves the LRU clock alone
    /// (Redis's LOOKUP_NOTOUCH: EXISTS, TYPE, TTL, OBJECT).
    pub fn get_notouch(&mut self, key: &[u8], now: i64) -> Option<ValueRef<'_>> {
        match self.live(key, now) {
            Some(n) => {
                self.stats.hits += 1;
                Some(node_value(n))
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Lookup without touching statistics or the LRU clock (TYPE, EXISTS, OBJECT...).
    pub fn peek(&mut self, key: &[u8], now: i64) -> Option<ValueRef<'_>> {
        self.live(key, now).map(node_value)
    }

    /// Whether the table holds `key`, even expired, without deleting it (WATCH).
    pub fn holds(&self, key: &[u8]) -> bool {
        self.table.find(key).is_some()
    }

    /// Whether the table holds `key` with a TTL that has passed (WATCH).
    pub fn holds_expired(&self, key: &[u8], now: i64) -> bool {
        self.table.find(key).and_then(|n| n.expire()).is_some_and(|at| at < now)
    }

    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        self.live(key, now).is_some()
    }

    /// Seconds since the key was last accessed, by the LRU clock.
    pub fn idle_secs(&mut self, key: &[u8], now: i64) -> Option<u64> {
        let n = self.live(key, now)?;
        let clock = lru_clock(now);
        let lru = n.lru();
        Some(if clock >= lru { u64::from(clock - lru) } else { u64::from(clock + 0x0100_0000 - lru) })
    }

    /// Sets how long `key` reads as idle (RESTORE IDLETIME), as Redis: the LRU clock is
    /// moved back by `secs` (modulo its 24-bit range).
    pub fn set_idle_secs(&mut self, key: &[u8], secs: u64, now: i64) -> bool {
        let Some(n) = self.live(key, now) else { return false };
        let clock = u64::from(lru_clock(now));
        n.set_lru(((clock + 0x0100_0000 - secs % 0x0100_0000) & 0x00FF_FFFF) as u32);
        true
    }

    /// "embstr"/"int" for strings kept in the entry, "raw" for strings on the heap.
    pub fn is_inline(&mut self, key: &[u8], now: i64) -> Option<bool> {
        self.live(key, now).map(|n| n.inline_value().is_some())
    }

    /// Mutable access for in-place updates. A short string is moved to the heap first
    /// (like Redis turning an embstr into a raw string when it is modified).
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        let n = self.live(key, now)?;
        n.set_lru(access::touched(n.lru(), now));
        let n = match n.inline_value() {
            Some(s) => {
                let boxed = Node::new(key, Payload::Boxed(Box::new(Value::Str(s.to_vec()))), n.expire(), n.lru());
                self.swap_node(n, boxed);
                unsafe { n.free() }; // SAFETY: replaced in the table and index by `boxed`; not used again.
                boxed
            }
            None => n,
        };
        // SAFETY: live node; the returned borrow is tied to `&mut self`, so no other
        // reference to the value can exist while it is used.
        unsafe { n.boxed_mut() }
    }

    /// Stores `value` under `key`, replacing whatever was there. Returns true when the
    /// key existed.
    pub fn set(&mut self, key: &[u8], value: Value, ttl: Ttl, now: i64) -> bool {
        self.put(key, ttl, now, |expire, lru| make_node(key, value, expire, lru))
    }

    /// Stores a string without building an owned value first (the SET fast path).
    pub fn set_str(&mut self, key: &[u8], value: &[u8], ttl: Ttl, now: i64) -> bool {
        if value.len() > INLINE_MAX {
            return self.set(key, Value::Str(value.to_vec()), ttl, now);
        }
        self.put(key, ttl, now, |expire, lru| Node::new(key, Payload::Inline(value), expire, lru))
    }

    /// Replaces or inserts the entry of `key` with the node `build` makes for the
    /// resulting expiry time. Returns true when the key existed.
    fn put(&mut self, key: &[u8], ttl: Ttl, now: i64, build: impl FnOnce(Option<i64>, u32) -> Node) -> bool {
        let mut old = self.live(key, now);
        if old.is_none() && super::limits::keep_expired() {
            // An expired entry a replica keeps (see limits.rs) is replaced, never doubled.
            old = self.table.find(key);
        }
        let expire = match ttl {
            Ttl::Clear => None,
            Ttl::Keep => old.and_then(|o| o.expire()),
            Ttl::At(at) => Some(at),
        };
        // Under LFU an overwrite keeps (and counts as an access to) the old frequency, as
        // Redis does; otherwise the entry starts a fresh clock.
        let bits = match old {
            Some(o) if access::lfu_mode() => access::touched(o.lru(), now),
            _ => access::fresh(now),
        };
        let node = build(expire, bits);
        match old {
            Some(old) => {
                self.swap_node(old, node);
                unsafe { old.free() }; // SAFETY: replaced by `node` in the table and index; not used again.
                true
            }
            None => {
                self.table.insert_new(node);
                if node.has_expire() {
                    self.index(node);
                }
                false
            }
        }
    }

    pub fn remove(&mut self, key: &[u8], now: i64) -> bool {
        match self.live(key, now) {
            Some(_) => {
                if let Some(n) = self.delete_node(key) {
                    unsafe { n.free() }; // SAFETY: unlinked from the table and the TTL index; not used again.
                }
                true
            }
            None => false,
        }
    }

    /// Removes the key and returns its value and expiry time.
    pub fn take(&mut self, key: &[u8], now: i64) -> Option<(Value, Option<i64>)> {
        self.live(key, now)?;
        let n = self.delete_node(key)?;
        let at = n.expire();
        // SAFETY: unlinked from the table and the TTL index; not used again.
        Some((unsafe { n.into_value() }, at))
    }

    /// `None` when the key does not exist, `Some(None)` when it has no TTL.
    pub fn expire_at(&mut self, key: &[u8], now: i64) -> Option<Option<i64>> {
        self.live(key, now).map(|n| n.expire())
    }

    /// Sets or clears the TTL of an existing key. Returns false when the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at: Option<i64>, now: i64) -> bool {
        let Some(n) = self.live(key, now) else {
            return false;
        };
        match (n.has_expire(), at) {
            (true, Some(at)) => n.set_expire_in_place(at),
            (false, None) => {}
            (_, at) => {
                // Adding or removing the TTL changes the entry's size: rebuild it,
                // moving (not copying) a heap value.
                let new = n.reshape(at);
                self.swap_node(n, new);
                unsafe { n.release_shell() }; // SAFETY: `new` owns the box now and replaced `n` everywhere.
            }
        }
        true
    }

    /// Deletes every key; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.table.len();
        self.expires.clear();
        // SAFETY: drain unlinks every node before handing it over; the index was cleared.
        self.table.drain(|n| unsafe { n.free() });
        n
    }

    /// One step of a SCAN over this partition (see Table::scan_step). Expired keys are
    /// skipped, not deleted, so a scan never mutates what it iterates.
    pub fn scan_step(&self, cursor: u64, now: i64, mut f: impl FnMut(&[u8], ValueRef<'_>)) -> u64 {
        self.table.scan_step(cursor, |n| {
            if n.expire().is_none_or(|at| at >= now) {
                f(n.key(), node_value(n));
            }
        })
    }

    pub fn for_each(&self, now: i64, mut f: impl FnMut(&[u8], ValueRef<'_>, Option<i64>)) {
        self.table.for_each(|n| {
            let at = n.expire();
            if at.is_none_or(|at| at >= now) {
                f(n.key(), node_value(n), at);
            }
        })
    }

    /// A random live key, deleting expired ones met on the way (bounded attempts).
    pub fn random_key(&mut self, now: i64) -> Option<Vec<u8>> {
        for _ in 0..100 {
            let n = self.table.random()?;
            match n.expire() {
                Some(at) if at < now && super::limits::keep_expired() => {}
                Some(at) if at < now => {
                    let key = n.key().to_vec();
                    if let Some(a) = self.delete_node(&key) {
                        unsafe { a.free() } // SAFETY: unlinked from the table and the TTL index.
                    }
                    self.note_expired(&key);
                }
                _ => return Some(n.key().to_vec()),
            }
        }
        None
    }

    /// Active expiry: checks up to `samples` random keys that have a TTL and deletes
    /// the expired ones. Returns (checked, expired).
    pub fn expire_sample(&mut self, samples: usize, now: i64) -> (usize, usize) {
        let mut checked = 0;
        let mut expired = 0;
        while checked < samples && !self.expires.is_empty() {
            let n = self.expires[fastrand::usize(..self.expires.len())];
            checked += 1;
            if n.expire().is_some_and(|at| at < now) {
                let key = n.key().to_vec();
                if let Some(n) = self.delete_node(&key) {
                    unsafe { n.free() }; // SAFETY: unlinked from the table and the TTL index; not used again.
                }
                self.expired_log.push(key.into_boxed_slice());
                expired += 1;
            }
        }
        self.stats.expired += expired as u64;
        (checked, expired)
    }

    /// The raw access bits of a live key (LRU clock or LFU stamp and counter), without
    /// touching them.
    pub fn access_bits(&mut self, key: &[u8], now: i64) -> Option<u32> {
        self.live(key, now).map(|n| n.lru())
    }

    /// Bytes of a live key's entry allocation (MEMORY USAGE).
    pub fn entry_size(&mut self, key: &[u8], now: i64) -> Option<usize> {
        self.live(key, now).map(|n| n.size())
    }

    /// Replaces the access bits of a live key (RESTORE FREQ).
    pub fn set_access_bits(&mut self, key: &[u8], bits: u32, now: i64) -> bool {
        let Some(n) = self.live(key, now) else { return false };
        n.set_lru(bits);
        true
    }

    /// Eviction sampling: calls `f(key, access bits, expiry)` for up to `n` random
    /// entries, drawn from every entry or (`volatile`) from those with a TTL. Entries
    /// may repeat; expired ones are included (they are the best candidates anyway).
    pub fn sample(&self, volatile: bool, n: usize, mut f: impl FnMut(&[u8], u32, Option<i64>)) {
        for _ in 0..n {
            let node = if volatile {
                if self.expires.is_empty() {
                    return;
                }
                self.expires[fastrand::usize(..self.expires.len())]
            } else {
                match self.table.random() {
                    Some(node) => node,
                    None => return,
                }
            };
            f(node.key(), node.lru(), node.expire());
        }
    }

    /// Evicts `key` (only if it has a TTL when `volatile`), logging it like an expired
    /// key so the journal records a DEL before the lock is released. Returns whether it
    /// was deleted.
    pub fn evict(&mut self, key: &[u8], volatile: bool) -> bool {
        match self.table.find(key) {
            Some(n) if !volatile || n.has_expire() => {}
            _ => return false,
        }
        if let Some(n) = self.delete_node(key) {
            unsafe { n.free() }; // SAFETY: unlinked from the table and the TTL index; not used again.
        }
        self.expired_log.push(key.into());
        true
    }

    /// Bytes of the key table's bucket array.
    pub fn table_bytes(&self) -> usize {
        self.table.bucket_bytes()
    }

    /// Bytes of the TTL index.
    pub fn expires_index_bytes(&self) -> usize {
        self.expires.capacity() * std::mem::size_of::<Node>()
    }

    /// Estimated heap bytes of entries and buckets (value contents of heap values excluded).
    pub fn bucket_bytes(&self) -> usize {
        self.table.bucket_bytes() + self.expires.capacity() * 8
    }

    /// Panics unless the table is well formed (see Table::check_invariants) and the TTL
    /// index holds exactly the table's nodes that have a TTL, each once, each storing
    /// its own position.
    #[cfg(test)]
    pub fn check_invariants(&self) {
        let nodes = self.table.check_invariants();
        let with_ttl = nodes.iter().filter(|n| n.has_expire()).count();
        assert_eq!(self.expires.len(), with_ttl, "TTL index size");
        for (i, n) in self.expires.iter().enumerate() {
            assert!(n.has_expire(), "indexed node without a TTL");
            assert_eq!(n.xpos(), i, "indexed node stores a stale position");
            assert_eq!(self.table.find(n.key()), Some(*n), "indexed node is not the table's node");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::node::census;

    fn p() -> Partition {
        Partition::new(Hasher::with_seed(7))
    }

    fn s(v: Option<ValueRef<'_>>) -> Option<Vec<u8>> {
        match v {
            Some(ValueRef::Str(s)) => Some(s.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn set_get_ttl_and_lazy_expiry() {
        let mut p = p();
        assert!(!p.set_str(b"a", b"1", Ttl::At(100), 0));
        assert_eq!(s(p.get(b"a", 50)), Some(b"1".to_vec()));
        assert_eq!(p.expire_at(b"a", 50), Some(Some(100)));
        assert_eq!(s(p.get(b"a", 100)), Some(b"1".to_vec()), "expires strictly after its time");
        assert_eq!(s(p.get(b"a", 101)), None);
        assert_eq!(p.len(), 0);
        assert_eq!(p.expires_len(), 0);
        assert_eq!(p.stats.expired, 1);
    }

    #[test]
    fn keep_ttl_and_ttl_changes_keep_index_consistent() {
        let mut p = p();
        for i in 0..100 {
            p.set_str(format!("k{i}").as_bytes(), b"v", Ttl::At(1000 + i), 0);
        }
        p.set_str(b"k5", b"w", Ttl::Keep, 0);
        assert_eq!(p.expire_at(b"k5", 0), Some(Some(1005)));
        p.set_str(b"k6", b"w", Ttl::Clear, 0);
        assert_eq!(p.expire_at(b"k6", 0), Some(None));
        assert!(p.set_expire(b"k7", None, 0));
        assert!(p.set_expire(b"k6", Some(5), 0));
        let long = vec![b'x'; 100];
        p.set(b"k8", Value::Str(long.clone()), Ttl::Keep, 0);
        if let Some(Value::Str(v)) = p.get_mut(b"k9", 0) {
            v.extend_from_slice(b"more");
        }
        assert_eq!(p.expires_len(), 99);
        // every indexed node knows its own position
        for (i, n) in p.expires.iter().enumerate() {
            assert_eq!(n.xpos(), i);
        }
        assert_eq!(s(p.get(b"k9", 0)), Some(b"vmore".to_vec()));
        assert_eq!(p.expire_at(b"k9", 0), Some(Some(1009)));
        let (checked, expired) = p.expire_sample(1000, 1_000_000);
        assert!(checked >= 99 && expired == 99);
        assert_eq!(p.len(), 1);
        assert!(p.contains(b"k7", 0));
    }

    #[test]
    fn get_notouch_counts_but_keeps_the_lru_clock() {
        let mut p = p();
        p.set_str(b"a", b"1", Ttl::Clear, 0);
        assert_eq!(s(p.get_notouch(b"a", 50_000)), Some(b"1".to_vec()));
        assert!(p.get_notouch(b"b", 50_000).is_none());
        assert_eq!((p.stats.hits, p.stats.misses), (1, 1));
        assert_eq!(p.idle_secs(b"a", 50_000), Some(50));
        p.get(b"a", 50_000);
        assert_eq!(p.idle_secs(b"a", 50_000), Some(0));
    }

    /// Regression: `live` dropped the node it unlinked on lazy expiry, leaking every
    /// key that expired by being read (found by valgrind).
    #[test]
    fn lazy_expiry_frees_the_entry() {
        let before = census::live();
        let mut p = p();
        p.set_str(b"a", b"short", Ttl::At(10), 0);
        p.set(b"b", Value::Str(vec![b'x'; 100]), Ttl::At(10), 0);
        p.set_str(b"c", b"short", Ttl::At(10), 0);
        assert_eq!(census::live(), (before.0 + 3, before.1 + 1));
        assert!(p.get(b"a", 11).is_none());
        assert!(p.peek(b"b", 11).is_none());
        assert!(!p.set_str(b"c", b"new", Ttl::Keep, 11));
        assert_eq!(census::live(), (before.0 + 1, before.1), "lazily expired entries are freed");
        assert_eq!((p.len(), p.expires_len(), p.stats.expired), (1, 0, 3));
        drop(p);
        assert_eq!(census::live(), before);
    }

    #[test]
    fn take_and_clear() {
        let mut p = p();
        p.set_str(b"x", b"y", Ttl::At(9), 0);
        assert_eq!(p.take(b"x", 0), Some((Value::Str(b"y".to_vec()), Some(9))));
        assert!(p.take(b"x", 0).is_none());
        p.set_str(b"x", b"y", Ttl::At(9), 0);
        p.set_str(b"z", b"y", Ttl::Clear, 0);
        assert_eq!(p.clear(), 2);
        assert!(p.is_empty() && p.expires_len() == 0);
    }
}
