//! maxmemory and the eviction policies: the right keys go, memory stays under the
//! limit, OOM when nothing may go, evictions are journaled as DELs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use std::time::Duration;

use common::*;

/// How far `used_memory` may exceed `maxmemory`: each thread publishes its allocations
/// every 32 KiB (memory/accounting.rs), and one command allocates after its check.
const SLACK: i64 = 512 * 1024;

/// Values big enough that a few thousand keys make megabytes.
const VALUE: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

fn info_num(c: &mut redis::Connection, section: &str, name: &str) -> i64 {
    let info: String = q(c, &["INFO", section]);
    info_field(&info, name).unwrap_or_else(|| panic!("{name} missing")).parse().unwrap()
}

fn used(c: &mut redis::Connection) -> i64 {
    info_num(c, "memory", "used_memory")
}

fn evicted(c: &mut redis::Connection) -> i64 {
    info_num(c, "stats", "evicted_keys")
}

/// Sends `cmds` pipelined in chunks over a raw connection to `c`'s node and returns
/// each single-line reply (`+OK`, `:1`, `-OOM ...`), without the CRLF.
fn pipeline(c: &mut redis::Connection, cmds: Vec<Vec<String>>) -> Vec<String> {
    use std::io::{BufRead, Write};
    let port: i64 = {
        let info: String = q(c, &["INFO", "server"]);
        info_field(&info, "tcp_port").unwrap().parse().unwrap()
    };
    let db = current_db(c);
    let stream = std::net::TcpStream::connect(("127.0.0.1", port as u16)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = std::io::BufReader::new(stream);
    let mut out = Vec::with_capacity(cmds.len());
    let mut line = String::new();
    let select = resp(&[b"SELECT", db.to_string().as_bytes()]);
    w.write_all(&select).unwrap();
    r.read_line(&mut line).unwrap();
    for chunk in cmds.chunks(500) {
        let mut buf = Vec::new();
        for cmd in chunk {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            buf.extend_from_slice(&resp(&args));
        }
        w.write_all(&buf).unwrap();
        for _ in chunk {
            line.clear();
            r.read_line(&mut line).unwrap();
            out.push(line.trim_end().to_string());
        }
    }
    out
}

/// The database `c` has selected (from CLIENT INFO).
fn current_db(c: &mut redis::Connection) -> i64 {
    let me: String = q(c, &["CLIENT", "INFO"]);
    me.split_whitespace().find_map(|f| f.strip_prefix("db=")).unwrap().parse().unwrap()
}

/// Sets `prefix{i}` for i in `range`, with a TTL of `ttl(i)` seconds when given.
/// Returns the error replies (without their `-`).
fn fill(c: &mut redis::Connection, prefix: &str, range: std::ops::Range<usize>, ttl: Option<&dyn Fn(usize) -> u64>) -> Vec<String> {
    let cmds = range
        .map(|i| {
            let mut cmd = vec!["SET".to_string(), format!("{prefix}{i}"), VALUE.to_string()];
            if let Some(ttl) = ttl {
                cmd.extend(["EX".to_string(), ttl(i).to_string()]);
            }
            cmd
        })
        .collect();
    pipeline(c, cmds).into_iter().filter_map(|r| r.strip_prefix('-').map(str::to_string)).collect()
}

/// Which of `prefix{i}` (i in `range`) still exist.
fn existing(c: &mut redis::Connection, prefix: &str, range: std::ops::Range<usize>) -> Vec<usize> {
    let ids: Vec<usize> = range.collect();
    let cmds = ids.iter().map(|i| vec!["EXISTS".to_string(), format!("{prefix}{i}")]).collect();
    ids.iter().zip(pipeline(c, cmds)).filter(|(_, r)| r == ":1").map(|(i, _)| *i).collect()
}

/// A node whose limit is `extra` bytes above what it uses empty, with `policy`.
fn node_with_room(policy: &str, extra: i64) -> (Node, redis::Connection, i64) {
    let node = Node::start(&["--maxmemory-policy", policy]);
    let mut c = node.client();
    let limit = used(&mut c) + extra;
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    (node, c, limit)
}

#[test]
fn volatile_policies_never_evict_keys_without_ttl_and_then_answer_oom() {
    for policy in ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"] {
        let (_node, mut c, limit) = node_with_room(policy, 2 << 20);
        assert!(fill(&mut c, "keep:", 0..2000, None).is_empty(), "{policy}");
        assert!(fill(&mut c, "tmp:", 0..15_000, Some(&|i| 1000 + i as u64)).is_empty(), "{policy}");
        assert!(evicted(&mut c) > 0, "{policy}: filling past the limit evicts");
        assert!(used(&mut c) <= limit + SLACK, "{policy}");
        assert_eq!(existing(&mut c, "keep:", 0..2000).len(), 2000, "{policy}: keys without a TTL all stay");
        // Once only keys without a TTL are left, writes are refused and reads still work.
        let errors = fill(&mut c, "more:", 0..20_000, None);
        assert!(!errors.is_empty(), "{policy}: writes past the limit are refused");
        assert_eq!(errors[0], "OOM command not allowed when used memory > 'maxmemory'.", "{policy}");
        assert_eq!(existing(&mut c, "keep:", 0..2000).len(), 2000, "{policy}");
        let v: String = q(&mut c, &["GET", "keep:7"]);
        assert_eq!(v, VALUE);
    }
}

