//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, COPY, MOVE, KEYS,
//! SCAN, RANDOMKEY, TOUCH and OBJECT.

use super::args;
use super::scope::{self, ScopeKeys};
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::protocol::Reply;
use crate::store::{Ttl, ValueRef, glob};

const R: u32 = acl::KEYSPACE | acl::READ;
const W: u32 = acl::KEYSPACE | acl::WRITE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { summary: "Delete a key", ..cmd("del", -2, flag::WRITE, W | acl::SLOW, (1, -1, 1), del) },
    CommandSpec {
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        since: "4.0.0",
        ..cmd("unlink", -2, flag::WRITE | flag::FAST, W | acl::FAST, (1, -1, 1), del)
    },
    CommandSpec { summary: "Determine if a key exists", ..cmd("exists", -2, flag::READONLY | flag::FAST, R | acl::FAST, (1, -1, 1), exists) },
    CommandSpec { summary: "Determine the type stored at key", ..cmd("type", 2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), type_cmd) },
    CommandSpec { summary: "Rename a key", ..cmd("rename", 3, flag::WRITE, W | acl::SLOW, (1, 2, 1), rename) },
    CommandSpec {
        summary: "Rename a key, only if the new key does not exist",
        ..cmd("renamenx", 3, flag::WRITE | flag::FAST, W | acl::FAST, (1, 2, 1), renamenx)
    },
    CommandSpec {
        summary: "Copy a key",
        since: "6.2.0",
        scope: ScopeKeys::Custom(scope::copy_keys),
        ..cmd("copy", -3, flag::WRITE | flag::DENYOOM, W | acl::SLOW, (1, 2, 1), copy)
    },
    CommandSpec {
        summary: "Move a key to another database",
        scope: ScopeKeys::Custom(scope::move_keys),
        ..cmd("move", 3, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), move_cmd)
    },
    CommandSpec { summary: "Find all keys matching the given pattern", ..cmd("keys", 2, flag::READONLY, R | acl::SLOW | acl::DANGEROUS, (0, 0, 0), keys) },
    CommandSpec { summary: "Incrementally iterate the keys space", since: "2.8.0", ..cmd("scan", -2, flag::READONLY, R | acl::SLOW, (0, 0, 0), scan) },
    CommandSpec { summary: "Return a random key from the keyspace", ..cmd("randomkey", 1, flag::READONLY, R | acl::SLOW, (0, 0, 0), randomkey) },
    CommandSpec {
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        since: "3.2.1",
        ..cmd("touch", -2, flag::READONLY | flag::FAST, R | acl::FAST, (1, -1, 1), touch)
    },
    CommandSpec {
        summary: "A container for object introspection commands",
        since: "2.2.3",
        subcommands: OBJECT_SUBCOMMANDS,
        ..cmd("object", -2, 0, acl::SLOW, (0, 0, 0), object)
    },
];

static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        summary: "Show helpful text about the different subcommands",
        since: "6.2.0",
        ..cmd("help", 2, flag::LOADING | flag::STALE, acl::KEYSPACE | acl::SLOW, (0, 0, 0), object_help)
    },
    CommandSpec {
        summary: "Get the logarithmic access frequency counter of a Redis object",
        since: "4.0.0",
        ..cmd("freq", 3, flag::READONLY, R | acl::SLOW, (2, 2, 1), object_freq)
    },
    CommandSpec {
        summary: "Inspect the internal encoding of a Redis object",
        since: "2.2.3",
        ..cmd("encoding", 3, flag::READONLY, R | acl::SLOW, (2, 2, 1), object_encoding)
    },
    CommandSpec {
        summary: "Get the time since a Redis object was last accessed",
        since: "2.2.3",
        ..cmd("idletime", 3, flag::READONLY, R | acl::SLOW, (2, 2, 1), object_idletime)
    },
    CommandSpec {
        summary: "Get the number of references to the value of the key",
        since: "2.2.3",
        ..cmd("refcount", 3, flag::READONLY, R | acl::SLOW, (2, 2, 1), object_refcount)
    },
];

