//! cache-node replicating from cache-node: a primary and two replicas under a write load
//! converge to identical data (also with evictions, scripts and transactions); a killed replica comes back with a partial resync; a
//! promoted replica keeps the history so its sibling continues partially; read-only
//! replicas; WAIT.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use persistence::*;

/// Waits until the replica has processed everything the primary has written.
fn wait_caught_up(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    let ok = wait_for(Duration::from_secs(30), || {
        let want = repl_info(primary, "master_repl_offset");
        repl_info(replica, "master_link_status") == "up" && repl_info(replica, "slave_repl_offset") == want
    });
    assert!(ok, "replica did not catch up: primary {} replica {}", repl_info(primary, "master_repl_offset"), repl_info(replica, "slave_repl_offset"));
}

fn write_load(node: &Node, stop: Arc<AtomicBool>, writers: usize) -> Vec<std::thread::JoinHandle<u64>> {
    (0..writers)
        .map(|w| {
            let (stop, mut c) = (stop.clone(), node.client());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let r: redis::RedisResult<()> = redis::pipe()
                        .cmd("INCR")
                        .arg(format!("ctr{w}"))
                        .ignore()
                        .cmd("RPUSH")
                        .arg(format!("log{w}"))
                        .arg(n)
                        .ignore()
                        .cmd("HSET")
                        .arg(format!("h{}", n % 50))
                        .arg(format!("f{w}"))
                        .arg(n)
                        .ignore()
                        .cmd("SET")
                        .arg(format!("ttl{}", n % 100))
                        .arg(n)
                        .arg("PX")
                        .arg(50 + n % 500)
                        .ignore()
                        .cmd("ZADD")
                        .arg("z")
                        .arg(n)
                        .arg(format!("m{}", n % 300))
                        .ignore()
                        .query(&mut c);
                    if r.is_err() {
                        break;
                    }
                }
                n
            })
        })
        .collect()
}

#[test]
fn replicas_converge_under_load_and_come_back_partially() {
    let primary = Node::start(&[]);
    let mut p = primary.client();
    for i in 0..500 {
        let _: () = redis::cmd("SET").arg(format!("pre{i}")).arg(i).query(&mut p).unwrap();
    }
    let r1 = replica_of(&primary, &[]);
    let mut r2 = replica_of(&primary, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(&primary, stop.clone(), 3);
    std::thread::sleep(Duration::from_millis(300));
    // Kill one replica in the middle of the load and bring it back on the same port.
    let port2 = r2.port;
    drop(r2);
    std::thread::sleep(Duration::from_millis(300));
    r2 = Node::start(&["--port", &port2.to_string(), "--replicaof", "127.0.0.1", &primary.port.to_string()]);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = load.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(total > 100, "the load did not run ({total})");
    let mut c1 = r1.client();
    let mut c2 = r2.client();
    wait_caught_up(&mut p, &mut c1);
    wait_caught_up(&mut p, &mut c2);
    // Keys with short TTLs may be mid-expiry: compare once they are all gone.
    assert!(wait_for(Duration::from_secs(10), || (0..100).all(|i| q::<i64>(&mut p, &["EXISTS", &format!("ttl{i}")]) == 0)));
    wait_caught_up(&mut p, &mut c1);
    wait_caught_up(&mut p, &mut c2);
    let want = dataset(&mut p, 16);
    assert_same(&dataset(&mut c1, 16), &want, "replica 1");
    assert_same(&dataset(&mut c2, 16), &want, "replica 2");
    assert_eq!(repl_info(&mut p, "connected_slaves"), "2");
    let err = redis::cmd("SET").arg("x").arg("1").query::<()>(&mut c1).unwrap_err();
    assert_eq!(err.code(), Some("READONLY"), "{err}");
}

#[test]
fn a_promoted_replica_keeps_the_history_for_its_sibling() {
    let primary = Node::start(&[]);
    let mut p = primary.client();
    let r1 = replica_of(&primary, &[]);
    let r2 = replica_of(&primary, &[]);
    for i in 0..300 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut p).unwrap();
    }
    let mut c1 = r1.client();
    let mut c2 = r2.client();
    wait_caught_up(&mut p, &mut c1);
    wait_caught_up(&mut p, &mut c2);
    let old_replid = repl_info(&mut p, "master_replid");
    let offset: u64 = repl_info(&mut p, "master_repl_offset").parse().unwrap();
    drop(primary);
    // Promote r1, re-point r2 at it.
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut c1).unwrap();
    assert_eq!(repl_info(&mut c1, "role"), "master");
    assert_eq!(repl_info(&mut c1, "master_replid2"), old_replid);
    assert_eq!(repl_info(&mut c1, "second_repl_offset"), (offset + 1).to_string());
    let _: () = redis::cmd("SET").arg("after").arg("promotion").query(&mut c1).unwrap();
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(r1.port).query(&mut c2).unwrap();
    wait_caught_up(&mut c1, &mut c2);
    assert_eq!(q::<String>(&mut c2, &["GET", "after"]), "promotion");
    let text: String = q(&mut c1, &["INFO", "stats"]);
    assert_eq!(info_field(&text, "sync_partial_ok").as_deref(), Some("1"), "the sibling should continue partially:\n{text}");
    assert_same(&dataset(&mut c2, 16), &dataset(&mut c1, 16), "after re-pointing");
}

