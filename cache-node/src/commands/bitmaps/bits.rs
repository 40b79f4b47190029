//! Pure bit logic over byte strings, in Redis's bit order: bit 0 is the most significant
//! bit of byte 0. Positions are u64 bit offsets; bits past the end of a string read as 0.

use crate::commands::CmdError;
use crate::protocol::request::parse_i64;

/// Parses a bit offset argument. For BITFIELD (`field_bits` given) `#N` means the N-th
/// field of that width. Offsets must address a byte below `max_len` (proto-max-bulk-len).
pub fn parse_offset(arg: &[u8], field_bits: Option<u32>, max_len: u64) -> Result<u64, CmdError> {
    let (digits, scale) = match (arg.split_first(), field_bits) {
        (Some((b'#', rest)), Some(bits)) => (rest, i64::from(bits)),
        _ => (arg, 1),
    };
    let n = parse_i64(digits).and_then(|n| n.checked_mul(scale)).ok_or(CmdError::BitOffset)?;
    if n < 0 || (n as u64 >> 3) >= max_len {
        return Err(CmdError::BitOffset);
    }
    Ok(n as u64)
}

pub fn get_bit(s: &[u8], pos: u64) -> bool {
    let Ok(byte) = usize::try_from(pos >> 3) else {
        return false;
    };
    s.get(byte).is_some_and(|b| b & (0x80 >> (pos & 7)) != 0)
}

/// Sets one bit and returns its previous value. The string must already cover `pos`.
pub fn set_bit(s: &mut [u8], pos: u64, on: bool) -> bool {
    let byte = &mut s[(pos >> 3) as usize];
    let mask = 0x80u8 >> (pos & 7);
    let old = *byte & mask != 0;
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
    old
}

/// Whether BITCOUNT/BITPOS indexes count bytes (the default) or bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Byte,
    Bit,
}

/// Resolves Redis-style `start`/`end` indexes (negative counts from the end) in `unit`s
/// over a string of `len` bytes to an inclusive bit range, or None when it is empty.
pub fn bit_range(len: u64, start: i64, end: i64, unit: Unit) -> Option<(u64, u64)> {
    let total = i128::from(len) * if unit == Unit::Bit { 8 } else { 1 };
    let resolve = |i: i64| {
        if i < 0 { (total + i128::from(i)).max(0) } else { i128::from(i) }
    };
    let first = resolve(start);
    let last = resolve(end).min(total - 1);
    if first > last {
        return None;
    }
    let (first, last) = (first as u64, last as u64);
    Some(match unit {
        Unit::Bit => (first, last),
        Unit::Byte => (first * 8, last * 8 + 7),
    })
}

/// Number of set bits in the inclusive bit range (which must lie inside `s`).
pub fn count(s: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    // Masks keep only the in-range bits of the edge bytes.
    let head = 0xFFu8 >> (first & 7);
    let tail = 0xFFu8 << (7 - (last & 7));
    if fb == lb {
        return u64::from((s[fb] & head & tail).count_ones());
    }
    let middle = &s[fb + 1..lb];
    let mut n = u64::from((s[fb] & head).count_ones()) + u64::from((s[lb] & tail).count_ones());
    let mut chunks = middle.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        n += u64::from(u64::from_ne_bytes(word).count_ones());
    }
    n + chunks.remainder().iter().map(|b| u64::from(b.count_ones())).sum::<u64>()
}

/// Position of the first bit equal to `bit` in the inclusive range (inside `s`).
pub fn find(s: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    // Looking for a 0 is looking for a 1 in the complement.
    let flip = if bit { 0x00 } else { 0xFF };
    let last_byte = (last >> 3) as usize;
    let mut byte = (first >> 3) as usize;
    let mut b = (s[byte] ^ flip) & (0xFF >> (first & 7));
    loop {
        if b != 0 {
            let pos = byte as u64 * 8 + u64::from(b.leading_zeros());
            return (pos <= last).then_some(pos);
        }
        // Skip whole bytes that cannot match.
        let rest = s.get(byte + 1..=last_byte)?;
        byte += 1 + rest.iter().position(|&x| x != flip)?;
        b = s[byte] ^ flip;
    }
}

