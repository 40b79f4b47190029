//! Hash commands against the real binary: every reply and error byte for byte as Redis
//! 7.0 sends it in RESP2 and RESP3 (the transcript below was recorded from redis-server
//! 7.0.15), encodings as OBJECT ENCODING reports them across the thresholds, HRANDFIELD's
//! shapes and guarantees, HSCAN's guarantee while the hash grows, and a session store.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use redis::Value;

/// (command, RESP2 reply, RESP3 reply or "=" when it is the same), in order, from an
/// empty database; recorded from redis-server 7.0.15. Replies here are deterministic:
/// listpack hashes keep insertion order, and random picks ask for the whole hash.
#[rustfmt::skip]
const TRANSCRIPT: &[(&str, &str, &str)] = &[
    ("HSET h a 1 b 2 c 3", ":3\r\n", "="),
    ("HSET h a 10 d 4", ":1\r\n", "="),
    ("HSET h", "-ERR wrong number of arguments for 'hset' command\r\n", "="),
    ("HSET h a", "-ERR wrong number of arguments for 'hset' command\r\n", "="),
    ("HSET h a 1 b", "-ERR wrong number of arguments for 'hset' command\r\n", "="),
    ("HMSET h a 1 b", "-ERR wrong number of arguments for 'hmset' command\r\n", "="),
    ("HMSET h x 1 y 2", "+OK\r\n", "="),
    ("HGET h a", "$2\r\n10\r\n", "="),
    ("HGET h zz", "$-1\r\n", "_\r\n"),
    ("HGET nokey a", "$-1\r\n", "_\r\n"),
    ("HMGET h a zz b", "*3\r\n$2\r\n10\r\n$-1\r\n$1\r\n2\r\n", "*3\r\n$2\r\n10\r\n_\r\n$1\r\n2\r\n"),
    ("HMGET nokey a b", "*2\r\n$-1\r\n$-1\r\n", "*2\r\n_\r\n_\r\n"),
    ("HGETALL h", "*12\r\n$1\r\na\r\n$2\r\n10\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n", "%6\r\n$1\r\na\r\n$2\r\n10\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n"),
    ("HGETALL nokey", "*0\r\n", "%0\r\n"),
    ("HKEYS h", "*6\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nx\r\n$1\r\ny\r\n", "="),
    ("HVALS h", "*6\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n1\r\n$1\r\n2\r\n", "="),
    ("HKEYS nokey", "*0\r\n", "="),
    ("HLEN h", ":6\r\n", "="),
    ("HLEN nokey", ":0\r\n", "="),
    ("HSTRLEN h a", ":2\r\n", "="),
    ("HSTRLEN h zz", ":0\r\n", "="),
    ("HEXISTS h a", ":1\r\n", "="),
    ("HEXISTS h zz", ":0\r\n", "="),
    ("HSETNX h a 5", ":0\r\n", "="),
    ("HSETNX h new 5", ":1\r\n", "="),
    ("HDEL h zz", ":0\r\n", "="),
    ("HDEL h a b zz", ":2\r\n", "="),
    ("HINCRBY h c 5", ":8\r\n", "="),
    ("HINCRBY h c -10", ":-2\r\n", "="),
    ("HINCRBY h newc 7", ":7\r\n", "="),
    ("HINCRBY h x abc", "-ERR value is not an integer or out of range\r\n", "="),
    ("HSET h s notanumber", ":1\r\n", "="),
    ("HINCRBY h s 1", "-ERR hash value is not an integer\r\n", "="),
    ("HSET h big 9223372036854775800", ":1\r\n", "="),
    ("HINCRBY h big 100", "-ERR increment or decrement would overflow\r\n", "="),
    ("HSET h neg -9223372036854775800", ":1\r\n", "="),
    ("HINCRBY h neg -100", "-ERR increment or decrement would overflow\r\n", "="),
    ("HINCRBYFLOAT h f 1.5", "$3\r\n1.5\r\n", "="),
    ("HINCRBYFLOAT h f 0.1", "$3\r\n1.6\r\n", "="),
    ("HINCRBYFLOAT h f abc", "-ERR value is not a valid float\r\n", "="),
    ("HINCRBYFLOAT h f inf", "-ERR value is NaN or Infinity\r\n", "="),
    ("HINCRBYFLOAT h f nan", "-ERR value is not a valid float\r\n", "="),
    ("HINCRBYFLOAT h s 1", "-ERR hash value is not a float\r\n", "="),
    ("HINCRBYFLOAT h c 2.5", "$3\r\n0.5\r\n", "="),
    ("HINCRBYFLOAT h e 1e3", "$4\r\n1000\r\n", "="),
    ("HINCRBYFLOAT h e -1000", "$1\r\n0\r\n", "="),
    ("HSET h fl 10.5", ":1\r\n", "="),
    ("HINCRBYFLOAT h fl 0.1", "$4\r\n10.6\r\n", "="),
    ("HGETALL h", "*24\r\n$1\r\nc\r\n$3\r\n0.5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n5\r\n$4\r\nnewc\r\n$1\r\n7\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n$1\r\nf\r\n$3\r\n1.6\r\n$1\r\ne\r\n$1\r\n0\r\n$2\r\nfl\r\n$4\r\n10.6\r\n", "%12\r\n$1\r\nc\r\n$3\r\n0.5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n5\r\n$4\r\nnewc\r\n$1\r\n7\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n$1\r\nf\r\n$3\r\n1.6\r\n$1\r\ne\r\n$1\r\n0\r\n$2\r\nfl\r\n$4\r\n10.6\r\n"),
    ("OBJECT ENCODING h", "$8\r\nlistpack\r\n", "="),
    ("SET str v", "+OK\r\n", "="),
    ("HSET str a 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HGET str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HGETALL str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HLEN str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HDEL str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HINCRBY str a 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HSCAN str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HRANDFIELD str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("HSCAN h 0", "*2\r\n$1\r\n0\r\n*24\r\n$1\r\nc\r\n$3\r\n0.5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n5\r\n$4\r\nnewc\r\n$1\r\n7\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n$1\r\nf\r\n$3\r\n1.6\r\n$1\r\ne\r\n$1\r\n0\r\n$2\r\nfl\r\n$4\r\n10.6\r\n", "="),
    ("HSCAN h abc", "-ERR invalid cursor\r\n", "="),
    ("HSCAN h 0 COUNT", "-ERR syntax error\r\n", "="),
    ("HSCAN h 0 COUNT 0", "-ERR syntax error\r\n", "="),
    ("HSCAN h 0 COUNT x", "-ERR value is not an integer or out of range\r\n", "="),
    ("HSCAN h 0 TYPE string", "-ERR syntax error\r\n", "="),
    ("HSCAN h 0 MATCH a*", "*2\r\n$1\r\n0\r\n*0\r\n", "="),
    ("HSCAN h 0 MATCH *", "*2\r\n$1\r\n0\r\n*24\r\n$1\r\nc\r\n$3\r\n0.5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n5\r\n$4\r\nnewc\r\n$1\r\n7\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n$1\r\nf\r\n$3\r\n1.6\r\n$1\r\ne\r\n$1\r\n0\r\n$2\r\nfl\r\n$4\r\n10.6\r\n", "="),
    ("HSCAN h 99 COUNT 1", "*2\r\n$1\r\n0\r\n*24\r\n$1\r\nc\r\n$3\r\n0.5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n5\r\n$4\r\nnewc\r\n$1\r\n7\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n$1\r\nf\r\n$3\r\n1.6\r\n$1\r\ne\r\n$1\r\n0\r\n$2\r\nfl\r\n$4\r\n10.6\r\n", "="),
    ("HSCAN nokey 0", "*2\r\n$1\r\n0\r\n*0\r\n", "="),
    ("HSCAN nokey 0 COUNT x", "*2\r\n$1\r\n0\r\n*0\r\n", "="),
    ("HSCAN h -1", "*2\r\n$1\r\n0\r\n*24\r\n$1\r\nc\r\n$3\r\n0.5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n5\r\n$4\r\nnewc\r\n$1\r\n7\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n$1\r\nf\r\n$3\r\n1.6\r\n$1\r\ne\r\n$1\r\n0\r\n$2\r\nfl\r\n$4\r\n10.6\r\n", "="),
    ("HSCAN h 18446744073709551616", "-ERR invalid cursor\r\n", "="),
    ("HRANDFIELD nokey", "$-1\r\n", "_\r\n"),
    ("HRANDFIELD nokey 3", "*0\r\n", "="),
    ("HRANDFIELD nokey 3 WITHVALUES", "*0\r\n", "="),
    ("HRANDFIELD h 0", "*0\r\n", "="),
    ("HRANDFIELD h abc", "-ERR value is not an integer or out of range\r\n", "="),
    ("HRANDFIELD h -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n", "="),
    ("HRANDFIELD h 1 withvalue", "-ERR syntax error\r\n", "="),
    ("HRANDFIELD h 1 withvalues x", "-ERR syntax error\r\n", "="),
    ("HRANDFIELD h 4611686018427387904 WITHVALUES", "-ERR value is out of range\r\n", "="),
    ("HRANDFIELD h 4611686018427387903 WITHVALUES", "*24\r\n$1\r\nc\r\n$3\r\n0.5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n5\r\n$4\r\nnewc\r\n$1\r\n7\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n$1\r\nf\r\n$3\r\n1.6\r\n$1\r\ne\r\n$1\r\n0\r\n$2\r\nfl\r\n$4\r\n10.6\r\n", "*12\r\n*2\r\n$1\r\nc\r\n$3\r\n0.5\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n*2\r\n$3\r\nnew\r\n$1\r\n5\r\n*2\r\n$4\r\nnewc\r\n$1\r\n7\r\n*2\r\n$1\r\ns\r\n$10\r\nnotanumber\r\n*2\r\n$3\r\nbig\r\n$19\r\n9223372036854775800\r\n*2\r\n$3\r\nneg\r\n$20\r\n-9223372036854775800\r\n*2\r\n$1\r\nf\r\n$3\r\n1.6\r\n*2\r\n$1\r\ne\r\n$1\r\n0\r\n*2\r\n$2\r\nfl\r\n$4\r\n10.6\r\n"),
    ("HDEL h c d x y new newc s big neg f e fl", ":12\r\n", "="),
    ("EXISTS h", ":0\r\n", "="),
    ("HDEL h nothing", ":0\r\n", "="),
    ("HSET h2 k v", ":1\r\n", "="),
    ("HDEL h2 k", ":1\r\n", "="),
    ("EXISTS h2", ":0\r\n", "="),
    ("HSETNX nn f v", ":1\r\n", "="),
    ("HGETALL nn", "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"),
    ("HSET h a 1 b 2", ":2\r\n", "="),
    ("TYPE h", "+hash\r\n", "="),
    ("GET h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("INCR h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("APPEND h x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("STRLEN h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("SETRANGE h 0 x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("GETDEL h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("SADD h x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("SMEMBERS h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("SCARD h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("SINTER h", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("SET h v", "+OK\r\n", "="),
    ("HGET h a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "="),
    ("TYPE h", "+string\r\n", "="),
    ("DEL h", ":1\r\n", "="),
    ("HSET src f v", ":1\r\n", "="),
    ("EXPIRE src 100", ":1\r\n", "="),
    ("RENAME src dst", "+OK\r\n", "="),
    ("HGETALL dst", "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"),
    ("TTL dst", ":100\r\n", "="),
    ("COPY dst cp", ":1\r\n", "="),
    ("HGETALL cp", "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"),
    ("TTL cp", ":100\r\n", "="),
    ("HSET cp f w", ":0\r\n", "="),
    ("HGET dst f", "$1\r\nv\r\n", "="),
    ("HSET e f \"\"", ":1\r\n", "="),
    ("HGET e f", "$2\r\n\"\"\r\n", "="),
    ("HSTRLEN e f", ":2\r\n", "="),
    ("HSET e \"\" v", ":1\r\n", "="),
    ("HKEYS e", "*2\r\n$1\r\nf\r\n$2\r\n\"\"\r\n", "="),
    ("HINCRBY e cnt 9223372036854775807", ":9223372036854775807\r\n", "="),
    ("HINCRBY e cnt 1", "-ERR increment or decrement would overflow\r\n", "="),
    ("HINCRBY e cnt -9223372036854775808", ":-1\r\n", "="),
    ("HINCRBY e cnt -1", ":-2\r\n", "="),
    ("HINCRBY e cnt 99999999999999999999", "-ERR value is not an integer or out of range\r\n", "="),
    ("HINCRBYFLOAT e fl 1e-17", "$19\r\n0.00000000000000001\r\n", "="),
    ("HINCRBYFLOAT e fl 1.5e20", "$21\r\n150000000000000000000\r\n", "="),
    ("HINCRBYFLOAT e fl2 -0.0", "$1\r\n0\r\n", "="),
    ("HINCRBYFLOAT e fl3 3.0e0", "$1\r\n3\r\n", "="),
    ("HSET e sp \" 1\"", "-ERR wrong number of arguments for 'hset' command\r\n", "="),
    ("HINCRBYFLOAT e sp 1", "$1\r\n1\r\n", "="),
    ("HINCRBY e sp 1", ":2\r\n", "="),
    ("HSET e int 12", ":1\r\n", "="),
    ("HINCRBYFLOAT e int 0.5", "$4\r\n12.5\r\n", "="),
    ("HSET e fint 1.5", ":1\r\n", "="),
    ("HINCRBY e fint 1", "-ERR hash value is not an integer\r\n", "="),
    ("HGETALL e", "*18\r\n$1\r\nf\r\n$2\r\n\"\"\r\n$2\r\n\"\"\r\n$1\r\nv\r\n$3\r\ncnt\r\n$2\r\n-2\r\n$2\r\nfl\r\n$21\r\n150000000000000000000\r\n$3\r\nfl2\r\n$1\r\n0\r\n$3\r\nfl3\r\n$1\r\n3\r\n$2\r\nsp\r\n$1\r\n2\r\n$3\r\nint\r\n$4\r\n12.5\r\n$4\r\nfint\r\n$3\r\n1.5\r\n", "%9\r\n$1\r\nf\r\n$2\r\n\"\"\r\n$2\r\n\"\"\r\n$1\r\nv\r\n$3\r\ncnt\r\n$2\r\n-2\r\n$2\r\nfl\r\n$21\r\n150000000000000000000\r\n$3\r\nfl2\r\n$1\r\n0\r\n$3\r\nfl3\r\n$1\r\n3\r\n$2\r\nsp\r\n$1\r\n2\r\n$3\r\nint\r\n$4\r\n12.5\r\n$4\r\nfint\r\n$3\r\n1.5\r\n"),
];

#[test]
fn every_command_and_error_matches_redis_in_both_protocols() {
    let node = Node::start(&[]);
    replay_transcript(&node, TRANSCRIPT);
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    q(c, &["OBJECT", "ENCODING", key])
}

fn hset_many(c: &mut redis::Connection, key: &str, fields: impl Iterator<Item = (String, String)>) -> i64 {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(key);
    for (f, v) in fields {
        cmd.arg(f).arg(v);
    }
    cmd.query(c).unwrap()
}

#[test]
fn encodings_convert_at_redis_thresholds_and_never_back() {
    let node = Node::start(&[]);
    let mut c = node.client();
    // Redis 7.0: hash-max-listpack-entries 512, hash-max-listpack-value 64.
    assert_eq!(hset_many(&mut c, "h", (0..512).map(|i| (format!("f{i}"), "v".into()))), 512);
    assert_eq!(encoding(&mut c, "h"), "listpack");
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "f512", "v"]), 1);
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    let del: Vec<String> = (0..510).map(|i| format!("f{i}")).collect();
    let mut cmd = redis::cmd("HDEL");
    cmd.arg("h").arg(&del);
    assert_eq!(cmd.query::<i64>(&mut c).unwrap(), 510);
    assert_eq!(encoding(&mut c, "h"), "hashtable", "never converts back");
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    q::<i64>(&mut c, &["HSET", "small", "a", &v64, &v64, "b"]);
    assert_eq!(encoding(&mut c, "small"), "listpack");
    q::<i64>(&mut c, &["HSET", "small", "c", &v65]);
    assert_eq!(encoding(&mut c, "small"), "hashtable");
    q::<i64>(&mut c, &["HSET", "longfield", &v65, "1"]);
    assert_eq!(encoding(&mut c, "longfield"), "hashtable");
    // HSETNX converts only when it writes; HINCRBY converts on a long field name.
    q::<i64>(&mut c, &["HSET", "nx", "a", "1"]);
    assert_eq!(q::<i64>(&mut c, &["HSETNX", "nx", "a", &v65]), 0);
    assert_eq!(encoding(&mut c, "nx"), "listpack");
    assert_eq!(q::<i64>(&mut c, &["HSETNX", "nx", "b", &v65]), 1);
    assert_eq!(encoding(&mut c, "nx"), "hashtable");
    q::<i64>(&mut c, &["HINCRBY", "incr", &v65, "1"]);
    assert_eq!(encoding(&mut c, "incr"), "hashtable");
    // Every argument of an HSET counts, even one overwritten later in the same call.
    q::<i64>(&mut c, &["HSET", "over", "a", &v65, "a", "1"]);
    assert_eq!(encoding(&mut c, "over"), "hashtable");
    assert_eq!(q::<String>(&mut c, &["HGET", "over", "a"]), "1");
}

#[test]
fn big_hashes_answer_like_small_ones() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut model = BTreeMap::new();
    for i in 0..3000 {
        model.insert(format!("field:{i}"), format!("value:{}", i * 7));
    }
    hset_many(&mut c, "big", model.clone().into_iter());
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let all: HashMap<String, String> = q(&mut c, &["HGETALL", "big"]);
    assert_eq!(all.into_iter().collect::<BTreeMap<_, _>>(), model);
    assert_eq!(q::<i64>(&mut c, &["HLEN", "big"]), 3000);
    assert_eq!(q::<String>(&mut c, &["HGET", "big", "field:42"]), "value:294");
    assert_eq!(q::<i64>(&mut c, &["HSTRLEN", "big", "field:42"]), 9);
    let keys: HashSet<String> = q(&mut c, &["HKEYS", "big"]);
    assert_eq!(keys.len(), 3000);
    let vals: Vec<String> = q(&mut c, &["HVALS", "big"]);
    assert_eq!(vals.len(), 3000);
    let err = redis::cmd("HINCRBY").arg("big").arg("field:1").arg(3).query::<i64>(&mut c).unwrap_err();
    assert_eq!(err.detail(), Some("hash value is not an integer"));
    assert_eq!(q::<i64>(&mut c, &["HINCRBY", "big", "n", "3"]), 3);
    assert_eq!(q::<String>(&mut c, &["HINCRBYFLOAT", "big", "n", "0.5"]), "3.5");
    assert_eq!(q::<i64>(&mut c, &["HDEL", "big", "field:0", "field:1", "nope"]), 2);
    let fields: Vec<String> = model.keys().cloned().collect();
    let mut cmd = redis::cmd("HDEL");
    cmd.arg("big").arg(&fields).arg("n");
    assert_eq!(cmd.query::<i64>(&mut c).unwrap(), 2999);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "big"]), 0, "the emptied hash is deleted");
}

