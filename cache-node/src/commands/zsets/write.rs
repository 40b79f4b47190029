//! ZADD, ZINCRBY, ZREM.

use super::super::args;
use super::{score, zset_mut};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::zset::ZSet;
use crate::store::{Ttl, Value};

#[derive(Clone, Copy, Default)]
struct Flags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What applying one score to one member did.
enum Outcome {
    Added(f64),
    Updated(f64),
    /// The score was already that value (INCR by 0 counts as processed).
    Same(f64),
    Skipped,
}

fn nan_error() -> CmdError {
    CmdError::other("ERR resulting score is not a number (NaN)")
}

/// Redis's `zsetAdd` decision for one element.
fn apply(z: &mut ZSet, member: &[u8], score: f64, f: Flags) -> Result<Outcome, CmdError> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok(Outcome::Skipped);
            }
            let new = if f.incr { score + cur } else { score };
            if new.is_nan() {
                return Err(nan_error());
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return Ok(Outcome::Skipped);
            }
            if new == cur {
                return Ok(Outcome::Same(new));
            }
            z.insert(member, new);
            Ok(Outcome::Updated(new))
        }
        None if f.xx => Ok(Outcome::Skipped),
        None => {
            z.insert(member, score);
            Ok(Outcome::Added(score))
        }
    }
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut f = Flags::default();
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        match () {
            _ if args::is(a, "nx") => f.nx = true,
            _ if args::is(a, "xx") => f.xx = true,
            _ if args::is(a, "gt") => f.gt = true,
            _ if args::is(a, "lt") => f.lt = true,
            _ if args::is(a, "ch") => f.ch = true,
            _ if args::is(a, "incr") => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = &argv[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::other("ERR XX and NX options at the same time are not compatible"));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::other("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if f.incr && pairs.len() > 2 {
        return Err(CmdError::other("ERR INCR option supports a single increment-element pair"));
    }
    let scores = pairs.chunks(2).map(|p| super::float_arg(p[0])).collect::<Result<Vec<f64>, _>>()?;
    add_generic(ctx, argv[1], pairs, &scores, f)
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let incr = super::float_arg(argv[2])?;
    let f = Flags { incr: true, ..Flags::default() };
    add_generic(ctx, argv[1], &argv[2..4], &[incr], f)
}

fn add_generic(ctx: &mut Ctx<'_>, key: &[u8], pairs: &[&[u8]], scores: &[f64], f: Flags) -> CmdResult {
    let now = ctx.now_ms;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let exists = zset_mut(&mut p, key, now)?.is_some();
    if !exists {
        if f.xx {
            drop(p);
            if f.incr {
                ctx.out.null()
            } else {
                ctx.out.int(0)
            }
            return Ok(());
        }
        // Like Redis, only the first member decides the starting encoding; adding
        // converts later if needed.
        p.set(key, Value::ZSet(ZSet::for_size(1, pairs[1].len())), Ttl::Clear, now);
    }
    let Some(z) = zset_mut(&mut p, key, now)? else {
        return Ok(());
    };
    let (mut added, mut updated, mut last) = (0i64, 0i64, None);
    let mut failed = None;
    for (pair, &s) in pairs.chunks(2).zip(scores) {
        match apply(z, pair[1], s, f) {
            Ok(Outcome::Added(v)) => {
                added += 1;
                last = Some(v);
            }
            Ok(Outcome::Updated(v)) => {
                updated += 1;
                last = Some(v);
            }
            Ok(Outcome::Same(v)) => last = Some(v),
            Ok(Outcome::Skipped) => last = None,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let empty = z.is_empty();
    if empty {
        p.remove(key, now);
    }
    drop(p);
    ctx.dirty((added + updated) as u64);
    if let Some(e) = failed {
        return Err(e);
    }
    if f.incr {
        match last {
            Some(v) => score::reply(ctx.out, v),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(z) = zset_mut(&mut p, key, now)? else {
        drop(p);
        ctx.out.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            removed += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if z.is_empty() {
        p.remove(key, now);
    }
    drop(p);
    ctx.dirty(removed);
    ctx.out.int(removed as i64);
    Ok(())
}
