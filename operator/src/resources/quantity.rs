//! Kubernetes resource quantities (`512Mi`, `1.5Gi`, `1e9`, `250m`), parsed exactly.
//! The API server accepts these in a spec; the builders need them as numbers to derive
//! maxmemory and thread counts, and must not guess on garbage.

/// A non-negative quantity held exactly as `num / den`, so `1.5Gi` or `0.1` lose nothing
/// before rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    num: u128,
    den: u128,
}

/// Most fractional digits accepted; Kubernetes itself keeps no more than nano precision.
const MAX_FRACTION_DIGITS: u32 = 18;

impl Quantity {
    /// Parses Kubernetes's quantity syntax: an optionally signed decimal number, then
    /// nothing, a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m k M G T P E)
    /// or an exponent (`e3`, `E-2`). Negative values are refused: no resource the
    /// builders read may be negative.
    pub fn parse(text: &str) -> Option<Quantity> {
        let (negative, s) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let number_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let frac_digits = u32::try_from(frac_part.len()).ok().filter(|n| *n <= MAX_FRACTION_DIGITS)?;
        let mut num: u128 = 0;
        for c in int_part.bytes().chain(frac_part.bytes()) {
            num = num.checked_mul(10)?.checked_add(u128::from(c - b'0'))?;
        }
        let mut q = Quantity { num, den: 10u128.pow(frac_digits) };
        match suffix {
            "" => {}
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let power = match suffix {
                    "Ki" => 10,
                    "Mi" => 20,
                    "Gi" => 30,
                    "Ti" => 40,
                    "Pi" => 50,
                    _ => 60,
                };
                q.num = q.num.checked_mul(1u128 << power)?;
            }
            "n" => q.den = q.den.checked_mul(1_000_000_000)?,
            "u" => q.den = q.den.checked_mul(1_000_000)?,
            "m" => q.den = q.den.checked_mul(1_000)?,
            "k" | "M" | "G" | "T" | "P" | "E" => {
                let power = match suffix {
                    "k" => 3,
                    "M" => 6,
                    "G" => 9,
                    "T" => 12,
                    "P" => 15,
                    _ => 18,
                };
                q.num = q.num.checked_mul(10u128.pow(power))?;
            }
            _ => {
                // An exponent: `e` or `E`, an optional sign, digits (a lone `E` is exa, above).
                let exp = suffix.strip_prefix(['e', 'E'])?;
                let (negative, digits) = match exp.as_bytes().first() {
                    Some(b'-') => (true, &exp[1..]),
                    Some(b'+') => (false, &exp[1..]),
                    _ => (false, exp),
                };
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let power: u32 = digits.parse().ok()?;
                let factor = 10u128.checked_pow(power)?;
                if negative {
                    q.den = q.den.checked_mul(factor)?;
                } else {
                    q.num = q.num.checked_mul(factor)?;
                }
            }
        }
        // "-0" is zero; anything else negative is meaningless here.
        if negative && q.num != 0 {
            return None;
        }
        Some(q)
    }

    /// The value times `scale`, rounded up (as Kubernetes rounds `Value()` and
    /// `MilliValue()`), or None when it does not fit in a u64.
    pub fn ceil_scaled(self, scale: u128) -> Option<u64> {
        let scaled = self.num.checked_mul(scale)?;
        u64::try_from(scaled.div_ceil(self.den)).ok()
    }

    /// Whole units, rounded up: bytes for memory, cores for CPU.
    pub fn ceil(self) -> Option<u64> {
        self.ceil_scaled(1)
    }

    /// Thousandths, rounded up: millicores for CPU.
    pub fn ceil_millis(self) -> Option<u64> {
        self.ceil_scaled(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KI: u64 = 1 << 10;
    const MI: u64 = 1 << 20;
    const GI: u64 = 1 << 30;

    #[test]
    fn whole_units_rounded_up() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("-0", 0),
            ("+5", 5),
            ("1048576", MI),
            ("1Ki", KI),
            ("512Mi", 512 * MI),
            ("1.5Gi", GI + GI / 2),
            ("0.5Gi", GI / 2),
            (".5Gi", GI / 2),
            ("2.Gi", 2 * GI),
            ("1Ti", 1 << 40),
            ("1Pi", 1 << 50),
            ("1Ei", 1 << 60),
            ("1k", 1_000),
            ("1M", 1_000_000),
            ("4G", 4_000_000_000),
            ("1T", 1_000_000_000_000),
            ("1P", 1_000_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000),
            ("1e9", 1_000_000_000),
            ("1E3", 1_000),
            ("1e+3", 1_000),
            ("15e-1", 2),
            ("2.5e2", 250),
            ("1500m", 2),
            ("100m", 1),
            ("1n", 1),
            ("1u", 1),
            ("1.0000001", 2),
            ("0.1", 1),
        ];
        for (text, want) in cases {
            assert_eq!(Quantity::parse(text).and_then(Quantity::ceil), Some(*want), "{text}");
        }
    }

    #[test]
    fn millis() {
        let cases: &[(&str, u64)] = &[("250m", 250), ("0.5", 500), ("2", 2000), ("1.0005", 1001), ("100u", 1), ("1e-3", 1), ("3k", 3_000_000)];
        for (text, want) in cases {
            assert_eq!(Quantity::parse(text).and_then(Quantity::ceil_millis), Some(*want), "{text}");
        }
    }

    #[test]
    fn refuses_garbage_negative_and_overflow() {
        for text in [
            "",
            ".",
            "Gi",
            "abc",
            "1Gib",
            "1gi",
            "1 Gi",
            " 1Gi",
            "1Gi ",
            "1.5.3",
            "1..5",
            "-1",
            "-1Gi",
            "--0",
            "-+0",
            "+-1",
            "+-0",
            "++1",
            "1e",
            "1e-",
            "1e1.5",
            "1ee3",
            "1E3Gi",
            "1Gi1",
            "0x10",
            "1K",
            "1KB",
            "1mb",
            "1e40",
            "99999999999999999999999999999999999999999",
            "1.0000000000000000001",
            "1e100",
        ] {
            let got = Quantity::parse(text).and_then(Quantity::ceil);
            assert_eq!(got, None, "{text:?} gave {got:?}");
        }
        // Parses, but is far past a u64 of bytes.
        assert_eq!(Quantity::parse("100000Ei").and_then(Quantity::ceil), None);
    }
}