/// The RESP2 and RESP3 shapes of HRANDFIELD, and what each promises: distinct fields for
/// a positive count, independent picks for a negative one, values that belong to their
/// fields.
#[test]
fn hrandfield_shapes_and_guarantees() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut c3 = node.client3();
    hset_many(&mut c, "small", (0..10).map(|i| (format!("f{i}"), format!("v{i}"))));
    hset_many(&mut c, "big", (0..1000).map(|i| (format!("f{i}"), format!("v{i}"))));
    for key in ["small", "big"] {
        let n = if key == "small" { 10 } else { 1000 };
        let one: String = q(&mut c, &["HRANDFIELD", key]);
        assert!(one.starts_with('f'));
        for count in [1, 5, 9] {
            let got: Vec<String> = q(&mut c, &["HRANDFIELD", key, &count.to_string()]);
            assert_eq!(got.len(), count);
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), count, "distinct");
            let pairs: Vec<String> = q(&mut c, &["HRANDFIELD", key, &count.to_string(), "WITHVALUES"]);
            assert_eq!(pairs.len(), 2 * count, "RESP2 flattens pairs");
            for p in pairs.chunks(2) {
                assert_eq!(p[1], p[0].replace('f', "v"));
            }
            let nested: Value = q(&mut c3, &["HRANDFIELD", key, &count.to_string(), "WITHVALUES"]);
            let Value::Array(items) = nested else { panic!("{nested:?}") };
            assert_eq!(items.len(), count);
            for item in items {
                let Value::Array(p) = item else { panic!("RESP3 pairs are arrays") };
                assert_eq!(p.len(), 2);
            }
        }
        let all: Vec<String> = q(&mut c, &["HRANDFIELD", key, "5000"]);
        assert_eq!(all.len(), n, "a count past the size returns every field");
        let repeats: Vec<String> = q(&mut c, &["HRANDFIELD", key, "-3000"]);
        assert_eq!(repeats.len(), 3000);
        let distinct = repeats.iter().collect::<HashSet<_>>().len();
        assert!(distinct <= n && distinct > n / 3, "picks spread over the hash: {distinct}");
        let pairs: Vec<String> = q(&mut c, &["HRANDFIELD", key, "-7", "WITHVALUES"]);
        assert_eq!(pairs.len(), 14);
    }
    // A huge repeating count is refused instead of building an unbounded reply.
    let mut r = node.raw();
    rt(&mut r, "HRANDFIELD big -100000000", err_reply("ERR value is out of range"));
}

