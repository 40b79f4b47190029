//! The Lua VM that runs every script: the script cache, the `redis` library, the
//! sandbox (scripts/prelude.lua), and one script's run with its calls dispatched as
//! ordinary commands on a session of the caller's.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

use std::os::raw::c_int;

use mlua::{Function, HookTriggers, Lua, MultiValue, StdLib, Table, Value, VmState, ffi};

use super::cache::{Record, Script};
use super::call;
use super::convert::lua_to_reply;
use super::inline::{Budget, MOVING};
use super::shebang;
use crate::commands::atomic::Atomic;
use crate::commands::{self, Ctx};
use crate::protocol::{Reply, RespVersion};
use crate::server::clients::ClientInfo;
use crate::server::session::Session;
use crate::server::state::{Server, now_ms};
use crate::server::stats::ThreadStats;

/// Instructions between two checks for SCRIPT KILL on the script thread (a worker's
/// engine checks more often: inline::HOOK_EVERY).
const HOOK_EVERY: u32 = 100_000;
/// Registry slot for the error table a Rust function of the library raises.
pub(super) const PENDING: &str = "script_error";
/// `PENDING` for the C API.
const PENDING_C: &std::ffi::CStr = c"script_error";
/// Scripts between two incremental steps of the Lua collector, and the step's size: a
/// step every run costs more than a short script's garbage is worth, and each step
/// that starts a cycle marks the whole heap (the libraries included), so few large
/// steps cost less than many small ones for the same pace (Redis: 50 KB every 50
/// scripts). Lua's own collector still runs when the heap doubles.
const GC_EVERY: u32 = 500;
const GC_STEP_KB: i32 = 500;
/// The reply of a script whose run panicked in the runtime (a bug, never the script's).
const ENGINE_FAILED: &str = "ERR the script failed in the script engine";
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// A cached script: its slot in the Lua table of compiled functions, its flags, and its
/// entry in the shared cache (text and track record).
struct Cached {
    slot: i64,
    flags: u32,
    script: Arc<Script>,
}

/// What one EVAL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalRequest {
    /// The script's text (EVAL) or its SHA1 (EVALSHA, lower case).
    pub source: Source,
    pub keys: Vec<Vec<u8>>,
    pub args: Vec<Vec<u8>>,
    /// EVAL_RO / EVALSHA_RO.
    pub read_only: bool,
    pub db: usize,
    pub resp: RespVersion,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Body(Vec<u8>),
    Sha(String),
    /// SCRIPT LOAD: compile and cache only; the reply is the SHA1.
    Load(Vec<u8>),
}

/// A script's reply and how far the caller must wait for its writes.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reply: Vec<u8>,
    pub durable_wait: u64,
    pub repl_offset: u64,
}

pub struct Engine {
    lua: Lua,
    /// Calls a script's function under the error handler (prelude.lua) as xpcall
    /// does, after giving it the KEYS and ARGV of `pending` (`start_script`).
    starter: Function,
    /// The request whose script `starter` is running (null outside its call). Boxed:
    /// `starter` holds its address.
    pending: Box<Cell<*const EvalRequest>>,
    env: Table,
    /// The table behind scripts' globals (`starter` puts KEYS and ARGV there).
    #[cfg(test)]
    allowed: Table,
    scripts: HashMap<String, Cached, RandomState>,
    /// The budget of the inline run being made (None on the script thread).
    inline_budget: Option<Duration>,
    /// The compiled functions, by slot. Kept in Lua so the cache costs one reference
    /// however many scripts it holds (mlua has room for about 8000 in all).
    functions: Table,
    srv: Arc<Server>,
    /// What `redis.call` works with (the client that scripts' commands run as...).
    state: call::Shared,
    runs_since_gc: u32,
    /// The inline run's clock (shared with the hook and `redis.call`).
    budget: Rc<Budget>,
    hook: Hook,
    /// The shared cache's generation this engine's copies belong to.
    generation: u64,
    counters: Arc<super::EngineCounters>,
}

