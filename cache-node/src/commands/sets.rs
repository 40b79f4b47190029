//! Set commands: membership (SADD, SREM, SISMEMBER...), SMOVE, random picks
//! (`sets/random.rs`: SPOP, SRANDMEMBER), the algebra over several keys
//! (`sets/algebra.rs`: SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD) and SSCAN.
//! The representation and its encodings live in `store/set.rs`.

mod algebra;
mod random;
pub(crate) mod sample;

use super::scan_args as scan;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::protocol::Reply;
use crate::store::set::Set;
use crate::store::{Partition, Ttl, Value, ValueRef, glob};

const R: u32 = acl::READ | acl::SET;
const W: u32 = acl::WRITE | acl::SET;
const WRITE: u32 = flag::WRITE | flag::DENYOOM;

/// A set-family entry with Redis 7.0's summary and first version.
const fn set(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "set", summary, since, ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    set("Add one or more members to a set", "1.0.0", cmd("sadd", -3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), sadd)),
    set("Remove one or more members from a set", "1.0.0", cmd("srem", -3, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), srem)),
    set("Get all the members in a set", "1.0.0", cmd("smembers", 2, flag::READONLY, R | acl::SLOW, (1, 1, 1), algebra::sinter)),
    set("Determine if a given value is a member of a set", "1.0.0", cmd("sismember", 3, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), sismember)),
    set("Returns the membership associated with the given elements for a set", "6.2.0", cmd("smismember", -3, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), smismember)),
    set("Get the number of members in a set", "1.0.0", cmd("scard", 2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), scard)),
    set("Remove and return one or multiple random members from a set", "1.0.0", cmd("spop", -2, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), random::spop)),
    set("Get one or multiple random members from a set", "1.0.0", cmd("srandmember", -2, flag::READONLY, R | acl::SLOW, (1, 1, 1), random::srandmember)),
    set("Move a member from one set to another", "1.0.0", cmd("smove", 4, flag::WRITE | flag::FAST, W | acl::FAST, (1, 2, 1), smove)),
    set("Intersect multiple sets", "1.0.0", cmd("sinter", -2, flag::READONLY, R | acl::SLOW, (1, -1, 1), algebra::sinter)),
    set("Intersect multiple sets and return the cardinality of the result", "7.0.0", CommandSpec { numkeys_at: Some(1), ..cmd("sintercard", -3, flag::READONLY | flag::MOVABLE_KEYS, R | acl::SLOW, (0, 0, 0), algebra::sintercard) }),
    set("Intersect multiple sets and store the resulting set in a key", "1.0.0", cmd("sinterstore", -3, WRITE, W | acl::SLOW, (1, -1, 1), algebra::sinterstore)),
    set("Add multiple sets", "1.0.0", cmd("sunion", -2, flag::READONLY, R | acl::SLOW, (1, -1, 1), algebra::sunion)),
    set("Add multiple sets and store the resulting set in a key", "1.0.0", cmd("sunionstore", -3, WRITE, W | acl::SLOW, (1, -1, 1), algebra::sunionstore)),
    set("Subtract multiple sets", "1.0.0", cmd("sdiff", -2, flag::READONLY, R | acl::SLOW, (1, -1, 1), algebra::sdiff)),
    set("Subtract multiple sets and store the resulting set in a key", "1.0.0", cmd("sdiffstore", -3, WRITE, W | acl::SLOW, (1, -1, 1), algebra::sdiffstore)),
    set("Incrementally iterate Set elements", "2.8.0", cmd("sscan", -3, flag::READONLY, R | acl::SLOW, (1, 1, 1), sscan)),
];

