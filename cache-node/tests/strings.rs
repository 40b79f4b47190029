//! String commands against the real binary: replies and error texts byte for byte as
//! Redis 7.0 sends them (checked against redis-server 7.0.15), TTL behaviour, and the
//! atomicity of the multi-key commands.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";

fn get(c: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

/// True once `key` has expired (polling GET, bounded).
fn expires(c: &mut redis::Connection, key: &str) -> bool {
    wait_for(Duration::from_secs(5), || get(c, key).is_none())
}

#[test]
fn set_options_replies_and_errors() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "SET k v", OK);
    rt(&mut r, "GET k", bulk("v"));
    // the same TTL option twice is allowed (the last wins); different ones are not
    rt(&mut r, "SET k v EX 10 EX 20", OK);
    rt(&mut r, "SET k v KEEPTTL KEEPTTL", OK);
    rt(&mut r, "SET k v NX NX", NIL);
    for bad in [
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v EX 10 PX 100",
        "SET k v EX 10 KEEPTTL",
        "SET k v KEEPTTL PXAT 10",
        "SET k v EX",
        "SET k v PERSIST",
        "SET k v FOO",
        // flags are read before numbers: the syntax error wins
        "SET k v EX abc NX XX",
    ] {
        rt(&mut r, bad, SYNTAX);
    }
    rt(&mut r, "SET k v EX abc", NOT_INT);
    for bad in ["EX 0", "EX -1", "PX 0", "EXAT 0", "PXAT -5", "EX 9223372036854776", "PX 9223372036854775807", "EXAT 9223372036854776"] {
        rt(&mut r, &format!("SET k v {bad}"), err_reply("ERR invalid expire time in 'set' command"));
    }
    rt(&mut r, "SET k v EXAT 9223372036854775", OK);
    rt(&mut r, "SET k v PXAT 9223372036854775807", OK);
    // GET returns the old value whether or not NX/XX lets the write happen
    rt(&mut r, "SET k old", OK);
    rt(&mut r, "SET k new GET GET", bulk("old"));
    rt(&mut r, "SET k newer NX GET", bulk("new"));
    rt(&mut r, "GET k", bulk("new"));
    rt(&mut r, "SET fresh v XX GET", NIL);
    rt(&mut r, "GET fresh", NIL);
    rt(&mut r, "SET fresh v NX GET", NIL);
    rt(&mut r, "SET fresh w XX", OK);
    rt(&mut r, "SET fresh w NX", NIL);
    rt(&mut r, "GET fresh", bulk("w"));
    // an absolute time in the past stores a key that is already gone
    rt(&mut r, "SET past v EXAT 1", OK);
    rt(&mut r, "GET past", NIL);
    rt(&mut r, "SET past v PXAT 1 GET", NIL);
    rt(&mut r, "GET past", NIL);
    rt(&mut r, "set lower v ex 100 nx get", NIL);
    rt(&mut r, "get lower", bulk("v"));
    // binary-safe values, including an empty one
    r.roundtrip(&resp(&[b"SET", b"bin", b"a\r\n\0b"]), OK.as_bytes());
    r.roundtrip(&resp(&[b"GET", b"bin"]), b"$5\r\na\r\n\0b\r\n");
    r.roundtrip(&resp(&[b"SET", b"empty", b""]), OK.as_bytes());
    r.roundtrip(&resp(&[b"GET", b"empty"]), b"$0\r\n\r\n");
    rt(&mut r, "SET k", err_reply("ERR wrong number of arguments for 'set' command"));
    rt(&mut r, "GET", err_reply("ERR wrong number of arguments for 'get' command"));
    // RESP3 clients get the same answers
    let mut c3 = node.client3();
    let v: Option<String> = redis::cmd("SET").arg("k3").arg("v").arg("XX").arg("GET").query(&mut c3).unwrap();
    assert_eq!(v, None);
    let v: redis::Value = redis::cmd("SET").arg("k3").arg("v").arg("XX").query(&mut c3).unwrap();
    assert_eq!(v, redis::Value::Nil);
}

