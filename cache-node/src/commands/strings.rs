//! String commands: GET, SET and its variants, multi-key MGET/MSET, in-place edits
//! (APPEND, SETRANGE), ranges, counters (`counters.rs`) and LCS (`lcs.rs`).

mod big;
pub(crate) mod counters;
mod lcs;
pub mod long_double;
mod options;

use std::sync::atomic::Ordering::Relaxed;

use self::options::{ExpireUnit, Grammar};
use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::store::{Partition, Ttl, Value, ValueRef};

const R: u32 = acl::READ | acl::STRING;
const W: u32 = acl::WRITE | acl::STRING;
const WRITE: u32 = flag::WRITE | flag::DENYOOM;

/// A string-family entry with Redis 7.0's summary and first version.
const fn string(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "string", summary, since, ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    string("Get the value of a key", "1.0.0", cmd("get", 2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), get)),
    string("Set the string value of a key", "1.0.0", cmd("set", -3, WRITE, W | acl::SLOW, (1, 1, 1), set)),
    string("Set the value of a key, only if the key does not exist", "1.0.0", cmd("setnx", 3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), setnx)),
    string("Set the value and expiration of a key", "2.0.0", cmd("setex", 4, WRITE, W | acl::SLOW, (1, 1, 1), setex)),
    string("Set the value and expiration in milliseconds of a key", "2.6.0", cmd("psetex", 4, WRITE, W | acl::SLOW, (1, 1, 1), psetex)),
    string("Set the string value of a key and return its old value", "1.0.0", cmd("getset", 3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), getset)),
    string("Get the value of a key and delete the key", "6.2.0", cmd("getdel", 2, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), getdel)),
    string("Get the value of a key and optionally set its expiration", "6.2.0", cmd("getex", -2, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), getex)),
    string("Get the values of all the given keys", "1.0.0", cmd("mget", -2, flag::READONLY | flag::FAST, R | acl::FAST, (1, -1, 1), mget)),
    string("Set multiple keys to multiple values", "1.0.1", cmd("mset", -3, WRITE, W | acl::SLOW, (1, -1, 2), mset)),
    string("Set multiple keys to multiple values, only if none of the keys exist", "1.0.1", cmd("msetnx", -3, WRITE, W | acl::SLOW, (1, -1, 2), msetnx)),
    string("Append a value to a key", "2.0.0", cmd("append", 3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), append)),
    string("Get the length of the value stored in a key", "2.2.0", cmd("strlen", 2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), strlen)),
    string("Get a substring of the string stored at a key", "2.4.0", cmd("getrange", 4, flag::READONLY, R | acl::SLOW, (1, 1, 1), getrange)),
    string("Get a substring of the string stored at a key", "1.0.0", cmd("substr", 4, flag::READONLY, R | acl::SLOW, (1, 1, 1), getrange)),
    string("Overwrite part of a string at key starting at the specified offset", "2.2.0", cmd("setrange", 4, WRITE, W | acl::SLOW, (1, 1, 1), setrange)),
    string("Increment the integer value of a key by one", "1.0.0", cmd("incr", 2, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), counters::incr)),
    string("Decrement the integer value of a key by one", "1.0.0", cmd("decr", 2, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), counters::decr)),
    string("Increment the integer value of a key by the given amount", "1.0.0", cmd("incrby", 3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), counters::incrby)),
    string("Decrement the integer value of a key by the given number", "1.0.0", cmd("decrby", 3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), counters::decrby)),
    string("Increment the float value of a key by the given amount", "2.6.0", cmd("incrbyfloat", 3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), counters::incrbyfloat)),
    string("Find longest common substring", "7.0.0", cmd("lcs", -3, flag::READONLY, R | acl::SLOW, (1, 2, 1), lcs::lcs)),
];

/// `proto-max-bulk-len`: the largest string APPEND, SETRANGE and the bit commands may build.
pub(crate) fn max_string_len(ctx: &Ctx<'_>) -> u64 {
    ctx.srv.tun.max_bulk_len.load(Relaxed) as u64
}

/// The string under `key` for an in-place edit (None when the key is absent). A short
/// string moves to the heap first, as Redis turns an embstr into a raw string.
pub(crate) fn string_mut<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p mut Vec<u8>>, CmdError> {
    match p.get_mut(key, now) {
        None => Ok(None),
        Some(v) => as_string_mut(v).map(Some),
    }
}

#[allow(unreachable_patterns)] // other value types are added by their families
fn as_string_mut(v: &mut Value) -> Result<&mut Vec<u8>, CmdError> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(CmdError::WrongType),
    }
}

/// Stores a string built by an edit (SETRANGE, BITOP) on the heap, as Redis keeps such
/// values raw rather than embedded (OBJECT ENCODING reports `raw`).
pub(crate) fn set_raw(p: &mut Partition, key: &[u8], value: Vec<u8>, now: i64) {
    p.set(key, Value::Str(value), Ttl::Clear, now);
    p.get_mut(key, now);
}

