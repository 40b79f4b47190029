//! Conversions between replies and Lua values, as Redis documents them: a command's
//! RESP2 or RESP3 reply becomes a Lua value for `redis.call`, and the script's return
//! value becomes the reply (in the caller's protocol).

use mlua::{Lua, Table, Value};

use crate::protocol::Reply;

/// Deepest nesting converted (deeper parts become nil / a null reply), so a
/// self-referencing table cannot recurse without end.
const MAX_DEPTH: usize = 200;

/// Reads one reply from `buf` at `*pos` (well-formed output of our own encoder) into a
/// Lua value. `Ok(None)` when the buffer ends early (it never should).
pub fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let Some(&kind) = buf.get(*pos) else { return Ok(Value::Nil) };
    let line = read_line(buf, pos);
    let text = &line[1..];
    let num = || std::str::from_utf8(text).ok().and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
    Ok(match kind {
        b'+' => single(lua, "ok", Value::String(lua.create_string(text)?))?,
        b'-' => single(lua, "err", Value::String(lua.create_string(text)?))?,
        b':' => Value::Number(num() as f64),
        b'$' => {
            let n = num();
            if n < 0 {
                Value::Boolean(false)
            } else {
                let s = lua.create_string(take(buf, pos, n as usize))?;
                Value::String(s)
            }
        }
        b'*' | b'>' => {
            let n = num();
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                t.raw_set(i, reply_to_lua(lua, buf, pos)?)?;
            }
            Value::Table(t)
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(text == b"t"),
        b',' => {
            let d = std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0);
            single(lua, "double", Value::Number(d))?
        }
        b'(' => single(lua, "big_number", Value::String(lua.create_string(text)?))?,
        b'=' => {
            let body = take(buf, pos, num().max(0) as usize);
            let (format, s) = if body.len() >= 4 { (&body[..3], &body[4..]) } else { (&b"txt"[..], body) };
            let v = lua.create_table()?;
            v.raw_set("format", lua.create_string(format)?)?;
            v.raw_set("string", lua.create_string(s)?)?;
            single(lua, "verbatim_string", Value::Table(v))?
        }
        b'%' | b'~' => {
            let n = num().max(0);
            let inner = lua.create_table()?;
            for _ in 0..n {
                let k = reply_to_lua(lua, buf, pos)?;
                let v = if kind == b'%' { reply_to_lua(lua, buf, pos)? } else { Value::Boolean(true) };
                if !k.is_nil() {
                    inner.raw_set(k, v)?;
                }
            }
            single(lua, if kind == b'%' { "map" } else { "set" }, Value::Table(inner))?
        }
        _ => Value::Nil,
    })
}

fn single(lua: &Lua, key: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(key, v)?;
    Ok(Value::Table(t))
}

/// The line at `*pos` without its CRLF; `*pos` moves past it.
fn read_line<'b>(buf: &'b [u8], pos: &mut usize) -> &'b [u8] {
    let start = *pos;
    let end = buf[start..].windows(2).position(|w| w == b"\r\n").map_or(buf.len(), |i| start + i);
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

/// `n` bytes of a bulk payload and its CRLF.
fn take<'b>(buf: &'b [u8], pos: &mut usize, n: usize) -> &'b [u8] {
    let start = (*pos).min(buf.len());
    let end = (start + n).min(buf.len());
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

/// Writes a script's return value as a reply.
/// `script_resp3`: the script chose RESP3 (`redis.setresp(3)`), which makes its
/// booleans booleans (RESP2 scripts return true as 1 and false as null).
pub fn lua_to_reply(v: &Value, out: &mut Reply, script_resp3: bool) {
    write_value(v, out, 0, script_resp3);
}

fn write_value(v: &Value, out: &mut Reply, depth: usize, r3: bool) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) if r3 => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(*n as i64),
        Value::Table(t) if depth < MAX_DEPTH => write_table(t, out, depth, r3),
        _ => out.null(),
    }
}