fn scan_all(c: &mut redis::Connection, key: &str, count: usize, mut between: impl FnMut(&mut redis::Connection, usize)) -> HashMap<String, String> {
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    for call in 0.. {
        let (next, items): (String, Vec<String>) = q(c, &["HSCAN", key, &cursor, "COUNT", &count.to_string()]);
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        between(c, call);
        if next == "0" {
            break;
        }
        assert!(call < 100_000, "HSCAN does not terminate");
        cursor = next;
    }
    seen
}

#[test]
fn hscan_returns_every_field_present_throughout_while_the_hash_grows() {
    let node = Node::start(&[]);
    let mut c = node.client();
    hset_many(&mut c, "h", (0..2000).map(|i| (format!("stable{i}"), format!("{i}"))));
    // Grow the table several times over during the scan, then shrink it again.
    let seen = scan_all(&mut c, "h", 20, |c, call| {
        if call < 40 {
            hset_many(c, "h", (0..500).map(|i| (format!("new{call}-{i}"), "x".into())));
        }
        if call == 60 {
            let mut cmd = redis::cmd("HDEL");
            cmd.arg("h");
            for k in 0..40 {
                cmd.arg((0..500).map(|i| format!("new{k}-{i}")).collect::<Vec<_>>());
            }
            cmd.query::<i64>(c).unwrap();
        }
    });
    for i in 0..2000 {
        assert_eq!(seen.get(&format!("stable{i}")), Some(&i.to_string()), "missed stable{i}");
    }
    // MATCH filters fields; a listpack hash comes back whole with cursor 0.
    hset_many(&mut c, "small", [("a1", "1"), ("b1", "2"), ("a2", "3")].into_iter().map(|(f, v)| (f.into(), v.into())));
    let (next, items): (String, Vec<String>) = q(&mut c, &["HSCAN", "small", "0", "MATCH", "a*", "COUNT", "1"]);
    assert_eq!((next.as_str(), items), ("0", vec!["a1".into(), "1".into(), "a2".into(), "3".into()]));
}

