//! The arguments of `redis.call` / `redis.pcall` (read straight off the Lua stack) and
//! a script's KEYS / ARGV (built on it): strings byte for byte, numbers as Redis prints
//! them, bad types, no arguments, thousands of arguments; replies compared byte for
//! byte with redis-server 7.0's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use common::oracle;
use common::*;
use redis_server::{RedisServer, temp_dir};

/// EVAL of `body` with `keys` and `args`, twice: the first run is on the script
/// thread, the next ones may run inline on the worker (scripting/inline.rs).
fn eval_twice(out: &mut Vec<Vec<Vec<u8>>>, body: &str, keys: &[&[u8]], args: &[&[u8]]) {
    let mut c: Vec<Vec<u8>> = vec![b"EVAL".to_vec(), body.as_bytes().to_vec(), keys.len().to_string().into_bytes()];
    c.extend(keys.iter().map(|k| k.to_vec()));
    c.extend(args.iter().map(|a| a.to_vec()));
    out.push(c.clone());
    out.push(c);
}

fn same_as_redis(cmds: &[Vec<Vec<u8>>]) {
    let dir = temp_dir("scripting-call-args");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let want = oracle::pipeline(redis.port, cmds, cmds.len());
    let got = oracle::pipeline(node.port, cmds, cmds.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
}

#[test]
fn number_arguments_print_as_redis_prints_them() {
    let mut cmds = Vec::new();
    for n in [
        "0",
        "1",
        "-5",
        "42.0",
        "99999999999999",
        "-99999999999999",
        "100000000000000",
        "1e15",
        "2^53",
        "2^60",
        "-2^63",
        "0.1",
        "1.5",
        "-0.0",
        "1e-20",
        "-1e-300",
        "1/0",
        "-1/0",
        "0/0",
        "-(0/0)",
        "3.0000000000000004",
        "123456789.123456789",
    ] {
        eval_twice(&mut cmds, &format!("return redis.call('echo', {n})"), &[], &[]);
        eval_twice(&mut cmds, &format!("return redis.pcall('echo', {n})"), &[], &[]);
    }
    // A number handed to a command stays a number for the script.
    eval_twice(&mut cmds, "local n = 0.5 redis.call('set', KEYS[1], n) return {type(n), redis.call('get', KEYS[1])}", &[b"k"], &[]);
    // The protocol of the script's calls (RESP3 doubles) does not change the arguments.
    eval_twice(&mut cmds, "redis.setresp(3) return redis.call('incrbyfloat', KEYS[1], 0.25)", &[b"f"], &[]);
    same_as_redis(&cmds);
}

#[test]
fn string_arguments_and_bad_ones_behave_as_in_redis() {
    let mut cmds = Vec::new();
    for body in [
        "return redis.call('echo', '')",
        "return redis.call('echo', 'a\\0b\\255')",
        "return redis.call('set', KEYS[1], ARGV[1])",
        "return redis.call('get', KEYS[1])",
        "return redis.call('ECHO', KEYS[1] .. ARGV[1])",
        // Neither strings nor numbers.
        "return redis.call('echo', true)",
        "return redis.call('echo', nil)",
        "return redis.call('echo', 'a', {})",
        "return redis.pcall('echo', 'a', print)",
        "return redis.pcall('set', 'a', false)",
        // No arguments, unknown command, wrong arity.
        "return redis.call()",
        "return redis.pcall()",
        "return redis.pcall('nosuchcommand', 1)",
        "return redis.pcall('get')",
        "return redis.pcall('get', 'a', 'b')",
        // A failed call does not leave its arguments to the next one.
        "redis.pcall('echo', 'x', true) return redis.call('echo', 'y')",
        "redis.pcall('set') return redis.call('exists', KEYS[1])",
    ] {
        eval_twice(&mut cmds, body, &[b"key\x00\xff"], &[b"v\r\nal"]);
    }
    same_as_redis(&cmds);
}

#[test]
fn thousands_of_arguments_reach_the_command() {
    let mut cmds = Vec::new();
    eval_twice(&mut cmds, "local t = {} for i = 1, 7000 do t[i] = 'm' .. i end return redis.call('rpush', KEYS[1], unpack(t))", &[b"l"], &[]);
    eval_twice(&mut cmds, "local t = {} for i = 1, 300 do t[i] = i * 1.5 end return redis.pcall('rpush', KEYS[1], unpack(t))", &[b"l"], &[]);
    cmds.push(vec![b"LRANGE".to_vec(), b"l".to_vec(), b"6990".to_vec(), b"7010".to_vec()]);
    cmds.push(vec![b"LRANGE".to_vec(), b"l".to_vec(), b"-3".to_vec(), b"-1".to_vec()]);
    cmds.push(vec![b"LLEN".to_vec(), b"l".to_vec()]);
    same_as_redis(&cmds);
}

#[test]
fn keys_and_argv_are_fresh_for_every_run() {
    let mut cmds = Vec::new();
    let body = "local r = {#KEYS, #ARGV, KEYS[1], ARGV[1], ARGV[3]} KEYS[9] = 'x' table.insert(ARGV, 'y') return r";
    eval_twice(&mut cmds, body, &[b"a", b""], &[b"x\x00y", b"", b"3"]);
    eval_twice(&mut cmds, body, &[], &[]);
    eval_twice(&mut cmds, body, &[b"only"], &[]);
    eval_twice(&mut cmds, "return {#KEYS, #ARGV, KEYS[9], ARGV[4]}", &[b"k"], &[b"1", b"2", b"3"]);
    let many: Vec<Vec<u8>> = (0..3000).map(|i| format!("arg{i}").into_bytes()).collect();
    let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    eval_twice(&mut cmds, "return {#KEYS, #ARGV, KEYS[1500], ARGV[1500], ARGV[#ARGV]}", &many[..1500], &many[1500..]);
    same_as_redis(&cmds);
}