/// DEL / UNLINK key [key ...]. Values are freed in place: they are short strings or
/// single allocations, so there is nothing worth handing to another thread yet.
fn del(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let keys = &argv[1..];
    let mut l = ctx.srv.keyspace.lock_keys(ctx.db(), keys.iter().copied());
    let mut n = 0;
    for k in keys {
        if l.part(ctx.db(), k).remove(k, ctx.now_ms) {
            n += 1;
        }
    }
    drop(l);
    ctx.dirty(n as u64);
    ctx.out.int(n);
    Ok(())
}

/// EXISTS key [key ...]: a key named twice counts twice.
fn exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let keys = &argv[1..];
    let mut l = ctx.srv.keyspace.lock_keys(ctx.db(), keys.iter().copied());
    let n = keys.iter().filter(|k| l.part(ctx.db(), k).get_notouch(k, ctx.now_ms).is_some()).count();
    drop(l);
    ctx.out.int(n as i64);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let name = p.get_notouch(argv[1], ctx.now_ms).map_or("none", |v| v.type_name());
    drop(p);
    ctx.out.simple(name);
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// RENAME / RENAMENX src dst: the value moves with its TTL.
fn rename_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], nx: bool) -> CmdResult {
    let (db, now, src, dst) = (ctx.db(), ctx.now_ms, argv[1], argv[2]);
    let mut l = ctx.srv.keyspace.lock_keys(db, [src, dst]);
    if !l.part(db, src).contains(src, now) {
        return Err(CmdError::NoSuchKey);
    }
    let done = if src == dst {
        // Renaming a key to itself changes nothing; RENAMENX reports "not renamed".
        !nx
    } else if nx && l.part(db, dst).contains(dst, now) {
        false
    } else {
        let (value, at) = l.part(db, src).take(src, now).ok_or(CmdError::NoSuchKey)?;
        l.part(db, dst).set(dst, value, at.map_or(Ttl::Clear, Ttl::At), now);
        true
    };
    drop(l);
    if done && src != dst {
        ctx.dirty(1);
    }
    match (nx, done) {
        (false, _) => ctx.out.ok(),
        (true, d) => ctx.out.int(i64::from(d)),
    }
    Ok(())
}

/// A database index as Redis's getIntFromObjectOrReply reads it (an `int`).
fn int32(arg: &[u8]) -> Result<i64, CmdError> {
    let n = args::int(arg)?;
    if i32::try_from(n).is_err() {
        return Err(CmdError::other("ERR value is out of range, value must between -2147483648 and 2147483647"));
    }
    Ok(n)
}

/// Checks that `n` names an existing database.
fn db_index(ctx: &Ctx<'_>, n: i64) -> Result<usize, CmdError> {
    usize::try_from(n).ok().filter(|&d| d < ctx.srv.keyspace.databases()).ok_or(CmdError::DbIndexOutOfRange)
}

/// COPY source destination [DB destination-db] [REPLACE]: copies the value and its TTL.
fn copy(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (src, dst, db, now) = (argv[1], argv[2], ctx.db(), ctx.now_ms);
    let mut dst_db = db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if args::is(argv[i], "replace") {
            replace = true;
        } else if args::is(argv[i], "db") && i + 1 < argv.len() {
            dst_db = db_index(ctx, int32(argv[i + 1])?)?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if src == dst && db == dst_db {
        return Err(CmdError::other("ERR source and destination objects are the same"));
    }
    let mut l = ctx.srv.keyspace.lock_pairs([(db, src), (dst_db, dst)]);
    let from = l.part(db, src);
    let Some(value) = from.get(src, now).map(|v| v.to_value()) else {
        drop(l);
        ctx.out.int(0);
        return Ok(());
    };
    let at = from.expire_at(src, now).flatten();
    let to = l.part(dst_db, dst);
    if !replace && to.contains(dst, now) {
        drop(l);
        ctx.out.int(0);
        return Ok(());
    }
    to.set(dst, value, at.map_or(Ttl::Clear, Ttl::At), now);
    drop(l);
    ctx.dirty(1);
    ctx.out.int(1);
    Ok(())
}

/// MOVE key db: only when the key does not exist in the target database.
fn move_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, db, now) = (argv[1], ctx.db(), ctx.now_ms);
    let dst_db = db_index(ctx, int32(argv[2])?)?;
    if dst_db == db {
        return Err(CmdError::other("ERR source and destination objects are the same"));
    }
    let mut l = ctx.srv.keyspace.lock_pairs([(db, key), (dst_db, key)]);
    let moved = if !l.part(db, key).contains(key, now) || l.part(dst_db, key).contains(key, now) {
        false
    } else if let Some((value, at)) = l.part(db, key).take(key, now) {
        l.part(dst_db, key).set(key, value, at.map_or(Ttl::Clear, Ttl::At), now);
        true
    } else {
        false
    };
    drop(l);
    if moved {
        ctx.dirty(1);
    }
    ctx.out.int(i64::from(moved));
    Ok(())
}

