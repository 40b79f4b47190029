//! MULTI / EXEC / DISCARD / WATCH / UNWATCH: every reply and error shape (RESP2 and
//! RESP3, byte for byte against redis-server 7.0), CLIENT LIST while in MULTI, WATCH
//! aborted by other clients, expiry, flushes and the other key-changing commands;
//! concurrent WATCH retry loops keep an exact count; transfers across partitions are
//! never seen torn; blocking commands inside MULTI; a transaction reaching a replica and
//! the AOF as MULTI ... EXEC; an unterminated transaction at the end of the AOF.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::oracle::transcript;
use common::*;
use persistence::*;
use redis_server::{RedisServer, temp_dir};

const QUEUED: &str = "+QUEUED\r\n";
const EXECABORT: &str = "-EXECABORT Transaction discarded because of previous errors.\r\n";

/// Sequences whose replies do not depend on connection ids or timing.
fn shapes() -> Vec<Vec<&'static [&'static str]>> {
    vec![
        vec![&["MULTI"], &["MULTI"], &["EXEC"]],
        vec![&["MULTI"], &["WATCH", "a"], &["EXEC"]],
        vec![&["EXEC"], &["DISCARD"], &["UNWATCH"]],
        vec![&["MULTI"], &["SET", "a"], &["EXEC"]],
        vec![&["MULTI"], &["NOSUCH", "x"], &["PING"], &["EXEC"]],
        vec![&["MULTI"], &["SAVE"], &["EXEC"]],
        vec![&["MULTI"], &["EXEC", "x"], &["EXEC"]],
        vec![&["MULTI"], &["PING"], &["DISCARD"], &["EXEC"]],
        vec![&["MULTI"], &["DISCARD", "x"], &["DISCARD"]],
        vec![&["MULTI"], &["EXEC"]],
        vec![&["DEL", "s", "a"], &["SET", "s", "x"], &["MULTI"], &["SET", "a", "1"], &["LPUSH", "s", "1"], &["INCR", "a"], &["GET", "a"], &["EXEC"]],
        vec![&["DEL", "w"], &["WATCH", "w"], &["SET", "w", "1"], &["MULTI"], &["PING"], &["EXEC"], &["MULTI"], &["PING"], &["EXEC"]],
        vec![&["WATCH", "w"], &["MULTI"], &["UNWATCH"], &["SET", "w", "2"], &["EXEC"], &["GET", "w"]],
        vec![&["MULTI"], &["RESET"], &["EXEC"]],
        vec![&["MULTI"], &["BLPOP", "nolist", "0"], &["BRPOPLPUSH", "nolist", "x", "0"], &["EXEC"]],
        vec![&["MULTI"], &["WAIT", "0", "0"], &["WAIT", "1", "0"], &["EXEC"]],
        vec![&["MULTI"], &["SELECT", "1"], &["SET", "k", "1"], &["EXEC"], &["GET", "k"], &["SELECT", "0"], &["EXISTS", "k"]],
        vec![&["MULTI"], &["HSET", "h", "f", "v"], &["HGETALL", "h"], &["SMEMBERS", "nos"], &["GET", "nokey"], &["DEL", "h"], &["EXEC"]],
        vec![&["WATCH"], &["MULTI", "x"], &["UNWATCH", "x"], &["WATCH", "a", "b", "a"], &["UNWATCH"]],
    ]
}

