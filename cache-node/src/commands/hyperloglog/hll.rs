//! An HLL as Redis stores it in a string: a 16-byte header, then the registers in the
//! sparse or dense encoding.
//!
//! Header: `HYLL`, the encoding byte (0 dense, 1 sparse), 3 unused bytes, and the last
//! cardinality computed as a little-endian u64 whose top bit set means "stale".

use super::dense::{self, DENSE_BYTES, REGISTERS};
use super::estimate;
use super::murmur;
use super::sparse::{self, Outcome};

pub const HDR: usize = 16;
/// Total length of a dense HLL string.
pub const DENSE_LEN: usize = HDR + DENSE_BYTES;
/// Default `hll-sparse-max-bytes`: past this size a sparse HLL turns dense.
pub const SPARSE_MAX_BYTES: usize = 3000;
const MAGIC: &[u8; 4] = b"HYLL";
const STALE_BIT: u8 = 0x80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// The registers of a sparse HLL do not add up (Redis's `INVALIDOBJ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

/// A new, empty HLL: sparse, with a valid cached cardinality of 0.
pub fn new_empty() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2);
    s.extend_from_slice(MAGIC);
    s.push(1);
    s.extend_from_slice(&[0; 11]);
    s.extend_from_slice(&sparse::empty());
    s
}

/// The encoding of a string that passes Redis's HLL checks (length, magic, known
/// encoding, exact dense length), or None for any other string.
pub fn encoding(s: &[u8]) -> Option<Encoding> {
    if s.len() < HDR || &s[..4] != MAGIC {
        return None;
    }
    match s[4] {
        0 if s.len() == DENSE_LEN => Some(Encoding::Dense),
        1 => Some(Encoding::Sparse),
        _ => None,
    }
}

/// The cached cardinality, when it is still valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    let card: [u8; 8] = s.get(8..HDR)?.try_into().ok()?;
    (card[7] & STALE_BIT == 0).then(|| u64::from_le_bytes(card))
}

pub fn store_cache(s: &mut [u8], card: u64) {
    s[8..HDR].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale, keeping its other bits (as Redis does).
pub fn invalidate(s: &mut [u8]) {
    s[HDR - 1] |= STALE_BIT;
}

/// Converts a valid HLL to the dense encoding, keeping the header; true when it was
/// sparse.
pub fn to_dense(s: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if encoding(s) != Some(Encoding::Sparse) {
        return Ok(false);
    }
    let regs = sparse::to_dense(&s[HDR..]).ok_or(Corrupt)?;
    s.truncate(HDR);
    s[4] = 0;
    s.extend_from_slice(&regs);
    Ok(true)
}

/// Raises register `index` to `count`; true when it changed. A sparse HLL turns dense
/// when the value or the resulting size needs it.
pub fn set(s: &mut Vec<u8>, index: usize, count: u8, max_sparse: usize) -> Result<bool, Corrupt> {
    match encoding(s) {
        Some(Encoding::Dense) => Ok(dense::raise(&mut s[HDR..], index, count)),
        Some(Encoding::Sparse) => match sparse::set(s, HDR, index, count, max_sparse).map_err(|()| Corrupt)? {
            Outcome::Unchanged => Ok(false),
            Outcome::Updated => {
                invalidate(s);
                Ok(true)
            }
            Outcome::Promote => {
                to_dense(s)?;
                Ok(dense::raise(&mut s[HDR..], index, count))
            }
        },
        None => Err(Corrupt),
    }
}

/// Adds one element; true when a register changed.
pub fn add(s: &mut Vec<u8>, element: &[u8], max_sparse: usize) -> Result<bool, Corrupt> {
    let (index, count) = murmur::pattern(element);
    set(s, index, count, max_sparse)
}

/// Folds the registers of a valid HLL into `max` (one byte per register).
pub fn merge_into(s: &[u8], max: &mut [u8; REGISTERS]) -> Result<(), Corrupt> {
    match encoding(s) {
        Some(Encoding::Dense) => {
            dense::merge_into(&s[HDR..], max);
            Ok(())
        }
        Some(Encoding::Sparse) if sparse::merge_into(&s[HDR..], max) => Ok(()),
        _ => Err(Corrupt),
    }
}

/// The estimated cardinality of a valid HLL, ignoring the cache.
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u64; 64];
    match encoding(s) {
        Some(Encoding::Dense) => dense::histogram(&s[HDR..], &mut histo),
        Some(Encoding::Sparse) => {
            if !sparse::histogram(&s[HDR..], &mut histo) {
                return Err(Corrupt);
            }
        }
        None => return Err(Corrupt),
    }
    Ok(estimate::estimate(&histo))
}

/// Writes `max` (one byte per register) into a valid HLL register by register, in
/// order, as PFMERGE does; a sparse target may turn dense on the way.
pub fn store_registers(s: &mut Vec<u8>, max: &[u8; REGISTERS], max_sparse: usize) {
    for (i, &v) in max.iter().enumerate() {
        if v != 0 {
            // A target that passed `merge_into` cannot be corrupted, and Redis ignores
            // the outcome here too.
            let _ = set(s, i, v, max_sparse);
        }
    }
}

/// Every register value of a dense HLL.
pub fn dense_registers(s: &[u8]) -> Vec<u8> {
    (0..REGISTERS).map(|i| dense::get(&s[HDR..], i)).collect()
}

