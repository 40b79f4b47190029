//! The element hash: MurmurHash64A with Redis's seed, and the (register, run length) pair
//! an element contributes. Both must match Redis bit for bit, or HLLs moved between
//! servers would count the same elements twice.

use super::dense::REGISTERS;

/// Bits of the hash that select a register (16384 registers).
pub const P: u32 = 14;
/// Bits left to count the run of zeros in.
pub const Q: u32 = 64 - P;
const SEED: u64 = 0xadc8_3b19;

/// MurmurHash64A (Austin Appleby), reading 8-byte blocks little-endian whatever the
/// platform, as Redis's endian-neutral variant does.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    // Redis passes the length as a C int: the multiplication wraps in 64 bits.
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes([block[0], block[1], block[2], block[3], block[4], block[5], block[6], block[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the length of its "000...1" pattern (1..=Q+1)
/// in the hash bits above the register index.
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // A sentinel bit past the last usable one caps the run at Q+1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_known_values() {
        // The all-zero input mixes only the length.
        assert_eq!(murmur64a(b"", 0), 0);
        // Tails of every length and a full block hash differently, deterministically.
        let hs: Vec<u64> = (0..=9).map(|n| murmur64a(&b"abcdefghij"[..n], SEED)).collect();
        for (i, a) in hs.iter().enumerate() {
            for b in &hs[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn patterns_match_redis() {
        // (element, register, run) as PFDEBUG DECODE shows them on redis-server 7.0.15.
        let cases: [(&[u8], usize, u8); 7] =
            [(b"a", 12711, 2), (b"b", 15780, 1), (b"foo", 7348, 5), (b"hello", 9216, 1), (b"", 5938, 2), (b"12345678", 10579, 3), (b"123456789", 9293, 2)];
        for (e, idx, run) in cases {
            assert_eq!(pattern(e), (idx, run), "{:?}", String::from_utf8_lossy(e));
        }
        // A rare long run (the integration tests check it against Redis too).
        assert_eq!(pattern(&3_130_853_818u64.to_le_bytes()), (3655, 33));
    }

    #[test]
    fn pattern_bounds() {
        for i in 0..10_000u32 {
            let (idx, run) = pattern(&i.to_le_bytes());
            assert!(idx < REGISTERS);
            assert!((1..=Q as u8 + 1).contains(&run));
        }
    }
}
