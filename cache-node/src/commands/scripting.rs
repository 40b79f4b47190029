//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. The handlers check arguments on the
//! worker; the script itself runs after the handler (`After::Script`): inline on the
//! worker or on the script thread, which the connection awaits (scripting/).

use super::args;
use super::command::{reply_help, run_subcommand};
use super::spec::{CommandSpec, Handler, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::scripting::{self, EvalRequest, Job, Source};
use crate::server::session::After;

const EVAL_FLAGS: u32 = flag::NOSCRIPT | flag::SKIP_MONITOR | flag::MAY_REPLICATE | flag::STALE | flag::MOVABLE_KEYS;
const RO_FLAGS: u32 = flag::NOSCRIPT | flag::SKIP_MONITOR | flag::STALE | flag::MOVABLE_KEYS | flag::READONLY;
const ACL: u32 = acl::SLOW | acl::SCRIPTING;

const fn eval_cmd(name: &'static str, flags: u32, summary: &'static str, since: &'static str, handler: Handler) -> CommandSpec {
    CommandSpec { group: "scripting", summary, since, numkeys_at: Some(2), ..cmd(name, -3, flags, ACL, (0, 0, 0), handler) }
}

const fn sub(name: &'static str, arity: i32, flags: u32, summary: &'static str, handler: Handler) -> CommandSpec {
    CommandSpec { group: "scripting", summary, since: "2.6.0", ..cmd(name, arity, flags, ACL, (0, 0, 0), handler) }
}

pub static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    sub("exists", -3, flag::NOSCRIPT, "Check existence of scripts in the script cache.", exists),
    sub("flush", -2, flag::NOSCRIPT, "Remove all the scripts from the script cache.", flush),
    sub("help", 2, flag::LOADING | flag::STALE, "Show helpful text about the different subcommands", help),
    sub("kill", 2, flag::NOSCRIPT | flag::ALLOW_BUSY, "Kill the script currently in execution.", kill),
    sub("load", 3, flag::NOSCRIPT | flag::STALE, "Load the specified Lua script into the script cache.", load),
];

pub static COMMANDS: &[CommandSpec] = &[
    eval_cmd("eval", EVAL_FLAGS, "Execute a Lua script server side", "2.6.0", eval),
    eval_cmd("evalsha", EVAL_FLAGS, "Execute a Lua script server side", "2.6.0", evalsha),
    eval_cmd("eval_ro", RO_FLAGS, "Execute a read-only Lua script server side", "7.0.0", eval_ro),
    eval_cmd("evalsha_ro", RO_FLAGS, "Execute a read-only Lua script server side", "7.0.0", evalsha_ro),
    CommandSpec {
        group: "scripting",
        summary: "A container for Lua scripts management commands",
        since: "2.6.0",
        subcommands: SCRIPT_SUBCOMMANDS,
        ..cmd("script", -2, 0, acl::SLOW, (0, 0, 0), script)
    },
];

fn eval(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    start(ctx, argv, Source::Body(argv[1].to_vec()), false)
}

fn eval_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    start(ctx, argv, Source::Body(argv[1].to_vec()), true)
}

fn evalsha(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    by_sha(ctx, argv, false)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    by_sha(ctx, argv, true)
}

fn by_sha(ctx: &mut Ctx<'_>, argv: &[&[u8]], read_only: bool) -> CmdResult {
    // Not a SHA1 (40 hex digits; any other byte names no script): answer here. An
    // unknown one goes on all the same, as an EVAL of the same connection's pipeline
    // may load it before this runs (scripting/batch.rs).
    let raw = argv[1];
    if raw.len() != 40 || !raw.is_ascii() {
        return Err(CmdError::other(scripting::NOSCRIPT));
    }
    // ASCII (checked above): always valid UTF-8.
    let Ok(sha) = String::from_utf8(raw.to_ascii_lowercase()) else {
        return Err(CmdError::other(scripting::NOSCRIPT));
    };
    start(ctx, argv, Source::Sha(sha), read_only)
}

fn check_numkeys(argv: &[&[u8]]) -> Result<usize, CmdError> {
    let n = args::int(argv[2])?;
    if n < 0 {
        return Err(CmdError::other("ERR Number of keys can't be negative"));
    }
    if n as usize > argv.len() - 3 {
        return Err(CmdError::other("ERR Number of keys can't be greater than number of args"));
    }
    Ok(n as usize)
}

fn start(ctx: &mut Ctx<'_>, argv: &[&[u8]], source: Source, read_only: bool) -> CmdResult {
    let numkeys = check_numkeys(argv)?;
    // Inside EXEC (on the script thread) the script runs right after this handler.
    let keys = argv[3..3 + numkeys].iter().map(|a| a.to_vec()).collect();
    let args = argv[3 + numkeys..].iter().map(|a| a.to_vec()).collect();
    ctx.session.after = After::Script(Box::new(EvalRequest { source, keys, args, read_only, db: ctx.db(), resp: ctx.out.version }));
    Ok(())
}

fn script(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, argv, "script", SCRIPT_SUBCOMMANDS)
}

fn exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cache = &ctx.srv.scripting.cache;
    let found: Vec<bool> = argv[2..].iter().map(|s| cache.contains(&args::text(s).to_ascii_lowercase())).collect();
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(i64::from(f));
    }
    Ok(())
}

fn flush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    match argv.get(2) {
        None => {}
        Some(m) if argv.len() == 3 && (args::is(m, "sync") || args::is(m, "async")) => {}
        Some(_) => return Err(CmdError::other("ERR SCRIPT FLUSH only support SYNC|ASYNC option")),
    }
    // Every engine drops its copies before its next run (the cache's generation).
    ctx.srv.scripting.cache.flush();
    ctx.srv.scripting.send(ctx.srv, Job::Flush);
    ctx.out.ok();
    Ok(())
}

fn kill(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let s = &ctx.srv.scripting;
    if s.gate.script_started_ms.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        return Err(CmdError::other("NOTBUSY No scripts in execution right now."));
    }
    if s.wrote.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(CmdError::other(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ));
    }
    s.kill.store(true, std::sync::atomic::Ordering::SeqCst);
    ctx.out.ok();
    Ok(())
}

fn load(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.session.after = After::Script(Box::new(EvalRequest {
        source: Source::Load(argv[2].to_vec()),
        keys: Vec::new(),
        args: Vec::new(),
        read_only: false,
        db: ctx.db(),
        resp: ctx.out.version,
    }));
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}
