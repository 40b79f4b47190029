//! Keyspace notifications: `notify-keyspace-events` as Redis parses and prints it, and
//! the `__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>` messages commands and
//! expiry publish (the expected events were recorded from redis-server 7.0.15).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::time::{Duration, Instant};

/// Reads one RESP2 array of bulk strings (a message frame).
fn read_frame(r: &mut Raw) -> Vec<String> {
    let head = read_line(r);
    let n: usize = head.strip_prefix('*').unwrap_or_else(|| panic!("not an array: {head}")).parse().unwrap();
    (0..n)
        .map(|_| {
            let len = read_line(r);
            if let Some(n) = len.strip_prefix(':') {
                return n.to_string();
            }
            let len: usize = len.strip_prefix('$').unwrap_or_else(|| panic!("not a bulk: {len}")).parse().unwrap();
            let mut b = r.read_exact_len(len + 2);
            b.truncate(len);
            String::from_utf8(b).unwrap()
        })
        .collect()
}

/// A subscriber to every keyspace and keyevent channel.
fn listener(node: &Node) -> Raw {
    let mut sub = node.raw();
    sub.send(&resp(&[b"PSUBSCRIBE", b"__key*__:*"]));
    assert_eq!(read_frame(&mut sub), ["psubscribe", "__key*__:*", "1"]);
    sub
}

/// The next (channel, payload) a pattern subscriber receives.
fn next_event(sub: &mut Raw) -> (String, String) {
    let f = read_frame(sub);
    assert_eq!(f[0], "pmessage", "{f:?}");
    (f[2].clone(), f[3].clone())
}

#[test]
fn config_flags_parse_and_print_as_redis() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    err(
        &mut r,
        &["CONFIG", "SET", "notify-keyspace-events", "X"],
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
    );
    let mut c = node.client();
    for (set, get) in [("KEA", "AKE"), ("Kgx", "gxK"), ("El", "lE"), ("K", "K"), ("Am", "Am"), ("", "")] {
        let _: () = q(&mut c, &["CONFIG", "SET", "notify-keyspace-events", set]);
        let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]);
        assert_eq!(got, ["notify-keyspace-events", get], "{set}");
    }
    // The command line takes the same letters.
    let node = Node::start(&["--notify-keyspace-events", "KEA"]);
    let mut c = node.client();
    let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]);
    assert_eq!(got[1], "AKE");
}

#[test]
fn commands_publish_redis_events() {
    let node = Node::start(&["--notify-keyspace-events", "KEA"]);
    let mut sub = listener(&node);
    let mut c = node.client();
    let cmds = "SET a 1;SET a 2 EX 100;SETEX b 10 x;MSET c 1 d 2;APPEND a x;INCR n;INCRBYFLOAT f 1.5;DEL a zz b;EXPIRE c 100;EXPIRE c -1;PERSIST d;EXPIRE d 100;PERSIST d;RENAME d e;LPUSH l 1 2;RPOP l;LPOP l;RPUSH l2 a b;LMOVE l2 l3 LEFT RIGHT;RPOPLPUSH l2 l3;HSET h f v;HDEL h f;SADD s a b;SREM s a;SPOP s;ZADD z 1 a;ZINCRBY z 1 a;ZPOPMIN z;SETRANGE sr 0 x;GETDEL sr;SET g 1;GETEX g EX 10;GETEX g PERSIST;COPY g g2;SADD s1 a;SINTERSTORE s3 s1 s1;SMOVE s1 s4 a";
    for cmd in cmds.split(';') {
        let args: Vec<&str> = cmd.split(' ').collect();
        let _: redis::Value = q(&mut c, &args);
    }
    // (key, event) in the order redis-server 7.0.15 published them.
    let want = [
        ("a", "set"),
        ("a", "set"),
        ("a", "expire"),
        ("b", "set"),
        ("b", "expire"),
        ("c", "set"),
        ("d", "set"),
        ("a", "append"),
        ("n", "incrby"),
        ("f", "incrbyfloat"),
        ("a", "del"),
        ("b", "del"),
        ("c", "expire"),
        ("c", "del"),
        ("d", "expire"),
        ("d", "persist"),
        ("d", "rename_from"),
        ("e", "rename_to"),
        ("l", "lpush"),
        ("l", "rpop"),
        ("l", "lpop"),
        ("l", "del"),
        ("l2", "rpush"),
        ("l3", "rpush"),
        ("l2", "lpop"),
        ("l3", "lpush"),
        ("l2", "rpop"),
        ("l2", "del"),
        ("h", "hset"),
        ("h", "hdel"),
        ("h", "del"),
        ("s", "sadd"),
        ("s", "srem"),
        ("s", "spop"),
        ("s", "del"),
        ("z", "zadd"),
        ("z", "zincr"),
        ("z", "zpopmin"),
        ("z", "del"),
        ("sr", "setrange"),
        ("sr", "del"),
        ("g", "set"),
        ("g", "expire"),
        ("g", "persist"),
        ("g2", "copy_to"),
        ("s1", "sadd"),
        ("s3", "sinterstore"),
        ("s1", "srem"),
        ("s1", "del"),
        ("s4", "sadd"),
    ];
    for (key, event) in want {
        assert_eq!(next_event(&mut sub), (format!("__keyspace@0__:{key}"), event.to_string()));
        assert_eq!(next_event(&mut sub), (format!("__keyevent@0__:{event}"), key.to_string()));
    }
    // Nothing else was published: the next event is the marker below.
    let _: () = q(&mut c, &["SET", "marker", "1"]);
    assert_eq!(next_event(&mut sub), ("__keyspace@0__:marker".to_string(), "set".to_string()));
}

