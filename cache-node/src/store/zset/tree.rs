//! The encoding of large sorted sets (what Redis calls `skiplist`): an order-statistic
//! treap kept in one arena, ordered by (score, member), each node counting its subtree so
//! that rank and range queries are O(log n), plus a hash index from member to node for
//! O(1) ZSCORE. The index holds only 4-byte node numbers (the member and score live in
//! the node), which keeps a large set near 70 bytes per element.
//!
//! The arena stays dense: freeing a node moves the last node into its slot and re-points
//! that node's parent, found by searching for the moved node's key. No free list, no
//! holes, and indexes are `u32` to keep a node at 40 bytes.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::order;

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree, itself included.
    size: u32,
    /// Heap priority: random, so the expected depth is O(log n) whatever the input order.
    prio: u32,
}

#[derive(Clone, Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    root: u32,
    /// Node numbers, hashed by their member.
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Default for Tree {
    fn default() -> Self {
        Tree { nodes: Vec::new(), root: NIL, index: HashTable::new(), hasher: Default::default() }
    }
}

impl Tree {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.nodes[i as usize].score)
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    /// The node holding `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index.find(self.hash(member), |&i| *nodes[i as usize].member == *member).copied()
    }

    /// Drops node `idx`'s entry from the index.
    fn unindex(&mut self, idx: u32) {
        let h = self.hash(&self.nodes[idx as usize].member);
        if let Ok(entry) = self.index.find_entry(h, |&i| i == idx) {
            entry.remove();
        }
    }

    fn size(&self, t: u32) -> usize {
        if t == NIL { 0 } else { self.nodes[t as usize].size as usize }
    }

    /// Makes `child` the root (no parent) or `parent`'s right or left child.
    fn set_child(&mut self, parent: u32, right: bool, child: u32) {
        if parent == NIL {
            self.root = child;
        } else if right {
            self.nodes[parent as usize].right = child;
        } else {
            self.nodes[parent as usize].left = child;
        }
    }

    // Subtree sizes are kept up to date from the nodes on the path only (a node's size
    // changes by what joined or left below it), never by re-reading both children: the
    // child off the path is a cache miss in a large set, and one per level doubled the
    // cost of a ZADD.

    /// Splits `t` into the nodes ordered before (`score`, `member`) and the rest.
    fn split(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.before(t, score, member) {
            let (l, r) = self.split(self.nodes[t as usize].right, score, member);
            let gone = self.size(r) as u32;
            let n = &mut self.nodes[t as usize];
            n.right = l;
            n.size -= gone;
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, score, member);
            let gone = self.size(l) as u32;
            let n = &mut self.nodes[t as usize];
            n.left = r;
            n.size -= gone;
            (l, t)
        }
    }

    /// Splits `t` into its first `k` nodes and the rest.
    fn split_rank(&mut self, t: u32, k: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let left = self.nodes[t as usize].left;
        let ls = self.size(left);
        if k <= ls {
            let (l, r) = self.split_rank(left, k);
            let gone = self.size(l) as u32;
            let n = &mut self.nodes[t as usize];
            n.left = r;
            n.size -= gone;
            (l, t)
        } else {
            let (l, r) = self.split_rank(self.nodes[t as usize].right, k - ls - 1);
            let gone = self.size(r) as u32;
            let n = &mut self.nodes[t as usize];
            n.right = l;
            n.size -= gone;
            (t, r)
        }
    }

    /// Joins two trees where every node of `a` orders before every node of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        let (sa, sb) = (self.nodes[a as usize].size, self.nodes[b as usize].size);
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            let n = &mut self.nodes[a as usize];
            n.right = r;
            n.size += sb;
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            let n = &mut self.nodes[b as usize];
            n.left = l;
            n.size += sa;
            b
        }
    }

    /// Whether node `a` orders before the key (`score`, `member`).
    fn before(&self, a: u32, score: f64, member: &[u8]) -> bool {
        let n = &self.nodes[a as usize];
        order(n.score, &n.member, score, member) == Ordering::Less
    }

    /// Links the detached node `idx` into the tree: descend by key to where its priority
    /// belongs, and split only the subtree found there (expected O(log n), one descent).
    fn link(&mut self, idx: u32) {
        // The member is taken out of its (detached) node while the tree is searched, so
        // it can be read next to mutable access to the other nodes; it goes back after.
        let member = std::mem::take(&mut self.nodes[idx as usize].member);
        let (score, prio) = (self.nodes[idx as usize].score, self.nodes[idx as usize].prio);
        let (mut parent, mut right, mut t) = (NIL, false, self.root);
        while t != NIL && self.nodes[t as usize].prio >= prio {
            let goes_right = self.before(t, score, &member);
            let n = &mut self.nodes[t as usize];
            n.size += 1;
            (parent, right) = (t, goes_right);
            t = if goes_right { n.right } else { n.left };
        }
        let below = self.size(t) as u32;
        let (l, r) = self.split(t, score, &member);
        let n = &mut self.nodes[idx as usize];
        n.left = l;
        n.right = r;
        n.size = below + 1;
        n.member = member;
        self.set_child(parent, right, idx);
    }

    /// Unlinks the node `idx` (whose key is `score`, `member`): descend to it and put the
    /// merge of its children in its place (one descent).
    fn unlink(&mut self, idx: u32, score: f64, member: &[u8]) {
        let (mut parent, mut right, mut t) = (NIL, false, self.root);
        while t != idx {
            // Not reached: `idx` comes from the index, so it is in the tree.
            if t == NIL {
                debug_assert!(false, "unlinking a node that is not in the tree");
                return;
            }
            let goes_right = self.before(t, score, member);
            let n = &mut self.nodes[t as usize];
            n.size -= 1;
            (parent, right) = (t, goes_right);
            t = if goes_right { n.right } else { n.left };
        }
        let n = &mut self.nodes[idx as usize];
        let (l, r) = (n.left, n.right);
        n.left = NIL;
        n.right = NIL;
        n.size = 1;
        let m = self.merge(l, r);
        self.set_child(parent, right, m);
    }

    /// Inserts a member known to be absent.
    pub fn insert_new(&mut self, member: &[u8], score: f64) {
        let idx = self.nodes.len() as u32;
        if self.nodes.len() == self.nodes.capacity() {
            // Grow by a quarter rather than doubling: still amortised O(1), with far less
            // unused space per element in a large set.
            self.nodes.reserve_exact((self.nodes.len() / 4).max(8));
        }
        self.nodes.push(Node { member: member.into(), score, left: NIL, right: NIL, size: 1, prio: fastrand::u32(..) });
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index.insert_unique(hasher.hash_one(member), idx, |&i| hasher.hash_one(&*nodes[i as usize].member));
        self.link(idx);
    }

    /// Moves an existing member to a new score, reusing its node (no allocation, no
    /// index change): unlink it, then link it again at its new place. Returns the old
    /// score, or None when the member is absent.
    pub fn update_score(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let idx = self.find(member)?;
        let old = self.nodes[idx as usize].score;
        self.unlink(idx, old, member);
        self.nodes[idx as usize].score = score;
        self.link(idx);
        Some(old)
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let idx = self.find(member)?;
        let score = self.nodes[idx as usize].score;
        self.unindex(idx);
        self.unlink(idx, score, member);
        self.free(idx);
        Some(score)
    }

    /// Removes the elements of ranks `[start, end)`.
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        let (l, r) = self.split_rank(self.root, start);
        let (mid, r) = self.split_rank(r, end - start);
        self.root = self.merge(l, r);
        let mut doomed = Vec::with_capacity(end - start);
        let mut stack = vec![mid];
        while let Some(t) = stack.pop() {
            if t == NIL {
                continue;
            }
            let n = &self.nodes[t as usize];
            stack.push(n.left);
            stack.push(n.right);
            self.unindex(t);
            doomed.push(t);
        }
        // Highest slot first: the node moved into a freed slot is then always live.
        doomed.sort_unstable_by(|a, b| b.cmp(a));
        for t in doomed {
            self.free(t);
        }
    }

    /// Releases the slot of a node already unlinked from the tree and the index.
    fn free(&mut self, idx: u32) {
        let last = (self.nodes.len() - 1) as u32;
        if idx != last {
            self.repoint(last, idx);
            let h = self.hash(&self.nodes[last as usize].member);
            if let Some(slot) = self.index.find_mut(h, |&i| i == last) {
                *slot = idx;
            }
        }
        self.nodes.swap_remove(idx as usize);
        // Give memory back once the set has shrunk well below its peak.
        if self.nodes.capacity() > 64 && self.nodes.len() < self.nodes.capacity() / 2 {
            self.nodes.shrink_to(self.nodes.len() + self.nodes.len() / 4);
        }
    }

    /// Makes whatever points at live node `from` point at `to` instead.
    fn repoint(&mut self, from: u32, to: u32) {
        if self.root == from {
            self.root = to;
            return;
        }
        // Find the parent by searching for `from`'s own key, reading only; then re-point.
        let mut parent = None;
        {
            let key = &self.nodes[from as usize];
            let mut t = self.root;
            while t != NIL {
                let n = &self.nodes[t as usize];
                let goes_right = order(n.score, &n.member, key.score, &key.member) == Ordering::Less;
                let child = if goes_right { n.right } else { n.left };
                if child == from {
                    parent = Some((t, goes_right));
                    break;
                }
                t = child;
            }
        }
        if let Some((p, right)) = parent {
            let n = &mut self.nodes[p as usize];
            if right {
                n.right = to;
            } else {
                n.left = to;
            }
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_prefix(|s, m| order(s, m, score, member) == Ordering::Less))
    }

    /// How many leading elements satisfy `pred` (which must hold for a prefix).
    pub fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let (mut t, mut count) = (self.root, 0);
        while t != NIL {
            let n = &self.nodes[t as usize];
            if pred(n.score, &n.member) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    pub fn get(&self, mut rank: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match rank.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((&n.member, n.score)),
                Ordering::Greater => {
                    rank -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// Calls `f` on the elements of ranks `[start, end)`, ascending or (rev) descending:
    /// O(log n + k). Iterative with an explicit stack of pending ancestors, because a
    /// range read holds its partition lock for the whole walk and a recursive walk cost
    /// about three times as many instructions per element.
    pub fn for_each(&self, start: usize, end: usize, rev: bool, f: &mut dyn FnMut(&[u8], f64)) {
        let len = self.size(self.root);
        let end = end.min(len);
        if start >= end {
            return;
        }
        // Walk order: `near` is visited before a node, `far` after it.
        let near = |n: &Node| if rev { n.right } else { n.left };
        let far = |n: &Node| if rev { n.left } else { n.right };
        let mut skip = if rev { len - end } else { start };
        let mut remaining = end - start;
        let mut stack: Vec<u32> = Vec::with_capacity(64);
        let mut t = self.root;
        // Descend to the first node to visit, keeping the ancestors still to be visited.
        while t != NIL {
            let n = &self.nodes[t as usize];
            let before = self.size(near(n));
            if skip < before {
                stack.push(t);
                t = near(n);
            } else if skip == before {
                stack.push(t);
                break;
            } else {
                skip -= before + 1;
                t = far(n);
            }
        }
        while remaining > 0 {
            let Some(t) = stack.pop() else { return };
            let n = &self.nodes[t as usize];
            f(&n.member, n.score);
            remaining -= 1;
            if remaining == 0 {
                return;
            }
            let mut c = far(n);
            while c != NIL {
                stack.push(c);
                c = near(&self.nodes[c as usize]);
            }
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        use crate::memory::accounting::alloc_size;
        let members: usize = self.nodes.iter().map(|n| alloc_size(n.member.len())).sum();
        // hashbrown keeps 1/8 of its buckets free, one control byte per bucket plus a group.
        let buckets = if self.index.capacity() == 0 { 0 } else { (self.index.capacity() * 8 / 7).next_power_of_two() };
        let index = alloc_size(buckets * (std::mem::size_of::<u32>() + 1) + if buckets > 0 { 16 } else { 0 });
        alloc_size(std::mem::size_of::<Tree>()) + alloc_size(self.nodes.capacity() * std::mem::size_of::<Node>()) + index + members
    }

    /// A node's size, which is most of the memory per element (tests).
    #[cfg(test)]
    pub const NODE_BYTES: usize = std::mem::size_of::<Node>();

    /// Checks sizes, ordering, heap priorities and the map (tests).
    #[cfg(test)]
    pub fn check(&self) {
        fn walk(t: &Tree, i: u32, out: &mut Vec<u32>) -> usize {
            if i == NIL {
                return 0;
            }
            let n = &t.nodes[i as usize];
            for c in [n.left, n.right] {
                if c != NIL {
                    assert!(t.nodes[c as usize].prio <= n.prio);
                }
            }
            let l = walk(t, n.left, out);
            out.push(i);
            let r = walk(t, n.right, out);
            assert_eq!(n.size as usize, l + r + 1);
            l + r + 1
        }
        let mut seq = Vec::new();
        assert_eq!(walk(self, self.root, &mut seq), self.nodes.len());
        assert_eq!(self.index.len(), self.nodes.len());
        for w in seq.windows(2) {
            let (a, b) = (&self.nodes[w[0] as usize], &self.nodes[w[1] as usize]);
            assert_eq!(order(a.score, &a.member, b.score, &b.member), Ordering::Less);
        }
        for (i, n) in self.nodes.iter().enumerate() {
            assert_eq!(self.find(&n.member), Some(i as u32));
        }
    }
}
