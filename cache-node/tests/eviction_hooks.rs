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

/// Waits (bounded) until `replica` has applied everything `primary` has journaled.
fn caught_up(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    let ok = wait_for(Duration::from_secs(10), || {
        let want = repl_info(primary, "master_repl_offset");
        repl_info(replica, "master_link_status") == "up" && repl_info(replica, "slave_repl_offset") == want
    });
    assert!(ok, "replica did not catch up: primary {} replica {}", repl_info(primary, "master_repl_offset"), repl_info(replica, "slave_repl_offset"));
}

/// `key`'s value and absolute expiry (ms; -1 none, -2 no key) on one node.
fn value_and_expiry(c: &mut redis::Connection, key: &str) -> (Option<String>, i64) {
    (q(c, &["GET", key]), q(c, &["PEXPIRETIME", key]))
}

/// Guards the replication divergence of evicting *inside* a script: an eviction's DEL is
/// journaled at once, a script's writes together at its end, so a key the script had
/// already written and eviction then chose was gone on the primary while replicas
/// replayed DEL, then the script's INCR, and kept it. Now a script evicts before it
/// starts and never inside; a write in it gets OOM only if memory was over the limit
/// before the script (as in Redis).
///
/// `k` is the only key with a TTL, so under `volatile-ttl` it is the one key eviction
/// can pick. The script INCRs it, grows memory past the limit (SETRANGE, no Lua
/// string), makes a DENYOOM write while over, and frees the memory again. The cron
/// waits while a script runs, so nothing else can evict in between.
#[test]
fn a_script_evicts_before_it_runs_never_inside_so_replicas_keep_its_writes() {
    let primary = Node::start(&["--maxmemory-policy", "volatile-ttl"]);
    let replica = replica_of(&primary, &[]);
    let mut p = primary.client();
    let mut r = replica.client();
    let _: () = q(&mut p, &["SET", "k", "5", "EX", "1000"]);
    let limit = used(&mut p) + 1_000_000;
    let _: () = q(&mut p, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    let script = "local n = redis.call('INCR', KEYS[1])
        redis.call('SETRANGE', KEYS[2], ARGV[1], 'x')
        redis.call('SET', KEYS[3], '1')
        redis.call('DEL', KEYS[2])
        return n";
    // 2 MB: over the limit by about 1 MB, far more than the accounting's slack.
    let eval = |c: &mut redis::Connection| -> redis::RedisResult<i64> {
        redis::cmd("EVAL").arg(script).arg(3).arg("k").arg("big").arg("small").arg(2_000_000 - 1).query(c)
    };

    // Under the limit when the script starts: its writes all run, nothing is evicted,
    // and the replica holds what the primary holds.
    let reply = eval(&mut p);
    caught_up(&mut p, &mut r);
    let (on_primary, on_replica) = (value_and_expiry(&mut p, "k"), value_and_expiry(&mut r, "k"));
    assert_eq!(on_replica, on_primary, "k (value, expiry) diverged, left the replica, right the primary; script reply {reply:?}");
    assert_eq!(reply, Ok(6), "a script that started under the limit is never refused");
    assert_eq!(on_primary.0.as_deref(), Some("6"));
    assert!(on_primary.1 > 0, "INCR keeps k's TTL: {on_primary:?}");
    let evicted = |c: &mut redis::Connection| info_field(&q::<String>(c, &["INFO", "stats"]), "evicted_keys");
    assert_eq!(evicted(&mut p).as_deref(), Some("0"));
    assert_eq!(q::<i64>(&mut p, &["EXISTS", "big"]), 0);

    // Over the limit before the script (a 2 MB key without TTL): k is evicted before it
    // runs (by its own check or the cron), which cannot free enough, so its first write
    // gets OOM; the DEL reaches the replica too.
    let _: i64 = q(&mut p, &["SETRANGE", "pad", "1999999", "x"]);
    let e = eval(&mut p).expect_err("a write in a script that started over the limit");
    assert_eq!(e.code(), Some("OOM"), "{e}");
    assert!(e.to_string().contains("command not allowed when used memory > 'maxmemory'"), "{e}");
    caught_up(&mut p, &mut r);
    assert_eq!(value_and_expiry(&mut p, "k"), (None, -2), "k was evicted before the script");
    assert_eq!(value_and_expiry(&mut r, "k"), (None, -2), "the eviction's DEL reached the replica");
    assert_eq!(evicted(&mut p).as_deref(), Some("1"));
    assert_eq!(q::<i64>(&mut r, &["EXISTS", "big", "small"]), 1, "only the first run's `small` is there");
}
