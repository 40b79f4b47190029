//! List values: a deque of chunks, each chunk a run of length-prefixed entries packed
//! into one byte buffer (Redis's quicklist of listpacks). Small elements cost two or
//! three bytes of framing instead of a heap allocation each; a chunk holds at most
//! `CHUNK_BYTES` (Redis's `list-max-listpack-size -2`, 8 KB), so editing inside one
//! moves a bounded number of bytes, and finding an index walks chunk counts first.
//!
//! Entry layout: `varint(len) bytes varint_reversed(len)`. The trailing copy of the
//! length lets a chunk be walked from either end, so both ends pop in O(1).

use std::collections::VecDeque;
use std::fmt;

mod chunk;

use chunk::Chunk;

/// Packed bytes a chunk may hold before a new chunk is started. A single element
/// larger than this gets a chunk of its own.
pub const CHUNK_BYTES: usize = 8192;

/// A list value.
#[derive(Clone, Default)]
pub struct List {
    /// Never holds an empty chunk. A chunk with more than one entry holds at most
    /// `CHUNK_BYTES` packed bytes.
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl List {
    pub fn new() -> Self {
        List::default()
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name OBJECT ENCODING reports. Redis 7.0 reports `quicklist` for every list
    /// (the `listpack` list encoding only arrived in 7.2), whatever its size.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn push_back(&mut self, v: &[u8]) {
        let size = chunk::entry_size(v.len());
        match self.chunks.back_mut() {
            Some(c) if c.fits(size) => c.push_back(v),
            _ => {
                // The chunk left behind is full for good: give back its spare capacity.
                if let Some(c) = self.chunks.back_mut() {
                    c.shrink();
                }
                self.reserve_chunk();
                self.chunks.push_back(Chunk::with(v));
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, v: &[u8]) {
        let size = chunk::entry_size(v.len());
        match self.chunks.front_mut() {
            Some(c) if c.fits(size) => c.push_front(v),
            _ => {
                if let Some(c) = self.chunks.front_mut() {
                    c.shrink();
                }
                self.reserve_chunk();
                self.chunks.push_front(Chunk::with(v));
            }
        }
        self.len += 1;
    }

    /// Most lists fit in one chunk: size the chunk deque for exactly one at first
    /// instead of the default four, then let it grow as usual.
    fn reserve_chunk(&mut self) {
        if self.chunks.capacity() == 0 {
            self.chunks.reserve_exact(1);
        }
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.front_mut()?;
        let v = c.pop_front();
        if c.is_empty() {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.back_mut()?;
        let v = c.pop_back();
        if c.is_empty() {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(v)
    }

    /// (chunk, position inside it) of element `i < len`, walking chunk counts from the
    /// nearer end of the list.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut rest = i;
            for (ci, c) in self.chunks.iter().enumerate() {
                if rest < c.count() {
                    return (ci, rest);
                }
                rest -= c.count();
            }
        } else {
            let mut after = self.len - i; // elements from i (included) to the end
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if after <= c.count() {
                    return (ci, c.count() - after);
                }
                after -= c.count();
            }
        }
        unreachable!("index {i} is below the length {}", self.len)
    }

    /// Element `i` from the head, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (ci, j) = self.locate(i);
        Some(self.chunks[ci].get(j))
    }

    /// Replaces element `i`; false when `i` is out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        let (ci, j) = self.locate(i);
        self.chunks[ci].replace(j, v);
        self.split_if_oversized(ci);
        true
    }

