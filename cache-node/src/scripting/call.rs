//! `redis.call`, `redis.pcall` and `redis.setresp`: a script's commands, run through the
//! ordinary dispatcher on the script's own session. The functions are made once per VM;
//! what they need while a script runs (session, reply buffer, the script's atomic run,
//! its RESP version) lives in `Run`, which the engine refills for each script, so a
//! run builds no closures and a call allocates nothing of its own once the buffers
//! have grown.

use std::cell::RefCell;
use std::io::Write as _;
use std::os::raw::c_int;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use mlua::{Lua, MultiValue, Table, Value, ffi};
use smallvec::SmallVec;

use super::convert::reply_to_lua;
use super::engine::{PENDING, raise};
use super::inline::{Budget, MOVING};
use crate::commands::atomic::Atomic;
use crate::commands::{self, Ctx, flag};
use crate::protocol::{Reply, RespVersion};
use crate::server::session::{After, ReplyMode, Session};
use crate::server::state::Server;
use crate::server::stats::ThreadStats;

/// The running script's side of its calls.
#[derive(Debug)]
pub struct Run {
    pub session: Session,
    /// A command's reply, converted to Lua and cleared.
    pub out: Reply,
    /// The script's atomic run (or the EXEC's it belongs to) while it runs.
    pub atomic: Option<Atomic>,
    pub read_only: bool,
    /// The protocol of the script's calls (`redis.setresp`).
    pub resp: RespVersion,
    pub stats: Arc<ThreadStats>,
    /// An inline run's clock: past it, before its first write, the run stops and moves
    /// to the script thread (scripting/inline.rs).
    budget: Rc<Budget>,
    clock: Instant,
    now_ms: i64,
    /// The arguments of the call being made, end to end, and where each one ends
    /// (read off the Lua stack by `entry`); `bad_arg`: one was neither a string nor a
    /// number.
    args: Vec<u8>,
    ends: Vec<usize>,
    bad_arg: bool,
    /// The command `redis.call` just ran failed: `entry` raises its error.
    failed: bool,
}

pub type Shared = Rc<RefCell<Run>>;

impl Run {
    pub fn new(session: Session, stats: Arc<ThreadStats>, budget: Rc<Budget>) -> Self {
        Run {
            session,
            out: Reply::new(RespVersion::Resp2),
            atomic: None,
            read_only: false,
            resp: RespVersion::Resp2,
            stats,
            budget,
            clock: Instant::now(),
            now_ms: 0,
            args: Vec::new(),
            ends: Vec::new(),
            bad_arg: false,
            failed: false,
        }
    }

    /// Copies the `n` arguments of a call from the Lua stack, as Redis reads them:
    /// strings as they are, numbers with `%.17g`, anything else marks the call bad.
    ///
    /// # Safety
    /// `state` is a Lua state inside a C function with at least `n` values on its stack.
    unsafe fn read_args(&mut self, state: *mut ffi::lua_State, n: c_int) {
        self.args.clear();
        self.ends.clear();
        self.bad_arg = false;
        for i in 1..=n {
            // SAFETY: `i` is a valid stack index (the caller's promise); reading a
            // string or a number raises no Lua error; a string's bytes stay valid
            // while it is on the stack.
            unsafe {
                match ffi::lua_type(state, i) {
                    ffi::LUA_TSTRING => {
                        let mut len = 0;
                        let p = ffi::lua_tolstring(state, i, &mut len);
                        self.args.extend_from_slice(std::slice::from_raw_parts(p.cast::<u8>(), len));
                    }
                    ffi::LUA_TNUMBER => write_number(&mut self.args, ffi::lua_tonumber(state, i)),
                    _ => {
                        self.bad_arg = true;
                        return;
                    }
                }
            }
            self.ends.push(self.args.len());
        }
    }

    /// Readies the state for a new script (nothing of the previous one's may leak).
    /// `now_ms`: the script's start, the time of all its commands (as Redis freezes
    /// time for a script: a key cannot expire in the middle of one); `clock`: the same
    /// instant, where the commands' timing starts.
    pub fn start(&mut self, db: usize, read_only: bool, atomic: Atomic, now_ms: i64, clock: Instant) {
        let s = &mut self.session;
        s.db = db;
        s.durable_wait = 0;
        s.repl_offset = 0;
        s.after = After::Continue;
        s.reply_mode = ReplyMode::On;
        s.block = None;
        self.atomic = Some(atomic);
        self.read_only = read_only;
        self.resp = RespVersion::Resp2;
        self.clock = clock;
        self.now_ms = now_ms;
    }
}

