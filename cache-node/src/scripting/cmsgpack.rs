//! The `cmsgpack` library (lua-cmsgpack 0.4 as Redis 7.0 ships it): `pack(...)`
//! (several values concatenate), `unpack(s)` (every value), `unpack_one(s [, offset])`
//! and `unpack_limit(s, limit [, offset])` (the next offset, -1 at the end, then the
//! values). The wire format and its quirks live in msgpack.rs.

use mlua::{Lua, Table, Value};

use super::lib_args::{self, Args, LibError, MAX_C_STACK};
use super::msgpack::{self, Builder, Next, Scalar};

/// Tables nested deeper are written as nil (this also ends cycles).
const MAX_NESTING: usize = 16;

/// A table entry's value with its number exact (see lib_args.rs).
fn exact(t: &Table, key: Value, v: Value) -> Value {
    match v {
        Value::Integer(_) | Value::Number(_) => t.raw_get::<f64>(key).map(Value::Number).unwrap_or(v),
        v => v,
    }
}

fn encode(v: &Value, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => msgpack::put_str(out, &s.as_bytes()),
        Value::Boolean(b) => msgpack::put_bool(out, *b),
        Value::Integer(i) => msgpack::put_number(out, *i as f64),
        Value::Number(n) => msgpack::put_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => encode_table(t, out, level)?,
        _ => msgpack::put_nil(out),
    }
    Ok(())
}

/// An array when the keys are exactly 1..n (`int`-sized), else a map in `next` order.
fn encode_table(t: &Table, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    let (mut count, mut max, mut array) = (0usize, 0i64, true);
    t.for_each::<Value, Value>(|k, _| {
        count += 1;
        if array {
            let n = match k {
                Value::Integer(i) => i as f64,
                Value::Number(n) => n,
                _ => f64::NAN,
            };
            if n > 0.0 && n <= f64::from(i32::MAX) && n.fract() == 0.0 {
                max = max.max(n as i64);
            } else {
                array = false;
            }
        }
        Ok(())
    })?;
    if array && max == count as i64 {
        msgpack::put_array_header(out, count);
        for j in 1..=count {
            let v = exact(t, Value::Integer(j as i64), t.raw_get::<Value>(j)?);
            encode(&v, out, level + 1)?;
        }
        return Ok(());
    }
    msgpack::put_map_header(out, count);
    t.for_each::<Value, Value>(|k, v| {
        let v = exact(t, k.clone(), v);
        encode(&k, out, level + 1)?;
        encode(&v, out, level + 1)
    })
}