/// Sessions as hashes: fields written with HSET and a TTL set with EXPIRE, read back with
/// HGETALL, counters bumped with HINCRBY; updates keep the TTL and expiry drops it all.
#[test]
fn session_store_pattern() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut c3 = node.client3();
    for s in 0..50 {
        let key = format!("session:{s}");
        assert_eq!(q::<i64>(&mut c, &["HSET", &key, "user", &format!("user{s}"), "csrf", "tok", "views", "0"]), 3);
        assert_eq!(q::<i64>(&mut c, &["EXPIRE", &key, "100"]), 1);
    }
    for _ in 0..5 {
        for s in 0..50 {
            q::<i64>(&mut c, &["HINCRBY", &format!("session:{s}"), "views", "1"]);
        }
    }
    q::<i64>(&mut c, &["HSET", "session:7", "cart", "3 items"]);
    let s7: HashMap<String, String> = q(&mut c, &["HGETALL", "session:7"]);
    assert_eq!(s7.get("views").map(String::as_str), Some("5"));
    assert_eq!(s7.get("user").map(String::as_str), Some("user7"));
    assert_eq!(s7.len(), 4);
    // RESP3 clients get a map.
    let m: Value = q(&mut c3, &["HGETALL", "session:7"]);
    assert!(matches!(&m, Value::Map(kv) if kv.len() == 4), "{m:?}");
    let ttl: i64 = q(&mut c, &["TTL", "session:7"]);
    assert!((95..=100).contains(&ttl), "HSET and HINCRBY keep the TTL: {ttl}");
    // Expire one session for real and watch it go, fields and all.
    q::<i64>(&mut c, &["PEXPIRE", "session:3", "50"]);
    assert!(wait_for(Duration::from_secs(5), || q::<i64>(&mut c, &["EXISTS", "session:3"]) == 0));
    let gone: HashMap<String, String> = q(&mut c, &["HGETALL", "session:3"]);
    assert!(gone.is_empty());
    assert_eq!(q::<i64>(&mut c, &["HINCRBY", "session:3", "views", "1"]), 1, "a new session starts from zero");
    assert_eq!(q::<i64>(&mut c, &["TTL", "session:3"]), -1);
}

