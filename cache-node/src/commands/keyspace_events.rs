//! Keyspace notifications of write commands: which (class, event) each command
//! publishes for which key, as Redis 7.0 names them. Called by the dispatcher after a
//! write that changed something, only when `notify-keyspace-events` is not empty; the
//! command's partitions are still held, so events come in the order of the changes.

use super::spec::CommandSpec;
use super::{Ctx, Effects, args};
use crate::server::pubsub::keyspace::{class, notify};

/// One event to publish.
struct Event<'a> {
    class: u32,
    name: &'static str,
    db: usize,
    key: &'a [u8],
}

/// What must be known before the command runs: which keys DEL/UNLINK will delete.
pub(super) fn before(ctx: &Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]]) -> Vec<bool> {
    if !matches!(spec.name, "del" | "unlink") {
        return Vec::new();
    }
    argv[1..].iter().map(|k| exists(ctx, ctx.db(), k)).collect()
}

fn exists(ctx: &Ctx<'_>, db: usize, key: &[u8]) -> bool {
    ctx.srv.keyspace.lock(db, key).contains(key, ctx.now_ms)
}

/// Publishes the events of a write command that changed data.
pub(super) fn after(ctx: &Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]], existed: &[bool]) {
    // Blocking and multi-key pops journal the plain pop they served: its key and end.
    const SERVED: &[&str] = &["blpop", "brpop", "blmove", "brpoplpush", "blmpop", "lmpop", "bzpopmin", "bzpopmax", "bzmpop", "zmpop"];
    if SERVED.contains(&spec.name)
        && let Effects::Rewritten(cmds) = &ctx.effects
    {
        for c in cmds {
            let refs: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            if let Some(name) = refs.first().map(|n| String::from_utf8_lossy(n).to_ascii_lowercase()) {
                publish(ctx, &events(ctx, &name, &refs, &[]));
            }
        }
        return;
    }
    publish(ctx, &events(ctx, spec.name, argv, existed));
}

fn publish(ctx: &Ctx<'_>, evs: &[Event<'_>]) {
    for e in evs {
        notify(&ctx.srv.pubsub, e.class, e.name, e.db, e.key);
    }
}

