//! Scores as Redis 7.0 prints them: C's `%.17g` (so `0.1` reads `0.10000000000000001`),
//! `inf`/`-inf`; a bulk string in RESP2, a double in RESP3.

use crate::protocol::Reply;

/// `%.17g`: 17 significant digits, fixed notation for exponents -4..16, scientific
/// (`1e+20`) otherwise, trailing zeros removed.
pub fn format(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{d:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let fixed = format!("{d:.*}", (16 - exp) as usize);
        trim_zeros(&fixed).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

/// A score reply: a bulk string in RESP2, a `,` double in RESP3.
pub fn reply(out: &mut Reply, d: f64) {
    let s = format(d);
    if out.is_resp3() {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

/// How a score reads back from a listpack (ZSCAN of a small set): integral values in the
/// i64 range as plain integers, others as `%.17g`.
pub fn format_packed(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 9.2e18 { format!("{}", d as i64) } else { format(d) }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn like_printf_17g() {
        for (d, want) in [
            (0.1, "0.10000000000000001"),
            (1.5e-5, "1.5e-05"),
            (1e20, "1e+20"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (3.0, "3"),
            (-2.5, "-2.5"),
            (1e16, "10000000000000000"),
            (1e-4, "0.0001"),
            (1e300, "1.0000000000000001e+300"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(format(d), want, "{d}");
        }
    }
}