#[test]
fn command_table_entries_match_redis() {
    let node = Node::start(&[]);
    let mut c = node.client();
    // name, arity, flags, first key, last key, step, ACL categories (redis-server 7.0.15).
    let want: &[CommandInfo] = &[
        ("hset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"),
        ("hsetnx", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"),
        ("hget", 3, "readonly fast", 1, 1, 1, "@read @hash @fast"),
        ("hmset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"),
        ("hmget", -3, "readonly fast", 1, 1, 1, "@read @hash @fast"),
        ("hdel", -3, "write fast", 1, 1, 1, "@write @hash @fast"),
        ("hexists", 3, "readonly fast", 1, 1, 1, "@read @hash @fast"),
        ("hgetall", 2, "readonly", 1, 1, 1, "@read @hash @slow"),
        ("hkeys", 2, "readonly", 1, 1, 1, "@read @hash @slow"),
        ("hvals", 2, "readonly", 1, 1, 1, "@read @hash @slow"),
        ("hlen", 2, "readonly fast", 1, 1, 1, "@read @hash @fast"),
        ("hstrlen", 3, "readonly fast", 1, 1, 1, "@read @hash @fast"),
        ("hincrby", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"),
        ("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"),
        ("hrandfield", -2, "readonly", 1, 1, 1, "@read @hash @slow"),
        ("hscan", -3, "readonly", 1, 1, 1, "@read @hash @slow"),
    ];
    assert_command_info(&mut c, want);
    let docs: Value = q(&mut c, &["COMMAND", "DOCS", "hrandfield"]);
    let text = format!("{docs:?}");
    assert!(text.contains("Get one or multiple random fields from a hash") && text.contains("6.2.0") && text.contains("hash"), "{text}");
}

/// `rdb_changes_since_last_save` after each write, as redis-server 7.0.15 counts them.
#[test]
fn writes_count_changes_like_redis() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let steps: &[(&str, i64)] = &[
        ("HSET h a 1 b 2", 2),
        ("HSET h a 1", 1),
        ("HSETNX h a 1", 0),
        ("HSETNX h c 1", 1),
        ("HDEL h a zz", 1),
        ("HDEL h zz", 0),
        ("HINCRBY h n 1", 1),
        ("HINCRBYFLOAT h f 1.5", 1),
        ("HMSET h x 1 y 2", 2),
        ("HDEL h b c n f x y", 6),
    ];
    assert_changes(&mut c, steps);
}
