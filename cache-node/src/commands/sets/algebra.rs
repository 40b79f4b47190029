//! SINTER (and SMEMBERS, which Redis serves with it), SINTERCARD, SUNION, SDIFF and the
//! STORE forms. Every key's partition is locked for the whole command, so each runs
//! atomically; a STORE whose destination is one of its sources computes the result
//! before writing it, and an empty result deletes the destination.

use std::ptr;

use super::read;
use crate::commands::{CmdError, CmdResult, Ctx, args};
use crate::protocol::Reply;
use crate::store::keyspace::Locked;
use crate::store::set::{IntBuf, Set};
use crate::store::{Ttl, Value};

/// Runs `f` on the sets under `keys` (None for a missing key), after checking every key's
/// type in order (WRONGTYPE for the first that is not a set) and counting the reads.
///
/// A partition hands out one borrow at a time, so to see several sets at once they are
/// moved out of the keyspace (O(1): the value is moved, not copied) and put back, with
/// their TTLs, before this returns. The partitions stay locked throughout, so no other
/// client can see the difference.
fn with_sets<R>(l: &mut Locked<'_>, db: usize, keys: &[&[u8]], now: i64, f: impl FnOnce(&[Option<&Set>]) -> R) -> Result<R, CmdError> {
    let mut unique: Vec<&[u8]> = keys.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if let [only] = unique[..] {
        let s = read(l.part(db, only), only, now)?;
        return Ok(f(&vec![s; keys.len()]));
    }
    for k in keys {
        read(l.part(db, k), k, now)?;
    }
    let taken: Vec<Option<(Value, Option<i64>)>> = unique.iter().map(|k| l.part(db, k).take(k, now)).collect();
    let sets: Vec<Option<&Set>> = keys
        .iter()
        .map(|k| {
            let i = unique.binary_search(k).ok()?;
            match &taken[i] {
                Some((Value::Set(s), _)) => Some(s),
                _ => None,
            }
        })
        .collect();
    let out = f(&sets);
    drop(sets);
    for (k, v) in unique.iter().zip(taken) {
        if let Some((v, at)) = v {
            l.part(db, k).set(k, v, at.map_or(Ttl::Clear, Ttl::At), now);
        }
    }
    Ok(out)
}

/// Members of the intersection, from the smallest set, in its order, until `emit`
/// returns false. Empty when any key is missing.
fn intersect(sets: &[Option<&Set>], mut emit: impl FnMut(&[u8]) -> bool) {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else { return };
    sets.sort_by_key(|s| s.len());
    let Some((&first, rest)) = sets.split_first() else { return };
    let mut buf = IntBuf::default();
    for i in 0..first.len() {
        let m = first.member_at(i, &mut buf);
        if rest.iter().all(|s| ptr::eq(*s, first) || s.contains(m)) && !emit(m) {
            return;
        }
    }
}

fn union(sets: &[Option<&Set>]) -> Set {
    let mut out = Set::default();
    let mut buf = IntBuf::default();
    for s in sets.iter().flatten() {
        for i in 0..s.len() {
            out.add(s.member_at(i, &mut buf));
        }
    }
    out
}

/// The first set minus the others, choosing between Redis's two algorithms by the same
/// estimate of their work (they differ in speed, not in result).
fn difference(sets: &[Option<&Set>]) -> Set {
    let mut out = Set::default();
    let Some((Some(first), rest)) = sets.split_first() else { return out };
    let mut others: Vec<&Set> = rest.iter().flatten().copied().collect();
    if others.iter().any(|s| ptr::eq(*s, *first)) {
        return out;
    }
    let mut buf = IntBuf::default();
    let one = first.len() * (others.len() + 1) / 2;
    let two = first.len() + others.iter().map(|s| s.len()).sum::<usize>();
    if one <= two {
        // Biggest first: a member shared with another set is found sooner.
        others.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for i in 0..first.len() {
            let m = first.member_at(i, &mut buf);
            if !others.iter().any(|s| s.contains(m)) {
                out.add(m);
            }
        }
    } else {
        for i in 0..first.len() {
            out.add(first.member_at(i, &mut buf));
        }
        for s in others {
            for i in 0..s.len() {
                out.remove(s.member_at(i, &mut buf));
                if out.is_empty() {
                    return out;
                }
            }
        }
    }
    out
}

