//! List commands: pushes and pops at either end (this file), reads and edits by index
//! or value (`edit.rs`), LPOS (`lpos.rs`), and the commands that move elements
//! between keys atomically, LMOVE, RPOPLPUSH and LMPOP (`moves.rs`). The blocking
//! variants (BLPOP...) are not served.

mod blocking;
mod edit;
mod lpos;
mod moves;

use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx, args};
use crate::store::list::List;
use crate::store::{Partition, Ttl, Value, ValueRef};

const R: u32 = acl::READ | acl::LIST;
const W: u32 = acl::WRITE | acl::LIST;
const WRITE: u32 = flag::WRITE | flag::DENYOOM;

/// A list-family entry with Redis 7.0's summary and first version.
const fn list(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "list", summary, since, ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    list("Prepend one or multiple elements to a list", "1.0.0", cmd("lpush", -3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), lpush)),
    list("Append one or multiple elements to a list", "1.0.0", cmd("rpush", -3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), rpush)),
    list("Prepend an element to a list, only if the list exists", "2.2.0", cmd("lpushx", -3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), lpushx)),
    list("Append an element to a list, only if the list exists", "2.2.0", cmd("rpushx", -3, WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), rpushx)),
    list("Remove and get the first elements in a list", "1.0.0", cmd("lpop", -2, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), lpop)),
    list("Remove and get the last elements in a list", "1.0.0", cmd("rpop", -2, flag::WRITE | flag::FAST, W | acl::FAST, (1, 1, 1), rpop)),
    list("Get the length of a list", "1.0.0", cmd("llen", 2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), llen)),
    list("Get a range of elements from a list", "1.0.0", cmd("lrange", 4, flag::READONLY, R | acl::SLOW, (1, 1, 1), edit::lrange)),
    list("Get an element from a list by its index", "1.0.0", cmd("lindex", 3, flag::READONLY, R | acl::SLOW, (1, 1, 1), edit::lindex)),
    list("Set the value of an element in a list by its index", "1.0.0", cmd("lset", 4, WRITE, W | acl::SLOW, (1, 1, 1), edit::lset)),
    list("Remove elements from a list", "1.0.0", cmd("lrem", 4, flag::WRITE, W | acl::SLOW, (1, 1, 1), edit::lrem)),
    list("Trim a list to the specified range", "1.0.0", cmd("ltrim", 4, flag::WRITE, W | acl::SLOW, (1, 1, 1), edit::ltrim)),
    list("Insert an element before or after another element in a list", "2.2.0", cmd("linsert", 5, WRITE, W | acl::SLOW, (1, 1, 1), edit::linsert)),
    list("Return the index of matching elements on a list", "6.0.6", cmd("lpos", -3, flag::READONLY, R | acl::SLOW, (1, 1, 1), lpos::lpos)),
    list("Pop an element from a list, push it to another list and return it", "6.2.0", cmd("lmove", 5, WRITE, W | acl::SLOW, (1, 2, 1), moves::lmove)),
    list("Remove the last element in a list, prepend it to another list and return it", "1.2.0", cmd("rpoplpush", 3, WRITE, W | acl::SLOW, (1, 2, 1), moves::rpoplpush)),
    // Its keys follow a count: no fixed (first, last, step) range describes them.
    list("Pop elements from a list", "7.0.0", CommandSpec { numkeys_at: Some(1), ..cmd("lmpop", -4, flag::WRITE | flag::MOVABLE_KEYS, W | acl::SLOW, (0, 0, 0), moves::lmpop) }),
    list("Remove and get the first element in a list, or block until one is available", "2.0.0", cmd("blpop", -3, flag::WRITE | flag::NOSCRIPT | flag::BLOCKING, W | acl::SLOW | acl::BLOCKING, (1, -2, 1), blocking::blpop)),
    list("Remove and get the last element in a list, or block until one is available", "2.0.0", cmd("brpop", -3, flag::WRITE | flag::NOSCRIPT | flag::BLOCKING, W | acl::SLOW | acl::BLOCKING, (1, -2, 1), blocking::brpop)),
    list("Pop an element from a list, push it to another list and return it; or block until one is available", "2.2.0", cmd("brpoplpush", 4, WRITE | flag::NOSCRIPT | flag::BLOCKING, W | acl::SLOW, (1, 2, 1), blocking::brpoplpush)),
    list("Pop an element from a list, push it to another list and return it; or block until one is available", "6.2.0", cmd("blmove", 6, WRITE | flag::NOSCRIPT | flag::BLOCKING, W | acl::SLOW, (1, 2, 1), blocking::blmove)),
    list("Pop elements from a list, or block until one is available", "7.0.0", CommandSpec { numkeys_at: Some(2), ..cmd("blmpop", -5, flag::WRITE | flag::BLOCKING | flag::MOVABLE_KEYS, W | acl::SLOW | acl::BLOCKING, (0, 0, 0), blocking::blmpop) }),
];