#[test]
fn resp3_null_replies_are_underscore() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    hello3(&mut r);
    rt(&mut r, "GET nosuch", "_\r\n");
    rt(&mut r, "SET k v XX", "_\r\n");
    rt(&mut r, "SET k v XX GET", "_\r\n");
    rt(&mut r, "GETDEL nosuch", "_\r\n");
    rt(&mut r, "GETEX nosuch", "_\r\n");
    rt(&mut r, "GETSET k v", "_\r\n");
    rt(&mut r, "MGET k nosuch", "*2\r\n$1\r\nv\r\n_\r\n");
    rt(&mut r, "SETNX k x", ":0\r\n");
    // INCRBYFLOAT is a bulk string in RESP3 too, not a double
    rt(&mut r, "SET f 10.5", OK);
    rt(&mut r, "INCRBYFLOAT f 0.1", bulk("10.6"));
}

#[test]
fn setnx_setex_psetex_getset_getdel() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "SETNX a 1", ":1\r\n");
    rt(&mut r, "SETNX a 2", ":0\r\n");
    rt(&mut r, "GET a", bulk("1"));
    rt(&mut r, "SETEX b 100 v", OK);
    rt(&mut r, "GET b", bulk("v"));
    rt(&mut r, "SETEX b 0 v", err_reply("ERR invalid expire time in 'setex' command"));
    rt(&mut r, "SETEX b -5 v", err_reply("ERR invalid expire time in 'setex' command"));
    rt(&mut r, "SETEX b 9223372036854776 v", err_reply("ERR invalid expire time in 'setex' command"));
    rt(&mut r, "SETEX b abc v", NOT_INT);
    rt(&mut r, "SETEX b 10", err_reply("ERR wrong number of arguments for 'setex' command"));
    rt(&mut r, "PSETEX c 100000 v", OK);
    rt(&mut r, "GET c", bulk("v"));
    rt(&mut r, "PSETEX c 0 v", err_reply("ERR invalid expire time in 'psetex' command"));
    rt(&mut r, "PSETEX c abc v", NOT_INT);
    rt(&mut r, "GETSET d first", NIL);
    rt(&mut r, "GETSET d second", bulk("first"));
    rt(&mut r, "GET d", bulk("second"));
    rt(&mut r, "GETSET d", err_reply("ERR wrong number of arguments for 'getset' command"));
    rt(&mut r, "GETDEL d", bulk("second"));
    rt(&mut r, "GETDEL d", NIL);
    rt(&mut r, "GET d", NIL);
    rt(&mut r, "GETDEL", err_reply("ERR wrong number of arguments for 'getdel' command"));
}

#[test]
fn getex_options_and_errors() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "GETEX nosuch", NIL);
    // a missing key answers nil before its options' numbers are validated
    rt(&mut r, "GETEX nosuch EX abc", NIL);
    rt(&mut r, "GETEX nosuch EX 0", NIL);
    rt(&mut r, "GETEX nosuch FOO", SYNTAX);
    rt(&mut r, "SET k v", OK);
    rt(&mut r, "GETEX k", bulk("v"));
    for bad in ["EX", "NX", "XX", "GET", "KEEPTTL", "PERSIST EX 10", "EX 10 PERSIST", "EX 5 PX 10"] {
        rt(&mut r, &format!("GETEX k {bad}"), SYNTAX);
    }
    rt(&mut r, "GETEX k EX abc", NOT_INT);
    for bad in ["EX 0", "PX -1", "EXAT 0", "EX 9223372036854776"] {
        rt(&mut r, &format!("GETEX k {bad}"), err_reply("ERR invalid expire time in 'getex' command"));
    }
    rt(&mut r, "GETEX k PERSIST PERSIST", bulk("v"));
    rt(&mut r, "GETEX k EX 5 EX 100", bulk("v"));
    // an absolute time already passed deletes the key after replying
    rt(&mut r, "GETEX k EXAT 1", bulk("v"));
    rt(&mut r, "GET k", NIL);
    rt(&mut r, "SET k v", OK);
    rt(&mut r, "GETEX k PXAT 1", bulk("v"));
    rt(&mut r, "GET k", NIL);
    rt(&mut r, "GETEX", err_reply("ERR wrong number of arguments for 'getex' command"));
}

