//! Memory accounting and the MEMORY command: used_memory follows the allocator, MEMORY
//! USAGE is close to what a value really costs, and INFO memory / MEMORY STATS /
//! MEMORY HELP / DOCTOR / errors have redis-server's shapes and bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use common::*;
use redis_server::{RedisServer, temp_dir};

fn mem_field(c: &mut redis::Connection, name: &str) -> i64 {
    let info: String = q(c, &["INFO", "memory"]);
    info_field(&info, name).unwrap_or_else(|| panic!("{name} missing")).parse().unwrap()
}

fn field_names(info: &str) -> Vec<String> {
    info.lines().filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string())).collect()
}

fn oracle() -> RedisServer {
    RedisServer::start(&temp_dir("memory-oracle"), &[])
}

#[test]
fn info_memory_has_redis_fields_in_redis_order() {
    let node = Node::start(&[]);
    let redis = oracle();
    let ours: String = q(&mut node.client(), &["INFO", "memory"]);
    let theirs: String = q(&mut redis.client(), &["INFO", "memory"]);
    assert_eq!(field_names(&ours), field_names(&theirs));
    // All four from one INFO: memory moves between two calls (connection buffers).
    let snap: String = q(&mut node.client(), &["INFO", "memory"]);
    let field = |name: &str| -> i64 { info_field(&snap, name).unwrap_or_else(|| panic!("{name} missing")).parse().unwrap() };
    let (used, overhead, dataset, startup) = (field("used_memory"), field("used_memory_overhead"), field("used_memory_dataset"), field("used_memory_startup"));
    assert!(startup > 0 && overhead >= startup && dataset + overhead == used, "{snap}");
}

/// used_memory is the counting allocator's figure; it moves exactly as jemalloc's own
/// count does when data is added and removed.
#[test]
fn used_memory_follows_the_allocator() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let before = (mem_field(&mut c, "used_memory"), mem_field(&mut c, "allocator_allocated"));
    let value = "x".repeat(1000);
    let mut p = redis::pipe();
    for i in 0..10_000 {
        p.cmd("SET").arg(format!("k{i}")).arg(&value).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let after = (mem_field(&mut c, "used_memory"), mem_field(&mut c, "allocator_allocated"));
    let (ours, jemalloc) = (after.0 - before.0, after.1 - before.1);
    assert!(ours > 10_000 * 1000, "{ours}");
    assert!((ours - jemalloc).abs() < ours / 50, "used_memory grew {ours}, jemalloc's count {jemalloc}");
    let _: () = q(&mut c, &["FLUSHALL"]);
    let flushed = mem_field(&mut c, "used_memory");
    assert!(flushed < before.0 + 200_000, "freed memory is subtracted: {flushed} vs {}", before.0);
    let peak = mem_field(&mut c, "used_memory_peak");
    assert!(peak >= after.0, "the peak remembers: {peak}");
}

/// Creates `n` keys with `make(i)` and compares the sum of their MEMORY USAGE with the
/// growth of used_memory.
fn usage_matches_growth(c: &mut redis::Connection, kind: &str, n: usize, make: impl Fn(&mut redis::Pipeline, String)) {
    let _: () = q(c, &["FLUSHALL"]);
    let before = mem_field(c, "used_memory");
    let mut p = redis::pipe();
    for i in 0..n {
        make(&mut p, format!("{kind}:{i}"));
    }
    let _: () = p.query(c).unwrap();
    let grown = mem_field(c, "used_memory") - before;
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("MEMORY").arg("USAGE").arg(format!("{kind}:{i}")).arg("SAMPLES").arg(0);
    }
    let usage: Vec<i64> = p.query(c).unwrap();
    let total: i64 = usage.iter().sum();
    let err = (total - grown).abs() as f64 / grown as f64;
    assert!(err < 0.15, "{kind}: MEMORY USAGE sums to {total}, used_memory grew {grown}");
}

#[test]
fn memory_usage_is_close_to_what_values_cost() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let long = "v".repeat(300);
    usage_matches_growth(&mut c, "embstr", 20_000, |p, k| {
        p.cmd("SET").arg(k).arg("short value").ignore();
    });
    usage_matches_growth(&mut c, "raw", 10_000, |p, k| {
        p.cmd("SET").arg(k).arg(&long).ignore();
    });
    usage_matches_growth(&mut c, "list", 2000, |p, k| {
        p.cmd("RPUSH").arg(k).arg((0..100).map(|i| format!("element-{i}")).collect::<Vec<_>>()).ignore();
    });
    usage_matches_growth(&mut c, "hash", 2000, |p, k| {
        let pairs: Vec<String> = (0..300).flat_map(|i| [format!("field-{i}"), format!("value-{i}")]).collect();
        p.cmd("HSET").arg(k).arg(pairs).ignore();
    });
    usage_matches_growth(&mut c, "set", 2000, |p, k| {
        p.cmd("SADD").arg(k).arg((0..300).map(|i| format!("member-{i}")).collect::<Vec<_>>()).ignore();
    });
    usage_matches_growth(&mut c, "zset", 2000, |p, k| {
        let pairs: Vec<String> = (0..300).flat_map(|i| [i.to_string(), format!("member-{i}")]).collect();
        p.cmd("ZADD").arg(k).arg(pairs).ignore();
    });
}