/// Restores `prefix{i}` (i in `range`) as copies of `payload` (a DUMP) that look idle for
/// `idle(i)` seconds; any error reply fails the test.
fn restore_idle(c: &mut redis::Connection, prefix: &str, range: std::ops::Range<usize>, payload: &[u8], idle: &dyn Fn(usize) -> u64) {
    for chunk in range.collect::<Vec<_>>().chunks(500) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("RESTORE").arg(format!("{prefix}{i}")).arg(0).arg(payload).arg("IDLETIME").arg(idle(*i)).ignore();
        }
        p.query::<()>(c).unwrap_or_else(|e| panic!("RESTORE {prefix}: {e}"));
    }
}

#[test]
fn allkeys_lru_keeps_a_recently_used_set() {
    let (_node, mut c, limit) = node_with_room("allkeys-lru", 3 << 20);
    // The LRU clock ticks once a second, and this test runs in about one, so every idle
    // time is set explicitly (RESTORE IDLETIME) to make the order strict: cold keys
    // idle for hours, new keys for 1000 s, hot keys for 5000 s until they are read.
    // If reads did not refresh a key's LRU, the hot keys would go before the new ones.
    let _: () = q(&mut c, &["SET", "proto", VALUE]);
    let payload: Vec<u8> = redis::cmd("DUMP").arg("proto").query(&mut c).unwrap();
    restore_idle(&mut c, "cold:", 0..8000, &payload, &|i| 10_000 + i as u64);
    restore_idle(&mut c, "hot:", 0..500, &payload, &|_| 5000);
    let read = |c: &mut redis::Connection| {
        let got: Vec<Option<String>> = (0..500).map(|i| q(c, &["GET", &format!("hot:{i}")])).collect();
        got.iter().filter(|v| v.is_some()).count()
    };
    assert_eq!(read(&mut c), 500, "the hot keys fit before any eviction");
    for round in 0..12 {
        restore_idle(&mut c, "new:", round * 1000..(round + 1) * 1000, &payload, &|_| 1000);
        read(&mut c);
    }
    assert!(evicted(&mut c) > 2000, "the node was filled past its limit");
    assert!(used(&mut c) <= limit + SLACK);
    let hot = existing(&mut c, "hot:", 0..500).len();
    let cold = existing(&mut c, "cold:", 0..8000).len();
    let new = existing(&mut c, "new:", 0..12_000).len();
    assert!(hot >= 495, "hot keys survive: {hot}/500 (cold left: {cold}/8000, new left: {new}/12000)");
    assert!(cold < 8000 / 2, "idle keys go first: {cold}/8000 left, {} evicted", evicted(&mut c));
}

#[test]
fn allkeys_lfu_keeps_a_frequently_used_set_and_object_freq_reports_it() {
    let node = Node::start(&["--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0"]);
    let mut c = node.client();
    let limit = used(&mut c) + (3 << 20);
    assert!(fill(&mut c, "hot:", 0..500, None).is_empty());
    for _ in 0..20 {
        existing(&mut c, "hot:", 0..500);
        let _: Vec<Option<String>> = (0..500).map(|i| q(&mut c, &["GET", &format!("hot:{i}")])).collect();
    }
    let freq: i64 = q(&mut c, &["OBJECT", "FREQ", "hot:1"]);
    assert!(freq >= 20, "every read counts at log factor 0: {freq}");
    let _: () = q(&mut c, &["SET", "fresh", "v"]);
    let freq: i64 = q(&mut c, &["OBJECT", "FREQ", "fresh"]);
    assert_eq!(freq, 5, "new keys start at LFU_INIT_VAL");
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    assert!(fill(&mut c, "cold:", 0..25_000, None).is_empty());
    assert!(evicted(&mut c) > 5000);
    let hot = existing(&mut c, "hot:", 0..500).len();
    assert!(hot >= 490, "frequently used keys survive: {hot}/500");
    // Under an LFU policy OBJECT IDLETIME is refused, under LRU OBJECT FREQ is.
    let mut raw = node.raw();
    let e = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    err(&mut raw, &["OBJECT", "IDLETIME", "hot:1"], e);
    exact(&mut raw, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], OK);
    let e = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    err(&mut raw, &["OBJECT", "FREQ", "hot:1"], e);
}

