//! Chained hash table of `Node`s with power-of-two bucket counts, like Redis's dict.
//!
//! Why not a general-purpose map: SCAN must return every key present for the whole
//! scan even while the table grows or shrinks, which the reverse-binary cursor over
//! power-of-two chained buckets guarantees; eviction and active expiry need random
//! sampling; and one pointer per bucket keeps memory per key low.

use std::hash::BuildHasher;

use super::node::Node;

pub type Hasher = foldhash::fast::FixedState;

const MIN_BUCKETS: usize = 4;

/// A cache prefetch hint: never faults, whatever `p` points at.
#[inline]
fn prefetch<T>(p: *const T) {
    // SAFETY: SSE is part of every x86_64 CPU, and a prefetch reads nothing (any
    // address is fine, even a freed or invalid one).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

pub struct Table {
    buckets: Box<[Option<Node>]>,
    len: usize,
    hasher: Hasher,
}

impl Table {
    pub fn new(hasher: Hasher) -> Self {
        Table { buckets: vec![None; MIN_BUCKETS].into_boxed_slice(), len: 0, hasher }
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    fn index(&self, hash: u64) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    /// Asks the CPU to start loading the bucket slot of `hash` (a hint: nothing is read).
    pub fn prefetch_slot(&self, hash: u64) {
        prefetch(self.buckets.as_ptr().wrapping_add(self.index(hash)));
    }

    /// Asks the CPU to start loading the first node of `hash`'s chain (reads the slot:
    /// best after `prefetch_slot`).
    pub fn prefetch_head(&self, hash: u64) {
        if let Some(n) = self.buckets[self.index(hash)] {
            // Its first 64 bytes (header and the start of the key) may span two lines.
            prefetch(n.addr());
            prefetch(n.addr().wrapping_add(63));
        }
    }

    pub fn find(&self, key: &[u8]) -> Option<Node> {
        let mut cur = self.buckets[self.index(self.hash(key))];
        while let Some(n) = cur {
            if n.key() == key {
                return Some(n);
            }
            cur = n.next();
        }
        None
    }

    /// The link (bucket slot or a node's next field) that points at `key`'s node. The
    /// pointer is valid until the table is next touched: the caller must use it before
    /// any other access to `self`.
    fn find_link(&mut self, key: &[u8]) -> Option<*mut Option<Node>> {
        let i = self.index(self.hash(key));
        let mut link: *mut Option<Node> = &mut self.buckets[i];
        // SAFETY: `link` is always either a slot of `self.buckets` (derived from the
        // `&mut self` borrow, so nothing else accesses it) or the `next_link` of a node
        // reached through this table's chains, which is live by the node contract
        // (node.rs): every node in a chain is live and owned by this table. Both are
        // initialised, aligned `Option<Node>`s.
        unsafe {
            while let Some(n) = *link {
                if n.key() == key {
                    return Some(link);
                }
                link = n.next_link();
            }
        }
        None
    }

    /// Adds a node whose key is known to be absent.
    pub fn insert_new(&mut self, node: Node) {
        if self.len >= self.buckets.len() {
            self.resize(self.buckets.len() * 2);
        }
        let i = self.index(self.hash(node.key()));
        node.set_next(self.buckets[i]);
        self.buckets[i] = Some(node);
        self.len += 1;
    }

    /// Puts `new` (same key) in place of the existing node, which is returned (and is
    /// no longer reachable from the table; the caller frees it).
    #[must_use]
    pub fn replace(&mut self, new: Node) -> Option<Node> {
        let link = self.find_link(new.key())?;
        // SAFETY: `link` came from find_link just above and the table was not touched
        // since, so it is a live link of this table (see find_link).
        unsafe {
            let old = (*link)?;
            new.set_next(old.next());
            *link = Some(new);
            Some(old)
        }
    }

    /// Unlinks `key`'s node and returns it; the caller now owns it and must free it.
    #[must_use]
    pub fn remove(&mut self, key: &[u8]) -> Option<Node> {
        let link = self.find_link(key)?;
        // SAFETY: as in replace: `link` is fresh from find_link.
        let old = unsafe {
            let old = (*link)?;
            *link = old.next();
            old
        };
        self.len -= 1;
        if self.buckets.len() > MIN_BUCKETS && self.len * 8 < self.buckets.len() {
            self.resize((self.len * 2).next_power_of_two().max(MIN_BUCKETS));
        }
        Some(old)
    }

    fn resize(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![None; size].into_boxed_slice());
        for mut cur in old.iter().copied() {
            while let Some(n) = cur {
                cur = n.next();
                let i = self.index(self.hash(n.key()));
                n.set_next(self.buckets[i]);
                self.buckets[i] = Some(n);
            }
        }
    }

    /// Removes every node, handing each to `f`, and shrinks to the minimum size.
    pub fn drain(&mut self, mut f: impl FnMut(Node)) {
        let old = std::mem::replace(&mut self.buckets, vec![None; MIN_BUCKETS].into_boxed_slice());
        self.len = 0;
        for mut cur in old.iter().copied() {
            while let Some(n) = cur {
                cur = n.next();
                f(n);
            }
        }
    }

    /// Visits every node of the bucket at `cursor` and returns the next cursor (0 when
    /// the scan is complete). Redis's reverse-binary increment: a key present for the
    /// whole scan is visited at least once even if the table is resized between calls.
    pub fn scan_step(&self, cursor: u64, mut f: impl FnMut(Node)) -> u64 {
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize];
        while let Some(n) = cur {
            cur = n.next();
            f(n);
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits().wrapping_add(1).reverse_bits();
        v
    }

    pub fn for_each(&self, mut f: impl FnMut(Node)) {
        for mut cur in self.buckets.iter().copied() {
            while let Some(n) = cur {
                cur = n.next();
                f(n);
            }
        }
    }

    /// A uniformly chosen bucket's random node (close to fair for chains of similar length).
    pub fn random(&self) -> Option<Node> {
        if self.len == 0 {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let mut start = fastrand::usize(..) & mask;
        for _ in 0..64 {
            if self.buckets[start].is_some() {
                break;
            }
            start = fastrand::usize(..) & mask;
        }
        // Fall back to a linear probe from the last random bucket; the table is never
        // emptier than 1/8 full, so this is rare.
        let mut i = start;
        loop {
            if let Some(head) = self.buckets[i] {
                let mut chain = 0;
                let mut cur = Some(head);
                while let Some(n) = cur {
                    chain += 1;
                    cur = n.next();
                }
                let mut pick = fastrand::usize(..chain);
                let mut cur = head;
                while pick > 0 {
                    cur = cur.next()?;
                    pick -= 1;
                }
                return Some(cur);
            }
            i = (i + 1) & mask;
        }
    }

    /// Bytes used by the bucket array.
    pub fn bucket_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Option<Node>>()
    }

    /// Panics unless the table is well formed: a power-of-two bucket count within the
    /// load limits, every node in the bucket its hash selects, no key twice, and `len`
    /// equal to the number of reachable nodes. Returns those nodes.
    #[cfg(test)]
    pub fn check_invariants(&self) -> Vec<Node> {
        let size = self.buckets.len();
        assert!(size.is_power_of_two() && size >= MIN_BUCKETS, "{size} buckets");
        assert!(self.len <= size, "{} keys in {size} buckets", self.len);
        assert!(size == MIN_BUCKETS || self.len * 8 >= size, "{} keys in {size} buckets: not shrunk", self.len);
        let mut nodes = Vec::new();
        for (i, mut cur) in self.buckets.iter().copied().enumerate() {
            while let Some(n) = cur {
                assert_eq!(self.index(self.hash(n.key())), i, "node in the wrong bucket");
                assert!(nodes.len() < self.len, "more reachable nodes than len (or a cycle)");
                nodes.push(n);
                cur = n.next();
            }
        }
        assert_eq!(nodes.len(), self.len, "len disagrees with the chains");
        let keys: std::collections::HashSet<&[u8]> = nodes.iter().map(|n| n.key()).collect();
        assert_eq!(keys.len(), nodes.len(), "a key is stored twice");
        nodes
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: drain unlinks every node before handing it over; the table is going away.
        self.drain(|n| unsafe { n.free() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::node::{Payload, census};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use std::collections::{HashSet, VecDeque};

    fn table() -> Table {
        Table::new(Hasher::with_seed(1))
    }

    fn add(t: &mut Table, k: &str) {
        t.insert_new(Node::new(k.as_bytes(), Payload::Inline(b"v"), None, 0));
    }

    #[test]
    fn insert_find_remove_grow_shrink() {
        let mut t = table();
        for i in 0..1000 {
            add(&mut t, &format!("k{i}"));
        }
        assert_eq!(t.len(), 1000);
        assert!(t.buckets() >= 1000);
        for i in 0..1000 {
            assert!(t.find(format!("k{i}").as_bytes()).is_some());
        }
        for i in 0..990 {
            if let Some(a) = t.remove(format!("k{i}").as_bytes()) {
                unsafe { a.free() }
            }
        }
        assert_eq!(t.len(), 10);
        assert!(t.buckets() <= 64, "shrunk to {}", t.buckets());
        assert!(t.find(b"k995").is_some() && t.find(b"k5").is_none());
    }

    #[test]
    fn scan_survives_resizes() {
        let mut t = table();
        for i in 0..500 {
            add(&mut t, &format!("stable{i}"));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = t.scan_step(cursor, |n| {
                seen.insert(n.key().to_vec());
            });
            step += 1;
            // grow, then shrink, in the middle of the scan
            if step == 50 {
                for i in 0..5000 {
                    add(&mut t, &format!("tmp{i}"));
                }
            }
            if step == 3000 {
                for i in 0..5000 {
                    if let Some(a) = t.remove(format!("tmp{i}").as_bytes()) {
                        unsafe { a.free() }
                    }
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(format!("stable{i}").as_bytes()), "missed stable{i}");
        }
    }

    /// What happens to the table between two SCAN steps.
    #[derive(Clone, Debug)]
    enum Churn {
        Nothing,
        /// Adds this many new temporary keys (grows the table).
        Insert(usize),
        /// Removes this many temporary keys, oldest first (shrinks it).
        Remove(usize),
    }

    fn churn() -> impl Strategy<Value = Churn> {
        prop_oneof![2 => Just(Churn::Nothing), 1 => (0..1000usize).prop_map(Churn::Insert), 1 => (0..1000usize).prop_map(Churn::Remove)]
    }

    proptest! {
        #![proptest_config(crate::store::tests_model::config(40))]

        /// SCAN's guarantee: a key present for the whole scan is returned at least once,
        /// however the table grows or shrinks between steps; and it returns nothing that
        /// was never there.
        #[test]
        fn scan_returns_every_key_present_throughout(
            seed: u64,
            stable in 0..300usize,
            temps_at_start in 0..600usize,
            churn in vec(churn(), 0..100),
        ) {
            let before = census::live();
            let mut t = Table::new(Hasher::with_seed(seed));
            for i in 0..stable {
                add(&mut t, &format!("stable{i}"));
            }
            let mut temps = VecDeque::new();
            let mut next_temp = 0;
            let mut insert_temps = |t: &mut Table, temps: &mut VecDeque<String>, n: usize| {
                for _ in 0..n {
                    let k = format!("temp{next_temp}");
                    next_temp += 1;
                    add(t, &k);
                    temps.push_back(k);
                }
            };
            insert_temps(&mut t, &mut temps, temps_at_start);
            let mut seen = HashSet::new();
            let (mut cursor, mut step) = (0, 0);
            loop {
                cursor = t.scan_step(cursor, |n| {
                    seen.insert(String::from_utf8_lossy(n.key()).into_owned());
                });
                if cursor == 0 {
                    break;
                }
                match churn.get(step) {
                    Some(Churn::Insert(n)) => insert_temps(&mut t, &mut temps, *n),
                    Some(Churn::Remove(n)) => {
                        for _ in 0..*n {
                            let Some(k) = temps.pop_front() else { break };
                            if let Some(a) = t.remove(k.as_bytes()) {
                                unsafe { a.free() };
                            }
                        }
                    }
                    Some(Churn::Nothing) | None => {}
                }
                if step < churn.len() && step % 8 == 0 {
                    t.check_invariants();
                }
                step += 1;
                prop_assert!(step < 1 << 20, "scan does not terminate");
            }
            for i in 0..stable {
                prop_assert!(seen.contains(&format!("stable{i}")), "missed stable{}", i);
            }
            t.check_invariants();
            for k in &seen {
                let ok = k.strip_prefix("stable").and_then(|i| i.parse::<usize>().ok()).is_some_and(|i| i < stable)
                    || k.strip_prefix("temp").and_then(|i| i.parse::<usize>().ok()).is_some_and(|i| i < next_temp);
                prop_assert!(ok, "returned a key that never existed: {}", k);
            }
            drop(t);
            prop_assert_eq!(census::live(), before);
        }
    }

    #[test]
    fn random_returns_members() {
        let mut t = table();
        assert!(t.random().is_none());
        for i in 0..100 {
            add(&mut t, &format!("r{i}"));
        }
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            seen.insert(t.random().map(|n| n.key().to_vec()));
        }
        assert!(seen.len() > 90);
    }
}
