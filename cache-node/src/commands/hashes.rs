//! Hash commands: HSET and friends, reads, counters (HINCRBY, HINCRBYFLOAT), HRANDFIELD
//! (`hashes/random.rs`) and HSCAN (`hashes/scan.rs`, whose argument parsing SSCAN shares).
//! The representation and its encodings live in `store/hash.rs`.

mod random;

use super::args;
use super::scan_args as scan;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::strings::counters::parse_long_double;
use super::strings::long_double::LongDouble;
use super::{CmdError, CmdResult, Ctx};
use crate::protocol::Reply;
use crate::store::hash::Hash;
use crate::store::{Partition, Ttl, Value, ValueRef, glob};

const R: u32 = acl::READ | acl::HASH;
const W: u32 = acl::WRITE | acl::HASH;
const WRITE: u32 = flag::WRITE | flag::DENYOOM;

/// A hash-family entry with Redis 7.0's summary and first version.
const fn hash(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "hash", summary, since, ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    hash("Set the string value of a hash field", "2.0.0", cmd("hset", -4, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), hset)),
    hash("Set the value of a hash field, only if the field does not exist", "2.0.0", cmd("hsetnx", 4, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), hsetnx)),
    hash("Get the value of a hash field", "2.0.0", cmd("hget", 3, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), hget)),
    hash("Set multiple hash fields to multiple values", "2.0.0", cmd("hmset", -4, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), hmset)),
    hash("Get the values of all the given hash fields", "2.0.0", cmd("hmget", -3, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), hmget)),
    hash("Delete one or more hash fields", "2.0.0", cmd("hdel", -3, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), hdel)),
    hash("Determine if a hash field exists", "2.0.0", cmd("hexists", 3, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), hexists)),
    hash("Get all the fields and values in a hash", "2.0.0", cmd("hgetall", 2, flag::READONLY, R | acl::SLOW, (1, 1, 1), hgetall)),
    hash("Get all the fields in a hash", "2.0.0", cmd("hkeys", 2, flag::READONLY, R | acl::SLOW, (1, 1, 1), hkeys)),
    hash("Get all the values in a hash", "2.0.0", cmd("hvals", 2, flag::READONLY, R | acl::SLOW, (1, 1, 1), hvals)),
    hash("Get the number of fields in a hash", "2.0.0", cmd("hlen", 2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), hlen)),
    hash("Get the length of the value of a hash field", "3.2.0", cmd("hstrlen", 3, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), hstrlen)),
    hash("Increment the integer value of a hash field by the given number", "2.0.0", cmd("hincrby", 4, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), hincrby)),
    hash("Increment the float value of a hash field by the given amount", "2.6.0", cmd("hincrbyfloat", 4, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), hincrbyfloat)),
    hash("Get one or multiple random fields from a hash", "6.2.0", cmd("hrandfield", -2, flag::READONLY, R | acl::SLOW, (1, 1, 1), random::hrandfield)),
    hash("Incrementally iterate hash fields and associated values", "2.8.0", cmd("hscan", -3, flag::READONLY, R | acl::SLOW, (1, 1, 1), hscan)),
];