#[test]
fn volatile_ttl_evicts_the_shortest_ttl_first() {
    let (_node, mut c, _limit) = node_with_room("volatile-ttl", 2 << 20);
    assert!(fill(&mut c, "t:", 0..8000, Some(&|i| 10_000 + 10 * i as u64)).is_empty());
    assert!(fill(&mut c, "p:", 0..6000, None).is_empty());
    assert!(evicted(&mut c) > 2000);
    let left = existing(&mut c, "t:", 0..8000);
    let first = left.iter().filter(|i| **i < 2000).count();
    let last = left.iter().filter(|i| **i >= 6000).count();
    assert!(first < 200 && last > 1800, "soonest-expiring keys go first: {first} of the first 2000 left, {last} of the last 2000");
}

#[test]
fn allkeys_random_evicts_from_keys_with_and_without_ttl() {
    let (_node, mut c, limit) = node_with_room("allkeys-random", 2 << 20);
    assert!(fill(&mut c, "a:", 0..5000, None).is_empty());
    assert!(fill(&mut c, "b:", 0..5000, Some(&|_| 10_000)).is_empty());
    assert!(fill(&mut c, "c:", 0..10_000, None).is_empty());
    assert!(used(&mut c) <= limit + SLACK);
    let a = existing(&mut c, "a:", 0..5000).len();
    let b = existing(&mut c, "b:", 0..5000).len();
    assert!(a < 4500 && b < 4500, "both kinds lose keys: {a} {b}");
}

#[test]
fn used_memory_stays_under_the_limit_with_several_writers() {
    let (node, mut c, limit) = node_with_room("allkeys-lru", 4 << 20);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mut wc = node.client();
            std::thread::spawn(move || fill(&mut wc, &format!("w{w}:"), 0..15_000, None))
        })
        .collect();
    let mut peak = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        peak = peak.max(used(&mut c));
        std::thread::sleep(Duration::from_millis(5));
    }
    for w in writers {
        assert!(w.join().unwrap().is_empty(), "no write is refused while keys can be evicted");
    }
    peak = peak.max(used(&mut c));
    assert!(evicted(&mut c) > 10_000);
    assert!(peak <= limit + SLACK, "used_memory peaked at {peak}, limit {limit}");
}

#[test]
fn noeviction_answers_oom_like_redis_and_keeps_serving_reads() {
    let (node, mut c, _limit) = node_with_room("noeviction", 1 << 20);
    let errors = fill(&mut c, "k:", 0..20_000, None);
    assert!(!errors.is_empty());
    let stored = existing(&mut c, "k:", 0..20_000);
    assert_eq!(stored.len() + errors.len(), 20_000);
    assert_eq!(evicted(&mut c), 0);
    // Closing the filling connection freed its buffers: write on until refused again.
    let mut raw = node.raw();
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    let mut refused = false;
    for i in 0..10_000 {
        raw.send(&resp(&[b"SET", format!("more:{i}").as_bytes(), VALUE.as_bytes()]));
        let line = read_line(&mut raw);
        if line.starts_with("-OOM") {
            refused = true;
            break;
        }
    }
    assert!(refused);
    err(&mut raw, &["SET", "x", "y"], oom);
    err(&mut raw, &["LPUSH", "l", "y"], oom);
    // Commands that do not grow memory still run.
    exact(&mut raw, &["GET", "x"], NIL);
    exact(&mut raw, &["EXISTS", &format!("k:{}", stored[0])], ":1\r\n");
    exact(&mut raw, &["DEL", &format!("k:{}", stored[0])], ":1\r\n");
    let info: String = q(&mut c, &["INFO", "errorstats"]);
    assert!(info.contains("errorstat_OOM:count="), "{info}");

    // The same reply from redis-server.
    let dir = redis_server::temp_dir("evict-oom");
    let redis = redis_server::RedisServer::start(&dir, &["--maxmemory", "1", "--maxmemory-policy", "noeviction"]);
    let mut r = redis.client();
    let reply: redis::RedisResult<()> = redis::cmd("SET").arg("x").arg("y").query(&mut r);
    let e = reply.unwrap_err();
    assert_eq!(format!("{} {}", e.code().unwrap_or_default(), e.detail().unwrap_or_default()), oom);
}