#[test]
fn wait_counts_replicas_that_acknowledged() {
    let primary = Node::start(&[]);
    let mut p = primary.client();
    let _r1 = replica_of(&primary, &[]);
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut p).unwrap();
    assert_eq!(q::<i64>(&mut p, &["WAIT", "1", "5000"]), 1);
    // Two replicas asked, one exists: WAIT answers 1 when its timeout passes.
    let t = std::time::Instant::now();
    assert_eq!(q::<i64>(&mut p, &["WAIT", "2", "200"]), 1);
    assert!(t.elapsed() >= Duration::from_millis(190), "WAIT returned before its timeout");
}

#[test]
fn failover_hands_over_without_losing_an_acknowledged_write() {
    let primary = Node::start(&[]);
    let mut p = primary.client();
    let r1 = replica_of(&primary, &[]);
    let r2 = replica_of(&primary, &[]);
    let mut raw = primary.raw();
    err(&mut raw, &["FAILOVER", "ABORT"], "ERR No failover in progress.");
    err(&mut raw, &["FAILOVER", "TO", "127.0.0.1", "1"], "ERR FAILOVER target HOST and PORT is not a replica.");
    err(&mut raw, &["FAILOVER", "FORCE"], "ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
    err(&mut raw, &["FAILOVER", "TIMEOUT", "0"], "ERR FAILOVER timeout must be greater than 0");
    err(&mut r1.raw(), &["FAILOVER"], "ERR FAILOVER is not valid when server is a replica.");
    // A writer keeps incrementing through the switchover, noting what was acknowledged.
    let acked = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let writer = {
        let (acked, mut c) = (acked.clone(), primary.client());
        std::thread::spawn(move || {
            loop {
                match redis::cmd("INCR").arg("ctr").query::<i64>(&mut c) {
                    Ok(n) => acked.store(n, Ordering::Release),
                    Err(e) => return e.code().map(str::to_string),
                }
            }
        })
    };
    assert!(wait_for(Duration::from_secs(10), || acked.load(Ordering::Acquire) > 200));
    let target_port = r1.port.to_string();
    assert_eq!(q::<String>(&mut p, &["FAILOVER", "TO", "127.0.0.1", &target_port, "TIMEOUT", "5000"]), "OK");
    let code = writer.join().unwrap();
    assert_eq!(code.as_deref(), Some("READONLY"), "writes end with READONLY once the old primary is a replica");
    let mut c1 = r1.client();
    assert!(wait_for(Duration::from_secs(10), || repl_info(&mut c1, "role") == "master"), "the target did not take over");
    assert!(wait_for(Duration::from_secs(10), || repl_info(&mut p, "master_link_status") == "up"), "the old primary does not follow the new one");
    assert_eq!(repl_info(&mut p, "master_failover_state"), "no-failover");
    let last = acked.load(Ordering::Acquire);
    let on_new: i64 = q(&mut c1, &["GET", "ctr"]);
    assert!(on_new >= last, "acknowledged {last}, the new primary has {on_new}");
    // No data moved: the old primary continued partially from the new one.
    let text: String = q(&mut c1, &["INFO", "stats"]);
    assert_eq!(info_field(&text, "sync_full").as_deref(), Some("0"), "{text}");
    // The new primary takes writes, and every node converges.
    let _: () = redis::cmd("SET").arg("after").arg("failover").query(&mut c1).unwrap();
    let mut c2 = r2.client();
    assert!(wait_for(Duration::from_secs(20), || q::<Option<String>>(&mut p, &["GET", "after"]).is_some()
        && q::<Option<String>>(&mut c2, &["GET", "after"]).is_some()));
    let want = dataset(&mut c1, 16);
    assert_same(&dataset(&mut p, 16), &want, "old primary");
    assert_same(&dataset(&mut c2, 16), &want, "other replica");
}

#[test]
fn after_a_crash_the_promoted_replica_has_every_waited_write_and_the_old_primary_drops_the_rest() {
    let dir = redis_server::temp_dir("repl-crash");
    let mut primary = persistence::start_in(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut p = primary.client();
    let r1 = replica_of(&primary, &[]);
    let r2 = replica_of(&primary, &[]);
    // Writes acknowledged by a replica (WAIT 1) must survive the primary's death.
    for i in 0..200 {
        let _: () = redis::cmd("SET").arg(format!("safe{i}")).arg(i).query(&mut p).unwrap();
        assert!(q::<i64>(&mut p, &["WAIT", "1", "5000"]) >= 1, "write {i} was not replicated");
    }
    // Freeze both replicas: what the primary takes now reaches only its own disk.
    let stop = |n: &Node, sig: &str| assert!(std::process::Command::new("kill").arg(sig).arg(n.pid().to_string()).status().unwrap().success());
    stop(&r1, "-STOP");
    stop(&r2, "-STOP");
    // Frozen replicas cannot reconnect; cutting their links keeps new writes from
    // reaching even their socket buffers.
    let _: i64 = q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert!(wait_for(Duration::from_secs(10), || repl_info(&mut p, "connected_slaves") == "0"));
    for i in 0..50 {
        let _: () = redis::cmd("SET").arg(format!("lost{i}")).arg(i).query(&mut p).unwrap();
    }
    // SIGKILL the primary, wake the replicas, promote r1, re-point r2.
    let old_port = primary.port;
    drop(primary);
    stop(&r1, "-CONT");
    stop(&r2, "-CONT");
    let mut c1 = r1.client();
    let mut c2 = r2.client();
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut c1).unwrap();
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(r1.port).query(&mut c2).unwrap();
    for i in 0..200 {
        assert_eq!(q::<Option<i64>>(&mut c1, &["GET", &format!("safe{i}")]), Some(i), "a write acknowledged by WAIT 1 is missing");
    }
    let _: () = redis::cmd("SET").arg("new").arg("primary").query(&mut c1).unwrap();
    // The old primary comes back from its AOF (holding the lost* keys) as r1's replica.
    primary = persistence::start_in(&dir, &["--port", &old_port.to_string(), "--appendonly", "yes", "--replicaof", "127.0.0.1", &r1.port.to_string()]);
    let mut p = primary.client();
    wait_caught_up(&mut c1, &mut p);
    wait_caught_up(&mut c1, &mut c2);
    let want = dataset(&mut c1, 16);
    assert!(!want.keys().any(|(_, k)| k.starts_with(b"lost")), "the new primary never had them");
    assert_same(&dataset(&mut p, 16), &want, "the old primary after rejoining");
    assert_same(&dataset(&mut c2, 16), &want, "the re-pointed replica");
    assert!(
        wait_for(Duration::from_secs(10), || primary.log().iter().any(|l| l.contains("discarding this node's data set"))),
        "the discarded writes are logged"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replica_restarted_from_its_snapshot_continues_partially() {
    let primary = Node::start(&[]);
    let mut p = primary.client();
    let dir = redis_server::temp_dir("repl-restart");
    let port = common::free_port().to_string();
    let pport = primary.port.to_string();
    let args = ["--port", port.as_str(), "--dir", dir.to_str().unwrap(), "--replicaof", "127.0.0.1", pport.as_str()];
    let mut replica = Node::start(&args);
    let mut c = replica.client();
    assert!(wait_for(Duration::from_secs(30), || repl_info(&mut c, "master_link_status") == "up"));
    for i in 0..300 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut p).unwrap();
    }
    wait_caught_up(&mut p, &mut c);
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut c);
    assert!(replica.wait_exit(Duration::from_secs(10)).is_some());
    // Writes while it is away stay in the primary's backlog.
    for i in 0..50 {
        let _: () = redis::cmd("SET").arg(format!("away{i}")).arg(i).query(&mut p).unwrap();
    }
    replica = Node::start(&args);
    let mut c = replica.client();
    wait_caught_up(&mut p, &mut c);
    let text: String = q(&mut p, &["INFO", "stats"]);
    assert_eq!(info_field(&text, "sync_full").as_deref(), Some("1"), "{text}");
    assert_eq!(info_field(&text, "sync_partial_ok").as_deref(), Some("1"), "{text}");
    assert_same(&dataset(&mut c, 16), &dataset(&mut p, 16), "after the restart");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writers that make the primary evict, run scripts and transactions, and set TTLs.
fn mixed_load(node: &Node, stop: Arc<AtomicBool>, writers: usize) -> Vec<std::thread::JoinHandle<u64>> {
    (0..writers)
        .map(|w| {
            let (stop, mut c) = (stop.clone(), node.client());
            std::thread::spawn(move || {
                let script = "redis.call('INCR', KEYS[1]); redis.call('SET', KEYS[2], ARGV[1], 'PX', 600000); return 1";
                let big = "x".repeat(2000);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let r: redis::RedisResult<()> = redis::pipe()
                        .cmd("EVAL")
                        .arg(script)
                        .arg(2)
                        .arg(format!("sctr{w}"))
                        .arg(format!("s{w}:{}", n % 200))
                        .arg(n)
                        .ignore()
                        .cmd("MULTI")
                        .ignore()
                        .cmd("DECRBY")
                        .arg("a")
                        .arg(1)
                        .ignore()
                        .cmd("INCRBY")
                        .arg("b")
                        .arg(1)
                        .ignore()
                        .cmd("EXEC")
                        .ignore()
                        .cmd("SET")
                        .arg(format!("big{w}:{n}"))
                        .arg(&big)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(format!("s{w}:{}", (n + 7) % 200))
                        .arg(900_000)
                        .ignore()
                        .query(&mut c);
                    if r.is_err() {
                        break;
                    }
                }
                n
            })
        })
        .collect()
}

