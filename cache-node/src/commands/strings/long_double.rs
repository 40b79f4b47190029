//! The 80-bit extended float (x87 `long double`) that Redis's INCRBYFLOAT and
//! HINCRBYFLOAT compute in: parsing as `strtold` reads a whole argument, one correctly
//! rounded addition, and the `%.17Lf` text (trailing zeros trimmed) that Redis stores and
//! replies. Doing the same arithmetic, not a close one, is what makes `0.1` plus `0.2`
//! read `0.3` as in Redis (64-bit floats give `0.30000000000000004`).

use std::cmp::Ordering;

use super::big::BigUint;

/// Exponent of the smallest normal number; below it the significand loses bits.
const MIN_EXP: i32 = -16382;
/// Exponent of the largest finite number.
const MAX_EXP: i32 = 16383;
/// Exponent of the last significand bit of the smallest subnormal.
const MIN_UNIT: i32 = MIN_EXP - 63;
/// Decimals Redis prints (`%.17Lf`).
const DECIMALS: u32 = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    Zero {
        neg: bool,
    },
    /// `mant × 2^(exp − 63)`, the top bit of `mant` set. A subnormal keeps this shape
    /// with `exp < MIN_EXP` and its low bits zero.
    Finite {
        neg: bool,
        exp: i32,
        mant: u64,
    },
    Inf {
        neg: bool,
    },
}

use LongDouble::{Finite, Inf, Zero};

impl LongDouble {
    pub fn is_finite(self) -> bool {
        !matches!(self, Inf { .. })
    }

    /// Reads a whole argument as Redis's `string2ld` does (`strtold`: decimal or hex,
    /// `inf`/`infinity`); None for anything it refuses: trailing bytes, NaN, and a
    /// number too large or too small (rounded to zero) for the format.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        let (neg, body) = match s.first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Inf { neg });
        }
        let exact = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' { parse_hex(&body[2..])? } else { parse_decimal(body)? };
        match exact {
            Exact::Zero => Some(Zero { neg }),
            Exact::Value(q, e2, sticky) => match round(neg, q, e2, sticky) {
                // Out of range: strtold's ERANGE, which Redis refuses.
                Zero { .. } | Inf { .. } => None,
                v => Some(v),
            },
        }
    }

    /// Redis's "human" text: `%.17Lf` with trailing zeros (and a bare point) removed, and
    /// `-0` written `0`. Infinity has no such text (callers refuse it first).
    pub fn to_human(self) -> String {
        let (neg, exp, mant) = match self {
            Finite { neg, exp, mant } => (neg, exp, mant),
            Zero { .. } => return "0".into(),
            Inf { neg } => return if neg { "-inf".into() } else { "inf".into() },
        };
        let scale = 10u128.pow(DECIMALS);
        let e = exp - 63;
        // The value times 10^17, rounded to an integer (ties to even, as glibc prints).
        let digits = if e >= 0 {
            let mut n = BigUint::from_u128(u128::from(mant) * scale);
            n.shl(e as u32);
            n.to_decimal()
        } else {
            let n = u128::from(mant) * scale; // < 2^121
            shift_round(n, e.unsigned_abs(), false).to_string()
        };
        let digits = format!("{digits:0>18}");
        let (int, frac) = digits.split_at(digits.len() - DECIMALS as usize);
        let frac = frac.trim_end_matches('0');
        if int == "0" && frac.is_empty() {
            return "0".into();
        }
        let mut out = String::with_capacity(digits.len() + 2);
        if neg {
            out.push('-');
        }
        out.push_str(int);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// `self + other`, rounded to nearest (ties to even) as the FPU does.
    fn add(self, other: LongDouble) -> LongDouble {
        match (self, other) {
            (Inf { neg: a }, Inf { neg: b }) if a != b => Inf { neg: false }, // NaN: not finite either
            (Inf { neg }, _) | (_, Inf { neg }) => Inf { neg },
            (Zero { neg: a }, Zero { neg: b }) => Zero { neg: a && b },
            (Zero { .. }, v) | (v, Zero { .. }) => v,
            (Finite { neg: na, exp: ea, mant: ma }, Finite { neg: nb, exp: eb, mant: mb }) => {
                // `a` is the larger magnitude.
                let ((na, ea, ma), (nb, eb, mb)) = if (ea, ma) >= (eb, mb) { ((na, ea, ma), (nb, eb, mb)) } else { ((nb, eb, mb), (na, ea, ma)) };
                let d = (ea - eb) as u32;
                // Far below half a unit of `a` (even when `a` is a power of two, whose
                // lower neighbour is half a unit away): `a` is the rounded result.
                if d > 66 {
                    return Finite { neg: na, exp: ea, mant: ma };
                }
                // 62 spare low bits hold `b`'s bits exactly for d <= 62; beyond, the
                // dropped bits only count as sticky.
                let a = u128::from(ma) << 62;
                let (b, sticky) = if d <= 62 {
                    (u128::from(mb) << (62 - d), false)
                } else {
                    let drop = d - 62;
                    (u128::from(mb >> drop), mb & ((1u64 << drop) - 1) != 0)
                };
                let e2 = ea - 63 - 62;
                if na == nb {
                    round(na, a + b, e2, sticky)
                } else if sticky {
                    // a − (b + f), 0 < f < 1: between a−b−1 and a−b.
                    round(na, a - b - 1, e2, true)
                } else if a == b {
                    Zero { neg: false }
                } else {
                    round(na, a - b, e2, false)
                }
            }
        }
    }
}

