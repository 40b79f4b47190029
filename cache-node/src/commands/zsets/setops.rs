//! ZUNION, ZINTER, ZDIFF, their *STORE forms, and ZINTERCARD. All keys are locked
//! together, so each command sees (and writes) one consistent state.
//!
//! Sources are visited one at a time: the smallest input (or the first, for ZDIFF) is
//! copied, then every other input is probed for the copied members, as Redis does, so an
//! intersection costs O(smallest × inputs) lookups.

use std::collections::HashMap;

use super::super::args;
use super::{as_zset, reply_element, reply_range_header, store_result};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::keyspace::Locked;
use crate::store::zset::{ZSet, order};
use crate::store::{Value, ValueRef};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

impl Agg {
    /// Redis's `zunionInterAggregate`: an infinite sum of opposite signs is 0.
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Agg::Sum => {
                *acc += v;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Agg::Min => {
                if v < *acc {
                    *acc = v;
                }
            }
            Agg::Max => {
                if v > *acc {
                    *acc = v;
                }
            }
        }
    }
}

/// A weighted score, with 0 × ±inf counted as 0.
fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() { 0.0 } else { v }
}

struct Source<'a> {
    key: &'a [u8],
    len: usize,
    weight: f64,
}

/// One input of a set operation: a sorted set, or a plain set whose members all score 1
/// (Redis accepts both).
#[derive(Clone, Copy)]
enum Input<'a> {
    Sorted(&'a ZSet),
    Plain(&'a crate::store::set::Set),
}

impl Input<'_> {
    /// The input under a key: None when missing, WRONGTYPE for other types.
    fn of(v: Option<ValueRef<'_>>) -> Result<Option<Input<'_>>, CmdError> {
        if let Some(ValueRef::Obj(Value::Set(s))) = v {
            return Ok(Some(Input::Plain(s)));
        }
        Ok(as_zset(v)?.map(Input::Sorted))
    }

    fn len(self) -> usize {
        match self {
            Input::Sorted(z) => z.len(),
            Input::Plain(s) => s.len(),
        }
    }

    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Sorted(z) => z.score(member),
            Input::Plain(s) => s.contains(member).then_some(1.0),
        }
    }

    fn for_each(self, f: &mut dyn FnMut(&[u8], f64)) {
        match self {
            Input::Sorted(z) => z.for_each(0, z.len(), false, f),
            Input::Plain(s) => s.for_each(|m| f(m, 1.0)),
        }
    }
}

/// Runs `f` on the input under `key` (None when missing), without counting a lookup.
fn with_input<R>(l: &mut Locked<'_>, db: usize, key: &[u8], now: i64, f: impl FnOnce(Option<Input<'_>>) -> R) -> Result<R, CmdError> {
    Ok(f(Input::of(l.part(db, key).peek(key, now))?))
}

struct Parsed {
    agg: Agg,
    withscores: bool,
    limit: usize,
}

