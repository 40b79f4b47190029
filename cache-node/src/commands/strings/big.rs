//! Just enough unsigned big-integer arithmetic to read and print 80-bit floats exactly
//! (long_double.rs): a number of up to 5 KiB of digits times a power of ten, its top
//! bits, and its decimal text.

use std::cmp::Ordering;

/// Little-endian 32-bit limbs, no trailing zero limbs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BigUint(Vec<u32>);

impl BigUint {
    pub fn zero() -> Self {
        BigUint(Vec::new())
    }

    pub fn from_u128(mut v: u128) -> Self {
        let mut limbs = Vec::with_capacity(4);
        while v > 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        BigUint(limbs)
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    pub fn bits(&self) -> u32 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u32 - 1) * 32 + (32 - top.leading_zeros()),
        }
    }

    /// `self = self × mul + add`.
    pub fn mul_add_small(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self = self × 10^k`.
    pub fn mul_pow10(&mut self, mut k: u32) {
        while k >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            k -= 9;
        }
        if k > 0 {
            self.mul_add_small(10u32.pow(k), 0);
        }
    }

    /// `self = self × 2^n`.
    pub fn shl(&mut self, n: u32) {
        if self.is_zero() {
            return;
        }
        let (limbs, bits) = ((n / 32) as usize, n % 32);
        if bits > 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let v = *limb;
                *limb = (v << bits) | carry;
                carry = v >> (32 - bits);
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        if limbs > 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    fn cmp_big(&self, other: &BigUint) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`, `other <= self`.
    fn sub_assign(&mut self, other: &BigUint) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            (*limb, borrow) = if v < 0 { ((v + (1 << 32)) as u32, 1) } else { (v as u32, 0) };
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// Bit `i` (0 = lowest).
    fn bit(&self, i: u32) -> bool {
        self.0.get((i / 32) as usize).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// The top (at most 128) bits: `self = (q + sticky·ε) × 2^shift`, sticky when a
    /// dropped bit is set.
    pub fn top_bits(&self) -> (u128, i32, bool) {
        let bits = self.bits();
        let shift = bits.saturating_sub(128);
        let mut q = 0u128;
        for i in (shift..bits).rev() {
            q = (q << 1) | u128::from(self.bit(i));
        }
        let sticky = (0..shift).any(|i| self.bit(i));
        (q, shift as i32, sticky)
    }

    /// `self / den` (both non-zero) as `(q + sticky·ε) × 2^e2` with q of 70 or 71 bits.
    pub fn div_top_bits(self, mut den: BigUint) -> (u128, i32, bool) {
        let mut num = self;
        // Scale so that the quotient has 70 or 71 bits.
        let diff = i64::from(num.bits()) - i64::from(den.bits()) - 70;
        let e2 = diff as i32;
        if diff > 0 {
            den.shl(diff as u32);
        } else {
            num.shl(diff.unsigned_abs() as u32);
        }
        // Restoring division, one quotient bit at a time from the top.
        let mut q = 0u128;
        let mut d = den.clone();
        d.shl(71);
        for _ in 0..=71 {
            q <<= 1;
            if num.cmp_big(&d) != Ordering::Less {
                num.sub_assign(&d);
                q |= 1;
            }
            d.shr1();
        }
        (q, e2, !num.is_zero())
    }

    fn shr1(&mut self) {
        let mut carry = 0u32;
        for limb in self.0.iter_mut().rev() {
            let v = *limb;
            *limb = (v >> 1) | (carry << 31);
            carry = v & 1;
        }
        self.trim();
    }

    /// Decimal digits ("0" for zero).
    pub fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            // Divide by 10^9, keeping the remainder.
            let mut rem = 0u64;
            for limb in n.0.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            n.trim();
            chunks.push(rem as u32);
        }
        let Some((top, rest)) = chunks.split_last() else { return "0".into() };
        let mut out = top.to_string();
        for c in rest.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_against_u128() {
        let mut n = BigUint::from_u128(12345);
        n.mul_pow10(20);
        assert_eq!(n, BigUint::from_u128(12345 * 10u128.pow(20)));
        assert_eq!(n.to_decimal(), format!("{}", 12345 * 10u128.pow(20)));
        n.shl(3);
        assert_eq!(n, BigUint::from_u128(12345 * 10u128.pow(20) * 8));
        assert_eq!(BigUint::zero().to_decimal(), "0");
        let mut big = BigUint::from_u128(1);
        big.mul_pow10(40);
        assert_eq!(big.to_decimal(), format!("1{}", "0".repeat(40)));
        let (q, shift, sticky) = big.top_bits();
        // 10^40 = 2^40 × 5^40: the dropped low bits are zeros.
        assert_eq!((shift, sticky), (big.bits() as i32 - 128, false));
        assert_eq!(q >> 127, 1);
    }

    #[test]
    fn division_gives_the_top_bits_of_the_quotient() {
        // 1 / 10 = 0.000110011...b
        let (q, e2, sticky) = BigUint::from_u128(1).div_top_bits(BigUint::from_u128(10));
        assert!(sticky);
        assert!((70..=71).contains(&(128 - q.leading_zeros())));
        let approx = q as f64 * 2f64.powi(e2);
        assert!((approx - 0.1).abs() < 1e-18);
        // Exact: 3 / 4.
        let (q, e2, sticky) = BigUint::from_u128(3).div_top_bits(BigUint::from_u128(4));
        assert!(!sticky);
        assert_eq!(q as f64 * 2f64.powi(e2), 0.75);
    }
}