fn pack(args: &Args<'_>) -> Result<Vec<u8>, LibError> {
    if args.count == 0 {
        return Err(LibError::arg(0, "MessagePack pack needs input."));
    }
    // lua_checkstack(L, nargs) with the arguments already on the stack.
    if 2 * args.count > MAX_C_STACK {
        return Err(LibError::arg(0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for i in 1..=args.count {
        encode(&args.get(i).unwrap_or(Value::Nil), &mut out, 0).map_err(lua_err)?;
    }
    Ok(out)
}

/// A decoded value while the decoder holds it: scalars as they are, strings and tables
/// in a slot of `LuaBuilder::held` (an open table and its pending key at each of ~4000
/// nesting levels would exhaust mlua's references if Rust held them).
enum Held {
    Nil,
    Bool(bool),
    Num(f64),
    Slot(usize),
}

/// Builds Lua values; tables are filled as lua-cmsgpack fills them. Slots are used last
/// in, first out, as the decoder completes values.
struct LuaBuilder<'l> {
    lua: &'l Lua,
    held: Table,
    top: usize,
}

fn lua_err(e: mlua::Error) -> LibError {
    LibError::Bare(e.to_string())
}

impl LuaBuilder<'_> {
    fn hold(&mut self, v: Value) -> Result<Held, LibError> {
        self.top += 1;
        self.held.raw_set(self.top, v).map_err(lua_err)?;
        Ok(Held::Slot(self.top))
    }

    /// The value, its slot freed (with every slot above it).
    fn take(&mut self, h: Held) -> Result<Value, LibError> {
        Ok(match h {
            Held::Nil => Value::Nil,
            Held::Bool(b) => Value::Boolean(b),
            Held::Num(n) => Value::Number(n),
            Held::Slot(i) => {
                let v = self.held.raw_get::<Value>(i).map_err(lua_err)?;
                for j in i..=self.top {
                    self.held.raw_set(j, Value::Nil).map_err(lua_err)?;
                }
                self.top = i - 1;
                v
            }
        })
    }
}

impl Builder for LuaBuilder<'_> {
    type Value = Held;
    type Error = LibError;

    fn scalar(&mut self, s: Scalar<'_>) -> Result<Held, LibError> {
        match s {
            Scalar::Nil => Ok(Held::Nil),
            Scalar::Bool(b) => Ok(Held::Bool(b)),
            Scalar::Num(n) => Ok(Held::Num(n)),
            Scalar::Str(s) => {
                let s = self.lua.create_string(s).map_err(lua_err)?;
                self.hold(Value::String(s))
            }
        }
    }

    fn table(&mut self) -> Result<Held, LibError> {
        let t = self.lua.create_table().map_err(lua_err)?;
        self.hold(Value::Table(t))
    }

    fn set(&mut self, t: &Held, key: Held, value: Held) -> Result<(), LibError> {
        match key {
            Held::Nil => return Err(LibError::Bare("table index is nil".into())),
            Held::Num(n) if n.is_nan() => return Err(LibError::Bare("table index is NaN".into())),
            _ => {}
        }
        // The value sits above the key: take it first.
        let value = self.take(value)?;
        let key = self.take(key)?;
        if let Held::Slot(i) = t {
            let t: Table = self.held.raw_get(*i).map_err(lua_err)?;
            t.raw_set(key, value).map_err(lua_err)?;
        }
        Ok(())
    }
}

