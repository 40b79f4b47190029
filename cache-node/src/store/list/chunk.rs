//! One chunk of a list: entries packed back to back in a byte buffer, each framed as
//! `varint(len) bytes varint_reversed(len)` so it can be read from either end. The
//! buffer only ever holds what this module wrote, so reading it cannot fail.

/// Bytes of the LEB128 varint of `n` (7 bits a byte, at least one).
fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits as usize).div_ceil(7).max(1)
}

/// Packed size of an entry holding `len` bytes.
pub fn entry_size(len: usize) -> usize {
    len + 2 * varint_len(len)
}

/// Appends the framed entry `v` to `out`.
fn encode(out: &mut Vec<u8>, v: &[u8]) {
    let mut groups = [0u8; 10];
    let mut n = v.len();
    let mut k = 0;
    loop {
        let more = n >= 0x80;
        groups[k] = (n & 0x7f) as u8 | if more { 0x80 } else { 0 };
        k += 1;
        n >>= 7;
        if !more {
            break;
        }
    }
    out.extend_from_slice(&groups[..k]);
    out.extend_from_slice(v);
    // Reversed, so a reader walking backwards meets the low group first.
    out.extend(groups[..k].iter().rev());
}

fn encoded(v: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(entry_size(v.len()));
    encode(&mut e, v);
    e
}

#[derive(Clone, Debug, Default)]
pub struct Chunk {
    buf: Vec<u8>,
    count: u32,
}

impl Chunk {
    /// A chunk holding the single entry `v`.
    pub fn with(v: &[u8]) -> Self {
        Chunk { buf: encoded(v), count: 1 }
    }

