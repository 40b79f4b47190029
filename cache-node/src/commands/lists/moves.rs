//! Commands that take elements off one list and give them to another key or to the
//! client, atomically over every key involved: LMOVE, RPOPLPUSH, LMPOP. All the keys'
//! partitions are locked together (Keyspace::lock_keys), so no other client sees the
//! element in neither list or in both.

use super::{End, check_list, count_arg, list_mut, pop_at, push_at, remove_if_empty};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::keyspace::Locked;
use crate::store::list::List;
use crate::store::{Ttl, Value};

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub(super) fn lmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let from = End::parse(argv[3])?;
    let to = End::parse(argv[4])?;
    move_one(ctx, argv[1], argv[2], from, to)
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub(super) fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    move_one(ctx, argv[1], argv[2], End::Right, End::Left)
}

fn move_one(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut locked = ctx.srv.keyspace.lock_keys(db, [src, dst]);
    match move_locked(&mut locked, db, src, dst, from, to, now)? {
        Some(v) => {
            drop(locked);
            ctx.dirty(1);
            ctx.out.bulk(&v);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// The move itself, with Redis's order of checks: a missing source is nil whatever the
/// destination holds; then both types are checked before anything changes.
pub(super) fn move_locked(l: &mut Locked<'_>, db: usize, src: &[u8], dst: &[u8], from: End, to: End, now: i64) -> Result<Option<Vec<u8>>, CmdError> {
    if !check_list(l.part(db, src), src, now)? {
        return Ok(None);
    }
    check_list(l.part(db, dst), dst, now)?;
    let ps = l.part(db, src);
    let Some(list) = list_mut(ps, src, now)? else { return Ok(None) };
    let Some(v) = pop_at(list, from) else { return Ok(None) };
    if src == dst {
        // A rotation: the key is never emptied, so it keeps its TTL (as in Redis).
        push_at(list, to, &v);
        return Ok(Some(v));
    }
    remove_if_empty(ps, src, now);
    let pd = l.part(db, dst);
    match list_mut(pd, dst, now)? {
        Some(list) => push_at(list, to, &v),
        None => {
            let mut list = List::new();
            list.push_back(&v);
            pd.set(dst, Value::List(list), Ttl::Clear, now);
        }
    }
    Ok(Some(v))
}

/// The arguments of LMPOP after its name (and of BLMPOP after its timeout):
/// `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
pub(super) struct MultiPop<'a> {
    pub keys: &'a [&'a [u8]],
    pub end: End,
    pub count: usize,
}

pub(super) fn parse_multi_pop<'a>(argv: &'a [&'a [u8]]) -> Result<MultiPop<'a>, CmdError> {
    let numkeys = count_arg(argv[0], 1, "ERR numkeys should be greater than 0")? as u64;
    // Within the arguments, or a syntax error (also for counts far beyond them).
    let end_at = usize::try_from(numkeys).ok().and_then(|n| n.checked_add(1)).filter(|&i| i < argv.len()).ok_or(CmdError::Syntax)?;
    let end = End::parse(argv[end_at])?;
    let mut count = None;
    let mut i = end_at + 1;
    while i < argv.len() {
        match argv.get(i + 1) {
            Some(v) if count.is_none() && crate::commands::args::is(argv[i], "count") => {
                count = Some(count_arg(v, 1, "ERR count should be greater than 0")? as usize);
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok(MultiPop { keys: &argv[1..end_at], end, count: count.unwrap_or(1) })
}

/// The key popped from and its elements.
pub(super) type Popped = (Vec<u8>, Vec<Vec<u8>>);

/// Pops from the first non-empty list of `mp.keys` under `locked`: the key and the
/// elements, or None when every list is empty. With `skip_wrong_type` (a blocked client
/// retrying), a key of another type is passed over instead of failing, as Redis keeps such
/// a client blocked.
pub(super) fn pop_first(locked: &mut Locked<'_>, db: usize, mp: &MultiPop<'_>, now: i64, skip_wrong_type: bool) -> Result<Option<Popped>, CmdError> {
    for key in mp.keys {
        let p = locked.part(db, key);
        let list = match list_mut(p, key, now) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(_) if skip_wrong_type => continue,
            Err(e) => return Err(e),
        };
        let n = mp.count.min(list.len());
        let popped: Vec<Vec<u8>> = (0..n).filter_map(|_| pop_at(list, mp.end)).collect();
        remove_if_empty(p, key, now);
        return Ok(Some((key.to_vec(), popped)));
    }
    Ok(None)
}

/// The [key, [elements]] reply of LMPOP and BLMPOP.
pub(super) fn reply_multi_pop(ctx: &mut Ctx<'_>, key: &[u8], popped: &[Vec<u8>]) {
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(popped.len());
    for v in popped {
        ctx.out.bulk(v);
    }
    ctx.dirty(popped.len() as u64);
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first non-empty
/// list and replies [key, [elements]], or a null array when every list is empty.
pub(super) fn lmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mp = parse_multi_pop(&argv[1..])?;
    let (db, now, srv) = (ctx.db(), ctx.now_ms, ctx.srv);
    let mut locked = srv.keyspace.lock_keys(db, mp.keys.iter().copied());
    match pop_first(&mut locked, db, &mp, now, false)? {
        Some((key, popped)) => {
            drop(locked);
            reply_multi_pop(ctx, &key, &popped);
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}
