//! Generic key commands against the real binary: DEL, UNLINK, EXISTS, TYPE, RENAME,
//! RENAMENX, COPY, MOVE, KEYS, SCAN, RANDOMKEY, TOUCH, OBJECT.
// Tests fail by panicking; unwrap and expect are how they say so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::collections::HashSet;
use std::time::Duration;

use redis::Connection;

#[test]
fn del_unlink_exists_touch_count_keys() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "a", "1"]);
    let _: () = q(&mut c, &["SET", "b", "2"]);
    let _: () = q(&mut c, &["SET", "c", "3"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a", "a", "b", "nope"]), 3, "repeats count");
    assert_eq!(q::<i64>(&mut c, &["TOUCH", "a", "a", "nope"]), 2);
    assert_eq!(q::<i64>(&mut c, &["DEL", "a", "a", "nope"]), 1, "a key is deleted once");
    assert_eq!(q::<i64>(&mut c, &["UNLINK", "b", "c", "b"]), 2);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a", "b", "c"]), 0);
    let mut raw = node.raw();
    exact(&mut raw, &["DEL", "x"], ":0\r\n");
    err(&mut raw, &["DEL"], "ERR wrong number of arguments for 'del' command");
    err(&mut raw, &["UNLINK"], "ERR wrong number of arguments for 'unlink' command");
    err(&mut raw, &["EXISTS"], "ERR wrong number of arguments for 'exists' command");
    err(&mut raw, &["TOUCH"], "ERR wrong number of arguments for 'touch' command");
}

#[test]
fn type_is_a_status_reply_in_both_protocols() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    exact(&mut raw, &["SET", "s", "v"], "+OK\r\n");
    exact(&mut raw, &["TYPE", "s"], "+string\r\n");
    exact(&mut raw, &["TYPE", "nope"], "+none\r\n");
    let mut raw3 = node.raw();
    hello3(&mut raw3);
    exact(&mut raw3, &["TYPE", "s"], "+string\r\n");
    err(&mut raw, &["TYPE"], "ERR wrong number of arguments for 'type' command");
    err(&mut raw, &["TYPE", "a", "b"], "ERR wrong number of arguments for 'type' command");
}

#[test]
fn rename_and_renamenx() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    err(&mut raw, &["RENAME", "nope", "x"], "ERR no such key");
    err(&mut raw, &["RENAMENX", "nope", "x"], "ERR no such key");
    err(&mut raw, &["RENAME", "nope", "nope"], "ERR no such key");
    let _: () = q(&mut c, &["SET", "a", "1", "EX", "1000"]);
    exact(&mut raw, &["RENAME", "a", "a"], "+OK\r\n");
    exact(&mut raw, &["RENAMENX", "a", "a"], ":0\r\n");
    exact(&mut raw, &["RENAME", "a", "b"], "+OK\r\n");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a"]), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "b"]), "1");
    let ttl: i64 = q(&mut c, &["TTL", "b"]);
    assert!((990..=1000).contains(&ttl), "RENAME keeps the TTL: {ttl}");
    // The destination is overwritten, including its TTL.
    let _: () = q(&mut c, &["SET", "c", "3"]);
    let _: () = q(&mut c, &["SET", "d", "4", "EX", "500"]);
    exact(&mut raw, &["RENAME", "c", "d"], "+OK\r\n");
    assert_eq!(q::<i64>(&mut c, &["TTL", "d"]), -1);
    assert_eq!(q::<String>(&mut c, &["GET", "d"]), "3");
    // RENAMENX refuses an existing destination and leaves both keys alone.
    exact(&mut raw, &["RENAMENX", "b", "d"], ":0\r\n");
    assert_eq!(q::<Vec<String>>(&mut c, &["KEYS", "*"]).len(), 2);
    exact(&mut raw, &["RENAMENX", "b", "e"], ":1\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "e"]), "1");
    assert!(q::<i64>(&mut c, &["TTL", "e"]) > 0);
    err(&mut raw, &["RENAME", "e"], "ERR wrong number of arguments for 'rename' command");
    err(&mut raw, &["RENAMENX", "e", "f", "g"], "ERR wrong number of arguments for 'renamenx' command");
}