    /// Inserts `v` so that it becomes element `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        if i == 0 {
            return self.push_front(v);
        }
        if i >= self.len {
            return self.push_back(v);
        }
        let (ci, j) = self.locate(i);
        self.chunks[ci].insert(j, v);
        self.len += 1;
        self.split_if_oversized(ci);
    }

    /// Re-packs chunk `ci` into as many chunks as it needs after it grew past the limit.
    fn split_if_oversized(&mut self, ci: usize) {
        let c = &self.chunks[ci];
        if c.byte_len() <= CHUNK_BYTES || c.count() == 1 {
            return;
        }
        let parts = c.split(CHUNK_BYTES);
        self.chunks.remove(ci);
        for (k, part) in parts.into_iter().enumerate() {
            self.chunks.insert(ci + k, part);
        }
    }

    /// Removes up to `limit` elements equal to `v`, the first ones from the head, or the
    /// last ones when `from_tail`. Returns how many were removed.
    pub fn remove_matching(&mut self, v: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let n = self.chunks.len();
        for k in 0..n {
            if removed == limit {
                break;
            }
            let ci = if from_tail { n - 1 - k } else { k };
            removed += self.chunks[ci].remove_matching(v, limit - removed, from_tail);
        }
        if removed > 0 {
            self.len -= removed;
            self.compact();
        }
        removed
    }

    /// Drops empty chunks and merges neighbours that fit in one chunk together.
    fn compact(&mut self) {
        let mut out: VecDeque<Chunk> = VecDeque::with_capacity(self.chunks.len());
        for c in self.chunks.drain(..) {
            if c.is_empty() {
                continue;
            }
            match out.back_mut() {
                Some(prev) if prev.byte_len() + c.byte_len() <= CHUNK_BYTES => prev.append(&c),
                _ => out.push_back(c),
            }
        }
        self.chunks = out;
    }

    /// Removes `front` elements from the head and `back` from the tail (LTRIM).
    pub fn trim(&mut self, front: usize, back: usize) {
        if front.saturating_add(back) >= self.len {
            self.chunks.clear();
            self.len = 0;
            return;
        }
        let mut rest = front;
        while let Some(c) = self.chunks.front_mut() {
            if rest == 0 {
                break;
            }
            if c.count() <= rest {
                rest -= c.count();
                self.chunks.pop_front();
            } else {
                c.drop_front(rest);
                rest = 0;
            }
        }
        let mut rest = back;
        while let Some(c) = self.chunks.back_mut() {
            if rest == 0 {
                break;
            }
            if c.count() <= rest {
                rest -= c.count();
                self.chunks.pop_back();
            } else {
                c.drop_back(rest);
                rest = 0;
            }
        }
        self.len -= front + back;
    }

    /// Every element, head to tail (reversible).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Elements from index `start` to the tail; empty when `start >= len`.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        let back = match self.chunks.back() {
            Some(c) => (self.chunks.len() - 1, c.byte_len()),
            None => (0, 0),
        };
        if start >= self.len {
            return Iter { list: self, front: back, back, remaining: 0 };
        }
        let (ci, j) = self.locate(start);
        let front = (ci, self.chunks[ci].offset_of(j));
        Iter { list: self, front, back, remaining: self.len - start }
    }

    /// Packed bytes plus framing held by the chunks (for memory estimates).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>() + self.chunks.iter().map(Chunk::capacity).sum::<usize>()
    }

    /// Panics unless the chunk invariants hold (tests).
    #[cfg(test)]
    fn check(&self) {
        assert_eq!(self.chunks.iter().map(Chunk::count).sum::<usize>(), self.len, "counts add up");
        for c in &self.chunks {
            assert!(!c.is_empty(), "no empty chunk");
            assert!(c.count() == 1 || c.byte_len() <= CHUNK_BYTES, "chunk over the limit: {} bytes", c.byte_len());
            c.check();
        }
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut l = List::new();
        for v in iter {
            l.push_back(v);
        }
        l
    }
}

/// Lists are equal when they hold the same elements, however they are chunked.
impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

/// Iterator over list elements. Positions are (chunk index, byte offset): `front`
/// points at the next entry to yield, `back` just past the next one from the tail.
pub struct Iter<'a> {
    list: &'a List,
    front: (usize, usize),
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (mut ci, mut off) = self.front;
        if off >= self.list.chunks[ci].byte_len() {
            ci += 1;
            off = 0;
        }
        let (v, next) = self.list.chunks[ci].read_at(off);
        self.front = (ci, next);
        self.remaining -= 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (mut ci, mut end) = self.back;
        if end == 0 {
            ci -= 1;
            end = self.list.chunks[ci].byte_len();
        }
        let (v, start) = self.list.chunks[ci].read_before(end);
        self.back = (ci, start);
        self.remaining -= 1;
        Some(v)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
