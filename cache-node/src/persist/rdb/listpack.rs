//! Listpacks (Redis 7's compact blob for small hashes, sorted sets and list nodes):
//! a validating decoder and an encoder.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 = "count them"), entries,
//! 0xFF. An entry is an encoding byte (with the length or a small integer inside it),
//! the data, then the length of encoding + data written backwards ("backlen") so the
//! list can be walked from the tail.

use super::item::Item;

const HEADER: usize = 6;
const EOF: u8 = 0xff;

/// Size of the backlen field for an entry of `l` bytes (encoding + data).
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    // Most significant 7-bit group first; every byte after the first has its top bit
    // set, so a reader walking backwards knows when to stop.
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 0x7f) as u8;
        out.push(if i == n - 1 { group } else { group | 0x80 });
    }
}

/// Reads the backlen that ends right before `end` (walking backwards), as Redis does.
fn read_backlen(blob: &[u8], end: usize) -> Option<usize> {
    let mut v = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p = p.checked_sub(1)?;
        let b = blob[p];
        v |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Every element of a listpack, after checking the header, each entry's bounds and
/// backlen, the count and the terminator.
pub fn entries(blob: &[u8]) -> Result<Vec<Item<'_>>, &'static str> {
    const BAD: &str = "listpack";
    if blob.len() < HEADER + 1 || le(&blob[..4]) as usize != blob.len() || blob[blob.len() - 1] != EOF {
        return Err(BAD);
    }
    let count = le(&blob[4..6]) as usize;
    let end = blob.len() - 1;
    let mut out = Vec::with_capacity(count.min(1024));
    let mut p = HEADER;
    while p < end {
        let b = blob[p];
        let need = |n: usize| if p + n <= end { Ok(()) } else { Err(BAD) };
        let (item, size) = if b & 0x80 == 0 {
            (Item::Int(i64::from(b)), 1)
        } else if b & 0xc0 == 0x80 {
            let l = usize::from(b & 0x3f);
            need(1 + l)?;
            (Item::Str(&blob[p + 1..p + 1 + l]), 1 + l)
        } else if b & 0xe0 == 0xc0 {
            need(2)?;
            let v = (u64::from(b & 0x1f) << 8) | u64::from(blob[p + 1]);
            (Item::Int(sign_extend(v, 13)), 2)
        } else if b & 0xf0 == 0xe0 {
            need(2)?;
            let l = (usize::from(b & 0x0f) << 8) | usize::from(blob[p + 1]);
            need(2 + l)?;
            (Item::Str(&blob[p + 2..p + 2 + l]), 2 + l)
        } else {
            match b {
                0xf0 => {
                    need(5)?;
                    let l = le(&blob[p + 1..p + 5]) as usize;
                    need(5usize.checked_add(l).ok_or(BAD)?)?;
                    (Item::Str(&blob[p + 5..p + 5 + l]), 5 + l)
                }
                0xf1..=0xf4 => {
                    let n = match b {
                        0xf1 => 2,
                        0xf2 => 3,
                        0xf3 => 4,
                        _ => 8,
                    };
                    need(1 + n)?;
                    let v = le(&blob[p + 1..p + 1 + n]);
                    (Item::Int(sign_extend(v, 8 * n as u32)), 1 + n)
                }
                _ => return Err(BAD),
            }
        };
        let bl = backlen_size(size);
        need(size + bl)?;
        if read_backlen(blob, p + size + bl) != Some(size) {
            return Err(BAD);
        }
        out.push(item);
        p += size + bl;
    }
    if p != end || (count != 0xffff && count != out.len()) {
        return Err(BAD);
    }
    Ok(out)
}

/// Builds a listpack one element at a time. Canonical integers are stored as integers,
/// as Redis does, so the blob is as small as Redis's own.
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder { buf: vec![0; HEADER], count: 0 }
    }
}

