//! Ziplists (the compact blob of RDB files written before Redis 7.0): a validating
//! decoder. Layout: total bytes (u32 LE), offset of the last entry (u32 LE), element
//! count (u16 LE, 65535 = "count them"), entries, 0xFF. An entry is the previous
//! entry's length (1 byte, or 0xFE + u32 LE), an encoding, then the data.

use super::item::Item;

const HEADER: usize = 10;

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

pub fn entries(blob: &[u8]) -> Result<Vec<Item<'_>>, &'static str> {
    const BAD: &str = "ziplist";
    if blob.len() < HEADER + 1 || le(&blob[..4]) as usize != blob.len() || blob[blob.len() - 1] != 0xff {
        return Err(BAD);
    }
    let tail = le(&blob[4..8]) as usize;
    let count = le(&blob[8..10]) as usize;
    let end = blob.len() - 1;
    let mut out = Vec::with_capacity(count.min(1024));
    let mut p = HEADER;
    let mut prev_len = 0usize;
    let mut last = HEADER;
    while p < end {
        let start = p;
        let need = |at: usize, n: usize| if at + n <= end { Ok(()) } else { Err(BAD) };
        // Previous entry length: must match what we just walked.
        let stored_prev = if blob[p] < 0xfe {
            p += 1;
            usize::from(blob[start])
        } else if blob[p] == 0xfe {
            need(p, 5)?;
            p += 5;
            le(&blob[start + 1..start + 5]) as usize
        } else {
            return Err(BAD);
        };
        if stored_prev != prev_len {
            return Err(BAD);
        }
        need(p, 1)?;
        let e = blob[p];
        let item = match e >> 6 {
            0 => {
                let l = usize::from(e & 0x3f);
                need(p, 1 + l)?;
                p += 1 + l;
                Item::Str(&blob[p - l..p])
            }
            1 => {
                need(p, 2)?;
                let l = (usize::from(e & 0x3f) << 8) | usize::from(blob[p + 1]);
                need(p, 2 + l)?;
                p += 2 + l;
                Item::Str(&blob[p - l..p])
            }
            2 => {
                if e != 0x80 {
                    return Err(BAD);
                }
                need(p, 5)?;
                // Big-endian, unlike everything else here.
                let l = u32::from_be_bytes([blob[p + 1], blob[p + 2], blob[p + 3], blob[p + 4]]) as usize;
                need(p, 5usize.checked_add(l).ok_or(BAD)?)?;
                p += 5 + l;
                Item::Str(&blob[p - l..p])
            }
            _ => {
                let (n, v) = match e {
                    0xc0 => (2, None),
                    0xd0 => (4, None),
                    0xe0 => (8, None),
                    0xf0 => (3, None),
                    0xfe => (1, None),
                    0xf1..=0xfd => (0, Some(i64::from(e & 0x0f) - 1)),
                    _ => return Err(BAD),
                };
                need(p, 1 + n)?;
                let v = match v {
                    Some(v) => v,
                    None => {
                        let raw = le(&blob[p + 1..p + 1 + n]);
                        let shift = 64 - 8 * n as u32;
                        ((raw << shift) as i64) >> shift
                    }
                };
                p += 1 + n;
                Item::Int(v)
            }
        };
        out.push(item);
        prev_len = p - start;
        last = start;
    }
    if p != end || (count != 0xffff && count != out.len()) || tail != last {
        return Err(BAD);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist from its entries (each: encoding + data bytes).
    fn make(entries_raw: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut last = HEADER;
        for e in entries_raw {
            last = HEADER + body.len();
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xfe);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let total = HEADER + body.len() + 1;
        let mut blob = Vec::new();
        blob.extend_from_slice(&(total as u32).to_le_bytes());
        blob.extend_from_slice(&(last as u32).to_le_bytes());
        blob.extend_from_slice(&(entries_raw.len() as u16).to_le_bytes());
        blob.extend_from_slice(&body);
        blob.push(0xff);
        blob
    }

    #[test]
    fn decodes_hand_made_blob() {
        let long = vec![b'x'; 300];
        let mut long_enc = vec![0x40 | 1, 44];
        long_enc.extend_from_slice(&long);
        let blob = make(&[
            vec![0x03, b'f', b'o', b'o'],
            vec![0xf1],                   // immediate 0
            vec![0xfd],                   // immediate 12
            vec![0xfe, 0x80],             // int8 -128
            vec![0xc0, 0x39, 0x30],       // int16 12345
            vec![0xf0, 0xff, 0xff, 0xff], // int24 -1
            vec![0xd0, 0, 0, 0, 0x80],    // int32 min
            vec![0xe0, 1, 0, 0, 0, 0, 0, 0, 0],
            long_enc,
        ]);
        let got = entries(&blob).unwrap();
        assert_eq!(
            got,
            vec![
                Item::Str(b"foo"),
                Item::Int(0),
                Item::Int(12),
                Item::Int(-128),
                Item::Int(12345),
                Item::Int(-1),
                Item::Int(i64::from(i32::MIN)),
                Item::Int(1),
                Item::Str(&long),
            ]
        );
        for cut in 0..blob.len() {
            assert!(entries(&blob[..cut]).is_err());
        }
        let mut bad = blob.clone();
        bad[8] = 3; // wrong count
        assert!(entries(&bad).is_err());
    }
}