    pub fn count(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether an entry of `size` packed bytes may join this chunk.
    pub fn fits(&self, size: usize) -> bool {
        self.buf.len() + size <= super::CHUNK_BYTES
    }

    pub fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// The entry starting at byte `off`, and the offset of the entry after it.
    pub fn read_at(&self, off: usize) -> (&[u8], usize) {
        let (mut len, mut shift, mut i) = (0usize, 0u32, off);
        loop {
            let b = self.buf[i];
            i += 1;
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let end = i + len;
        (&self.buf[i..end], end + (i - off))
    }

    /// The entry ending just before byte `end`, and the offset where it starts.
    pub fn read_before(&self, end: usize) -> (&[u8], usize) {
        let (mut len, mut shift, mut i) = (0usize, 0u32, end);
        loop {
            i -= 1;
            let b = self.buf[i];
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let hdr = end - i;
        let start = i - len;
        (&self.buf[start..i], start - hdr)
    }

    /// Byte offset of entry `j` (`j == count` gives the end), walking from the nearer end.
    pub fn offset_of(&self, j: usize) -> usize {
        let count = self.count();
        if j <= count / 2 { (0..j).fold(0, |off, _| self.read_at(off).1) } else { (j..count).fold(self.buf.len(), |end, _| self.read_before(end).1) }
    }

    pub fn get(&self, j: usize) -> &[u8] {
        self.read_at(self.offset_of(j)).0
    }

    pub fn push_back(&mut self, v: &[u8]) {
        encode(&mut self.buf, v);
        self.count += 1;
    }

    /// Moves the chunk's bytes up: bounded by the chunk size, like a listpack insert.
    pub fn push_front(&mut self, v: &[u8]) {
        self.buf.splice(0..0, encoded(v));
        self.count += 1;
    }

    pub fn pop_front(&mut self) -> Vec<u8> {
        let (v, next) = self.read_at(0);
        let v = v.to_vec();
        self.buf.drain(..next);
        self.count -= 1;
        v
    }

    pub fn pop_back(&mut self) -> Vec<u8> {
        let (v, start) = self.read_before(self.buf.len());
        let v = v.to_vec();
        self.buf.truncate(start);
        self.count -= 1;
        v
    }

    pub fn replace(&mut self, j: usize, v: &[u8]) {
        let off = self.offset_of(j);
        let next = self.read_at(off).1;
        self.buf.splice(off..next, encoded(v));
    }

    /// Inserts `v` before entry `j`.
    pub fn insert(&mut self, j: usize, v: &[u8]) {
        let off = self.offset_of(j);
        self.buf.splice(off..off, encoded(v));
        self.count += 1;
    }

    pub fn drop_front(&mut self, n: usize) {
        let off = self.offset_of(n);
        self.buf.drain(..off);
        self.count -= n as u32;
    }

    pub fn drop_back(&mut self, n: usize) {
        let off = self.offset_of(self.count() - n);
        self.buf.truncate(off);
        self.count -= n as u32;
    }

    /// Appends every entry of `other`.
    pub fn append(&mut self, other: &Chunk) {
        self.buf.extend_from_slice(&other.buf);
        self.count += other.count;
    }

    /// Entries with their byte ranges, head to tail.
    fn entries(&self) -> impl Iterator<Item = (std::ops::Range<usize>, &[u8])> {
        let mut off = 0;
        std::iter::from_fn(move || {
            if off >= self.buf.len() {
                return None;
            }
            let (v, next) = self.read_at(off);
            let range = off..next;
            off = next;
            Some((range, v))
        })
    }

    /// Removes up to `limit` entries equal to `v`: the first ones, or the last ones when
    /// `from_tail`. Returns how many went.
    pub fn remove_matching(&mut self, v: &[u8], limit: usize, from_tail: bool) -> usize {
        let matches = self.entries().filter(|(_, e)| *e == v).count();
        let take = matches.min(limit);
        if take == 0 {
            return 0;
        }
        // Matches numbered below `skip` stay (from the tail, the first ones are kept).
        let skip = if from_tail { matches - take } else { 0 };
        let mut kept = Vec::with_capacity(self.buf.len());
        let mut seen = 0;
        for (range, e) in self.entries() {
            if e == v {
                seen += 1;
                if seen > skip && seen <= skip + take {
                    continue;
                }
            }
            kept.extend_from_slice(&self.buf[range]);
        }
        self.buf = kept;
        self.count -= take as u32;
        take
    }

    /// Re-packs the entries greedily into chunks of at most `limit` bytes (an entry
    /// larger than that alone in its own).
    pub fn split(&self, limit: usize) -> Vec<Chunk> {
        let mut out: Vec<Chunk> = Vec::new();
        for (range, _) in self.entries() {
            let bytes = &self.buf[range];
            match out.last_mut() {
                Some(c) if c.buf.len() + bytes.len() <= limit => {
                    c.buf.extend_from_slice(bytes);
                    c.count += 1;
                }
                _ => out.push(Chunk { buf: bytes.to_vec(), count: 1 }),
            }
        }
        out
    }

    /// Panics unless the framing is consistent in both directions (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let forward: Vec<std::ops::Range<usize>> = self.entries().map(|(r, _)| r).collect();
        assert_eq!(forward.len(), self.count(), "entry count");
        let mut end = self.buf.len();
        for r in forward.iter().rev() {
            let (_, start) = self.read_before(end);
            assert_eq!(start..end, r.clone(), "backward framing");
            end = start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_across_varint_widths() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let v = vec![b'x'; len];
            let mut c = Chunk::with(&v);
            c.push_back(b"tail");
            c.push_front(b"head");
            assert_eq!(c.byte_len(), entry_size(len) + 2 * entry_size(4));
            c.check();
            assert_eq!(c.get(1), &v[..]);
            assert_eq!(c.pop_back(), b"tail");
            assert_eq!(c.pop_front(), b"head");
            assert_eq!(c.pop_front(), v);
            assert!(c.is_empty() && c.byte_len() == 0);
        }
        assert_eq!((varint_len(0), varint_len(127), varint_len(128), varint_len(usize::MAX)), (1, 1, 2, 10));
    }
}
