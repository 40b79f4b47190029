//! The Lua VM that runs every script: the script cache, the `redis` library, the
//! sandbox (scripts/prelude.lua), and one script's run with its calls dispatched as
//! ordinary commands on a session of the caller's.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, MultiValue, StdLib, Table, Value, VmState};

use super::convert::{lua_to_reply, reply_to_lua};
use super::shebang;
use crate::commands::{self, Ctx, flag};
use crate::protocol::{Reply, RespVersion};
use crate::server::clients::ClientInfo;
use crate::server::session::Session;
use crate::server::state::{Server, now_ms};
use crate::server::stats::ThreadStats;

/// Instructions between two checks for SCRIPT KILL.
const HOOK_EVERY: u32 = 100_000;
/// Registry slot for the error table a Rust function of the library raises.
const PENDING: &str = "script_error";
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
    run: Function,
    env: Table,
    set_args: Function,
    /// The `redis` table (scripts see it read-only); call/pcall/setresp are set per run.
    redis: Table,
    scripts: HashMap<String, Cached>,
    srv: Arc<Server>,
    /// The client that scripts' commands run as.
    info: Arc<ClientInfo>,
    stats: ThreadStats,
}

pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

impl Engine {
    pub fn new(srv: Arc<Server>) -> mlua::Result<Self> {
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
        let (run, env, set_args, redis): (Function, Table, Function, Table) = lua.load(include_str!("prelude.lua")).set_name("=redis").call(rt.clone())?;
        // The runtime's own globals are no business of scripts'.
        let info = Arc::new(ClientInfo::new(srv.clients.next_id(), ([127, 0, 0, 1], 0).into(), ([127, 0, 0, 1], 0).into(), -1, now_ms()));
        let killer = srv.clone();
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
            if killer.scripting.kill.load(Relaxed) {
                return Err(mlua::Error::runtime(KILLED));
            }
            Ok(VmState::Continue)
        });
        Ok(Engine { lua, run, env, set_args, redis, scripts: HashMap::new(), stats: ThreadStats::new(commands::table::all().len()), srv, info })
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

    /// Runs one EVAL / EVALSHA and returns its reply in the caller's protocol.
    pub fn eval(&mut self, req: EvalRequest) -> Outcome {
        let mut reply = Reply::new(req.resp);
        let sha = match &req.source {
            Source::Body(body) => match self.load(body) {
                Ok(sha) => sha,
                Err(e) => {
                    self.srv.stats.record_error("ERR");
                    reply.error(&e);
                    return Outcome { reply: reply.buf, ..Default::default() };
                }
            },
            Source::Sha(sha) => sha.clone(),
            Source::Load(body) => {
                match self.load(body) {
                    Ok(sha) => reply.bulk(sha.as_bytes()),
                    Err(e) => {
                        self.srv.stats.record_error("ERR");
                        reply.error(&e);
                    }
                }
                return Outcome { reply: reply.buf, ..Default::default() };
            }
        };
        let Some(script) = self.scripts.get(&sha) else {
            self.srv.stats.record_error("NOSCRIPT");
            reply.error(super::NOSCRIPT);
            return Outcome { reply: reply.buf, ..Default::default() };
        };
        let func = script.func.clone();
        let read_only = req.read_only || script.flags & shebang::NO_WRITES != 0;
        if let Some(msg) = super::oom::refuse_script(&self.srv, script.flags) {
            reply.error(msg);
            return Outcome { reply: reply.buf, ..Default::default() };
        }
        let mut session = Session::new(self.info.clone(), true);
        session.db = req.db;
        let mut out = Reply::new(RespVersion::Resp2);
        let resp = std::cell::Cell::new(RespVersion::Resp2);
        let result = self.run_script(&func, &req, read_only, &mut session, &mut out, &resp);
        match result {
            Ok(v) => lua_to_reply(&v, &mut reply, resp.get() == RespVersion::Resp3),
            Err(e) => {
                let code = e.split(' ').next().unwrap_or("ERR").to_string();
                self.srv.stats.record_error(&code);
                reply.error(&format_script_error(&e, &sha));
            }
        }
        Outcome { reply: reply.buf, durable_wait: session.durable_wait, repl_offset: session.repl_offset }
    }

    /// Runs the function; Err holds the error table flattened as `msg\0source\0line`.
    fn run_script(
        &mut self,
        func: &Function,
        req: &EvalRequest,
        read_only: bool,
        session: &mut Session,
        out: &mut Reply,
        resp: &std::cell::Cell<RespVersion>,
    ) -> Result<Value, String> {
        let lua = &self.lua;
        let srv = &*self.srv;
        let stats = &self.stats;
        let to_table = |items: &[Vec<u8>]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(a)?)?;
            }
            Ok(t)
        };
        let setup = to_table(&req.keys).and_then(|k| Ok((k, to_table(&req.args)?))).and_then(|(k, a)| self.set_args.call::<()>((k, a)));
        if let Err(e) = setup {
            return Err(format!("ERR {e}"));
        }
        srv.scripting.kill.store(false, SeqCst);
        srv.scripting.wrote.store(false, SeqCst);
        srv.scripting.gate.script_started_ms.store(now_ms(), SeqCst);
        let mut ctx = Ctx::new(srv, session, out, now_ms());
        let run = &self.run;
        let redis = &self.redis;
        let result: mlua::Result<(bool, Value)> = commands::atomic::run_unscoped(&mut ctx, |ctx| {
            let mut clock = Instant::now();
            let clock = &mut clock;
            let ctx = std::cell::RefCell::new(ctx);
            let clock = std::cell::RefCell::new(clock);
            let (ctx, clock) = (&ctx, &clock);
            lua.scope(move |scope| {
                let call_fn = move |protected: bool| {
                    move |lua: &Lua, args: MultiValue| {
                        let (Ok(mut ctx), Ok(mut clock)) = (ctx.try_borrow_mut(), clock.try_borrow_mut()) else {
                            return Err(raise(lua, "ERR redis.call is not reentrant"));
                        };
                        ctx.out.version = resp.get();
                        match call_command(lua, &mut ctx, stats, &mut clock, read_only, args)? {
                            (false, v) if !protected => {
                                lua.set_named_registry_value(PENDING, v)?;
                                Err(mlua::Error::runtime("redis.call failed"))
                            }
                            (_, v) => Ok(v),
                        }
                    }
                };
                let call = scope.create_function(call_fn(false))?;
                let pcall = scope.create_function(call_fn(true))?;
                let setresp = scope.create_function(move |lua, args: MultiValue| {
                    if args.len() != 1 {
                        return Err(raise(lua, "ERR redis.setresp() requires one argument."));
                    }
                    match args.into_iter().next() {
                        Some(Value::Integer(2)) => resp.set(RespVersion::Resp2),
                        Some(Value::Integer(3)) => resp.set(RespVersion::Resp3),
                        Some(Value::Number(2.0)) => resp.set(RespVersion::Resp2),
                        Some(Value::Number(3.0)) => resp.set(RespVersion::Resp3),
                        _ => return Err(raise(lua, "ERR RESP version must be 2 or 3.")),
                    }
                    Ok(())
                })?;
                redis.raw_set("call", call)?;
                redis.raw_set("pcall", pcall)?;
                redis.raw_set("setresp", setresp)?;
                let r = run.call::<(bool, Value)>(func.clone());
                for f in ["call", "pcall", "setresp"] {
                    redis.raw_set(f, Value::Nil)?;
                }
                r
            })
        });
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
fn raise(lua: &Lua, msg: &str) -> mlua::Error {
    let t = lua.create_table().and_then(|t| t.raw_set("err", msg).map(|_| t));
    if let Ok(t) = t {
        let _ = lua.set_named_registry_value(PENDING, t);
    }
    mlua::Error::runtime(msg.to_string())
}

