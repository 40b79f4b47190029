//! Scripts inside MULTI / EXEC: replies byte for byte as redis-server 7.0 sends them
//! (RESP2 and RESP3, script errors as elements of EXEC's array, WATCH aborts, SCRIPT
//! LOAD then EVALSHA in one transaction), a transaction's script effects reaching the
//! AOF and a replica inside its one MULTI ... EXEC, its atomicity against other
//! clients; and the commands scripts run counted in INFO commandstats and /metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::oracle::transcript;
use common::*;
use persistence::*;
use redis_server::{RedisServer, temp_dir};

fn sha1(body: &str) -> String {
    sha1_smol::Sha1::from(body.as_bytes()).digest().to_string()
}

fn c(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Transactions holding scripts whose replies depend on nothing but the data.
fn shapes() -> Vec<Vec<Vec<String>>> {
    let incr = "return redis.call('incr', KEYS[1])";
    let loaded = "return 'loaded ' .. ARGV[1]";
    vec![
        // Commands and scripts interleaved; the script sees the queue's earlier writes.
        vec![c(&["DEL", "a"]), c(&["MULTI"]), c(&["SET", "a", "5"]), c(&["EVAL", incr, "1", "a"]), c(&["GET", "a"]), c(&["EXEC"]), c(&["GET", "a"])],
        // Errors a script raises, calls that fail, error replies it returns: elements of the array.
        vec![
            c(&["MULTI"]),
            c(&["EVAL", "return redis.call('nosuch')", "0"]),
            c(&["EVAL", "error('boom')", "0"]),
            c(&["EVAL", "return redis.pcall('incr', 'notanumber', 'x')", "0"]),
            c(&["EVAL", "return redis.error_reply('MY own')", "0"]),
            c(&["EVAL", "return redis.call('exec')", "0"]),
            c(&["EVAL_RO", "return redis.call('set', 'x', '1')", "0"]),
            c(&["PING"]),
            c(&["EXEC"]),
        ],
        // Argument errors found when EXEC runs the script.
        vec![
            c(&["MULTI"]),
            c(&["EVAL", "return 1", "-1"]),
            c(&["EVAL", "return 1", "3", "a"]),
            c(&["EVAL", "return 1", "x"]),
            c(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]),
            c(&["EVALSHA", "short", "0"]),
            c(&["EVAL", "return +", "0"]),
            c(&["EXEC"]),
        ],
        // Wrong arity is refused while queuing: EXECABORT.
        vec![c(&["MULTI"]), c(&["EVAL", "return 1"]), c(&["EVAL", "return 1", "0"]), c(&["EXEC"])],
        // SCRIPT LOAD, then EVALSHA of what it loaded, in one transaction.
        vec![c(&["SCRIPT", "FLUSH"]), c(&["MULTI"]), c(&["SCRIPT", "LOAD", loaded]), c(&["EVALSHA", &sha1(loaded), "0", "x"]), c(&["EXEC"])],
        // Reply shapes, in the caller's protocol and the script's.
        vec![
            c(&["DEL", "h"]),
            c(&["HSET", "h", "f", "v"]),
            c(&["MULTI"]),
            c(&["EVAL", "return {1, 'a', {ok='fine'}, {err='ERR inner'}, false, true}", "0"]),
            c(&["EVAL", "return {double=1.5}", "0"]),
            c(&["EVAL", "redis.setresp(3); return redis.call('hgetall', KEYS[1])", "1", "h"]),
            c(&["EVAL", "redis.setresp(3); return {true, false, {big_number='123'}}", "0"]),
            c(&["EVAL", "return redis.call('get', 'missing')", "0"]),
            c(&["EXEC"]),
        ],
        // SELECT inside a script changes the script's database only.
        vec![
            c(&["MULTI"]),
            c(&["EVAL", "redis.call('select', 1); redis.call('set', 'k', 'one'); return 1", "0"]),
            c(&["SET", "k", "zero"]),
            c(&["EXEC"]),
            c(&["GET", "k"]),
            c(&["SELECT", "1"]),
            c(&["GET", "k"]),
            c(&["SELECT", "0"]),
        ],
        // A SELECT queued before the script: the script starts in the transaction's database.
        vec![
            c(&["MULTI"]),
            c(&["SELECT", "2"]),
            c(&["EVAL", "return redis.call('set', 'k2', 'x')", "0"]),
            c(&["EXEC"]),
            c(&["EXISTS", "k2"]),
            c(&["SELECT", "0"]),
            c(&["EXISTS", "k2"]),
        ],
        // WATCH: a changed key aborts the transaction and its script never runs.
        vec![
            c(&["DEL", "w", "ran"]),
            c(&["WATCH", "w"]),
            c(&["SET", "w", "1"]),
            c(&["MULTI"]),
            c(&["EVAL", "return redis.call('set', 'ran', '1')", "0"]),
            c(&["EXEC"]),
            c(&["EXISTS", "ran"]),
            c(&["WATCH", "w"]),
            c(&["MULTI"]),
            c(&["EVAL", "return redis.call('set', 'ran', '1')", "0"]),
            c(&["EXEC"]),
            c(&["EXISTS", "ran"]),
        ],
        // DISCARD drops a queued script.
        vec![c(&["DEL", "d"]), c(&["MULTI"]), c(&["EVAL", "return redis.call('set', 'd', '1')", "0"]), c(&["DISCARD"]), c(&["EXISTS", "d"]), c(&["EXEC"])],
        // Commands after EXEC run in order behind it, scripts outside MULTI too.
        vec![
            c(&["DEL", "n"]),
            c(&["EVAL", incr, "1", "n"]),
            c(&["MULTI"]),
            c(&["EVAL", incr, "1", "n"]),
            c(&["INCR", "n"]),
            c(&["EXEC"]),
            c(&["EVAL", incr, "1", "n"]),
            c(&["GET", "n"]),
        ],
    ]
}

