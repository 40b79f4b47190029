//! A small hash's field/value pairs packed into one buffer (Redis's `listpack`
//! encoding): each string is a LEB128 length followed by its bytes, fields and values
//! alternating, in insertion order. Lookups are linear, which is what Redis does too and
//! costs little below the 512-field conversion threshold; the win is one allocation and
//! one or two bytes of overhead per string. The buffer is kept at its exact size (a boxed
//! slice, not a growable vector): like a listpack, every write reallocates, and no
//! spare capacity sits in the millions of small hashes a cache may hold.

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pack {
    buf: Box<[u8]>,
    /// Pairs held.
    len: u32,
}

/// Appends `s` with its length prefix.
pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    let mut n = s.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(s);
}

/// Reads the length-prefixed string at `pos`: (its bytes, the position after it).
/// Only ever called on buffers `put_str` wrote.
pub fn get_str(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = buf[pos];
        pos += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (&buf[pos..pos + n], pos + n)
}

/// Where a pair sits in the buffer.
struct Found {
    start: usize,
    value_start: usize,
    end: usize,
}

impl Pack {
    /// Bytes of the packed buffer (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        crate::memory::accounting::alloc_size(self.buf.len())
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> Pairs<'_> {
        Pairs { buf: &self.buf, pos: 0 }
    }

    fn locate(&self, field: &[u8]) -> Option<Found> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (f, value_start) = get_str(&self.buf, pos);
            let (_, end) = get_str(&self.buf, value_start);
            if f == field {
                return Some(Found { start: pos, value_start, end });
            }
            pos = end;
        }
        None
    }

    /// Rewrites the buffer with `f`, which adds at most `extra` bytes, leaving it exact.
    fn edit(&mut self, extra: usize, f: impl FnOnce(&mut Vec<u8>)) {
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(extra);
        f(&mut v);
        self.buf = v.into_boxed_slice();
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.locate(field).map(|f| get_str(&self.buf, f.value_start).0)
    }

    /// Sets a field's value; true when the field is new (appended at the end).
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.locate(field) {
            Some(f) => {
                let mut enc = Vec::with_capacity(value.len() + 10);
                put_str(&mut enc, value);
                self.edit(enc.len(), |v| {
                    v.splice(f.value_start..f.end, enc);
                });
                false
            }
            None => {
                self.edit(field.len() + value.len() + 20, |v| {
                    put_str(v, field);
                    put_str(v, value);
                });
                self.len += 1;
                true
            }
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.locate(field) {
            Some(f) => {
                self.edit(0, |v| {
                    v.drain(f.start..f.end);
                });
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// The pair at position `i` (0-based, insertion order).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }
}

pub struct Pairs<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, p) = get_str(self.buf, self.pos);
        let (v, p) = get_str(self.buf, p);
        self.pos = p;
        Some((f, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_every_size_round_trip() {
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let s = vec![b'x'; n];
            let mut out = Vec::new();
            put_str(&mut out, &s);
            put_str(&mut out, b"end");
            let (got, next) = get_str(&out, 0);
            assert_eq!(got.len(), n);
            assert_eq!(get_str(&out, next).0, b"end");
        }
    }

    #[test]
    fn set_update_remove_keep_order() {
        let mut p = Pack::default();
        assert!(p.set(b"a", b"1"));
        assert!(p.set(b"b", b"2"));
        assert!(p.set(b"c", b"3"));
        assert!(!p.set(b"b", &[b'y'; 200]));
        assert_eq!(p.get(b"b"), Some(&[b'y'; 200][..]));
        assert!(p.remove(b"a"));
        assert!(!p.remove(b"a"));
        let pairs: Vec<_> = p.iter().collect();
        assert_eq!(pairs, vec![(&b"b"[..], &[b'y'; 200][..]), (&b"c"[..], &b"3"[..])]);
        assert_eq!(p.len(), 2);
        assert_eq!(p.nth(1), Some((&b"c"[..], &b"3"[..])));
    }
}
