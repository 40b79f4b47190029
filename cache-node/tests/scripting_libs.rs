//! The `struct`, `cmsgpack` and `cjson` Lua libraries against redis-server 7.0 as the oracle:
//! the same scripts on both servers, every reply compared byte for byte in RESP2 and
//! RESP3 (packed bytes as bulk strings, unpacked values as arrays, errors with their
//! texts), plus random inputs to the unpackers (same answers, server still serving).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use common::oracle::diff;
use common::*;
use redis_server::{RedisServer, temp_dir};

/// Put in front of every case, on its first line (error lines stay line 1): `S(...)`
/// turns results into strings, so numbers compare exactly rather than truncated.
const HELPER: &str = "local function S(...) local t = {} for i = 1, select('#', ...) do t[i] = tostring((select(i, ...))) end return t end ";

/// One EVAL per line of scripting_cases/libs.txt (`#` lines are comments).
fn cases() -> Vec<Vec<Vec<u8>>> {
    include_str!("scripting_cases/libs.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| vec![b"EVAL".to_vec(), format!("{HELPER}{l}").into_bytes(), b"0".to_vec()])
        .collect()
}

#[test]
fn struct_and_cmsgpack_reply_as_redis_byte_for_byte() {
    let dir = temp_dir("scripting-libs");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let cmds = cases();
    assert!(cmds.len() >= 200, "{} cases", cmds.len());
    let diffs = diff(redis.port, node.port, &cmds);
    assert!(diffs.is_empty(), "{} replies differ:\n{}", diffs.len(), diffs.join("\n"));
}

/// xorshift64: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// Bytes that look like MessagePack often enough to reach deep into the decoder.
fn random_msgpack(rng: &mut Rng) -> Vec<u8> {
    const TAGS: &[u8] = &[
        0x00, 0x7f, 0xe0, 0xff, 0xc0, 0xc2, 0xc3, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb, 0xa3, 0xd9, 0xda, 0x92, 0x9f, 0xdc, 0x81, 0x8f,
        0xde, 0xc1, 0xc4, 0xd4,
    ];
    let len = rng.below(24);
    (0..len).map(|_| if rng.below(3) == 0 { rng.next() as u8 } else { TAGS[rng.below(TAGS.len() as u64)] }).collect()
}

fn random_format(rng: &mut Rng) -> Vec<u8> {
    const OPTS: &[u8] = b"bBhHlLTiIfdxsc0123489 <>!=y";
    (0..rng.below(8)).map(|_| OPTS[rng.below(OPTS.len() as u64)]).collect()
}

#[test]
fn random_inputs_to_the_unpackers_answer_as_redis() {
    let dir = temp_dir("scripting-libs-random");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    // Results are packed again (exact, and nil-safe); errors come back as pcall's text.
    let unpack = "local function pk(ok, ...) if not ok then return 'E:' .. tostring(...) end if select('#', ...) == 0 then return 'none' end return cmsgpack.pack(...) end \
                  return {pk(pcall(cmsgpack.unpack, ARGV[1])), pk(pcall(cmsgpack.unpack_one, ARGV[1], tonumber(ARGV[2]))), pk(pcall(cmsgpack.unpack_limit, ARGV[1], 2, tonumber(ARGV[2])))}";
    let unstruct = "local function pk(ok, ...) if not ok then return 'E:' .. tostring(...) end return cmsgpack.pack(...) end \
                    return {pk(pcall(struct.unpack, ARGV[1], ARGV[2], tonumber(ARGV[3]))), pk(pcall(struct.size, ARGV[1])), pk(pcall(struct.pack, ARGV[1], 1, 2, 3, 'abc', 5))}";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cmds = Vec::new();
    for _ in 0..400 {
        let input = random_msgpack(&mut rng);
        let offset = rng.below(input.len() as u64 + 2).to_string();
        cmds.push(vec![b"EVAL".to_vec(), unpack.as_bytes().to_vec(), b"0".to_vec(), input, offset.into_bytes()]);
        let data: Vec<u8> = (0..rng.below(20)).map(|_| rng.next() as u8).collect();
        let init = (rng.below(6) as i64 - 1).to_string();
        cmds.push(vec![b"EVAL".to_vec(), unstruct.as_bytes().to_vec(), b"0".to_vec(), random_format(&mut rng), data, init.into_bytes()]);
    }
    let diffs = diff(redis.port, node.port, &cmds);
    assert!(diffs.is_empty(), "{} replies differ:\n{}", diffs.len(), diffs.iter().take(20).cloned().collect::<Vec<_>>().join("\n"));
    // Still serving.
    assert_eq!(q::<String>(&mut node.client(), &["PING"]), "PONG");
}

/// Shows a decoded value exactly, keys sorted: type, bytes and `%.17g` numbers.
const SHOW_JSON: &str = "local function show(v) \
    if v == cjson.null then return 'null' end \
    if type(v) == 'number' then return string.format('%.17g', v) end \
    if type(v) ~= 'table' then return type(v) .. ':' .. tostring(v) end \
    local keys = {} for k in pairs(v) do keys[#keys + 1] = k end \
    table.sort(keys, function(a, b) return type(a) .. tostring(a) < type(b) .. tostring(b) end) \
    local parts = {} for _, k in ipairs(keys) do parts[#parts + 1] = type(k) .. ':' .. tostring(k) .. '=' .. show(v[k]) end \
    return '{' .. table.concat(parts, ',') .. '}' end ";

/// JSON texts that lua-cjson reads in its own way (numbers as `strtod` reads them, raw
/// bytes in strings, a NUL ending the text) or refuses with a message naming a token.
const JSON_CASES: &[&[u8]] = &[
    br#"{"a":[1,2.5,{"b":"c"}],"n":null,"t":true,"f":false}"#,
    b" [ 1 , 2 ] ",
    b"[]",
    b"{}",
    b"[[[[]]]]",
    br#"{"a":1,"a":2}"#,
    br#""\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\""#,
    br#""\u0000x""#,
    b"\"a\nb\"",
    b"\"\xff\xfe\"",
    b"\"a\0b\"",
    b"12\0junk",
    b"1\0",
    b"123",
    b"-0",
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"1.5e-3",
    b"1E+2",
    b"0x1F",
    b"-0x10",
    b"0x1.8p1",
    b"0x",
    b"0xg",
    b"+5",
    b"+",
    b"Infinity",
    b"-Infinity",
    b"inf",
    b"Inf",
    b"iNfx",
    b"nan",
    b"NaN",
    b"-nan",
    b"nan(123)",
    b"nanx",
    b"01",
    b"00",
    b"1.",
    b".5",
    b"-.5",
    b"-",
    b"1.2.3",
    b"1e",
    b"1e+",
    b"true",
    b"false",
    b"null",
    b"tru",
    b"truex",
    b"nul",
    b"t",
    b"",
    b" ",
    b"{",
    b"[",
    b"[1,]",
    b"[1 2]",
    br#"{"a" 1}"#,
    br#"{"a":}"#,
    b"{1:2}",
    br#"{"a":1,}"#,
    br#"{"a":1 "b":2}"#,
    br#""abc"#,
    br#""\x""#,
    br#""\u12""#,
    br#""\u12G4""#,
    br#""\ud800""#,
    br#""\ud800\u0041""#,
    br#""\ud800x""#,
    br#""\udc00""#,
    br#""a\"#,
    b"[1]x",
    b"]",
    b"}",
    b":",
    b",",
    b"'a'",
    b"@",
    b"1 2",
];

#[test]
fn cjson_decode_reads_and_fails_as_redis() {
    let dir = temp_dir("scripting-libs-cjson");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let shown = format!("{SHOW_JSON}local ok, v = pcall(cjson.decode, ARGV[1]) if not ok then return 'E:' .. v end return show(v)");
    let bare = "return type(cjson.decode(ARGV[1]))";
    let eval = |script: &str, arg: &[u8]| vec![b"EVAL".to_vec(), script.as_bytes().to_vec(), b"0".to_vec(), arg.to_vec()];
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for case in JSON_CASES {
        cmds.push(eval(&shown, case));
        // Outside pcall the error carries the script's line, as luaL_error adds it.
        cmds.push(eval(bare, case));
    }
    // Nesting: 1000 levels are read, 1001 are refused.
    for depth in [1000, 1001] {
        cmds.push(eval(&shown, format!("{}{}", "[".repeat(depth), "]".repeat(depth)).as_bytes()));
    }
    // Tables fill as lua-cjson fills them, so `pairs` (here through encode) walks them alike.
    let object: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
    cmds.push(eval("return cjson.encode(cjson.decode(ARGV[1]))", format!("{{{}}}", object.join(",")).as_bytes()));
    cmds.push(eval("local n = 0 for k in pairs(cjson.decode(ARGV[1])) do n = n + 1 end return n", b"[1,2,3,null,5]"));
    // Random token soup reaches the corners the list above does not.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    const PIECES: &[&str] =
        &["{", "}", "[", "]", ":", ",", "\"", "\\", "u", "d8", "00", "1", "-", "+", "0x", ".", "e", "true", "nul", "nan", "inf", " ", "a", "\\u00"];
    for _ in 0..300 {
        let text: String = (0..rng.below(12)).map(|_| PIECES[rng.below(PIECES.len() as u64)]).collect();
        cmds.push(eval(&shown, text.as_bytes()));
    }
    let diffs = diff(redis.port, node.port, &cmds);
    assert!(diffs.is_empty(), "{} replies differ:\n{}", diffs.len(), diffs.iter().take(20).cloned().collect::<Vec<_>>().join("\n"));
    assert_eq!(q::<String>(&mut node.client(), &["PING"]), "PONG");
}

#[test]
fn packed_values_round_trip_through_keys_and_arguments() {
    let node = Node::start(&[]);
    let mut c = node.client();
    // A packed record stored by one script and read by another, as rate limiters and
    // session stores do.
    let _: () = redis::cmd("EVAL")
        .arg("redis.call('set', KEYS[1], cmsgpack.pack({user = ARGV[1], hits = tonumber(ARGV[2]), tags = {'a', 'b'}})) redis.call('set', KEYS[2], struct.pack('>I4d', ARGV[2], ARGV[3]))")
        .arg(2)
        .arg("rec")
        .arg("bin")
        .arg("ann")
        .arg(41)
        .arg("2.5")
        .query(&mut c)
        .unwrap();
    let v: Vec<redis::Value> = redis::cmd("EVAL")
        .arg("local r = cmsgpack.unpack(redis.call('get', KEYS[1])) local n, d = struct.unpack('>I4d', redis.call('get', KEYS[2])) return {r.user, r.hits + 1, r.tags[2], n, tostring(d)}")
        .arg(2)
        .arg("rec")
        .arg("bin")
        .query(&mut c)
        .unwrap();
    let want = vec![
        redis::Value::BulkString(b"ann".to_vec()),
        redis::Value::Int(42),
        redis::Value::BulkString(b"b".to_vec()),
        redis::Value::Int(41),
        redis::Value::BulkString(b"2.5".to_vec()),
    ];
    assert_eq!(v, want);
    let bin: Vec<u8> = q(&mut c, &["GET", "bin"]);
    assert_eq!(bin, [&41u32.to_be_bytes()[..], &2.5f64.to_be_bytes()].concat());
    // A client's bytes are decoded, never trusted: garbage is an error reply.
    let e =
        redis::cmd("EVAL").arg("return cmsgpack.unpack(ARGV[1])").arg(0).arg(&[0xdd_u8, 0xff, 0xff, 0xff, 0xff][..]).query::<redis::Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("Missing bytes in input."), "{e}");
    assert_eq!(q::<String>(&mut c, &["PING"]), "PONG");
}
