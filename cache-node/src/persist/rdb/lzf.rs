//! LZF, the compression Redis applies to strings longer than 20 bytes in RDB files
//! (`rdbcompression yes`). The format: a control byte below 32 starts a run of
//! `ctrl + 1` literal bytes; otherwise its top three bits hold a match length minus 2
//! (7 = "one more length byte follows") and, with the next byte, a 13-bit back offset.

/// Longest back reference: 2 + 7 + 255 bytes.
const MAX_MATCH: usize = 264;
/// Farthest back reference (13 bits of offset, stored minus one).
const MAX_OFFSET: usize = 8192;
/// Hash table size: up to 2^14 entries, fewer for short inputs, whose table would
/// otherwise cost more to clear than the compression itself.
const MAX_HASH_BITS: u32 = 14;

/// Compresses `input` into at most `limit` bytes; None when it does not fit (the caller
/// then stores the string as it is, as Redis does).
pub fn compress(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(limit.min(n));
    // Positions (plus one, zero = empty) of the last 3-byte sequence with each hash.
    let bits = (usize::BITS - n.leading_zeros()).clamp(8, MAX_HASH_BITS);
    let mut table = vec![0u32; 1 << bits];
    let mut lit_start = 0usize; // first byte of the pending literal run
    let mut ip = 0usize;
    let flush_literals = |out: &mut Vec<u8>, from: usize, to: usize| {
        for run in input[from..to].chunks(32) {
            out.push((run.len() - 1) as u8);
            out.extend_from_slice(run);
        }
    };
    while ip + 2 < n {
        let h = hash(input[ip], input[ip + 1], input[ip + 2], bits);
        let cand = table[h] as usize;
        table[h] = (ip + 1) as u32;
        if cand > 0 {
            let r = cand - 1;
            let off = ip - r - 1;
            if off < MAX_OFFSET && input[r..r + 3] == input[ip..ip + 3] {
                let max = (n - ip).min(MAX_MATCH);
                let mut len = 3;
                while len < max && input[r + len] == input[ip + len] {
                    len += 1;
                }
                flush_literals(&mut out, lit_start, ip);
                let l = len - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                // Index the positions inside the match so later data can refer to them.
                for p in ip + 1..(ip + len).min(n.saturating_sub(2)) {
                    table[hash(input[p], input[p + 1], input[p + 2], bits)] = (p + 1) as u32;
                }
                ip += len;
                lit_start = ip;
                if out.len() > limit {
                    return None;
                }
                continue;
            }
        }
        ip += 1;
    }
    flush_literals(&mut out, lit_start, n);
    (out.len() <= limit).then_some(out)
}

fn hash(a: u8, b: u8, c: u8, bits: u32) -> usize {
    let v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

/// Decompresses `input` into exactly `out_len` bytes; None when the data is malformed
/// (a reference before the start, a run past the end, or a different length).
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if ip + run > input.len() || out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + run]);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(ip)?);
                ip += 1;
            }
            let low = usize::from(*input.get(ip)?);
            ip += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let len = len + 2;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            // Byte by byte: a reference may overlap the bytes it produces.
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

/// The largest output `compressed` bytes can expand to (a 3-byte reference yields at
/// most 264 bytes), so a claimed length beyond it is refused before allocating.
pub fn max_expansion(compressed: usize) -> usize {
    compressed.saturating_mul(MAX_MATCH / 3 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_redis_output() {
        // What redis-server 7.0 DUMPs (after the 0xc3 string header) for "a" x 100 and
        // for a sentence with repeats.
        let packed = [0x01, b'a', b'a', 0xe0, 0x57, 0x00, 0x01, b'a', b'a'];
        assert_eq!(decompress(&packed, 100), Some(vec![b'a'; 100]));
        let mut packed = vec![0x06];
        packed.extend_from_slice(b"hello h");
        packed.extend_from_slice(&[0xe0, 0x0e, 0x05, 0x04]);
        packed.extend_from_slice(b"world");
        packed.extend_from_slice(&[0xe0, 0x01, 0x05, 0x01, b'l', b'd']);
        let want = b"hello hello hello hello hello world world world";
        assert_eq!(decompress(&packed, want.len()).as_deref(), Some(&want[..]));
    }

    #[test]
    fn malformed_input_is_refused() {
        assert_eq!(decompress(&[0x20, 0x05], 10), None); // reference before the start
        assert_eq!(decompress(&[0x05, 1, 2], 6), None); // literal run past the input
        assert_eq!(decompress(&[0x00, 1], 2), None); // shorter than claimed
        assert_eq!(decompress(&[0xe0], 10), None); // missing length byte
    }

    #[test]
    fn compresses_repetitive_data() {
        let data = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(10);
        let c = compress(&data, data.len() - 4).unwrap();
        assert!(c.len() < data.len() / 4);
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(prop_oneof![Just(b'x'), Just(b'y'), any::<u8>()], 0..3000)) {
            if let Some(c) = compress(&data, data.len() + data.len() / 32 + 1) {
                prop_assert_eq!(decompress(&c, data.len()), Some(data.clone()));
                prop_assert!(data.len() <= max_expansion(c.len()));
            }
        }
    }
}
