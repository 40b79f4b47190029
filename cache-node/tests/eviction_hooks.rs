//! What eviction and the memory limit mean for the other features: keyspace
//! notifications (`evicted`), WATCH, MULTI/EXEC and scripts, as Redis 7.0 behaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use common::*;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn used(c: &mut redis::Connection) -> i64 {
    let info: String = q(c, &["INFO", "memory"]);
    info_field(&info, "used_memory").unwrap().parse().unwrap()
}

/// Writes 1 KB values under `prefix` until the node has evicted something.
fn write_until_evicting(c: &mut redis::Connection, prefix: &str) {
    let value = "v".repeat(1024);
    let evicting = wait_for(Duration::from_secs(30), || {
        for _ in 0..200 {
            let _: () = q(c, &["SET", &format!("{prefix}{}", fastrand::u64(..)), &value]);
        }
        let info: String = q(c, &["INFO", "stats"]);
        info_field(&info, "evicted_keys").is_some_and(|v| v != "0")
    });
    assert!(evicting, "nothing was evicted");
}

#[test]
fn evictions_are_keyspace_events_and_break_watches() {
    let node = Node::start(&["--maxmemory-policy", "allkeys-random", "--notify-keyspace-events", "Ee"]);
    let mut c = node.client();
    // A watcher of a key that will be evicted (all keys are candidates).
    let mut w = node.client();
    let _: () = q(&mut c, &["SET", "watched", "1"]);
    let _: () = q(&mut w, &["WATCH", "watched"]);
    let mut sub = node.raw();
    sub.send(&resp(&[b"SUBSCRIBE", b"__keyevent@0__:evicted"]));
    let mut reader = BufReader::new(sub.0.try_clone().unwrap());
    let mut line = String::new();
    for _ in 0..6 {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    let limit = used(&mut c) + 300_000;
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    // Fill until the watched key is gone.
    let value = "v".repeat(1024);
    let gone = wait_for(Duration::from_secs(60), || {
        for _ in 0..200 {
            let _: () = q(&mut c, &["SET", &format!("k{}", fastrand::u64(..)), &value]);
        }
        q::<i64>(&mut c, &["EXISTS", "watched"]) == 0
    });
    assert!(gone, "the watched key was never evicted");
    let _: () = q(&mut w, &["MULTI"]);
    let _: () = q(&mut w, &["SET", "watched", "2"]);
    let r: Option<Vec<String>> = redis::cmd("EXEC").query(&mut w).unwrap();
    assert_eq!(r, None, "EXEC ran although a watched key was evicted");
    // The subscriber hears `evicted` events (message, channel, key).
    sub.0.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = [0u8; 64];
    let n = reader.read(&mut head).unwrap();
    let text = String::from_utf8_lossy(&head[..n]);
    assert!(text.starts_with("*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n"), "{text:?}");
}

#[test]
fn over_the_limit_transactions_abort_and_flagged_scripts_do_not_start() {
    let node = Node::start(&["--maxmemory-policy", "noeviction"]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    let mut raw = node.raw();
    // Queued before the limit drops: EXEC refuses the whole queue.
    exact(&mut raw, &["MULTI"], OK);
    exact(&mut raw, &["SET", "a", "1"], "+QUEUED\r\n");
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
    err(&mut raw, &["EXEC"], &format!("EXECABORT Transaction discarded because of: {OOM}"));
    // Queued while over the limit: the command is refused and EXEC aborts.
    exact(&mut raw, &["MULTI"], OK);
    err(&mut raw, &["SET", "a", "1"], OOM);
    exact(&mut raw, &["GET", "k"], "+QUEUED\r\n");
    err(&mut raw, &["EXEC"], "EXECABORT Transaction discarded because of previous errors.");
    // Reads still work, in and out of transactions.
    exact(&mut raw, &["MULTI"], OK);
    exact(&mut raw, &["GET", "k"], "+QUEUED\r\n");
    exact(&mut raw, &["EXEC"], "*1\r\n$1\r\nv\r\n");
    // A script that declares it may write does not start; one that declares no writes
    // does; a legacy script starts and its write meets the OOM check.
    err(
        &mut raw,
        &["EVAL", "#!lua\nreturn redis.call('set', 'x', '1')", "0"],
        "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
    );
    exact(&mut raw, &["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"], "$1\r\nv\r\n");
    let legacy: redis::RedisResult<String> = redis::cmd("EVAL").arg("return redis.call('set', 'x', '1')").arg(0).query(&mut c);
    let e = legacy.unwrap_err().to_string();
    assert!(e.starts_with("OOM") && e.contains("command not allowed when used memory > 'maxmemory'"), "{e}");
    let exists: i64 = q(&mut c, &["EXISTS", "x", "a"]);
    assert_eq!(exists, 0);
}

#[test]
fn evictions_are_counted_in_info_and_metrics() {
    let node = Node::start(&["--maxmemory-policy", "allkeys-lru"]);
    let mut c = node.client();
    let limit = used(&mut c) + 200_000;
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    write_until_evicting(&mut c, "x");
    let m = http_get(node.admin_port, "/metrics");
    let info: String = q(&mut c, &["INFO", "stats"]);
    let evicted: f64 = info_field(&info, "evicted_keys").unwrap().parse().unwrap();
    let line = m.lines().find(|l| l.starts_with("redis_evicted_keys_total ")).unwrap();
    let metric: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(metric >= evicted && evicted > 0.0, "{line} vs {evicted}");
}
