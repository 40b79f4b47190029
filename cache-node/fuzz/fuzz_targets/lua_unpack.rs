//! The decoders scripts run on client data: `cmsgpack.unpack` (every value, from any
//! offset, as plain trees) and `struct.unpack` (through the Lua library, the first
//! byte splitting format from data). Neither may panic, and decoded MessagePack must
//! encode to bytes that decode to the same encoding again.
#![no_main]

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

fuzz_target!(|data: &[u8]| {
    struct_case(data);
    // Nesting reaches ~4000 levels: decode on a stack as large as the script thread's.
    let owned = data.to_vec();
    let worker = std::thread::Builder::new().stack_size(32 << 20).spawn(move || msgpack_case(&owned)).expect("thread");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
});
