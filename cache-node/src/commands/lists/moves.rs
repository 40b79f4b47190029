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
fn move_locked(l: &mut Locked<'_>, db: usize, src: &[u8], dst: &[u8], from: End, to: End, now: i64) -> Result<Option<Vec<u8>>, CmdError> {
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

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first non-empty
/// list and replies [key, [elements]], or a null array when every list is empty.
pub(super) fn lmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let numkeys = count_arg(argv[1], 1, "ERR numkeys should be greater than 0")? as u64;
    // Within the arguments, or a syntax error (also for counts far beyond them).
    let end_at = usize::try_from(numkeys).ok().and_then(|n| n.checked_add(2)).filter(|&i| i < argv.len()).ok_or(CmdError::Syntax)?;
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
    let count = count.unwrap_or(1);
    let keys = &argv[2..end_at];
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut locked = ctx.srv.keyspace.lock_keys(db, keys.iter().copied());
    for key in keys {
        let p = locked.part(db, key);
        let Some(list) = list_mut(p, key, now)? else { continue };
        let n = count.min(list.len());
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(n);
        for _ in 0..n {
            if let Some(v) = pop_at(list, end) {
                ctx.out.bulk(&v);
            }
        }
        remove_if_empty(p, key, now);
        drop(locked);
        ctx.dirty(n as u64);
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}
