//! Transactions: MULTI queues commands, EXEC runs the queue as one atomic run
//! (commands/atomic.rs), DISCARD drops it. WATCH and UNWATCH live in watch.rs.
//!
//! While a client is in MULTI, the dispatcher hands every command that passed the
//! generic checks to `intercept` (one `Option` test per command otherwise): it is
//! queued and answered `+QUEUED`, or, for EXEC, the queue runs. A command rejected while
//! queuing (unknown, wrong arity, NO_MULTI, refused...) marks the transaction, and EXEC
//! then answers EXECABORT, as in Redis.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx, args, atomic, scope, watch};
use crate::server::session::After;
use crate::server::stats::{ThreadStats, bump};

const T: u32 = acl::TRANSACTION;
const TX_FLAGS: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;

const fn tx(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "transactions", summary, since, ..spec }
}

pub static COMMANDS: &[CommandSpec] = &[
    tx("Mark the start of a transaction block", "1.2.0", cmd("multi", 1, TX_FLAGS | flag::FAST | flag::ALLOW_BUSY, T | acl::FAST, (0, 0, 0), multi)),
    tx("Execute all commands issued after MULTI", "1.2.0", cmd("exec", 1, TX_FLAGS, T | acl::SLOW, (0, 0, 0), exec_without_multi)),
    tx("Discard all commands issued after MULTI", "2.0.0", cmd("discard", 1, TX_FLAGS | flag::FAST | flag::ALLOW_BUSY, T | acl::FAST, (0, 0, 0), discard)),
    tx(
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        "2.2.0",
        cmd("watch", -2, TX_FLAGS | flag::FAST | flag::ALLOW_BUSY, T | acl::FAST, (1, -1, 1), watch::watch),
    ),
    tx("Forget about all watched keys", "2.2.0", cmd("unwatch", 1, TX_FLAGS | flag::FAST | flag::ALLOW_BUSY, T | acl::FAST, (0, 0, 0), watch::unwatch)),
];

/// A connection's transaction state (`Session::tx`).
#[derive(Debug, Default)]
pub struct Tx {
    /// Some while the client is in MULTI.
    pub queue: Option<Box<Queue>>,
    pub(super) watched: watch::Watched,
}

/// Commands queued since MULTI.
#[derive(Debug, Default)]
pub struct Queue {
    cmds: Vec<Vec<Vec<u8>>>,
    /// A command was rejected while queuing: EXEC answers EXECABORT.
    aborted: bool,
    /// Bytes of the queued arguments plus one pointer per argument (CLIENT LIST
    /// multi-mem, as Redis 7.0 counts it).
    mem: u64,
}