/// The VM's hook: stops a run that SCRIPT KILL killed or that must move to the script
/// thread. It runs every `every` instructions; once it has stopped a run, on every line
/// until that run ends, as Redis does, so a script that catches the error with `pcall`
/// meets it again at its very next line instead of looping on for ever.
#[derive(Clone)]
struct Hook {
    srv: Arc<Server>,
    budget: Rc<Budget>,
    every: u32,
    escalated: Rc<Cell<bool>>,
}

impl Hook {
    fn install(&self, lua: &Lua) {
        let triggers = if self.escalated.get() { HookTriggers::EVERY_LINE } else { HookTriggers::new().every_nth_instruction(self.every) };
        let hook = self.clone();
        lua.set_hook(triggers, move |lua, _| hook.check(lua));
    }

    fn check(&self, lua: &Lua) -> mlua::Result<VmState> {
        let stop = if self.srv.scripting.kill.load(Relaxed) {
            KILLED
        } else if self.budget.over() {
            MOVING
        } else {
            return Ok(VmState::Continue);
        };
        if !self.escalated.replace(true) {
            self.install(lua);
        }
        Err(mlua::Error::runtime(stop))
    }

    /// Back to the periodic check for the next run.
    fn reset(&self, lua: &Lua) {
        if self.escalated.replace(false) {
            self.install(lua);
        }
    }
}

pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

impl Engine {
    /// The script thread's engine. `stats`: where the commands scripts run are counted.
    pub fn new(srv: Arc<Server>, stats: Arc<ThreadStats>) -> mlua::Result<Self> {
        Self::build(srv, stats, HOOK_EVERY)
    }

    /// A worker's engine, for inline runs (scripting/inline.rs).
    pub fn new_inline(srv: Arc<Server>) -> mlua::Result<Self> {
        let stats = srv.stats.register_other(crate::commands::table::all().len());
        Self::build(srv, stats, super::inline::HOOK_EVERY)
    }