#[test]
fn classes_and_channel_kinds_filter_events() {
    let node = Node::start(&["--notify-keyspace-events", "El"]);
    let mut sub = listener(&node);
    let mut c = node.client();
    let _: () = q(&mut c, &["SELECT", "3"]);
    let _: () = q(&mut c, &["SET", "s", "1"]);
    let _: i64 = q(&mut c, &["LPUSH", "list", "a"]);
    // Only list events, only on the keyevent channel, in the client's database.
    assert_eq!(next_event(&mut sub), ("__keyevent@3__:lpush".to_string(), "list".to_string()));
    let _: () = q(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "K$"]);
    let _: i64 = q(&mut c, &["LPUSH", "list", "b"]);
    let _: i64 = q(&mut c, &["INCR", "n"]);
    assert_eq!(next_event(&mut sub), ("__keyspace@3__:n".to_string(), "incrby".to_string()));
    // Off: a write publishes nothing (the next message is a plain PUBLISH).
    let _: () = q(&mut c, &["CONFIG", "SET", "notify-keyspace-events", ""]);
    let _: () = q(&mut c, &["SET", "s", "2"]);
    let _: i64 = q(&mut c, &["PUBLISH", "__keyspace@0__:done", "x"]);
    assert_eq!(next_event(&mut sub), ("__keyspace@0__:done".to_string(), "x".to_string()));
}

#[test]
fn expiry_publishes_expired_events() {
    let node = Node::start(&["--notify-keyspace-events", "Ex", "--hz", "50"]);
    let mut sub = listener(&node);
    let mut c = node.client();
    // Active expiry: nobody touches the key; the event comes within a bound.
    let started = Instant::now();
    let _: () = q(&mut c, &["SET", "short", "v", "PX", "50"]);
    assert_eq!(next_event(&mut sub), ("__keyevent@0__:expired".to_string(), "short".to_string()));
    assert!(started.elapsed() < Duration::from_secs(5));
    // A key read just after its deadline: the read (or active expiry, if it came
    // first) deletes it, and either way exactly one event is published.
    let _: () = q(&mut c, &["SET", "lazy", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    let got: Option<String> = q(&mut c, &["GET", "lazy"]);
    assert_eq!(got, None);
    assert_eq!(next_event(&mut sub), ("__keyevent@0__:expired".to_string(), "lazy".to_string()));
    // `x` is the only class on: the SETs themselves published nothing.
    let _: i64 = q(&mut c, &["PUBLISH", "__keyevent@0__:end", "x"]);
    assert_eq!(next_event(&mut sub), ("__keyevent@0__:end".to_string(), "x".to_string()));
}
