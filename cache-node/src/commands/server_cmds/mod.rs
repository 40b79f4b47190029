//! Server commands: CONFIG (config.rs), DEBUG (debug.rs), SHUTDOWN, TIME, LASTSAVE, ROLE.

mod config;
mod debug;

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};

const ADMIN: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        group: "server",
        summary: "A container for server configuration commands",
        since: "2.0.0",
        subcommands: config::SUBCOMMANDS,
        ..cmd("config", -2, 0, acl::SLOW, (0, 0, 0), config::config)
    },
    CommandSpec {
        group: "server",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        ..cmd("shutdown", -1, flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_MULTI | flag::ALLOW_BUSY, ADMIN, (0, 0, 0), shutdown)
    },
    CommandSpec {
        group: "server",
        summary: "A container for debugging commands",
        ..cmd("debug", -2, flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE, ADMIN, (0, 0, 0), debug::debug)
    },
    CommandSpec {
        group: "server",
        summary: "Return the current server time",
        since: "2.6.0",
        ..cmd("time", 1, flag::LOADING | flag::STALE | flag::FAST, acl::FAST, (0, 0, 0), time)
    },
    CommandSpec {
        group: "server",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        ..cmd("lastsave", 1, flag::LOADING | flag::STALE | flag::FAST, acl::ADMIN | acl::FAST | acl::DANGEROUS, (0, 0, 0), lastsave)
    },
];

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: stops the server; the snapshot (when
/// the save schedule is set, or SAVE is given) and the AOF flush happen on the way out.
fn shutdown(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut save, mut nosave, mut abort, mut other) = (false, false, false, false);
    for a in &argv[1..] {
        if args::is(a, "save") {
            save = true;
        } else if args::is(a, "nosave") {
            nosave = true;
        } else if args::is(a, "abort") {
            abort = true;
        } else if args::is(a, "now") || args::is(a, "force") {
            other = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::other("ERR No shutdown in progress."));
    }
    tracing::warn!(client = ctx.session.id(), "SHUTDOWN requested by a client");
    let mode = if save {
        1
    } else if nosave {
        2
    } else {
        0
    };
    ctx.srv.persistence.shutdown_save.store(mode, std::sync::atomic::Ordering::Relaxed);
    ctx.srv.begin_shutdown();
    // Like Redis, no reply: the connection closes.
    ctx.session.after = crate::server::session::After::Close;
    Ok(())
}

/// TIME: unix seconds and microseconds, as two bulk strings.
fn time(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(i64::from(now.subsec_micros()));
    Ok(())
}

/// LASTSAVE: without persistence, the dataset was last "saved" (empty) at start-up.
fn lastsave(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.srv.persistence.lastsave_unix.load(std::sync::atomic::Ordering::Relaxed));
    Ok(())
}
