//! The `struct` and `cmsgpack` Lua libraries against redis-server 7.0 as the oracle:
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
