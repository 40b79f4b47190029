//! The dense encoding: 16384 registers of 6 bits packed little-endian-first into 12288
//! bytes. Register `i` starts at bit `6 * i`, counting from the least significant bit
//! of byte `6 * i / 8`, and spills into the next byte when it does not fit.

/// Number of registers.
pub const REGISTERS: usize = 1 << super::murmur::P;
/// Bits per register.
const BITS: usize = 6;
const MASK: u8 = (1 << BITS) - 1;
/// Bytes of the packed registers.
pub const DENSE_BYTES: usize = (REGISTERS * BITS).div_ceil(8);

/// The value of register `i` (`regs` is the 12288-byte register area).
pub fn get(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let lo = u16::from(regs[byte]);
    // The last register's neighbour lies past the end; Redis reads the zero that
    // terminates the string there.
    let hi = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((lo | hi << 8) >> shift) as u8) & MASK
}

/// Stores `v` (0..=63) in register `i`, leaving its neighbours untouched.
pub fn put(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let v = u16::from(v & MASK) << shift;
    let mask = u16::from(MASK) << shift;
    regs[byte] = (regs[byte] & !(mask as u8)) | v as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next = (*next & !((mask >> 8) as u8)) | (v >> 8) as u8;
    }
}

/// Raises register `i` to `v` if it is lower; true when it changed.
pub fn raise(regs: &mut [u8], i: usize, v: u8) -> bool {
    if v > get(regs, i) {
        put(regs, i, v);
        true
    } else {
        false
    }
}

/// Adds one to `histo[v]` for every register value `v`.
pub fn histogram(regs: &[u8], histo: &mut [u64; 64]) {
    // Four registers fill exactly three bytes.
    for chunk in regs.chunks_exact(3) {
        let w = u32::from(chunk[0]) | u32::from(chunk[1]) << 8 | u32::from(chunk[2]) << 16;
        for k in 0..4 {
            histo[((w >> (6 * k)) & 63) as usize] += 1;
        }
    }
}

/// Folds every register into `max` (one byte per register), keeping the larger value.
pub fn merge_into(regs: &[u8], max: &mut [u8]) {
    for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
        *m = (*m).max(get(regs, i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_matches_redis_diagram() {
        // |11000000|22221111|33333322|: register 1 spans bytes 0 and 1.
        let mut regs = vec![0u8; DENSE_BYTES];
        put(&mut regs, 1, 0b111111);
        assert_eq!(&regs[..3], &[0b1100_0000, 0b0000_1111, 0]);
        put(&mut regs, 2, 0b101010);
        assert_eq!(&regs[..3], &[0b1100_0000, 0b1010_1111, 0b0000_0010]);
        put(&mut regs, REGISTERS - 1, 63);
        assert_eq!(regs[DENSE_BYTES - 1], 0b1111_1100);
        assert_eq!(get(&regs, REGISTERS - 1), 63);
    }

    proptest! {
        /// Registers behave like a plain array of bytes, whatever order they are written in.
        #[test]
        fn registers_model(writes in prop::collection::vec((0..REGISTERS, 0u8..64), 0..400)) {
            let mut regs = vec![0u8; DENSE_BYTES];
            let mut model = vec![0u8; REGISTERS];
            for (i, v) in writes {
                put(&mut regs, i, v);
                model[i] = v;
            }
            for (i, &m) in model.iter().enumerate() {
                prop_assert_eq!(get(&regs, i), m);
            }
            let mut histo = [0u64; 64];
            histogram(&regs, &mut histo);
            let mut want = [0u64; 64];
            for &m in &model {
                want[m as usize] += 1;
            }
            prop_assert_eq!(histo, want);
        }
    }
}