#[test]
fn replicas_converge_with_evictions_scripts_and_transactions() {
    let primary = Node::start(&["--maxmemory-policy", "allkeys-lru"]);
    let mut p = primary.client();
    let r1 = replica_of(&primary, &[]);
    let r2 = replica_of(&primary, &[]);
    let used: i64 = info_field(&q::<String>(&mut p, &["INFO", "memory"]), "used_memory").unwrap().parse().unwrap();
    let _: () = q(&mut p, &["CONFIG", "SET", "maxmemory", &(used + 3_000_000).to_string()]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = mixed_load(&primary, stop.clone(), 3);
    // Run until the primary has evicted a good number of keys (bounded).
    let evicting = wait_for(Duration::from_secs(60), || {
        info_field(&q::<String>(&mut p, &["INFO", "stats"]), "evicted_keys").is_some_and(|v| v.parse::<u64>().unwrap_or(0) > 500)
    });
    stop.store(true, Ordering::Relaxed);
    let total: u64 = load.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(evicting, "the primary did not evict under the load ({total} rounds)");
    let mut c1 = r1.client();
    let mut c2 = r2.client();
    wait_caught_up(&mut p, &mut c1);
    wait_caught_up(&mut p, &mut c2);
    let want = dataset(&mut p, 1);
    assert!(want.len() > 100, "{}", want.len());
    assert_same(&dataset(&mut c1, 1), &want, "replica 1");
    assert_same(&dataset(&mut c2, 1), &want, "replica 2");
    // Replicas evicted nothing themselves: they applied the primary's DELs.
    assert_eq!(info_field(&q::<String>(&mut c1, &["INFO", "stats"]), "evicted_keys").as_deref(), Some("0"));
}

fn sync_full(primary: &mut redis::Connection) -> u64 {
    let text: String = q(primary, &["INFO", "stats"]);
    info_field(&text, "sync_full").unwrap().parse().unwrap()
}

/// A replica behind by far more than `repl-backlog-size` keeps its link: the primary holds
/// the stream it still needs (within its output-buffer limit), through a full sync under
/// writes and while the replica's process is stopped. One full sync, then convergence;
/// before, the link was dropped and the replica resynced again and again.
#[test]
fn a_replica_further_behind_than_the_backlog_keeps_its_link() {
    let primary = Node::start(&["--repl-backlog-size", "16kb"]);
    let mut p = primary.client();
    let value = "v".repeat(300);
    for batch in 0..30 {
        let mut cmd = redis::cmd("MSET");
        for i in 0..1000 {
            cmd.arg(format!("pre{batch}:{i}")).arg(&value);
        }
        let _: () = cmd.query(&mut p).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(&primary, stop.clone(), 2);
    let replica = replica_of(&primary, &[]);
    let mut r = replica.client();

    // Stop the replica while the stream grows to many times the backlog size.
    let pid = replica.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let from: u64 = repl_info(&mut p, "master_repl_offset").parse().unwrap();
    let grew = wait_for(Duration::from_secs(30), || repl_info(&mut p, "master_repl_offset").parse::<u64>().unwrap() > from + 2_000_000);
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    assert!(grew, "the write load did not grow the stream");
    stop.store(true, Ordering::Relaxed);
    for h in load {
        h.join().unwrap();
    }
    wait_caught_up(&mut p, &mut r);
    assert_eq!(sync_full(&mut p), 1, "the replica was dropped and fully resynced again");
    assert!(wait_for(Duration::from_secs(10), || (0..100).all(|i| q::<i64>(&mut p, &["EXISTS", &format!("ttl{i}")]) == 0)));
    wait_caught_up(&mut p, &mut r);
    assert_same(&dataset(&mut r, 16), &dataset(&mut p, 16), "replica");
    // Caught up: nothing is kept beyond the backlog size any more.
    let mem: String = q(&mut p, &["INFO", "memory"]);
    assert_eq!(info_field(&mem, "mem_not_counted_for_evict").as_deref(), Some("0"));
}