fn string_field(t: &Table, key: &str) -> Option<Vec<u8>> {
    match t.raw_get::<Value>(key).ok()? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

fn write_table(t: &Table, out: &mut Reply, depth: usize, r3: bool) {
    if let Some(err) = string_field(t, "err") {
        // Redis formats the text with `%s`: it ends at a NUL.
        let end = err.iter().position(|&b| b == 0).unwrap_or(err.len());
        out.error_bytes(&err[..end]);
        return;
    }
    if let Some(ok) = string_field(t, "ok") {
        // Redis copies the text as a C string: it ends at a NUL.
        let end = ok.iter().position(|&b| b == 0).unwrap_or(ok.len());
        let ok: Vec<u8> = ok[..end].iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
        out.buf.push(b'+');
        out.buf.extend_from_slice(&ok);
        out.buf.extend_from_slice(b"\r\n");
        return;
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        let s = format_g17(d);
        if out.is_resp3() {
            out.raw(format!(",{s}\r\n").as_bytes());
        } else {
            out.bulk(s.as_bytes());
        }
        return;
    }
    if let Some(big) = string_field(t, "big_number") {
        if out.is_resp3() {
            let big: Vec<u8> = big.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
            out.buf.push(b'(');
            out.buf.extend_from_slice(&big);
            out.buf.extend_from_slice(b"\r\n");
        } else {
            out.bulk(&big);
        }
        return;
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = map.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(k, out, depth + 1, r3);
            write_value(v, out, depth + 1, r3);
        }
        return;
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = set.pairs::<Value, Value>().filter_map(|p| p.ok().map(|(k, _)| k)).collect();
        out.set(keys.len());
        for k in &keys {
            write_value(k, out, depth + 1, r3);
        }
        return;
    }
    if let Ok(Value::Table(vs)) = t.raw_get::<Value>("verbatim_string")
        && let (Some(format), Some(s)) = (string_field(&vs, "format"), string_field(&vs, "string"))
    {
        if out.is_resp3() && format.len() == 3 {
            out.raw(format!("={}\r\n", s.len() + 4).as_bytes());
            out.raw(&format);
            out.raw(b":");
            out.raw(&s);
            out.raw(b"\r\n");
        } else {
            out.bulk(&s);
        }
        return;
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write_value(v, out, depth + 1, r3);
    }
}

/// C's `%.17g`, which Redis uses for a script's doubles (the same as a sorted-set score).
pub fn format_g17(d: f64) -> String {
    crate::commands::zsets::score::format(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RespVersion;

    #[test]
    fn g17_matches_c() {
        assert_eq!(format_g17(3.25), "3.25");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(100.0), "100");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_g17(0.0001), "0.0001");
        assert_eq!(format_g17(-2.5), "-2.5");
        assert_eq!(format_g17(f64::INFINITY), "inf");
    }

    fn round_trip(reply: &[u8], resp3: bool) -> Vec<u8> {
        let lua = Lua::new();
        let mut pos = 0;
        let v = reply_to_lua(&lua, reply, &mut pos).unwrap();
        assert_eq!(pos, reply.len());
        let mut out = Reply::new(if resp3 { RespVersion::Resp3 } else { RespVersion::Resp2 });
        lua_to_reply(&v, &mut out, false);
        out.buf
    }

    #[test]
    fn replies_survive_the_trip_through_lua() {
        for r in [
            &b":42\r\n"[..],
            b"$3\r\nabc\r\n",
            b"+OK\r\n",
            b"-ERR bad\r\n",
            b"*2\r\n:1\r\n$1\r\nx\r\n",
            b"%1\r\n$1\r\na\r\n$1\r\n1\r\n",
            b"~1\r\n$1\r\na\r\n",
            b",1.5\r\n",
            b"(123\r\n",
            b"=6\r\ntxt:hi\r\n",
            b"_\r\n",
        ] {
            assert_eq!(round_trip(r, true), r, "{}", String::from_utf8_lossy(r));
        }
        // RESP2 nulls become false, which converts back to a null.
        assert_eq!(round_trip(b"$-1\r\n", false), b"$-1\r\n");
        assert_eq!(round_trip(b"*-1\r\n", false), b"$-1\r\n");
        // RESP3 shapes downgrade for a RESP2 caller.
        assert_eq!(round_trip(b"%1\r\n$1\r\na\r\n:1\r\n", false), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(round_trip(b",1.5\r\n", false), b"$3\r\n1.5\r\n");
        assert_eq!(round_trip(b"#t\r\n", false), b":1\r\n");
        assert_eq!(round_trip(b"#f\r\n", true), b"_\r\n");
    }

    #[test]
    fn lua_values_convert_like_redis() {
        let lua = Lua::new();
        let conv = |src: &str, resp3: bool| {
            let v: Value = lua.load(src).eval().unwrap();
            let mut out = Reply::new(if resp3 { RespVersion::Resp3 } else { RespVersion::Resp2 });
            lua_to_reply(&v, &mut out, false);
            String::from_utf8(out.buf).unwrap()
        };
        assert_eq!(conv("return 3.7", false), ":3\r\n");
        assert_eq!(conv("return {1,nil,3}", false), "*1\r\n:1\r\n");
        assert_eq!(conv("return {1,{2,'x'},false,true}", true), "*4\r\n:1\r\n*2\r\n:2\r\n$1\r\nx\r\n_\r\n:1\r\n");
        assert_eq!(conv("return {err='a\\r\\nb'}", false), "-a  b\r\n");
        assert_eq!(conv("return {double=0.1}", false), "$19\r\n0.10000000000000001\r\n");
        assert_eq!(conv("return {double=0.1}", true), ",0.10000000000000001\r\n");
        assert_eq!(conv("return {big_number='123'}", false), "$3\r\n123\r\n");
        assert_eq!(conv("return {verbatim_string={format='txt',string='hi'}}", true), "=6\r\ntxt:hi\r\n");
        assert_eq!(conv("return {double='x'}", false), "*0\r\n");
        assert_eq!(conv("return {ok=1}", false), "*0\r\n");
        assert!(conv("local t = {}; t[1] = t; return t", false).len() > 10);
    }
}
