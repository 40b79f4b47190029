//! Database commands: DBSIZE, FLUSHDB, FLUSHALL and SWAPDB.

use std::sync::atomic::Ordering::Relaxed;

use super::args;
use super::scope::ScopeKeys;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::store::Partition;

const W: u32 = acl::KEYSPACE | acl::WRITE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        group: "server",
        summary: "Return the number of keys in the selected database",
        ..cmd("dbsize", 1, flag::READONLY | flag::FAST, acl::KEYSPACE | acl::READ | acl::FAST, (0, 0, 0), dbsize)
    },
    CommandSpec {
        group: "server",
        summary: "Remove all keys from the current database",
        scope: ScopeKeys::Db,
        ..cmd("flushdb", -1, flag::WRITE, W | acl::SLOW | acl::DANGEROUS, (0, 0, 0), flushdb)
    },
    CommandSpec {
        group: "server",
        summary: "Remove all keys from all databases",
        scope: ScopeKeys::All,
        ..cmd("flushall", -1, flag::WRITE, W | acl::SLOW | acl::DANGEROUS, (0, 0, 0), flushall)
    },
    CommandSpec {
        group: "server",
        summary: "Swaps two Redis databases",
        since: "4.0.0",
        scope: ScopeKeys::All,
        ..cmd("swapdb", 3, flag::WRITE | flag::FAST, W | acl::FAST | acl::DANGEROUS, (0, 0, 0), swapdb)
    },
];

/// Keys in the selected database, counted under all of its locks so a concurrent
/// RENAME or MOVE is never seen half done. Like Redis, expired keys not yet reclaimed
/// are counted.
fn dbsize(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let n: usize = ctx.srv.keyspace.lock_db(ctx.db()).parts().map(|(_, p)| p.len()).sum();
    ctx.out.int(n as i64);
    Ok(())
}

/// `[ASYNC | SYNC]`; without one, `lazyfree-lazy-user-flush` decides.
fn flush_is_async(ctx: &Ctx<'_>, argv: &[&[u8]]) -> Result<bool, CmdError> {
    match argv {
        [_] => Ok(ctx.srv.tun.lazy_user_flush.load(Relaxed)),
        [_, mode] if args::is(mode, "async") => Ok(true),
        [_, mode] if args::is(mode, "sync") => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

/// Frees flushed partitions. Either way this runs after the locks were released, so
/// other clients never wait for it; ASYNC also replies before the memory is returned.
fn free(old: Vec<Partition>, lazy: bool) {
    // Small flushes are cheaper to free here than to hand to a thread (Redis's
    // LAZYFREE_THRESHOLD works the same way).
    if lazy && old.iter().map(Partition::len).sum::<usize>() > 64 {
        // If the thread cannot be spawned the closure, and the memory, is dropped here.
        let _ = std::thread::Builder::new().name("lazyfree".into()).spawn(move || drop(old));
    } else {
        drop(old);
    }
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_is_async(ctx, argv)?;
    let old = ctx.srv.keyspace.lock_db(ctx.db()).take_parts();
    let removed: usize = old.iter().map(Partition::len).sum();
    free(old, lazy);
    ctx.dirty(removed as u64);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_is_async(ctx, argv)?;
    let old = ctx.srv.keyspace.lock_all().take_parts();
    let removed: usize = old.iter().map(Partition::len).sum();
    free(old, lazy);
    // Redis counts one more change so that FLUSHALL on empty databases is still a write.
    ctx.dirty(removed as u64 + 1);
    ctx.out.ok();
    Ok(())
}

/// SWAPDB index1 index2: clients of either database see the other one's data at once.
fn swapdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let index = |arg: &[u8], which: &str| -> Result<i64, CmdError> {
        match args::int(arg) {
            Ok(n) if i32::try_from(n).is_ok() => Ok(n),
            _ => Err(CmdError::other(format!("ERR invalid {which} DB index"))),
        }
    };
    let a = index(argv[1], "first")?;
    let b = index(argv[2], "second")?;
    let dbs = ctx.srv.keyspace.databases();
    let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
        return Err(CmdError::DbIndexOutOfRange);
    };
    if a >= dbs || b >= dbs {
        return Err(CmdError::DbIndexOutOfRange);
    }
    if a != b {
        ctx.srv.keyspace.lock_all().swap_dbs(a, b);
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}