/// An exactly read number: zero, or `(q + sticky·ε) × 2^e2` with q > 0 holding enough
/// bits (at least 66 whenever `sticky`) to round to 64.
enum Exact {
    Zero,
    Value(u128, i32, bool),
}

/// Rounds `(q + sticky·ε) × 2^e2` to the format, to nearest with ties to even; Zero or
/// Inf when out of range.
fn round(neg: bool, q: u128, e2: i32, sticky: bool) -> LongDouble {
    if q == 0 {
        return Zero { neg };
    }
    let top = 127 - q.leading_zeros() as i32 + e2;
    // Weight of the last bit kept: 64 bits for a normal number, fewer for a subnormal.
    let unit = top.max(MIN_EXP) - 63;
    let drop = unit - e2;
    let kept = if drop <= 0 {
        // Exact (the caller gives spare bits whenever sticky is set).
        q << (-drop).min(127)
    } else {
        shift_round(q, drop as u32, sticky)
    };
    if kept == 0 {
        return Zero { neg };
    }
    // kept < 2^65 (a carry may add one bit).
    let bits = 128 - kept.leading_zeros() as i32;
    let exp = bits - 1 + unit;
    if exp > MAX_EXP {
        return Inf { neg };
    }
    let mant = (kept << (128 - bits) >> 64) as u64;
    Finite { neg, exp, mant }
}

/// `(q + sticky·ε) / 2^drop` (drop ≥ 1) rounded to nearest, ties to even: `sticky` says
/// nonzero bits below `q` were already dropped, which makes a tie round up.
fn shift_round(q: u128, drop: u32, sticky: bool) -> u128 {
    if drop > 128 {
        return 0; // q < 2^128 ≤ half
    }
    let kept = if drop == 128 { 0 } else { q >> drop };
    let rem = if drop == 128 { q } else { q & ((1u128 << drop) - 1) };
    let half = 1u128 << (drop - 1);
    match rem.cmp(&half) {
        Ordering::Greater => kept + 1,
        Ordering::Equal if sticky || kept & 1 == 1 => kept + 1,
        _ => kept,
    }
}

