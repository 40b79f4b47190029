//! Intsets (SET_INTSET values): element width (u32 LE: 2, 4 or 8), count (u32 LE), then
//! the integers in ascending order, little-endian.

pub fn entries(blob: &[u8]) -> Result<Vec<i64>, &'static str> {
    const BAD: &str = "intset";
    if blob.len() < 8 {
        return Err(BAD);
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width) != Some(blob.len() - 8) {
        return Err(BAD);
    }
    let mut out = Vec::with_capacity(count);
    for c in blob[8..].chunks_exact(width) {
        let v = match width {
            2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
            4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        };
        // Strictly ascending, which also rules out duplicates.
        if out.last().is_some_and(|&l| l >= v) {
            return Err(BAD);
        }
        out.push(v);
    }
    Ok(out)
}

/// The intset of `sorted` (ascending, distinct), in the narrowest width that holds all.
pub fn encode(sorted: &[i64]) -> Vec<u8> {
    let fits = |lo: i64, hi: i64| sorted.first().is_none_or(|&f| f >= lo) && sorted.last().is_none_or(|&l| l <= hi);
    let width: usize = if fits(i16::MIN.into(), i16::MAX.into()) {
        2
    } else if fits(i32::MIN.into(), i32::MAX.into()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_and_round_trip() {
        let blob = [2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 1, 0, 0x10, 0x27];
        assert_eq!(entries(&blob).unwrap(), vec![-1, 1, 10000]);
        assert!(entries(&blob[..13]).is_err());
        assert!(entries(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0]).is_err()); // duplicate
        assert!(entries(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err()); // bad width
        for set in [vec![], vec![1, 2], vec![-70000, 5], vec![i64::MIN, 0, i64::MAX]] {
            assert_eq!(entries(&encode(&set)).unwrap(), set);
        }
        assert_eq!(encode(&[1, 2]).len(), 12);
        assert_eq!(encode(&[1, 1 << 20]).len(), 16);
    }
}
