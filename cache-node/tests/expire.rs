//! Expiry commands and expiry itself against the real binary: EXPIRE, PEXPIRE, EXPIREAT,
//! PEXPIREAT (NX XX GT LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, and keys
//! disappearing on their own.
// Tests fail by panicking; unwrap and expect are how they say so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::time::Duration;

use redis::Connection;

fn dbsize(c: &mut Connection) -> i64 {
    q(c, &["DBSIZE"])
}

#[test]
fn the_four_setters_and_the_four_readers() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for k in ["a", "b", "c", "d"] {
        let _: () = q(&mut c, &["SET", k, "v"]);
    }
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "a", "100"]), 1);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRE", "b", "100000"]), 1);
    let at_s = unix_ms() / 1000 + 100;
    assert_eq!(q::<i64>(&mut c, &["EXPIREAT", "c", &at_s.to_string()]), 1);
    let at_ms = unix_ms() + 100_000;
    assert_eq!(q::<i64>(&mut c, &["PEXPIREAT", "d", &at_ms.to_string()]), 1);
    for k in ["a", "b", "c", "d"] {
        let ttl: i64 = q(&mut c, &["TTL", k]);
        assert!((98..=100).contains(&ttl), "{k}: {ttl}");
        let pttl: i64 = q(&mut c, &["PTTL", k]);
        assert!((97_000..=100_000).contains(&pttl), "{k}: {pttl}");
    }
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "d"]), at_ms);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "c"]), at_s);
    // EXPIRETIME rounds to the nearest second, as Redis does.
    let _: i64 = q(&mut c, &["PEXPIREAT", "d", "4000000000499"]);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "d"]), 4_000_000_000);
    let _: i64 = q(&mut c, &["PEXPIREAT", "d", "4000000000500"]);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "d"]), 4_000_000_001);
    // Extremes: the largest times are stored and reported without overflow.
    let _: i64 = q(&mut c, &["PEXPIREAT", "d", "9223372036854775807"]);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "d"]), i64::MAX);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "d"]), 9_223_372_036_854_776);
    assert_eq!(q::<i64>(&mut c, &["EXPIREAT", "d", "9223372036854775"]), 1);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "d"]), 9_223_372_036_854_775_000);
    // Missing keys and keys without a TTL.
    let mut raw = node.raw();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        exact(&mut raw, &[cmd, "nope"], ":-2\r\n");
    }
    let _: () = q(&mut c, &["SET", "plain", "v"]);
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        exact(&mut raw, &[cmd, "plain"], ":-1\r\n");
    }
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        exact(&mut raw, &[cmd, "nope", "100"], ":0\r\n");
    }
    // RESP3 replies are the same integers.
    let mut c3 = node.client3();
    assert_eq!(q::<redis::Value>(&mut c3, &["TTL", "nope"]), redis::Value::Int(-2));
    assert_eq!(q::<redis::Value>(&mut c3, &["PTTL", "plain"]), redis::Value::Int(-1));
}

#[test]
fn persist_and_set_clear_the_ttl() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    exact(&mut raw, &["PERSIST", "nope"], ":0\r\n");
    let _: () = q(&mut c, &["SET", "k", "v"]);
    exact(&mut raw, &["PERSIST", "k"], ":0\r\n");
    let _: i64 = q(&mut c, &["EXPIRE", "k", "100"]);
    exact(&mut raw, &["PERSIST", "k"], ":1\r\n");
    exact(&mut raw, &["TTL", "k"], ":-1\r\n");
    exact(&mut raw, &["PERSIST", "k"], ":0\r\n");
    let _: i64 = q(&mut c, &["EXPIRE", "k", "100"]);
    let _: () = q(&mut c, &["SET", "k", "w"]);
    exact(&mut raw, &["TTL", "k"], ":-1\r\n");
    let _: i64 = q(&mut c, &["EXPIRE", "k", "100"]);
    let _: () = q(&mut c, &["SET", "k", "w", "KEEPTTL"]);
    assert!(q::<i64>(&mut c, &["TTL", "k"]) > 0);
    // A key longer than an inline entry goes through the same paths.
    let long = "x".repeat(1000);
    let _: () = q(&mut c, &["SET", "long", &long, "EX", "100"]);
    exact(&mut raw, &["PERSIST", "long"], ":1\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "long"]), long);
    let _: i64 = q(&mut c, &["PEXPIRE", "long", "100000"]);
    assert_eq!(q::<String>(&mut c, &["GET", "long"]), long);
}

