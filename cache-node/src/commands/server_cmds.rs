//! Server commands: CONFIG, SHUTDOWN, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, DEBUG.

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};

const ADMIN: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        group: "server",
        summary: "A container for server configuration commands.",
        since: "2.0.0",
        ..cmd("config", -2, 0, acl::SLOW, (0, 0, 0), config)
    },
    CommandSpec {
        group: "server",
        summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        ..cmd("shutdown", -1, flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_MULTI | flag::ALLOW_BUSY, ADMIN, (0, 0, 0), shutdown)
    },
];

fn config(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    if args::is(sub, "get") {
        if argv.len() < 3 {
            return Err(CmdError::WrongArity("config|get".into()));
        }
        let cfg = ctx.srv.config.read();
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        for pat in &argv[2..] {
            for (n, v) in cfg.matching(pat) {
                if !pairs.iter().any(|(m, _)| *m == n) {
                    pairs.push((n, v));
                }
            }
        }
        drop(cfg);
        ctx.out.map(pairs.len());
        for (n, v) in pairs {
            ctx.out.bulk(n.as_bytes());
            ctx.out.bulk(v.as_bytes());
        }
        Ok(())
    } else if args::is(sub, "set") {
        if argv.len() < 4 || !argv.len().is_multiple_of(2) {
            return Err(CmdError::WrongArity("config|set".into()));
        }
        let pairs: Vec<(String, String)> = argv[2..].chunks(2).map(|c| (args::text(c[0]), args::text(c[1]))).collect();
        let names = ctx.srv.config.write().set_runtime(&pairs).map_err(|e| CmdError::other(format!("ERR {e}")))?;
        ctx.srv.config_changed(&names);
        ctx.out.ok();
        Ok(())
    } else if args::is(sub, "resetstat") {
        ctx.srv.stats.reset();
        ctx.out.ok();
        Ok(())
    } else if args::is(sub, "rewrite") {
        let cfg = ctx.srv.config.read().clone();
        let Some(path) = cfg.file.clone() else {
            return Err(CmdError::other("ERR The server is running without a config file"));
        };
        crate::config::file::rewrite_file(&path, &cfg).map_err(|e| CmdError::other(format!("ERR Rewriting config file: {e}")))?;
        ctx.out.ok();
        Ok(())
    } else {
        Err(CmdError::UnknownSubcommand { cmd: "CONFIG".into(), sub: args::text(sub) })
    }
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
fn shutdown(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    for a in &argv[1..] {
        if args::is(a, "abort") {
            return Err(CmdError::other("ERR No shutdown in progress."));
        }
        if !["nosave", "save", "now", "force"].iter().any(|w| args::is(a, w)) {
            return Err(CmdError::Syntax);
        }
    }
    tracing::warn!(client = ctx.session.id(), "SHUTDOWN requested by a client");
    ctx.srv.begin_shutdown();
    // Like Redis, no reply: the connection closes.
    ctx.session.after = crate::server::session::After::Close;
    Ok(())
}