#[test]
fn every_reply_and_error_matches_redis_in_resp2_and_resp3() {
    let node = Node::start(&[]);
    let dir = temp_dir("tx-oracle");
    let redis = RedisServer::start(&dir, &[]);
    for resp3 in [false, true] {
        for seq in shapes() {
            let want = transcript(redis.port, resp3, &seq);
            let got = transcript(node.port, resp3, &seq);
            assert_eq!(got, want, "{seq:?} (resp3: {resp3})");
        }
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn exact_shapes_of_queued_aborted_and_watched_transactions() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "SET a 1", QUEUED);
    rt(&mut r, "NOSUCH", "-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
    rt(&mut r, "GET a", QUEUED);
    rt(&mut r, "EXEC", EXECABORT);
    rt(&mut r, "EXISTS a", ":0\r\n");
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "SHUTDOWN", "-ERR Command not allowed inside a transaction\r\n");
    rt(&mut r, "EXEC", EXECABORT);
    rt(&mut r, "SET s x", OK);
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "INCR n", QUEUED);
    rt(&mut r, "LPUSH s 1", QUEUED);
    rt(&mut r, "INCR n", QUEUED);
    rt(&mut r, "EXEC", format!("*3\r\n:1\r\n{WRONGTYPE}:2\r\n"));
    rt(&mut r, "WATCH n", OK);
    rt(&mut r, "INCR n", ":3\r\n");
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "INCR n", QUEUED);
    rt(&mut r, "EXEC", "*-1\r\n");
    rt(&mut r, "GET n", "$1\r\n3\r\n");
    let mut r3 = node.raw();
    r3.send(&resp(&[b"HELLO", b"3"]));
    let hello = r3.read_exact_len(1);
    assert_eq!(hello, b"%");
    // Drain the rest of HELLO's map.
    let _ = r3.0.set_read_timeout(Some(Duration::from_millis(300)));
    let mut sink = [0u8; 4096];
    while r3.0.read(&mut sink).is_ok_and(|n| n > 0) {}
    let _ = r3.0.set_read_timeout(Some(Duration::from_secs(5)));
    rt(&mut r3, "WATCH n", OK);
    rt(&mut r, "SET n 10", OK);
    rt(&mut r3, "MULTI", OK);
    rt(&mut r3, "GET n", QUEUED);
    rt(&mut r3, "EXEC", "_\r\n");
    rt(&mut r3, "MULTI", OK);
    rt(&mut r3, "GET n", QUEUED);
    rt(&mut r3, "EXEC", "*1\r\n$2\r\n10\r\n");
    // QUIT inside MULTI answers and closes; nothing queued runs.
    let mut q = node.raw();
    rt(&mut q, "MULTI", OK);
    rt(&mut q, "SET quit 1", QUEUED);
    rt(&mut q, "QUIT", OK);
    assert!(q.is_closed());
    rt(&mut r, "EXISTS quit", ":0\r\n");
}

fn client_line(c: &mut redis::Connection) -> String {
    q(c, &["CLIENT", "INFO"])
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('='))).unwrap_or_else(|| panic!("{name} in {line}"))
}