/// The bitwise operations of BITOP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Combines one more source into `acc` (as long as the longest source); bytes past the
/// end of `src` count as zero.
pub fn fold(acc: &mut [u8], src: &[u8], op: BitOp) {
    let n = src.len().min(acc.len());
    match op {
        BitOp::And => {
            acc[..n].iter_mut().zip(src).for_each(|(a, b)| *a &= b);
            acc[n..].fill(0);
        }
        BitOp::Or => acc[..n].iter_mut().zip(src).for_each(|(a, b)| *a |= b),
        BitOp::Xor => acc[..n].iter_mut().zip(src).for_each(|(a, b)| *a ^= b),
        BitOp::Not => acc.iter_mut().for_each(|a| *a = !*a),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: u64 = 512 * 1024 * 1024;

    fn naive_bits(s: &[u8]) -> Vec<bool> {
        (0..s.len() as u64 * 8).map(|i| get_bit(s, i)).collect()
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset(b"4294967295", None, MAX), Ok(4_294_967_295));
        assert_eq!(parse_offset(b"4294967296", None, MAX), Err(CmdError::BitOffset));
        assert_eq!(parse_offset(b"-1", None, MAX), Err(CmdError::BitOffset));
        assert_eq!(parse_offset(b"abc", None, MAX), Err(CmdError::BitOffset));
        assert_eq!(parse_offset(b"#2", None, MAX), Err(CmdError::BitOffset));
        assert_eq!(parse_offset(b"#2", Some(8), MAX), Ok(16));
        assert_eq!(parse_offset(b"#-1", Some(8), MAX), Err(CmdError::BitOffset));
        assert_eq!(parse_offset(b"#67108863", Some(64), MAX), Ok(67_108_863 * 64));
        assert_eq!(parse_offset(b"#67108864", Some(64), MAX), Err(CmdError::BitOffset));
        assert_eq!(parse_offset(b"#9223372036854775807", Some(2), MAX), Err(CmdError::BitOffset));
    }

    #[test]
    fn single_bits() {
        let mut s = vec![0u8; 2];
        assert!(!set_bit(&mut s, 7, true));
        assert!(set_bit(&mut s, 7, true));
        assert_eq!(s, vec![1, 0]);
        assert!(get_bit(&s, 7) && !get_bit(&s, 6) && !get_bit(&s, 1000) && !get_bit(&s, u64::MAX));
    }

    #[test]
    fn ranges_like_redis() {
        // "foobar" is 6 bytes
        assert_eq!(bit_range(6, 1, 1, Unit::Byte), Some((8, 15)));
        assert_eq!(bit_range(6, 5, 30, Unit::Bit), Some((5, 30)));
        assert_eq!(bit_range(6, -2, -1, Unit::Bit), Some((46, 47)));
        assert_eq!(bit_range(6, -1, -2, Unit::Byte), None);
        assert_eq!(bit_range(6, 0, i64::MAX, Unit::Byte), Some((0, 47)));
        assert_eq!(bit_range(6, i64::MIN, -1, Unit::Bit), Some((0, 47)));
        assert_eq!(bit_range(0, 0, -1, Unit::Byte), None);
        assert_eq!(bit_range(6, 100, 200, Unit::Byte), None);
        assert_eq!(count(b"foobar", 0, 47), 26);
        assert_eq!(count(b"foobar", 8, 15), 6);
        assert_eq!(count(b"foobar", 5, 30), 17);
        assert_eq!(count(b"foobar", 46, 47), 1);
    }

    #[test]
    fn finds_like_redis() {
        let s = [0xFFu8, 0xF0, 0x00];
        assert_eq!(find(&s, false, 0, 23), Some(12));
        assert_eq!(find(&s, true, 16, 23), None);
        let a = [0x00u8, 0xFF, 0x0F];
        assert_eq!(find(&a, true, 3, 19), Some(8));
        assert_eq!(find(&a, false, 8, 15), None);
        assert_eq!(find(&a, false, 19, 23), Some(19));
        assert_eq!(find(&a, true, 16, 23), Some(20));
    }

    #[test]
    fn folds() {
        let mut acc = vec![0xF0, 0x00];
        fold(&mut acc, &[0x0F, 0x0F], BitOp::Or);
        assert_eq!(acc, vec![0xFF, 0x0F]);
        fold(&mut acc, &[0x3C], BitOp::And);
        assert_eq!(acc, vec![0x3C, 0x00]);
        fold(&mut acc, &[0xFF, 0xFF], BitOp::Xor);
        assert_eq!(acc, vec![0xC3, 0xFF]);
        fold(&mut acc, &[], BitOp::Not);
        assert_eq!(acc, vec![0x3C, 0x00]);
    }

    proptest! {
        #[test]
        fn count_and_find_match_a_naive_scan(s in proptest::collection::vec(any::<u8>(), 1..40), a: u16, b: u16, bit: bool) {
            let n = s.len() as u64 * 8;
            let (a, b) = (u64::from(a) % n, u64::from(b) % n);
            let (first, last) = (a.min(b), a.max(b));
            let bits = naive_bits(&s);
            let range = &bits[first as usize..=last as usize];
            prop_assert_eq!(count(&s, first, last), range.iter().filter(|&&x| x).count() as u64);
            let want = range.iter().position(|&x| x == bit).map(|p| p as u64 + first);
            prop_assert_eq!(find(&s, bit, first, last), want);
        }

        #[test]
        fn ranges_stay_inside_the_string(len in 0u64..50, start: i64, end: i64, bits: bool) {
            let unit = if bits { Unit::Bit } else { Unit::Byte };
            if let Some((first, last)) = bit_range(len, start, end, unit) {
                prop_assert!(first <= last && last < len * 8);
            }
        }
    }
}