fn err_table(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok((false, Value::Table(t)))
}

/// `redis.call` / `redis.pcall`: (true, reply) or (false, error table).
fn call_command(lua: &Lua, ctx: &mut Ctx<'_>, stats: &ThreadStats, clock: &mut Instant, read_only: bool, args: MultiValue) -> mlua::Result<(bool, Value)> {
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
    for v in args {
        match &v {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v)? {
                Some(s) => argv.push(s.as_bytes().to_vec()),
                None => return err_table(lua, "ERR Lua redis lib command arguments must be strings or integers"),
            },
            _ => return err_table(lua, "ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let Some(name) = argv.first() else {
        return err_table(lua, "ERR Please specify at least one argument for this redis lib call");
    };
    let Some((_, spec)) = commands::lookup(name) else {
        return err_table(lua, "ERR Unknown Redis command called from script");
    };
    if spec.has(flag::NOSCRIPT) {
        return err_table(lua, "ERR This Redis command is not allowed from script");
    }
    if !spec.arity_ok(argv.len()) {
        return err_table(lua, "ERR Wrong number of args calling Redis command from script");
    }
    if spec.has(flag::WRITE) {
        if read_only {
            return err_table(lua, "ERR Write commands are not allowed from read-only scripts.");
        }
        ctx.srv.scripting.wrote.store(true, SeqCst);
    }
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    ctx.out.buf.clear();
    ctx.now_ms = now_ms();
    commands::dispatch(ctx, &refs, stats, clock);
    ctx.session.after = Default::default();
    let mut pos = 0;
    let v = reply_to_lua(lua, &ctx.out.buf, &mut pos)?;
    ctx.out.buf.clear();
    let failed = matches!(&v, Value::Table(t) if t.raw_get::<Value>("err").is_ok_and(|e| e.is_string()));
    Ok((!failed, v))
}
