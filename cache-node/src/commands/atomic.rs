//! Runs of commands that everyone else sees as one: EXEC's queue and a script's calls.
//!
//! While a run is open (`Ctx::atomic`), its writes are collected and journaled at its
//! end as one MULTI ... EXEC block (nothing another thread journals can land inside
//! it), so the AOF and replicas apply it as a unit, and a blocking command
//! gives its timeout answer at once instead of blocking (as Redis does inside MULTI and
//! scripts). EXEC also holds the partitions of every queued command for the whole run
//! (`run_scoped`): the commands then take no scope of their own.

use super::scope::{self, Plan};
use super::{Ctx, lookup};

/// State of an open run.
#[derive(Debug, Default)]
pub struct Atomic {
    /// The run holds a scope over everything its commands touch (EXEC).
    pub(super) scoped: bool,
    /// The run's writes, (database, command), journaled together when it ends.
    pub(super) pending: Vec<(usize, Vec<Vec<u8>>)>,
    /// Memory was over `maxmemory` when the run (a script) started, after evicting: its
    /// commands that may grow memory get OOM. Nothing is evicted inside a run, as in
    /// Redis: an eviction's DEL is journaled at once, ahead of the run's own writes, so
    /// evicting a key the run had already written would replay on replicas as the
    /// write after the DEL.
    pub(super) oom_before: bool,
}

impl Atomic {
    /// A script's run, with the memory state before it (`oom_before`).
    pub fn for_script(oom_before: bool) -> Self {
        Atomic { oom_before, ..Atomic::default() }
    }
}

/// The partitions a queue of commands touches: the union of their key positions, or
/// every partition when one of them names no keys (KEYS, DBSIZE, FLUSHALL...) or
/// changes database (SELECT, SWAPDB...), since what it touches is only known when it runs.
pub fn plan_union<'a>(cmds: &[&[&'a [u8]]], db: usize, databases: usize) -> Plan<'a> {
    let mut pairs = scope::Pairs::new();
    for argv in cmds {
        let Some(name) = argv.first() else { continue };
        if runs_anything(name) {
            return Plan::All;
        }
        let Some((_, spec)) = lookup(name) else { continue };
        match scope::plan(spec, argv, db, databases) {
            Plan::Pairs(p) if !p.is_empty() => pairs.extend(p),
            // A command without keys that cannot touch the keyspace (PING, ECHO...).
            Plan::Pairs(_) if spec.has(super::flag::FAST) && !touches_keyspace(spec.name) => {}
            _ => return Plan::All,
        }
    }
    Plan::Pairs(pairs)
}

/// Keyless commands that read or change the keyspace even though they name no key.
fn touches_keyspace(name: &str) -> bool {
    matches!(name, "dbsize" | "randomkey" | "keys" | "scan" | "select" | "swapdb" | "flushdb" | "flushall" | "move" | "copy")
}

/// Commands that run other commands on keys they need not declare (scripts).
fn runs_anything(name: &[u8]) -> bool {
    ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"].iter().any(|n| super::args::is(name, n))
}

/// Runs `f` as one atomic run holding the partitions of `plan` from start to end.
pub fn run_scoped<R>(ctx: &mut Ctx<'_>, plan: Plan<'_>, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    let srv = ctx.srv;
    let ks = &srv.keyspace;
    let mut held = match plan {
        Plan::Pairs(pairs) => ks.scope(pairs),
        Plan::Db(db) => ks.scope_db(db),
        Plan::All => ks.scope_all(),
    };
    let outer = ctx.atomic.replace(Atomic { scoped: true, ..Atomic::default() });
    let r = f(ctx);
    held.locked().flush_expired();
    end(ctx, outer);
    drop(held);
    r
}

/// Ends a run opened as `Atomic::default()`, whose commands lock for themselves, and
/// carried from command to command (a script's, which runs while no other command does:
/// scripting/gate.rs): journals its writes as one block.
pub fn finish(ctx: &mut Ctx<'_>, run: Atomic) {
    ctx.atomic = Some(run);
    end(ctx, None);
}

fn end(ctx: &mut Ctx<'_>, outer: Option<Atomic>) {
    if let Some(run) = std::mem::replace(&mut ctx.atomic, outer)
        && !run.pending.is_empty()
    {
        // Still holding the run's partitions (run_scoped drops them after this).
        let at = ctx.srv.journal.append_run(&run.pending);
        ctx.session.durable_wait = ctx.session.durable_wait.max(at.aof);
        ctx.session.repl_offset = ctx.session.repl_offset.max(at.repl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of<'a>(cmds: &[&[&'a [u8]]]) -> Option<Vec<(usize, &'a [u8])>> {
        match plan_union(cmds, 0, 16) {
            Plan::Pairs(p) => Some(p.into_vec()),
            _ => None,
        }
    }

    #[test]
    fn a_queue_of_keyed_commands_holds_their_keys_only() {
        let p = plan_of(&[&[b"set", b"a", b"1"], &[b"get", b"b"], &[b"ping"], &[b"mset", b"c", b"1", b"d", b"2"]]).unwrap();
        assert_eq!(p, vec![(0, &b"a"[..]), (0, b"b"), (0, b"c"), (0, b"d")]);
    }

    #[test]
    fn a_keyless_command_that_touches_the_keyspace_holds_everything() {
        assert!(plan_of(&[&[b"set", b"a", b"1"], &[b"dbsize"]]).is_none());
        assert!(plan_of(&[&[b"flushall"]]).is_none());
        assert!(plan_of(&[&[b"select", b"1"], &[b"set", b"a", b"1"]]).is_none());
        assert!(plan_of(&[&[b"keys", b"*"]]).is_none());
        assert!(plan_of(&[&[b"set", b"a", b"1"], &[b"eval", b"return 1", b"1", b"a"]]).is_none());
    }
}
