//! The Lua VM that runs every script: the script cache, the `redis` library, the
//! sandbox (scripts/prelude.lua), and one script's run with its calls dispatched as
//! ordinary commands on a session of the caller's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use mlua::{Function, HookTriggers, Lua, MultiValue, StdLib, Table, Value, VmState};

use super::call;
use super::convert::lua_to_reply;
use super::shebang;
use crate::commands::atomic::Atomic;
use crate::commands::{self, Ctx};
use crate::protocol::{Reply, RespVersion};
use crate::server::clients::ClientInfo;
use crate::server::session::Session;
use crate::server::state::{Server, now_ms};
use crate::server::stats::ThreadStats;

/// Instructions between two checks for SCRIPT KILL.
const HOOK_EVERY: u32 = 100_000;
/// Registry slot for the error table a Rust function of the library raises.
pub(super) const PENDING: &str = "script_error";
/// Scripts between two incremental steps of the Lua collector, and the step's size: a
/// step every run costs more than a short script's garbage is worth.
const GC_EVERY: u32 = 50;
const GC_STEP_KB: i32 = 50;
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

struct Cached {
    func: Function,
    flags: u32,
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
    /// Calls a script's function under the error handler (prelude.lua).
    run: Function,
    env: Table,
    /// The table behind scripts' globals (KEYS and ARGV go there).
    allowed: Table,
    scripts: HashMap<String, Cached>,
    srv: Arc<Server>,
    /// What `redis.call` works with (the client that scripts' commands run as...).
    state: call::Shared,
    runs_since_gc: u32,
}

pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