fn parse_options(argv: &[&[u8]], mut j: usize, srcs: &mut [Source<'_>], op: Op, store: bool, card_only: bool) -> Result<Parsed, CmdError> {
    let mut p = Parsed { agg: Agg::Sum, withscores: false, limit: 0 };
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != Op::Diff && !card_only && remaining > srcs.len() && args::is(a, "weights") {
            for (i, s) in srcs.iter_mut().enumerate() {
                s.weight = super::float_arg(argv[j + 1 + i]).map_err(|_| CmdError::other("ERR weight value is not a float"))?;
            }
            j += 1 + srcs.len();
        } else if op != Op::Diff && !card_only && remaining >= 2 && args::is(a, "aggregate") {
            let v = argv[j + 1];
            p.agg = if args::is(v, "sum") {
                Agg::Sum
            } else if args::is(v, "min") {
                Agg::Min
            } else if args::is(v, "max") {
                Agg::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !store && !card_only && args::is(a, "withscores") {
            p.withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && args::is(a, "limit") {
            p.limit = match args::int(argv[j + 1]) {
                Ok(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::other("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(p)
}

/// Computes the operation over `srcs` (already type-checked): members with scores, in
/// no particular order.
fn compute(l: &mut Locked<'_>, db: usize, now: i64, srcs: &mut [Source<'_>], op: Op, agg: Agg) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    match op {
        Op::Union => {
            srcs.sort_by_key(|s| s.len);
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for s in srcs.iter() {
                with_input(l, db, s.key, now, |z| {
                    if let Some(z) = z {
                        z.for_each(&mut |m, v| {
                            let v = weighted(s.weight, v);
                            match acc.get_mut(m) {
                                Some(cur) => agg.apply(cur, v),
                                None => {
                                    acc.insert(m.to_vec(), v);
                                }
                            }
                        });
                    }
                })?;
            }
            Ok(acc.into_iter().collect())
        }
        Op::Inter => {
            srcs.sort_by_key(|s| s.len);
            if srcs.first().is_none_or(|s| s.len == 0) {
                return Ok(Vec::new());
            }
            let w0 = srcs[0].weight;
            let mut acc = with_input(l, db, srcs[0].key, now, |z| {
                let mut v = Vec::new();
                if let Some(z) = z {
                    z.for_each(&mut |m, s| v.push((m.to_vec(), weighted(w0, s))));
                }
                v
            })?;
            for s in srcs[1..].iter() {
                acc = with_input(l, db, s.key, now, |z| {
                    let Some(z) = z else { return Vec::new() };
                    acc.into_iter()
                        .filter_map(|(m, mut cur)| {
                            let v = z.score(&m)?;
                            agg.apply(&mut cur, v * s.weight);
                            Some((m, cur))
                        })
                        .collect()
                })?;
            }
            Ok(acc)
        }
        Op::Diff => {
            let mut acc = with_input(l, db, srcs[0].key, now, |z| {
                let mut v = Vec::new();
                if let Some(z) = z {
                    z.for_each(&mut |m, s| v.push((m.to_vec(), s)));
                }
                v
            })?;
            for s in srcs[1..].iter() {
                if acc.is_empty() {
                    break;
                }
                acc = with_input(l, db, s.key, now, |z| match z {
                    None => acc,
                    Some(z) => acc.into_iter().filter(|(m, _)| z.score(m).is_none()).collect(),
                })?;
            }
            Ok(acc)
        }
    }
}

/// The shared body: `numkeys` is at `argv[nk]`, the keys follow; `dst` for *STORE.
fn setop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], name: &str, dst: Option<&[u8]>, nk: usize, op: Op, card_only: bool) -> CmdResult {
    let n = args::int(argv[nk])?;
    if n < 1 {
        return Err(CmdError::other(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    if n as u64 > (argv.len() - nk - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let keys = &argv[nk + 1..nk + 1 + n as usize];
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut l = ctx.srv.keyspace.lock_keys(db, keys.iter().copied().chain(dst));
    let mut srcs = Vec::with_capacity(keys.len());
    for key in keys {
        let len = Input::of(l.part(db, key).get(key, now))?.map_or(0, Input::len);
        srcs.push(Source { key, len, weight: 1.0 });
    }
    let opts = parse_options(argv, nk + 1 + keys.len(), &mut srcs, op, dst.is_some(), card_only)?;
    let mut result = compute(&mut l, db, now, &mut srcs, op, opts.agg)?;
    if card_only {
        drop(l);
        let n = if opts.limit > 0 { result.len().min(opts.limit) } else { result.len() };
        ctx.out.int(n as i64);
        return Ok(());
    }
    result.sort_by(|a, b| order(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(dst) => {
            let mut z = ZSet::for_size(result.len(), result.iter().map(|(m, _)| m.len()).max().unwrap_or(0));
            for (m, s) in &result {
                z.insert(m, *s);
            }
            let p = l.part(db, dst);
            let existed = p.contains(dst, now);
            store_result(p, dst, z, now);
            drop(l);
            ctx.dirty(u64::from(!result.is_empty() || existed));
            ctx.out.int(result.len() as i64);
        }
        None => {
            drop(l);
            reply_range_header(ctx.out, result.len(), opts.withscores);
            for (m, s) in &result {
                reply_element(ctx.out, m, *s, opts.withscores);
            }
        }
    }
    Ok(())
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, "zunion", None, 1, Op::Union, false)
}

pub fn zinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, "zinter", None, 1, Op::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, "zdiff", None, 1, Op::Diff, false)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, "zunionstore", Some(argv[1]), 2, Op::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, "zinterstore", Some(argv[1]), 2, Op::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, "zdiffstore", Some(argv[1]), 2, Op::Diff, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, argv, "zintercard", None, 1, Op::Inter, true)
}