#[test]
fn ttl_behaviour_of_writes() {
    let node = Node::start(&[]);
    let mut c = node.client();

    // EX/PX/SETEX/PSETEX/GETEX set a TTL that really expires the key
    q::<redis::Value>(&mut c, &["SET", "px", "v", "PX", "100"]);
    assert!(expires(&mut c, "px"));
    q::<redis::Value>(&mut c, &["PSETEX", "psetex", "100", "v"]);
    assert!(expires(&mut c, "psetex"));
    q::<redis::Value>(&mut c, &["SET", "getex", "v"]);
    q::<redis::Value>(&mut c, &["GETEX", "getex", "PX", "100"]);
    assert!(expires(&mut c, "getex"));
    let now_ms = unix_ms();
    q::<redis::Value>(&mut c, &["SET", "pxat", "v", "PXAT", &(now_ms + 100).to_string()]);
    assert!(expires(&mut c, "pxat"));

    // KEEPTTL and the in-place updates keep the TTL. All keys share one TTL, long enough
    // that a loaded machine still runs every update before it ends.
    let keep: [(&str, &[&str]); 7] = [
        ("keepttl", &["SET", "keepttl", "w", "KEEPTTL"]),
        ("incr", &["INCR", "incr"]),
        ("decrby", &["DECRBY", "decrby", "5"]),
        ("incrbyfloat", &["INCRBYFLOAT", "incrbyfloat", "1.5"]),
        ("append", &["APPEND", "append", "more"]),
        ("setrange", &["SETRANGE", "setrange", "0", "x"]),
        ("setbit", &["SETBIT", "setbit", "3", "1"]),
    ];
    for (key, _) in keep {
        q::<redis::Value>(&mut c, &["SET", key, "1", "PX", "1000"]);
    }
    for (key, update) in keep {
        q::<redis::Value>(&mut c, update);
        assert!(get(&mut c, key).is_some(), "{key} survives its update");
    }
    for (key, _) in keep {
        assert!(expires(&mut c, key), "{key} keeps its TTL");
    }

    // Plain SET, GETSET, MSET, SET GET and GETEX PERSIST clear it. The keys are compared
    // with a marker given the same TTL afterwards: once it is gone, so would they be.
    let clear: [(&str, &[&str]); 5] = [
        ("set", &["SET", "set", "w"]),
        ("getset", &["GETSET", "getset", "w"]),
        ("mset", &["MSET", "mset", "w", "other", "x"]),
        ("persist", &["GETEX", "persist", "PERSIST"]),
        ("set-get", &["SET", "set-get", "w", "GET"]),
    ];
    for (key, _) in clear {
        q::<redis::Value>(&mut c, &["SET", key, "1", "PX", "1000"]);
    }
    q::<redis::Value>(&mut c, &["SET", "marker", "m", "PX", "1000"]);
    for (_, update) in clear {
        q::<redis::Value>(&mut c, update);
    }
    assert!(expires(&mut c, "marker"));
    for (key, _) in clear {
        assert!(get(&mut c, key).is_some(), "{key} lost its TTL");
    }
}

#[test]
fn mget_mset_msetnx() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "MSET a", err_reply("ERR wrong number of arguments for 'mset' command"));
    rt(&mut r, "MSET a 1 b", err_reply("ERR wrong number of arguments for 'mset' command"));
    rt(&mut r, "MSETNX a 1 b", err_reply("ERR wrong number of arguments for 'msetnx' command"));
    rt(&mut r, "MGET", err_reply("ERR wrong number of arguments for 'mget' command"));
    rt(&mut r, "MSET a 1 b 2", OK);
    rt(&mut r, "MSETNX a 1 c 2", ":0\r\n");
    rt(&mut r, "GET c", NIL);
    rt(&mut r, "MSETNX c 3 d 4", ":1\r\n");
    rt(&mut r, "MGET a b c d nosuch", "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$-1\r\n");
    // duplicate keys: the last value wins
    rt(&mut r, "MSET a x a y", OK);
    rt(&mut r, "GET a", bulk("y"));

    // many keys spread over many partitions, with a real client
    let mut c = node.client();
    let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
    let mut cmd = redis::cmd("MSET");
    for k in &keys {
        cmd.arg(k).arg(format!("v-{k}"));
    }
    let _: () = cmd.query(&mut c).unwrap();
    let vals: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).arg("missing").query(&mut c).unwrap();
    assert_eq!(vals.len(), 201);
    for (k, v) in keys.iter().zip(&vals) {
        assert_eq!(v.as_deref(), Some(format!("v-{k}").as_str()));
    }
    assert_eq!(vals[200], None);
}