#[test]
fn rename_of_a_long_value_moves_it_intact() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let big = "x".repeat(100_000);
    let _: () = q(&mut c, &["SET", "big", &big]);
    let _: () = q(&mut c, &["RENAME", "big", "moved"]);
    assert_eq!(q::<String>(&mut c, &["GET", "moved"]), big);
}

#[test]
fn copy_within_and_across_databases() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    let _: () = q(&mut c, &["SET", "src", "v", "EX", "1000"]);
    exact(&mut raw, &["COPY", "nope", "dst"], ":0\r\n");
    exact(&mut raw, &["COPY", "src", "dst"], ":1\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]), "v");
    assert!(q::<i64>(&mut c, &["TTL", "dst"]) > 990, "COPY copies the TTL");
    assert_eq!(q::<String>(&mut c, &["GET", "src"]), "v", "the source stays");
    let _: () = q(&mut c, &["SET", "src", "w"]);
    exact(&mut raw, &["COPY", "src", "dst"], ":0\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]), "v", "no REPLACE: destination untouched");
    exact(&mut raw, &["COPY", "src", "dst", "replace"], ":1\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "dst"]), "w");
    assert_eq!(q::<i64>(&mut c, &["TTL", "dst"]), -1, "the source had no TTL");
    // Other databases; the last DB option wins, as in Redis.
    exact(&mut raw, &["COPY", "src", "src", "DB", "1", "DB", "2"], ":1\r\n");
    exact(&mut raw, &["COPY", "src", "src", "DB", "2"], ":0\r\n");
    exact(&mut raw, &["COPY", "src", "other", "DB", "2", "REPLACE"], ":1\r\n");
    let _: () = q(&mut c, &["SELECT", "2"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["KEYS", "*"]).into_iter().collect::<HashSet<_>>(), HashSet::from(["src".to_string(), "other".to_string()]));
    let _: () = q(&mut c, &["SELECT", "1"]);
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
    // Errors.
    err(&mut raw, &["COPY", "src", "src"], "ERR source and destination objects are the same");
    err(&mut raw, &["COPY", "src", "src", "DB", "0"], "ERR source and destination objects are the same");
    err(&mut raw, &["COPY", "nope", "nope"], "ERR source and destination objects are the same");
    err(&mut raw, &["COPY", "src", "x", "DB", "16"], "ERR DB index is out of range");
    err(&mut raw, &["COPY", "src", "x", "DB", "-1"], "ERR DB index is out of range");
    err(&mut raw, &["COPY", "src", "x", "DB", "abc"], "ERR value is not an integer or out of range");
    err(&mut raw, &["COPY", "src", "x", "DB", "99999999999"], "ERR value is out of range, value must between -2147483648 and 2147483647");
    err(&mut raw, &["COPY", "src", "x", "DB"], "ERR syntax error");
    err(&mut raw, &["COPY", "src", "x", "foo"], "ERR syntax error");
    err(&mut raw, &["COPY", "src"], "ERR wrong number of arguments for 'copy' command");
}

#[test]
fn move_between_databases() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    let _: () = q(&mut c, &["SET", "k", "v", "PX", "1000000"]);
    err(&mut raw, &["MOVE", "k", "0"], "ERR source and destination objects are the same");
    err(&mut raw, &["MOVE", "nope", "0"], "ERR source and destination objects are the same");
    err(&mut raw, &["MOVE", "k", "16"], "ERR DB index is out of range");
    err(&mut raw, &["MOVE", "k", "-1"], "ERR DB index is out of range");
    err(&mut raw, &["MOVE", "k", "x"], "ERR value is not an integer or out of range");
    err(&mut raw, &["MOVE", "k", "99999999999"], "ERR value is out of range, value must between -2147483648 and 2147483647");
    err(&mut raw, &["MOVE", "k"], "ERR wrong number of arguments for 'move' command");
    exact(&mut raw, &["MOVE", "nope", "1"], ":0\r\n");
    exact(&mut raw, &["MOVE", "k", "3"], ":1\r\n");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]), 0);
    let _: () = q(&mut c, &["SELECT", "3"]);
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "v");
    assert!(q::<i64>(&mut c, &["PTTL", "k"]) > 990_000, "MOVE keeps the TTL");
    // The target already has the key: nothing moves.
    let _: () = q(&mut c, &["SELECT", "0"]);
    let _: () = q(&mut c, &["SET", "k", "other"]);
    exact(&mut raw, &["MOVE", "k", "3"], ":0\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "other");
}