/// Commands whose replies must be byte-identical to redis-server's.
const SAME: &[&[&str]] = &[
    &["MEMORY", "HELP"],
    &["MEMORY"],
    &["MEMORY", "USAGE"],
    &["MEMORY", "FOO"],
    &["MEMORY", "USAGE", "nokey"],
    &["MEMORY", "USAGE", "k", "SAMPLES", "-1"],
    &["MEMORY", "USAGE", "k", "SAMPLES", "x"],
    &["MEMORY", "USAGE", "k", "SAMPLES"],
    &["MEMORY", "USAGE", "k", "FOO", "1"],
    &["MEMORY", "USAGE", "nokey", "SAMPLES", "0"],
    &["MEMORY", "DOCTOR"],
    &["MEMORY", "PURGE"],
    &["MEMORY", "HELP", "extra"],
];

fn reply(raw: &mut Raw, args: &[&str]) -> Vec<u8> {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    raw.send(&resp(&a));
    // Every reply here is short; read what arrives within a moment after the first bytes.
    let mut out = raw.read_exact_len(1);
    raw.0.set_read_timeout(Some(std::time::Duration::from_millis(100))).unwrap();
    loop {
        let mut buf = [0u8; 4096];
        match std::io::Read::read(&mut raw.0, &mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    raw.0.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    out
}

#[test]
fn memory_subcommands_reply_like_redis_in_resp2_and_resp3() {
    let node = Node::start(&[]);
    let redis = oracle();
    for resp3 in [false, true] {
        let mut ours = node.raw();
        let mut theirs = Raw(std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap());
        theirs.0.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        if resp3 {
            hello3(&mut ours);
            hello3(&mut theirs);
        }
        for cmd in SAME {
            assert_eq!(String::from_utf8_lossy(&reply(&mut ours, cmd)), String::from_utf8_lossy(&reply(&mut theirs, cmd)), "{cmd:?} resp3={resp3}");
        }
    }
    // MALLOC-STATS is jemalloc's report.
    let stats: String = q(&mut node.client(), &["MEMORY", "MALLOC-STATS"]);
    assert!(stats.starts_with("___ Begin jemalloc statistics ___"), "{}", &stats[..100.min(stats.len())]);
}

/// The names and kinds (integer, double, nested map) of MEMORY STATS, as redis-server.
fn stats_shape(v: &redis::Value) -> Vec<(String, &'static str)> {
    let pairs: Vec<(redis::Value, redis::Value)> = match v {
        redis::Value::Array(items) => items.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
        redis::Value::Map(m) => m.clone(),
        other => panic!("not a map: {other:?}"),
    };
    pairs
        .into_iter()
        .map(|(k, v)| {
            let name = match k {
                redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            };
            let kind = match v {
                redis::Value::Int(_) => "int",
                redis::Value::Double(_) | redis::Value::BulkString(_) => "double",
                redis::Value::Array(_) | redis::Value::Map(_) => "map",
                other => panic!("{name}: {other:?}"),
            };
            (name, kind)
        })
        .collect()
}

#[test]
fn memory_stats_has_redis_shape() {
    let node = Node::start(&[]);
    let redis = oracle();
    for resp3 in [false, true] {
        let (mut ours, mut theirs) = if resp3 { (node.client3(), redis_client3(&redis)) } else { (node.client(), redis.client()) };
        for c in [&mut ours, &mut theirs] {
            let _: () = q(c, &["SET", "k", "v"]);
            let _: () = q(c, &["SELECT", "2"]);
            let _: () = q(c, &["SET", "k", "v"]);
        }
        let a: redis::Value = q(&mut ours, &["MEMORY", "STATS"]);
        let b: redis::Value = q(&mut theirs, &["MEMORY", "STATS"]);
        // Redis 7.0 lists the same fields; ours has no "replica.fullsync.buffer"-style extras.
        assert_eq!(stats_shape(&a), stats_shape(&b), "resp3={resp3}");
        let shape = stats_shape(&a);
        assert!(shape.contains(&("db.0".to_string(), "map")) && shape.contains(&("db.2".to_string(), "map")));
    }
}

fn redis_client3(r: &RedisServer) -> redis::Connection {
    redis::Client::open(format!("{}?protocol=resp3", r.url())).unwrap().get_connection().unwrap()
}
