//! Zipmaps (HASH_ZIPMAP values, RDB files from Redis before 2.6): a byte with the pair
//! count (254 = "count them"), then pairs of `len field len free value free-bytes`,
//! then 0xFF. A length is one byte below 254, or 254 followed by a u32 LE.

/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

pub fn entries(blob: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    const BAD: &str = "zipmap";
    if blob.len() < 2 {
        return Err(BAD);
    }
    let mut p = 1;
    let mut out = Vec::new();
    let len_at = |p: &mut usize| -> Result<usize, &'static str> {
        match *blob.get(*p).ok_or(BAD)? {
            b @ 0..=253 => {
                *p += 1;
                Ok(usize::from(b))
            }
            254 => {
                let b = blob.get(*p + 1..*p + 5).ok_or(BAD)?;
                *p += 5;
                Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            }
            _ => Err(BAD),
        }
    };
    loop {
        if *blob.get(p).ok_or(BAD)? == 0xff {
            break;
        }
        let fl = len_at(&mut p)?;
        let field = blob.get(p..p.checked_add(fl).ok_or(BAD)?).ok_or(BAD)?;
        p += fl;
        let vl = len_at(&mut p)?;
        let free = usize::from(*blob.get(p).ok_or(BAD)?);
        p += 1;
        let value = blob.get(p..p.checked_add(vl).ok_or(BAD)?).ok_or(BAD)?;
        p += vl + free;
        out.push((field, value));
    }
    if p + 1 != blob.len() {
        return Err(BAD);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made() {
        let blob = [2, 3, b'f', b'o', b'o', 3, 1, b'b', b'a', b'r', 0, 1, b'a', 0, 0, 0xff];
        assert_eq!(entries(&blob).unwrap(), vec![(&b"foo"[..], &b"bar"[..]), (&b"a"[..], &b""[..])]);
        for cut in 0..blob.len() {
            assert!(entries(&blob[..cut]).is_err());
        }
    }
}
