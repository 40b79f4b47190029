//! Lua scripting (EVAL and friends). Scripts run on one dedicated thread that owns the
//! Lua VM, never on a worker: a worker validates EVAL, hands the script over
//! (`After::Script`) and awaits its reply while serving its other connections. The
//! thread runs each batch of scripts behind the gate (gate.rs), so a script sees no
//! other command run while it does, and SCRIPT KILL / BUSY work while it loops.

pub mod batch;
pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod engine;
pub mod gate;
pub mod lib_args;
pub mod lua_struct;
pub mod msgpack;
pub mod oom;
pub mod shebang;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

pub use engine::{EvalRequest, Outcome, Source};

use crate::server::state::{Server, now_ms};

pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Work for the script thread.
pub enum Job {
    /// One connection's consecutive scripts, run in order; one outcome each.
    Evals(Vec<EvalRequest>, oneshot::Sender<Vec<Outcome>>),
    Flush,
}

#[derive(Debug)]
pub struct Scripting {
    pub gate: gate::Gate,
    /// SCRIPT KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// The running script has written (it can no longer be killed).
    pub wrote: AtomicBool,
    /// SHA1s in the cache, for SCRIPT EXISTS and EVALSHA's early NOSCRIPT.
    pub known: Mutex<HashSet<String>>,
    pub lua_memory: AtomicU64,
    jobs: OnceLock<Mutex<mpsc::Sender<Job>>>,
}

impl Scripting {
    pub fn new(workers: usize) -> Self {
        Scripting {
            gate: gate::Gate::new(workers),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            known: Mutex::new(HashSet::new()),
            lua_memory: AtomicU64::new(0),
            jobs: OnceLock::new(),
        }
    }

    pub fn cached_scripts(&self) -> usize {
        self.known.lock().len()
    }

    /// Hands a job to the script thread, starting it on first use.
    pub fn send(&self, srv: &Server, job: Job) -> bool {
        let tx = self.jobs.get_or_init(|| Mutex::new(start(srv)));
        tx.lock().send(job).is_ok()
    }
}

/// Jobs run behind one closing of the gate (bounds how long workers wait).
const JOBS_PER_GATE: usize = 256;

/// Room for converting deeply nested replies and for Lua's own C calls.
const SCRIPT_STACK: usize = 16 * 1024 * 1024;

fn start(srv: &Server) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    if let Some(srv) = srv.arc() {
        let spawned = std::thread::Builder::new().name("scripts".into()).stack_size(SCRIPT_STACK).spawn(move || script_thread(srv, rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the script thread");
        }
    }
    tx
}

fn script_thread(srv: Arc<Server>, rx: mpsc::Receiver<Job>) {
    let mut engine = match engine::Engine::new(srv.clone()) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the Lua VM");
            return;
        }
    };
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < JOBS_PER_GATE
            && let Ok(j) = rx.try_recv()
        {
            batch.push(j);
        }
        let gated = batch.iter().any(|j| matches!(j, Job::Evals(rs, _) if rs.iter().any(|r| !matches!(r.source, Source::Load(_)))));
        if gated {
            srv.scripting.gate.close();
        }
        for job in batch {
            match job {
                Job::Evals(reqs, reply) => {
                    let _ = reply.send(reqs.into_iter().map(|r| engine.eval(r)).collect());
                }
                Job::Flush => engine.flush(),
            }
        }
        if gated {
            srv.scripting.gate.open();
        }
        srv.scripting.lua_memory.store(engine.used_memory() as u64, Relaxed);
    }
}

/// Runs scripts in order and waits for their outcomes (None: the script thread is gone).
pub async fn run_evals(srv: &Server, reqs: Vec<EvalRequest>) -> Option<Vec<Outcome>> {
    let (tx, rx) = oneshot::channel();
    if !srv.scripting.send(srv, Job::Evals(reqs, tx)) {
        return None;
    }
    rx.await.ok()
}

/// What a worker does with a command that found the gate closed.
pub enum Admit {
    /// Run it (the worker is inside the gate).
    Run,
    /// Reply BUSY instead.
    Busy,
}

/// Waits for the gate to open; once the running script has passed
/// `busy-reply-threshold`, commands allowed while busy run at once and others get BUSY.
pub async fn admit(srv: &Server, worker: usize, argv: &[&[u8]]) -> Admit {
    let gate = &srv.scripting.gate;
    let allowed = allowed_while_busy(argv);
    loop {
        if gate.enter(worker) {
            return Admit::Run;
        }
        let started = gate.script_started_ms.load(std::sync::atomic::Ordering::SeqCst);
        if started > 0 {
            let threshold = srv.config.read().int("busy-reply-threshold").max(0);
            if now_ms() - started >= threshold {
                if allowed {
                    gate.enter_anyway(worker);
                    return Admit::Run;
                }
                return Admit::Busy;
            }
        }
        gate.wait_open(Duration::from_millis(5)).await;
    }
}

/// Waits until the gate lets this worker in (no BUSY: for a blocked command's retry).
pub async fn enter(srv: &Server, worker: usize) {
    while !srv.scripting.gate.enter(worker) {
        srv.scripting.gate.wait_open(Duration::from_millis(5)).await;
    }
}

fn allowed_while_busy(argv: &[&[u8]]) -> bool {
    let Some((_, spec)) = argv.first().and_then(|n| crate::commands::lookup(n)) else { return false };
    if spec.name == "script" {
        return argv.get(1).is_some_and(|s| crate::commands::args::is(s, "kill"));
    }
    spec.has(crate::commands::flag::ALLOW_BUSY)
}