    fn build(srv: Arc<Server>, stats: Arc<ThreadStats>, hook_every: u32) -> mlua::Result<Self> {
        // SAFETY: `debug` is loaded for the error handler only (scripts/prelude.lua); it is
        // not among the globals scripts can reach.
        let lua = unsafe { Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, mlua::LuaOptions::new()) };
        let rt = lua.create_table()?;
        rt.set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise(lua, "ERR wrong number of arguments"));
                }
                let s = args.into_iter().next().and_then(|v| lua.coerce_string(v).ok().flatten());
                Ok(sha1_hex(&s.map(|s| s.as_bytes().to_vec()).unwrap_or_default()))
            })?,
        )?;
        rt.set(
            "log",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() < 2 {
                    return Err(raise(lua, "ERR redis.log() requires two arguments or more."));
                }
                let mut it = args.into_iter();
                let level = match it.next() {
                    Some(Value::Integer(n)) => n,
                    Some(Value::Number(n)) => n as i64,
                    _ => return Err(raise(lua, "ERR First argument must be a number (log level).")),
                };
                if !(0..=3).contains(&level) {
                    return Err(raise(lua, "ERR Invalid debug level."));
                }
                let text: Vec<String> = it.filter_map(|v| lua.coerce_string(v).ok().flatten()).map(|s| s.to_string_lossy()).collect();
                let text = text.join(" ");
                match level {
                    3 => tracing::warn!(target: "script", "{text}"),
                    2 => tracing::info!(target: "script", "{text}"),
                    _ => tracing::debug!(target: "script", "{text}"),
                }
                Ok(())
            })?,
        )?;
        rt.set(
            "set_repl",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise(lua, "ERR redis.set_repl() requires one argument."));
                }
                // Writes are always replicated as effects, so the choice changes nothing.
                match args.into_iter().next() {
                    Some(Value::Integer(n)) if (0..=3).contains(&n) => Ok(()),
                    Some(Value::Number(n)) if n.fract() == 0.0 && (0.0..=3.0).contains(&n) => Ok(()),
                    _ => Err(raise(lua, "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")),
                }
            })?,
        )?;
        rt.set(
            "take_error",
            lua.create_function(|lua, ()| {
                lua.named_registry_value::<Value>(PENDING).and_then(|v| lua.set_named_registry_value(PENDING, Value::Nil).map(|_| v))
            })?,
        )?;
        // Errors of the Rust functions scripts call as `redis.*` reach a script's pcall
        // as Redis's text (see `raise_text`).
        for name in ["sha1hex", "log", "set_repl"] {
            rt.set(name, text_errors(&lua, rt.get(name)?)?)?;
        }
        rt.set("bit", super::bit::library(&lua)?)?;
        // lua-cjson raises plain strings: a script's pcall gets the text, and an
        // uncaught one takes the location prefix any string error gets.
        let cjson = super::cjson::library(&lua, raise_plain)?;
        for name in ["encode", "decode"] {
            cjson.set(name, text_errors(&lua, cjson.get(name)?)?)?;
        }
        rt.set("cjson", cjson)?;
        rt.set("struct", super::lua_struct::library(&lua)?)?;
        rt.set("cmsgpack", super::cmsgpack::library(&lua)?)?;
        let (handler, env, allowed, redis): (Function, Table, Table, Table) = lua.load(include_str!("prelude.lua")).set_name("=redis").call(rt.clone())?;
        // The runtime's own globals are no business of scripts'.
        let info = Arc::new(ClientInfo::new(srv.clients.next_id(), ([127, 0, 0, 1], 0).into(), ([127, 0, 0, 1], 0).into(), -1, now_ms()));
        let budget = Rc::new(Budget::default());
        let state = Rc::new(RefCell::new(call::Run::new(Session::new(info, true), stats, budget.clone())));
        call::install(&lua, &redis, srv.clone(), state.clone())?;
        redis.raw_set("setresp", text_errors(&lua, redis.raw_get("setresp")?)?)?;
        let hook = Hook { srv: srv.clone(), budget: budget.clone(), every: hook_every, escalated: Rc::new(Cell::new(false)) };
        hook.install(&lua);
        let pending: Box<Cell<*const EvalRequest>> = Box::new(Cell::new(std::ptr::null()));
        let slot = mlua::LightUserData(std::ptr::from_ref(&*pending).cast_mut().cast());
        // SAFETY: `start_script` takes its three upvalues from the stack, which holds
        // exactly them.
        let starter: Function = unsafe { lua.exec_raw((slot, allowed.clone(), handler), |state| ffi::lua_pushcclosure(state, start_script, 3))? };
        let functions = lua.create_table()?;
        let generation = srv.scripting.cache.generation();
        let counters = srv.scripting.register_engine();
        Ok(Engine {
            lua,
            starter,
            pending,
            env,
            #[cfg(test)]
            allowed,
            scripts: HashMap::default(),
            inline_budget: None,
            functions,
            srv,
            state,
            runs_since_gc: 0,
            budget,
            hook,
            generation,
            counters,
        })
    }

    /// Publishes this VM's memory for INFO (used_memory_lua sums every engine's).
    pub fn publish_memory(&self) {
        self.counters.memory.store(self.lua.used_memory() as u64, Relaxed);
    }

    /// Drops this engine's copies if SCRIPT FLUSH emptied the shared cache since.
    fn sync(&mut self) {
        if self.srv.scripting.cache.generation() != self.generation {
            self.flush();
        }
    }

    /// The track record of the script `source` names (None: not in the cache),
    /// compiling it here from the shared cache when it may run inline.
    pub fn record(&mut self, source: &Source) -> Option<Record> {
        self.sync();
        let hashed;
        let sha = match source {
            Source::Sha(sha) => sha.as_str(),
            Source::Body(body) => {
                hashed = sha1_hex(body);
                hashed.as_str()
            }
            Source::Load(_) => return None,
        };
        if let Some(c) = self.scripts.get(sha) {
            return Some(c.script.record());
        }
        let shared = self.srv.scripting.cache.get(sha)?;
        let record = shared.record();
        if record == Record::Fast {
            self.load(&shared.body).ok()?;
        }
        Some(record)
    }

    /// SCRIPT FLUSH (this engine's copies; the shared cache is emptied by the command).
    pub fn flush(&mut self) {
        // Read first: a flush after this one is seen by the next `sync`.
        self.generation = self.srv.scripting.cache.generation();
        self.scripts.clear();
        if let Ok(t) = self.lua.create_table() {
            self.functions = t;
        } else if let Err(e) = self.functions.clear() {
            tracing::warn!(error = %e, "cannot empty the script cache");
        }
        self.lua.gc_collect().ok();
    }

    /// Compiles `body` into the cache (EVAL, SCRIPT LOAD); returns its SHA1.
    pub fn load(&mut self, body: &[u8]) -> Result<String, Vec<u8>> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code) = shebang::parse(body).map_err(|e| format!("ERR {e}").into_bytes())?;
        const FAILED: &[u8] = b"ERR Error compiling script (new function): ";
        let func = self.lua.load(&*code).set_name("@user_script").set_environment(self.env.clone()).into_function().map_err(|e| {
            let mut msg = FAILED.to_vec();
            match e {
                // mlua's text of the message is lossy; Lua's own holds the script's bytes.
                mlua::Error::SyntaxError { message, .. } => match self.compile_error(&code) {
                    Some(raw) => msg.extend_from_slice(&raw),
                    None => msg.extend_from_slice(message.as_bytes()),
                },
                other => msg.extend_from_slice(other.to_string().as_bytes()),
            }
            msg
        })?;
        let slot = self.scripts.len() as i64 + 1;
        self.functions.raw_set(slot, func).map_err(|e| format!("ERR Error compiling script (new function): {e}").into_bytes())?;
        let script = self.srv.scripting.cache.insert(&sha, body);
        self.scripts.insert(sha.clone(), Cached { slot, flags, script });
        Ok(sha)
    }

    /// The parser's message for `code` that failed to compile, as Lua's bytes.
    fn compile_error(&self, code: &[u8]) -> Option<Vec<u8>> {
        let loadstring: Function = self.lua.globals().raw_get("loadstring").ok()?;
        let (_, msg) = loadstring.call::<(Value, Option<mlua::String>)>((self.lua.create_string(code).ok()?, "@user_script")).ok()?;
        msg.map(|m| m.as_bytes().to_vec())
    }

    /// Runs one EVAL / EVALSHA (or SCRIPT LOAD) of its own and returns its reply in the
    /// caller's protocol.
    pub fn eval(&mut self, req: EvalRequest) -> Outcome {
        self.eval_ref(&req)
    }

    /// Runs a script inline on a worker (scripting/inline.rs) with `budget` before it
    /// moves; true with the outcome when it was stopped to move (its reply is empty, its
    /// waits are those of anything it journaled before, such as expired keys deleted).
    pub fn eval_inline(&mut self, req: &EvalRequest, budget: Duration) -> (Outcome, bool) {
        self.inline_budget = Some(budget);
        let outcome = self.eval_ref(req);
        self.inline_budget = None;
        let moved = self.budget.moving();
        self.budget.start(None);
        let counter = if moved { &self.counters.moved } else { &self.counters.inline_runs };
        counter.store(counter.load(Relaxed) + 1, Relaxed);
        self.publish_memory();
        (outcome, moved)
    }

    fn eval_ref(&mut self, req: &EvalRequest) -> Outcome {
        // Sized to the reply: `Reply::new`'s connection-sized buffer would be a large
        // allocation per script, freed on another thread.
        let mut reply = Reply { buf: Vec::new(), version: req.resp };
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| self.execute(req, &mut reply, None)));
        let (durable_wait, repl_offset) = ran.unwrap_or_else(|_| {
            self.recover(&mut reply);
            (0, 0)
        });
        Outcome { reply: reply.buf, durable_wait, repl_offset }
    }

    /// After a panic outside the script's own run (which `run_script` catches): the
    /// script fails with an error, the engine stays up for the next one.
    fn recover(&mut self, reply: &mut Reply) {
        tracing::error!("a script panicked in the script engine; it failed, the engine carries on");
        self.srv.scripting.gate.script_started_ms.store(0, SeqCst);
        self.srv.scripting.kill.store(false, SeqCst);
        self.budget.start(None);
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.atomic = None;
            state.out.buf.clear();
        }
        reply.buf.clear();
        self.srv.stats.record_error("ERR");
        reply.error(ENGINE_FAILED);
    }

    /// Runs a script queued in a transaction, inside EXEC's atomic run: its commands
    /// take no scope of their own (EXEC holds every partition) and its writes join the
    /// transaction's, journaled with them as one MULTI ... EXEC.
    pub fn eval_in_exec(&mut self, ctx: &mut Ctx<'_>, req: &EvalRequest) {
        let start = ctx.out.buf.len();
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| self.execute(req, ctx.out, Some(&mut ctx.atomic))));
        if ran.is_err() {
            let mut reply = Reply { buf: Vec::new(), version: ctx.out.version };
            self.recover(&mut reply);
            ctx.out.buf.truncate(start);
            ctx.out.buf.extend_from_slice(&reply.buf);
        }
    }

    /// Writes `req`'s reply to `reply`; returns how far the caller waits for its writes
    /// (AOF position, replication offset) when it ran in an atomic run of its own.
    fn execute(&mut self, req: &EvalRequest, reply: &mut Reply, mut exec: Option<&mut Option<Atomic>>) -> (u64, u64) {
        self.sync();
        let loaded;
        let sha: &str = match &req.source {
            Source::Body(body) => match self.load(body) {
                Ok(sha) => {
                    loaded = sha;
                    &loaded
                }
                Err(e) => {
                    self.srv.stats.record_error("ERR");
                    reply.error_bytes(&e);
                    return (0, 0);
                }
            },
            Source::Sha(sha) => {
                // Loaded by another engine: compiled here from the shared cache.
                if !self.scripts.contains_key(sha.as_str())
                    && let Some(shared) = self.srv.scripting.cache.get(sha)
                {
                    let _ = self.load(&shared.body);
                }
                sha
            }
            Source::Load(body) => {
                match self.load(body) {
                    Ok(sha) => reply.bulk(sha.as_bytes()),
                    Err(e) => {
                        self.srv.stats.record_error("ERR");
                        reply.error_bytes(&e);
                    }
                }
                return (0, 0);
            }
        };
        let Some(script) = self.scripts.get(sha) else {
            self.srv.stats.record_error("NOSCRIPT");
            reply.error(super::NOSCRIPT);
            return (0, 0);
        };
        let func = match self.functions.raw_get::<Function>(script.slot) {
            Ok(f) => f,
            Err(e) => {
                self.srv.stats.record_error("ERR");
                reply.error(&format!("ERR {e}"));
                return (0, 0);
            }
        };
        let read_only = req.read_only || script.flags & shebang::NO_WRITES != 0;
        let record = script.script.clone();
        if let Some(msg) = super::oom::refuse_script(&self.srv, script.flags, exec.is_some()) {
            reply.error(msg);
            return (0, 0);
        }
        // One clock reading each for the run's start (its budget, its timing, its
        // commands' time) and end.
        let started = Instant::now();
        let now = now_ms();
        let atomic = match exec.as_mut() {
            Some(outer) => outer.take().unwrap_or_default(),
            // Evicts before the script, never inside it (see `Atomic::oom_before`).
            None => Atomic::for_script(!read_only && crate::memory::evict::refuse(&self.srv, now)),
        };
        self.budget.start(self.inline_budget.map(|b| started + b));
        self.state.borrow_mut().start(req.db, read_only, atomic, now, started);
        let result = self.run_script(&func, req, now);
        let moved = self.budget.moving();
        if moved {
            record.strike();
        } else {
            record.ran(started.elapsed(), super::inline::BUDGET);
        }
        let mut state = self.state.borrow_mut();
        let script_resp3 = state.resp == RespVersion::Resp3;
        let atomic = state.atomic.take().unwrap_or_default();
        let waits = match exec {
            // Back to EXEC, which journals the whole transaction when it ends.
            Some(outer) => {
                *outer = Some(atomic);
                (0, 0)
            }
            None => {
                let call::Run { session, out, .. } = &mut *state;
                let mut ctx = Ctx::new(&self.srv, session, out, now);
                commands::atomic::finish(&mut ctx, atomic);
                (session.durable_wait, session.repl_offset)
            }
        };
        drop(state);
        match result {
            // Stopped to run again on the script thread: no reply, nothing counted.
            _ if moved => {}
            Ok(v) => lua_to_reply(&v, reply, script_resp3),
            Err(e) => {
                let code = e.split(|&b| b == b' ').next().map(String::from_utf8_lossy).unwrap_or_default();
                self.srv.stats.record_error(&code);
                reply.error_bytes(&format_script_error(&e, sha));
            }
        }
        self.collect_garbage();
        waits
    }

    /// Runs the function; Err holds the error table flattened as `msg\0source\0line`,
    /// as bytes: Redis replies with a script's error text as it is, UTF-8 or not.
    fn run_script(&mut self, func: &Function, req: &EvalRequest, now: i64) -> Result<Value, Vec<u8>> {
        let srv = &*self.srv;
        if c_int::try_from(req.keys.len().max(req.args.len())).is_err() {
            return Err(b"ERR too many arguments".to_vec());
        }
        srv.scripting.kill.store(false, SeqCst);
        srv.scripting.wrote.store(false, SeqCst);
        srv.scripting.gate.script_started_ms.store(now, SeqCst);
        // A panic in the runtime under a script fails that script alone: the VM and the
        // cache stay in service for the next.
        self.pending.set(req);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.starter.call::<(bool, Value)>(func)));
        self.pending.set(std::ptr::null());
        let killed = srv.scripting.kill.swap(false, SeqCst);
        srv.scripting.gate.script_started_ms.store(0, SeqCst);
        self.hook.reset(&self.lua);
        let Ok(result) = result else {
            tracing::error!("a script's run panicked; it failed, the engine carries on");
            return Err(ENGINE_FAILED.as_bytes().to_vec());
        };
        match result {
            Ok((true, v)) => Ok(v),

            Ok((false, Value::Table(t))) => {
                let mut msg = if killed {
                    KILLED.as_bytes().to_vec()
                } else {
                    t.raw_get::<mlua::String>("err").map(|s| s.as_bytes().to_vec()).unwrap_or_else(|_| b"ERR unknown error".to_vec())
                };
                // Redis formats the text with `%s`: it ends at a NUL.
                if let Some(end) = msg.iter().position(|&b| b == 0) {
                    msg.truncate(end);
                }
                let source = t.raw_get::<mlua::String>("source").ok();
                if let (Some(s), Ok(l)) = (source, t.raw_get::<i64>("line")) {
                    msg.push(0);
                    msg.extend_from_slice(&s.as_bytes());
                    msg.push(0);
                    msg.extend_from_slice(l.to_string().as_bytes());
                }
                Err(msg)
            }
            // However else the error came out (Lua's own "error in error handling").
            Ok((false, _)) | Err(_) if killed => Err(KILLED.as_bytes().to_vec()),
            Ok((false, other)) => {
                let mut msg = b"ERR ".to_vec();
                if let Ok(Some(s)) = self.lua.coerce_string(other) {
                    msg.extend_from_slice(&s.as_bytes());
                }
                Err(msg)
            }
            Err(e) => Err(format!("ERR {e}").into_bytes()),
        }
    }

    /// An incremental collection step every few scripts, as Redis does, so garbage is
    /// reclaimed at a steady pace instead of in the middle of some later script.
    fn collect_garbage(&mut self) {
        self.runs_since_gc += 1;
        if self.runs_since_gc >= GC_EVERY {
            self.runs_since_gc = 0;
            let _ = self.lua.gc_step_kbytes(GC_STEP_KB);
        }
    }
}

