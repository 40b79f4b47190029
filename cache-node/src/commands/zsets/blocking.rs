//! The blocking sorted-set pops: BZPOPMIN, BZPOPMAX, BZMPOP. Like the blocking list
//! commands, each tries the plain pop under the locks of its keys and, finding nothing,
//! joins the line of waiters on those keys (commands::blocking) before the locks drop.

use super::pop::{MultiPop, Popped, parse_multi_pop, pop_first, reply_multi_pop};
use super::score;
use crate::commands::blocking;
use crate::commands::{CmdResult, Ctx};
use crate::protocol::Reply;

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bzpop(ctx, argv, false)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bzpop(ctx, argv, true)
}

/// Replies [key, member, score] from the first non-empty sorted set.
fn bzpop(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> CmdResult {
    let timeout = blocking::timeout_secs(argv[argv.len() - 1])?;
    let mp = MultiPop { keys: &argv[1..argv.len() - 1], max, count: 1 };
    let (db, now, srv, retry) = (ctx.db(), ctx.now_ms, ctx.srv, ctx.session.block.is_some());
    let mut locked = srv.keyspace.lock_keys(db, mp.keys.iter().copied());
    let found = pop_first(&mut locked, db, &mp, now, retry)?;
    let on_found = |ctx: &mut Ctx<'_>, (key, popped): Popped| {
        ctx.dirty(popped.len() as u64);
        propagate_pop(ctx, max, &key, None);
        ctx.out.array(3);
        ctx.out.bulk(&key);
        for (m, s) in &popped {
            ctx.out.bulk(m);
            score::reply(ctx.out, *s);
        }
    };
    blocking::serve_or_block(ctx, locked, found, mp.keys, timeout, on_found, Reply::null_array);
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let timeout = blocking::timeout_secs(argv[1])?;
    let mp = parse_multi_pop(&argv[2..])?;
    let (db, now, srv, retry) = (ctx.db(), ctx.now_ms, ctx.srv, ctx.session.block.is_some());
    let mut locked = srv.keyspace.lock_keys(db, mp.keys.iter().copied());
    let found = pop_first(&mut locked, db, &mp, now, retry)?;
    let max = mp.max;
    let on_found = |ctx: &mut Ctx<'_>, (key, popped): Popped| {
        propagate_pop(ctx, max, &key, Some(popped.len()));
        reply_multi_pop(ctx, &key, &popped);
    };
    blocking::serve_or_block(ctx, locked, found, mp.keys, timeout, on_found, Reply::null_array);
    Ok(())
}

/// The journal gets the plain pop that was served (see the list commands).
fn propagate_pop(ctx: &mut Ctx<'_>, max: bool, key: &[u8], count: Option<usize>) {
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    match count {
        Some(n) => ctx.propagate(&[name, key, n.to_string().as_bytes()]),
        None => ctx.propagate(&[name, key]),
    }
}
