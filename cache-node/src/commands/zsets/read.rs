//! ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK.

use super::{as_zset, score};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::zset::{LexBound, ScoreRange};

pub(crate) fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    ScoreRange::parse(min, max).ok_or_else(|| CmdError::other("ERR min or max is not a float"))
}

pub(crate) fn lex_range(min: &[u8], max: &[u8]) -> Result<(LexBound, LexBound), CmdError> {
    match (LexBound::parse(min), LexBound::parse(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(CmdError::other("ERR min or max not valid string range item")),
    }
}

pub fn zscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    match as_zset(p.get(argv[1], ctx.now_ms))?.and_then(|z| z.score(argv[2])) {
        Some(s) => score::reply(ctx.out, s),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let z = as_zset(p.get(argv[1], ctx.now_ms))?;
    ctx.out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => score::reply(ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn zcard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let n = as_zset(p.get(argv[1], ctx.now_ms))?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = score_range(argv[2], argv[3])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let n = as_zset(p.get(argv[1], ctx.now_ms))?.map_or(0, |z| {
        let (a, b) = z.score_ranks(&r);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (min, max) = lex_range(argv[2], argv[3])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let n = as_zset(p.get(argv[1], ctx.now_ms))?.map_or(0, |z| {
        let (a, b) = z.lex_ranks(&min, &max, false);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let found = as_zset(p.get(argv[1], ctx.now_ms))?.and_then(|z| z.rank(argv[2]).map(|r| if rev { z.len() - 1 - r } else { r }));
    match found {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, true)
}
