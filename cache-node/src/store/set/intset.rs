//! A sorted set of integers stored at the narrowest width that holds them all (2, 4 or
//! 8 bytes each), like Redis's `intset`: small integer sets cost 2 bytes a member.

/// Bytes per member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
enum Width {
    W2 = 2,
    W4 = 4,
    W8 = 8,
}

/// Kept at its exact size (a boxed slice): every insert reallocates, as an intset does,
/// and no spare capacity is held by the many small sets a cache may keep.
#[derive(Clone, Debug, PartialEq)]
pub struct IntSet {
    width: Width,
    /// Members in ascending order, little-endian, `width` bytes each.
    data: Box<[u8]>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet { width: Width::W2, data: Box::default() }
    }
}

fn width_of(v: i64) -> Width {
    if i16::try_from(v).is_ok() {
        Width::W2
    } else if i32::try_from(v).is_ok() {
        Width::W4
    } else {
        Width::W8
    }
}

impl IntSet {
    /// Bytes of the member array (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        crate::memory::accounting::alloc_size(self.data.len())
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.width as usize
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The member at position `i < len` (ascending order).
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width as usize;
        let b = &self.data[i * w..i * w + w];
        match b {
            [a, b] => i64::from(i16::from_le_bytes([*a, *b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
            _ => {
                let mut x = [0u8; 8];
                x.copy_from_slice(b);
                i64::from_le_bytes(x)
            }
        }
    }

    fn encode(out: &mut [u8], v: i64) {
        let w = out.len();
        out.copy_from_slice(&v.to_le_bytes()[..w]);
    }

    /// Position of `v`, or where it would be inserted.
    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// True when `v` was added.
    pub fn insert(&mut self, v: i64) -> bool {
        if width_of(v) > self.width {
            let w = width_of(v) as usize;
            let mut wider = vec![0u8; self.len() * w];
            for (i, slot) in wider.chunks_exact_mut(w).enumerate() {
                Self::encode(slot, self.get(i));
            }
            *self = IntSet { width: width_of(v), data: wider.into_boxed_slice() };
        }
        let Err(pos) = self.search(v) else { return false };
        let w = self.width as usize;
        let mut data = Vec::with_capacity(self.data.len() + w);
        data.extend_from_slice(&self.data[..pos * w]);
        let mut bytes = [0u8; 8];
        Self::encode(&mut bytes[..w], v);
        data.extend_from_slice(&bytes[..w]);
        data.extend_from_slice(&self.data[pos * w..]);
        self.data = data.into_boxed_slice();
        true
    }

    /// True when `v` was there. The width never shrinks, as in Redis.
    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(pos) => {
                self.remove_at(pos);
                true
            }
            Err(_) => false,
        }
    }

    pub fn remove_at(&mut self, pos: usize) {
        let w = self.width as usize;
        let mut data = std::mem::take(&mut self.data).into_vec();
        data.drain(pos * w..pos * w + w);
        self.data = data.into_boxed_slice();
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_and_stays_sorted() {
        let mut s = IntSet::default();
        for v in [5, -3, 1000, 5] {
            s.insert(v);
        }
        assert_eq!(s.width, Width::W2);
        assert!(s.insert(i64::from(i32::MAX)));
        assert_eq!(s.width, Width::W4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width, Width::W8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 1000, i64::from(i32::MAX)]);
        assert!(s.remove(5) && !s.remove(5));
        assert!(s.contains(-3) && !s.contains(4));
    }
}