/// Puts `call`, `pcall` and `setresp` in the `redis` table, for good. `call` and
/// `pcall` are each a C function (`entry`) that copies the arguments into the `Run`,
/// over a Rust function that runs the command: through mlua's values, each argument
/// would be a Lua reference taken and released.
pub fn install(lua: &Lua, redis: &Table, srv: Arc<Server>, run: Shared) -> mlua::Result<()> {
    for (name, protected) in [("call", false), ("pcall", true)] {
        let (srv1, run1) = (srv.clone(), run.clone());
        let command_fn = lua.create_function(move |lua, ()| {
            let Ok(mut run) = run1.try_borrow_mut() else {
                return Err(raise(lua, "ERR redis.call is not reentrant"));
            };
            let outcome = command(lua, &srv1, &mut run)?;
            run.failed = !protected && !outcome.0;
            finish(lua, protected, outcome)
        })?;
        // The `Run` outlives the function: `command_fn`, an upvalue of the same
        // closure, holds it.
        let cell = mlua::LightUserData(Rc::as_ptr(&run).cast_mut().cast());
        // SAFETY: `entry` takes its two upvalues from the stack, which holds exactly them.
        let f: mlua::Function = unsafe { lua.exec_raw((command_fn, cell), |state| ffi::lua_pushcclosure(state, entry, 2))? };
        redis.raw_set(name, f)?;
    }
    let setresp = lua.create_function(move |lua, args: MultiValue| {
        if args.len() != 1 {
            return Err(raise(lua, "ERR redis.setresp() requires one argument."));
        }
        let version = match args.front() {
            Some(Value::Integer(2)) => RespVersion::Resp2,
            Some(Value::Integer(3)) => RespVersion::Resp3,
            Some(Value::Number(n)) if *n == 2.0 => RespVersion::Resp2,
            Some(Value::Number(n)) if *n == 3.0 => RespVersion::Resp3,
            _ => return Err(raise(lua, "ERR RESP version must be 2 or 3.")),
        };
        let Ok(mut run) = run.try_borrow_mut() else {
            return Err(raise(lua, "ERR redis.setresp is not reentrant"));
        };
        run.resp = version;
        Ok(())
    })?;
    redis.raw_set("setresp", setresp)
}

/// `redis.pcall` returns a failed command's error table; for `redis.call` the table
/// also waits in the registry for the error handler, and `entry` raises its text.
fn finish(lua: &Lua, protected: bool, outcome: (bool, Value)) -> mlua::Result<Value> {
    if let (false, v) = &outcome
        && !protected
    {
        lua.set_named_registry_value(PENDING, v)?;
    }
    Ok(outcome.1)
}

/// What scripts call: copies its arguments into the `Run` (the second upvalue), then
/// calls the first upvalue without arguments. A C function rather than a Lua one, so
/// `return redis.call(..)` is no tail call and errors still name the script's line.
/// (A call made while the `Run` is in use cannot take its arguments; the command
/// function then fails it as not reentrant.)
unsafe extern "C-unwind" fn entry(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: plain Lua C API use; Lua guarantees LUA_MINSTACK (20) free slots above the
    // arguments; the second upvalue points at the `Run` (see `install`), whose borrow
    // ends before the call; this frame owns nothing an error's longjmp could leak.
    unsafe {
        let n = ffi::lua_gettop(state);
        let cell = ffi::lua_touserdata(state, ffi::lua_upvalueindex(2)).cast::<RefCell<Run>>().cast_const();
        if let Some(cell) = cell.as_ref()
            && let Ok(mut run) = cell.try_borrow_mut()
        {
            run.read_args(state, n);
        }
        ffi::lua_settop(state, 0);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_call(state, 0, 1);
        let failed = cell.as_ref().and_then(|c| c.try_borrow_mut().ok()).is_some_and(|mut run| std::mem::take(&mut run.failed));
        if failed && ffi::lua_istable(state, -1) != 0 {
            // Raised as its text, as Redis does: a script's `pcall` gets the message
            // string; the error handler finds the table by that text (prelude.lua).
            ffi::lua_getfield(state, -1, c"err".as_ptr());
            ffi::lua_error(state);
        }
        1
    }
}

fn err_table(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok((false, Value::Table(t)))
}

/// A number argument as Redis writes it: C's `%.17g` (not Lua's `%.14g`, which loses
/// digits), NaN with its sign as glibc prints it.
fn number_arg(d: f64) -> String {
    match d {
        d if d.is_nan() && d.is_sign_negative() => "-nan".into(),
        d => super::convert::format_g17(d),
    }
}

