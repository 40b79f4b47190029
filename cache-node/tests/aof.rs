//! The append-only file through the server: no acknowledged write lost when the process
//! is killed (appendfsync always and everysec), the journal replays to the same data
//! (here and in redis-server), a torn tail handled as configured, rewrites under writes,
//! and turning the AOF on at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use persistence::*;
use redis_server::{RedisServer, temp_dir};

/// Writers INCR their own counter and RPUSH each acknowledged value until the node is
/// killed; after a restart every acknowledged write must be there.
fn no_acknowledged_write_lost(fsync: &str) {
    let dir = temp_dir(&format!("aof-kill-{fsync}"));
    let node = start_in(&dir, &["--appendonly", "yes", "--appendfsync", fsync]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Vec<Arc<AtomicU64>> = (0..4).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, acked, mut c) = (stop.clone(), acked[w].clone(), node.client());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n: Result<u64, _> = redis::cmd("INCR").arg(format!("ctr{w}")).query(&mut c);
                    let Ok(n) = n else { break };
                    if redis::cmd("RPUSH").arg(format!("log{w}")).arg(n).query::<u64>(&mut c).is_err() {
                        break;
                    }
                    acked.store(n, Ordering::Release);
                }
            })
        })
        .collect();
    assert!(wait_for(Duration::from_secs(20), || acked.iter().all(|a| a.load(Ordering::Acquire) > 200)));
    // SIGKILL in the middle of the load.
    drop(node);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let node = start_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.client();
    for (w, a) in acked.iter().enumerate() {
        let a = a.load(Ordering::Acquire);
        let ctr: u64 = q(&mut c, &["GET", &format!("ctr{w}")]);
        let log: Vec<u64> = q(&mut c, &["LRANGE", &format!("log{w}"), "0", "-1"]);
        assert!(ctr >= a, "{fsync}: counter {w} is {ctr}, {a} was acknowledged");
        assert!(log.len() as u64 >= a, "{fsync}: list {w} has {} entries, {a} were acknowledged", log.len());
        assert!(log.iter().enumerate().all(|(i, v)| *v == i as u64 + 1), "{fsync}: list {w} is not 1..n");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_loses_no_acknowledged_write_with_fsync_always() {
    no_acknowledged_write_lost("always");
}

/// everysec fsyncs once a second, but a reply still waits until its write reached the
/// file: killing the process (not the machine) loses nothing acknowledged either.
#[test]
fn sigkill_loses_no_acknowledged_write_with_fsync_everysec() {
    no_acknowledged_write_lost("everysec");
}

fn run(c: &mut redis::Connection, args: &[&str]) {
    let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"));
}

/// Commands whose journal entry must differ from what the client sent (relative TTLs,
/// random picks, blocking forms, float increments, lazy expiry) and ordinary ones.
fn write_everything(node: &Node) {
    let mut c = node.client();
    let script: &[&[&str]] = &[
        &["SET", "s1", "v", "EX", "1000"],
        &["SET", "s2", "v", "PX", "500000", "NX"],
        &["SETEX", "s3", "1000", "v"],
        &["PSETEX", "s4", "900000", "v"],
        &["SET", "s5", "v"],
        &["EXPIRE", "s5", "700"],
        &["SET", "s6", "v"],
        &["PEXPIRE", "s6", "-1"],
        &["SET", "s7", "v"],
        &["GETEX", "s7", "EX", "800"],
        &["SET", "s8", "v", "EX", "100"],
        &["GETEX", "s8", "PERSIST"],
        &["SET", "f", "10.5"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["INCRBYFLOAT", "f", "5.0e3"],
        &["HSET", "h", "a", "1", "b", "x"],
        &["HINCRBYFLOAT", "h", "a", "2.5"],
        &["HINCRBY", "h", "c", "7"],
        &["SADD", "set", "a", "b", "c", "d", "e", "f", "g", "h", "1", "2", "3"],
        &["SPOP", "set"],
        &["SPOP", "set", "3"],
        &["SADD", "small", "x", "y"],
        &["SPOP", "small", "5"],
        &["RPUSH", "l1", "a", "b", "c", "d"],
        &["BLPOP", "l1", "0"],
        &["BRPOP", "nope", "l1", "0"],
        &["BLMOVE", "l1", "l2", "LEFT", "RIGHT", "0"],
        &["BRPOPLPUSH", "l1", "l2", "0"],
        &["RPUSH", "l3", "1", "2", "3"],
        &["BLMPOP", "0", "2", "nope", "l3", "LEFT", "COUNT", "2"],
        &["LMPOP", "1", "l3", "RIGHT"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZADD", "z", "INCR", "1.5", "a"],
        &["BZPOPMIN", "z", "0"],
        &["BZPOPMAX", "z", "0"],
        &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"],
        &["ZADD", "z2", "1", "x", "2", "y"],
        &["ZUNIONSTORE", "zu", "2", "z2", "z", "WEIGHTS", "2", "3"],
        &["GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
        &["GEOSEARCHSTORE", "geo2", "geo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "STOREDIST"],
        &["PFADD", "hll", "a", "b", "c"],
        &["PFADD", "hll2", "c", "d"],
        &["PFMERGE", "hll3", "hll", "hll2"],
        &["MSET", "m1", "1", "m2", "2"],
        &["RENAME", "m1", "m3"],
        &["COPY", "m2", "m2copy", "DB", "5"],
        &["MOVE", "m3", "7"],
        &["SETRANGE", "r", "5", "xyz"],
        &["APPEND", "r", "!"],
        &["SELECT", "9"],
        &["SET", "in9", "x", "EX", "5000"],
        &["LPUSH", "l9", "a"],
        &["SWAPDB", "9", "10"],
        &["SELECT", "11"],
        &["SET", "gone", "1"],
        &["FLUSHDB"],
        &["SELECT", "0"],
        &["SET", "lazy", "1", "PX", "30"],
    ];
    for args in script {
        run(&mut c, args);
    }
    // RESTORE with a relative TTL is journaled with the deadline.
    let payload: Vec<u8> = redis::cmd("DUMP").arg("h").query(&mut c).unwrap();
    let _: () = redis::cmd("RESTORE").arg("restored").arg(500_000).arg(&payload).query(&mut c).unwrap();
    let _: () = redis::cmd("RESTORE").arg("restored").arg(0).arg(&payload).arg("REPLACE").query(&mut c).unwrap();
    let _: () = redis::cmd("RESTORE").arg("restored2").arg(600_000).arg(&payload).query(&mut c).unwrap();
    // A blocked pop served later by another client's push.
    let mut waiter = node.client();
    let blocked = std::thread::spawn(move || {
        let got: Vec<String> = redis::cmd("BLPOP").arg("later").arg(10).query(&mut waiter).unwrap();
        got
    });
    assert!(wait_for(Duration::from_secs(10), || {
        let info: String = q(&mut c, &["INFO", "clients"]);
        info_field(&info, "blocked_clients").as_deref() == Some("1")
    }));
    run(&mut c, &["RPUSH", "later", "p", "q"]);
    assert_eq!(blocked.join().unwrap(), vec!["later", "p"]);
    // Lazy expiry: the read that finds "lazy" expired deletes it, and that is journaled.
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "lazy"]), None);
}

#[test]
fn the_journal_replays_to_the_same_data_here_and_in_redis() {
    let dir = temp_dir("aof-replay");
    let want = {
        let node = start_in(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
        write_everything(&node);
        let mut c = node.client();
        dataset(&mut c, 16)
    };
    assert!(want.len() > 20, "{}", want.len());
    let node = start_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.client();
    assert_same(&dataset(&mut c, 16), &want, "cache-node replaying its AOF");
    drop(node);
    let check = std::process::Command::new("redis-check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof must be installed");
    assert!(check.status.success(), "redis-check-aof: {}", String::from_utf8_lossy(&check.stdout));
    let redis = RedisServer::start(&dir, &["--appendonly", "yes"]);
    let mut rc = redis.client();
    assert_same(&dataset(&mut rc, 16), &want, "redis-server replaying our AOF");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_last_command_is_dropped_or_refused_as_configured() {
    let dir = temp_dir("aof-torn");
    {
        let node = start_in(&dir, &["--appendonly", "yes"]);
        let mut c = node.client();
        run(&mut c, &["SET", "a", "1"]);
        run(&mut c, &["SET", "b", "2"]);
    }
    let incr = incr_files(&dir).pop().unwrap();
    let good = std::fs::read(&incr).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$3\r\nab");
    std::fs::write(&incr, &torn).unwrap();
    let (code, out) = start_fails(&dir, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    assert_ne!(code, Some(0));
    assert!(out.contains("aof-load-truncated") && out.contains(".incr.aof"), "unclear refusal: {out}");
    assert_eq!(std::fs::read(&incr).unwrap(), torn, "refusing must not touch the file");
    let node = start_in(&dir, &["--appendonly", "yes", "--aof-load-truncated", "yes"]);
    let mut c = node.client();
    assert_eq!(q::<Vec<Option<String>>>(&mut c, &["MGET", "a", "b", "z"]), vec![Some("1".into()), Some("2".into()), None]);
    assert!(std::fs::read(&incr).unwrap().starts_with(&good));
    // Garbage in the middle is corruption, not a torn tail: refused whatever the setting.
    drop(node);
    let mut bad = std::fs::read(&incr).unwrap();
    bad.splice(0..0, b"*2\r\nxx\r\n".iter().copied());
    std::fs::write(&incr, &bad).unwrap();
    let (code, out) = start_fails(&dir, &["--appendonly", "yes", "--aof-load-truncated", "yes"]);
    assert_ne!(code, Some(0));
    assert!(out.contains(".incr.aof"), "unclear refusal: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rewrite_keeps_the_writes_made_while_it_runs() {
    let dir = temp_dir("aof-rewrite");
    let node = start_in(&dir, &["--appendonly", "yes", "--rdb-key-save-delay", "100"]);
    let mut c = node.client();
    for i in 0..2000 {
        run(&mut c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    let manifest = || std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    let before = manifest();
    assert_eq!(q::<String>(&mut c, &["BGREWRITEAOF"]), "Background append only file rewriting started");
    let mut n = 0;
    while {
        let info: String = q(&mut c, &["INFO", "persistence"]);
        info_field(&info, "aof_rewrite_in_progress").as_deref() == Some("1")
    } {
        n += 1;
        run(&mut c, &["INCR", "during"]);
        run(&mut c, &["DEL", &format!("k{n}")]);
        assert!(n < 1_000_000, "the rewrite does not end");
    }
    assert!(n > 0, "the rewrite ended before any write could run during it");
    wait_jobs_done(&mut c);
    let info: String = q(&mut c, &["INFO", "persistence"]);
    assert_eq!(info_field(&info, "aof_rewrites").as_deref(), Some("1"));
    assert_ne!(manifest(), before, "a new base was installed");
    run(&mut c, &["SET", "after", "1"]);
    let want = dataset(&mut c, 16);
    drop(node);
    let node = start_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.client();
    assert_same(&dataset(&mut c, 16), &want, "after rewrite and restart");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn appendonly_turned_on_at_run_time_keeps_what_was_there() {
    let dir = temp_dir("aof-runtime");
    let node = start_in(&dir, &[]);
    let mut c = node.client();
    for i in 0..300 {
        run(&mut c, &["RPUSH", "l", &i.to_string()]);
        run(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    run(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    run(&mut c, &["SET", "after", "1"]);
    wait_jobs_done(&mut c);
    run(&mut c, &["SET", "after2", "1"]);
    let info: String = q(&mut c, &["INFO", "persistence"]);
    assert_eq!(info_field(&info, "aof_enabled").as_deref(), Some("1"));
    run(&mut c, &["CONFIG", "SET", "appendfsync", "always"]);
    run(&mut c, &["SET", "after3", "1"]);
    let want = dataset(&mut c, 16);
    drop(node);
    let node = start_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.client();
    assert_same(&dataset(&mut c, 16), &want, "after restart from the AOF");
    run(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    let info: String = q(&mut c, &["INFO", "persistence"]);
    assert_eq!(info_field(&info, "aof_enabled").as_deref(), Some("0"));
    let _ = std::fs::remove_dir_all(&dir);
}