/// Which end of a list an operation works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// LEFT / RIGHT arguments (LMOVE, LMPOP), with Redis's syntax error otherwise.
    fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if args::is(arg, "left") {
            Ok(End::Left)
        } else if args::is(arg, "right") {
            Ok(End::Right)
        } else {
            Err(CmdError::Syntax)
        }
    }
}

fn push_at(l: &mut List, end: End, v: &[u8]) {
    match end {
        End::Left => l.push_front(v),
        End::Right => l.push_back(v),
    }
}

fn pop_at(l: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => l.pop_front(),
        End::Right => l.pop_back(),
    }
}

/// The list under `key` for reading (a keyspace hit or miss is counted): None when the
/// key is absent, WRONGTYPE when it holds another type.
fn read_list<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p List>, CmdError> {
    match p.get(key, now) {
        None => Ok(None),
        Some(ValueRef::Obj(Value::List(l))) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list under `key` for writing. The type is checked before `get_mut`, which
/// would move a short string to the heap even when the command then fails.
fn list_mut<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p mut List>, CmdError> {
    check_list(p, key, now)?;
    match p.get_mut(key, now) {
        Some(Value::List(l)) => Ok(Some(l)),
        _ => Ok(None),
    }
}

/// Ok(true) when `key` holds a list, Ok(false) when it is absent, WRONGTYPE otherwise.
fn check_list(p: &mut Partition, key: &[u8], now: i64) -> Result<bool, CmdError> {
    match p.peek(key, now) {
        None => Ok(false),
        Some(ValueRef::Obj(Value::List(_))) => Ok(true),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Deletes `key` if its list was emptied: Redis never keeps an empty collection.
fn remove_if_empty(p: &mut Partition, key: &[u8], now: i64) {
    if matches!(p.peek(key, now), Some(ValueRef::Obj(Value::List(l))) if l.is_empty()) {
        p.remove(key, now);
    }
}

/// A count that must be at least `min`, with the command's own error text for
/// anything else (Redis's getRangeLongFromObjectOrReply with a message).
fn count_arg(arg: &[u8], min: i64, msg: &str) -> Result<i64, CmdError> {
    match args::int(arg) {
        Ok(n) if n >= min => Ok(n),
        _ => Err(CmdError::other(msg)),
    }
}

fn lpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push(ctx, argv, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push(ctx, argv, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push(ctx, argv, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push(ctx, argv, End::Right, true)
}

/// [LR]PUSH[X] key element [element ...]: the new length (0 for the X forms on a
/// missing key).
fn push(ctx: &mut Ctx<'_>, argv: &[&[u8]], end: End, only_existing: bool) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let values = &argv[2..];
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let len = match list_mut(&mut p, key, now)? {
        Some(l) => {
            values.iter().for_each(|v| push_at(l, end, v));
            l.len()
        }
        None if only_existing => 0,
        None => {
            let mut l = List::new();
            values.iter().for_each(|v| push_at(&mut l, end, v));
            let len = l.len();
            p.set(key, Value::List(l), Ttl::Clear, now);
            len
        }
    };
    drop(p);
    if len > 0 {
        ctx.dirty(values.len() as u64);
    }
    ctx.out.int(len as i64);
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop(ctx, argv, End::Left)
}

fn rpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop(ctx, argv, End::Right)
}

/// [LR]POP key [count]: one element (or nil), or with a count an array of up to
/// `count` elements (a null array when the key is missing, an empty one for count 0).
fn pop(ctx: &mut Ctx<'_>, argv: &[&[u8]], end: End) -> CmdResult {
    let name = if end == End::Left { "lpop" } else { "rpop" };
    if argv.len() > 3 {
        return Err(CmdError::WrongArity(name.into()));
    }
    let count = match argv.get(2) {
        Some(a) => Some(count_arg(a, 0, "ERR value is out of range, must be positive")? as usize),
        None => None,
    };
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(l) = list_mut(&mut p, key, now)? else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let popped = match count {
        None => match pop_at(l, end) {
            Some(v) => {
                ctx.out.bulk(&v);
                1
            }
            None => {
                ctx.out.null();
                0
            }
        },
        Some(n) => {
            let n = n.min(l.len());
            ctx.out.array(n);
            for _ in 0..n {
                if let Some(v) = pop_at(l, end) {
                    ctx.out.bulk(&v);
                }
            }
            n
        }
    };
    remove_if_empty(&mut p, key, now);
    drop(p);
    // One change per element, as Redis counts them.
    ctx.dirty(popped as u64);
    Ok(())
}

fn llen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let len = read_list(&mut p, argv[1], ctx.now_ms)?.map_or(0, List::len);
    ctx.out.int(len as i64);
    Ok(())
}
