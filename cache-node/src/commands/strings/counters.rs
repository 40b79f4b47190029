//! Counters on string values: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. They keep the
//! key's TTL, like every in-place string update in Redis.

use crate::commands::args;
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::protocol::reply::push_int;
use crate::protocol::request::parse_i64;
use crate::store::{Ttl, ValueRef};

use super::long_double::LongDouble;

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

/// A number as Redis's `string2ld` reads it for INCRBYFLOAT (with its length limit).
pub fn parse_long_double(s: &[u8]) -> Option<LongDouble> {
    if s.is_empty() || s.len() >= MAX_FLOAT_CHARS {
        return None;
    }
    LongDouble::parse(s)
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let now = ctx.now_ms;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    // Redis checks the type, then the stored number, then the increment.
    let current = match p.peek(key, now) {
        None => LongDouble::Zero { neg: false },
        Some(ValueRef::Str(s)) => parse_long_double(s).ok_or(CmdError::NotFloat)?,
        Some(_) => return Err(CmdError::WrongType),
    };
    let incr = parse_long_double(argv[2]).ok_or(CmdError::NotFloat)?;
    let new = current + incr;
    if !new.is_finite() {
        return Err(CmdError::other("ERR increment would produce NaN or Infinity"));
    }
    let text = new.to_human();
    p.set_str(key, text.as_bytes(), Ttl::Keep, now);
    drop(p);
    ctx.dirty(1);
    // As Redis: the result, not the increment, so every replica stores the same text.
    ctx.propagate(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn float_reading_limits() {
        assert_eq!(parse_long_double(b"1.5").map(LongDouble::to_human).as_deref(), Some("1.5"));
        assert_eq!(parse_long_double(&vec![b'1'; MAX_FLOAT_CHARS]), None);
        let long = format!("0.{}", "1".repeat(MAX_FLOAT_CHARS - 3));
        assert_eq!(parse_long_double(long.as_bytes()).map(LongDouble::to_human).as_deref(), Some("0.11111111111111111"));
        assert_eq!(parse_long_double(b""), None);
    }
}
