//! Score and lexicographic range bounds as ZRANGEBYSCORE / ZRANGEBYLEX take them.

/// A score interval: `(` before a bound makes it exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_ex: bool,
    pub max: f64,
    pub max_ex: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` as Redis's `zslParseRange` does: a float (leading spaces
    /// allowed, as strtod skips them), `-inf`/`+inf`, optionally prefixed by `(`.
    /// None means `ERR min or max is not a float`.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_ex) = parse_bound(min)?;
        let (max, max_ex) = parse_bound(max)?;
        Some(ScoreRange { min, min_ex, max, max_ex })
    }

    /// True when `s` lies before the interval.
    pub fn below(&self, s: f64) -> bool {
        if self.min_ex { s <= self.min } else { s < self.min }
    }

    /// True when `s` lies after the interval.
    pub fn above(&self, s: f64) -> bool {
        if self.max_ex { s >= self.max } else { s > self.max }
    }

    /// True when no score can be in the interval.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }
}

fn parse_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (body, ex) = match arg.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (arg, false),
    };
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    parse_float(&body[start..]).map(|v| (v, ex))
}

/// A float as strtod reads a whole argument: decimal or exponent notation, `inf`,
/// `infinity`; never NaN.
pub fn parse_float(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'-' | b'+')) {
                return None;
            }
            lower.parse::<f64>().ok()?
        }
    };
    (!v.is_nan()).then_some(v)
}

/// A float as Redis's `getDoubleFromObject` reads a score, weight or increment: like
/// [`parse_float`], but a finite literal that overflows to infinity or underflows to
/// zero is refused (strtod's ERANGE).
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    let v = parse_float(arg)?;
    let mantissa = arg.split(|b| matches!(b, b'e' | b'E')).next().unwrap_or(arg);
    let literal_inf = arg.iter().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'));
    if (v.is_infinite() && !literal_inf) || (v == 0.0 && mantissa.iter().any(|b| matches!(b, b'1'..=b'9'))) {
        return None;
    }
    Some(v)
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    /// None means `ERR min or max not valid string range item`.
    pub fn parse(arg: &[u8]) -> Option<LexBound> {
        match arg.first()? {
            b'-' if arg.len() == 1 => Some(LexBound::NegInf),
            b'+' if arg.len() == 1 => Some(LexBound::PosInf),
            b'[' => Some(LexBound::Incl(arg[1..].to_vec())),
            b'(' => Some(LexBound::Excl(arg[1..].to_vec())),
            _ => None,
        }
    }

    /// False when no member can lie between `min` and `max` (Redis's `sdscmplex` check).
    pub fn range_can_match(min: &LexBound, max: &LexBound) -> bool {
        use std::cmp::Ordering;
        fn key(b: &LexBound) -> (u8, &[u8]) {
            match b {
                LexBound::NegInf => (0, &[]),
                LexBound::Incl(v) | LexBound::Excl(v) => (1, v),
                LexBound::PosInf => (2, &[]),
            }
        }
        match key(min).cmp(&key(max)) {
            Ordering::Greater => false,
            Ordering::Equal => !matches!(min, LexBound::Excl(_)) && !matches!(max, LexBound::Excl(_)),
            Ordering::Less => true,
        }
    }

    /// As a minimum: true when `m` lies before the range.
    pub fn is_below_min(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(v) => m < v.as_slice(),
            LexBound::Excl(v) => m <= v.as_slice(),
        }
    }

    /// As a maximum: true when `m` does not lie after the range.
    pub fn is_within_max(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(v) => m <= v.as_slice(),
            LexBound::Excl(v) => m < v.as_slice(),
        }
    }
}
