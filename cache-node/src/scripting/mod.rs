//! Lua scripting (EVAL and friends). A worker validates EVAL (`After::Script`); a
//! short script with a history of ending quickly then runs right there, on the
//! worker's own VM (inline.rs); every other one goes to one dedicated thread with its
//! own VM, which the worker awaits while serving its other connections. Either runner
//! holds the gate (gate.rs) while a script runs, so a script sees no other command run
//! while it does, and SCRIPT KILL / BUSY work while it loops.

pub mod batch;
pub mod bit;
pub mod cache;
pub mod call;
pub mod cjson;
pub mod cjson_decode;
pub mod cmsgpack;
pub mod convert;
pub mod engine;
pub mod gate;
pub mod inline;
pub mod lib_args;
pub mod lua_struct;
pub mod msgpack;
pub mod oom;
pub mod shebang;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

pub use engine::{EvalRequest, Outcome, Source};

use crate::commands::Ctx;
use crate::protocol::{Reply, RespVersion};
use crate::server::session::Session;
use crate::server::state::{Server, now_ms};
use crate::server::stats::ThreadStats;

pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// Work for the script thread.
pub enum Job {
    /// One connection's consecutive scripts, run in order; one outcome each.
    Evals(Vec<EvalRequest>, oneshot::Sender<Vec<Outcome>>),
    /// EXEC of a transaction that holds scripts (commands/multi.rs).
    Exec(Box<ExecJob>),
    Flush,
}

/// A transaction run on the script thread: the connection lends its session (database,
/// watched keys, the queue) and gets it back with EXEC's reply.
pub struct ExecJob {
    pub session: Session,
    pub resp: RespVersion,
    pub done: oneshot::Sender<ExecDone>,
}

pub struct ExecDone {
    pub session: Session,
    pub reply: Vec<u8>,
    /// The protocol after the transaction (a queued HELLO may change it).
    pub resp: RespVersion,
}

thread_local! {
    /// The script thread's VM (None on every other thread).
    static ENGINE: RefCell<Option<engine::Engine>> = const { RefCell::new(None) };
    static SCRIPT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether this is the script thread (where EXEC can run scripts).
pub fn on_script_thread() -> bool {
    SCRIPT_THREAD.get()
}

#[derive(Debug)]
pub struct Scripting {
    pub gate: gate::Gate,
    /// SCRIPT KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// The running script has written (it can no longer be killed).
    pub wrote: AtomicBool,
    /// Every loaded script (SCRIPT EXISTS, and what each engine compiles from).
    pub cache: cache::Cache,
    /// Each engine's counters (INFO sums them).
    engines: Mutex<Vec<Arc<EngineCounters>>>,
    jobs: OnceLock<Mutex<mpsc::Sender<Job>>>,
}

/// One engine's figures, written by its thread only (on a line of its own).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct EngineCounters {
    pub memory: AtomicU64,
    /// Scripts a worker ran inline, and inline runs stopped and moved to the script thread.
    pub inline_runs: AtomicU64,
    pub moved: AtomicU64,
}

impl Scripting {
    pub fn new(workers: usize) -> Self {
        Scripting {
            gate: gate::Gate::new(workers),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            cache: cache::Cache::default(),
            engines: Mutex::new(Vec::new()),
            jobs: OnceLock::new(),
        }
    }

    pub fn cached_scripts(&self) -> usize {
        self.cache.len()
    }

    /// Counters for a new engine.
    pub fn register_engine(&self) -> Arc<EngineCounters> {
        let c = Arc::new(EngineCounters::default());
        self.engines.lock().push(c.clone());
        c
    }

    /// Memory of every Lua VM (INFO used_memory_lua).
    pub fn lua_memory(&self) -> u64 {
        self.engines.lock().iter().map(|c| c.memory.load(Relaxed)).sum()
    }

    /// (scripts run inline on workers, inline runs moved to the script thread).
    pub fn inline_counts(&self) -> (u64, u64) {
        self.engines.lock().iter().fold((0, 0), |(r, m), c| (r + c.inline_runs.load(Relaxed), m + c.moved.load(Relaxed)))
    }

    /// Hands a job to the script thread, starting it on first use.
    pub fn send(&self, srv: &Server, job: Job) -> bool {
        self.try_send(srv, job).is_ok()
    }

    /// `send` that gives the job back when the script thread is gone.
    fn try_send(&self, srv: &Server, job: Job) -> Result<(), Job> {
        let tx = self.jobs.get_or_init(|| Mutex::new(start(srv)));
        tx.lock().send(job).map_err(|e| e.0)
    }
}

/// Jobs run behind one closing of the gate (bounds how long workers wait).
const JOBS_PER_GATE: usize = 256;

