//! Counters on string values: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. They keep the
//! key's TTL, like every in-place string update in Redis.

use crate::commands::args;
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::protocol::reply::push_int;
use crate::protocol::request::parse_i64;
use crate::store::{Ttl, ValueRef};

/// Redis reads numbers for INCRBYFLOAT into a buffer of this size; longer text is never
/// a valid float.
const MAX_FLOAT_CHARS: usize = 5 * 1024;

pub fn incr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let delta = args::int(argv[2])?;
    incr_by(ctx, argv[1], delta)
}

pub fn decrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let delta = args::int(argv[2])?;
    // Negating i64::MIN overflows; Redis has a dedicated message for it.
    let delta = delta.checked_neg().ok_or_else(|| CmdError::other("ERR decrement would overflow"))?;
    incr_by(ctx, argv[1], delta)
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> CmdResult {
    let now = ctx.now_ms;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let current = match p.peek(key, now) {
        None => 0,
        Some(ValueRef::Str(s)) => parse_i64(s).ok_or(CmdError::NotInteger)?,
        Some(_) => return Err(CmdError::WrongType),
    };
    let new = current.checked_add(delta).ok_or(CmdError::Overflow)?;
    let mut text = Vec::with_capacity(20);
    push_int(&mut text, new);
    p.set_str(key, &text, Ttl::Keep, now);
    drop(p);
    ctx.dirty(1);
    ctx.out.int(new);
    Ok(())
}

/// A float as `string2ld` accepts it (see `args::float`), with its length limit.
fn parse_float(s: &[u8]) -> Result<f64, CmdError> {
    if s.len() >= MAX_FLOAT_CHARS {
        return Err(CmdError::NotFloat);
    }
    args::float(s)
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let now = ctx.now_ms;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    // Redis checks the type, then the stored number, then the increment.
    let current = match p.peek(key, now) {
        None => 0.0,
        Some(ValueRef::Str(s)) => parse_float(s)?,
        Some(_) => return Err(CmdError::WrongType),
    };
    let incr = parse_float(argv[2])?;
    let new = current + incr;
    if !new.is_finite() {
        return Err(CmdError::other("ERR increment would produce NaN or Infinity"));
    }
    let text = format_float(new);
    p.set_str(key, text.as_bytes(), Ttl::Keep, now);
    drop(p);
    ctx.dirty(1);
    // As Redis: the result, not the increment, so replicas that add in another float
    // width (a real redis-server uses long double) end with the same text.
    ctx.propagate(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// Formats an INCRBYFLOAT result like Redis's "human" long double format (`%.17Lf`, then
/// trailing zeros trimmed): plain decimal, never an exponent, at most 17 decimals.
///
/// Redis computes in 80-bit long double; we compute in f64 and print the shortest text
/// that reads back to the same f64. The two agree on everyday values (10.5 + 0.1 gives
/// `10.6` in both), but where long double shows its own rounding noise Redis prints it
/// and we do not: 10.6 + 5.0e3 is `5010.60000000000000009` in Redis 7.0 and `5010.6`
/// here. Magnitudes beyond f64's range (1e400) are an overflow error here.
pub fn format_float(v: f64) -> String {
    // Display for f64 is the shortest round-trip form and never uses an exponent.
    let mut s = format!("{v}");
    let decimals = s.find('.').map_or(0, |dot| s.len() - dot - 1);
    if decimals > 17 {
        s = format!("{v:.17}");
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" { "0".to_string() } else { s }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn float_formatting() {
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(10.6 + 5.0e3), "5010.6");
        assert_eq!(format_float(3.0), "3");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(1e17), "100000000000000000");
        assert_eq!(format_float(1.5e20), "150000000000000000000");
        assert_eq!(format_float(0.123_456_789_012_345_68), "0.12345678901234568");
        // Like %.17Lf: tiny values round to 17 decimals.
        assert_eq!(format_float(1e-20), "0");
        assert_eq!(format_float(-1e-20), "0");
        assert_eq!(format_float(1e-17), "0.00000000000000001");
        assert_eq!(format_float(1.5e-17), "0.00000000000000002");
        assert_eq!(format_float(1e-7), "0.0000001");
        assert_eq!(format_float(-2.5), "-2.5");
    }

    #[test]
    fn float_parsing_limits() {
        assert_eq!(parse_float(b"1.5"), Ok(1.5));
        assert_eq!(parse_float(&vec![b'1'; MAX_FLOAT_CHARS]), Err(CmdError::NotFloat));
        assert_eq!(parse_float(b""), Err(CmdError::NotFloat));
    }

    proptest::proptest! {
        #[test]
        fn formatted_floats_read_back(v in -1e15f64..1e15) {
            let s = format_float(v);
            proptest::prop_assert!(!s.contains('e'));
            let back: f64 = s.parse().unwrap();
            // exact unless the value needs more than 17 decimals
            proptest::prop_assert!(back == v || (back - v).abs() <= 5e-18);
        }
    }
}
