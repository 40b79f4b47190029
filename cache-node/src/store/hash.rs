//! Hash values. Small hashes are one packed buffer of field/value pairs (`listpack`, see
//! `hash/pack.rs`); a hash that outgrows Redis's thresholds becomes a hash table
//! (`hashtable`, see `hash/dict.rs`) and, as in Redis, never converts back.

pub mod dict;
pub mod pack;

use self::dict::{Dict, Keyed};
use self::pack::{Pack, get_str, put_str};

/// `hash-max-listpack-entries`: more fields than this convert to a hash table. Redis
/// 7.0's default is 512 for hashes (128 is the sorted sets' threshold).
pub const MAX_PACKED_ENTRIES: usize = 512;
/// `hash-max-listpack-value`: a longer field or value converts to a hash table.
pub const MAX_PACKED_VALUE: usize = 64;

/// A field and its value in one allocation: the field's LEB128 length, the field, then
/// the value (whose length is what remains).
#[derive(Clone, Debug)]
pub struct Field(Box<[u8]>);

impl Field {
    fn new(field: &[u8], value: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(field.len() + value.len() + 3);
        put_str(&mut buf, field);
        buf.extend_from_slice(value);
        Field(buf.into_boxed_slice())
    }

    fn split(&self) -> (&[u8], &[u8]) {
        let (f, end) = get_str(&self.0, 0);
        (f, &self.0[end..])
    }

    pub fn value(&self) -> &[u8] {
        self.split().1
    }
}

impl Keyed for Field {
    fn key(&self) -> &[u8] {
        self.split().0
    }
}

/// A hash value. The table is boxed so that a small hash, the common case, keeps the
/// value itself small (see the size test below).
#[derive(Clone, Debug)]
pub enum Hash {
    Packed(Pack),
    Table(Box<Dict<Field>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Pack::default())
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Hash {
    /// Heap bytes of the hash (MEMORY USAGE): exact for the packed form; for a table the
    /// fields' own allocations are estimated from `samples` of them (0 = all).
    pub fn heap_bytes(&self, samples: usize) -> usize {
        use crate::memory::accounting::alloc_size;
        match self {
            Hash::Packed(p) => p.heap_bytes(),
            Hash::Table(d) => {
                let fields = crate::memory::usage::sampled(d.len(), samples, |i| alloc_size(d.at(i).0.len()));
                alloc_size(std::mem::size_of::<Dict<Field>>()) + d.table_bytes() + fields
            }
        }
    }

    /// Fields held.
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.len(),
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Packed(p) => p.get(field),
            Hash::Table(d) => d.get(field).map(Field::value),
        }
    }

    fn convert(&mut self) {
        if let Hash::Packed(p) = self {
            let mut d = Dict::with_capacity(p.len());
            for (f, v) in p.iter() {
                d.insert_new(Field::new(f, v));
            }
            *self = Hash::Table(Box::new(d));
        }
    }

    /// Converts before a write whose arguments (fields and values) include one too long
    /// for the packed form, as Redis checks every argument of HSET up front.
    pub fn prepare_for(&mut self, args: &[&[u8]]) {
        if matches!(self, Hash::Packed(_)) && args.iter().any(|a| a.len() > super::limits::hash_value()) {
            self.convert();
        }
    }

    /// Sets a field; true when it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if field.len() > super::limits::hash_value() || value.len() > super::limits::hash_value() {
            self.convert();
        }
        match self {
            Hash::Packed(p) => {
                let new = p.set(field, value);
                if p.len() > super::limits::hash_entries() {
                    self.convert();
                }
                new
            }
            Hash::Table(d) => match d.lookup(field) {
                Ok(i) => {
                    d.replace_at(i, Field::new(field, value));
                    false
                }
                Err(v) => {
                    d.insert_vacant(v, Field::new(field, value));
                    true
                }
            },
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => p.remove(field),
            Hash::Table(d) => d.remove(field).is_some(),
        }
    }

    /// Every pair: insertion order when packed (as Redis), table order otherwise.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Packed(p) => Iter::Packed(p.iter()),
            Hash::Table(d) => Iter::Table(d.iter()),
        }
    }

    /// The pair at position `i < len`: O(1) for a table, a walk of at most 512 pairs when
    /// packed. With a uniformly random `i`, a fair random pick.
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Packed(p) => p.nth(i),
            Hash::Table(d) => (i < d.len()).then(|| d.at(i).split()),
        }
    }

    /// One HSCAN call: visits pairs from `cursor` on until at least `count` were seen (or
    /// `count * 10` buckets were walked) and returns the next cursor. A packed hash is
    /// returned whole with cursor 0, whatever the cursor, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Packed(p) => {
                p.iter().for_each(|(k, v)| f(k, v));
                0
            }
            Hash::Table(d) => {
                let (mut cursor, mut seen, mut steps) = (cursor, 0usize, count.saturating_mul(10));
                loop {
                    cursor = d.scan_step(cursor, |e| {
                        let (k, v) = e.split();
                        seen += 1;
                        f(k, v);
                    });
                    if cursor == 0 || steps == 0 || seen >= count {
                        return cursor;
                    }
                    steps -= 1;
                }
            }
        }
    }
}

