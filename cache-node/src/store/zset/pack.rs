//! The compact encoding of small sorted sets (Redis's `listpack`): every element in one
//! byte buffer, in (score, member) order, as `[member length: u8][member][score: f64 LE]`.
//! No per-element allocation; every operation is a linear scan, which is bounded by the
//! encoding limits (128 elements of at most 64 bytes).

use std::cmp::Ordering;

use super::order;

#[derive(Clone, Debug, Default)]
pub struct Pack {
    buf: Vec<u8>,
    len: usize,
}

/// One decoded element and where it sits in the buffer.
#[derive(Clone, Copy)]
pub struct Slot<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub offset: usize,
    pub end: usize,
}

impl Pack {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn iter(&self) -> PackIter<'_> {
        PackIter { buf: &self.buf, pos: 0 }
    }

    fn find(&self, member: &[u8]) -> Option<(usize, Slot<'_>)> {
        self.iter().enumerate().find(|(_, s)| s.member == member)
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, s)| s.score)
    }

    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        self.find(member).map(|(i, _)| i)
    }

    /// Inserts a member known to be absent. Members must be at most 255 bytes (the
    /// caller converts to the tree before that).
    pub fn insert_new(&mut self, member: &[u8], score: f64) {
        let at = self.iter().find(|s| order(s.score, s.member, score, member) == Ordering::Greater).map_or(self.buf.len(), |s| s.offset);
        let mut entry = Vec::with_capacity(member.len() + 9);
        entry.push(member.len() as u8);
        entry.extend_from_slice(member);
        entry.extend_from_slice(&score.to_le_bytes());
        self.buf.splice(at..at, entry);
        self.len += 1;
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, s) = self.find(member)?;
        let (score, range) = (s.score, s.offset..s.end);
        self.buf.drain(range);
        self.len -= 1;
        Some(score)
    }

    /// Removes the elements of ranks `[start, end)`.
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        let (Some(from), Some(to)) = (self.iter().nth(start), self.iter().nth(end - 1)) else {
            return;
        };
        let (from, to) = (from.offset, to.end);
        self.buf.drain(from..to);
        self.len -= end - start;
    }

    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter().nth(rank).map(|s| (s.member, s.score))
    }

    /// How many leading elements satisfy `pred` (which must hold for a prefix).
    pub fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.iter().take_while(|s| pred(s.score, s.member)).count()
    }

    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

pub struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = Slot<'a>;

    fn next(&mut self) -> Option<Slot<'a>> {
        let offset = self.pos;
        let mlen = usize::from(*self.buf.get(offset)?);
        let member = self.buf.get(offset + 1..offset + 1 + mlen)?;
        let raw: [u8; 8] = self.buf.get(offset + 1 + mlen..offset + 9 + mlen)?.try_into().ok()?;
        self.pos = offset + 9 + mlen;
        Some(Slot { member, score: f64::from_le_bytes(raw), offset, end: self.pos })
    }
}
