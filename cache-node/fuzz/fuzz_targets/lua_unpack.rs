//! The decoders scripts run on client data: `cmsgpack.unpack` (every value, from any
//! offset, as plain trees), `struct.unpack` (through the Lua library, the first
//! byte splitting format from data) and `cjson.decode`. None may panic, decoded
//! MessagePack must encode to bytes that decode to the same encoding again, and decoded
//! JSON written out again must decode to the same tree.
#![no_main]

use cache_node::scripting::cjson_decode::{self, Json};
use cache_node::scripting::{lua_struct, msgpack};
use libfuzzer_sys::fuzz_target;
use msgpack::{Cursor, Tree, TreeBuilder};

fn encode(t: &Tree, out: &mut Vec<u8>) {
    match t {
        Tree::Nil => msgpack::put_nil(out),
        Tree::Bool(b) => msgpack::put_bool(out, *b),
        Tree::Num(n) => msgpack::put_number(out, *n),
        Tree::Str(s) => msgpack::put_str(out, s),
        Tree::Table(entries) => {
            msgpack::put_map_header(out, entries.len());
            for (k, v) in entries {
                encode(k, out);
                encode(v, out);
            }
        }
    }
}

fn msgpack_case(data: &[u8]) {
    if let Ok(values) = msgpack::unpack_trees(data) {
        let mut again = Vec::new();
        values.iter().for_each(|v| encode(v, &mut again));
        let back = msgpack::unpack_trees(&again).expect("re-encoded values decode");
        let mut twice = Vec::new();
        back.iter().for_each(|v| encode(v, &mut twice));
        assert_eq!(again, twice);
    }
    let mut b = TreeBuilder::default();
    for offset in [0, data.len() / 2, data.len()] {
        let _ = msgpack::unpack(&mut b, data, 1, offset as i64, 1, |_, _| Ok(()));
    }
    let mut cur = Cursor::new(data, 0);
    let _ = msgpack::decode(&mut b, &mut cur, 0).map(|v| b.finish(v));
}

thread_local! {
    static LUA: mlua::Lua = {
        let lua = mlua::Lua::new();
        let lib = lua_struct::library(&lua).expect("struct library");
        lua.globals().set("struct", lib).expect("global");
        lua
    };
}

fn struct_case(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else { return };
    let (fmt, input) = rest.split_at((split as usize).min(rest.len()));
    LUA.with(|lua| {
        let f: mlua::Function = lua.load("return function(f, d, i) return pcall(struct.unpack, f, d, i) end").eval().expect("chunk");
        let _ = f.call::<mlua::MultiValue>((lua.create_string(fmt).ok(), lua.create_string(input).ok(), i64::from(split % 7) - 2));
        let _ = lua.load("return pcall(struct.size, ...)").call::<mlua::MultiValue>(lua.create_string(fmt).ok());
    });
}

/// Writes a decoded tree back as text the decoder reads (bytes as they are, but for the
/// quote, the backslash and NUL, which would end the text).
fn write_json(t: &Json, out: &mut Vec<u8>) {
    let string = |s: &[u8], out: &mut Vec<u8>| {
        out.push(b'"');
        for &b in s {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0 => out.extend_from_slice(b"\\u0000"),
                b => out.push(b),
            }
        }
        out.push(b'"');
    };
    match t {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Json::Num(n) => out.extend_from_slice(format!("{n:?}").as_bytes()),
        Json::Str(s) => string(s, out),
        Json::Arr(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(v, out);
            }
            out.push(b']');
        }
        Json::Obj(members) => {
            out.push(b'{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
    }
}

fn has_nan(t: &Json) -> bool {
    match t {
        Json::Num(n) => n.is_nan(),
        Json::Arr(items) => items.iter().any(has_nan),
        Json::Obj(members) => members.iter().any(|(_, v)| has_nan(v)),
        _ => false,
    }
}

fn cjson_case(data: &[u8]) {
    if let Ok(tree) = cjson_decode::decode(data)
        && !has_nan(&tree)
    {
        let mut text = Vec::new();
        write_json(&tree, &mut text);
        assert_eq!(cjson_decode::decode(&text).as_ref(), Ok(&tree), "{:?}", String::from_utf8_lossy(&text));
    }
}

fuzz_target!(|data: &[u8]| {
    struct_case(data);
    cjson_case(data);
    // Nesting reaches ~4000 levels: decode on a stack as large as the script thread's.
    let owned = data.to_vec();
    let worker = std::thread::Builder::new().stack_size(32 << 20).spawn(move || msgpack_case(&owned)).expect("thread");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
});