/// Room for converting deeply nested replies and for Lua's own C calls.
pub const SCRIPT_STACK: usize = 16 * 1024 * 1024;

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
    // The commands scripts run count in INFO commandstats like everyone's.
    let stats = srv.stats.register_other(crate::commands::table::all().len());
    match engine::Engine::new(srv.clone(), stats.clone()) {
        Ok(e) => ENGINE.set(Some(e)),
        Err(e) => {
            tracing::error!(error = %e, "cannot create the Lua VM");
            return;
        }
    }
    SCRIPT_THREAD.set(true);
    let mut batch = Vec::with_capacity(JOBS_PER_GATE);
    while let Some(first) = next_job(&rx) {
        batch.push(first);
        while batch.len() < JOBS_PER_GATE
            && let Ok(j) = rx.try_recv()
        {
            batch.push(j);
        }
        let gated = batch.iter().any(|j| match j {
            Job::Evals(rs, _) => rs.iter().any(|r| !matches!(r.source, Source::Load(_))),
            Job::Exec(_) => true,
            Job::Flush => false,
        });
        if gated {
            // A worker's inline run may hold the gate: wait for its end.
            srv.scripting.gate.claim();
            srv.scripting.gate.close();
        }
        // The last batch's replies go once the gate is open, so the worker that gets them
        // finds it open for its next script (which may then run inline).
        let mut last = None;
        let jobs = batch.len();
        for (i, job) in batch.drain(..).enumerate() {
            match job {
                Job::Evals(reqs, reply) => {
                    let outcomes = ENGINE.with_borrow_mut(|e| match e {
                        Some(e) => reqs.into_iter().map(|r| e.eval(r)).collect(),
                        None => Vec::new(),
                    });
                    if i + 1 == jobs {
                        last = Some((reply, outcomes));
                    } else {
                        let _ = reply.send(outcomes);
                    }
                }
                Job::Exec(job) => exec(&srv, &stats, *job),
                Job::Flush => ENGINE.with_borrow_mut(|e| e.as_mut().map(engine::Engine::flush)).unwrap_or_default(),
            }
        }
        if gated {
            srv.scripting.gate.open();
            srv.scripting.gate.release();
        }
        if let Some((reply, outcomes)) = last {
            let _ = reply.send(outcomes);
        }
        ENGINE.with_borrow(|e| e.as_ref().map(engine::Engine::publish_memory));
    }
}

/// The next job: those already queued first, then sleep until one comes. (Polling
/// before sleeping was measured: on two cores shared with the workers and the clients
/// it took the CPU the workers needed and cut EVALSHA at pipeline 1 by half.)
fn next_job(rx: &mpsc::Receiver<Job>) -> Option<Job> {
    match rx.try_recv() {
        Ok(j) => Some(j),
        Err(mpsc::TryRecvError::Disconnected) => None,
        Err(mpsc::TryRecvError::Empty) => rx.recv().ok(),
    }
}

/// Runs a transaction holding scripts (behind the closed gate) on the lent session.
fn exec(srv: &Server, stats: &ThreadStats, job: ExecJob) {
    let ExecJob { mut session, resp, done } = job;
    let mut out = Reply::new(resp);
    let mut ctx = Ctx::new(srv, &mut session, &mut out, now_ms());
    crate::commands::multi::exec_on_script_thread(&mut ctx, stats);
    let resp = out.version;
    let _ = done.send(ExecDone { session, reply: out.buf, resp });
}

/// A script queued in a transaction, run by EXEC on the script thread (the reply goes
/// to `ctx.out`, its writes into EXEC's run).
pub fn run_in_exec(ctx: &mut Ctx<'_>, req: &EvalRequest) {
    let ran = ENGINE.with(|e| match e.try_borrow_mut() {
        Ok(mut e) => e.as_mut().map(|e| e.eval_in_exec(ctx, req)).is_some(),
        Err(_) => false,
    });
    if !ran {
        ctx.srv.stats.record_error("ERR");
        ctx.out.error(UNAVAILABLE);
    }
}

const UNAVAILABLE: &str = "ERR the script engine is not available";

/// EXEC of a transaction holding scripts: lends the session to the script thread and
/// returns EXEC's reply bytes.
pub async fn run_exec(srv: &Server, session: &mut Session, out: &mut Reply) -> Vec<u8> {
    let stand_in = Session::new(session.info.clone(), session.authenticated);
    let lent = std::mem::replace(session, stand_in);
    let db = lent.db;
    let (tx, rx) = oneshot::channel();
    let unavailable = || {
        let mut r = Reply::new(out.version);
        r.error(UNAVAILABLE);
        r.buf
    };
    match srv.scripting.try_send(srv, Job::Exec(Box::new(ExecJob { session: lent, resp: out.version, done: tx }))) {
        Ok(()) => {}
        Err(Job::Exec(job)) => {
            *session = job.session;
            crate::commands::multi::discard_queue(session);
            return unavailable();
        }
        Err(_) => return unavailable(),
    }
    match rx.await {
        Ok(done) => {
            *session = done.session;
            out.version = done.resp;
            done.reply
        }
        // The script thread died with the session: carry on with the stand-in.
        Err(_) => {
            session.select(db);
            unavailable()
        }
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
    let mut waited = false;
    loop {
        if gate.enter(worker) {
            return Admit::Run;
        }
        if !std::mem::replace(&mut waited, true) {
            gate.note_waited(1);
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

/// A worker about to run the command `name`: true if it may at once (see `Gate::enter`).
/// EVAL and its kin only check their arguments there (the script runs afterwards, under
/// a runner's own closing of the gate): they need not wait for another script, only
/// answer BUSY once it is past `busy-reply-threshold`. (Waiting there for each other
/// worker's inline run would cost two workers that both run scripts a wake-up per
/// command.)
#[inline]
pub fn enter_command(srv: &Server, worker: usize, name: &[u8]) -> bool {
    srv.scripting.gate.enter(worker) || (batch::is_script_call(name) && !busy(srv))
}

/// A script is running past `busy-reply-threshold` (commands get BUSY).
pub fn busy(srv: &Server) -> bool {
    let started = srv.scripting.gate.script_started_ms.load(std::sync::atomic::Ordering::SeqCst);
    started > 0 && now_ms() - started >= srv.config.read().int("busy-reply-threshold").max(0)
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