/// Runs one of the unpackers; returns its results as a table and their count. Each
/// value goes into the table as soon as it is decoded (see `msgpack::unpack`).
fn unpack(lua: &Lua, args: &Args<'_>, limit: i64, offset: i64, base: usize) -> Result<(Value, usize), LibError> {
    let input = args.string(1)?;
    let out = lua.create_table().map_err(lua_err)?;
    let mut builder = LuaBuilder { lua, held: lua.create_table().map_err(lua_err)?, top: 0 };
    // Slot 1 is kept for the offset, which Redis returns first.
    let first = if limit == 0 && offset == 0 { 1 } else { 2 };
    let mut n = first - 1;
    let (count, next) = msgpack::unpack(&mut builder, &input.as_bytes(), limit, offset, base, |b, v| {
        n += 1;
        out.raw_set(n, b.take(v)?).map_err(lua_err)
    })?;
    if let Next::Offset(o) = next {
        out.raw_set(1, o as f64).map_err(lua_err)?;
    }
    Ok((Value::Table(out), count + first - 1))
}

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, (n, a): (usize, Table)| {
            let r = pack(&Args::new(lua, n, a)).and_then(|b| lua.create_string(&b).map(|s| (Value::String(s), 1)).map_err(lua_err));
            Ok(lib_args::answer(lua, r))
        })?,
    )?;
    // Every argument of unpack stays on Redis's stack while it decodes; the others
    // keep only the string.
    t.set("unpack", lua.create_function(|lua, (n, a): (usize, Table)| Ok(lib_args::answer(lua, unpack(lua, &Args::new(lua, n, a), 0, 0, n))))?)?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (n, a): (usize, Table)| {
            let args = Args::new(lua, n, a);
            let r = args.opt_integer(2, 0).and_then(|offset| unpack(lua, &args, 1, offset, 1));
            Ok(lib_args::answer(lua, r))
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, (n, a): (usize, Table)| {
            let args = Args::new(lua, n, a);
            let r = args.integer(2).and_then(|limit| Ok((limit, args.opt_integer(3, 0)?))).and_then(|(limit, offset)| unpack(lua, &args, limit, offset, 1));
            Ok(lib_args::answer(lua, r))
        })?,
    )?;
    lib_args::wrap(lua, t, &["unpack", "unpack_one", "unpack_limit"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        let lua = Lua::new();
        lua.globals().set("cmsgpack", library(&lua).unwrap()).unwrap();
        lua
    }

    fn bytes(lua: &Lua, src: &str) -> Vec<u8> {
        lua.load(src).eval::<mlua::String>().unwrap().as_bytes().to_vec()
    }

    #[test]
    fn packs_lua_values() {
        let lua = lua();
        assert_eq!(bytes(&lua, "return cmsgpack.pack(nil, true, false, 1, -1, 'a')"), [0xc0, 0xc3, 0xc2, 0x01, 0xff, 0xa1, b'a']);
        assert_eq!(bytes(&lua, "return cmsgpack.pack({1, 2}, {})"), [0x92, 1, 2, 0x90]);
        assert_eq!(bytes(&lua, "return cmsgpack.pack({1, nil, 3})"), [0x82, 1, 1, 3, 3]);
        assert_eq!(bytes(&lua, "return cmsgpack.pack({a = 0.5})"), [0x81, 0xa1, b'a', 0xca, 0x3f, 0, 0, 0]);
        // Exact doubles, even those mlua would read as integers.
        let mut tiny = vec![0x91, 0xcb];
        tiny.extend_from_slice(&1e-300f64.to_be_bytes());
        assert_eq!(bytes(&lua, "return cmsgpack.pack({1e-300})"), tiny);
        // Nesting stops at 16 levels (a cycle too).
        let cyc = bytes(&lua, "local t = {} t[1] = t return cmsgpack.pack(t)");
        assert_eq!(cyc, [vec![0x91; 16], vec![0xc0]].concat());
        assert_eq!(bytes(&lua, "return cmsgpack.pack(print)"), [0xc0]);
    }

    #[test]
    fn unpacks_round_trips_and_offsets() {
        let lua = lua();
        let ok: bool = lua
            .load(
                "local t = cmsgpack.unpack(cmsgpack.pack({1, 'two', {x = 3, y = {true}}, 2^40, -2^40, 0.25})) \
                 return t[1] == 1 and t[2] == 'two' and t[3].x == 3 and t[3].y[1] == true and t[4] == 2^40 and t[5] == -2^40 and t[6] == 0.25",
            )
            .eval()
            .unwrap();
        assert!(ok);
        let r: String = lua
            .load(
                "local a, b = cmsgpack.unpack_one('\\1\\2') local c, d, e = cmsgpack.unpack_limit('\\1\\2\\3', 2, 1) return table.concat({a, b, c, d, e}, ' ')",
            )
            .eval()
            .unwrap();
        assert_eq!(r, "1 1 -1 2 3");
        let n: usize = lua.load("return select('#', cmsgpack.unpack(string.rep('\\192', 7999)))").eval().unwrap();
        assert_eq!(n, 7999);
    }

    #[test]
    fn bad_input_is_an_error_with_redis_text() {
        let lua = lua();
        let err = |src: &str| lua.load(src).exec().unwrap_err().to_string();
        assert!(err("cmsgpack.unpack('\\145')").contains("Missing bytes in input."));
        assert!(err("cmsgpack.unpack('\\196\\1a')").contains("Bad data format in input."));
        assert!(err("cmsgpack.unpack('\\129\\192\\1')").contains("table index is nil"));
        assert!(err("cmsgpack.pack()").contains("bad argument #0 to 'pack' (MessagePack pack needs input.)"));
        assert!(err("cmsgpack.unpack_one('', 5)").contains("Start offset 5 greater than input length 0."));
        assert!(err("cmsgpack.unpack_limit('ab', -1)").contains("Invalid request to unpack with offset of 0 and limit of 2."));
        assert!(err("cmsgpack.unpack_limit('a')").contains("bad argument #2 to 'unpack_limit' (number expected, got no value)"));
        assert!(err("cmsgpack.unpack(string.rep('\\1', 8000))").contains("stack overflow"));
        // pcall sees the C library's plain string.
        let msg: String = lua.load("local ok, e = pcall(cmsgpack.unpack, '\\193') return e").eval().unwrap();
        assert_eq!(msg, "Bad data format in input.");
    }
}