#[test]
fn mset_is_atomic_under_concurrent_writers() {
    let node = Node::start(&[]);
    // enough keys to span many partitions
    let keys: Arc<Vec<String>> = Arc::new((0..16).map(|i| format!("atomic:{i}")).collect());
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = ["x", "y"]
        .into_iter()
        .map(|tag| {
            let (keys, mut c) = (keys.clone(), node.client());
            std::thread::spawn(move || {
                for i in 0..1500 {
                    let mut cmd = redis::cmd("MSET");
                    for k in keys.iter() {
                        cmd.arg(k).arg(format!("{tag}{i}"));
                    }
                    let _: () = cmd.query(&mut c).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let (keys, done, mut c) = (keys.clone(), done.clone(), node.client());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !done.load(Ordering::Relaxed) || reads < 100 {
                let vals: Vec<Option<String>> = redis::cmd("MGET").arg(&*keys).query(&mut c).unwrap();
                if vals[0].is_some() {
                    assert!(vals.iter().all(|v| *v == vals[0]), "MGET saw a partial MSET: {vals:?}");
                }
                reads += 1;
            }
            reads
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads >= 100);
}

#[test]
fn msetnx_sets_all_or_nothing_under_races() {
    let node = Node::start(&[]);
    // Two clients race MSETNX over overlapping key pairs: per round exactly one wins.
    let rounds = 300;
    let handles: Vec<_> = [("a", "b"), ("b", "c")]
        .into_iter()
        .map(|(x, y)| {
            let mut c = node.client();
            std::thread::spawn(move || {
                (0..rounds)
                    .map(|i| redis::cmd("MSETNX").arg(format!("{x}{i}")).arg(x).arg(format!("{y}{i}")).arg(x).query::<i64>(&mut c).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<i64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut c = node.client();
    for (i, (a_won, b_won)) in results[0].iter().zip(&results[1]).enumerate() {
        assert_eq!(a_won + b_won, 1, "round {i}");
        let vals: Vec<Option<String>> = redis::cmd("MGET").arg(format!("a{i}")).arg(format!("b{i}")).arg(format!("c{i}")).query(&mut c).unwrap();
        let winner = if *a_won == 1 { "a" } else { "b" };
        let set: Vec<&Option<String>> = vals.iter().filter(|v| v.is_some()).collect();
        assert_eq!(set.len(), 2, "round {i}: {vals:?}");
        assert!(set.iter().all(|v| v.as_deref() == Some(winner)), "round {i}: {vals:?}");
    }
}

#[test]
fn append_strlen_getrange_setrange() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "APPEND k hello", ":5\r\n");
    r.roundtrip(&resp(&[b"APPEND", b"k", b" world"]), b":11\r\n");
    rt(&mut r, "GET k", bulk("hello world"));
    rt(&mut r, "STRLEN k", ":11\r\n");
    rt(&mut r, "STRLEN nosuch", ":0\r\n");
    r.roundtrip(&resp(&[b"APPEND", b"e", b""]), b":0\r\n");
    rt(&mut r, "GET e", "$0\r\n\r\n");

    rt(&mut r, "GETRANGE k 0 4", bulk("hello"));
    rt(&mut r, "GETRANGE k -5 -1", bulk("world"));
    rt(&mut r, "GETRANGE k 0 -1", bulk("hello world"));
    rt(&mut r, "GETRANGE k -100 100", bulk("hello world"));
    rt(&mut r, "GETRANGE k -100 -50", bulk("h"));
    rt(&mut r, "GETRANGE k -1 -2", "$0\r\n\r\n");
    rt(&mut r, "GETRANGE k 5 3", "$0\r\n\r\n");
    rt(&mut r, "GETRANGE k 9223372036854775807 -9223372036854775808", "$0\r\n\r\n");
    rt(&mut r, "GETRANGE k -9223372036854775808 9223372036854775807", bulk("hello world"));
    rt(&mut r, "GETRANGE nosuch 0 -1", "$0\r\n\r\n");
    rt(&mut r, "GETRANGE e 0 0", "$0\r\n\r\n");
    rt(&mut r, "GETRANGE k a 1", NOT_INT);
    rt(&mut r, "GETRANGE k 1 a", NOT_INT);
    rt(&mut r, "GETRANGE nosuch a 1", NOT_INT);
    rt(&mut r, "SUBSTR k 6 8", bulk("wor"));

    rt(&mut r, "SETRANGE s -1 x", err_reply("ERR offset is out of range"));
    rt(&mut r, "SETRANGE s abc x", NOT_INT);
    // empty value on a missing key: 0, and no key
    r.roundtrip(&resp(&[b"SETRANGE", b"s", b"5", b""]), b":0\r\n");
    rt(&mut r, "GET s", NIL);
    rt(&mut r, "SETRANGE s 3 ab", ":5\r\n");
    rt(&mut r, "GET s", "$5\r\n\0\0\0ab\r\n");
    rt(&mut r, "SETRANGE s 1 ZZZZZZ", ":7\r\n");
    rt(&mut r, "GET s", "$7\r\n\0ZZZZZZ\r\n");
    rt(&mut r, "SETRANGE s 0 y", ":7\r\n");
    rt(&mut r, "GET s", "$7\r\nyZZZZZZ\r\n");
    // empty value on an existing key: its length, whatever the offset
    r.roundtrip(&resp(&[b"SETRANGE", b"s", b"536870912", b""]), b":7\r\n");
    // beyond 512MB is refused before anything is allocated
    let too_big = err_reply("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    rt(&mut r, "SETRANGE s 536870912 x", &too_big);
    rt(&mut r, "SETRANGE s 9223372036854775807 x", &too_big);
    rt(&mut r, "SETRANGE new 536870912 x", &too_big);
    rt(&mut r, "GET new", NIL);

    // binary-safe edits with a real client
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("bin").arg(&b"\x00\xff"[..]).query(&mut c).unwrap();
    let n: i64 = redis::cmd("APPEND").arg("bin").arg(&b"\r\n"[..]).query(&mut c).unwrap();
    assert_eq!(n, 4);
    let v: Vec<u8> = redis::cmd("GETRANGE").arg("bin").arg(1).arg(2).query(&mut c).unwrap();
    assert_eq!(v, b"\xff\r");
    // a long value grows in place
    for _ in 0..100 {
        let _: i64 = redis::cmd("APPEND").arg("long").arg("0123456789").query(&mut c).unwrap();
    }
    let len: i64 = redis::cmd("STRLEN").arg("long").query(&mut c).unwrap();
    assert_eq!(len, 1000);
    assert_eq!(node.cli(&["GETRANGE", "long", "995", "-1"]), "56789\n");
}

#[test]
fn proto_max_bulk_len_limits_string_growth() {
    let node = Node::start(&["--proto-max-bulk-len", "1mb"]);
    let mut r = node.raw();
    let too_big = err_reply("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    rt(&mut r, "SETRANGE k 1048576 x", &too_big);
    rt(&mut r, "SETRANGE k 1048575 x", ":1048576\r\n");
    rt(&mut r, "APPEND k y", &too_big);
    rt(&mut r, "STRLEN k", ":1048576\r\n");
    rt(&mut r, "SETRANGE k 1048575 z", ":1048576\r\n");
    rt(&mut r, "GETRANGE k -1 -1", bulk("z"));
}

#[test]
fn integer_counters() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "INCR n", ":1\r\n");
    rt(&mut r, "INCRBY n 10", ":11\r\n");
    rt(&mut r, "DECR n", ":10\r\n");
    rt(&mut r, "DECRBY n 20", ":-10\r\n");
    rt(&mut r, "DECRBY n -15", ":5\r\n");
    rt(&mut r, "GET n", bulk("5"));
    rt(&mut r, "INCRBY n abc", NOT_INT);
    rt(&mut r, "INCRBY n 1.5", NOT_INT);
    rt(&mut r, "INCRBY n 9223372036854775808", NOT_INT);
    rt(&mut r, "SET max 9223372036854775807", OK);
    rt(&mut r, "INCR max", err_reply("ERR increment or decrement would overflow"));
    rt(&mut r, "INCRBY max -1", ":9223372036854775806\r\n");
    rt(&mut r, "SET min -9223372036854775808", OK);
    rt(&mut r, "DECR min", err_reply("ERR increment or decrement would overflow"));
    rt(&mut r, "INCRBY min -1", err_reply("ERR increment or decrement would overflow"));
    rt(&mut r, "DECRBY min -9223372036854775808", err_reply("ERR decrement would overflow"));
    rt(&mut r, "DECRBY fresh -9223372036854775808", err_reply("ERR decrement would overflow"));
    rt(&mut r, "DECRBY fresh 9223372036854775807", ":-9223372036854775807\r\n");
    // only canonical integers count: Redis's string2ll rules
    for bad in ["abc", "01", "+1", "-0", "1.0", "123456789012345678901"] {
        rt(&mut r, &format!("SET s {bad}"), OK);
        rt(&mut r, "INCR s", NOT_INT);
    }
    r.roundtrip(&resp(&[b"SET", b"s", b" 1"]), OK.as_bytes());
    rt(&mut r, "INCR s", NOT_INT);
    r.roundtrip(&resp(&[b"SET", b"s", b""]), OK.as_bytes());
    rt(&mut r, "INCR s", NOT_INT);
    rt(&mut r, "INCR", err_reply("ERR wrong number of arguments for 'incr' command"));
    let mut c = node.client();
    let v: i64 = redis::cmd("INCRBY").arg("rc").arg(-42).query(&mut c).unwrap();
    assert_eq!(v, -42);
}

#[test]
fn incrbyfloat() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "SET f 10.5", OK);
    rt(&mut r, "INCRBYFLOAT f 0.1", bulk("10.6"));
    rt(&mut r, "INCRBYFLOAT f -5", bulk("5.6"));
    rt(&mut r, "GET f", bulk("5.6"));
    rt(&mut r, "SET g 5.0e3", OK);
    rt(&mut r, "INCRBYFLOAT g 2.0e2", bulk("5200"));
    rt(&mut r, "INCRBYFLOAT h 3", bulk("3"));
    rt(&mut r, "INCRBYFLOAT h .5", bulk("3.5"));
    rt(&mut r, "INCRBYFLOAT h +1.5", bulk("5"));
    rt(&mut r, "INCRBYFLOAT big 1e17", bulk("100000000000000000"));
    rt(&mut r, "INCRBYFLOAT big2 1.5e20", bulk("150000000000000000000"));
    rt(&mut r, "INCRBYFLOAT tiny 1e-20", bulk("0"));
    rt(&mut r, "INCRBYFLOAT tiny2 1e-17", bulk("0.00000000000000001"));
    rt(&mut r, "INCRBYFLOAT negzero -0.0", bulk("0"));
    rt(&mut r, "INCRBYFLOAT p 0.1234567890123456789", bulk("0.12345678901234568"));
    rt(&mut r, "INCRBYFLOAT f abc", NOT_FLOAT);
    rt(&mut r, "INCRBYFLOAT f nan", NOT_FLOAT);
    rt(&mut r, "INCRBYFLOAT f 1e", NOT_FLOAT);
    r.roundtrip(&resp(&[b"INCRBYFLOAT", b"f", b" 1"]), NOT_FLOAT.as_bytes());
    r.roundtrip(&resp(&[b"INCRBYFLOAT", b"f", b""]), NOT_FLOAT.as_bytes());
    rt(&mut r, "INCRBYFLOAT f inf", err_reply("ERR increment would produce NaN or Infinity"));
    rt(&mut r, "INCRBYFLOAT f -inf", err_reply("ERR increment would produce NaN or Infinity"));
    rt(&mut r, "GET f", bulk("5.6"));
    rt(&mut r, "SET s abc", OK);
    rt(&mut r, "INCRBYFLOAT s 1", NOT_FLOAT);
    // a float string is not an integer
    rt(&mut r, "INCR f", NOT_INT);
    rt(&mut r, "SET i 5", OK);
    rt(&mut r, "INCRBYFLOAT i 1.5", bulk("6.5"));
    let mut c3 = node.client3();
    let v: String = redis::cmd("INCRBYFLOAT").arg("r3").arg("2.25").query(&mut c3).unwrap();
    assert_eq!(v, "2.25");
}

#[test]
fn lcs_replies() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "MSET k1 ohmytext k2 mynewtext", OK);
    rt(&mut r, "LCS k1 k2", bulk("mytext"));
    rt(&mut r, "LCS k1 k2 LEN", ":6\r\n");
    let idx = "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n";
    rt(&mut r, "LCS k1 k2 IDX", idx);
    rt(&mut r, "LCS k1 k2 IDX MINMATCHLEN -5", idx);
    rt(&mut r, "LCS k1 k2 IDX MINMATCHLEN 4 WITHMATCHLEN", "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n");
    rt(&mut r, "LCS nosuch nosuch2", "$0\r\n\r\n");
    rt(&mut r, "LCS nosuch nosuch2 IDX", "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n");
    rt(&mut r, "LCS k1 nosuch LEN", ":0\r\n");
    rt(&mut r, "LCS k1 k2 IDX LEN", err_reply("ERR If you want both the length and indexes, please just use IDX."));
    rt(&mut r, "LCS k1 k2 FOO", SYNTAX);
    rt(&mut r, "LCS k1 k2 MINMATCHLEN", SYNTAX);
    rt(&mut r, "LCS k1 k2 MINMATCHLEN abc", NOT_INT);
    rt(&mut r, "LCS k1", err_reply("ERR wrong number of arguments for 'lcs' command"));
    // RESP3: IDX is a map
    let mut c3 = node.client3();
    let v: redis::Value = redis::cmd("LCS").arg("k1").arg("k2").arg("IDX").query(&mut c3).unwrap();
    let redis::Value::Map(pairs) = v else { panic!("expected a map, got {v:?}") };
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[1], (redis::Value::BulkString(b"len".to_vec()), redis::Value::Int(6)));
}

#[test]
fn lcs_transient_memory_is_capped() {
    let node = Node::start(&["--proto-max-bulk-len", "1mb"]);
    let mut c = node.client();
    let a = "a".repeat(600);
    let _: () = redis::cmd("MSET").arg("x").arg(&a).arg("y").arg(&a).query(&mut c).unwrap();
    let mut r = node.raw();
    rt(&mut r, "LCS x y LEN", err_reply("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    let _: () = redis::cmd("SET").arg("y").arg(&a[..400]).query(&mut c).unwrap();
    rt(&mut r, "LCS x y LEN", ":400\r\n");
}

#[test]
fn wrong_type_errors() {
    let node = Node::start(&[]);
    let mut c = node.client();
    assert!(make_non_string(&mut c, "coll"), "no collection type in this build");
    let mut r = node.raw();
    rt(&mut r, "SET str foo", OK);
    for cmd in [
        "GET coll",
        "SET coll v GET",
        "GETSET coll v2",
        "GETDEL coll",
        "GETEX coll",
        "GETEX coll EX 0",
        "APPEND coll x",
        "STRLEN coll",
        "GETRANGE coll 0 1",
        "SETRANGE coll 0 x",
        "INCR coll",
        "DECRBY coll 2",
        "INCRBYFLOAT coll abc",
    ] {
        rt(&mut r, cmd, WRONGTYPE);
    }
    // arguments are validated before the type where Redis does so
    rt(&mut r, "INCRBY coll abc", NOT_INT);
    rt(&mut r, "GETRANGE coll a 1", NOT_INT);
    rt(&mut r, "SETRANGE coll -1 x", err_reply("ERR offset is out of range"));
    // MGET treats other types as missing; LCS has its own message
    rt(&mut r, "MGET coll str", "*2\r\n$-1\r\n$3\r\nfoo\r\n");
    rt(&mut r, "LCS coll str", err_reply("ERR The specified keys must contain string values"));
    // SET without GET, MSET and SETEX overwrite any type
    rt(&mut r, "SET coll v", OK);
    rt(&mut r, "GET coll", bulk("v"));
    assert!(make_non_string(&mut c, "coll2"));
    rt(&mut r, "MSET coll2 v", OK);
    rt(&mut r, "GET coll2", bulk("v"));
}
