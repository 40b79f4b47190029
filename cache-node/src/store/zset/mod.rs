//! Sorted-set values: members ordered by (score, member bytes). Small sets use a compact
//! buffer (`pack.rs`, Redis's `listpack`), large ones an order-statistic tree with a
//! member index (`tree.rs`, Redis's `skiplist`). Like Redis, a set never goes back to the
//! compact form once converted, except when a command builds a new set (the `*STORE`
//! commands), which starts from whatever fits its size.

mod pack;
mod range;
mod tree;

#[cfg(test)]
mod tests;

use std::cmp::Ordering;

pub use range::{LexBound, ScoreRange, parse_score};

use self::pack::Pack;
use self::tree::Tree;

/// `zset-max-listpack-entries`: more elements than this use the tree.
pub const MAX_PACK_ENTRIES: usize = 128;
/// `zset-max-listpack-value`: a member longer than this uses the tree.
pub const MAX_PACK_VALUE: usize = 64;

/// The element order: by score, then by member bytes.
pub(crate) fn order(sa: f64, ma: &[u8], sb: f64, mb: &[u8]) -> Ordering {
    if sa < sb {
        Ordering::Less
    } else if sa > sb {
        Ordering::Greater
    } else {
        ma.cmp(mb)
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Pack(Pack),
    // Boxed: the tree is large, and every value on the heap is as big as the largest
    // kind of value, so an inline tree would cost every string and list its size.
    Tree(Box<Tree>),
}

/// A sorted set.
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet { repr: Repr::Pack(Pack::default()) }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        self.for_each(0, self.len(), false, &mut |m, s| a.push((m.to_vec(), s.to_bits())));
        other.for_each(0, other.len(), false, &mut |m, s| b.push((m.to_vec(), s.to_bits())));
        a == b
    }
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set in the encoding a set of `len` elements whose longest member has
    /// `max_member` bytes gets when a command builds it whole.
    pub fn for_size(len: usize, max_member: usize) -> Self {
        if len > super::limits::zset_entries() || max_member > super::limits::zset_value() {
            ZSet { repr: Repr::Tree(Box::default()) }
        } else {
            Self::default()
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len(),
            Repr::Tree(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(p) => p.score(member),
            Repr::Tree(t) => t.score(member),
        }
    }

    /// Sets `member`'s score, adding it if absent. Returns true when it was added.
    /// `-0` is stored as `0`, as Redis does.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let score = score + 0.0;
        let existed = match self.score(member) {
            Some(old) if old.to_bits() == score.to_bits() => return false,
            Some(_) => {
                if let Repr::Tree(t) = &mut self.repr {
                    t.update_score(member, score);
                    return false;
                }
                self.remove(member);
                true
            }
            None => false,
        };
        if let Repr::Pack(p) = &self.repr
            && (member.len() > super::limits::zset_value() || p.len() + 1 > super::limits::zset_entries())
        {
            self.convert_to_tree();
        }
        match &mut self.repr {
            Repr::Pack(p) => p.insert_new(member, score),
            Repr::Tree(t) => t.insert_new(member, score),
        }
        !existed
    }

    fn convert_to_tree(&mut self) {
        let mut tree = Tree::default();
        self.for_each(0, self.len(), false, &mut |m, s| tree.insert_new(m, s));
        self.repr = Repr::Tree(Box::new(tree));
    }

    /// Removes `member`; returns its score when it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Pack(p) => p.remove(member),
            Repr::Tree(t) => t.remove(member),
        }
    }

    /// Removes the elements of ascending ranks `[start, end)`.
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        match &mut self.repr {
            Repr::Pack(p) => p.remove_ranks(start, end),
            Repr::Tree(t) => t.remove_ranks(start, end),
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Pack(p) => p.rank(member),
            Repr::Tree(t) => t.rank(member),
        }
    }

    /// The element of ascending rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Pack(p) => p.get(rank),
            Repr::Tree(t) => t.get(rank),
        }
    }

    /// How many leading elements satisfy `pred`, which must hold for a prefix of the
    /// order (a rank search: O(log n) on the tree).
    pub fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.count_prefix(pred),
            Repr::Tree(t) => t.count_prefix(pred),
        }
    }

    /// Ascending ranks `[start, end)` of the elements whose score is in `r`.
    pub fn score_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        let start = self.count_prefix(|s, _| r.below(s));
        let end = self.count_prefix(|s, _| !r.above(s));
        (start, end.max(start))
    }

    /// Ascending ranks `[start, end)` of the elements whose member is within the bounds,
    /// for a walk upwards (or, with `rev`, downwards). Lex ranges assume equal scores;
    /// when scores differ, the compact encoding answers exactly as Redis's listpack scan
    /// does (a forward walk starts at the first member >= min and runs while <= max, a
    /// backward walk mirrors that from the end), and the tree as Redis's skiplist search
    /// does (both ends found by a rank search).
    pub fn lex_ranks(&self, min: &LexBound, max: &LexBound, rev: bool) -> (usize, usize) {
        let len = self.len();
        let in_range = LexBound::range_can_match(min, max)
            && self.get(len.wrapping_sub(1)).is_some_and(|(m, _)| !min.is_below_min(m))
            && self.get(0).is_some_and(|(m, _)| max.is_within_max(m));
        if !in_range {
            return (0, 0);
        }
        match &self.repr {
            Repr::Pack(p) if rev => {
                let members: Vec<&[u8]> = p.iter().map(|s| s.member).collect();
                let Some(last) = members.iter().rposition(|m| max.is_within_max(m)) else { return (0, 0) };
                let first = members[..=last].iter().rposition(|m| min.is_below_min(m)).map_or(0, |i| i + 1);
                (first, last + 1)
            }
            Repr::Pack(p) => {
                let members: Vec<&[u8]> = p.iter().map(|s| s.member).collect();
                let Some(first) = members.iter().position(|m| !min.is_below_min(m)) else { return (0, 0) };
                let end = members[first..].iter().position(|m| !max.is_within_max(m)).map_or(len, |i| first + i);
                (first, end)
            }
            Repr::Tree(_) => {
                let start = self.count_prefix(|_, m| min.is_below_min(m));
                let end = self.count_prefix(|_, m| max.is_within_max(m));
                (start, end.max(start))
            }
        }
    }

    /// Calls `f` on the elements of ascending ranks `[start, end)`, in ascending order
    /// or, with `rev`, descending.
    pub fn for_each(&self, start: usize, end: usize, rev: bool, f: &mut dyn FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Pack(p) => {
                let items = p.iter().skip(start).take(end - start);
                if rev {
                    let items: Vec<_> = items.collect();
                    items.iter().rev().for_each(|s| f(s.member, s.score));
                } else {
                    items.for_each(|s| f(s.member, s.score));
                }
            }
            Repr::Tree(t) => t.for_each(start, end, rev, f),
        }
    }

    /// Every element in ascending order, copied out.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(0, self.len(), false, &mut |m, s| v.push((m.to_vec(), s)));
        v
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.heap_bytes(),
            Repr::Tree(t) => t.heap_bytes(),
        }
    }

    #[cfg(test)]
    fn check(&self) {
        if let Repr::Tree(t) = &self.repr {
            t.check();
        }
    }
}