/// Commands that run at once even inside MULTI.
fn runs_now(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// A command was rejected by the generic checks inside MULTI: EXEC will abort. EXEC
/// itself rejected (wrong arity, refused) aborts the transaction now, naming the reason
/// without its `ERR ` prefix, as Redis's `execCommandAbort`.
pub fn reject(ctx: &mut Ctx<'_>, name: &[u8], e: &CmdError) {
    if !args::is(name, "exec") {
        if let Some(q) = ctx.session.tx.queue.as_mut() {
            q.aborted = true;
        }
        super::reply_error(ctx, e);
        return;
    }
    end_transaction(ctx);
    abort(ctx, &e.to_string());
}

fn abort(ctx: &mut Ctx<'_>, reason: &str) {
    let reason = reason.strip_prefix('-').unwrap_or(reason);
    let reason = reason.strip_prefix("ERR ").unwrap_or(reason);
    super::reply_error(ctx, &CmdError::other(format!("EXECABORT Transaction discarded because of: {reason}")));
}

/// Inside MULTI: queues the command or runs EXEC. Returns false for the commands that
/// run normally (MULTI, DISCARD, WATCH, QUIT, RESET), which then reach their handlers.
pub fn intercept(ctx: &mut Ctx<'_>, idx: usize, spec: &CommandSpec, argv: &[&[u8]], stats: &ThreadStats, clock: &mut Instant) -> bool {
    if spec.has(flag::NO_MULTI) {
        reject(ctx, argv[0], &CmdError::other("ERR Command not allowed inside a transaction"));
        return true;
    }
    if spec.name == "exec" {
        exec(ctx, stats, clock);
        let cs = &stats.per_command[idx];
        let end = Instant::now();
        bump(&cs.calls, 1);
        bump(&cs.nanos, end.saturating_duration_since(*clock).as_nanos() as u64);
        bump(&stats.commands, 1);
        *clock = end;
        return true;
    }
    if runs_now(spec) {
        return false;
    }
    let Some(q) = ctx.session.tx.queue.as_mut() else { return false };
    q.mem += argv.iter().map(|a| a.len() as u64 + 8).sum::<u64>();
    q.cmds.push(argv.iter().map(|a| a.to_vec()).collect());
    ctx.session.info.multi.store(q.cmds.len() as i64, Relaxed);
    ctx.session.info.multi_mem.store(q.mem, Relaxed);
    ctx.out.simple("QUEUED");
    true
}

fn multi(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.session.tx.queue.is_some() {
        return Err(CmdError::other("ERR MULTI calls can not be nested"));
    }
    ctx.session.tx.queue = Some(Box::default());
    ctx.session.info.multi.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// EXEC reaches its handler only outside MULTI (inside, `intercept` runs it).
fn exec_without_multi(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR EXEC without MULTI"))
}

fn discard(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.session.tx.queue.is_none() {
        return Err(CmdError::other("ERR DISCARD without MULTI"));
    }
    end_transaction(ctx);
    ctx.out.ok();
    Ok(())
}

/// Leaves MULTI and forgets the watched keys (DISCARD, EXEC, RESET).
pub fn end_transaction(ctx: &mut Ctx<'_>) {
    ctx.session.tx.queue = None;
    ctx.session.info.multi.store(-1, Relaxed);
    ctx.session.info.multi_mem.store(0, Relaxed);
    watch::unwatch_all(ctx);
}

/// Why EXEC must refuse the whole queue now: the checks Redis applies at EXEC time
/// with the flags of the queued commands (they may have changed since queuing: the
/// node became a read-only replica, the disk failed...).
fn refusal(ctx: &Ctx<'_>, specs: &[&'static CommandSpec]) -> Option<String> {
    let srv = ctx.srv;
    if srv.replication.replica_mode.load(Relaxed) && !ctx.session.is_master {
        for spec in specs {
            if let Some(msg) = crate::replication::replica::masterdown(srv, spec) {
                return Some(msg.to_string());
            }
        }
    }
    if specs.iter().any(|s| s.has(flag::WRITE))
        && !ctx.session.is_master
        && let Some(msg) = super::write_refusal(srv, ctx.session.is_master)
    {
        return Some(msg);
    }
    if specs.iter().any(|s| s.has(flag::DENYOOM)) {
        return oom_refusal(ctx);
    }
    None
}

/// The OOM check of a queue holding DENYOOM commands (after trying to evict), made
/// before EXEC takes its partitions.
fn oom_refusal(ctx: &Ctx<'_>) -> Option<String> {
    (!ctx.session.is_master && crate::memory::evict::refuse(ctx.srv, ctx.now_ms)).then(|| crate::memory::evict::OOM.to_string())
}

/// Runs the queue: EXECABORT when a command was rejected while queuing or the queue is
/// refused now, the null array when a watched key changed, otherwise every command's
/// reply in one array, all run while every partition they (and the watched keys) live in
/// is held.
fn exec(ctx: &mut Ctx<'_>, stats: &ThreadStats, clock: &mut Instant) {
    let Some(queue) = ctx.session.tx.queue.take() else { return };
    // Scripts run on the script thread only: a connection's whole transaction goes
    // there, where it runs behind the script gate and its scripts join its atomic run.
    // (Replayed or replicated streams hold scripts' effects, never scripts: there a
    // queued script answers that the engine is not available.)
    if ctx.session.on_connection && !crate::scripting::on_script_thread() && queue.cmds.iter().any(|c| needs_script_thread(c)) {
        ctx.session.tx.queue = Some(queue);
        ctx.session.after = After::ScriptExec;
        return;
    }
    if queue.aborted {
        end_transaction(ctx);
        super::reply_error(ctx, &CmdError::other("EXECABORT Transaction discarded because of previous errors."));
        return;
    }
    let specs: Vec<&'static CommandSpec> = queue.cmds.iter().filter_map(|c| c.first().and_then(|n| super::lookup(n)).map(|(_, s)| s)).collect();
    if let Some(msg) = refusal(ctx, &specs) {
        end_transaction(ctx);
        abort(ctx, &msg);
        return;
    }
    let argvs: Vec<Vec<&[u8]>> = queue.cmds.iter().map(|c| c.iter().map(Vec::as_slice).collect()).collect();
    let refs: Vec<&[&[u8]]> = argvs.iter().map(Vec::as_slice).collect();
    let watched = ctx.session.tx.watched.keys();
    let mut plan = atomic::plan_union(&refs, ctx.db(), ctx.srv.keyspace.databases());
    if let scope::Plan::Pairs(p) = &mut plan {
        p.extend(watched.iter().map(|(db, k)| (*db, &k[..])));
    }
    atomic::run_scoped(ctx, plan, |ctx| {
        if watch::changed(ctx, &watched) {
            ctx.out.null_array();
            return;
        }
        // Our own writes below must not count against us.
        watch::unwatch_all(ctx);
        ctx.out.array(refs.len());
        for argv in &refs {
            super::dispatch(ctx, argv, stats, clock);
            after_queued_command(ctx);
        }
    });
    end_transaction(ctx);
}

/// EXEC of a transaction holding scripts, on the script thread (the connection lent its
/// session: see `scripting::run_exec`).
pub fn exec_on_script_thread(ctx: &mut Ctx<'_>, stats: &ThreadStats) {
    exec(ctx, stats, &mut Instant::now());
}

/// Leaves MULTI without running the queue (the script thread is not available).
pub fn discard_queue(session: &mut crate::server::session::Session) {
    session.tx.queue = None;
    session.info.multi.store(-1, Relaxed);
    session.info.multi_mem.store(0, Relaxed);
}

/// Queued commands that only the script thread can run: EVAL and friends, SCRIPT LOAD.
fn needs_script_thread(argv: &[Vec<u8>]) -> bool {
    let Some(name) = argv.first() else { return false };
    crate::scripting::batch::is_script_call(name) || (args::is(name, "script") && argv.get(1).is_some_and(|s| args::is(s, "load")))
}

/// What a queued command asked the connection to do next, done the way Redis does it
/// inside EXEC: WAIT answers with the replicas that acknowledged so far, DEBUG SLEEP
/// sleeps right there (holding the transaction's partitions, as Redis blocks the whole
/// server), QUIT/CLIENT KILL of itself close after EXEC's reply.
fn after_queued_command(ctx: &mut Ctx<'_>) {
    match std::mem::take(&mut ctx.session.after) {
        After::Continue => {}
        After::Close => ctx.session.after = After::Close,
        After::Sleep(d) => std::thread::sleep(d),
        After::WaitReplicas { offset, .. } => {
            let n = crate::replication::primary::acked_by(ctx.srv, offset);
            ctx.out.int(n as i64);
        }
        After::Block => {
            // Blocking commands answer their timeout inside an atomic run; never wait here.
            ctx.session.block = None;
        }
        // EXEC brought its scripts to the script thread, where this runs.
        After::Script(req) => crate::scripting::run_in_exec(ctx, &req),
        // PSYNC/SYNC are NO_MULTI: never queued; EXEC is not queued either.
        After::Replica(_) | After::ScriptExec => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transaction_commands_and_quit_reset_run_at_once() {
        let names: Vec<&str> = super::super::table::all().iter().filter(|s| runs_now(s)).map(|s| s.name).collect();
        for n in ["exec", "discard", "multi", "watch", "quit", "reset"] {
            assert!(names.contains(&n), "{n}");
        }
        assert_eq!(names.len(), 6);
    }

    #[test]
    fn no_multi_commands_are_the_ones_redis_flags() {
        let mut names: Vec<&str> = super::super::table::all().iter().filter(|s| s.has(flag::NO_MULTI)).map(|s| s.name).collect();
        names.sort_unstable();
        assert_eq!(names, ["psync", "save", "shutdown", "sync"]);
    }
}
