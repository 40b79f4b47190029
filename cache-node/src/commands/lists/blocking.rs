//! The blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. Each tries its
//! non-blocking form under the locks of its keys; finding nothing, it joins the line of
//! waiters on those keys before the locks drop (commands::blocking), and runs again
//! when one of them is written, or answers null when its timeout passes.

use super::End;
use super::moves::{MultiPop, Popped, move_locked, parse_multi_pop, pop_first, reply_multi_pop};
use crate::commands::blocking;
use crate::commands::{CmdResult, Ctx};
use crate::protocol::Reply;

/// BLPOP key [key ...] timeout
pub(super) fn blpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop(ctx, argv, End::Left)
}

/// BRPOP key [key ...] timeout
pub(super) fn brpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop(ctx, argv, End::Right)
}

/// Replies [key, element] from the first non-empty list, as LMPOP with COUNT 1 does
/// underneath.
fn bpop(ctx: &mut Ctx<'_>, argv: &[&[u8]], end: End) -> CmdResult {
    let timeout = blocking::timeout_secs(argv[argv.len() - 1])?;
    let mp = MultiPop { keys: &argv[1..argv.len() - 1], end, count: 1 };
    let (db, now, srv, retry) = (ctx.db(), ctx.now_ms, ctx.srv, ctx.session.block.is_some());
    let mut locked = srv.keyspace.lock_keys(db, mp.keys.iter().copied());
    let found = pop_first(&mut locked, db, &mp, now, retry)?;
    let on_found = |ctx: &mut Ctx<'_>, (key, popped): Popped| {
        ctx.out.array(2);
        ctx.out.bulk(&key);
        for v in &popped {
            ctx.out.bulk(v);
        }
        ctx.dirty(popped.len() as u64);
        propagate_pop(ctx, end, &key, None);
    };
    blocking::serve_or_block(ctx, locked, found, mp.keys, timeout, on_found, Reply::null_array);
    Ok(())
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub(super) fn blmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let timeout = blocking::timeout_secs(argv[1])?;
    let mp = parse_multi_pop(&argv[2..])?;
    let (db, now, srv, retry) = (ctx.db(), ctx.now_ms, ctx.srv, ctx.session.block.is_some());
    let mut locked = srv.keyspace.lock_keys(db, mp.keys.iter().copied());
    let found = pop_first(&mut locked, db, &mp, now, retry)?;
    let end = mp.end;
    let on_found = |ctx: &mut Ctx<'_>, (key, popped): Popped| {
        propagate_pop(ctx, end, &key, Some(popped.len()));
        reply_multi_pop(ctx, &key, &popped);
    };
    blocking::serve_or_block(ctx, locked, found, mp.keys, timeout, on_found, Reply::null_array);
    Ok(())
}

/// The journal gets the plain pop that was served: replaying a blocking form could
/// block, or pick another key.
fn propagate_pop(ctx: &mut Ctx<'_>, end: End, key: &[u8], count: Option<usize>) {
    let name: &[u8] = if matches!(end, End::Left) { b"LPOP" } else { b"RPOP" };
    match count {
        Some(n) => ctx.propagate(&[name, key, n.to_string().as_bytes()]),
        None => ctx.propagate(&[name, key]),
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub(super) fn blmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let from = End::parse(argv[3])?;
    let to = End::parse(argv[4])?;
    let timeout = blocking::timeout_secs(argv[5])?;
    bmove(ctx, argv[1], argv[2], from, to, timeout)
}

/// BRPOPLPUSH source destination timeout: BLMOVE source destination RIGHT LEFT.
pub(super) fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let timeout = blocking::timeout_secs(argv[3])?;
    bmove(ctx, argv[1], argv[2], End::Right, End::Left, timeout)
}

fn bmove(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End, timeout: Option<std::time::Duration>) -> CmdResult {
    let (db, now, srv, retry) = (ctx.db(), ctx.now_ms, ctx.srv, ctx.session.block.is_some());
    let mut locked = srv.keyspace.lock_keys(db, [src, dst]);
    let moved = match move_locked(&mut locked, db, src, dst, from, to, now) {
        // A blocked client whose source became another type stays blocked (as in Redis).
        Err(_) if retry && !matches!(locked.part(db, src).peek(src, now), Some(crate::store::ValueRef::Obj(crate::store::Value::List(_)))) => None,
        other => other?,
    };
    let on_found = |ctx: &mut Ctx<'_>, v: Vec<u8>| {
        ctx.dirty(1);
        let side = |e: End| -> &'static [u8] { if matches!(e, End::Left) { b"LEFT" } else { b"RIGHT" } };
        ctx.propagate(&[b"LMOVE", src, dst, side(from), side(to)]);
        ctx.out.bulk(&v);
    };
    blocking::serve_or_block(ctx, locked, moved, &[src], timeout, on_found, Reply::null);
    Ok(())
}