#[test]
fn keys_matches_glob_patterns() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "user:1:name", "user:2:age", "h*llo"] {
        let _: () = q(&mut c, &["SET", k, "v"]);
    }
    let keys = |c: &mut Connection, p: &str| -> HashSet<String> { q::<Vec<String>>(c, &["KEYS", p]).into_iter().collect() };
    let set = |v: &[&str]| -> HashSet<String> { v.iter().map(|s| s.to_string()).collect() };
    assert_eq!(keys(&mut c, "*").len(), 8);
    assert_eq!(keys(&mut c, "h?llo"), set(&["hello", "hallo", "hxllo", "h*llo"]));
    assert_eq!(keys(&mut c, "h[ae]llo"), set(&["hello", "hallo"]));
    assert_eq!(keys(&mut c, "h[^e]llo"), set(&["hallo", "hxllo", "h*llo"]));
    assert_eq!(keys(&mut c, "user:*:name"), set(&["user:1:name"]));
    assert_eq!(keys(&mut c, "h\\*llo"), set(&["h*llo"]));
    assert_eq!(keys(&mut c, "nothing*"), set(&[]));
    let mut raw = node.raw();
    exact(&mut raw, &["KEYS", "hllo"], "*1\r\n$4\r\nhllo\r\n");
    err(&mut raw, &["KEYS"], "ERR wrong number of arguments for 'keys' command");
    // Keys past their TTL are never listed, whether or not they were reclaimed yet.
    let _: () = q(&mut c, &["SET", "short", "v", "PX", "30"]);
    assert!(wait_for(Duration::from_secs(5), || !keys(&mut c, "*").contains("short")));
    // Another database is separate.
    let _: () = q(&mut c, &["SELECT", "5"]);
    assert!(keys(&mut c, "*").is_empty());
}

/// A full SCAN with the given options, returning every key and the number of calls.
fn full_scan(c: &mut Connection, opts: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(opts);
        let (next, keys): (String, Vec<String>) = q(c, &args);
        all.extend(keys);
        calls += 1;
        cursor = next;
        if cursor == "0" {
            return (all, calls);
        }
        assert!(calls < 1_000_000);
    }
}