/// KEYS pattern. Holds every partition of the database for the walk so the answer is
/// one consistent snapshot (a concurrent RENAME is seen either before or after).
fn keys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let pattern = argv[1];
    let match_all = pattern == b"*";
    let mut body = Reply::new(ctx.out.version);
    let mut n = 0;
    let mut l = ctx.srv.keyspace.lock_db(ctx.db());
    for (_, p) in l.parts() {
        p.for_each(ctx.now_ms, |k, _, _| {
            if match_all || glob::matches(pattern, k, false) {
                body.bulk(k);
                n += 1;
            }
        });
    }
    drop(l);
    ctx.out.array(n);
    ctx.out.raw(&body.buf);
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
fn scan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = super::scan_args::cursor(argv[1])?;
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let Some(&value) = argv.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if args::is(argv[i], "count") {
            count = args::int(value)?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
        } else if args::is(argv[i], "match") {
            // "*" matches everything: skip the matcher, as Redis does.
            pattern = if value == b"*" { None } else { Some(value) };
        } else if args::is(argv[i], "type") {
            type_filter = Some(value);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let mut body = Reply::new(ctx.out.version);
    let mut n = 0;
    let next = ctx.srv.keyspace.scan(ctx.db(), cursor, count, ctx.now_ms, |k, v| {
        if pattern.is_some_and(|p| !glob::matches(p, k, false)) {
            return;
        }
        if type_filter.is_some_and(|t| !t.eq_ignore_ascii_case(v.type_name().as_bytes())) {
            return;
        }
        body.bulk(k);
        n += 1;
    });
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(n);
    ctx.out.raw(&body.buf);
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match ctx.srv.keyspace.random_key(ctx.db(), ctx.now_ms) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

/// TOUCH key [key ...]: a read that refreshes each key's access time.
fn touch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let keys = &argv[1..];
    let mut l = ctx.srv.keyspace.lock_keys(ctx.db(), keys.iter().copied());
    let n = keys.iter().filter(|k| l.part(ctx.db(), k).get(k, ctx.now_ms).is_some()).count();
    drop(l);
    ctx.out.int(n as i64);
    Ok(())
}

/// OBJECT <subcommand>: finds the subcommand in the table and checks its arity.
fn object(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let Some(sub) = OBJECT_SUBCOMMANDS.iter().find(|s| args::is(argv[1], s.name)) else {
        return Err(CmdError::UnknownSubcommand { cmd: "OBJECT".into(), sub: args::text(argv[1]) });
    };
    if !sub.arity_ok(argv.len()) {
        return Err(CmdError::WrongArity(format!("object|{}", sub.name)));
    }
    (sub.handler)(ctx, argv)
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.array(OBJECT_HELP.len());
    for line in OBJECT_HELP {
        ctx.out.simple(line);
    }
    Ok(())
}

