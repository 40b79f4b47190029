//! Commands: one file per family, one table carrying each command's metadata, and the
//! dispatcher that runs the generic checks (existence, arity, authentication) before a
//! handler and records per-command statistics after it.

pub mod args;
pub mod atomic;
pub mod bitmaps;
pub mod blocking;
pub mod client;
pub mod command;
pub mod connection;
pub mod db;
pub mod dump;
pub mod error;
pub mod expire;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod keys;
mod keyspace_events;
pub mod lists;
pub mod memory;
pub mod monitor;
pub mod multi;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scan_args;
pub mod scope;
pub mod scripting;
pub mod server_cmds;
pub mod sets;
pub mod spec;
pub mod strings;
pub mod table;
pub mod watch;
pub mod zsets;

use std::cell::Cell;
use std::time::Instant;

pub use error::{CmdError, CmdResult};
pub use spec::{CommandSpec, acl, flag};

use crate::protocol::Reply;
use crate::server::session::{After, Session};
use crate::server::state::Server;
use crate::server::stats::{ThreadStats, bump};

/// Everything a handler may use: the server, the calling connection's session, the
/// reply buffer and the time the command started.
pub struct Ctx<'a> {
    pub srv: &'a Server,
    pub session: &'a mut Session,
    pub out: &'a mut Reply,
    pub now_ms: i64,
    /// Changes the running command made (its `dirty` calls).
    dirtied: Cell<u64>,
    /// What the journal records for the running command.
    effects: Effects,
    /// Set while EXEC or a script runs its commands (commands/atomic.rs).
    pub atomic: Option<atomic::Atomic>,
}

/// What the journal (AOF, replicas) records for a command that changed data.
#[derive(Debug, Default)]
enum Effects {
    /// The command as the client sent it: replaying it gives the same result.
    #[default]
    Verbatim,
    /// Commands that give the same result on replay where the original would not
    /// (relative TTLs, random picks, blocking forms...). Empty: record nothing.
    Rewritten(Vec<Vec<Vec<u8>>>),
}

impl<'a> Ctx<'a> {
    pub fn new(srv: &'a Server, session: &'a mut Session, out: &'a mut Reply, now_ms: i64) -> Self {
        Ctx { srv, session, out, now_ms, dirtied: Cell::new(0), effects: Effects::Verbatim, atomic: None }
    }

    /// The database the client has selected.
    pub fn db(&self) -> usize {
        self.session.db
    }

    /// Counts a write for `rdb_changes_since_last_save`; a command that counts none is
    /// not journaled.
    pub fn dirty(&self, n: u64) {
        if n > 0 {
            self.srv.dirty.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            self.dirtied.set(self.dirtied.get() + n);
        }
    }

    /// Journals `args` for this command instead of the command as sent (may be called
    /// several times: each call adds one command).
    pub fn propagate(&mut self, args: &[&[u8]]) {
        let cmd = args.iter().map(|a| a.to_vec()).collect();
        match &mut self.effects {
            Effects::Rewritten(v) => v.push(cmd),
            e => *e = Effects::Rewritten(vec![cmd]),
        }
    }

    /// Inside EXEC or a script: blocking commands answer at once.
    pub fn in_atomic(&self) -> bool {
        self.atomic.is_some()
    }

    /// Journals nothing for this command even though it counted changes.
    pub fn propagate_none(&mut self) {
        if let Effects::Verbatim = self.effects {
            self.effects = Effects::Rewritten(Vec::new());
        }
    }
}

const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The bytes of `a` up to its first NUL: Redis formats these errors from C strings.
fn c_str(a: &[u8]) -> &[u8] {
    a.iter().position(|&b| b == 0).map_or(a, |nul| &a[..nul])
}

/// Formats the argument preview of Redis's unknown-command error: arguments are quoted
/// one after another until the preview reaches 128 bytes, the last one cut to fit.
fn args_preview(args: &[&[u8]]) -> String {
    let mut s = Vec::new();
    for a in args {
        if s.len() >= 128 {
            break;
        }
        let a = c_str(a);
        let room = 128 - s.len();
        s.push(b'\'');
        s.extend_from_slice(&a[..a.len().min(room)]);
        s.extend_from_slice(b"' ");
    }
    String::from_utf8_lossy(&s).into_owned()
}

/// Looks a command up by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    table::lookup(name)
}

/// Runs one command and writes its reply (or error) to `ctx.out`. `clock` is when the
/// previous command of the batch finished (or the batch started); it is advanced to
/// this command's end, so timing a pipelined batch costs one clock read per command.
pub fn dispatch(ctx: &mut Ctx<'_>, argv: &[&[u8]], stats: &ThreadStats, clock: &mut Instant) {
    let Some(name) = argv.first() else { return };
    let Some((idx, spec)) = lookup(name) else {
        let name = c_str(name);
        let err = CmdError::UnknownCommand { name: String::from_utf8_lossy(&name[..name.len().min(128)]).into_owned(), args: args_preview(&argv[1..]) };
        reject(ctx, name, &err);
        return;
    };
    dispatch_found(ctx, argv, idx, spec, stats, clock);
}