/// What runs a script: gives it fresh KEYS and ARGV tables (a script may change them;
/// Redis also gives each run its own) from the pending request (first upvalue), in
/// the table behind scripts' globals (second), then calls the script's function (its
/// one argument) under the prelude's error handler (third) as xpcall does: returns
/// true and its results, or false and the handler's error. Built on the Lua stack
/// inside the call: through mlua's values each string and table would take and
/// release a reference of its own, and a protected call of their own costs as much
/// again. (Calling xpcall through a Lua function instead would take one more level of
/// the C stack from scripts.)
unsafe extern "C-unwind" fn start_script(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: plain Lua C API use; Lua guarantees LUA_MINSTACK (20) free slots above the
    // arguments and at most two values are pushed at a time; the pending request lives
    // for the whole call (`run_script`) and its counts fit a c_int (checked there); an
    // allocation error unwinds through nothing this frame owns.
    unsafe {
        let slot = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Cell<*const EvalRequest>>().cast_const();
        if let Some(slot) = slot.as_ref()
            && let Some(req) = slot.get().as_ref()
        {
            for (name, items) in [(c"KEYS", &req.keys), (c"ARGV", &req.args)] {
                ffi::lua_pushstring_(state, name.as_ptr());
                ffi::lua_createtable(state, items.len() as c_int, 0);
                for (i, item) in items.iter().enumerate() {
                    ffi::lua_pushlstring_(state, item.as_ptr().cast(), item.len());
                    ffi::lua_rawseti_(state, -2, i as c_int + 1);
                }
                ffi::lua_rawset(state, ffi::lua_upvalueindex(2));
            }
        }
        ffi::lua_settop(state, 1);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(3));
        ffi::lua_insert(state, 1);
        let status = ffi::lua_pcall(state, 0, ffi::LUA_MULTRET, 1);
        ffi::lua_pushboolean(state, c_int::from(status == 0));
        ffi::lua_replace(state, 1);
        ffi::lua_gettop(state)
    }
}