#[test]
fn scan_iterates_everything_with_match_count_and_type() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    exact(&mut raw, &["SCAN", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let (keys, calls) = full_scan(&mut c, &[]);
    let unique: HashSet<_> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), 1000);
    assert!(calls > 50, "COUNT defaults to 10: {calls} calls");
    let (keys, calls) = full_scan(&mut c, &["COUNT", "100000"]);
    assert_eq!((keys.len(), calls), (1000, 1), "a table that does not change is scanned once");
    let (keys, _) = full_scan(&mut c, &["MATCH", "key:1?", "COUNT", "50"]);
    assert_eq!(keys.into_iter().collect::<HashSet<_>>(), (10..20).map(|i| format!("key:{i}")).collect());
    let (keys, _) = full_scan(&mut c, &["match", "*", "type", "STRING"]);
    assert_eq!(keys.len(), 1000);
    let (keys, _) = full_scan(&mut c, &["TYPE", "list"]);
    assert!(keys.is_empty());
    let (keys, _) = full_scan(&mut c, &["TYPE", "bogus"]);
    assert!(keys.is_empty());
    // Any cursor a client makes up is accepted (the scan just resumes somewhere).
    let _: (String, Vec<String>) = q(&mut c, &["SCAN", "18446744073709551615"]);
    let _: (String, Vec<String>) = q(&mut c, &["SCAN", "-1"]);
    let _: (String, Vec<String>) = q(&mut c, &["SCAN", "+12"]);
    // RESP3: the same two-element array.
    let mut c3 = node.client3();
    let v: redis::Value = q(&mut c3, &["SCAN", "0", "COUNT", "5000"]);
    match v {
        redis::Value::Array(parts) => {
            assert_eq!(parts[0], redis::Value::BulkString(b"0".to_vec()));
            assert!(matches!(&parts[1], redis::Value::Array(k) if k.len() == 1000));
        }
        other => panic!("{other:?}"),
    }
    for bad in [" 0", "0 ", "abc", "0x10", "18446744073709551616", "-"] {
        err(&mut raw, &["SCAN", bad], "ERR invalid cursor");
    }
    err(&mut raw, &["SCAN", "abc", "COUNT", "0"], "ERR invalid cursor");
    err(&mut raw, &["SCAN", "0", "COUNT", "0"], "ERR syntax error");
    err(&mut raw, &["SCAN", "0", "COUNT", "-1"], "ERR syntax error");
    err(&mut raw, &["SCAN", "0", "COUNT", "x"], "ERR value is not an integer or out of range");
    err(&mut raw, &["SCAN", "0", "COUNT"], "ERR syntax error");
    err(&mut raw, &["SCAN", "0", "MATCH"], "ERR syntax error");
    err(&mut raw, &["SCAN", "0", "TYPE"], "ERR syntax error");
    err(&mut raw, &["SCAN", "0", "FOO", "bar"], "ERR syntax error");
    err(&mut raw, &["SCAN"], "ERR wrong number of arguments for 'scan' command");
}

/// SCAN's guarantee: a key present for the whole scan is returned, however many keys
/// are added or removed between calls (tables grow and shrink under the cursor).
#[test]
fn scan_returns_stable_keys_while_the_keyspace_changes() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut w = node.client();
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET").arg(format!("stable:{i}")).arg("v").ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0usize;
    loop {
        let (next, keys): (String, Vec<String>) = q(&mut c, &["SCAN", &cursor, "COUNT", "20"]);
        seen.extend(keys.into_iter().filter(|k| k.starts_with("stable:")));
        calls += 1;
        // Grow by 20,000 keys early, shrink back later, churn a little every call.
        let mut p = redis::pipe();
        match calls {
            5 => (0..20_000).for_each(|i| {
                p.cmd("SET").arg(format!("tmp:{i}")).arg("v").ignore();
            }),
            300 => (0..20_000).for_each(|i| {
                p.cmd("DEL").arg(format!("tmp:{i}")).ignore();
            }),
            _ => {
                p.cmd("SET").arg(format!("churn:{calls}")).arg("v").ignore();
                p.cmd("DEL").arg(format!("churn:{}", calls.saturating_sub(3))).ignore();
            }
        }
        let _: () = p.query(&mut w).unwrap();
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(calls < 100_000);
    }
    let missing: Vec<_> = (0..2000).map(|i| format!("stable:{i}")).filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "missed {} keys, e.g. {:?}", missing.len(), missing.first());
    assert!(calls > 300, "the shrink happened mid-scan ({calls} calls)");
}