/// The set under `key` for a read (counts a keyspace hit or miss). WRONGTYPE when the
/// key holds another type.
pub(crate) fn read<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p Set>, CmdError> {
    match p.get(key, now) {
        None => Ok(None),
        Some(ValueRef::Obj(Value::Set(s))) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The set under `key` for an update; the type is checked before `get_mut` (see
/// `hashes::write`).
pub(crate) fn write<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p mut Set>, CmdError> {
    check(p, key, now)?;
    match p.get_mut(key, now) {
        Some(Value::Set(s)) => Ok(Some(s)),
        _ => Ok(None),
    }
}

/// WRONGTYPE unless `key` is absent or holds a set; no statistics, no LRU touch.
pub(crate) fn check(p: &mut Partition, key: &[u8], now: i64) -> CmdResult {
    match p.peek(key, now) {
        None | Some(ValueRef::Obj(Value::Set(_))) => Ok(()),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// SADD key member [member ...]: the number added. A new set's encoding follows its
/// first member, as in Redis.
fn sadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let added = match write(&mut p, key, now)? {
        Some(s) => argv[2..].iter().filter(|m| s.add(m)).count(),
        None => {
            let mut s = Set::for_member(argv[2]);
            let added = argv[2..].iter().filter(|m| s.add(m)).count();
            p.set(key, Value::Set(s), Ttl::Clear, now);
            added
        }
    };
    drop(p);
    ctx.dirty(added as u64);
    ctx.out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]: deletes the key once its last member goes.
fn srem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(s) = write(&mut p, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = argv[2..].iter().filter(|m| s.remove(m)).count();
    if s.is_empty() {
        p.remove(key, now);
    }
    drop(p);
    ctx.dirty(removed as u64);
    ctx.out.int(removed as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let found = read(&mut p, argv[1], ctx.now_ms)?.is_some_and(|s| s.contains(argv[2]));
    ctx.out.int(i64::from(found));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let s = read(&mut p, argv[1], ctx.now_ms)?;
    ctx.out.array(argv.len() - 2);
    for m in &argv[2..] {
        ctx.out.int(i64::from(s.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let n = read(&mut p, argv[1], ctx.now_ms)?.map_or(0, Set::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// SMOVE source destination member, atomic over both keys' partitions. Replies 0
/// without checking the destination when the source is missing, as Redis does.
fn smove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (src, dst, m, db, now) = (argv[1], argv[2], argv[3], ctx.db(), ctx.now_ms);
    let mut l = ctx.srv.keyspace.lock_keys(db, [src, dst]);
    if !l.part(db, src).contains(src, now) {
        drop(l);
        ctx.out.int(0);
        return Ok(());
    }
    check(l.part(db, src), src, now)?;
    check(l.part(db, dst), dst, now)?;
    if src == dst {
        let found = read(l.part(db, src), src, now)?.is_some_and(|s| s.contains(m));
        drop(l);
        ctx.out.int(i64::from(found));
        return Ok(());
    }
    let from = l.part(db, src);
    let Some(s) = write(from, src, now)? else { return Ok(()) };
    if !s.remove(m) {
        drop(l);
        ctx.out.int(0);
        return Ok(());
    }
    if s.is_empty() {
        from.remove(src, now);
    }
    let to = l.part(db, dst);
    let added = match write(to, dst, now)? {
        Some(s) => s.add(m),
        None => {
            let mut s = Set::for_member(m);
            s.add(m);
            to.set(dst, Value::Set(s), Ttl::Clear, now);
            true
        }
    };
    drop(l);
    ctx.dirty(1 + u64::from(added));
    ctx.out.int(1);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = scan::cursor(argv[2])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let Some(s) = read(&mut p, argv[1], ctx.now_ms)? else {
        scan::empty(ctx.out);
        return Ok(());
    };
    let o = scan::options(&argv[3..])?;
    let mut body = Reply::new(ctx.out.version);
    let mut n = 0;
    let next = s.scan(cursor, o.count, |m| {
        if o.pattern.is_none_or(|pat| glob::matches(pat, m, false)) {
            body.bulk(m);
            n += 1;
        }
    });
    drop(p);
    scan::reply(ctx.out, next, n, &body);
    Ok(())
}