/// Redis's text for a failed script: the error, then where it happened.
fn format_script_error(e: &[u8], sha: &str) -> Vec<u8> {
    let mut parts = e.split(|&b| b == 0);
    let msg = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (Some(source), Some(line)) => {
            let mut out = msg.to_vec();
            out.extend_from_slice(format!(" script: {sha}, on ").as_bytes());
            out.extend_from_slice(source);
            out.push(b':');
            out.extend_from_slice(line);
            out.push(b'.');
            out
        }
        _ => msg.to_vec(),
    }
}

/// `f` behind `raise_text`: a C closure, so `return redis.x()` in a script stays a
/// call into C as in Redis (a Lua wrapper would make it a tail call that hides the
/// script's line from the error handler).
fn text_errors(lua: &Lua, f: Function) -> mlua::Result<Function> {
    // SAFETY: `raise_text` takes its one upvalue from the stack, which holds exactly it.
    unsafe { lua.exec_raw(f, |state| ffi::lua_pushcclosure(state, raise_text, 1)) }
}

/// Calls its upvalue with the arguments. A Rust function's error reaches Lua as mlua's
/// userdata, with the Redis error table `raise` meant waiting in the registry: that
/// table's text is raised instead, so a script's `pcall` gets the message string as
/// from Redis, and the error handler still finds the table by that text. Any other
/// error passes through unchanged.
unsafe extern "C-unwind" fn raise_text(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: plain Lua C API use within the stack Lua guarantees (LUA_MINSTACK free
    // slots above the arguments; this frame pushes at most three); this frame owns
    // nothing an error's longjmp could leak.
    unsafe {
        let n = ffi::lua_gettop(state);
        // A table left by an error a script caught earlier is not this call's.
        ffi::lua_pushnil(state);
        ffi::lua_setfield(state, ffi::LUA_REGISTRYINDEX, PENDING_C.as_ptr());
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        if ffi::lua_pcall(state, n, ffi::LUA_MULTRET, 0) == 0 {
            return ffi::lua_gettop(state);
        }
        if ffi::lua_type(state, -1) == ffi::LUA_TUSERDATA {
            ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, PENDING_C.as_ptr());
            if ffi::lua_istable(state, -1) != 0 {
                ffi::lua_getfield(state, -1, c"err".as_ptr());
                if ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
                    ffi::lua_error(state);
                }
                ffi::lua_pop(state, 1);
            }
            ffi::lua_pop(state, 1);
        }
        ffi::lua_error(state)
    }
}