#[test]
fn randomkey_returns_a_live_key_or_null() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    exact(&mut raw, &["RANDOMKEY"], "$-1\r\n");
    let mut c3 = node.client3();
    assert_eq!(q::<redis::Value>(&mut c3, &["RANDOMKEY"]), redis::Value::Nil);
    let mut c = node.client();
    for i in 0..20 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    for _ in 0..400 {
        let k: String = q(&mut c, &["RANDOMKEY"]);
        assert!(k.starts_with('k'));
        seen.insert(k);
    }
    assert!(seen.len() > 10, "keys are picked across partitions: {seen:?}");
    // Only expired keys left: they are never returned.
    let _: () = q(&mut c, &["FLUSHDB"]);
    for i in 0..50 {
        let _: () = q(&mut c, &["SET", &format!("gone{i}"), "v", "PX", "20"]);
    }
    let _: () = q(&mut c, &["SET", "live", "v"]);
    assert!(wait_for(Duration::from_secs(5), || {
        let ttls: Vec<i64> = (0..50).map(|i| q(&mut c, &["PTTL", &format!("gone{i}")])).collect();
        ttls.iter().all(|&t| t == -2)
    }));
    for _ in 0..20 {
        assert_eq!(q::<String>(&mut c, &["RANDOMKEY"]), "live");
    }
    err(&mut raw, &["RANDOMKEY", "x"], "ERR wrong number of arguments for 'randomkey' command");
}

#[test]
fn object_subcommands() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    let _: () = q(&mut c, &["SET", "int", "12345"]);
    let _: () = q(&mut c, &["SET", "neg", "-7"]);
    let _: () = q(&mut c, &["SET", "notint", "012"]);
    let _: () = q(&mut c, &["SET", "emb", &"e".repeat(44)]);
    let _: () = q(&mut c, &["SET", "raw", &"r".repeat(45)]);
    let _: () = q(&mut c, &["SET", "small", "100"]);
    for (k, enc) in [("int", "int"), ("neg", "int"), ("notint", "embstr"), ("emb", "embstr"), ("raw", "raw")] {
        assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", k]), enc, "{k}");
    }
    exact(&mut raw, &["object", "encoding", "nope"], "$-1\r\n");
    exact(&mut raw, &["OBJECT", "REFCOUNT", "small"], ":2147483647\r\n");
    exact(&mut raw, &["OBJECT", "REFCOUNT", "int"], ":1\r\n");
    exact(&mut raw, &["OBJECT", "REFCOUNT", "raw"], ":1\r\n");
    exact(&mut raw, &["OBJECT", "REFCOUNT", "nope"], "$-1\r\n");
    exact(&mut raw, &["OBJECT", "IDLETIME", "int"], ":0\r\n");
    exact(&mut raw, &["OBJECT", "IDLETIME", "nope"], "$-1\r\n");
    exact(&mut raw, &["OBJECT", "FREQ", "nope"], "$-1\r\n");
    err(
        &mut raw,
        &["OBJECT", "FREQ", "int"],
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    );
    err(&mut raw, &["OBJECT", "foo"], "ERR unknown subcommand 'foo'. Try OBJECT HELP.");
    err(&mut raw, &["OBJECT", "ENCODING"], "ERR wrong number of arguments for 'object|encoding' command");
    err(&mut raw, &["OBJECT", "encoding", "a", "b"], "ERR wrong number of arguments for 'object|encoding' command");
    err(&mut raw, &["OBJECT", "HELP", "x"], "ERR wrong number of arguments for 'object|help' command");
    err(&mut raw, &["OBJECT"], "ERR wrong number of arguments for 'object' command");
    let help: Vec<String> = q(&mut c, &["OBJECT", "HELP"]);
    assert_eq!(help.len(), 15);
    assert_eq!(help[0], "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(help[14], "    Prints this help.");
    // Under an LFU policy FREQ answers and IDLETIME is the one refused.
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    let _: i64 = q(&mut c, &["OBJECT", "FREQ", "int"]);
    err(
        &mut raw,
        &["OBJECT", "IDLETIME", "int"],
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    );
    // With maxmemory and an LRU policy, Redis stops sharing small integers.
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru", "maxmemory", "100mb"]);
    exact(&mut raw, &["OBJECT", "REFCOUNT", "small"], ":1\r\n");
}