/// The name OBJECT ENCODING reports. Strings follow Redis: a short string kept in the
/// entry is "int" when it is a canonical integer, else "embstr"; one on the heap is "raw".
fn encoding_name(v: ValueRef<'_>, inline: bool) -> &'static str {
    match v {
        ValueRef::Str(s) if inline && crate::store::value::is_canonical_int(s) => "int",
        ValueRef::Str(_) if inline => "embstr",
        ValueRef::Str(_) => "raw",
        ValueRef::Obj(o) => o.encoding(),
    }
}

fn object_encoding(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[2];
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let inline = p.is_inline(key, ctx.now_ms).unwrap_or(false);
    let name = p.get_notouch(key, ctx.now_ms).map(|v| encoding_name(v, inline));
    drop(p);
    match name {
        Some(n) => ctx.out.bulk(n.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

fn policy_is_lfu(ctx: &Ctx<'_>) -> bool {
    ctx.srv.config.read().str("maxmemory-policy").ends_with("-lfu")
}

const NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const NO_LRU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// OBJECT FREQ key: the key's LFU counter, decayed to now (see store/access.rs).
fn object_freq(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[2];
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let bits = p.get_notouch(key, ctx.now_ms).is_some().then(|| p.access_bits(key, ctx.now_ms)).flatten();
    drop(p);
    let Some(bits) = bits else {
        ctx.out.null();
        return Ok(());
    };
    if !policy_is_lfu(ctx) {
        return Err(CmdError::other(NO_LFU));
    }
    let decay = crate::store::access::lfu_params().1;
    ctx.out.int(i64::from(crate::store::access::lfu_decayed(bits, crate::store::access::minutes(ctx.now_ms), decay)));
    Ok(())
}

fn object_idletime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[2];
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let idle = p.get_notouch(key, ctx.now_ms).is_some().then(|| p.idle_secs(key, ctx.now_ms)).flatten();
    drop(p);
    let Some(idle) = idle else {
        ctx.out.null();
        return Ok(());
    };
    if policy_is_lfu(ctx) {
        return Err(CmdError::other(NO_LRU));
    }
    ctx.out.int(i64::try_from(idle).unwrap_or(i64::MAX));
    Ok(())
}

/// OBJECT REFCOUNT key. Values are never shared, except that Redis reports its shared
/// small integers (0..9999, unless an LRU/LFU policy with maxmemory forbids sharing)
/// with a refcount of INT_MAX; clients comparing with Redis see the same numbers.
fn object_refcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[2];
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let inline = p.is_inline(key, ctx.now_ms).unwrap_or(false);
    let small_int = match p.get_notouch(key, ctx.now_ms) {
        None => None,
        Some(ValueRef::Str(s)) => Some(inline && crate::protocol::request::parse_i64(s).is_some_and(|n| (0..10_000).contains(&n))),
        Some(ValueRef::Obj(_)) => Some(false),
    };
    drop(p);
    let Some(small_int) = small_int else {
        ctx.out.null();
        return Ok(());
    };
    let shared = small_int && {
        let cfg = ctx.srv.config.read();
        let policy = cfg.str("maxmemory-policy");
        cfg.int("maxmemory") == 0 || !(policy.ends_with("-lru") || policy.ends_with("-lfu"))
    };
    ctx.out.int(if shared { i64::from(i32::MAX) } else { 1 });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parsing_follows_strtoul() {
        assert_eq!(crate::commands::scan_args::cursor(b"0"), Ok(0));
        assert_eq!(crate::commands::scan_args::cursor(b""), Ok(0));
        assert_eq!(crate::commands::scan_args::cursor(b"+7"), Ok(7));
        assert_eq!(crate::commands::scan_args::cursor(b"00"), Ok(0));
        assert_eq!(crate::commands::scan_args::cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(crate::commands::scan_args::cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b"18446744073709551616"[..], b" 1", b"1 ", b"-", b"+", b"0x", b"abc", b"1.0"] {
            assert!(crate::commands::scan_args::cursor(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn string_encodings() {
        assert_eq!(encoding_name(ValueRef::Str(b"123"), true), "int");
        assert_eq!(encoding_name(ValueRef::Str(b"-0"), true), "embstr");
        assert_eq!(encoding_name(ValueRef::Str(b"abc"), true), "embstr");
        assert_eq!(encoding_name(ValueRef::Str(b"123"), false), "raw");
    }

    #[test]
    fn db_index_range() {
        assert_eq!(int32(b"2147483647"), Ok(2147483647));
        assert!(matches!(int32(b"2147483648"), Err(CmdError::Other(_))));
        assert_eq!(int32(b"x"), Err(CmdError::NotInteger));
    }
}