#[test]
fn nx_xx_gt_lt_conditions() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    // No TTL counts as an infinite one.
    exact(&mut raw, &["EXPIRE", "k", "100", "XX"], ":0\r\n");
    exact(&mut raw, &["EXPIRE", "k", "100", "GT"], ":0\r\n");
    exact(&mut raw, &["PEXPIREAT", "k", "5000000000000", "LT"], ":1\r\n");
    exact(&mut raw, &["PERSIST", "k"], ":1\r\n");
    exact(&mut raw, &["EXPIRE", "k", "100", "nx"], ":1\r\n");
    exact(&mut raw, &["EXPIRE", "k", "200", "NX"], ":0\r\n");
    exact(&mut raw, &["EXPIRE", "k", "200", "XX"], ":1\r\n");
    let at = "5000000000000";
    exact(&mut raw, &["PEXPIREAT", "k", at], ":1\r\n");
    exact(&mut raw, &["PEXPIREAT", "k", at, "GT"], ":0\r\n");
    exact(&mut raw, &["PEXPIREAT", "k", at, "LT"], ":0\r\n");
    exact(&mut raw, &["PEXPIREAT", "k", "5000000000001", "GT"], ":1\r\n");
    exact(&mut raw, &["PEXPIREAT", "k", "5000000000000", "gt"], ":0\r\n");
    exact(&mut raw, &["PEXPIREAT", "k", "5000000000000", "lt", "xx"], ":1\r\n");
    exact(&mut raw, &["PEXPIRETIME", "k"], ":5000000000000\r\n");
    exact(&mut raw, &["EXPIREAT", "k", "4000000000", "XX", "GT"], ":0\r\n");
    exact(&mut raw, &["EXPIREAT", "k", "4000000000", "XX", "LT"], ":1\r\n");
    exact(&mut raw, &["EXPIRETIME", "k"], ":4000000000\r\n");
    exact(&mut raw, &["EXPIRE", "k", "100", "NX", "NX"], ":0\r\n");
    // A condition that fails never deletes, even with a time in the past.
    exact(&mut raw, &["EXPIRE", "k", "-1", "GT"], ":0\r\n");
    exact(&mut raw, &["EXPIRE", "k", "-1", "NX"], ":0\r\n");
    exact(&mut raw, &["EXISTS", "k"], ":1\r\n");
    exact(&mut raw, &["EXPIRE", "k", "-1", "LT"], ":1\r\n");
    exact(&mut raw, &["EXISTS", "k"], ":0\r\n");
}

#[test]
fn a_time_in_the_past_deletes_the_key() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    let cases: &[&[&str]] = &[
        &["EXPIRE", "k", "0"],
        &["EXPIRE", "k", "-100"],
        &["PEXPIRE", "k", "0"],
        &["EXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "-5"],
        &["PEXPIRE", "k", "-9223372036854775808"],
    ];
    for args in cases {
        let _: () = q(&mut c, &["SET", "k", "v", "EX", "100"]);
        exact(&mut raw, args, ":1\r\n");
        exact(&mut raw, &["EXISTS", "k"], ":0\r\n");
        exact(&mut raw, &["TTL", "k"], ":-2\r\n");
    }
    assert_eq!(dbsize(&mut c), 0, "deleted, not just hidden");
}