/// Reads (EXISTS, TYPE, TTL, OBJECT) leave the access time alone; GET and TOUCH reset it.
#[test]
fn idle_time_is_reset_by_access_not_by_inspection() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "a", "v"]);
    let _: () = q(&mut c, &["SET", "b", "v"]);
    assert!(wait_for(Duration::from_secs(10), || {
        let _: i64 = q(&mut c, &["EXISTS", "a", "b"]);
        let _: String = q(&mut c, &["TYPE", "a"]);
        let _: i64 = q(&mut c, &["TTL", "b"]);
        let _: String = q(&mut c, &["OBJECT", "ENCODING", "a"]);
        q::<i64>(&mut c, &["OBJECT", "IDLETIME", "a"]) >= 2 && q::<i64>(&mut c, &["OBJECT", "IDLETIME", "b"]) >= 2
    }));
    assert_eq!(q::<i64>(&mut c, &["TOUCH", "a"]), 1);
    let _: String = q(&mut c, &["GET", "b"]);
    assert!(q::<i64>(&mut c, &["OBJECT", "IDLETIME", "a"]) <= 1);
    assert!(q::<i64>(&mut c, &["OBJECT", "IDLETIME", "b"]) <= 1);
}

/// Multi-key commands hold all their partitions at once: another client never sees a
/// RENAME or MOVE half done.
#[test]
fn rename_and_move_are_atomic() {
    let node = Node::start(&[]);
    let mut c = node.client();
    // Pick two names in different partitions is likely; many pairs make it certain.
    let pairs: Vec<(String, String)> = (0..8).map(|i| (format!("left{i}"), format!("right{i}"))).collect();
    for (l, _) in &pairs {
        let _: () = q(&mut c, &["SET", l, "v"]);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writer = node.client();
    let (stop_w, pairs_w) = (stop.clone(), pairs.clone());
    let handle = std::thread::spawn(move || {
        let mut rounds = 0;
        while !stop_w.load(std::sync::atomic::Ordering::Relaxed) {
            for (l, r) in &pairs_w {
                let _: () = q(&mut writer, &["RENAME", l, r]);
                let _: () = q(&mut writer, &["RENAME", r, l]);
            }
            let _: i64 = q(&mut writer, &["MOVE", "left0", "1"]);
            let _: () = q(&mut writer, &["SELECT", "1"]);
            let _: i64 = q(&mut writer, &["MOVE", "left0", "0"]);
            let _: () = q(&mut writer, &["SELECT", "0"]);
            rounds += 1;
        }
        rounds
    });
    for _ in 0..1500 {
        for (l, r) in &pairs[1..] {
            assert_eq!(q::<i64>(&mut c, &["EXISTS", l, r]), 1, "{l}/{r} seen half renamed");
        }
        let n0: i64 = q(&mut c, &["DBSIZE"]);
        assert!(n0 == 7 || n0 == 8, "DBSIZE {n0}");
        let keys: Vec<String> = q(&mut c, &["KEYS", "*"]);
        assert!(keys.len() == 7 || keys.len() == 8, "KEYS {keys:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = handle.join().unwrap();
    assert!(rounds > 10, "the writer made progress: {rounds}");
}

/// TYPE, OBJECT ENCODING and SCAN's TYPE filter know every data type.
#[test]
fn every_type_is_named_and_scan_filters_by_it() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "s", "v"]);
    let _: i64 = q(&mut c, &["RPUSH", "l", "a"]);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    let _: i64 = q(&mut c, &["SADD", "t", "1"]);
    let _: i64 = q(&mut c, &["ZADD", "z", "1", "m"]);
    for (key, ty, enc) in [("s", "string", "embstr"), ("l", "list", "quicklist"), ("h", "hash", "listpack"), ("t", "set", "intset"), ("z", "zset", "listpack")]
    {
        let got: String = q(&mut c, &["TYPE", key]);
        assert_eq!(got, ty);
        let got: String = q(&mut c, &["OBJECT", "ENCODING", key]);
        assert_eq!(got, enc, "{key}");
        let (cursor, keys): (u64, Vec<String>) = q(&mut c, &["SCAN", "0", "COUNT", "1000", "TYPE", ty]);
        assert_eq!((cursor, keys), (0, vec![key.to_string()]), "SCAN TYPE {ty}");
    }
}