#[test]
fn transactions_with_scripts_reply_like_redis() {
    let dir = temp_dir("scripting-multi");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    for resp3 in [false, true] {
        for cmds in shapes() {
            let want = transcript(redis.port, resp3, &cmds);
            let got = transcript(node.port, resp3, &cmds);
            assert_eq!(got, want, "resp3={resp3} {cmds:?}");
        }
    }
}

#[test]
fn client_reply_off_silences_the_exec_of_a_transaction_with_scripts() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    let mut req = Vec::new();
    for cmd in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["MULTI"],
        &["EVAL", "return redis.call('set', 'silent', '1')", "0"],
        &["EXEC"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "silent"],
    ] {
        let a: Vec<&[u8]> = cmd.iter().map(|x| x.as_bytes()).collect();
        req.extend(resp(&a));
    }
    r.send(&req);
    assert_eq!(String::from_utf8_lossy(&r.read_exact_len(13)), "+OK\r\n$1\r\n1\r\n");
}

fn aof_text(dir: &std::path::Path) -> String {
    let mut all = Vec::new();
    for f in incr_files(dir) {
        all.extend(std::fs::read(f).unwrap());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn a_transactions_script_effects_reach_the_aof_and_a_replica_in_its_multi_exec() {
    let dir = temp_dir("scripting-multi-aof");
    let primary = start_in(&dir, &["--appendonly", "yes"]);
    let port = primary.port.to_string();
    let replica = Node::start(&["--replicaof", "127.0.0.1", &port]);
    let mut rc = replica.client();
    assert!(wait_for(Duration::from_secs(30), || info_field(&q::<String>(&mut rc, &["INFO", "replication"]), "master_link_status").as_deref() == Some("up")));
    let mut r = primary.raw();
    rt(&mut r, "SET before 1", OK);
    rt(&mut r, "MULTI", "+OK\r\n");
    rt(&mut r, "SET a 1", "+QUEUED\r\n");
    exact(
        &mut r,
        &["EVAL", "redis.call('incr', KEYS[1]); redis.call('expire', KEYS[1], 100); return redis.call('set', KEYS[2], ARGV[1])", "2", "b", "c", "x"],
        "+QUEUED\r\n",
    );
    exact(&mut r, &["EVAL", "return redis.call('get', 'a')", "0"], "+QUEUED\r\n");
    rt(&mut r, "EXEC", "*3\r\n+OK\r\n+OK\r\n$1\r\n1\r\n");
    rt(&mut r, "SET after 1", OK);
    let aof = aof_text(&dir);
    let start = aof.find("MULTI").expect("a MULTI in the AOF");
    // Command names as the script wrote them: compare without case.
    let block = aof[start..aof[start..].find("EXEC").map(|i| start + i).expect("its EXEC")].to_ascii_lowercase();
    for part in ["$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n", "$4\r\nincr\r\n$1\r\nb\r\n", "pexpireat\r\n$1\r\nb\r\n", "$3\r\nset\r\n$1\r\nc\r\n$1\r\nx\r\n"] {
        assert!(block.contains(part), "{part:?} not in {block:?}");
    }
    assert_eq!(aof.matches("MULTI").count(), 1, "{aof:?}");
    assert!(aof.find("before").unwrap() < start && aof.find("after").unwrap() > start, "{aof:?}");
    let mut check = replica.client();
    assert!(wait_for(Duration::from_secs(10), || q::<Option<String>>(&mut check, &["GET", "after"]).is_some()));
    assert_eq!(q::<Vec<Option<String>>>(&mut check, &["MGET", "a", "b", "c"]), vec![Some("1".into()), Some("1".into()), Some("x".into())]);
    let ttl: i64 = q(&mut check, &["TTL", "b"]);
    assert!((1..=100).contains(&ttl), "{ttl}");
}

#[test]
fn a_transaction_with_a_script_is_never_seen_half_done() {
    let node = Node::start(&[]);
    let mut setup = node.client();
    let names: Vec<String> = (0..8).map(|i| format!("acct:{i}")).collect();
    for n in &names {
        let _: () = q(&mut setup, &["SET", n, "100"]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, names, mut c) = (stop.clone(), names.clone(), node.client());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut cmd = redis::cmd("MGET");
                for n in &names {
                    cmd.arg(n);
                }
                let vals: Vec<Option<i64>> = cmd.query(&mut c).unwrap();
                assert_eq!(vals.iter().flatten().sum::<i64>(), 800, "torn: {vals:?}");
                reads += 1;
            }
            reads
        })
    };
    let mut c = node.client();
    let take = "return redis.call('decrby', KEYS[1], ARGV[1])";
    for i in 0..300 {
        let (from, to) = (&names[i % 8], &names[(i * 3 + 1) % 8]);
        let mut p = redis::pipe();
        p.atomic().cmd("EVAL").arg(take).arg(1).arg(from).arg(7).cmd("INCRBY").arg(to).arg(7);
        let _: redis::Value = p.query(&mut c).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 10, "the reader barely ran");
    let total: i64 = names.iter().map(|n| q::<i64>(&mut setup, &["GET", n])).sum();
    assert_eq!(total, 800);
}