pub enum Iter<'a> {
    Packed(pack::Pairs<'a>),
    Table(std::slice::Iter<'a, Field>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(p) => p.next(),
            Iter::Table(t) => t.next().map(Field::split),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Set(u16, usize),
        Remove(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        // 700 possible fields cross the 512-entry threshold; value lengths cross 64.
        prop_oneof![
            6 => (0u16..700, 0usize..64).prop_map(|(f, n)| Op::Set(f, n)),
            1 => (0u16..700, 65usize..80).prop_map(|(f, n)| Op::Set(f, n)),
            2 => (0u16..700).prop_map(Op::Remove),
        ]
    }

    fn field(f: u16) -> Vec<u8> {
        format!("f{f}").into_bytes()
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreemap(ops in proptest::collection::vec(op(), 0..2000), long_values: bool) {
            let (mut h, mut model) = (Hash::default(), BTreeMap::new());
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Set(f, n) => {
                        // Without long values, only the field count can convert.
                        let n = if long_values { n } else { n % (MAX_PACKED_VALUE + 1) };
                        let v = vec![b'v'; n];
                        prop_assert_eq!(h.set(&field(f), &v), model.insert(field(f), v.clone()).is_none());
                        if n > MAX_PACKED_VALUE { prop_assert_eq!(h.encoding(), "hashtable"); }
                    }
                    Op::Remove(f) => prop_assert_eq!(h.remove(&field(f)), model.remove(&field(f)).is_some()),
                }
                prop_assert_eq!(h.len(), model.len());
                if model.len() > MAX_PACKED_ENTRIES { prop_assert_eq!(h.encoding(), "hashtable"); }
                // Never converts back.
                if converted { prop_assert_eq!(h.encoding(), "hashtable"); }
                converted = h.encoding() == "hashtable";
            }
            let got: BTreeMap<Vec<u8>, Vec<u8>> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(&got, &model);
            for (f, v) in &model {
                prop_assert_eq!(h.get(f), Some(&v[..]));
            }
            for i in 0..h.len() {
                let (f, v) = h.nth(i).unwrap_or_default();
                prop_assert_eq!(model.get(f).map(Vec::as_slice), Some(v));
            }
            if let Hash::Table(d) = &h { d.check_invariants(); }
        }
    }

    #[test]
    fn packed_keeps_insertion_order_and_converts_at_the_thresholds() {
        let mut h = Hash::default();
        for i in 0..MAX_PACKED_ENTRIES {
            h.set(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.iter().next(), Some((&b"f0"[..], &b"v"[..])));
        h.set(b"one-more", b"v");
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::default();
        h.prepare_for(&[b"f", &[b'x'; 65]]);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::default();
        h.set(&[b'x'; 64], &[b'y'; 64]);
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn values_stay_small() {
        // A hash is boxed in the keyspace: every byte here is paid once per key.
        assert!(std::mem::size_of::<Hash>() <= 24, "{}", std::mem::size_of::<Hash>());
    }

    #[test]
    fn scan_of_a_packed_hash_is_one_call() {
        let mut h = Hash::default();
        h.set(b"a", b"1");
        h.set(b"b", b"2");
        let mut n = 0;
        assert_eq!(h.scan(12345, 1, |_, _| n += 1), 0);
        assert_eq!(n, 2);
    }
}