impl Builder {
    pub fn push(&mut self, v: &[u8]) {
        let start = self.buf.len();
        match crate::protocol::request::parse_i64(v) {
            Some(i) => self.push_int(i),
            None => {
                let l = v.len();
                if l < 64 {
                    self.buf.push(0x80 | l as u8);
                } else if l < 4096 {
                    self.buf.push(0xe0 | (l >> 8) as u8);
                    self.buf.push((l & 0xff) as u8);
                } else {
                    self.buf.push(0xf0);
                    self.buf.extend_from_slice(&(l as u32).to_le_bytes());
                }
                self.buf.extend_from_slice(v);
            }
        }
        let size = self.buf.len() - start;
        put_backlen(&mut self.buf, size);
        self.count += 1;
    }

    fn push_int(&mut self, i: i64) {
        let b = &mut self.buf;
        if (0..=127).contains(&i) {
            b.push(i as u8);
        } else if (-4096..=4095).contains(&i) {
            let u = (i as u64) & 0x1fff;
            b.push(0xc0 | (u >> 8) as u8);
            b.push((u & 0xff) as u8);
        } else {
            let (tag, n) = if i16::try_from(i).is_ok() {
                (0xf1, 2)
            } else if (-(1 << 23)..(1 << 23)).contains(&i) {
                (0xf2, 3)
            } else if i32::try_from(i).is_ok() {
                (0xf3, 4)
            } else {
                (0xf4, 8)
            };
            b.push(tag);
            b.extend_from_slice(&i.to_le_bytes()[..n]);
        }
    }

    /// Bytes so far (without the terminator).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(0xffff) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_hand_made_blob() {
        // "a", 5, -3, "hello" x 40 (200 bytes, 12-bit length), 70000 (int24).
        let mut blob = vec![0, 0, 0, 0, 5, 0];
        blob.extend_from_slice(&[0x81, b'a', 2]);
        blob.extend_from_slice(&[0x05, 1]);
        blob.extend_from_slice(&[0xdf, 0xfd, 2]); // 13-bit -3
        let long = b"hello".repeat(40);
        blob.extend_from_slice(&[0xe0, 200]);
        blob.extend_from_slice(&long);
        blob.extend_from_slice(&[0x01, 0x80 | (202 & 0x7f)]); // backlen 202 in two bytes
        blob.extend_from_slice(&[0xf2, 0x70, 0x11, 0x01, 4]);
        blob.push(0xff);
        let total = blob.len() as u32;
        blob[..4].copy_from_slice(&total.to_le_bytes());
        let got = entries(&blob).unwrap();
        assert_eq!(got, vec![Item::Str(b"a"), Item::Int(5), Item::Int(-3), Item::Str(&long), Item::Int(70000)]);
    }

    #[test]
    fn refuses_corrupt_blobs() {
        let mut b = Builder::default();
        b.push(b"abc");
        b.push(b"12345");
        let good = b.finish();
        assert!(entries(&good).is_ok());
        for cut in 0..good.len() {
            assert!(entries(&good[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = good.clone();
        bad[4] = 3; // wrong count
        assert!(entries(&bad).is_err());
        let mut bad = good.clone();
        bad[6] = 0x8f; // string length past the end
        assert!(entries(&bad).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(items in proptest::collection::vec(prop_oneof![
            any::<i64>().prop_map(|i| i.to_string().into_bytes()),
            (-5000i64..5000).prop_map(|i| i.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..5000),
        ], 0..40)) {
            let mut b = Builder::default();
            for i in &items {
                b.push(i);
            }
            let blob = b.finish();
            let got = entries(&blob).unwrap();
            let mut buf = Default::default();
            let got: Vec<Vec<u8>> = got.iter().map(|i| i.bytes(&mut buf).to_vec()).collect();
            prop_assert_eq!(got, items);
        }

        #[test]
        fn never_panics(blob in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = entries(&blob);
        }
    }
}