/// `name:calls=N,...` of INFO commandstats, as a number.
fn calls(info: &str, name: &str) -> u64 {
    info_field(info, &format!("cmdstat_{name}")).and_then(|v| v.strip_prefix("calls=")?.split(',').next()?.parse().ok()).unwrap_or(0)
}

#[test]
fn the_commands_scripts_run_count_in_commandstats_and_metrics() {
    let dir = temp_dir("scripting-stats");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let script = "redis.call('incr', 'k'); redis.call('incr', 'k'); redis.pcall('incr', 'k', 'extra'); return redis.call('get', 'k')";
    let mut counts = Vec::new();
    for url in [redis.url(), node.url()] {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
        let _: String = q(&mut c, &["EVAL", script, "0"]);
        let _: redis::Value = redis::pipe().atomic().cmd("EVAL").arg("return redis.call('incr', 'k')").arg(0).query(&mut c).unwrap();
        let info: String = q(&mut c, &["INFO", "commandstats"]);
        counts.push(["incr", "get", "eval", "exec", "multi"].map(|n| calls(&info, n)));
    }
    assert_eq!(counts[1], counts[0]);
    assert_eq!(counts[1], [3, 1, 2, 1, 1]);
    let metrics = http_get(node.admin_port, "/metrics");
    assert!(metrics.contains("redis_commands_total{cmd=\"incr\"} 3"), "{metrics}");
    assert!(metrics.contains("redis_commands_total{cmd=\"get\"} 1"), "{metrics}");
    // They reset with the rest.
    let mut c = node.client();
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]);
    assert_eq!(calls(&q::<String>(&mut c, &["INFO", "commandstats"]), "incr"), 0);
}

#[test]
fn a_script_queued_in_a_replayed_aof_does_not_leave_the_loader_in_multi() {
    // An AOF holds scripts' effects, never scripts; one written by an old Redis that
    // replicated scripts verbatim must still load everything after its transaction.
    let dir = temp_dir("scripting-multi-load");
    {
        let node = start_in(&dir, &["--appendonly", "yes"]);
        let mut c = node.client();
        let _: () = q(&mut c, &["SET", "a", "1"]);
    }
    let incr = incr_files(&dir).pop().unwrap();
    let mut aof = std::fs::read(&incr).unwrap();
    for cmd in [&["MULTI"][..], &["EVAL", "return redis.call('set', 'b', '2')", "0"], &["INCR", "a"], &["EXEC"], &["SET", "after", "3"]] {
        let a: Vec<&[u8]> = cmd.iter().map(|x| x.as_bytes()).collect();
        aof.extend(resp(&a));
    }
    std::fs::write(&incr, &aof).unwrap();
    let node = start_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.client();
    assert_eq!(q::<Vec<Option<String>>>(&mut c, &["MGET", "a", "after"]), vec![Some("2".into()), Some("3".into())]);
    let _ = std::fs::remove_dir_all(&dir);
}
