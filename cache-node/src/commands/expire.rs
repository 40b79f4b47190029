//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX | XX | GT | LT), TTL,
//! PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};

const R: u32 = acl::KEYSPACE | acl::READ | acl::FAST;
const W: u32 = acl::KEYSPACE | acl::WRITE | acl::FAST;
const RF: u32 = flag::READONLY | flag::FAST;
const WF: u32 = flag::WRITE | flag::FAST;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { summary: "Set a key's time to live in seconds", ..cmd("expire", -3, WF, W, (1, 1, 1), expire) },
    CommandSpec { summary: "Set a key's time to live in milliseconds", since: "2.6.0", ..cmd("pexpire", -3, WF, W, (1, 1, 1), pexpire) },
    CommandSpec { summary: "Set the expiration for a key as a UNIX timestamp", since: "1.2.0", ..cmd("expireat", -3, WF, W, (1, 1, 1), expireat) },
    CommandSpec {
        summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        since: "2.6.0",
        ..cmd("pexpireat", -3, WF, W, (1, 1, 1), pexpireat)
    },
    CommandSpec { summary: "Get the time to live for a key in seconds", ..cmd("ttl", 2, RF, R, (1, 1, 1), ttl) },
    CommandSpec { summary: "Get the time to live for a key in milliseconds", since: "2.6.0", ..cmd("pttl", 2, RF, R, (1, 1, 1), pttl) },
    CommandSpec { summary: "Get the expiration Unix timestamp for a key", since: "7.0.0", ..cmd("expiretime", 2, RF, R, (1, 1, 1), expiretime) },
    CommandSpec {
        summary: "Get the expiration Unix timestamp for a key in milliseconds",
        since: "7.0.0",
        ..cmd("pexpiretime", 2, RF, R, (1, 1, 1), pexpiretime)
    },
    CommandSpec { summary: "Remove the expiration from a key", since: "2.2.0", ..cmd("persist", 2, WF, W, (1, 1, 1), persist) },
];

/// The condition an EXPIRE-family command sets the new time under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Condition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Condition {
    fn parse(opts: &[&[u8]]) -> Result<Self, CmdError> {
        let mut c = Condition::default();
        for o in opts {
            if args::is(o, "nx") {
                c.nx = true;
            } else if args::is(o, "xx") {
                c.xx = true;
            } else if args::is(o, "gt") {
                c.gt = true;
            } else if args::is(o, "lt") {
                c.lt = true;
            } else {
                return Err(CmdError::other(format!("ERR Unsupported option {}", args::text(o))));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::other("ERR NX and XX, GT or LT options at the same time are not compatible"));
        }
        if c.gt && c.lt {
            return Err(CmdError::other("ERR GT and LT options at the same time are not compatible"));
        }
        Ok(c)
    }

    /// Whether the new expiry `when` may replace `current` (None: no TTL, which counts
    /// as an infinite TTL for GT and LT).
    fn allows(self, current: Option<i64>, when: i64) -> bool {
        match current {
            None => !(self.xx || self.gt),
            Some(cur) => !(self.nx || (self.gt && when <= cur) || (self.lt && when >= cur)),
        }
    }
}

/// The absolute expiry time in ms an EXPIRE-family argument stands for, with Redis's
/// overflow checks (`ERR invalid expire time in '<cmd>' command`).
fn absolute_ms(arg: &[u8], seconds: bool, base: i64, name: &str) -> Result<i64, CmdError> {
    let n = args::int(arg)?;
    let invalid = || CmdError::InvalidExpire(name.to_string());
    let ms = if seconds { n.checked_mul(1000).ok_or_else(invalid)? } else { n };
    ms.checked_add(base).ok_or_else(invalid)
}

fn expire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    expire_generic(ctx, argv, true, now, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms;
    expire_generic(ctx, argv, false, now, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, true, 0, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, false, 0, "pexpireat")
}

/// key time [NX | XX | GT | LT]: replies 1 when the TTL was set (or the key deleted
/// because the time is already past), 0 when the key is missing or the condition fails.
fn expire_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], seconds: bool, base: i64, name: &str) -> CmdResult {
    // Like Redis, options are checked before the time argument.
    let cond = Condition::parse(&argv[3..])?;
    let when = absolute_ms(argv[2], seconds, base, name)?;
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let set = match p.expire_at(key, now) {
        Some(current) if cond.allows(current, when) => {
            // Journaled with the deadline, not the relative time, so a replay agrees.
            if when <= now {
                p.remove(key, now);
                ctx.propagate(&[b"DEL", key]);
            } else {
                p.set_expire(key, Some(when), now);
                ctx.propagate(&[b"PEXPIREAT", key, when.to_string().as_bytes()]);
            }
            true
        }
        _ => false,
    };
    drop(p);
    if set {
        ctx.dirty(1);
    }
    ctx.out.int(i64::from(set));
    Ok(())
}

