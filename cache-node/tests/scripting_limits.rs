//! The script engine at its limits, against redis-server 7.0 as the oracle: a cache of
//! more scripts than the Lua binding has references, calls with thousands of arguments,
//! and error texts that are not UTF-8 (sent as the bytes they are). Replies compared
//! byte for byte in RESP2 and RESP3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use std::io::Write;

use common::oracle::{connect, diff, read_one, send, show};
use common::*;
use redis_server::{RedisServer, temp_dir};

fn eval(script: &str, keys: &[&str], args: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut c = vec![b"EVAL".to_vec(), script.as_bytes().to_vec(), keys.len().to_string().into_bytes()];
    c.extend(keys.iter().map(|k| k.as_bytes().to_vec()));
    c.extend(args);
    c
}

fn numbered(n: usize) -> impl Iterator<Item = Vec<u8>> {
    (0..n).map(|i| format!("v{i}").into_bytes())
}

#[test]
fn ten_thousand_cached_scripts_all_run() {
    const N: usize = 10_000;
    let node = Node::start(&[]);
    let body = |i: usize| format!("return {i}");
    let mut s = connect(node.port, false);
    let mut pipeline = Vec::new();
    for i in 0..N {
        pipeline.extend_from_slice(&resp(&[b"SCRIPT", b"LOAD", body(i).as_bytes()]));
    }
    // Written from another thread: the replies must be read while the loads go out.
    let mut writer = s.get_ref().try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&pipeline).unwrap());
    let mut shas = Vec::with_capacity(N);
    for _ in 0..N {
        let mut out = Vec::new();
        read_one(&mut s, &mut out);
        assert!(out.starts_with(b"$40\r\n"), "SCRIPT LOAD answered {:?}", show(&out));
        shas.push(out[5..45].to_vec());
    }
    sending.join().unwrap();
    for i in [0, 1, N / 2, N - 1] {
        let got = send(&mut s, &[b"EVALSHA".to_vec(), shas[i].clone(), b"0".to_vec()]);
        assert_eq!(show(&got), format!(":{i}\r\n"));
    }
    // New scripts still compile and run, as EVAL too.
    assert_eq!(send(&mut s, &eval("return 'fresh'", &[], [])), b"$5\r\nfresh\r\n");
    let info = send(&mut s, &[b"INFO".to_vec(), b"memory".to_vec()]);
    assert_eq!(info_field(&String::from_utf8_lossy(&info), "number_of_cached_scripts").as_deref(), Some("10001"));

    // SCRIPT FLUSH forgets every one of them; loading again works.
    assert_eq!(send(&mut s, &[b"SCRIPT".to_vec(), b"FLUSH".to_vec()]), b"+OK\r\n");
    let got = send(&mut s, &[b"EVALSHA".to_vec(), shas[N - 1].clone(), b"0".to_vec()]);
    assert_eq!(show(&got), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
    let got = send(&mut s, &[b"SCRIPT".to_vec(), b"LOAD".to_vec(), body(N - 1).into_bytes()]);
    assert_eq!(&got[5..45], &shas[N - 1][..]);
    let got = send(&mut s, &[b"EVALSHA".to_vec(), shas[N - 1].clone(), b"0".to_vec()]);
    assert_eq!(show(&got), format!(":{}\r\n", N - 1));
    let got = send(&mut s, &[b"EVALSHA".to_vec(), shas[0].clone(), b"0".to_vec()]);
    assert_eq!(show(&got), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
}

#[test]
fn calls_with_thousands_of_arguments_answer_as_redis() {
    let dir = temp_dir("scripting-limits");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let mut cmds = Vec::new();
    // `unpack` gives at most 7997 values (Lua's C stack, LUAI_MAXCSTACK 8000), so a
    // call reaches 7999 arguments at most; more fail in unpack on both servers.
    for n in [100, 255, 256, 257, 1000, 7990, 7995, 7996, 7997, 7998, 8000, 20_000] {
        cmds.push(vec![b"DEL".to_vec(), b"l".to_vec()]);
        cmds.push(eval("return redis.call('RPUSH', KEYS[1], unpack(ARGV))", &["l"], numbered(n)));
        cmds.push(eval("return redis.pcall('RPUSH', KEYS[1], unpack(ARGV))", &["l"], numbered(n)));
        cmds.push(eval("return redis.call('SADD', KEYS[1], 'a', 'b', unpack(ARGV))", &["s"], numbered(n)));
        cmds.push(eval("return #redis.call('LRANGE', KEYS[1], 0, -1)", &["l"], []));
        cmds.push(eval("return redis.call('DEL', unpack(ARGV))", &[], numbered(n)));
        cmds.push(eval("local t = {} for i = 1, #ARGV do t[i] = i end return redis.call('SADD', 'n', unpack(t))", &[], numbered(n)));
        // A bad argument among thousands, a nil one, numbers.
        cmds.push(eval("ARGV[#ARGV] = {} return redis.pcall('RPUSH', 'x', unpack(ARGV))", &[], numbered(n)));
        cmds.push(eval("return redis.pcall('RPUSH', 'x', 'a', nil, unpack(ARGV))", &[], numbered(n)));
        cmds.push(eval("ARGV[#ARGV] = 2^60 + 0.5 ARGV[1] = 0.1 ARGV[2] = 1e15 return redis.call('RPUSH', 'y', unpack(ARGV))", &[], numbered(n)));
        cmds.push(eval("return redis.call(unpack(ARGV))", &[], numbered(n)));
        cmds.push(eval("return redis.call('MGET', unpack(ARGV))", &[], numbered(n)));
    }
    cmds.push(vec![b"LRANGE".to_vec(), b"y".to_vec(), b"0".to_vec(), b"2".to_vec()]);
    cmds.push(vec![b"LINDEX".to_vec(), b"y".to_vec(), b"-1".to_vec()]);
    // Numbers as arguments: C's %.17g, as Redis writes them (not Lua's %.14g).
    let numbers = "local t = {0.1, 1/3, 2^53 + 1, 2^63, 1e15, 123456789012345, -1e300, 1e-5, 1/0, -1/0, 0/0, -(0/0), 3, -7}
        for i, v in ipairs(t) do redis.call('SET', 'n' .. i, v) end
        local r = {} for i = 1, #t do r[i] = redis.call('GET', 'n' .. i) end return r";
    cmds.push(eval(numbers, &[], []));
    cmds.push(vec![b"FLUSHALL".to_vec()]);
    let diffs = diff(redis.port, node.port, &cmds);
    assert!(diffs.is_empty(), "{} replies differ:\n{}", diffs.len(), diffs.join("\n"));
    // The engine is still there for everyone.
    let mut c = node.client();
    assert_eq!(q::<i64>(&mut c, &["EVAL", "return 7", "0"]), 7);
    assert!(!node.log().iter().any(|l| l.contains("panicked")), "a panic was logged");
}

#[test]
fn error_texts_keep_their_bytes() {
    let dir = temp_dir("scripting-limits-bytes");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let scripts: &[&[u8]] = &[
        b"return struct.pack('\\200')",
        b"return struct.pack('i\\255', 1)",
        b"return struct.unpack('\\200', 'abc')",
        b"error('\\255')",
        b"error('caf\\233 \\128\\255 end')",
        b"error('\\255', 0)",
        b"error({err='\\255 raw'})",
        b"error({err='ERR \\200\\201'})",
        b"return redis.error_reply('\\255 bad')",
        b"return redis.error_reply('MYERR \\200')",
        b"return {err='\\200\\201\\202'}",
        b"return redis.pcall('SET', 'k')",
        b"return redis.call('NOSUCH\\255')",
        b"return redis.pcall('NOSUCH\\255')",
        b"local ok, e = pcall(struct.pack, '\\200') return e",
        b"local ok, e = pcall(error, '\\255x') return e",
        b"return cmsgpack.unpack('\\193')",
        b"return cjson.decode('\\255')",
        b"local x = '\\255' + 1",
        b"return nosuch\xff",
        b"return '\xff' .. {}",
        b"error({err='ERR a\\0b'})",
        b"error('x\\0y')",
        b"return redis.error_reply('E\\0\\255')",
    ];
    let cmds: Vec<Vec<Vec<u8>>> = scripts.iter().map(|s| vec![b"EVAL".to_vec(), s.to_vec(), b"0".to_vec()]).collect();
    let diffs = diff(redis.port, node.port, &cmds);
    assert!(diffs.is_empty(), "{} replies differ:\n{}", diffs.len(), diffs.join("\n"));
    // The raw byte itself reaches the client (not U+FFFD).
    let mut s = connect(node.port, false);
    let got = send(&mut s, &[b"EVAL".to_vec(), b"error({err='ERR \\255'})".to_vec(), b"0".to_vec()]);
    assert!(got.starts_with(b"-ERR \xff script: "), "{:?}", show(&got));
}
