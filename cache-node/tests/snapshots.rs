//! RDB snapshots through the server: SAVE/BGSAVE/LASTSAVE, load at start-up, the save
//! schedule, the point-in-time cut under concurrent writers, refusal of a corrupt file,
//! MISCONF after a failed save, and round trips with a real redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cache_node::persist::rdb::{RdbReader, Record};
use cache_node::store::Value;
use common::*;
use persistence::*;
use redis_server::{Gen, RedisServer, temp_dir};

fn fill(c: &mut redis::Connection, seed: u64, n: usize) {
    let mut g = Gen(fastrand::Rng::with_seed(seed));
    for i in 0..n {
        let db = [0, 3, 15][i % 3];
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let key = format!("k{i}").into_bytes();
        let kind = g.0.u8(..);
        let model = g.model(kind, i % 17 == 0);
        model.store(c, &key);
        if i % 4 == 0 {
            let _: i64 = redis::cmd("PEXPIRE").arg(&key).arg(g.0.u64(60_000..600_000)).query(c).unwrap();
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

#[test]
fn save_and_restart_keep_every_type_and_ttl_and_redis_reads_the_file() {
    let dir = temp_dir("snap-roundtrip");
    let want = {
        let node = start_in(&dir, &[]);
        let mut c = node.client();
        fill(&mut c, 7, 600);
        let before: i64 = q(&mut c, &["LASTSAVE"]);
        assert_eq!(q::<String>(&mut c, &["SAVE"]), "OK");
        assert!(q::<i64>(&mut c, &["LASTSAVE"]) >= before);
        let info: String = q(&mut c, &["INFO", "persistence"]);
        assert_eq!(info_field(&info, "rdb_changes_since_last_save").as_deref(), Some("0"));
        assert_eq!(info_field(&info, "rdb_saves").as_deref(), Some("1"));
        assert_eq!(info_field(&info, "rdb_last_bgsave_status").as_deref(), Some("ok"));
        dataset(&mut c, 16)
        // Dropping the node kills it with SIGKILL: only the file remains.
    };
    assert_eq!(want.len(), 600);
    let node = start_in(&dir, &[]);
    let mut c = node.client();
    assert_same(&dataset(&mut c, 16), &want, "after restart");
    let info: String = q(&mut c, &["INFO", "persistence"]);
    assert_eq!(info_field(&info, "rdb_last_load_keys_loaded").as_deref(), Some("600"));
    drop(node);

    let check = std::process::Command::new("redis-check-rdb").arg(dir.join("dump.rdb")).output().expect("redis-check-rdb must be installed");
    assert!(check.status.success(), "redis-check-rdb: {}", String::from_utf8_lossy(&check.stdout));
    let redis = RedisServer::start(&dir, &["--sanitize-dump-payload", "yes"]);
    let mut rc = redis.client();
    assert_same(&dataset(&mut rc, 16), &want, "redis-server loading our file");
    // And back: redis-server's own dump loads here.
    let _: () = redis::cmd("SET").arg("from-redis").arg("yes").query(&mut rc).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    let mut theirs = dataset(&mut rc, 16);
    drop(redis);
    let node = start_in(&dir, &[]);
    let mut c = node.client();
    let got = dataset(&mut c, 16);
    theirs.retain(|_, (_, at)| *at < 0 || *at > unix_ms());
    assert_same(&got, &theirs, "cache-node loading redis-server's file");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads `g0..g49` and the filler count out of a dump with the library reader.
fn read_groups(path: &std::path::Path) -> (Vec<Vec<u8>>, usize) {
    let mut r = RdbReader::new(std::io::BufReader::new(std::fs::File::open(path).unwrap())).unwrap();
    let mut groups = vec![Vec::new(); 50];
    let mut fillers = 0;
    while let Some(rec) = r.next().unwrap() {
        if let Record::Entry { key, value: Value::Str(v), .. } = rec {
            if let Some(i) = std::str::from_utf8(&key).ok().and_then(|k| k.strip_prefix('g')).and_then(|i| i.parse::<usize>().ok()) {
                groups[i] = v;
            } else {
                fillers += 1;
            }
        }
    }
    (groups, fillers)
}

#[test]
fn bgsave_holds_one_consistent_cut_while_writers_keep_going() {
    let dir = temp_dir("snap-cut");
    // 100 µs per key: the save of 3000 keys takes about 0.3 s, long enough for the
    // writer to change every group key many times while it runs.
    let node = start_in(&dir, &["--rdb-key-save-delay", "100"]);
    let mut c = node.client();
    for i in 0..3000 {
        let _: () = redis::cmd("SET").arg(format!("filler{i}")).arg(i).query(&mut c).unwrap();
    }
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, mut w) = (acked.clone(), stop.clone(), node.client());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                // One MSET over 50 keys in many partitions: atomic, so any cut sees one n.
                let mut cmd = redis::cmd("MSET");
                for g in 0..50 {
                    cmd.arg(format!("g{g}")).arg(n);
                }
                let _: () = cmd.query(&mut w).unwrap();
                acked.store(n, Ordering::Release);
            }
        })
    };
    assert!(wait_for(Duration::from_secs(10), || acked.load(Ordering::Acquire) > 10));
    let low = acked.load(Ordering::Acquire);
    assert_eq!(q::<String>(&mut c, &["BGSAVE"]), "Background saving started");
    let high = acked.load(Ordering::Acquire) + 1;
    // The server keeps serving while the save runs.
    let info: String = q(&mut c, &["INFO", "persistence"]);
    assert_eq!(info_field(&info, "rdb_bgsave_in_progress").as_deref(), Some("1"), "the save should still be running");
    let err = redis::cmd("BGSAVE").query::<String>(&mut c).unwrap_err();
    assert!(err.to_string().contains("Background save already in progress"), "{err}");
    let during = acked.load(Ordering::Acquire);
    wait_jobs_done(&mut c);
    let after = acked.load(Ordering::Acquire);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(after > during, "writers were served during the save ({during} -> {after})");

    let (groups, fillers) = read_groups(&dir.join("dump.rdb"));
    assert_eq!(fillers, 3000);
    let first = groups[0].clone();
    assert!(groups.iter().all(|g| *g == first), "a torn snapshot: {:?}", groups.iter().map(|g| String::from_utf8_lossy(g).into_owned()).collect::<Vec<_>>());
    let v: u64 = String::from_utf8_lossy(&first).parse().unwrap();
    assert!(low <= v && v <= high, "the cut ({v}) is not between the writes acknowledged before BGSAVE ({low}) and those after its reply ({high})");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_schedule_saves_after_enough_changes() {
    let dir = temp_dir("snap-schedule");
    let node = start_in(&dir, &["--save", "1 3"]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    // One change is not enough for "1 3".
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!dir.join("dump.rdb").exists(), "saved before 3 changes");
    for k in ["b", "c"] {
        let _: () = redis::cmd("SET").arg(k).arg("1").query(&mut c).unwrap();
    }
    assert!(wait_for(Duration::from_secs(10), || dir.join("dump.rdb").exists()), "no save on schedule");
    wait_jobs_done(&mut c);
    let info: String = q(&mut c, &["INFO", "persistence"]);
    assert_eq!(info_field(&info, "rdb_changes_since_last_save").as_deref(), Some("0"));
    assert_eq!(q::<Vec<String>>(&mut c, &["CONFIG", "GET", "save"]), vec!["save", "1 3"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_snapshot_is_refused_and_left_untouched() {
    let dir = temp_dir("snap-corrupt");
    {
        let node = start_in(&dir, &[]);
        let mut c = node.client();
        fill(&mut c, 3, 200);
        let _: String = q(&mut c, &["SAVE"]);
    }
    let path = dir.join("dump.rdb");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&path, &bytes).unwrap();
    let (code, out) = start_fails(&dir, &[]);
    assert_ne!(code, Some(0));
    assert!(out.contains("dump.rdb") && out.contains("cannot load the data set"), "unclear refusal: {out}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file was changed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_save_refuses_writes_until_a_save_succeeds() {
    let dir = temp_dir("snap-misconf");
    let node = start_in(&dir, &["--save", "3600 1"]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(q::<String>(&mut c, &["BGSAVE"]), "Background saving started");
    wait_jobs_done(&mut c);
    let info: String = q(&mut c, &["INFO", "persistence"]);
    assert_eq!(info_field(&info, "rdb_last_bgsave_status").as_deref(), Some("err"));
    let err = redis::cmd("SET").arg("b").arg("1").query::<()>(&mut c).unwrap_err();
    assert_eq!(err.code(), Some("MISCONF"), "{err}");
    assert_eq!(q::<String>(&mut c, &["GET", "a"]), "1", "reads keep working");
    // As Redis: a bare "-ERR"; the log says why.
    exact(&mut node.raw(), &["SAVE"], "-ERR\r\n");
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(q::<String>(&mut c, &["SAVE"]), "OK");
    let _: () = redis::cmd("SET").arg("b").arg("1").query(&mut c).unwrap();
    // Without a save schedule a failed save does not stop writes (as Redis).
    let _: () = redis::cmd("CONFIG").arg("SET").arg("save").arg("").query(&mut c).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(redis::cmd("SAVE").query::<()>(&mut c).is_err());
    let _: () = redis::cmd("SET").arg("c").arg("1").query(&mut c).unwrap();
}

#[test]
fn persistence_commands_reply_as_redis() {
    let dir = temp_dir("snap-replies");
    let node = start_in(&dir, &[]);
    let mut r = node.raw();
    exact(&mut r, &["BGSAVE", "NOW"], SYNTAX);
    err(&mut r, &["SAVE", "x"], "ERR wrong number of arguments for 'save' command");
    exact(&mut r, &["BGSAVE", "SCHEDULE"], "+Background saving started\r\n");
    let mut c = node.client();
    wait_jobs_done(&mut c);
    err(&mut r, &["BGREWRITEAOF"], "ERR append only file is not enabled");
    assert!(dir.join("dump.rdb").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_save_and_nosave() {
    let dir = temp_dir("snap-shutdown");
    let mut node = start_in(&dir, &[]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    assert!(node.wait_exit(Duration::from_secs(10)).is_some());
    assert!(!dir.join("dump.rdb").exists(), "NOSAVE saved");
    let mut node = start_in(&dir, &[]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut c);
    assert!(node.wait_exit(Duration::from_secs(10)).is_some());
    let node = start_in(&dir, &[]);
    assert_eq!(q::<String>(&mut node.client(), &["GET", "a"]), "1");
    let _ = std::fs::remove_dir_all(&dir);
}
