//! Set values, in Redis 7.0's two encodings: `intset` (sorted integers, `set/intset.rs`)
//! while every member is the canonical text of an i64 and there are at most 512 of them,
//! else `hashtable` (`hash/dict.rs`). Redis 7.0 has no listpack sets (7.2 added them),
//! and a set never converts back, as there.

pub mod intset;

use self::intset::IntSet;
use super::hash::dict::Dict;
use crate::protocol::request::parse_i64;

/// `set-max-intset-entries`.
pub const MAX_INTSET_ENTRIES: usize = 512;

/// Scratch space for the text of an integer member.
pub type IntBuf = [u8; 20];

/// The decimal text of `v` in `buf`.
pub fn fmt_int(v: i64, buf: &mut IntBuf) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        // 19 digits at most for i64, so there is room for the sign.
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// The integer a member stands for in an intset: only canonical text qualifies
/// ("12", not "012" or "+12"), so the member reads back byte for byte.
fn as_int(m: &[u8]) -> Option<i64> {
    parse_i64(m)
}

/// A set value. The table is boxed so that a small set keeps the value itself small.
#[derive(Clone, Debug)]
pub enum Set {
    Ints(IntSet),
    Table(Box<Dict<Box<[u8]>>>),
}

impl Default for Set {
    /// An empty intset, as Redis starts the results of SINTERSTORE and friends.
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        let mut all = true;
        self.for_each(|m| all &= other.contains(m));
        all && self.len() == other.len()
    }
}

impl Set {
    /// Heap bytes of the set (MEMORY USAGE), members estimated from `samples` of them
    /// (0 = all) for a table.
    pub fn heap_bytes(&self, samples: usize) -> usize {
        use crate::memory::accounting::alloc_size;
        match self {
            Set::Ints(s) => s.heap_bytes(),
            Set::Table(d) => {
                let members = crate::memory::usage::sampled(d.len(), samples, |i| alloc_size(d.at(i).len()));
                alloc_size(std::mem::size_of::<Dict<Box<[u8]>>>()) + d.table_bytes() + members
            }
        }
    }