/// The hash under `key` for a read (counts a keyspace hit or miss, as Redis's read
/// lookups do). WRONGTYPE when the key holds another type.
pub(crate) fn read<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p Hash>, CmdError> {
    match p.get(key, now) {
        None => Ok(None),
        Some(ValueRef::Obj(Value::Hash(h))) => Ok(Some(h)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The hash under `key` for an update. The type is checked before `get_mut`, which
/// would otherwise move a short string to the heap on the way to a WRONGTYPE error.
fn write<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p mut Hash>, CmdError> {
    match p.peek(key, now) {
        None => return Ok(None),
        Some(ValueRef::Obj(Value::Hash(_))) => {}
        Some(_) => return Err(CmdError::WrongType),
    }
    match p.get_mut(key, now) {
        Some(Value::Hash(h)) => Ok(Some(h)),
        _ => Ok(None),
    }
}

/// Runs `f` on the hash under `key`, creating it when absent (and storing it if `f`
/// left anything in it).
fn upsert<T>(p: &mut Partition, key: &[u8], now: i64, f: impl FnOnce(&mut Hash) -> Result<T, CmdError>) -> Result<T, CmdError> {
    if let Some(h) = write(p, key, now)? {
        return f(h);
    }
    let mut h = Hash::default();
    let out = f(&mut h)?;
    if !h.is_empty() {
        p.set(key, Value::Hash(h), Ttl::Clear, now);
    }
    Ok(out)
}

/// HSET key field value [field value ...]: the number of new fields.
fn hset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let added = set_pairs(ctx, argv, "hset")?;
    ctx.out.int(added as i64);
    Ok(())
}

/// HMSET key field value [field value ...]: +OK.
fn hmset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, argv, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn set_pairs(ctx: &mut Ctx<'_>, argv: &[&[u8]], name: &str) -> Result<usize, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(CmdError::WrongArity(name.to_string()));
    }
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let added = upsert(&mut p, key, now, |h| {
        h.prepare_for(&argv[2..]);
        Ok(argv[2..].chunks_exact(2).filter(|fv| h.set(fv[0], fv[1])).count())
    })?;
    drop(p);
    ctx.dirty((argv.len() as u64 - 2) / 2);
    Ok(added)
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let added = upsert(&mut p, key, now, |h| {
        if h.get(argv[2]).is_some() {
            return Ok(false);
        }
        h.prepare_for(&argv[2..4]);
        Ok(h.set(argv[2], argv[3]))
    })?;
    drop(p);
    if added {
        ctx.dirty(1);
    }
    ctx.out.int(i64::from(added));
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    match read(&mut p, argv[1], ctx.now_ms)?.and_then(|h| h.get(argv[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let h = read(&mut p, argv[1], ctx.now_ms)?;
    ctx.out.array(argv.len() - 2);
    for f in &argv[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// HDEL key field [field ...]: deletes the key once its last field goes.
fn hdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(h) = write(&mut p, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = argv[2..].iter().filter(|f| h.remove(f)).count();
    if h.is_empty() {
        p.remove(key, now);
    }
    drop(p);
    ctx.dirty(deleted as u64);
    ctx.out.int(deleted as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let found = read(&mut p, argv[1], ctx.now_ms)?.is_some_and(|h| h.get(argv[2]).is_some());
    ctx.out.int(i64::from(found));
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let n = read(&mut p, argv[1], ctx.now_ms)?.map_or(0, Hash::len);
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let n = read(&mut p, argv[1], ctx.now_ms)?.and_then(|h| h.get(argv[2])).map_or(0, <[u8]>::len);
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// HGETALL (a map in RESP3), HKEYS and HVALS (arrays).
fn get_all(ctx: &mut Ctx<'_>, key: &[u8], parts: Parts) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let h = read(&mut p, key, ctx.now_ms)?;
    let n = h.map_or(0, Hash::len);
    match parts {
        Parts::Both => ctx.out.map(n),
        _ => ctx.out.array(n),
    }
    for (f, v) in h.into_iter().flat_map(Hash::iter) {
        match parts {
            Parts::Fields => ctx.out.bulk(f),
            Parts::Values => ctx.out.bulk(v),
            Parts::Both => {
                ctx.out.bulk(f);
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    get_all(ctx, argv[1], Parts::Both)
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    get_all(ctx, argv[1], Parts::Fields)
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    get_all(ctx, argv[1], Parts::Values)
}

/// HINCRBY key field increment. Checks, in Redis's order: the increment, the type, the
/// stored value, overflow.
fn hincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, field, now) = (argv[1], argv[2], ctx.now_ms);
    let incr = args::int(argv[3])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let new = upsert(&mut p, key, now, |h| {
        let old = match h.get(field) {
            None => 0,
            Some(v) => crate::protocol::request::parse_i64(v).ok_or_else(|| CmdError::other("ERR hash value is not an integer"))?,
        };
        let new = old.checked_add(incr).ok_or(CmdError::Overflow)?;
        h.set(field, new.to_string().as_bytes());
        Ok(new)
    })?;
    drop(p);
    ctx.dirty(1);
    ctx.out.int(new);
    Ok(())
}

/// HINCRBYFLOAT key field increment. The result is stored and returned in Redis's
/// "human" format, computed in long double as Redis does (strings/long_double.rs).
fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, field, now) = (argv[1], argv[2], ctx.now_ms);
    let incr = parse_long_double(argv[3]).ok_or(CmdError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CmdError::other("ERR value is NaN or Infinity"));
    }
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let text = upsert(&mut p, key, now, |h| {
        let old = match h.get(field) {
            None => LongDouble::Zero { neg: false },
            Some(v) => parse_long_double(v).ok_or_else(|| CmdError::other("ERR hash value is not a float"))?,
        };
        let new = old + incr;
        if !new.is_finite() {
            return Err(CmdError::other("ERR increment would produce NaN or Infinity"));
        }
        let text = new.to_human();
        h.set(field, text.as_bytes());
        Ok(text)
    })?;
    drop(p);
    ctx.dirty(1);
    // The result, not the increment (see INCRBYFLOAT).
    ctx.propagate(&[b"HSET", key, field, text.as_bytes()]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = scan::cursor(argv[2])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let Some(h) = read(&mut p, argv[1], ctx.now_ms)? else {
        scan::empty(ctx.out);
        return Ok(());
    };
    let o = scan::options(&argv[3..])?;
    let mut body = Reply::new(ctx.out.version);
    let mut n = 0;
    let next = h.scan(cursor, o.count, |f, v| {
        if o.pattern.is_none_or(|pat| glob::matches(pat, f, false)) {
            body.bulk(f);
            body.bulk(v);
            n += 2;
        }
    });
    drop(p);
    scan::reply(ctx.out, next, n, &body);
    Ok(())
}