/// The events of `name` run with `argv` (after it ran).
fn events<'a>(ctx: &Ctx<'_>, name: &str, argv: &[&'a [u8]], existed: &[bool]) -> Vec<Event<'a>> {
    let db = ctx.db();
    let ev = |class, name, key| Event { class, name, db, key };
    let mut out = Vec::new();
    let key = argv.get(1).copied().unwrap_or_default();
    // The event, then `del` when the command emptied (and so removed) the key.
    let with_del = |out: &mut Vec<Event<'a>>, class, name, key: &'a [u8]| {
        out.push(ev(class, name, key));
        if !exists(ctx, db, key) {
            out.push(ev(class::GENERIC, "del", key));
        }
    };
    // Stores: the event when something was stored, `del` when an empty result removed it.
    let stored = |out: &mut Vec<Event<'a>>, class, name, key: &'a [u8]| {
        out.push(if exists(ctx, db, key) { ev(class, name, key) } else { ev(class::GENERIC, "del", key) });
    };
    let has_expiry_option = |from: usize| argv.iter().skip(from).any(|a| ["ex", "px", "exat", "pxat"].iter().any(|o| args::is(a, o)));
    match name {
        "set" => {
            out.push(ev(class::STRING, "set", key));
            if has_expiry_option(3) {
                out.push(ev(class::GENERIC, "expire", key));
            }
        }
        "setex" | "psetex" => {
            out.push(ev(class::STRING, "set", key));
            out.push(ev(class::GENERIC, "expire", key));
        }
        "setnx" | "getset" => out.push(ev(class::STRING, "set", key)),
        "mset" | "msetnx" => out.extend(argv[1..].iter().step_by(2).map(|k| ev(class::STRING, "set", k))),
        "append" => out.push(ev(class::STRING, "append", key)),
        "setrange" => out.push(ev(class::STRING, "setrange", key)),
        "incr" | "decr" | "incrby" | "decrby" => out.push(ev(class::STRING, "incrby", key)),
        "incrbyfloat" => out.push(ev(class::STRING, "incrbyfloat", key)),
        "getdel" => out.push(ev(class::GENERIC, "del", key)),
        "getex" => {
            let e = if !exists(ctx, db, key) {
                "del"
            } else if argv.iter().skip(2).any(|a| args::is(a, "persist")) {
                "persist"
            } else {
                "expire"
            };
            out.push(ev(class::GENERIC, e, key));
        }
        "setbit" | "bitfield" => out.push(ev(class::STRING, "setbit", key)),
        "bitop" => stored(&mut out, class::STRING, "set", argv.get(2).copied().unwrap_or_default()),
        "del" | "unlink" => out.extend(argv[1..].iter().zip(existed).filter(|(_, e)| **e).map(|(k, _)| ev(class::GENERIC, "del", k))),
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            let e = if exists(ctx, db, key) { "expire" } else { "del" };
            out.push(ev(class::GENERIC, e, key));
        }
        "persist" => out.push(ev(class::GENERIC, "persist", key)),
        "rename" | "renamenx" => {
            out.push(ev(class::GENERIC, "rename_from", key));
            out.push(ev(class::GENERIC, "rename_to", argv[2]));
        }
        "move" => {
            out.push(ev(class::GENERIC, "move_from", key));
            if let Some(to) = argv.get(2).and_then(|a| args::int(a).ok()).and_then(|n| usize::try_from(n).ok()) {
                out.push(Event { class: class::GENERIC, name: "move_to", db: to, key });
            }
        }
        "copy" => {
            let to = argv.windows(2).skip(3).find(|w| args::is(w[0], "db")).and_then(|w| args::int(w[1]).ok()).and_then(|n| usize::try_from(n).ok());
            out.push(Event { class: class::GENERIC, name: "copy_to", db: to.unwrap_or(db), key: argv[2] });
        }
        "restore" => out.push(ev(class::GENERIC, "restore", key)),
        "lpush" | "lpushx" => out.push(ev(class::LIST, "lpush", key)),
        "rpush" | "rpushx" => out.push(ev(class::LIST, "rpush", key)),
        "linsert" => out.push(ev(class::LIST, "linsert", key)),
        "lset" => out.push(ev(class::LIST, "lset", key)),
        "lpop" => with_del(&mut out, class::LIST, "lpop", key),
        "rpop" => with_del(&mut out, class::LIST, "rpop", key),
        "ltrim" => with_del(&mut out, class::LIST, "ltrim", key),
        "lrem" => with_del(&mut out, class::LIST, "lrem", key),
        "rpoplpush" | "lmove" => {
            let left = |i: usize, default: bool| argv.get(i).map_or(default, |a| args::is(a, "left"));
            let (from_left, to_left) = if name == "lmove" { (left(3, false), left(4, true)) } else { (false, true) };
            out.push(ev(class::LIST, if to_left { "lpush" } else { "rpush" }, argv[2]));
            with_del(&mut out, class::LIST, if from_left { "lpop" } else { "rpop" }, key);
        }
        "hset" | "hmset" | "hsetnx" => out.push(ev(class::HASH, "hset", key)),
        "hincrby" => out.push(ev(class::HASH, "hincrby", key)),
        "hincrbyfloat" => out.push(ev(class::HASH, "hincrbyfloat", key)),
        "hdel" => with_del(&mut out, class::HASH, "hdel", key),
        "sadd" => out.push(ev(class::SET, "sadd", key)),
        "srem" => with_del(&mut out, class::SET, "srem", key),
        "spop" => with_del(&mut out, class::SET, "spop", key),
        "smove" => {
            with_del(&mut out, class::SET, "srem", key);
            out.push(ev(class::SET, "sadd", argv[2]));
        }
        "sinterstore" | "sunionstore" | "sdiffstore" => stored(&mut out, class::SET, static_name(name), key),
        "zadd" => out.push(ev(class::ZSET, "zadd", key)),
        "zincrby" => out.push(ev(class::ZSET, "zincr", key)),
        "zrem" | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" | "zpopmin" | "zpopmax" => with_del(&mut out, class::ZSET, static_name(name), key),
        "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" => stored(&mut out, class::ZSET, static_name(name), key),
        "geoadd" => out.push(ev(class::ZSET, "zadd", key)),
        "geosearchstore" => stored(&mut out, class::ZSET, "geosearchstore", key),
        "georadius" | "georadiusbymember" | "sort" => {
            // The destination follows STORE or STOREDIST.
            let dst = argv.windows(2).skip(2).find(|w| args::is(w[0], "store") || args::is(w[0], "storedist")).map(|w| w[1]);
            if let Some(dst) = dst {
                let (class, name) = if name == "sort" { (class::LIST, "sortstore") } else { (class::ZSET, "georadiusstore") };
                stored(&mut out, class, name, dst);
            }
        }
        "pfadd" | "pfmerge" => out.push(ev(class::STRING, "pfadd", key)),
        _ => {}
    }
    out
}

/// The event named like its command, as a static string.
fn static_name(name: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "sinterstore",
        "sunionstore",
        "sdiffstore",
        "zrem",
        "zremrangebyscore",
        "zremrangebyrank",
        "zremrangebylex",
        "zpopmin",
        "zpopmax",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zrangestore",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("")
}