#[test]
fn client_list_shows_multi_state_and_dirty_watches() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut other = node.client();
    let line = client_line(&mut c);
    assert_eq!((field(&line, "flags"), field(&line, "multi"), field(&line, "multi-mem")), ("N", "-1", "0"));
    // Inside EXEC the client is still in MULTI with its queue: as redis-server shows it.
    let mut r = node.raw();
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "SET a 1", QUEUED);
    rt(&mut r, "CLIENT INFO", QUEUED);
    r.send(&resp(&[b"EXEC"]));
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"\n\r\n") {
        let n = r.0.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.starts_with("*2\r\n+OK\r\n$"), "{text}");
    assert_eq!((field(&text, "flags"), field(&text, "multi"), field(&text, "multi-mem"), field(&text, "cmd")), ("x", "2", "55", "exec"));
    // Seen from another connection while queuing.
    let id: i64 = q(&mut c, &["CLIENT", "ID"]);
    let _: () = q(&mut c, &["MULTI"]);
    let _: String = q(&mut c, &["GET", "a"]);
    let list: String = q(&mut other, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert_eq!((field(&list, "flags"), field(&list, "multi"), field(&list, "multi-mem")), ("x", "1", "20"));
    let _: () = q(&mut c, &["DISCARD"]);
    let list: String = q(&mut other, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert_eq!((field(&list, "flags"), field(&list, "multi"), field(&list, "multi-mem")), ("N", "-1", "0"));
    // A touched watch shows `d` until UNWATCH.
    let _: () = q(&mut c, &["WATCH", "a"]);
    let _: () = q(&mut other, &["SET", "a", "2"]);
    assert_eq!(field(&client_line(&mut c), "flags"), "d");
    let _: () = q(&mut c, &["UNWATCH"]);
    assert_eq!(field(&client_line(&mut c), "flags"), "N");
}

/// WATCH `key` on `c`, run `change` (another connection's writes), then try a
/// transaction: whether EXEC ran.
fn exec_runs(c: &mut redis::Connection, keys: &[&str], change: impl FnOnce()) -> bool {
    let mut w = redis::cmd("WATCH");
    for k in keys {
        w.arg(*k);
    }
    let _: () = w.query(c).unwrap();
    change();
    let _: () = q(c, &["MULTI"]);
    let _: String = q(c, &["PING"]);
    let r: Option<Vec<String>> = q(c, &["EXEC"]);
    r.is_some()
}

#[test]
fn watch_sees_every_change_by_anyone_and_nothing_else() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut o = node.client();
    let mut o2 = node.client();
    let mut run = |args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: redis::Value = cmd.query(&mut o).unwrap();
    };
    run(&["SET", "k", "v"]);
    assert!(exec_runs(&mut c, &["k"], || {}), "nothing changed");
    assert!(!exec_runs(&mut c, &["k"], || run(&["SET", "k", "w"])), "SET by another client");
    assert!(exec_runs(&mut c, &["k"], || run(&["SET", "k", "x", "NX"])), "SET NX on an existing key changes nothing");
    assert!(exec_runs(&mut c, &["gone"], || run(&["DEL", "gone"])), "DEL of a missing key changes nothing");
    assert!(exec_runs(&mut c, &["k"], || run(&["SET", "other", "1"])), "another key");
    assert!(exec_runs(&mut c, &["k"], || run(&["SELECT", "1"])), "nothing written");
    run(&["SET", "k", "in-db1"]);
    run(&["SELECT", "0"]);
    assert!(exec_runs(&mut c, &["k"], || {}), "same name in another database");
    assert!(!exec_runs(&mut c, &["k"], || run(&["APPEND", "k", "x"])), "APPEND");
    assert!(!exec_runs(&mut c, &["k"], || run(&["EXPIRE", "k", "100"])), "EXPIRE");
    assert!(!exec_runs(&mut c, &["k"], || run(&["DEL", "k"])), "DEL");
    run(&["SET", "src", "1"]);
    assert!(!exec_runs(&mut c, &["dst"], || run(&["RENAME", "src", "dst"])), "RENAME destination");
    assert!(!exec_runs(&mut c, &["dst"], || run(&["RENAME", "dst", "src"])), "RENAME source");
    assert!(!exec_runs(&mut c, &["cp"], || run(&["COPY", "src", "cp"])), "COPY destination");
    assert!(exec_runs(&mut c, &["src"], || run(&["COPY", "src", "cp2"])), "COPY source is only read");
    run(&["SADD", "s1", "a"]);
    assert!(exec_runs(&mut c, &["s1"], || run(&["SUNIONSTORE", "u", "s1"])), "a STORE source is only read");
    assert!(!exec_runs(&mut c, &["u"], || run(&["SUNIONSTORE", "u", "s1", "s2"])), "STORE destination");
    run(&["SELECT", "2"]);
    run(&["DEL", "src"]);
    run(&["SELECT", "0"]);
    // MOVE to database 2: watched there by a client that selected it.
    let _: () = q(&mut c, &["SELECT", "2"]);
    assert!(!exec_runs(&mut c, &["src"], || run(&["MOVE", "src", "2"])), "MOVE destination");
    let _: () = q(&mut c, &["SELECT", "0"]);
    let dump: Vec<u8> = {
        run(&["SET", "d", "payload"]);
        redis::cmd("DUMP").arg("d").query(&mut o2).unwrap()
    };
    assert!(
        !exec_runs(&mut c, &["r"], || {
            let _: () = redis::cmd("RESTORE").arg("r").arg(0).arg(dump).query(&mut o2).unwrap();
        }),
        "RESTORE"
    );
    // Our own write between WATCH and MULTI counts too.
    let _: () = q(&mut c, &["WATCH", "mine"]);
    let _: () = q(&mut c, &["SET", "mine", "1"]);
    let _: () = q(&mut c, &["MULTI"]);
    assert_eq!(q::<Option<Vec<String>>>(&mut c, &["EXEC"]), None);
    // UNWATCH forgets.
    let _: () = q(&mut c, &["WATCH", "k"]);
    run(&["SET", "k", "1"]);
    let _: () = q(&mut c, &["UNWATCH"]);
    let _: () = q(&mut c, &["MULTI"]);
    assert_eq!(q::<Option<Vec<String>>>(&mut c, &["EXEC"]), Some(vec![]));
}