/// What the TTL family reports.
#[derive(Clone, Copy)]
enum TtlQuery {
    Remaining { ms: bool },
    At { ms: bool },
}

fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], q: TtlQuery) -> CmdResult {
    let now = ctx.now_ms;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let at = p.get_notouch(key, now).is_some().then(|| p.expire_at(key, now).flatten());
    drop(p);
    let reply = match at {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let (ms, v) = match q {
                TtlQuery::Remaining { ms } => (ms, at.saturating_sub(now).max(0)),
                TtlQuery::At { ms } => (ms, at.max(0)),
            };
            // Seconds are rounded to the nearest, as Redis does (without overflowing
            // near i64::MAX, where Redis answers 9223372036854776).
            if ms { v } else { ((i128::from(v) + 500) / 1000) as i64 }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], TtlQuery::Remaining { ms: false })
}

fn pttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], TtlQuery::Remaining { ms: true })
}

fn expiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], TtlQuery::At { ms: false })
}

fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], TtlQuery::At { ms: true })
}

fn persist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let removed = matches!(p.expire_at(key, now), Some(Some(_))) && p.set_expire(key, None, now);
    drop(p);
    if removed {
        ctx.dirty(1);
    }
    ctx.out.int(i64::from(removed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(opts: &[&str]) -> Result<Condition, CmdError> {
        let v: Vec<&[u8]> = opts.iter().map(|s| s.as_bytes()).collect();
        Condition::parse(&v)
    }

    fn cond_err(opts: &[&str]) -> Option<String> {
        cond(opts).err().map(|e| e.to_string())
    }

    #[test]
    fn option_combinations() {
        assert!(cond(&["nx", "NX"]).is_ok());
        assert!(cond(&["xx", "gt"]).is_ok());
        assert!(cond(&["xx", "lt"]).is_ok());
        let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
        for bad in [&["nx", "xx"][..], &["nx", "gt"], &["lt", "nx"]] {
            assert_eq!(cond_err(bad).as_deref(), Some(nx));
        }
        assert_eq!(cond_err(&["gt", "lt"]).as_deref(), Some("ERR GT and LT options at the same time are not compatible"));
        assert_eq!(cond_err(&["Foo"]).as_deref(), Some("ERR Unsupported option Foo"));
    }

    #[test]
    fn conditions_treat_no_ttl_as_infinite() {
        let c = |o: &[&str]| cond(o).unwrap_or_else(|e| panic!("{o:?}: {e}"));
        assert!(c(&[]).allows(None, 5) && c(&[]).allows(Some(9), 5));
        assert!(c(&["nx"]).allows(None, 5) && !c(&["nx"]).allows(Some(9), 5));
        assert!(!c(&["xx"]).allows(None, 5) && c(&["xx"]).allows(Some(9), 5));
        assert!(!c(&["gt"]).allows(None, 5) && !c(&["gt"]).allows(Some(5), 5) && c(&["gt"]).allows(Some(4), 5));
        assert!(c(&["lt"]).allows(None, 5) && !c(&["lt"]).allows(Some(5), 5) && c(&["lt"]).allows(Some(6), 5));
    }

    #[test]
    fn overflow_is_an_invalid_expire_time() {
        let max = i64::MAX.to_string();
        assert!(matches!(absolute_ms(max.as_bytes(), true, 0, "expire"), Err(CmdError::InvalidExpire(_))));
        assert!(matches!(absolute_ms(max.as_bytes(), false, 1, "pexpire"), Err(CmdError::InvalidExpire(_))));
        assert_eq!(absolute_ms(max.as_bytes(), false, 0, "pexpireat"), Ok(i64::MAX));
        assert_eq!(absolute_ms(b"9223372036854775", true, 0, "expireat"), Ok(9_223_372_036_854_775_000));
        assert_eq!(absolute_ms(b"-9223372036854775808", false, 5, "pexpire"), Ok(i64::MIN + 5));
        assert_eq!(absolute_ms(b"x", true, 0, "expire"), Err(CmdError::NotInteger));
    }
}