impl Engine {
    /// `stats`: where the commands scripts run are counted.
    pub fn new(srv: Arc<Server>, stats: Arc<ThreadStats>) -> mlua::Result<Self> {
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
        rt.set("bit", super::bit::library(&lua)?)?;
        rt.set("cjson", super::cjson::library(&lua, raise)?)?;
        rt.set("struct", super::lua_struct::library(&lua)?)?;
        rt.set("cmsgpack", super::cmsgpack::library(&lua)?)?;
        let (run, env, allowed, redis): (Function, Table, Table, Table) = lua.load(include_str!("prelude.lua")).set_name("=redis").call(rt.clone())?;
        // The runtime's own globals are no business of scripts'.
        let info = Arc::new(ClientInfo::new(srv.clients.next_id(), ([127, 0, 0, 1], 0).into(), ([127, 0, 0, 1], 0).into(), -1, now_ms()));
        let state = Rc::new(RefCell::new(call::Run::new(Session::new(info, true), stats)));
        call::install(&lua, &redis, srv.clone(), state.clone())?;
        let killer = srv.clone();
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
            if killer.scripting.kill.load(Relaxed) {
                return Err(mlua::Error::runtime(KILLED));
            }
            Ok(VmState::Continue)
        });
        Ok(Engine { lua, run, env, allowed, scripts: HashMap::new(), srv, state, runs_since_gc: 0 })
    }

    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// SCRIPT FLUSH.
    pub fn flush(&mut self) {
        self.scripts.clear();
        self.lua.gc_collect().ok();
    }

    /// Compiles `body` into the cache (EVAL, SCRIPT LOAD); returns its SHA1.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code) = shebang::parse(body).map_err(|e| format!("ERR {e}"))?;
        let func = self.lua.load(&*code).set_name("@user_script").set_environment(self.env.clone()).into_function().map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => format!("ERR Error compiling script (new function): {message}"),
            other => format!("ERR Error compiling script (new function): {other}"),
        })?;
        self.scripts.insert(sha.clone(), Cached { func, flags });
        self.srv.scripting.known.lock().insert(sha.clone());
        Ok(sha)
    }

    /// Runs one EVAL / EVALSHA (or SCRIPT LOAD) of its own and returns its reply in the
    /// caller's protocol.
    pub fn eval(&mut self, req: EvalRequest) -> Outcome {
        // Sized to the reply: `Reply::new`'s connection-sized buffer would be a large
        // allocation per script, freed on another thread.
        let mut reply = Reply { buf: Vec::new(), version: req.resp };
        let (durable_wait, repl_offset) = self.execute(&req, &mut reply, None);
        Outcome { reply: reply.buf, durable_wait, repl_offset }
    }

    /// Runs a script queued in a transaction, inside EXEC's atomic run: its commands
    /// take no scope of their own (EXEC holds every partition) and its writes join the
    /// transaction's, journaled with them as one MULTI ... EXEC.
    pub fn eval_in_exec(&mut self, ctx: &mut Ctx<'_>, req: &EvalRequest) {
        self.execute(req, ctx.out, Some(&mut ctx.atomic));
    }

    /// Writes `req`'s reply to `reply`; returns how far the caller waits for its writes
    /// (AOF position, replication offset) when it ran in an atomic run of its own.
    fn execute(&mut self, req: &EvalRequest, reply: &mut Reply, mut exec: Option<&mut Option<Atomic>>) -> (u64, u64) {
        let loaded;
        let sha: &str = match &req.source {
            Source::Body(body) => match self.load(body) {
                Ok(sha) => {
                    loaded = sha;
                    &loaded
                }
                Err(e) => {
                    self.srv.stats.record_error("ERR");
                    reply.error(&e);
                    return (0, 0);
                }
            },
            Source::Sha(sha) => sha,
            Source::Load(body) => {
                match self.load(body) {
                    Ok(sha) => reply.bulk(sha.as_bytes()),
                    Err(e) => {
                        self.srv.stats.record_error("ERR");
                        reply.error(&e);
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
        let func = script.func.clone();
        let read_only = req.read_only || script.flags & shebang::NO_WRITES != 0;
        if let Some(msg) = super::oom::refuse_script(&self.srv, script.flags, exec.is_some()) {
            reply.error(msg);
            return (0, 0);
        }
        let atomic = match exec.as_mut() {
            Some(outer) => outer.take().unwrap_or_default(),
            None => Atomic::default(),
        };
        self.state.borrow_mut().start(req.db, read_only, atomic);
        let result = self.run_script(&func, req);
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
                let mut ctx = Ctx::new(&self.srv, session, out, now_ms());
                commands::atomic::finish(&mut ctx, atomic);
                (session.durable_wait, session.repl_offset)
            }
        };
        drop(state);
        match result {
            Ok(v) => lua_to_reply(&v, reply, script_resp3),
            Err(e) => {
                let code = e.split(' ').next().unwrap_or("ERR").to_string();
                self.srv.stats.record_error(&code);
                reply.error(&format_script_error(&e, sha));
            }
        }
        self.collect_garbage();
        waits
    }

    /// Runs the function; Err holds the error table flattened as `msg\0source\0line`.
    fn run_script(&mut self, func: &Function, req: &EvalRequest) -> Result<Value, String> {
        let srv = &*self.srv;
        if let Err(e) = self.set_args(&req.keys, &req.args) {
            return Err(format!("ERR {e}"));
        }
        srv.scripting.kill.store(false, SeqCst);
        srv.scripting.wrote.store(false, SeqCst);
        srv.scripting.gate.script_started_ms.store(now_ms(), SeqCst);
        let result = self.run.call::<(bool, Value)>(func);
        let killed = srv.scripting.kill.swap(false, SeqCst);
        srv.scripting.gate.script_started_ms.store(0, SeqCst);
        match result {
            Ok((true, v)) => Ok(v),
            Ok((false, Value::Table(t))) => {
                let msg = if killed {
                    KILLED.to_string()
                } else {
                    t.raw_get::<mlua::String>("err").map(|s| s.to_string_lossy()).unwrap_or_else(|_| "ERR unknown error".into())
                };
                let source = t.raw_get::<mlua::String>("source").ok().map(|s| s.to_string_lossy());
                let line = t.raw_get::<i64>("line").ok();
                Err(match (source, line) {
                    (Some(s), Some(l)) => format!("{msg}\0{s}\0{l}"),
                    _ => msg,
                })
            }
            Ok((false, other)) => Err(format!("ERR {}", other.to_string().unwrap_or_default())),
            Err(_) if killed => Err(KILLED.to_string()),
            Err(e) => Err(format!("ERR {e}")),
        }
    }

    /// Fresh KEYS and ARGV tables for each script (a script may change them; Redis also
    /// gives each run its own).
    fn set_args(&self, keys: &[Vec<u8>], args: &[Vec<u8>]) -> mlua::Result<()> {
        let lua = &self.lua;
        let keys = lua.create_sequence_from(keys.iter().map(|k| Bytes(k)))?;
        let args = lua.create_sequence_from(args.iter().map(|a| Bytes(a)))?;
        self.allowed.raw_set("KEYS", keys)?;
        self.allowed.raw_set("ARGV", args)
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

/// A byte string handed to Lua as a string.
struct Bytes<'a>(&'a [u8]);

impl mlua::IntoLua for Bytes<'_> {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Value> {
        lua.create_string(self.0).map(Value::String)
    }
}

/// Redis's text for a failed script: the error, then where it happened.
fn format_script_error(e: &str, sha: &str) -> String {
    let mut parts = e.split('\0');
    let msg = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (Some(source), Some(line)) => format!("{msg} script: {sha}, on {source}:{line}."),
        _ => msg.to_string(),
    }
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