/// PFDEBUG DECODE's text for a sparse HLL.
pub fn describe_sparse(s: &[u8]) -> String {
    sparse::describe(&s[HDR..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn model_count(model: &[u8]) -> u64 {
        estimate::estimate_bytes(model)
    }

    /// Register values an HLL holds, whatever its encoding.
    fn registers(s: &[u8]) -> Vec<u8> {
        let mut max = [0u8; REGISTERS];
        merge_into(s, &mut max).expect("valid");
        max.to_vec()
    }

    #[test]
    fn empty_hll_is_sparse_and_counts_zero() {
        let s = new_empty();
        assert_eq!(s, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(encoding(&s), Some(Encoding::Sparse));
        assert_eq!(cached(&s), Some(0));
        assert_eq!(count(&s), Ok(0));
    }

    #[test]
    fn header_checks() {
        let mut dense = new_empty();
        to_dense(&mut dense).expect("valid");
        assert_eq!(dense.len(), DENSE_LEN);
        assert_eq!(encoding(&dense), Some(Encoding::Dense));
        assert_eq!(encoding(&dense[..DENSE_LEN - 1]), None);
        assert_eq!(encoding(b"HYLL\x01\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(encoding(b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0"), Some(Encoding::Sparse));
        assert_eq!(encoding(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(encoding(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"), None);
    }

    #[test]
    fn cache_bits() {
        let mut s = new_empty();
        store_cache(&mut s, 0x0102);
        assert_eq!(cached(&s), Some(0x0102));
        invalidate(&mut s);
        assert_eq!(cached(&s), None);
        assert_eq!(&s[8..16], &[2, 1, 0, 0, 0, 0, 0, 0x80]);
    }

    #[test]
    fn sparse_grows_then_turns_dense_at_the_limit() {
        let mut s = new_empty();
        let mut n = 0u32;
        while encoding(&s) == Some(Encoding::Sparse) {
            assert!(s.len() <= SPARSE_MAX_BYTES);
            add(&mut s, &n.to_le_bytes(), SPARSE_MAX_BYTES).expect("valid");
            n += 1;
        }
        assert!(n > 500, "turned dense after {n} elements");
        assert_eq!(s.len(), DENSE_LEN);
    }

    #[test]
    fn large_register_turns_dense() {
        let mut s = new_empty();
        assert_eq!(set(&mut s, 7, 33, SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(encoding(&s), Some(Encoding::Dense));
        assert_eq!(registers(&s)[7], 33);
    }

    #[test]
    fn corrupted_sparse_is_detected() {
        // Covers only 16383 registers.
        let mut s = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xfe".to_vec();
        assert_eq!(count(&s), Err(Corrupt));
        assert_eq!(merge_into(&s, &mut [0; REGISTERS]), Err(Corrupt));
        assert_eq!(to_dense(&mut s), Err(Corrupt));
        assert_eq!(set(&mut s, 16383, 1, SPARSE_MAX_BYTES), Err(Corrupt));
        assert_eq!(set(&mut s, 16383, 40, SPARSE_MAX_BYTES), Err(Corrupt));
        // A register it does cover can still be set, as in Redis.
        assert_eq!(set(&mut s, 0, 1, SPARSE_MAX_BYTES), Ok(true));
        let mut empty_payload = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        assert_eq!(set(&mut empty_payload, 0, 1, SPARSE_MAX_BYTES), Err(Corrupt));
    }

    proptest! {
        /// Sparse and dense HLLs fed the same register updates hold the same registers
        /// as a plain array taking the maximum, and count the same.
        #[test]
        fn encodings_agree_with_a_register_array(
            writes in prop::collection::vec((0..REGISTERS, 1u8..=51), 0..600),
            limit in 18usize..4000,
        ) {
            let mut sparse_hll = new_empty();
            let mut dense_hll = new_empty();
            to_dense(&mut dense_hll).expect("valid");
            let mut model = vec![0u8; REGISTERS];
            for (i, v) in writes {
                let changed = v > model[i];
                model[i] = model[i].max(v);
                prop_assert_eq!(set(&mut sparse_hll, i, v, limit), Ok(changed));
                prop_assert_eq!(set(&mut dense_hll, i, v, limit), Ok(changed));
                if encoding(&sparse_hll) == Some(Encoding::Sparse) {
                    prop_assert!(sparse_hll.len() <= limit.max(HDR + 2));
                }
            }
            prop_assert_eq!(registers(&sparse_hll), model.clone());
            prop_assert_eq!(registers(&dense_hll), model.clone());
            prop_assert_eq!(count(&sparse_hll), Ok(model_count(&model)));
            prop_assert_eq!(count(&dense_hll), Ok(model_count(&model)));
        }

        /// Any bytes behind a valid header: every operation answers without panicking.
        #[test]
        fn arbitrary_payloads_never_panic(
            payload in prop::collection::vec(any::<u8>(), 0..64),
            dense_bytes in prop::collection::vec(any::<u8>(), DENSE_BYTES..=DENSE_BYTES),
            writes in prop::collection::vec((0..REGISTERS, 1u8..=51), 0..20),
        ) {
            let mut s = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
            s.extend_from_slice(&payload);
            let mut d = b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0".to_vec();
            d.extend_from_slice(&dense_bytes);
            for hll in [&mut s, &mut d] {
                let _ = count(hll);
                let _ = merge_into(hll, &mut [0; REGISTERS]);
                let _ = describe_sparse(hll);
                for &(i, v) in &writes {
                    let _ = set(hll, i, v, SPARSE_MAX_BYTES);
                }
                let _ = count(hll);
                let _ = to_dense(hll);
            }
        }
    }
}