/// `digits[.digits][e[±]digits]` (at least one digit), nothing else.
fn parse_decimal(s: &[u8]) -> Option<Exact> {
    let mut i = 0;
    let mut n = BigUint::zero();
    let mut significant = 0i64; // digits of n
    let mut scale = 0i64; // decimal exponent correction from the point
    let mut any = false;
    let mut point = false;
    while let Some(&c) = s.get(i) {
        match c {
            b'0'..=b'9' => {
                any = true;
                if significant > 0 || c != b'0' {
                    n.mul_add_small(10, u32::from(c - b'0'));
                    significant += 1;
                }
                if point {
                    scale -= 1;
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if !any {
        return None;
    }
    let e10 = match s.get(i) {
        None => 0,
        Some(b'e' | b'E') => exponent(&s[i + 1..])?,
        Some(_) => return None,
    };
    if significant == 0 {
        return Some(Exact::Zero);
    }
    let e10 = e10 + scale;
    // Magnitude is in [10^(significant+e10-1), 10^(significant+e10)).
    let magnitude = significant + e10;
    if magnitude > 4934 {
        return Some(Exact::Value(1, MAX_EXP + 1, false)); // overflow
    }
    if magnitude < -4952 {
        return Some(Exact::Value(1, MIN_UNIT - 2, false)); // rounds to zero
    }
    if e10 >= 0 {
        n.mul_pow10(e10 as u32);
        let (q, e2, sticky) = n.top_bits();
        Some(Exact::Value(q, e2, sticky))
    } else {
        let mut den = BigUint::from_u128(1);
        den.mul_pow10(e10.unsigned_abs() as u32);
        let (q, e2, sticky) = n.div_top_bits(den);
        Some(Exact::Value(q, e2, sticky))
    }
}

/// The rest of the text after `e` or `p`: `[±]digits`, nothing else. Saturates far
/// beyond any exponent that matters.
fn exponent(s: &[u8]) -> Option<i64> {
    let (sign, digits) = match s.first() {
        Some(b'-') => (-1, &s[1..]),
        Some(b'+') => (1, &s[1..]),
        _ => (1, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut e = 0i64;
    for &d in digits {
        e = (e * 10 + i64::from(d - b'0')).min(1 << 40);
    }
    Some(sign * e)
}

/// The part after `0x`: `hex[.hex][p[±]digits]` (at least one hex digit).
fn parse_hex(s: &[u8]) -> Option<Exact> {
    let mut i = 0;
    let mut n = BigUint::zero();
    let mut any = false;
    let mut point = false;
    let mut e2 = 0i64;
    let mut nonzero = false;
    while let Some(&c) = s.get(i) {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !point => {
                point = true;
                i += 1;
                continue;
            }
            _ => break,
        };
        any = true;
        nonzero |= d != 0;
        if nonzero {
            n.mul_add_small(16, u32::from(d));
            if point {
                e2 -= 4;
            }
        } else if point {
            e2 -= 4;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    e2 += match s.get(i) {
        None => 0,
        Some(b'p' | b'P') => exponent(&s[i + 1..])?,
        Some(_) => return None,
    };
    if !nonzero {
        return Some(Exact::Zero);
    }
    let (q, shift, sticky) = n.top_bits();
    let e2 = (e2 + i64::from(shift)).clamp(i64::from(MIN_UNIT) - 200, i64::from(MAX_EXP) + 1);
    Some(Exact::Value(q, e2 as i32, sticky))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        (LongDouble::parse(a.as_bytes()).unwrap() + LongDouble::parse(b.as_bytes()).unwrap()).to_human()
    }

    fn read(s: &str) -> Option<String> {
        LongDouble::parse(s.as_bytes()).map(LongDouble::to_human)
    }

    // Every expected text below is what redis-server 7.0 (x86-64) answers.
    #[test]
    fn sums_match_redis() {
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("10.6", "5.0e3"), "5010.60000000000000009");
        assert_eq!(sum("1e17", "1.5"), "100000000000000001.5");
        assert_eq!(sum("3.0e3", "0"), "3000");
        assert_eq!(sum("1.5", "-1.5"), "0");
        assert_eq!(sum("-2.5", "0"), "-2.5");
    }

    #[test]
    fn reading_matches_strtold() {
        assert_eq!(read("0.10000000000000001").as_deref(), Some("0.10000000000000001"));
        assert_eq!(read("0x10").as_deref(), Some("16"));
        assert_eq!(read("0x1.8p1").as_deref(), Some("3"));
        assert_eq!(read("0X.8").as_deref(), Some("0.5"));
        assert_eq!(read("0x1P-3").as_deref(), Some("0.125"));
        assert_eq!(read("-0x0p0").as_deref(), Some("0"));
        assert_eq!(read("1.").as_deref(), Some("1"));
        assert_eq!(read(".5").as_deref(), Some("0.5"));
        assert_eq!(read("+.5e-3").as_deref(), Some("0.0005"));
        assert_eq!(read("00012.50").as_deref(), Some("12.5"));
        assert_eq!(read("-0.0").as_deref(), Some("0"));
        assert_eq!(read("1e-4940").as_deref(), Some("0"));
        assert_eq!(read("0e-9999").as_deref(), Some("0"));
        assert_eq!(read("5e-18").as_deref(), Some("0"));
        assert_eq!(read("1.5e-17").as_deref(), Some("0.00000000000000002"));
        assert_eq!(read("2.5e-17").as_deref(), Some("0.00000000000000002"));
        assert_eq!(read("123456789012345678901234567890").as_deref(), Some("123456789012345678899921813504"));
        assert_eq!(read("0x1p-16445").as_deref(), Some("0"));
        assert_eq!(read("0x1.8p-16446").as_deref(), Some("0"));
        let big = read("1e400").unwrap();
        assert!(big.starts_with("100000000000000000002818806839475865145864534336290520386259106935396855340086298620393639948483241605220940539273176162"));
        assert_eq!(big.len(), 401);
        assert!(
            read("1e4932")
                .unwrap()
                .starts_with("100000000000000000000601894938796389132383777425453311477378504135253301948660872240753332777943314277366652556366627768")
        );
        assert_eq!(LongDouble::parse(b"inf"), Some(Inf { neg: false }));
        assert_eq!(LongDouble::parse(b"-Infinity"), Some(Inf { neg: true }));
        assert_eq!(LongDouble::parse(b"INFINITY"), Some(Inf { neg: false }));
    }

    #[test]
    fn refusals_match_strtold() {
        for bad in [
            "",
            "0x",
            "1e",
            "1e+",
            "nan",
            "nan(123)",
            "-",
            "+",
            ".",
            "-.e1",
            "0x1p",
            "0x1p+",
            "infin",
            "1 ",
            " 1",
            "1_0",
            "1.5\0x",
            "\0",
            "1e5000",
            "1.2e4932",
            "1e-5000",
            "0x1p-16446",
            "0x.p1",
            "1..2",
            "--1",
            "e5",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn the_largest_and_smallest_values() {
        // Largest finite: (2^64 − 1) × 2^(16383 − 63).
        let max = LongDouble::parse(b"0x1.fffffffffffffffep16383").unwrap();
        assert_eq!(max, Finite { neg: false, exp: MAX_EXP, mant: u64::MAX });
        assert!(!(max + max).is_finite());
        let tiny = LongDouble::parse(b"0x1p-16445").unwrap();
        assert_eq!(tiny + tiny, LongDouble::parse(b"0x1p-16444").unwrap());
    }

    proptest::proptest! {
        // On values an f64 holds exactly, with few bits, the sum is exact: the same as f64's.
        #[test]
        fn small_sums_are_exact(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000, sa in 0u32..8, sb in 0u32..8) {
            let x = a as f64 / f64::from(1u32 << sa);
            let y = b as f64 / f64::from(1u32 << sb);
            let got = sum(&format!("{x}"), &format!("{y}"));
            let want = format!("{}", x + y);
            proptest::prop_assert_eq!(got, if want == "-0" { "0".to_string() } else { want });
        }

        #[test]
        fn any_text_is_read_without_panicking(s in "[-+0-9a-fxXpPeE.inftyINFTY]{0,40}") {
            if let Some(v) = LongDouble::parse(s.as_bytes()) {
                let _ = (v + v).to_human();
            }
        }
    }
}