#[test]
fn lowering_maxmemory_at_run_time_evicts_down_to_it() {
    let node = Node::start(&["--maxmemory-policy", "allkeys-random"]);
    let mut c = node.client();
    let base = used(&mut c);
    assert!(fill(&mut c, "k:", 0..20_000, None).is_empty());
    let full = used(&mut c);
    let limit = base + (full - base) / 2;
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    // No writes: the cron does it.
    assert!(wait_for(Duration::from_secs(10), || used(&mut c) <= limit + SLACK), "used {} limit {limit}", used(&mut c));
    let n: i64 = q(&mut c, &["DBSIZE"]);
    assert!(n < 15_000 && n > 0, "{n} keys left");
    // Memory hovers at the limit, so the cron may evict again at any moment (a reply
    // buffer is enough to pass it): lift the limit; once the pass already under way
    // ends, every counter holds still and they agree.
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    assert!(wait_for(Duration::from_secs(10), || {
        let n: i64 = q(&mut c, &["DBSIZE"]);
        evicted(&mut c) == 20_000 - n
    }));
    // A pass under way may still delete a key after the counters agreed once: compare
    // /metrics on a reading the key count holds still across (bounded).
    let mut reading = None;
    assert!(wait_for(Duration::from_secs(10), || {
        let before: i64 = q(&mut c, &["DBSIZE"]);
        let metrics = http_get(node.admin_port, "/metrics");
        let after: i64 = q(&mut c, &["DBSIZE"]);
        reading = Some((after, metrics));
        before == after && evicted(&mut c) == 20_000 - after
    }));
    let (n, metrics) = reading.unwrap_or_default();
    assert!(metrics.lines().any(|l| l == format!("redis_evicted_keys_total {}", 20_000 - n)), "{metrics}");
}

#[test]
fn keys_are_evicted_across_databases() {
    let (_node, mut c, _limit) = node_with_room("allkeys-lru", 2 << 20);
    let _: () = q(&mut c, &["SELECT", "3"]);
    assert!(fill(&mut c, "db3:", 0..5000, None).is_empty());
    let _: () = q(&mut c, &["SELECT", "0"]);
    assert!(fill(&mut c, "db0:", 0..15_000, None).is_empty());
    let _: () = q(&mut c, &["SELECT", "3"]);
    let left: i64 = q(&mut c, &["DBSIZE"]);
    assert!(left < 5000, "database 3 gave up keys too: {left}");
}

#[test]
fn evictions_reach_the_aof_as_dels() {
    let dir = redis_server::temp_dir("evict-aof");
    let node = Node::start(&["--dir", dir.to_str().unwrap(), "--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "allkeys-random"]);
    let mut c = node.client();
    let limit = used(&mut c) + (2 << 20);
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    assert!(fill(&mut c, "k:", 0..10_000, None).is_empty());
    let n = evicted(&mut c);
    assert!(n > 0);
    let aof_dir = dir.join("appendonlydir");
    let mut dels = 0;
    for entry in std::fs::read_dir(&aof_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".incr.aof") {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            dels += text.matches("*2\r\n$3\r\nDEL\r\n").count();
        }
    }
    assert_eq!(dels as i64, n, "one DEL per evicted key");
    let dbsize: i64 = q(&mut c, &["DBSIZE"]);
    assert_eq!(dbsize + n, 10_000);
}

/// A primary's evictions reach its replica as DELs; a replica over its own limit does not
/// evict (replica-ignore-maxmemory) and keeps everything its primary has.
#[test]
fn replicas_apply_the_primarys_evictions_and_do_not_evict_themselves() {
    let primary = Node::start(&["--maxmemory-policy", "allkeys-random"]);
    let replica = Node::start(&["--maxmemory-policy", "allkeys-random", "--maxmemory", "1mb"]);
    let mut p = primary.client();
    let mut r = replica.client();
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    assert!(wait_for(Duration::from_secs(30), || info_field(&q::<String>(&mut r, &["INFO", "replication"]), "master_link_status").as_deref() == Some("up")));
    let limit = used(&mut p) + (2 << 20);
    let _: () = q(&mut p, &["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    assert!(fill(&mut p, "k:", 0..10_000, None).is_empty());
    let n = evicted(&mut p);
    assert!(n > 0);
    let want: i64 = q(&mut p, &["DBSIZE"]);
    assert!(wait_for(Duration::from_secs(20), || q::<i64>(&mut r, &["DBSIZE"]) == want), "replica has {} keys, primary {want}", q::<i64>(&mut r, &["DBSIZE"]));
    assert_eq!(evicted(&mut r), 0, "the replica evicts nothing itself");
    assert!(used(&mut r) > 1 << 20, "the replica is over its own limit");
}