#[test]
fn watch_and_flushes_swapdb_and_expiry() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut o = node.client();
    let mut run = |args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        // Errors (FLUSHDB x) are part of the test: a refused command changes nothing.
        let _: redis::RedisResult<redis::Value> = cmd.query(&mut o);
    };
    run(&["SET", "f", "1"]);
    assert!(!exec_runs(&mut c, &["f"], || run(&["FLUSHALL"])), "FLUSHALL of a watched key");
    assert!(exec_runs(&mut c, &["f"], || run(&["FLUSHALL"])), "FLUSHALL without the watched key (as Redis 7.0)");
    run(&["SET", "f", "1"]);
    assert!(!exec_runs(&mut c, &["f"], || run(&["FLUSHDB"])), "FLUSHDB");
    run(&["SET", "f", "1"]);
    assert!(exec_runs(&mut c, &["f"], || run(&["FLUSHDB", "x"])), "a failed FLUSHDB");
    run(&["SELECT", "3"]);
    run(&["SET", "f", "other"]);
    run(&["SELECT", "0"]);
    assert!(!exec_runs(&mut c, &["f"], || run(&["SWAPDB", "0", "3"])), "SWAPDB");
    // A key that exists at WATCH and expires before EXEC is a change, whether or not
    // anything deleted it yet.
    run(&["SET", "e", "1", "PX", "100"]);
    assert!(
        !exec_runs(&mut c, &["e"], || {
            std::thread::sleep(Duration::from_millis(250));
        }),
        "expired after WATCH"
    );
    // A key already expired at WATCH that stays absent is not.
    run(&["SET", "e2", "1", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    assert!(exec_runs(&mut c, &["e2"], || {}), "expired before WATCH");
    // ...but giving it a new value is.
    run(&["SET", "e3", "1", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    assert!(!exec_runs(&mut c, &["e3"], || run(&["SET", "e3", "2"])), "expired key set again");
}

#[test]
fn concurrent_watch_retry_loops_count_exactly() {
    let node = Node::start(&[]);
    const THREADS: usize = 4;
    const EACH: usize = 300;
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut c = node.client();
            std::thread::spawn(move || {
                let mut retries = 0u64;
                for _ in 0..EACH {
                    loop {
                        let _: () = q(&mut c, &["WATCH", "counter"]);
                        let v: Option<i64> = q(&mut c, &["GET", "counter"]);
                        let next = (v.unwrap_or(0) + 1).to_string();
                        let _: () = q(&mut c, &["MULTI"]);
                        let _: String = q(&mut c, &["SET", "counter", &next]);
                        let r: Option<Vec<String>> = q(&mut c, &["EXEC"]);
                        if r.is_some() {
                            break;
                        }
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    let retries: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut c = node.client();
    assert_eq!(q::<i64>(&mut c, &["GET", "counter"]), (THREADS * EACH) as i64, "retries: {retries}");
    assert!(retries > 0, "the loops never raced: the test proves nothing");
}

#[test]
fn transfers_across_partitions_are_never_seen_torn() {
    let node = Node::start(&[]);
    const ACCOUNTS: usize = 16;
    const START: i64 = 1000;
    let names: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct:{i}")).collect();
    let mut c = node.client();
    for n in &names {
        let _: () = q(&mut c, &["SET", n, &START.to_string()]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let movers: Vec<_> = (0..2)
        .map(|t| {
            let mut c = node.client();
            let names = names.clone();
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                for _ in 0..1500 {
                    let (a, b) = (rng.usize(..ACCOUNTS), rng.usize(..ACCOUNTS));
                    if a == b {
                        continue;
                    }
                    let amount = rng.i64(1..50).to_string();
                    let _: () = q(&mut c, &["MULTI"]);
                    let _: String = q(&mut c, &["DECRBY", &names[a], &amount]);
                    let _: String = q(&mut c, &["INCRBY", &names[b], &amount]);
                    let r: Vec<i64> = q(&mut c, &["EXEC"]);
                    assert_eq!(r.len(), 2);
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = node.client();
            let names = names.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut cmd = redis::cmd("MGET");
                    for n in &names {
                        cmd.arg(n);
                    }
                    let vals: Vec<i64> = cmd.query(&mut c).unwrap();
                    assert_eq!(vals.iter().sum::<i64>(), START * ACCOUNTS as i64, "torn read: {vals:?}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for m in movers {
        m.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 100, "readers barely ran ({reads})");
    let mut cmd = redis::cmd("MGET");
    for n in &names {
        cmd.arg(n);
    }
    let vals: Vec<i64> = cmd.query(&mut c).unwrap();
    assert_eq!(vals.iter().sum::<i64>(), START * ACCOUNTS as i64);
}

#[test]
fn blocking_commands_inside_multi_and_a_push_inside_exec_serves_a_blocked_client() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "BLPOP nolist 0", QUEUED);
    rt(&mut r, "BLMOVE nolist other LEFT LEFT 0", QUEUED);
    let started = Instant::now();
    rt(&mut r, "EXEC", "*2\r\n*-1\r\n$-1\r\n");
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut blocked = node.raw();
    blocked.send(&resp(&[b"BLPOP", b"jobs", b"0"]));
    let mut o = node.client();
    assert!(wait_for(Duration::from_secs(5), || info_field(&q::<String>(&mut o, &["INFO", "clients"]), "blocked_clients").as_deref() == Some("1")));
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "RPUSH jobs a b", QUEUED);
    rt(&mut r, "LLEN jobs", QUEUED);
    rt(&mut r, "EXEC", "*2\r\n:2\r\n:2\r\n");
    assert_eq!(blocked.read_exact_len(24), b"*2\r\n$4\r\njobs\r\n$1\r\na\r\n");
    assert_eq!(q::<Vec<String>>(&mut o, &["LRANGE", "jobs", "0", "-1"]), vec!["b".to_string()]);
}

#[test]
fn exec_refuses_the_whole_queue_when_writes_became_impossible() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    let mut o = node.client();
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "SET a 1", QUEUED);
    rt(&mut r, "GET a", QUEUED);
    // Becomes a read-only replica of a primary that is not there.
    let dead = free_port().to_string();
    let _: () = q(&mut o, &["REPLICAOF", "127.0.0.1", &dead]);
    rt(&mut r, "EXEC", "-EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.\r\n");
    rt(&mut r, "EXEC", "-ERR EXEC without MULTI\r\n");
    // A read-only queue still runs on the replica.
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "GET a", QUEUED);
    rt(&mut r, "EXEC", "*1\r\n$-1\r\n");
    // Writes rejected while queuing doom the EXEC.
    rt(&mut r, "MULTI", OK);
    rt(&mut r, "SET a 1", "-READONLY You can't write against a read only replica.\r\n");
    rt(&mut r, "EXEC", EXECABORT);
    let _: () = q(&mut o, &["REPLICAOF", "NO", "ONE"]);
}

#[test]
fn a_transaction_reaches_replicas_and_the_aof_as_multi_exec() {
    let dir = temp_dir("tx-aof");
    let primary = start_in(&dir, &["--appendonly", "yes"]);
    let port = primary.port.to_string();
    let replica = Node::start(&["--replicaof", "127.0.0.1", &port]);
    let mut rc = replica.client();
    assert!(wait_for(Duration::from_secs(30), || info_field(&q::<String>(&mut rc, &["INFO", "replication"]), "master_link_status").as_deref() == Some("up")));
    let mut c = primary.client();
    let _: () = q(&mut c, &["SET", "before", "1"]);
    let _: () = q(&mut c, &["MULTI"]);
    let _: String = q(&mut c, &["SET", "a", "1"]);
    let _: String = q(&mut c, &["GET", "a"]);
    let _: String = q(&mut c, &["INCR", "b"]);
    let _: String = q(&mut c, &["SELECT", "1"]);
    let _: String = q(&mut c, &["SET", "c", "3"]);
    let _: redis::Value = q(&mut c, &["EXEC"]);
    let _: () = q(&mut c, &["SELECT", "0"]);
    // A read-only transaction journals nothing.
    let _: () = q(&mut c, &["MULTI"]);
    let _: String = q(&mut c, &["GET", "a"]);
    let _: redis::Value = q(&mut c, &["EXEC"]);
    let _: () = q(&mut c, &["SET", "after", "1"]);
    let aof = {
        let mut all = Vec::new();
        for f in incr_files(&dir) {
            all.extend(std::fs::read(f).unwrap());
        }
        String::from_utf8_lossy(&all).into_owned()
    };
    let tx = "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n*1\r\n$4\r\nEXEC\r\n";
    assert!(aof.contains(tx), "{aof:?}");
    assert_eq!(aof.matches("MULTI").count(), 1, "{aof:?}");
    assert!(aof.find(tx).unwrap() < aof.find("after").unwrap());
    let mut check = replica.client();
    assert!(wait_for(Duration::from_secs(10), || q::<Option<String>>(&mut check, &["GET", "after"]).is_some()));
    assert_eq!(q::<Vec<Option<String>>>(&mut check, &["MGET", "a", "b"]), vec![Some("1".into()), Some("1".into())]);
    let _: () = q(&mut check, &["SELECT", "1"]);
    assert_eq!(q::<Option<String>>(&mut check, &["GET", "c"]), Some("3".into()));
    let _: () = q(&mut check, &["SELECT", "0"]);
    // Transfers applied on the replica are never seen half done there either.
    let names: Vec<String> = (0..8).map(|i| format!("acct:{i}")).collect();
    for n in &names {
        let _: () = q(&mut c, &["SET", n, "100"]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let mut rc = replica.client();
        let names = names.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut cmd = redis::cmd("MGET");
                for n in &names {
                    cmd.arg(n);
                }
                let vals: Vec<Option<i64>> = cmd.query(&mut rc).unwrap();
                if vals.iter().all(Option::is_some) {
                    assert_eq!(vals.iter().flatten().sum::<i64>(), 800, "torn on the replica: {vals:?}");
                    seen += 1;
                }
            }
            seen
        })
    };
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..1500 {
        let (a, b) = (rng.usize(..8), rng.usize(..8));
        let _: () = q(&mut c, &["MULTI"]);
        let _: String = q(&mut c, &["DECRBY", &names[a], "3"]);
        let _: String = q(&mut c, &["INCRBY", &names[b], "3"]);
        let _: redis::Value = q(&mut c, &["EXEC"]);
    }
    let _: () = q(&mut c, &["SET", "transfers-done", "1"]);
    assert!(wait_for(Duration::from_secs(10), || q::<Option<String>>(&mut check, &["GET", "transfers-done"]).is_some()));
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 50, "the replica reader barely ran");
    // The replica's link is not left inside a transaction.
    let _: () = q(&mut c, &["SET", "later", "1"]);
    assert!(wait_for(Duration::from_secs(10), || q::<Option<String>>(&mut check, &["GET", "later"]).is_some()));
    drop(replica);
    drop(primary);
    // Replayed from the AOF.
    let node = start_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.client();
    assert_eq!(q::<Vec<Option<String>>>(&mut c, &["MGET", "a", "b", "after"]), vec![Some("1".into()), Some("1".into()), Some("1".into())]);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unterminated_transaction_at_the_end_of_the_aof_is_dropped_as_configured() {
    let dir = temp_dir("tx-aof-open");
    {
        let node = start_in(&dir, &["--appendonly", "yes"]);
        let mut c = node.client();
        let _: () = q(&mut c, &["SET", "a", "1"]);
    }
    let incr = incr_files(&dir).pop().unwrap();
    let good = std::fs::read(&incr).unwrap();
    let mut open = good.clone();
    open.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n1\r\n");
    std::fs::write(&incr, &open).unwrap();
    let (code, out) = start_fails(&dir, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    assert_ne!(code, Some(0));
    assert!(out.contains(".incr.aof"), "unclear refusal: {out}");
    assert_eq!(std::fs::read(&incr).unwrap(), open, "refusing must not touch the file");
    {
        let node = start_in(&dir, &["--appendonly", "yes", "--aof-load-truncated", "yes"]);
        assert!(wait_for(Duration::from_secs(10), || node.log().iter().any(|l| l.contains("incomplete MULTI/EXEC"))), "{:?}", node.log());
        let mut c = node.client();
        assert_eq!(q::<Vec<Option<String>>>(&mut c, &["MGET", "a", "z"]), vec![Some("1".into()), None]);
        assert_eq!(std::fs::read(&incr).unwrap(), good, "the half transaction is cut off the file");
        let _: () = q(&mut c, &["SET", "b", "2"]);
    }
    // Writes made after the cut are replayed normally.
    let node = start_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.client();
    assert_eq!(q::<Vec<Option<String>>>(&mut c, &["MGET", "a", "b", "z"]), vec![Some("1".into()), Some("2".into()), None]);
    // Cut in the middle of a command inside the transaction: back to the MULTI too.
    drop(node);
    let good = std::fs::read(&incr).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\ny");
    std::fs::write(&incr, &torn).unwrap();
    let node = start_in(&dir, &["--appendonly", "yes", "--aof-load-truncated", "yes"]);
    let mut c = node.client();
    assert_eq!(q::<Vec<Option<String>>>(&mut c, &["MGET", "a", "z"]), vec![Some("1".into()), None]);
    assert_eq!(std::fs::read(&incr).unwrap(), good);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
