//! Arguments and errors of the `struct` and `cmsgpack` libraries, with the checks and
//! messages of Lua's C API (`luaL_checknumber`, `luaL_argerror`, ...) their C originals
//! use, so scripts fail with Redis's exact texts.
//!
//! A library function is three layers: a C trampoline (what scripts call), a Lua half
//! (lib_wrap.lua) and a Rust half. The Lua half passes the arguments as one table plus a
//! count: reading a number with `raw_get::<f64>` keeps every bit of it (mlua's `Value`
//! turns doubles within 2^-52 of an integer into that integer), and thousands of
//! arguments or results cost one Lua reference instead of one each.

use std::os::raw::c_int;

use mlua::{Function, Lua, Table, Value, ffi};

/// Lua 5.1's LUAI_MAXCSTACK: how many values a C function may hold on its stack. The C
/// libraries fail with "stack overflow (...)" beyond it; ours count the same slots.
pub const MAX_C_STACK: usize = 8000;

/// An error as the C libraries raise it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibError {
    /// `luaL_argerror` (the function's name is filled in when raised).
    /// Bytes: an invalid format option is quoted as the byte it is.
    #[error("bad argument #{arg} to '{{}}' ({})", String::from_utf8_lossy(.msg))]
    Arg { arg: i64, msg: Vec<u8> },
    /// `luaL_error`: prefixed with the calling script line.
    #[error("{0}")]
    Located(String),
    /// Raised by the Lua core itself (`lua_settable`): no location.
    #[error("{0}")]
    Bare(String),
}

impl LibError {
    pub fn arg(arg: i64, msg: impl Into<Vec<u8>>) -> Self {
        LibError::Arg { arg, msg: msg.into() }
    }

    /// `luaL_checkstack`'s failure.
    pub fn stack_overflow(what: &str) -> Self {
        LibError::Located(format!("stack overflow ({what})"))
    }

    /// The text the C library raises: `luaL_error` puts the calling script line first.
    pub fn message(&self, lua: &Lua) -> Vec<u8> {
        match self {
            LibError::Bare(m) => m.clone().into_bytes(),
            LibError::Arg { arg, msg } => {
                let mut m = format!("{}bad argument #{arg} to '{}' (", location(lua), function_name(lua)).into_bytes();
                m.extend_from_slice(msg);
                m.push(b')');
                m
            }
            other => format!("{}{other}", location(lua)).into_bytes(),
        }
    }
}

/// The stack level of the library function as its caller sees it: past the Rust half
/// (level 0) and the Lua half (chunk `=redis`), the C trampoline that scripts call.
fn caller_level(lua: &Lua) -> usize {
    let mut level = 1;
    while lua.inspect_stack(level).is_some_and(|d| d.source().source.as_deref() == Some("=redis")) {
        level += 1;
    }
    level
}

/// `luaL_where(L, 1)`: the script line calling the library (`user_script:3: `), or
/// nothing when a C function (pcall) called it.
fn location(lua: &Lua) -> String {
    location_at(lua, caller_level(lua) + 1)
}

/// The line of the Lua function at stack `level` (`user_script:3: `), or nothing when
/// that frame is C.
pub(super) fn location_at(lua: &Lua, level: usize) -> String {
    match lua.inspect_stack(level) {
        Some(d) if d.curr_line() > 0 => format!("{}:{}: ", d.source().short_src.unwrap_or_default(), d.curr_line()),
        _ => String::new(),
    }
}

/// The function's name as its caller called it (`pack` in `struct.pack(..)`, `p` after
/// `local p = struct.pack`, `?` through pcall), as `luaL_argerror` finds it.
fn function_name(lua: &Lua) -> String {
    name_at(lua, caller_level(lua))
}

/// The name the function at stack `level` was called by, `?` when unknown.
pub(super) fn name_at(lua: &Lua, level: usize) -> String {
    lua.inspect_stack(level).and_then(|d| d.names().name.map(|n| n.into_owned())).unwrap_or_else(|| "?".into())
}

/// Lua's `lua_typename` for an argument (`no value` past the last one).
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// 2^63, where int64 ends.
pub const TWO_63: f64 = (1u64 << 63) as f64;

/// x86-64's double to int64 conversion (cvttsd2si): what C's `(long)d` gives when `d`
/// is out of range or NaN.
pub fn c_to_i64(d: f64) -> i64 {
    if d.is_nan() || !(-TWO_63..TWO_63).contains(&d) { i64::MIN } else { d as i64 }
}

/// What gcc's x86-64 code makes of `(unsigned long)d` for any double.
pub fn c_to_u64(d: f64) -> u64 {
    if d >= TWO_63 { (c_to_i64(d - TWO_63) as u64) ^ (1 << 63) } else { c_to_i64(d) as u64 }
}

/// One call's arguments (1-based, as on the Lua stack).
pub struct Args<'a> {
    pub lua: &'a Lua,
    pub count: usize,
    table: Table,
    /// `struct.pack` pushes a nil after its arguments once it has its format: one
    /// missing value reads as nil there, not as no value.
    pub nil_after: bool,
}