#[test]
fn expire_errors_are_redis_errors() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
    err(&mut raw, &["EXPIRE", "k", "100", "NX", "XX"], nx);
    err(&mut raw, &["EXPIRE", "k", "100", "NX", "GT"], nx);
    err(&mut raw, &["PEXPIRE", "k", "100", "LT", "NX"], nx);
    err(&mut raw, &["EXPIRE", "k", "abc", "NX", "XX"], nx);
    err(&mut raw, &["EXPIREAT", "k", "100", "GT", "LT"], "ERR GT and LT options at the same time are not compatible");
    err(&mut raw, &["EXPIRE", "k", "100", "FoO"], "ERR Unsupported option FoO");
    err(&mut raw, &["EXPIRE", "k", "abc"], "ERR value is not an integer or out of range");
    err(&mut raw, &["EXPIRE", "nope", "1.5"], "ERR value is not an integer or out of range");
    err(&mut raw, &["PEXPIRE", "k", "99999999999999999999"], "ERR value is not an integer or out of range");
    err(&mut raw, &["EXPIRE", "k", "9223372036854775807"], "ERR invalid expire time in 'expire' command");
    err(&mut raw, &["EXPIRE", "k", "-9223372036854775808"], "ERR invalid expire time in 'expire' command");
    err(&mut raw, &["EXPIRE", "k", "9223372036854775"], "ERR invalid expire time in 'expire' command");
    err(&mut raw, &["PEXPIRE", "k", "9223372036854775807"], "ERR invalid expire time in 'pexpire' command");
    err(&mut raw, &["EXPIREAT", "k", "9223372036854776"], "ERR invalid expire time in 'expireat' command");
    err(&mut raw, &["EXPIREAT", "k", "-9223372036854776"], "ERR invalid expire time in 'expireat' command");
    for cmd in ["expire", "pexpire", "expireat", "pexpireat"] {
        err(&mut raw, &[cmd, "k"], &format!("ERR wrong number of arguments for '{cmd}' command"));
    }
    for cmd in ["ttl", "pttl", "expiretime", "pexpiretime", "persist"] {
        err(&mut raw, &[cmd], &format!("ERR wrong number of arguments for '{cmd}' command"));
        err(&mut raw, &[cmd, "a", "b"], &format!("ERR wrong number of arguments for '{cmd}' command"));
    }
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1, "failed commands changed nothing");
}

#[test]
fn keys_with_a_ttl_disappear_without_being_accessed() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for i in 0..100 {
        let _: () = q(&mut c, &["SET", &format!("short{i}"), "v", "PX", "50"]);
    }
    let _: () = q(&mut c, &["SET", "kept", "v", "EX", "1000"]);
    let _: () = q(&mut c, &["SET", "plain", "v"]);
    // DBSIZE counts keys not reclaimed yet (as Redis does), so reaching 2 proves the
    // active expiry cycle deleted the others: nothing read them.
    assert!(wait_for(Duration::from_secs(10), || dbsize(&mut c) == 2), "dbsize stuck at {}", dbsize(&mut c));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "kept", "plain"]), 2);
}

#[test]
fn ten_thousand_short_lived_keys_are_all_reclaimed() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut p = redis::pipe();
    for i in 0..10_000 {
        p.cmd("SET").arg(format!("t:{i}")).arg("value").arg("PX").arg(20 + i % 200).ignore();
    }
    for i in 0..100 {
        p.cmd("SET").arg(format!("keep:{i}")).arg("v").ignore();
    }
    // Also in another database.
    p.cmd("SELECT").arg(3).ignore();
    for i in 0..1000 {
        p.cmd("SET").arg(format!("t:{i}")).arg("value").arg("PX").arg(50).ignore();
    }
    p.cmd("SELECT").arg(0).ignore();
    let _: () = p.query(&mut c).unwrap();
    assert!(wait_for(Duration::from_secs(20), || dbsize(&mut c) == 100), "db 0 still has {}", dbsize(&mut c));
    let _: () = q(&mut c, &["SELECT", "3"]);
    assert!(wait_for(Duration::from_secs(20), || dbsize(&mut c) == 0), "db 3 still has {}", dbsize(&mut c));
}

#[test]
fn an_expired_key_is_gone_for_every_reader() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "k", "v", "PX", "30"]);
    assert!(wait_for(Duration::from_secs(5), || q::<Option<String>>(&mut c, &["GET", "k"]).is_none()));
    let mut raw = node.raw();
    exact(&mut raw, &["EXISTS", "k"], ":0\r\n");
    exact(&mut raw, &["TTL", "k"], ":-2\r\n");
    exact(&mut raw, &["TYPE", "k"], "+none\r\n");
    exact(&mut raw, &["EXPIRE", "k", "100"], ":0\r\n");
    exact(&mut raw, &["PERSIST", "k"], ":0\r\n");
    err(&mut raw, &["RENAME", "k", "j"], "ERR no such key");
}