/// Inclusive byte range `[first, last]` of a string of `len` bytes selected by Redis-style
/// `start`/`end` indexes (negative counts from the end), or None when it is empty.
pub(crate) fn index_range(len: u64, start: i64, end: i64) -> Option<(u64, u64)> {
    // Both negative with start past end is empty even where clamping would make it [0, 0].
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = i128::from(len);
    let resolve = |i: i64| {
        if i < 0 { (len + i128::from(i)).max(0) } else { i128::from(i) }
    };
    let first = resolve(start);
    let last = resolve(end).min(len - 1);
    if len == 0 || first > last {
        return None;
    }
    Some((first as u64, last as u64))
}

fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    match p.get(argv[1], ctx.now_ms) {
        None => ctx.out.null(),
        Some(ValueRef::Str(s)) => ctx.out.bulk(s),
        Some(_) => return Err(CmdError::WrongType),
    }
    Ok(())
}

/// What SET-like commands reply when they do not write (NX/XX) and when they do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetReply {
    /// SET: null / +OK.
    NullOk,
    /// SETNX: :0 / :1.
    ZeroOne,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// The common core of SET, SETNX, SETEX and PSETEX. With `get`, the reply is the old
/// value whatever happens (WRONGTYPE if the key holds another type).
fn set_generic(ctx: &mut Ctx<'_>, key: &[u8], value: &[u8], ttl: Ttl, cond: Condition, get: bool, reply: SetReply) -> CmdResult {
    let now = ctx.now_ms;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let exists = if get {
        match p.get(key, now) {
            None => {
                ctx.out.null();
                false
            }
            Some(ValueRef::Str(s)) => {
                ctx.out.bulk(s);
                true
            }
            Some(_) => return Err(CmdError::WrongType),
        }
    } else if matches!(cond, Condition::Always) {
        // A plain SET does not need to know: skip a lookup on the hottest write path.
        false
    } else {
        p.contains(key, now)
    };
    let write = match cond {
        Condition::Always => true,
        Condition::IfAbsent => !exists,
        Condition::IfPresent => exists,
    };
    if write {
        p.set_str(key, value, ttl, now);
        drop(p);
        ctx.dirty(1);
        if let Ttl::At(at) = ttl {
            // A relative TTL replayed later would end later: journal the deadline.
            ctx.propagate(&[b"SET", key, value, b"PXAT", at.to_string().as_bytes()]);
        }
    }
    if !get {
        match (reply, write) {
            (SetReply::NullOk, true) => ctx.out.ok(),
            (SetReply::NullOk, false) => ctx.out.null(),
            (SetReply::ZeroOne, w) => ctx.out.int(i64::from(w)),
        }
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let o = options::parse(&argv[3..], Grammar::Set)?;
    let ttl = match o.expire {
        Some((unit, arg)) => Ttl::At(options::expire_at(unit, arg, ctx.now_ms, "set")?),
        None if o.keepttl => Ttl::Keep,
        None => Ttl::Clear,
    };
    let cond = if o.nx {
        Condition::IfAbsent
    } else if o.xx {
        Condition::IfPresent
    } else {
        Condition::Always
    };
    set_generic(ctx, argv[1], argv[2], ttl, cond, o.get, SetReply::NullOk)
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_generic(ctx, argv[1], argv[2], Ttl::Clear, Condition::IfAbsent, false, SetReply::ZeroOne)
}

fn setex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let at = options::expire_at(ExpireUnit::Ex, argv[2], ctx.now_ms, "setex")?;
    set_generic(ctx, argv[1], argv[3], Ttl::At(at), Condition::Always, false, SetReply::NullOk)
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let at = options::expire_at(ExpireUnit::Px, argv[2], ctx.now_ms, "psetex")?;
    set_generic(ctx, argv[1], argv[3], Ttl::At(at), Condition::Always, false, SetReply::NullOk)
}

/// GETSET key value: SET ... GET, clearing the TTL.
fn getset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_generic(ctx, argv[1], argv[2], Ttl::Clear, Condition::Always, true, SetReply::NullOk)
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    match p.get(key, now) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(ValueRef::Str(s)) => ctx.out.bulk(s),
        Some(_) => return Err(CmdError::WrongType),
    }
    p.remove(key, now);
    drop(p);
    ctx.dirty(1);
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
fn getex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let o = options::parse(&argv[2..], Grammar::GetEx)?;
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    match p.get(key, now) {
        // A missing key replies nil before the TTL is even validated.
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(ValueRef::Str(s)) => {
            let at = match o.expire {
                Some((unit, arg)) => Some((unit, options::expire_at(unit, arg, now, "getex")?)),
                None => None,
            };
            ctx.out.bulk(s);
            match at {
                // An absolute time already passed deletes the key.
                Some((unit, at)) if unit.is_absolute() && at <= now => {
                    p.remove(key, now);
                    ctx.propagate(&[b"DEL", key]);
                }
                Some((_, at)) => {
                    p.set_expire(key, Some(at), now);
                    ctx.propagate(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
                }
                None if o.persist && matches!(p.expire_at(key, now), Some(Some(_))) => {
                    p.set_expire(key, None, now);
                    ctx.propagate(&[b"PERSIST", key]);
                }
                None => return Ok(()),
            }
        }
        Some(_) => return Err(CmdError::WrongType),
    }
    drop(p);
    ctx.dirty(1);
    Ok(())
}