impl<'a> Args<'a> {
    pub fn new(lua: &'a Lua, count: usize, table: Table) -> Self {
        Args { lua, count, table, nil_after: false }
    }

    /// The argument, numbers exact.
    pub fn get(&self, i: usize) -> Option<Value> {
        if self.nil_after && i >= 2 && i == self.count + 1 {
            return Some(Value::Nil);
        }
        if i == 0 || i > self.count {
            return None;
        }
        match self.table.raw_get::<Value>(i) {
            Ok(Value::Integer(_) | Value::Number(_)) => self.table.raw_get::<f64>(i).ok().map(Value::Number),
            Ok(v) => Some(v),
            Err(_) => Some(Value::Nil),
        }
    }

    fn expected(&self, i: usize, what: &str, got: Option<&Value>) -> LibError {
        LibError::arg(i as i64, format!("{what} expected, got {}", got.map_or("no value", type_name)))
    }

    /// `luaL_checknumber`: numbers and strings Lua converts.
    pub fn number(&self, i: usize) -> Result<f64, LibError> {
        match self.get(i) {
            Some(Value::Number(n)) => Ok(n),
            Some(v @ Value::String(_)) => self.lua.coerce_number(v.clone()).ok().flatten().ok_or_else(|| self.expected(i, "number", Some(&v))),
            other => Err(self.expected(i, "number", other.as_ref())),
        }
    }

    /// `luaL_checklstring`: strings, and numbers as Lua prints them.
    pub fn string(&self, i: usize) -> Result<mlua::String, LibError> {
        match self.get(i) {
            Some(Value::String(s)) => Ok(s),
            Some(v @ Value::Number(_)) => self.lua.coerce_string(v.clone()).ok().flatten().ok_or_else(|| self.expected(i, "string", Some(&v))),
            other => Err(self.expected(i, "string", other.as_ref())),
        }
    }

    /// `luaL_checkinteger`: the number truncated as C truncates it.
    pub fn integer(&self, i: usize) -> Result<i64, LibError> {
        self.number(i).map(c_to_i64)
    }

    /// `luaL_optinteger`.
    pub fn opt_integer(&self, i: usize, default: i64) -> Result<i64, LibError> {
        match self.get(i) {
            None | Some(Value::Nil) => Ok(default),
            Some(_) => self.integer(i),
        }
    }
}

/// What a library function's Rust half answers its Lua half (lib_wrap.lua): `true`,
/// the result and, for those that return several, their count; or `false` and the
/// error's text.
pub fn answer(lua: &Lua, r: Result<(Value, usize), LibError>) -> (bool, Value, usize) {
    match r {
        Ok((v, n)) => (true, v, n),
        Err(e) => (false, lua.create_string(e.message(lua)).map(Value::String).unwrap_or(Value::Nil), 0),
    }
}

/// The C function scripts call: it calls its upvalue, the library function's Lua half,
/// with every argument and returns every result. Being C, it keeps the caller's frame
/// when a script tail-calls it (`return struct.pack(..)`), as Redis's C functions do,
/// so errors still name the script's line.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with its stack; the closure has one upvalue (see `wrap`),
    // and a C function may push LUA_MINSTACK values. Errors raised by the call unwind
    // through this frame, which owns nothing.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}

/// The library table scripts see: the Rust functions in `imp` behind lib_wrap.lua and
/// the trampoline; those named in `spreads` return a table of results and their count.
pub fn wrap(lua: &Lua, imp: Table, spreads: &[&str]) -> mlua::Result<Table> {
    let names = lua.create_table()?;
    for name in spreads {
        names.raw_set(*name, true)?;
    }
    let halves: Table = lua.load(include_str!("lib_wrap.lua")).set_name("=redis").call((imp, names))?;
    let lib = lua.create_table()?;
    for pair in halves.pairs::<mlua::String, Function>() {
        let (name, half) = pair?;
        // SAFETY: pushes a C closure over `half`, the one value on the fresh stack.
        let f: Function = unsafe { lua.exec_raw(half, |state| ffi::lua_pushcclosure(state, trampoline, 1))? };
        lib.raw_set(name, f)?;
    }
    Ok(lib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_follow_x86() {
        assert_eq!(c_to_i64(-1.9), -1);
        assert_eq!(c_to_i64(f64::NAN), i64::MIN);
        assert_eq!(c_to_i64(1e300), i64::MIN);
        assert_eq!(c_to_u64(-1.0), u64::MAX);
        assert_eq!(c_to_u64(1e300), 0);
        assert_eq!(c_to_u64(f64::NAN), 1 << 63);
        assert_eq!(c_to_u64(TWO_63), 1 << 63);
        assert_eq!(c_to_u64(2.0 * TWO_63 - 2048.0), u64::MAX - 2047);
    }

    #[test]
    fn errors_read_like_lauxlib() {
        assert_eq!(LibError::arg(2, "number expected, got string").to_string(), "bad argument #2 to '{}' (number expected, got string)");
        assert_eq!(LibError::stack_overflow("too many results").to_string(), "stack overflow (too many results)");
    }
}
