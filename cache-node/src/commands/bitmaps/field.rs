//! BITFIELD arithmetic: integer fields of 1..=64 bits (signed) or 1..=63 bits (unsigned)
//! at any bit offset, and the WRAP/SAT/FAIL overflow policies. Values are computed in
//! i128 so no intermediate step can overflow.

use crate::commands::CmdError;
use crate::protocol::request::parse_i64;

const TYPE_ERROR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

impl FieldType {
    /// Parses `i<bits>` or `u<bits>` (lower case only, as Redis).
    pub fn parse(arg: &[u8]) -> Result<FieldType, CmdError> {
        let err = || CmdError::other(TYPE_ERROR);
        let (signed, digits) = match arg.split_first() {
            Some((b'i', rest)) => (true, rest),
            Some((b'u', rest)) => (false, rest),
            _ => return Err(err()),
        };
        let bits = parse_i64(digits).ok_or_else(err)?;
        let max = if signed { 64 } else { 63 };
        if !(1..=max).contains(&bits) {
            return Err(err());
        }
        Ok(FieldType { signed, bits: bits as u32 })
    }

    pub fn min(self) -> i128 {
        if self.signed { -(1i128 << (self.bits - 1)) } else { 0 }
    }

    pub fn max(self) -> i128 {
        if self.signed { (1i128 << (self.bits - 1)) - 1 } else { (1i128 << self.bits) - 1 }
    }

    /// Reads the field at bit offset `pos`; bits past the end of `s` read as 0.
    pub fn get(self, s: &[u8], pos: u64) -> i64 {
        let raw = read_bits(s, pos, self.bits);
        if self.signed {
            // Sign-extend from the field's top bit.
            let shift = 64 - self.bits;
            ((raw << shift) as i64) >> shift
        } else {
            raw as i64
        }
    }

    /// Writes `value` (already in range) at bit offset `pos`; `s` must cover the field.
    pub fn put(self, s: &mut [u8], pos: u64, value: i128) {
        write_bits(s, pos, self.bits, value as u64);
    }

    /// The value a SET argument stands for. Unsigned fields read the i64 as u64, so a
    /// negative argument is a huge value that overflows upwards (SAT gives the maximum).
    pub fn value_of_arg(self, v: i64) -> i128 {
        if self.signed { i128::from(v) } else { i128::from(v as u64) }
    }

    /// `value + incr` under the overflow policy; None when it overflows with FAIL.
    pub fn apply(self, value: i128, incr: i128, policy: Overflow) -> Option<i128> {
        let sum = value + incr;
        if (self.min()..=self.max()).contains(&sum) {
            return Some(sum);
        }
        match policy {
            Overflow::Fail => None,
            Overflow::Sat => Some(if sum > self.max() { self.max() } else { self.min() }),
            Overflow::Wrap => {
                let modulus = 1i128 << self.bits;
                let low = sum.rem_euclid(modulus);
                Some(if self.signed && low > self.max() { low - modulus } else { low })
            }
        }
    }
}

fn read_bits(s: &[u8], pos: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |acc, i| (acc << 1) | u64::from(super::bits::get_bit(s, pos + i)))
}

fn write_bits(s: &mut [u8], pos: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let on = (value >> (u64::from(bits) - 1 - i)) & 1 == 1;
        super::bits::set_bit(s, pos + i, on);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> FieldType {
        FieldType::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn types() {
        assert_eq!(t("i64"), FieldType { signed: true, bits: 64 });
        assert_eq!(t("u63"), FieldType { signed: false, bits: 63 });
        for bad in ["u64", "i65", "i0", "u0", "I8", "U8", "x8", "i", "", "i08", "i-1", "i+8"] {
            assert!(FieldType::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn overflow_policies_match_redis() {
        let u2 = t("u2");
        assert_eq!(u2.apply(3, 1, Overflow::Wrap), Some(0));
        assert_eq!(u2.apply(3, 1, Overflow::Sat), Some(3));
        assert_eq!(u2.apply(3, 1, Overflow::Fail), None);
        assert_eq!(u2.apply(0, -1, Overflow::Sat), Some(0));
        let u8t = t("u8");
        // SET u8 -1: the argument is read as u64
        assert_eq!(u8t.apply(u8t.value_of_arg(-1), 0, Overflow::Wrap), Some(255));
        assert_eq!(u8t.apply(u8t.value_of_arg(-1), 0, Overflow::Sat), Some(255));
        assert_eq!(u8t.apply(0, -5, Overflow::Wrap), Some(251));
        let i8t = t("i8");
        assert_eq!(i8t.apply(200, 0, Overflow::Wrap), Some(-56));
        assert_eq!(i8t.apply(200, 0, Overflow::Sat), Some(127));
        assert_eq!(i8t.apply(-200, 0, Overflow::Sat), Some(-128));
        let i64t = t("i64");
        assert_eq!(i64t.apply(i128::from(i64::MIN), -1, Overflow::Wrap), Some(i128::from(i64::MAX)));
        assert_eq!(i64t.apply(i128::from(i64::MIN), -1, Overflow::Sat), Some(i128::from(i64::MIN)));
        let u63 = t("u63");
        assert_eq!(u63.apply(i128::from(i64::MAX), 1, Overflow::Wrap), Some(0));
    }

    #[test]
    fn reads_and_writes_at_any_offset() {
        let mut s = vec![0u8; 2];
        let i5 = t("i5");
        i5.put(&mut s, 3, 7);
        assert_eq!(t("u8").get(&s, 0), 7);
        assert_eq!(t("i3").get(&s, 3), 1);
        i5.put(&mut s, 3, -5);
        assert_eq!(i5.get(&s, 3), -5);
        // past the end reads as zero
        assert_eq!(t("u63").get(&s, 1000), 0);
        let mut s = vec![0u8; 8];
        t("i64").put(&mut s, 0, i128::from(i64::MIN));
        assert_eq!(t("i64").get(&s, 0), i64::MIN);
    }

    proptest! {
        #[test]
        fn put_then_get_round_trips(signed: bool, bits in 1u32..=64, pos in 0u64..40, v: i64, policy in 0..3u8) {
            let ty = FieldType { signed, bits: if signed { bits } else { bits.min(63) } };
            let policy = [Overflow::Wrap, Overflow::Sat, Overflow::Fail][policy as usize];
            let mut s = vec![0u8; 16];
            if let Some(x) = ty.apply(ty.value_of_arg(v), 0, policy) {
                prop_assert!(x >= ty.min() && x <= ty.max());
                ty.put(&mut s, pos, x);
                prop_assert_eq!(i128::from(ty.get(&s, pos)), x);
                // nothing outside the field changed
                let bits_set = (0..128u64).filter(|&i| (i < pos || i >= pos + u64::from(ty.bits)) && super::super::bits::get_bit(&s, i)).count();
                prop_assert_eq!(bits_set, 0);
            }
        }
    }
}