fn mget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let keys = &argv[1..];
    let mut locked = ctx.srv.keyspace.lock_keys(db, keys.iter().copied());
    ctx.out.array(keys.len());
    for key in keys {
        match locked.part(db, key).get(key, now) {
            Some(ValueRef::Str(s)) => ctx.out.bulk(s),
            // Missing keys and other types are both nil.
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, false)
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, true)
}

/// MSET/MSETNX key value [key value ...], atomic over all keys' partitions.
fn mset_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], nx: bool) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(if nx { "msetnx" } else { "mset" }.into()));
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    let pairs = &argv[1..];
    let mut locked = ctx.srv.keyspace.lock_keys(db, pairs.iter().step_by(2).copied());
    if nx && pairs.iter().step_by(2).any(|key| locked.part(db, key).contains(key, now)) {
        drop(locked);
        ctx.out.int(0);
        return Ok(());
    }
    for kv in pairs.chunks_exact(2) {
        locked.part(db, kv[0]).set_str(kv[0], kv[1], Ttl::Clear, now);
    }
    drop(locked);
    ctx.dirty(pairs.len() as u64 / 2);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
    Ok(())
}

fn append(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, tail, now) = (argv[1], argv[2], ctx.now_ms);
    let max = max_string_len(ctx);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let len = match string_mut(&mut p, key, now)? {
        None => {
            p.set_str(key, tail, Ttl::Clear, now);
            tail.len()
        }
        Some(s) => {
            if s.len() as u64 + tail.len() as u64 > max {
                return Err(CmdError::StringTooLong);
            }
            s.extend_from_slice(tail);
            s.len()
        }
    };
    drop(p);
    ctx.dirty(1);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    match p.get(argv[1], ctx.now_ms) {
        None => ctx.out.int(0),
        Some(ValueRef::Str(s)) => ctx.out.int(s.len() as i64),
        Some(_) => return Err(CmdError::WrongType),
    }
    Ok(())
}

/// GETRANGE (and SUBSTR) key start end
fn getrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let end = args::int(argv[3])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    match p.get(argv[1], ctx.now_ms) {
        None => ctx.out.bulk(b""),
        Some(ValueRef::Str(s)) => match index_range(s.len() as u64, start, end) {
            Some((first, last)) => ctx.out.bulk(&s[first as usize..=last as usize]),
            None => ctx.out.bulk(b""),
        },
        Some(_) => return Err(CmdError::WrongType),
    }
    Ok(())
}

/// SETRANGE key offset value: overwrites from `offset`, zero-padding a shorter string.
fn setrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, value, now) = (argv[1], argv[3], ctx.now_ms);
    let offset = args::int(argv[2])?;
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let max = max_string_len(ctx);
    // Checked before anything is allocated: the offset is client-controlled.
    let too_long = offset as u64 + value.len() as u64 > max;
    let offset = offset as usize;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let len = match string_mut(&mut p, key, now)? {
        // Setting nothing on a missing key creates nothing.
        None if value.is_empty() => 0,
        None => {
            if too_long {
                return Err(CmdError::StringTooLong);
            }
            let mut s = vec![0u8; offset + value.len()];
            s[offset..].copy_from_slice(value);
            set_raw(&mut p, key, s, now);
            offset + value.len()
        }
        Some(s) if value.is_empty() => s.len(),
        Some(s) => {
            if too_long {
                return Err(CmdError::StringTooLong);
            }
            let end = offset + value.len();
            if s.len() < end {
                s.resize(end, 0);
            }
            s[offset..end].copy_from_slice(value);
            s.len()
        }
    };
    drop(p);
    if !value.is_empty() {
        ctx.dirty(1);
    }
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn index_ranges() {
        // "abxyz"
        assert_eq!(index_range(5, 0, -1), Some((0, 4)));
        assert_eq!(index_range(5, -100, 100), Some((0, 4)));
        assert_eq!(index_range(5, 1, 2), Some((1, 2)));
        assert_eq!(index_range(5, 5, 3), None);
        assert_eq!(index_range(5, -1, -2), None);
        // both clamp to 0: Redis returns the first byte
        assert_eq!(index_range(5, -100, -50), Some((0, 0)));
        assert_eq!(index_range(6, -10, -20), None, "both negative and start > end");
        assert_eq!(index_range(6, -10, -6), Some((0, 0)));
        assert_eq!(index_range(0, 0, -1), None);
        assert_eq!(index_range(0, 0, 0), None);
        assert_eq!(index_range(5, i64::MAX, i64::MIN), None);
        assert_eq!(index_range(5, i64::MIN, i64::MAX), Some((0, 4)));
    }

    proptest::proptest! {
        #[test]
        fn index_range_stays_in_bounds(len in 0u64..100, start: i64, end: i64) {
            if let Some((a, b)) = index_range(len, start, end) {
                proptest::prop_assert!(a <= b && b < len);
            }
        }
    }
}
