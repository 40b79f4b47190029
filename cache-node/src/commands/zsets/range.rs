//! ZRANGE and its older forms (ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX), and
//! ZRANGESTORE. Every form becomes a window of ascending ranks walked up or down, found
//! with two rank searches: O(log n + m).

use super::super::args;
use super::read::{lex_range, score_range};
use super::{as_zset, reply_element, reply_range_header, store_result};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::zset::ZSet;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// A parsed ZRANGE request: which elements, in which direction, with what options.
struct Query<'a> {
    kind: Kind,
    rev: bool,
    withscores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
    min: &'a [u8],
    max: &'a [u8],
}

/// Parses the options after `<min> <max>` the way Redis's `zrangeGenericCommand` does:
/// `kind`/`rev` are fixed by the older command forms, in which case their keywords are
/// syntax errors. `src` is the index of the source key.
fn parse<'a>(argv: &[&'a [u8]], src: usize, kind: Option<Kind>, rev: Option<bool>, store: bool) -> Result<Query<'a>, CmdError> {
    let (mut kind, mut rev) = (kind, rev);
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while j < argv.len() {
        let a = argv[j];
        let left = argv.len() - j - 1;
        if !store && args::is(a, "withscores") {
            withscores = true;
        } else if args::is(a, "limit") && left >= 2 {
            offset = args::int(argv[j + 1])?;
            limit = args::int(argv[j + 2])?;
            j += 2;
        } else if rev.is_none() && args::is(a, "rev") {
            rev = Some(true);
        } else if kind.is_none() && args::is(a, "bylex") {
            kind = Some(Kind::Lex);
        } else if kind.is_none() && args::is(a, "byscore") {
            kind = Some(Kind::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let kind = kind.unwrap_or(Kind::Rank);
    let rev = rev.unwrap_or(false);
    if limit != -1 && kind == Kind::Rank {
        return Err(CmdError::other("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"));
    }
    if withscores && kind == Kind::Lex {
        return Err(CmdError::other("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    // Reversed score and lex ranges are given as <max> <min>.
    let (min, max) = if rev && kind != Kind::Rank { (argv[src + 2], argv[src + 1]) } else { (argv[src + 1], argv[src + 2]) };
    Ok(Query { kind, rev, withscores, offset, limit, min, max })
}

/// The range itself, parsed (and validated) before the key is looked up.
enum Bounds {
    Rank(i64, i64),
    Score(crate::store::zset::ScoreRange),
    Lex(crate::store::zset::LexBound, crate::store::zset::LexBound),
}

fn bounds(q: &Query<'_>) -> Result<Bounds, CmdError> {
    Ok(match q.kind {
        Kind::Rank => Bounds::Rank(args::int(q.min)?, args::int(q.max)?),
        Kind::Score => Bounds::Score(score_range(q.min, q.max)?),
        Kind::Lex => {
            let (a, b) = lex_range(q.min, q.max)?;
            Bounds::Lex(a, b)
        }
    })
}

/// Ascending ranks `[lo, hi)` selected by the query; walked downwards when `q.rev`.
fn window(z: &ZSet, q: &Query<'_>, b: &Bounds) -> (usize, usize) {
    let len = z.len() as i64;
    let (a, e) = match b {
        Bounds::Rank(start, end) => {
            let start = if *start < 0 { (len + start).max(0) } else { *start };
            let end = if *end < 0 { len + end } else { *end };
            if start > end || start >= len {
                return (0, 0);
            }
            let end = end.min(len - 1);
            // Positions count from the top when reversed.
            return if q.rev { ((len - 1 - end) as usize, (len - start) as usize) } else { (start as usize, end as usize + 1) };
        }
        Bounds::Score(r) => z.score_ranks(r),
        Bounds::Lex(min, max) => z.lex_ranks(min, max, q.rev),
    };
    if q.offset < 0 {
        return (0, 0);
    }
    let n = e - a;
    let skip = (q.offset as u64).min(n as u64) as usize;
    let take = if q.limit < 0 { n - skip } else { (q.limit as u64).min((n - skip) as u64) as usize };
    if q.rev { (e - skip - take, e - skip) } else { (a + skip, a + skip + take) }
}

fn range_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], kind: Option<Kind>, rev: Option<bool>) -> CmdResult {
    let q = parse(argv, 1, kind, rev, false)?;
    let b = bounds(&q)?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let Some(z) = as_zset(p.get(argv[1], ctx.now_ms))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (lo, hi) = window(z, &q, &b);
    let out = &mut *ctx.out;
    reply_range_header(out, hi - lo, q.withscores);
    z.for_each(lo, hi, q.rev, &mut |m, s| reply_element(out, m, s, q.withscores));
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, None, None)
}

pub fn zrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, Some(Kind::Rank), Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, Some(Kind::Score), Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, Some(Kind::Score), Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, Some(Kind::Lex), Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, Some(Kind::Lex), Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let q = parse(argv, 2, None, None, true)?;
    let b = bounds(&q)?;
    let (dst, src, db, now) = (argv[1], argv[2], ctx.db(), ctx.now_ms);
    let mut l = ctx.srv.keyspace.lock_keys(db, [dst, src]);
    let picked = match as_zset(l.part(db, src).get(src, now))? {
        None => Vec::new(),
        Some(z) => {
            let (lo, hi) = window(z, &q, &b);
            let mut v = Vec::with_capacity(hi - lo);
            z.for_each(lo, hi, q.rev, &mut |m, s| v.push((m.to_vec(), s)));
            v
        }
    };
    let mut out = ZSet::for_size(picked.len(), picked.iter().map(|(m, _)| m.len()).max().unwrap_or(0));
    for (m, s) in &picked {
        out.insert(m, *s);
    }
    let n = out.len();
    let existed = l.part(db, dst).contains(dst, now);
    store_result(l.part(db, dst), dst, out, now);
    drop(l);
    ctx.dirty(u64::from(n > 0 || existed));
    ctx.out.int(n as i64);
    Ok(())
}