/// `dispatch` of a command already looked up (`lookup(argv[0])`): a script's call has
/// looked it up for its own checks.
pub fn dispatch_found(ctx: &mut Ctx<'_>, argv: &[&[u8]], idx: usize, spec: &'static CommandSpec, stats: &ThreadStats, clock: &mut Instant) {
    let cs = &stats.per_command[idx];
    if !spec.arity_ok(argv.len()) {
        bump(&cs.rejected, 1);
        reject(ctx, spec.name.as_bytes(), &CmdError::WrongArity(spec.name.to_string()));
        return;
    }
    if !ctx.session.authenticated && !spec.has(flag::NO_AUTH) {
        bump(&cs.rejected, 1);
        reject(ctx, spec.name.as_bytes(), &CmdError::NoAuth);
        return;
    }
    // RESP2 subscribers may only manage subscriptions (RESP3 ones may mix commands).
    if ctx.session.pubsub.is_some() && !ctx.out.is_resp3() && !pubsub::allowed(ctx, spec) {
        bump(&cs.rejected, 1);
        reply_error(
            ctx,
            &CmdError::other(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )),
        );
        return;
    }
    if ctx.srv.replication.replica_mode.load(std::sync::atomic::Ordering::Relaxed)
        && !ctx.session.is_master
        && let Some(msg) = crate::replication::replica::masterdown(ctx.srv, spec)
    {
        bump(&cs.rejected, 1);
        reject(ctx, spec.name.as_bytes(), &CmdError::other(msg));
        return;
    }
    // Evicts to make room first; the primary's stream is exempt (replicas do not evict).
    // Inside EXEC the check was made for the whole queue before its partitions were
    // taken (eviction locks partitions of its own).
    // Inside a script, the state before it decides (see `Atomic::oom_before`).
    let oom = |ctx: &Ctx| match &ctx.atomic {
        Some(a) if a.scoped => false,
        Some(a) => a.oom_before,
        None => crate::memory::evict::refuse(ctx.srv, ctx.now_ms),
    };
    if spec.has(flag::DENYOOM) && !ctx.session.is_master && oom(ctx) {
        bump(&cs.rejected, 1);
        reject(ctx, spec.name.as_bytes(), &CmdError::other(crate::memory::evict::OOM));
        return;
    }
    // The primary's stream is applied whatever this node thinks of its own disk.
    if spec.has(flag::WRITE)
        && !ctx.session.is_master
        && let Some(msg) = write_refusal(ctx.srv, ctx.session.is_master)
    {
        bump(&cs.rejected, 1);
        reject(ctx, spec.name.as_bytes(), &CmdError::other(msg));
        return;
    }
    // The commands EXEC or a script runs leave EXEC / EVAL as the client's command.
    if ctx.atomic.is_none() {
        ctx.session.info.last_cmd.store(idx, std::sync::atomic::Ordering::Relaxed);
    }
    // Inside MULTI the command is queued (or, for EXEC, the queue runs).
    if ctx.session.tx.queue.is_some() && multi::intercept(ctx, idx, spec, argv, stats, clock) {
        return;
    }
    let result = if spec.has(flag::WRITE) { run_write(ctx, spec, argv) } else { (spec.handler)(ctx, argv) };
    let end = Instant::now();
    let nanos = end.saturating_duration_since(*clock).as_nanos() as u64;
    *clock = end;
    bump(&cs.calls, 1);
    bump(&cs.nanos, nanos);
    bump(&stats.commands, 1);
    let micros = nanos / 1000;
    bump(&cs.hist[crate::server::latency::bucket(micros)], 1);
    if ctx.srv.slowlog.is_slow(micros) {
        monitor::slow(ctx, spec, argv, micros);
    }
    let event = if spec.has(flag::FAST) { "fast-command" } else { "command" };
    ctx.srv.latency.observe(event, nanos / 1_000_000, ctx.now_ms / 1000);
    match result {
        Err(e) => {
            bump(&cs.failed, 1);
            reply_error(ctx, &e);
        }
        // A write may have given blocked clients what they wait for. A command that
        // has just blocked wrote nothing, and signalling would wake itself.
        Ok(()) if spec.has(flag::WRITE) && ctx.srv.blocking.registrations() > 0 && ctx.session.after != After::Block => {
            for i in spec.key_positions(argv) {
                ctx.srv.blocking.signal(ctx.db(), argv[i]);
            }
        }
        Ok(()) => {}
    }
}