/// Below 10^14 an integer's `%.17g` digits are its plain digits.
const PLAIN_INTEGER: i64 = 100_000_000_000_000;

/// A number argument as Redis writes it (`number_arg`), integers without formatting
/// machinery (-0 keeps its sign, as in `%.17g`).
fn write_number(out: &mut Vec<u8>, d: f64) {
    if d.fract() == 0.0 && d.abs() < PLAIN_INTEGER as f64 && !(d == 0.0 && d.is_sign_negative()) {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{}", d as i64);
    } else {
        out.extend_from_slice(number_arg(d).as_bytes());
    }
}

/// One `redis.call` / `redis.pcall`: (true, reply) or (false, error table).
/// The arguments are those `entry` read into `run`.
fn command(lua: &Lua, srv: &Server, run: &mut Run) -> mlua::Result<(bool, Value)> {
    const NOT_STRING: &str = "ERR Lua redis lib command arguments must be strings or integers";
    let Run { session, out, atomic, read_only, resp, stats, budget, clock, now_ms, args: bytes, ends, bad_arg, .. } = run;
    // A run that moves does nothing more here (it may have caught the hook's error).
    if budget.moving() {
        return err_table(lua, MOVING);
    }
    if *bad_arg {
        return err_table(lua, NOT_STRING);
    }
    let mut argv: SmallVec<[&[u8]; 8]> = SmallVec::with_capacity(ends.len());
    let mut from = 0;
    for &end in ends.iter() {
        argv.push(&bytes[from..end]);
        from = end;
    }
    let Some(name) = argv.first() else {
        return err_table(lua, "ERR Please specify at least one argument for this redis lib call");
    };
    let Some((idx, spec)) = commands::lookup(name) else {
        return err_table(lua, "ERR Unknown Redis command called from script");
    };
    if spec.has(flag::NOSCRIPT) {
        return err_table(lua, "ERR This Redis command is not allowed from script");
    }
    if !spec.arity_ok(argv.len()) {
        return err_table(lua, "ERR Wrong number of args calling Redis command from script");
    }
    let writes = spec.has(flag::WRITE);
    if writes && *read_only {
        return err_table(lua, "ERR Write commands are not allowed from read-only scripts.");
    }
    // An inline run past its budget moves now, while it has done nothing a second run
    // would do again (a write, a PUBLISH...).
    if writes || spec.has(flag::MAY_REPLICATE) || spec.has(flag::PUBSUB) {
        if budget.over() {
            return err_table(lua, MOVING);
        }
        budget.wrote();
    }
    if writes {
        srv.scripting.wrote.store(true, SeqCst);
    }
    out.buf.clear();
    out.version = *resp;
    let mut ctx = Ctx::new(srv, session, out, *now_ms);
    ctx.atomic = atomic.take();
    commands::dispatch_found(&mut ctx, &argv, idx, spec, stats, clock);
    *atomic = ctx.atomic.take();
    ctx.session.after = After::Continue;
    let failed = out.buf.first() == Some(&b'-');
    let v = reply_to_lua(lua, &out.buf, &mut 0)?;
    out.buf.clear();
    Ok((!failed, v))
}

#[cfg(test)]
mod tests {
    use super::{PLAIN_INTEGER, number_arg, write_number};

    #[test]
    fn a_number_argument_is_written_as_number_arg_writes_it() {
        let p = PLAIN_INTEGER as f64;
        for d in [0.0, -0.0, 1.0, -1.0, 0.5, 1e-20, -1e-300, p - 1.0, -(p - 1.0), p, 2f64.powi(53), f64::INFINITY, f64::NAN, -f64::NAN] {
            let mut out = Vec::new();
            write_number(&mut out, d);
            assert_eq!(String::from_utf8(out).unwrap(), number_arg(d), "{d}");
        }
    }

    #[test]
    fn integers_below_the_limit_print_as_redis_prints_them() {
        for n in [0i64, 1, -1, 42, PLAIN_INTEGER - 1, -(PLAIN_INTEGER - 1)] {
            assert_eq!(number_arg(n as f64), n.to_string());
        }
    }

    #[test]
    fn numbers_print_with_17_digits() {
        assert_eq!(number_arg(0.1), "0.10000000000000001");
        assert_eq!(number_arg(1e15), "1000000000000000");
        assert_eq!(number_arg(2f64.powi(60)), "1.152921504606847e+18");
        assert_eq!(number_arg(f64::INFINITY), "inf");
        assert_eq!(number_arg(f64::NEG_INFINITY), "-inf");
        assert_eq!(number_arg(f64::NAN), "nan");
        assert_eq!(number_arg(-f64::NAN), "-nan");
    }
}
