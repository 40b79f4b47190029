//! One chunk of a list: entries packed back to back in a byte buffer, each framed as
//! `varint(len) bytes varint_reversed(len)` so it can be read from either end. The
//! buffer only ever holds what this module wrote, so reading it cannot fail.
//!
//! Popping from the front only moves `head` past the entry, so a queue drained with
//! LPOP moves no bytes; the dead prefix is dropped once it outweighs the live bytes,
//! and a push to the front reuses it when the entry fits. Offsets taken and returned
//! by the methods are relative to `head`.

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

/// `encode` into a slice of exactly `entry_size(v.len())` bytes.
fn encode_into(out: &mut [u8], v: &[u8]) {
    let n = varint_len(v.len());
    let mut len = v.len();
    for i in 0..n {
        let more = i + 1 < n;
        let g = (len & 0x7f) as u8 | if more { 0x80 } else { 0 };
        out[i] = g;
        out[out.len() - 1 - i] = g;
        len >>= 7;
    }
    out[n..n + v.len()].copy_from_slice(v);
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
    /// Where the live bytes of `buf` start.
    head: u32,
}

impl Chunk {
    /// A chunk holding the single entry `v`.
    pub fn with(v: &[u8]) -> Self {
        Chunk { buf: encoded(v), count: 1, head: 0 }
    }

