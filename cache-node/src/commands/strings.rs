//! String commands: GET, SET and friends, counters, ranges.

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::store::{Ttl, ValueRef};

const R: u32 = acl::READ | acl::STRING;
const W: u32 = acl::WRITE | acl::STRING;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { group: "string", summary: "Returns the string value of a key.", ..cmd("get", 2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), get) },
    CommandSpec {
        group: "string",
        summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        ..cmd("set", -3, flag::WRITE | flag::DENYOOM, W | acl::SLOW, (1, 1, 1), set)
    },
];

fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    match p.get(argv[1], ctx.now_ms) {
        None => ctx.out.null(),
        Some(ValueRef::Str(s)) => ctx.out.bulk(s),
        Some(_) => return Err(CmdError::WrongType),
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, value) = (argv[1], argv[2]);
    let mut nx = false;
    let mut xx = false;
    let mut get = false;
    let mut ttl = Ttl::Clear;
    let mut ttl_given = false;
    let mut i = 3;
    while i < argv.len() {
        let a = argv[i];
        if args::is(a, "nx") && !xx {
            nx = true;
        } else if args::is(a, "xx") && !nx {
            xx = true;
        } else if args::is(a, "get") {
            get = true;
        } else if args::is(a, "keepttl") && !ttl_given {
            ttl = Ttl::Keep;
            ttl_given = true;
        } else if (args::is(a, "ex") || args::is(a, "px") || args::is(a, "exat") || args::is(a, "pxat")) && !ttl_given && i + 1 < argv.len() {
            let n = args::int(argv[i + 1])?;
            if n <= 0 {
                return Err(CmdError::InvalidExpire("set".into()));
            }
            let at = if args::is(a, "ex") {
                n.checked_mul(1000).and_then(|ms| ms.checked_add(ctx.now_ms))
            } else if args::is(a, "px") {
                n.checked_add(ctx.now_ms)
            } else if args::is(a, "exat") {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            ttl = Ttl::At(at.ok_or_else(|| CmdError::InvalidExpire("set".into()))?);
            ttl_given = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let old = match p.get(key, ctx.now_ms) {
        None => None,
        Some(ValueRef::Str(s)) => Some(if get { s.to_vec() } else { Vec::new() }),
        Some(_) if get => return Err(CmdError::WrongType),
        Some(_) => Some(Vec::new()),
    };
    let exists = old.is_some();
    if (nx && exists) || (xx && !exists) {
        drop(p);
        if get {
            match old {
                Some(v) => ctx.out.bulk(&v),
                None => ctx.out.null(),
            }
        } else {
            ctx.out.null();
        }
        return Ok(());
    }
    p.set_str(key, value, ttl, ctx.now_ms);
    drop(p);
    ctx.dirty(1);
    match (get, old) {
        (true, Some(v)) => ctx.out.bulk(&v),
        (true, None) => ctx.out.null(),
        (false, _) => ctx.out.ok(),
    }
    Ok(())
}
