//! The `cjson` library scripts use: `cjson.encode` and `cjson.decode` behaving as
//! lua-cjson does for the common cases (arrays vs objects, `cjson.null`, escaping,
//! `%.14g` numbers, the sparse-array and nesting limits). The decoder is
//! `cjson_decode.rs`.

use mlua::{LightUserData, Lua, Table, Value};

use super::cjson_decode::Json;

const MAX_DEPTH: usize = 1000;

/// `cjson.null`: a NULL light userdata, as in lua-cjson.
pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub fn library(lua: &Lua, raise: fn(&Lua, &str) -> mlua::Error) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(move |lua, v: mlua::MultiValue| {
            if v.len() != 1 {
                return Err(raise(lua, &bad_argument(lua, "expected 1 argument")));
            }
            let mut out = Vec::new();
            let v = v.into_iter().next().unwrap_or(Value::Nil);
            encode(&v, &mut out, 0).map_err(|e| raise(lua, &format!("{}{e}", location(lua))))?;
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(move |lua, v: mlua::MultiValue| {
            if v.len() != 1 {
                return Err(raise(lua, &bad_argument(lua, "expected 1 argument")));
            }
            let text = match v.into_iter().next().unwrap_or(Value::Nil) {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => format_number(n).into_bytes(),
                other => return Err(raise(lua, &bad_argument(lua, &format!("string expected, got {}", super::lib_args::type_name(&other))))),
            };
            let parsed = super::cjson_decode::decode(&text).map_err(|e| raise(lua, &format!("{}{e}", location(lua))))?;
            to_lua(lua, &parsed)
        })?,
    )?;
    t.set("null", null())?;
    Ok(t)
}

/// Where the calling script is (`user_script:3: `), as `luaL_error` prefixes the
/// errors of a C function with its caller's line: level 2, above this function and the
/// `raise_text` closure it runs behind (engine.rs). Under `pcall` the caller is C and
/// there is no prefix, as in Redis.
fn location(lua: &Lua) -> String {
    super::lib_args::location_at(lua, 2)
}

/// `bad argument #1 to 'decode' (...)`, the function named as its caller called it
/// (the `raise_text` closure's frame), `?` through pcall, as `luaL_argerror` says it.
fn bad_argument(lua: &Lua, why: &str) -> String {
    format!("{}bad argument #1 to '{}' ({why})", location(lua), super::lib_args::name_at(lua, 1))
}

/// lua-cjson's number format (`%.14g`).
pub fn format_number(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e14 {
        return format!("{}", d as i64);
    }
    let sci = format!("{d:.13e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if (-4..14).contains(&exp) {
        let decimals = (13 - exp).max(0) as usize;
        trim(format!("{d:.decimals$}"))
    } else {
        format!("{}e{}{:02}", trim(mantissa.to_string()), if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(format_number(*n).as_bytes());
        }
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({})", depth + 1));
            }
            encode_table(t, out, depth + 1)?;
        }
        other => return Err(format!("Cannot serialise {}: type not supported", other.type_name())),
    }
    Ok(())
}

fn encode_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().filter_map(Result::ok).collect();
    // An array when every key is a positive integer (lua-cjson's rule).
    let mut max = 0usize;
    let is_array = !pairs.is_empty()
        && pairs.iter().all(|(k, _)| {
            let n = match k {
                Value::Integer(n) => *n as f64,
                Value::Number(n) => *n,
                _ => return false,
            };
            if n >= 1.0 && n.fract() == 0.0 {
                max = max.max(n as usize);
                true
            } else {
                false
            }
        });
    if is_array {
        if max > pairs.len() * 2 && max > 10 {
            return Err("Cannot serialise table: excessively sparse array".into());
        }
        out.push(b'[');
        for i in 1..=max {
            if i > 1 {
                out.push(b',');
            }
            let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
            encode(&v, out, depth)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match k {
            Value::String(s) => encode_string(&s.as_bytes(), out),
            Value::Integer(n) => encode_string(n.to_string().as_bytes(), out),
            Value::Number(n) => encode_string(format_number(*n).as_bytes(), out),
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(b':');
        encode(v, out, depth)?;
    }
    out.push(b'}');
    Ok(())
}

/// Builds the decoded value as lua-cjson does: objects start empty and fill in text
/// order, so they grow (and `pairs` walks them) as in Redis.
fn to_lua(lua: &Lua, v: &Json<'_>) -> mlua::Result<Value> {
    Ok(match v {
        Json::Null => null(),
        Json::Bool(b) => Value::Boolean(*b),
        Json::Num(n) => Value::Number(*n),
        Json::Str(s) => Value::String(lua.create_string(s)?),
        Json::Arr(items) => {
            // An array part walks 1..n however it was sized; only objects must grow as
            // lua-cjson grows them to keep its `pairs` order.
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Json::Obj(members) => {
            let t = lua.create_table()?;
            for (k, item) in members {
                let v = to_lua(lua, item)?;
                // A `&str` key goes straight onto the Lua stack; a `String` handle would
                // cost a registry slot per key.
                match std::str::from_utf8(k) {
                    Ok(k) => t.raw_set(k, v)?,
                    Err(_) => t.raw_set(lua.create_string(k)?, v)?,
                }
            }
            Value::Table(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> String {
        let lua = Lua::new();
        lua.globals().set("cjson", library(&lua, |_, m| mlua::Error::runtime(m.to_string())).unwrap()).unwrap();
        match lua.load(src).eval::<Value>() {
            Ok(Value::String(s)) => s.to_string_lossy(),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn encodes_like_lua_cjson() {
        assert_eq!(run("return cjson.encode({1, 2, 'a/b', true, cjson.null})"), r#"[1,2,"a\/b",true,null]"#);
        assert_eq!(run("return cjson.encode({a = 1.5})"), r#"{"a":1.5}"#);
        assert_eq!(run("return cjson.encode({})"), "{}");
        assert_eq!(run("return cjson.encode(0.1)"), "0.1");
        assert_eq!(run("return cjson.encode(1/3)"), "0.33333333333333");
        assert_eq!(run("return cjson.encode('a\"\\n')"), r#""a\"\n""#);
        assert_eq!(run("return cjson.encode({[1] = 1, [3] = 3})"), "[1,null,3]");
        assert!(run("return cjson.encode({[20] = 1})").contains("excessively sparse array"));
        assert!(run("return cjson.encode(function() end)").contains("Cannot serialise function: type not supported"));
        assert!(run("local t = {} t[1] = t return cjson.encode(t)").contains("excessive nesting"));
    }

    #[test]
    fn decodes_to_tables() {
        assert_eq!(run(r#"local t = cjson.decode('{"a":[1,2,{"b":"c"}],"n":null}') return t.a[3].b .. tostring(t.n == cjson.null) .. #t.a"#), "ctrue3");
        assert!(run("return cjson.decode('{bad')").contains("Expected object key string but found invalid token at character 2"));
        assert_eq!(run(r#"return cjson.encode(cjson.decode('[1,"x",false]'))"#), r#"[1,"x",false]"#);
    }
}