/// Writes a result set: a RESP3 set, an array in RESP2.
fn reply_set(out: &mut Reply, s: &Set) {
    out.set(s.len());
    s.for_each(|m| out.bulk(m));
}

/// Stores `result` at `dst` (replacing it and its TTL) or deletes `dst` when the result
/// is empty; replies with the result's size.
fn store(ctx: &mut Ctx<'_>, mut l: Locked<'_>, dst: &[u8], result: Set) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let n = result.len();
    let changed = if n > 0 {
        l.part(db, dst).set(dst, Value::Set(result), Ttl::Clear, now);
        true
    } else {
        l.part(db, dst).remove(dst, now)
    };
    drop(l);
    if changed {
        ctx.dirty(1);
    }
    ctx.out.int(n as i64);
}

/// SINTER key [key ...] and SMEMBERS key.
pub fn sinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (db, now, keys) = (ctx.db(), ctx.now_ms, &argv[1..]);
    let mut l = ctx.srv.keyspace.lock_keys(db, keys.iter().copied());
    let mut body = Reply::new(ctx.out.version);
    let n = with_sets(&mut l, db, keys, now, |sets| {
        let mut n = 0;
        intersect(sets, |m| {
            body.bulk(m);
            n += 1;
            true
        });
        n
    })?;
    drop(l);
    ctx.out.set(n);
    ctx.out.raw(&body.buf);
    Ok(())
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (db, now, keys) = (ctx.db(), ctx.now_ms, &argv[2..]);
    let mut l = ctx.srv.keyspace.lock_keys(db, argv[1..].iter().copied());
    let result = with_sets(&mut l, db, keys, now, |sets| {
        let mut out = Set::default();
        intersect(sets, |m| {
            out.add(m);
            true
        });
        out
    })?;
    store(ctx, l, argv[1], result);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let numkeys = match args::int(argv[1]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::other("ERR numkeys should be greater than 0")),
    };
    if numkeys > argv.len() as u64 - 2 {
        return Err(CmdError::other("ERR Number of keys can't be greater than number of args"));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = end;
    while i < argv.len() {
        if args::is(argv[i], "limit") && i + 1 < argv.len() {
            limit = match args::int(argv[i + 1]) {
                Ok(n) if n >= 0 => n as u64,
                _ => return Err(CmdError::other("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (db, now, keys) = (ctx.db(), ctx.now_ms, &argv[2..end]);
    let mut l = ctx.srv.keyspace.lock_keys(db, keys.iter().copied());
    let n = with_sets(&mut l, db, keys, now, |sets| {
        let mut n = 0u64;
        intersect(sets, |_| {
            n += 1;
            limit == 0 || n < limit
        });
        n
    })?;
    drop(l);
    ctx.out.int(n as i64);
    Ok(())
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine(ctx, argv, union)
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine(ctx, argv, difference)
}

fn combine(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: fn(&[Option<&Set>]) -> Set) -> CmdResult {
    let (db, now, keys) = (ctx.db(), ctx.now_ms, &argv[1..]);
    let mut l = ctx.srv.keyspace.lock_keys(db, keys.iter().copied());
    let result = with_sets(&mut l, db, keys, now, op)?;
    drop(l);
    reply_set(ctx.out, &result);
    Ok(())
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_store(ctx, argv, union)
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    combine_store(ctx, argv, difference)
}

fn combine_store(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: fn(&[Option<&Set>]) -> Set) -> CmdResult {
    let (db, now, keys) = (ctx.db(), ctx.now_ms, &argv[2..]);
    let mut l = ctx.srv.keyspace.lock_keys(db, argv[1..].iter().copied());
    let result = with_sets(&mut l, db, keys, now, op)?;
    store(ctx, l, argv[1], result);
    Ok(())
}
