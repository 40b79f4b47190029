//! Reads and edits by index or by value: LRANGE, LINDEX, LSET, LREM, LTRIM, LINSERT.

use super::{list_mut, read_list, remove_if_empty};
use crate::commands::{CmdError, CmdResult, Ctx, args};

/// Inclusive element range `[first, last]` that Redis-style `start`/`stop` select in a
/// list of `len` (negative indexes count from the tail), or None when it is empty.
pub(super) fn index_range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64; // a list never holds more than i64::MAX elements
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// A Redis index (negative from the tail) resolved against `len`.
fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// LRANGE key start stop
pub(super) fn lrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let stop = args::int(argv[3])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let Some(l) = read_list(&mut p, argv[1], ctx.now_ms)? else {
        ctx.out.array(0);
        return Ok(());
    };
    match index_range(l.len(), start, stop) {
        Some((first, last)) => {
            let n = last - first + 1;
            ctx.out.array(n);
            l.iter_from(first).take(n).for_each(|v| ctx.out.bulk(v));
        }
        None => ctx.out.array(0),
    }
    Ok(())
}

/// LINDEX key index: the key is looked up before the index is parsed, as in Redis.
pub(super) fn lindex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let Some(l) = read_list(&mut p, argv[1], ctx.now_ms)? else {
        ctx.out.null();
        return Ok(());
    };
    let index = args::int(argv[2])?;
    match resolve_index(l.len(), index).and_then(|i| l.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LSET key index element
pub(super) fn lset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let l = list_mut(&mut p, key, now)?.ok_or(CmdError::NoSuchKey)?;
    let index = args::int(argv[2])?;
    let done = resolve_index(l.len(), index).is_some_and(|i| l.set(i, argv[3]));
    drop(p);
    if !done {
        return Err(CmdError::other("ERR index out of range"));
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// LREM key count element: count > 0 removes the first matches, < 0 the last ones,
/// 0 all of them.
pub(super) fn lrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let count = args::int(argv[2])?;
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(l) = list_mut(&mut p, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let limit = if count == 0 { usize::MAX } else { usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX) };
    let removed = l.remove_matching(argv[3], limit, count < 0);
    remove_if_empty(&mut p, key, now);
    drop(p);
    ctx.dirty(removed as u64);
    ctx.out.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop: keeps only the range; an empty range deletes the key.
pub(super) fn ltrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let stop = args::int(argv[3])?;
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(l) = list_mut(&mut p, key, now)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len();
    let (front, back) = match index_range(len, start, stop) {
        Some((first, last)) => (first, len - 1 - last),
        None => (len, 0),
    };
    l.trim(front, back);
    remove_if_empty(&mut p, key, now);
    drop(p);
    ctx.dirty((front + back) as u64);
    ctx.out.ok();
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0
/// without the key.
pub(super) fn linsert(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let after = if args::is(argv[2], "after") {
        true
    } else if args::is(argv[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(l) = list_mut(&mut p, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(pos) = l.iter().position(|e| e == argv[3]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(pos + usize::from(after), argv[4]);
    let len = l.len();
    drop(p);
    ctx.dirty(1);
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(index_range(5, 0, -1), Some((0, 4)));
        assert_eq!(index_range(5, -100, 100), Some((0, 4)));
        assert_eq!(index_range(5, 3, 1), None);
        assert_eq!(index_range(5, 5, 10), None);
        assert_eq!(index_range(5, -1, -1), Some((4, 4)));
        assert_eq!(index_range(5, -100, -50), None, "stop clamps below the head");
        assert_eq!(index_range(0, 0, -1), None);
        assert_eq!(index_range(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(index_range(5, i64::MAX, i64::MIN), None);
        assert_eq!(resolve_index(3, -3), Some(0));
        assert_eq!(resolve_index(3, -4), None);
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(3, i64::MIN), None);
    }
}
