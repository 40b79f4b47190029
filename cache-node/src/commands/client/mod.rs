//! CLIENT: the calling connection's identity and reply mode, and the administration of
//! other connections (LIST, KILL, PAUSE). Listing and killing live in their own files.

mod kill;
mod list;

use std::sync::atomic::Ordering::Relaxed;

use super::args;
use super::command::{reply_help, run_subcommand};
use super::spec::{CommandSpec, Handler, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::server::session::ReplyMode;

const CONN: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;
const CONN_ACL: u32 = acl::SLOW | acl::CONNECTION;
const ADMIN: u32 = flag::ADMIN | CONN;
const ADMIN_ACL: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS | acl::CONNECTION;

const fn sub(name: &'static str, arity: i32, flags: u32, acl: u32, summary: &'static str, since: &'static str, handler: Handler) -> CommandSpec {
    CommandSpec { group: "connection", summary, since, ..cmd(name, arity, flags, acl, (0, 0, 0), handler) }
}

static SUBCOMMANDS: &[CommandSpec] = &[
    sub("getname", 2, CONN, CONN_ACL, "Get the current connection name", "2.6.9", getname),
    sub("getredir", 2, CONN, CONN_ACL, "Get tracking notifications redirection client ID if any", "6.0.0", getredir),
    sub("help", 2, flag::LOADING | flag::STALE, CONN_ACL, "Show helpful text about the different subcommands", "5.0.0", help),
    sub("id", 2, CONN, CONN_ACL, "Returns the client ID for the current connection", "5.0.0", id),
    sub("info", 2, CONN, CONN_ACL, "Returns information about the current client connection.", "6.2.0", list::info),
    sub("kill", -3, ADMIN, ADMIN_ACL, "Kill the connection of a client", "2.4.0", kill::kill),
    sub("list", -2, ADMIN, ADMIN_ACL, "Get the list of client connections", "2.4.0", list::list),
    sub("no-evict", 3, ADMIN, ADMIN_ACL, "Set client eviction mode for the current connection", "7.0.0", no_evict),
    sub("pause", -3, ADMIN, ADMIN_ACL, "Stop processing commands from clients for some time", "2.9.50", pause),
    sub("reply", 3, CONN, CONN_ACL, "Instruct the server whether to reply to commands", "3.2.0", reply),
    sub("setinfo", 4, CONN, CONN_ACL, "Set client or connection specific info", "7.2.0", setinfo),
    sub("setname", 3, CONN, CONN_ACL, "Set the current connection name", "2.6.9", setname),
    sub("unblock", -3, ADMIN, ADMIN_ACL, "Unblock a client blocked in a blocking command from a different connection", "5.0.0", unblock),
    sub("unpause", 2, ADMIN, ADMIN_ACL, "Resume processing of clients that were paused", "6.2.0", unpause),
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    group: "connection",
    summary: "A container for client connection commands",
    since: "2.4.0",
    subcommands: SUBCOMMANDS,
    ..cmd("client", -2, 0, acl::SLOW, (0, 0, 0), client)
}];

fn client(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, argv, "client", SUBCOMMANDS)
}

/// Client names may not contain spaces, newlines or other special characters.
pub fn validate_name(name: &[u8]) -> Result<String, CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::other("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

fn id(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.session.id() as i64);
    Ok(())
}

fn getname(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let name = ctx.session.info.name.lock().clone();
    if name.is_empty() {
        ctx.out.null()
    } else {
        ctx.out.bulk(name.as_bytes())
    }
    Ok(())
}

fn setname(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = validate_name(argv[2])?;
    *ctx.session.info.name.lock() = name;
    ctx.out.ok();
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2; redis-py 5 and other clients
/// send it on connect).
fn setinfo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let attr = args::text(argv[2]);
    let slot = if args::is(argv[2], "lib-name") {
        &ctx.session.info.lib_name
    } else if args::is(argv[2], "lib-ver") {
        &ctx.session.info.lib_ver
    } else {
        return Err(CmdError::other(format!("ERR Unrecognized option '{attr}'")));
    };
    if argv[3].iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::other(format!("ERR {attr} cannot contain spaces, newlines or special characters.")));
    }
    *slot.lock() = args::text(argv[3]);
    ctx.out.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP send no reply themselves; the connection
/// loop drops the replies the mode suppresses.
fn reply(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mode = argv[2];
    if args::is(mode, "on") {
        ctx.session.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if args::is(mode, "off") {
        ctx.session.reply_mode = ReplyMode::Off;
    } else if args::is(mode, "skip") {
        if ctx.session.reply_mode != ReplyMode::Off {
            ctx.session.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

fn no_evict(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let on = on_off(argv[2])?;
    ctx.session.info.no_evict.store(on, Relaxed);
    ctx.out.ok();
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if args::is(arg, "on") {
        Ok(true)
    } else if args::is(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// CLIENT PAUSE timeout [WRITE|ALL]: commands of other clients (writes only, with
/// WRITE) wait until the pause ends. A later pause never shortens an earlier one.
fn pause(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::other(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            super::command::truncated(argv[1])
        )));
    }
    let write_only = match argv.get(3) {
        None => false,
        Some(m) if args::is(m, "write") => true,
        Some(m) if args::is(m, "all") => false,
        Some(_) => {
            return Err(CmdError::other("ERR CLIENT PAUSE mode must be WRITE or ALL"));
        }
    };
    let end = timeout_deadline(argv[2], ctx.now_ms)?;
    let pause = &ctx.srv.pause;
    pause.write_only.store(write_only, Relaxed);
    pause.until_ms.fetch_max(end, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// A millisecond timeout argument as an absolute unix time (0 stays 0), with Redis's
/// `getTimeoutFromObjectOrReply` errors.
fn timeout_deadline(arg: &[u8], now_ms: i64) -> Result<i64, CmdError> {
    let ms = args::int(arg).map_err(|_| CmdError::other("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::other("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(0);
    }
    ms.checked_add(now_ms).ok_or_else(|| CmdError::other("ERR timeout is out of range"))
}

fn unpause(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.pause.until_ms.store(0, Relaxed);
    ctx.srv.pause.unpaused.notify_waiters();
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: no command blocks yet, so no client is ever
/// blocked and the answer is 0 once the arguments are valid.
fn unblock(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::other(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            super::command::truncated(argv[1])
        )));
    }
    if argv.get(3).is_some_and(|m| !args::is(m, "timeout") && !args::is(m, "error")) {
        return Err(CmdError::other("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"));
    }
    args::int(argv[2])?;
    ctx.out.int(0);
    Ok(())
}

/// Client-side caching is not supported, so no connection redirects its invalidations.
fn getredir(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(-1);
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "CLIENT",
        &[
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_and_timeouts() {
        assert!(validate_name(b"ok-name").is_ok());
        assert!(validate_name(b"").is_ok());
        assert!(validate_name(b"a b").is_err());
        assert!(validate_name(b"a\nb").is_err());
        assert_eq!(timeout_deadline(b"0", 1000), Ok(0));
        assert_eq!(timeout_deadline(b"10", 1000), Ok(1010));
        assert_eq!(timeout_deadline(b"-1", 1000).unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(timeout_deadline(b"x", 1000).unwrap_err().to_string(), "ERR timeout is not an integer or out of range");
        assert_eq!(timeout_deadline(i64::MAX.to_string().as_bytes(), 1000).unwrap_err().to_string(), "ERR timeout is out of range");
    }
}
