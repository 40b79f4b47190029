//! Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT.

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::protocol::RespVersion;
use crate::server::session::{After, ReplyMode};

const C: u32 = acl::CONNECTION;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { group: "connection", summary: "Returns the server's liveliness response.", ..cmd("ping", -1, flag::FAST, C | acl::FAST, (0, 0, 0), ping) },
    CommandSpec { group: "connection", summary: "Returns the given string.", ..cmd("echo", 2, flag::FAST, C | acl::FAST, (0, 0, 0), echo) },
    CommandSpec {
        group: "connection",
        summary: "Closes the connection.",
        ..cmd("quit", -1, flag::ALLOW_BUSY | flag::NO_AUTH | flag::LOADING | flag::STALE | flag::FAST, C | acl::FAST, (0, 0, 0), quit)
    },
    CommandSpec {
        group: "connection",
        summary: "Resets the connection.",
        ..cmd("reset", 1, flag::NO_AUTH | flag::LOADING | flag::STALE | flag::FAST, C | acl::FAST, (0, 0, 0), reset)
    },
    CommandSpec {
        group: "connection",
        summary: "Handshakes with the Redis server.",
        since: "6.0.0",
        ..cmd("hello", -1, flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH, C | acl::FAST, (0, 0, 0), hello)
    },
    CommandSpec {
        group: "connection",
        summary: "Authenticates the connection.",
        ..cmd("auth", -2, flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH, C | acl::FAST, (0, 0, 0), auth)
    },
    CommandSpec {
        group: "connection",
        summary: "Changes the selected database.",
        ..cmd("select", 2, flag::LOADING | flag::STALE | flag::FAST, C | acl::FAST, (0, 0, 0), select)
    },
];

fn ping(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // A RESP2 subscriber gets the reply as a message-shaped array.
    if !ctx.out.is_resp3() && ctx.session.pubsub.as_ref().is_some_and(|s| s.total() > 0) {
        if argv.len() > 2 {
            return Err(CmdError::WrongArity("ping".into()));
        }
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(argv.get(1).copied().unwrap_or(b""));
        return Ok(());
    }
    match argv.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(argv[1]),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(argv[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.ok();
    ctx.session.after = After::Close;
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    // Leaves subscribed mode: every subscription is dropped.
    ctx.session.pubsub = None;
    super::multi::end_transaction(ctx);
    ctx.session.select(0);
    ctx.session.reply_mode = ReplyMode::On;
    ctx.session.authenticated = !ctx.srv.tun.has_password.load(std::sync::atomic::Ordering::Relaxed);
    ctx.session.info.name.lock().clear();
    ctx.session.info.no_evict.store(false, std::sync::atomic::Ordering::Relaxed);
    set_resp(ctx, RespVersion::Resp2);
    ctx.out.simple("RESET");
    Ok(())
}

fn set_resp(ctx: &mut Ctx<'_>, v: RespVersion) {
    ctx.out.version = v;
    let n = if v == RespVersion::Resp3 { 3 } else { 2 };
    ctx.session.info.resp.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// Checks a password against `requirepass` in constant time for equal lengths.
fn password_ok(ctx: &Ctx<'_>, user: Option<&[u8]>, pass: &[u8]) -> Result<(), CmdError> {
    let cfg = ctx.srv.config.read();
    let want = cfg.str("requirepass").as_bytes();
    if let Some(u) = user {
        if u != b"default" {
            return Err(CmdError::WrongPass);
        }
        if want.is_empty() {
            // The default user has no password: any password is accepted (nopass).
            return Ok(());
        }
    } else if want.is_empty() {
        return Err(CmdError::AuthNotConfigured);
    }
    let diff = want.len() ^ pass.len();
    let bytes_diff = want.iter().zip(pass.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff == 0 && bytes_diff == 0 { Ok(()) } else { Err(CmdError::WrongPass) }
}

fn auth(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (user, pass) = match argv.len() {
        2 => (None, argv[1]),
        3 => (Some(argv[1]), argv[2]),
        _ => return Err(CmdError::Syntax),
    };
    password_ok(ctx, user, pass)?;
    ctx.session.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut version = None;
    let mut i = 1;
    if argv.len() > 1 {
        let v = args::int(argv[1]).map_err(|_| CmdError::other("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::NoProto);
        }
        version = Some(if v == 3 { RespVersion::Resp3 } else { RespVersion::Resp2 });
        i = 2;
    }
    // As in Redis 7.0, AUTH takes effect as soon as it is read: a bad option after it
    // still leaves the client authenticated.
    let mut name = None;
    while i < argv.len() {
        if args::is(argv[i], "auth") && i + 2 < argv.len() {
            password_ok(ctx, Some(argv[i + 1]), argv[i + 2])?;
            ctx.session.authenticated = true;
            i += 3;
        } else if args::is(argv[i], "setname") && i + 1 < argv.len() {
            name = Some(super::client::validate_name(argv[i + 1])?);
            i += 2;
        } else {
            return Err(CmdError::other(format!("ERR Syntax error in HELLO option '{}'", args::text(argv[i]))));
        }
    }
    if !ctx.session.authenticated {
        return Err(CmdError::other(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        *ctx.session.info.name.lock() = n;
    }
    if let Some(v) = version {
        set_resp(ctx, v);
    }
    let proto = if ctx.out.is_resp3() { 3 } else { 2 };
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(crate::REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(proto);
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.session.id() as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = args::int(argv[1]).map_err(|_| CmdError::other("ERR value is not an integer or out of range"))?;
    if db < 0 || db as usize >= ctx.srv.keyspace.databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.session.select(db as usize);
    ctx.out.ok();
    Ok(())
}
