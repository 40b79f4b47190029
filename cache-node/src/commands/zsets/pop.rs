//! ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX, ZPOPMIN, ZPOPMAX, ZMPOP.

use super::super::args;
use super::read::{lex_range, score_range};
use super::{score, zset_mut};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::Partition;
use crate::store::keyspace::Locked;
use crate::store::zset::ZSet;

enum Removal {
    Rank(i64, i64),
    Score(crate::store::zset::ScoreRange),
    Lex(crate::store::zset::LexBound, crate::store::zset::LexBound),
}

/// Ascending ranks `[lo, hi)` a removal covers.
fn removal_ranks(z: &ZSet, r: &Removal) -> (usize, usize) {
    match r {
        Removal::Rank(start, end) => {
            let len = z.len() as i64;
            let start = if *start < 0 { (len + start).max(0) } else { *start };
            let end = if *end < 0 { len + end } else { *end };
            if start > end || start >= len {
                return (0, 0);
            }
            (start as usize, end.min(len - 1) as usize + 1)
        }
        Removal::Score(range) => z.score_ranks(range),
        Removal::Lex(min, max) => z.lex_ranks(min, max, false),
    }
}

fn remrange_generic(ctx: &mut Ctx<'_>, key: &[u8], r: Removal) -> CmdResult {
    let now = ctx.now_ms;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(z) = zset_mut(&mut p, key, now)? else {
        drop(p);
        ctx.out.int(0);
        return Ok(());
    };
    let (lo, hi) = removal_ranks(z, &r);
    z.remove_ranks(lo, hi);
    if z.is_empty() {
        p.remove(key, now);
    }
    drop(p);
    let n = hi - lo;
    ctx.dirty(n as u64);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = Removal::Rank(args::int(argv[2])?, args::int(argv[3])?);
    remrange_generic(ctx, argv[1], r)
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = Removal::Score(score_range(argv[2], argv[3])?);
    remrange_generic(ctx, argv[1], r)
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (min, max) = lex_range(argv[2], argv[3])?;
    remrange_generic(ctx, argv[1], Removal::Lex(min, max))
}

/// Removes up to `count` elements from the low (or high) end of the set under `key` and
/// returns them in pop order, deleting the key when it empties.
fn pop_from(p: &mut Partition, key: &[u8], count: usize, max: bool, now: i64) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    let Some(z) = zset_mut(p, key, now)? else {
        return Ok(Vec::new());
    };
    let len = z.len();
    let n = count.min(len);
    let (lo, hi) = if max { (len - n, len) } else { (0, n) };
    let mut popped = Vec::with_capacity(n);
    z.for_each(lo, hi, max, &mut |m, s| popped.push((m.to_vec(), s)));
    z.remove_ranks(lo, hi);
    if z.is_empty() {
        p.remove(key, now);
    }
    Ok(popped)
}

fn positive_count(arg: &[u8]) -> Result<i64, CmdError> {
    match args::int(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::other("ERR value is out of range, must be positive")),
    }
}

fn zpop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = argv.get(2).map(|a| positive_count(a)).transpose()?;
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let popped = pop_from(&mut p, key, count.unwrap_or(1) as usize, max, now)?;
    drop(p);
    ctx.dirty(popped.len() as u64);
    // RESP3 nests member-score pairs only when a count was given.
    let nested = count.is_some() && ctx.out.is_resp3();
    ctx.out.array(if nested { popped.len() } else { 2 * popped.len() });
    for (m, s) in &popped {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        score::reply(ctx.out, *s);
    }
    Ok(())
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zpop_generic(ctx, argv, true)
}

/// The arguments of ZMPOP after its name (and of BZMPOP after its timeout):
/// `numkeys key [key ...] MIN|MAX [COUNT count]`.
pub struct MultiPop<'a> {
    pub keys: &'a [&'a [u8]],
    pub max: bool,
    pub count: usize,
}

pub fn parse_multi_pop<'a>(argv: &'a [&'a [u8]]) -> Result<MultiPop<'a>, CmdError> {
    let numkeys = match args::int(argv[0]) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err(CmdError::other("ERR numkeys should be greater than 0")),
    };
    let where_idx = numkeys.saturating_add(1);
    if where_idx >= argv.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_idx = where_idx as usize;
    let max = match argv[where_idx] {
        a if args::is(a, "min") => false,
        a if args::is(a, "max") => true,
        _ => return Err(CmdError::Syntax),
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && args::is(argv[j], "count") && j + 1 < argv.len() {
            count = match args::int(argv[j + 1]) {
                Ok(n) if n > 0 => Some(n as usize),
                _ => return Err(CmdError::other("ERR count should be greater than 0")),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(MultiPop { keys: &argv[1..where_idx], max, count: count.unwrap_or(1) })
}

/// Popped members with their scores, and the key they came from.
pub type Popped = (Vec<u8>, Vec<(Vec<u8>, f64)>);

/// Pops from the first non-empty sorted set of `mp.keys` under `l`, or None when all are
/// empty. With `skip_wrong_type` (a blocked client retrying), a key of another type is
/// passed over, as Redis keeps such a client blocked.
pub fn pop_first(l: &mut Locked<'_>, db: usize, mp: &MultiPop<'_>, now: i64, skip_wrong_type: bool) -> Result<Option<Popped>, CmdError> {
    for key in mp.keys {
        let popped = match pop_from(l.part(db, key), key, mp.count, mp.max, now) {
            Ok(p) => p,
            Err(_) if skip_wrong_type => continue,
            Err(e) => return Err(e),
        };
        if !popped.is_empty() {
            return Ok(Some((key.to_vec(), popped)));
        }
    }
    Ok(None)
}

/// The [key, [[member, score]...]] reply of ZMPOP and BZMPOP.
pub fn reply_multi_pop(ctx: &mut Ctx<'_>, key: &[u8], popped: &[(Vec<u8>, f64)]) {
    ctx.dirty(popped.len() as u64);
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(popped.len());
    for (m, s) in popped {
        ctx.out.array(2);
        ctx.out.bulk(m);
        score::reply(ctx.out, *s);
    }
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]: pops from the first non-empty key.
pub fn zmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mp = parse_multi_pop(&argv[1..])?;
    let (db, now, srv) = (ctx.db(), ctx.now_ms, ctx.srv);
    let mut l = srv.keyspace.lock_keys(db, mp.keys.iter().copied());
    match pop_first(&mut l, db, &mp, now, false)? {
        Some((key, popped)) => {
            drop(l);
            reply_multi_pop(ctx, &key, &popped);
        }
        None => {
            drop(l);
            ctx.out.null_array();
        }
    }
    Ok(())
}
