//! Short scripts run on the worker that received them: a hand-off to the script thread
//! (queue, wake-up, reply back through the worker's driver) costs more than a short
//! script itself. Each worker has its own Lua engine, made on first use; the script
//! cache is shared (cache.rs).
//!
//! A worker running Lua serves none of its other connections, so it only runs what
//! cannot keep them waiting long: a script whose every run so far ended within
//! `BUDGET` (never a first run, never a script over it a few times), once no other
//! runner holds the gate (a worker waits asynchronously for it rather than hand an
//! eligible script over), never inside MULTI (EXEC with scripts goes to the script
//! thread). If an inline run passes the budget before it has written anything, it is
//! stopped and run again from the start on the script thread (it changed nothing, so
//! the new run is a fresh atomic run) and the script gets a strike (cache.rs: a few
//! and it stays on the script thread): clients on this worker then get BUSY and SCRIPT
//! KILL like everyone else. A run that has written finishes where it is.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use super::cache::Record;
use super::engine::{Engine, EvalRequest, Outcome, Source};
use super::gate::Runner;
use crate::server::state::Server;

/// How long an inline run may go before it moves to the script thread, and how long a
/// script's run may take for it to stay eligible to run inline.
pub const BUDGET: Duration = Duration::from_millis(2);

/// Lua instructions between two checks of the budget and of SCRIPT KILL in an inline
/// engine (at least ~50 µs of a tight loop: a clock read that often costs nothing
/// measurable, and keeps a move within a fraction of the budget).
pub const HOOK_EVERY: u32 = 10_000;

/// Where a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Inline,
    ScriptThread,
}

/// The decision, from the script's `record` (None: not in the cache). (Another runner
/// holding the gate makes the worker wait, not hand the script over: `Stop::Wait`.)
pub fn route(source: &Source, record: Option<Record>) -> Route {
    let proven = record == Some(Record::Fast);
    if matches!(source, Source::Load(_)) || !proven { Route::ScriptThread } else { Route::Inline }
}

/// An inline run's clock: the hook and the first write check it.
#[derive(Debug, Default)]
pub struct Budget {
    deadline: Cell<Option<Instant>>,
    moving: Cell<bool>,
}

impl Budget {
    /// A new run: `until` for an inline one, None on the script thread (no limit).
    pub fn start(&self, until: Option<Instant>) {
        self.deadline.set(until);
        self.moving.set(false);
    }

    /// The run wrote: from now on it finishes where it is.
    pub fn wrote(&self) {
        self.deadline.set(None);
    }

    /// Whether the run must stop and move (once true, true until the run ends, so a
    /// script catching the error with pcall is stopped again at the next check).
    pub fn over(&self) -> bool {
        if self.moving.get() {
            return true;
        }
        match self.deadline.get() {
            Some(d) if Instant::now() >= d => {
                self.moving.set(true);
                true
            }
            _ => false,
        }
    }

    /// The run was stopped to move to the script thread.
    pub fn moving(&self) -> bool {
        self.moving.get()
    }
}

/// The message of the error that stops a run that moves (never seen by a client).
pub const MOVING: &str = "ERR the script moves to the script thread";

enum Slot {
    Untried,
    Ready(Box<Engine>),
    /// The VM could not be made here: this worker hands every script over.
    Failed,
}

thread_local! {
    static INLINE: RefCell<Slot> = const { RefCell::new(Slot::Untried) };
}

/// Why `run` stopped before the end of the scripts it was given.
pub enum Stop {
    /// All of them ran.
    Done,
    /// The next one was stopped past its budget before it changed anything: it and
    /// those after it go to the script thread (the outcome has no reply; its waits
    /// cover what the run journaled, such as expired keys it deleted).
    Moved(Outcome),
    /// The next one may not run here: it and those after it go to the script thread.
    Elsewhere,
    /// Another runner holds the gate: wait until it opens, then offer the rest again.
    /// (Handing an eligible script to the script thread instead would keep that thread
    /// busy, and every worker finding it busy would hand it more: under load, scripts
    /// would never come back to the workers.)
    Wait,
}

/// Runs `reqs` in order on this worker (slot `worker` of the gate) while they may run
/// inline (see the module doc), all under one closing of the gate; their outcomes are
/// appended to `done`.
pub fn run(srv: &Server, worker: usize, reqs: &[EvalRequest], done: &mut Vec<Outcome>) -> Stop {
    let gate = &srv.scripting.gate;
    let Some(first) = reqs.first() else { return Stop::Done };
    if matches!(first.source, Source::Load(_)) {
        return Stop::Elsewhere;
    }
    INLINE.with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else { return Stop::Elsewhere };
        if let Slot::Untried = *slot {
            *slot = match srv.arc().map(Engine::new_inline) {
                Some(Ok(e)) => Slot::Ready(Box::new(e)),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cannot create a Lua VM on this worker; its scripts go to the script thread");
                    Slot::Failed
                }
                None => Slot::Failed,
            };
        }
        let Slot::Ready(engine) = &mut *slot else { return Stop::Elsewhere };
        if route(&first.source, engine.record(&first.source)) == Route::ScriptThread {
            return Stop::Elsewhere;
        }
        if gate.is_closed() || !gate.try_claim(Runner::Worker) {
            return Stop::Wait;
        }
        gate.close_for(worker);
        let _held = Held(gate);
        for (i, req) in reqs.iter().enumerate() {
            // The claim is ours: only the script's own record can send it elsewhere.
            if i > 0 && route(&req.source, engine.record(&req.source)) == Route::ScriptThread {
                return Stop::Elsewhere;
            }
            let (outcome, moved) = engine.eval_inline(req, BUDGET);
            if moved {
                return Stop::Moved(outcome);
            }
            done.push(outcome);
        }
        Stop::Done
    })
}

/// The gate closed and the claim held by an inline run: opened and released however
/// the run ends (a panic must not leave every worker waiting).
struct Held<'a>(&'a super::gate::Gate);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.open();
        self.0.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_proven_fast_scripts_run_inline() {
        let sha = Source::Sha("a".repeat(40));
        let body = Source::Body(b"return 1".to_vec());
        let load = Source::Load(b"return 1".to_vec());
        assert_eq!(route(&sha, Some(Record::Fast)), Route::Inline);
        assert_eq!(route(&body, Some(Record::Fast)), Route::Inline);
        // First runs, slow scripts, unknown ones, loads: the script thread.
        assert_eq!(route(&sha, Some(Record::Unproven)), Route::ScriptThread);
        assert_eq!(route(&sha, Some(Record::Slow)), Route::ScriptThread);
        assert_eq!(route(&sha, None), Route::ScriptThread);
        assert_eq!(route(&load, Some(Record::Fast)), Route::ScriptThread);
    }

    #[test]
    fn a_budget_moves_a_run_once_past_its_deadline_until_it_writes() {
        let b = Budget::default();
        b.start(None);
        assert!(!b.over());
        b.start(Some(Instant::now() + Duration::from_secs(60)));
        assert!(!b.over());
        b.start(Some(Instant::now()));
        assert!(b.over() && b.moving());
        // Stays stopped until the next run.
        assert!(b.over());
        b.start(Some(Instant::now()));
        b.wrote();
        assert!(!b.over() && !b.moving());
    }
}