    pub fn count(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn head(&self) -> usize {
        self.head as usize
    }

    /// The live packed bytes.
    fn bytes(&self) -> &[u8] {
        &self.buf[self.head()..]
    }

    pub fn byte_len(&self) -> usize {
        self.buf.len() - self.head()
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether an entry of `size` packed bytes may join this chunk.
    pub fn fits(&self, size: usize) -> bool {
        self.byte_len() + size <= super::CHUNK_BYTES
    }

    /// Drops the dead prefix and any spare capacity (the chunk will not grow soon).
    pub fn shrink(&mut self) {
        self.compact();
        self.buf.shrink_to_fit();
    }

    fn compact(&mut self) {
        if self.head > 0 {
            self.buf.drain(..self.head());
            self.head = 0;
        }
    }

    /// The entry starting at `off`, and the offset of the entry after it.
    pub fn read_at(&self, off: usize) -> (&[u8], usize) {
        let buf = self.bytes();
        let (mut len, mut shift, mut i) = (0usize, 0u32, off);
        loop {
            let b = buf[i];
            i += 1;
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let end = i + len;
        (&buf[i..end], end + (i - off))
    }

    /// The entry ending just before `end`, and the offset where it starts.
    pub fn read_before(&self, end: usize) -> (&[u8], usize) {
        let buf = self.bytes();
        let (mut len, mut shift, mut i) = (0usize, 0u32, end);
        loop {
            i -= 1;
            let b = buf[i];
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let hdr = end - i;
        let start = i - len;
        (&buf[start..i], start - hdr)
    }

    /// Offset of entry `j` (`j == count` gives the end), walking from the nearer end.
    pub fn offset_of(&self, j: usize) -> usize {
        let count = self.count();
        if j <= count / 2 { (0..j).fold(0, |off, _| self.read_at(off).1) } else { (j..count).fold(self.byte_len(), |end, _| self.read_before(end).1) }
    }

    pub fn get(&self, j: usize) -> &[u8] {
        self.read_at(self.offset_of(j)).0
    }

    pub fn push_back(&mut self, v: &[u8]) {
        encode(&mut self.buf, v);
        self.count += 1;
    }

    /// Into the dead prefix when it has room; otherwise the live bytes move up, a move
    /// bounded by the chunk size (as a listpack insert).
    pub fn push_front(&mut self, v: &[u8]) {
        let size = entry_size(v.len());
        if size > self.head() {
            self.open_gap(size);
        }
        let h = self.head();
        encode_into(&mut self.buf[h - size..h], v);
        self.head -= size as u32;
        self.count += 1;
    }

    /// Moves the live bytes up to leave room for `size` bytes in front of them, plus as
    /// many again as they hold (within the chunk's limit): a run of front pushes then
    /// moves each byte a bounded number of times, as `push_back`'s doubling does, where
    /// moving the whole chunk for every push cost up to 8 KB of copying each.
    fn open_gap(&mut self, size: usize) {
        let live = self.byte_len();
        let gap = size + live.min(super::CHUNK_BYTES.saturating_sub(live + size));
        let mut buf = Vec::with_capacity(gap + live);
        buf.resize(gap, 0);
        buf.extend_from_slice(self.bytes());
        self.buf = buf;
        self.head = gap as u32;
    }

    pub fn pop_front(&mut self) -> Vec<u8> {
        let (v, next) = self.read_at(0);
        let v = v.to_vec();
        self.count -= 1;
        self.advance(next);
        v
    }

    /// Moves `head` past `n` live bytes. The dead prefix is dropped once it is larger
    /// than what is left, so front pops move each byte at most once, amortised.
    fn advance(&mut self, n: usize) {
        if self.count == 0 {
            self.buf.clear();
            self.head = 0;
            return;
        }
        self.head += n as u32;
        if self.head() > self.byte_len() {
            self.compact();
        }
    }

    pub fn pop_back(&mut self) -> Vec<u8> {
        let (v, start) = self.read_before(self.byte_len());
        let v = v.to_vec();
        self.count -= 1;
        if self.count == 0 {
            self.buf.clear();
            self.head = 0;
        } else {
            self.buf.truncate(self.head() + start);
        }
        v
    }

    pub fn replace(&mut self, j: usize, v: &[u8]) {
        let off = self.offset_of(j);
        let next = self.read_at(off).1;
        let h = self.head();
        self.buf.splice(h + off..h + next, encoded(v));
    }

    /// Inserts `v` before entry `j`.
    pub fn insert(&mut self, j: usize, v: &[u8]) {
        let at = self.head() + self.offset_of(j);
        self.buf.splice(at..at, encoded(v));
        self.count += 1;
    }

    pub fn drop_front(&mut self, n: usize) {
        let off = self.offset_of(n);
        self.count -= n as u32;
        self.advance(off);
    }

    pub fn drop_back(&mut self, n: usize) {
        let off = self.offset_of(self.count() - n);
        self.buf.truncate(self.head() + off);
        self.count -= n as u32;
    }

    /// Appends every entry of `other`.
    pub fn append(&mut self, other: &Chunk) {
        self.buf.extend_from_slice(other.bytes());
        self.count += other.count;
    }

    /// Entries with their offset ranges, head to tail.
    fn entries(&self) -> impl Iterator<Item = (std::ops::Range<usize>, &[u8])> {
        let mut off = 0;
        std::iter::from_fn(move || {
            if off >= self.byte_len() {
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
        // Matches numbered up to `skip` stay (from the tail, the first ones are kept).
        let skip = if from_tail { matches - take } else { 0 };
        let mut kept = Vec::with_capacity(self.byte_len());
        let mut seen = 0;
        for (range, e) in self.entries() {
            if e == v {
                seen += 1;
                if seen > skip && seen <= skip + take {
                    continue;
                }
            }
            kept.extend_from_slice(&self.bytes()[range]);
        }
        self.buf = kept;
        self.head = 0;
        self.count -= take as u32;
        take
    }

    /// Re-packs the entries greedily into chunks of at most `limit` bytes (an entry
    /// larger than that alone in its own).
    pub fn split(&self, limit: usize) -> Vec<Chunk> {
        let mut out: Vec<Chunk> = Vec::new();
        for (range, _) in self.entries() {
            let bytes = &self.bytes()[range];
            match out.last_mut() {
                Some(c) if c.buf.len() + bytes.len() <= limit => {
                    c.buf.extend_from_slice(bytes);
                    c.count += 1;
                }
                _ => out.push(Chunk { buf: bytes.to_vec(), count: 1, head: 0 }),
            }
        }
        out
    }

    /// Panics unless the framing is consistent in both directions (tests).
    #[cfg(test)]
    pub fn check(&self) {
        assert!(self.head() <= self.buf.len());
        assert!(self.count > 0 || self.buf.is_empty(), "an empty chunk holds no bytes");
        let forward: Vec<std::ops::Range<usize>> = self.entries().map(|(r, _)| r).collect();
        assert_eq!(forward.len(), self.count(), "entry count");
        let mut end = self.byte_len();
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

    #[test]
    fn encode_into_writes_what_encode_appends() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut a = Vec::new();
            encode(&mut a, &v);
            let mut b = vec![0xAA; entry_size(len)];
            encode_into(&mut b, &v);
            assert_eq!(a, b, "len {len}");
        }
    }

    #[test]
    fn front_pushes_move_the_chunk_a_logarithmic_number_of_times() {
        let mut c = Chunk::with(b"0");
        let mut moves = 0;
        let mut n = 1;
        while c.fits(entry_size(5)) {
            moves += usize::from(c.head() < entry_size(5));
            c.push_front(format!("{:05}", n).as_bytes());
            n += 1;
        }
        c.check();
        assert!(n > 1000, "{n}");
        assert!(moves <= 12, "{moves} moves for {n} pushes");
        assert_eq!(c.get(0), format!("{:05}", n - 1).as_bytes());
        assert_eq!(c.get(n - 1), b"0");
        assert!(c.byte_len() <= super::super::CHUNK_BYTES);
    }

    #[test]
    fn front_pops_move_head_and_front_pushes_reuse_the_gap() {
        let mut c = Chunk::with(b"a");
        for v in [&b"bb"[..], b"ccc", b"dddd", b"eeeee"] {
            c.push_back(v);
        }
        assert_eq!(c.pop_front(), b"a");
        assert_eq!((c.head, c.byte_len()), (3, 22), "popping the head moves no bytes");
        c.push_front(b"x");
        assert_eq!((c.head, c.count()), (0, 5), "the gap took the pushed entry");
        assert_eq!(c.pop_front(), b"x");
        assert_eq!(c.pop_front(), b"bb");
        assert_eq!(c.head, 7, "a dead prefix smaller than the live bytes stays");
        assert_eq!(c.pop_front(), b"ccc");
        assert_eq!(c.head, 12);
        c.check();
        c.push_front(b"yy");
        c.insert(1, b"z");
        c.replace(2, b"DDDD");
        c.check();
        assert_eq!((0..c.count()).map(|j| c.get(j).to_vec()).collect::<Vec<_>>(), [&b"yy"[..], b"z", b"DDDD", b"eeeee"]);
        c.drop_front(2);
        assert_eq!(c.head, 0, "a dead prefix larger than the live bytes is dropped");
        c.drop_back(1);
        assert_eq!(c.get(0), b"DDDD");
        c.check();
    }
}