    /// An empty set of the encoding Redis picks for a set created with `first`.
    pub fn for_member(first: &[u8]) -> Self {
        match as_int(first) {
            Some(_) => Set::default(),
            None => Set::Table(Box::default()),
        }
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(m).is_some_and(|v| s.contains(v)),
            Set::Table(d) => d.find(m).is_some(),
        }
    }

    fn convert(&mut self) {
        if let Set::Ints(s) = self {
            let mut d = Dict::with_capacity(s.len() + 1);
            let mut buf = IntBuf::default();
            for v in s.iter() {
                d.insert_new(fmt_int(v, &mut buf).into());
            }
            *self = Set::Table(Box::new(d));
        }
    }

    /// True when `m` was added.
    pub fn add(&mut self, m: &[u8]) -> bool {
        if let Set::Ints(s) = self {
            match as_int(m) {
                Some(v) => {
                    let added = s.insert(v);
                    if s.len() > super::limits::set_intset_entries() {
                        self.convert();
                    }
                    return added;
                }
                None => self.convert(),
            }
        }
        match self {
            Set::Table(d) => match d.lookup(m) {
                Ok(_) => false,
                Err(v) => {
                    d.insert_vacant(v, m.into());
                    true
                }
            },
            Set::Ints(_) => false,
        }
    }

    /// True when `m` was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(m).is_some_and(|v| s.remove(v)),
            Set::Table(d) => d.remove(m).is_some(),
        }
    }

    /// The member at position `i < len` (ascending for an intset). O(1); with a uniformly
    /// random `i`, a fair random pick.
    pub fn member_at<'a>(&'a self, i: usize, buf: &'a mut IntBuf) -> &'a [u8] {
        match self {
            Set::Ints(s) => fmt_int(s.get(i), buf),
            Set::Table(d) => d.at(i),
        }
    }

    /// Removes and returns the member at position `i < len`.
    pub fn take_at(&mut self, i: usize) -> Vec<u8> {
        match self {
            Set::Ints(s) => {
                let v = s.get(i);
                s.remove_at(i);
                fmt_int(v, &mut IntBuf::default()).to_vec()
            }
            Set::Table(d) => d.remove_at(i).into_vec(),
        }
    }

    /// Every member: ascending for an intset (as Redis replies), table order otherwise.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(s) => {
                let mut buf = IntBuf::default();
                s.iter().for_each(|v| f(fmt_int(v, &mut buf)));
            }
            Set::Table(d) => d.iter().for_each(|m| f(m)),
        }
    }

    /// One SSCAN call (see `Hash::scan`): an intset is returned whole with cursor 0.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match self {
            Set::Ints(_) => {
                self.for_each(f);
                0
            }
            Set::Table(d) => {
                let (mut cursor, mut seen, mut steps) = (cursor, 0usize, count.saturating_mul(10));
                loop {
                    cursor = d.scan_step(cursor, |m| {
                        seen += 1;
                        f(m);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        let mut out = BTreeSet::new();
        s.for_each(|m| {
            out.insert(m.to_vec());
        });
        out
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        TakeAt(usize),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        // Mostly integers (some past i16/i32, some non-canonical), a few words.
        prop_oneof![
            6 => (-700i64..700).prop_map(|v| v.to_string().into_bytes()),
            1 => any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            1 => prop_oneof![Just(b"007".to_vec()), Just(b"+1".to_vec()), Just(b"-0".to_vec()), Just(b"a".to_vec()), Just(Vec::new())],
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![5 => member().prop_map(Op::Add), 2 => member().prop_map(Op::Remove), 1 => any::<usize>().prop_map(Op::TakeAt)]
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(ops in proptest::collection::vec(op(), 0..1200)) {
            let (mut s, mut model) = (Set::default(), BTreeSet::new());
            for op in ops {
                let was_table = s.encoding() == "hashtable";
                match op {
                    Op::Add(m) => {
                        prop_assert_eq!(s.add(&m), model.insert(m.clone()));
                        if as_int(&m).is_none() { prop_assert_eq!(s.encoding(), "hashtable"); }
                    }
                    Op::Remove(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::TakeAt(i) => {
                        if !model.is_empty() {
                            let got = s.take_at(i % s.len());
                            prop_assert!(model.remove(&got));
                        }
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                if model.len() > MAX_INTSET_ENTRIES { prop_assert_eq!(s.encoding(), "hashtable"); }
                if was_table { prop_assert_eq!(s.encoding(), "hashtable"); }
            }
            prop_assert_eq!(members(&s), model.clone());
            let mut buf = IntBuf::default();
            let by_index: BTreeSet<Vec<u8>> = (0..s.len()).map(|i| s.member_at(i, &mut buf).to_vec()).collect();
            prop_assert_eq!(by_index, model.clone());
            for m in &model { prop_assert!(s.contains(m)); }
            if let Set::Table(d) = &s { d.check_invariants(); }
        }
    }

    #[test]
    fn encodings_follow_redis_7_0() {
        assert_eq!(Set::for_member(b"12").encoding(), "intset");
        assert_eq!(Set::for_member(b"012").encoding(), "hashtable");
        let mut s = Set::default();
        for i in 0..MAX_INTSET_ENTRIES {
            s.add(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        let mut order = Vec::new();
        s.for_each(|m| order.push(m.to_vec()));
        assert_eq!(order[..3], [b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        s.add(b"512");
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"7") && !s.contains(b"07"));
    }

    #[test]
    fn values_stay_small() {
        // A set is boxed in the keyspace: every byte here is paid once per key.
        assert!(std::mem::size_of::<Set>() <= 24, "{}", std::mem::size_of::<Set>());
    }

    #[test]
    fn integer_text() {
        let mut b = IntBuf::default();
        assert_eq!(fmt_int(i64::MIN, &mut b), b"-9223372036854775808");
        assert_eq!(fmt_int(0, &mut b), b"0");
        assert_eq!(fmt_int(-5, &mut b), b"-5");
    }
}