/// Raises `msg` from a Rust function of the library as a C library raises a plain
/// string (behind `raise_text`): the handler in prelude.lua treats it as any string
/// error, not as a finished Redis error table.
fn raise_plain(lua: &Lua, msg: &str) -> mlua::Error {
    let t = lua.create_table().and_then(|t| t.raw_set("err", msg).and_then(|_| t.raw_set("plain", true)).map(|_| t));
    if let Ok(t) = t {
        let _ = lua.set_named_registry_value(PENDING, t);
    }
    mlua::Error::runtime(msg.to_string())
}

/// Raises `msg` as a Redis error table from a Rust function of the library (see the
/// error handler in prelude.lua).
pub(super) fn raise(lua: &Lua, msg: &str) -> mlua::Error {
    let t = lua.create_table().and_then(|t| t.raw_set("err", msg).map(|_| t));
    if let Ok(t) = t {
        let _ = lua.set_named_registry_value(PENDING, t);
    }
    mlua::Error::runtime(msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pending_error_has_one_name() {
        assert_eq!(PENDING_C.to_str().ok(), Some(PENDING));
    }

    fn request(body: &str) -> EvalRequest {
        EvalRequest { source: Source::Body(body.into()), keys: vec![], args: vec![], read_only: false, db: 0, resp: RespVersion::Resp2 }
    }

    #[test]
    fn a_panic_under_a_script_fails_that_script_only() {
        let srv = Arc::new(Server::new(crate::config::Config::default()));
        let stats = srv.stats.register_other(crate::commands::table::all().len());
        let mut engine = Engine::new(srv.clone(), stats).unwrap();
        let boom = engine.lua.create_function(|_, ()| -> mlua::Result<()> { panic!("a bug") }).unwrap();
        engine.allowed.raw_set("boom", boom).unwrap();
        let out = engine.eval(request("redis.call('SET', 'k', 'v') return boom()"));
        // mlua turns a callback's panic into a Lua error, which the script's run catches.
        assert!(out.reply.starts_with(b"-ERR "), "{:?}", String::from_utf8_lossy(&out.reply));
        assert_eq!(srv.scripting.gate.script_started_ms.load(SeqCst), 0);
        // The engine and its cache serve the next script.
        let out = engine.eval(request("return redis.call('GET', 'k')"));
        assert_eq!(out.reply, b"$1\r\nv\r\n");
        let out = engine.eval(request("return 1 + 1"));
        assert_eq!(out.reply, b":2\r\n");
    }
}