/// Why a write is refused right now (read-only replica, failing disk), if it is.
fn write_refusal(srv: &Server, is_master: bool) -> Option<String> {
    let p = &srv.persistence;
    if let Some(msg) = srv.replication.refuse_write(is_master) {
        Some(msg.to_string())
    } else if p.writes_refused.load(std::sync::atomic::Ordering::Relaxed) {
        Some(MISCONF.to_string())
    } else if p.aof_failing.load(std::sync::atomic::Ordering::Relaxed) {
        Some(format!("MISCONF Errors writing to the AOF file: {}", p.aof_error.lock()))
    } else {
        None
    }
}

/// Runs a write command holding every partition it names until its effect is journaled
/// (see commands/scope.rs and server/journal.rs).
fn run_write(ctx: &mut Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]]) -> CmdResult {
    let srv = ctx.srv;
    let ks = &srv.keyspace;
    // Inside EXEC the run already holds every partition its commands touch.
    let plan = scope::plan(spec, argv, ctx.db(), ks.databases());
    let mut held = match &ctx.atomic {
        Some(run) if run.scoped => None,
        _ => Some(match &plan {
            scope::Plan::Pairs(pairs) => ks.scope(pairs.iter().copied()),
            scope::Plan::Db(db) => ks.scope_db(*db),
            scope::Plan::All => ks.scope_all(),
        }),
    };
    // WATCH: which watched keys a database-wide write is about to change.
    let watched_before = match plan {
        scope::Plan::Pairs(_) => Vec::new(),
        _ => watch::before_db_write(srv, spec, argv, ctx.db()),
    };
    ctx.dirtied.set(0);
    ctx.effects = Effects::Verbatim;
    // Keyspace notifications: one relaxed load when they are off.
    let notify = srv.pubsub.notify_flags.load(std::sync::atomic::Ordering::Relaxed) != 0;
    let existed = if notify { keyspace_events::before(ctx, spec, argv) } else { Vec::new() };
    let result = (spec.handler)(ctx, argv);
    // Deletions of expired keys the command ran into come first in the journal.
    match held.as_mut() {
        Some(h) => h.locked().flush_expired(),
        None => ks.flush_expired_in_scope(),
    }
    if notify && result.is_ok() && ctx.dirtied.get() > 0 {
        keyspace_events::after(ctx, spec, argv, &existed);
    }
    // Still holding the partitions: see commands/watch.rs.
    if !ks.watches.is_idle() && (ctx.dirtied.get() > 0 || (result.is_ok() && !watched_before.is_empty())) {
        watch::touch_written(srv, spec, &plan, watched_before);
    }
    if ctx.dirtied.get() > 0 && srv.journal.is_active() {
        let db = ctx.db();
        let effects = std::mem::take(&mut ctx.effects);
        if let Some(run) = ctx.atomic.as_mut() {
            // An atomic run journals all its writes as one block when it ends.
            match effects {
                Effects::Verbatim => run.pending.push((db, argv.iter().map(|a| a.to_vec()).collect())),
                Effects::Rewritten(cmds) => run.pending.extend(cmds.into_iter().map(|c| (db, c))),
            }
        } else {
            let at = match effects {
                Effects::Verbatim => srv.journal.append(db, [argv]),
                Effects::Rewritten(cmds) if cmds.is_empty() => Default::default(),
                Effects::Rewritten(cmds) => {
                    let refs: Vec<Vec<&[u8]>> = cmds.iter().map(|c| c.iter().map(Vec::as_slice).collect()).collect();
                    srv.journal.append(db, refs.iter().map(Vec::as_slice))
                }
            };
            ctx.session.durable_wait = ctx.session.durable_wait.max(at.aof);
            ctx.session.repl_offset = ctx.session.repl_offset.max(at.repl);
        }
    }
    drop(held);
    result
}

/// A command refused by the generic checks: inside MULTI this also dooms the EXEC (and
/// a refused EXEC ends the transaction).
fn reject(ctx: &mut Ctx<'_>, name: &[u8], e: &CmdError) {
    if ctx.session.tx.queue.is_some() {
        multi::reject(ctx, name, e);
    } else {
        reply_error(ctx, e);
    }
}

fn reply_error(ctx: &mut Ctx<'_>, e: &CmdError) {
    ctx.srv.stats.record_error(&e.code());
    ctx.out.error(&e.to_string());
}

#[cfg(test)]
mod tests {
    use super::args_preview;

    #[test]
    fn unknown_command_preview_is_cut_like_redis() {
        let many: Vec<&[u8]> = vec![b"a"; 26];
        assert_eq!(args_preview(&many).len(), 26 * 4);
        let a120 = [b'a'; 120];
        let preview = args_preview(&[&a120, b"bbbbbbbbbbbbbbbbbbbb", b"c"]);
        assert_eq!(preview, format!("'{}' 'bbbbb' ", "a".repeat(120)));
        assert_eq!(args_preview(&[b"x\0y", b"z"]), "'x' 'z' ");
        assert_eq!(args_preview(&[]), "");
    }
}
