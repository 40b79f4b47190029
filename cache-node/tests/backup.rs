//! `cache-node snapshot save|restore|list|delete`: backups pulled from running nodes
//! (ours and redis-server, in both snapshot framings) without touching their disks,
//! restored into a data directory that a new node then serves, and every failure path
//! leaving nothing listed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use persistence::{assert_same, dataset, start_in};
use redis_server::{Gen, RedisServer, temp_dir};

fn snapshot(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.arg("snapshot").args(args).env_remove("REDISCLI_AUTH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn fill(c: &mut redis::Connection, seed: u64, n: usize) {
    let mut g = Gen(fastrand::Rng::with_seed(seed));
    for i in 0..n {
        let _: () = redis::cmd("SELECT").arg([0, 2][i % 2]).query(c).unwrap();
        let key = format!("k{i}").into_bytes();
        let kind = g.0.u8(..);
        g.model(kind, i % 13 == 0).store(c, &key);
        if i % 4 == 0 {
            let _: i64 = redis::cmd("PEXPIRE").arg(&key).arg(g.0.u64(600_000..6_000_000)).query(c).unwrap();
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()).unwrap_or_default();
    v.sort();
    v
}

fn manifest(dir: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap()
}

#[test]
fn a_backup_of_a_running_node_restores_into_a_node_with_the_same_data() {
    let src_dir = temp_dir("backup-src");
    let node = start_in(&src_dir, &[]);
    let mut c = node.client();
    fill(&mut c, 7, 300);
    let want = dataset(&mut c, 3);
    let dest = temp_dir("backup-dest");
    let out = snapshot(&["save", "--from", &format!("127.0.0.1:{}", node.port), "--to", dest.to_str().unwrap(), "--cluster", "sessions", "--shard", "0"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = printed["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("sessions-0-"), "{name}");
    assert_eq!(files(&dest), [format!("{name}.json"), format!("{name}.rdb")]);
    let m = manifest(&dest, &name);
    assert_eq!(m, printed);
    assert_eq!(m["keys"].as_u64().unwrap(), want.len() as u64);
    assert_eq!(m["keysWithExpiry"].as_u64().unwrap(), want.values().filter(|(_, at)| *at > 0).count() as u64);
    assert_eq!(m["bytes"].as_u64().unwrap(), std::fs::metadata(dest.join(format!("{name}.rdb"))).unwrap().len());
    assert_eq!(m["engine"], "cache-node");
    assert_eq!(m["sourceRole"], "primary");
    assert_eq!(m["slots"], serde_json::json!([[0, 16383]]));
    assert_eq!(m["crc64"].as_str().unwrap().len(), 16);
    // The source's own disk was not touched.
    assert!(files(&src_dir).iter().all(|f| !f.ends_with(".rdb")), "{:?}", files(&src_dir));
    let verify = snapshot(&["verify", dest.join(format!("{name}.rdb")).to_str().unwrap()], &[]);
    assert!(verify.status.success(), "{}", text(&verify));

    let listed = snapshot(&["list", dest.to_str().unwrap()], &[]);
    assert!(text(&listed).starts_with(&format!("{name}\t")), "{}", text(&listed));

    let data = temp_dir("backup-restore");
    let out = snapshot(&["restore", "--from", dest.join(&name).to_str().unwrap(), "--to", data.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(files(&data), ["dump.rdb"]);
    let restored = start_in(&data, &[]);
    assert_same(&dataset(&mut restored.client(), 3), &want, "restored node");

    let out = snapshot(&["delete", dest.to_str().unwrap(), &name], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(files(&dest).is_empty(), "{:?}", files(&dest));
}

#[test]
fn backups_of_redis_server_work_in_both_snapshot_framings() {
    for diskless in ["yes", "no"] {
        let dir = temp_dir("backup-redis");
        let server = RedisServer::start(&dir, &["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"]);
        let mut c = server.client();
        fill(&mut c, 11, 120);
        let want = dataset(&mut c, 3);
        let dest = temp_dir("backup-redis-dest");
        let out = snapshot(&["save", "--from", &format!("127.0.0.1:{}", server.port), "--to", dest.to_str().unwrap(), "--name", "from-redis"], &[]);
        assert!(out.status.success(), "diskless {diskless}: {}", text(&out));
        let m = manifest(&dest, "from-redis");
        assert_eq!(m["engine"], "redis");
        assert_eq!(m["engineVersion"].as_str().unwrap().split('.').next(), Some("7"));
        assert_eq!(m["keys"].as_u64().unwrap(), want.len() as u64);
        let data = temp_dir("backup-redis-restore");
        let out = snapshot(&["restore", "--from", dest.join("from-redis.json").to_str().unwrap(), "--to", data.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", text(&out));
        let restored = start_in(&data, &[]);
        assert_same(&dataset(&mut restored.client(), 3), &want, &format!("restored from redis (diskless {diskless})"));
    }
}

#[test]
fn a_source_with_a_password_needs_it() {
    let node = Node::start(&["--requirepass", "s3cret"]);
    let dest = temp_dir("backup-auth");
    let from = format!("127.0.0.1:{}", node.port);
    let out = snapshot(&["save", "--from", &from, "--to", dest.to_str().unwrap(), "--name", "a"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("NOAUTH"), "{}", text(&out));
    let out = snapshot(&["save", "--from", &from, "--to", dest.to_str().unwrap(), "--name", "a"], &[("REDISCLI_AUTH", "wrong")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("WRONGPASS"), "{}", text(&out));
    assert!(files(&dest).is_empty(), "{:?}", files(&dest));
    let pw = dest.join("..").join(format!("pw-{}", node.port));
    std::fs::write(&pw, "s3cret\n").unwrap();
    let out = snapshot(&["save", "--from", &from, "--to", dest.to_str().unwrap(), "--name", "a", "--password-file", pw.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = snapshot(&["save", "--from", &from, "--to", dest.to_str().unwrap(), "--name", "b"], &[("REDISCLI_AUTH", "s3cret")]);
    assert!(out.status.success(), "{}", text(&out));
    // A name is never reused.
    let out = snapshot(&["save", "--from", &from, "--to", dest.to_str().unwrap(), "--name", "b"], &[("REDISCLI_AUTH", "s3cret")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    let _ = std::fs::remove_file(pw);
}

#[test]
fn a_source_killed_mid_transfer_leaves_nothing_listed() {
    let dir = temp_dir("backup-kill");
    let mut node = start_in(&dir, &["--rdb-key-save-delay", "2000"]);
    let mut c = node.client();
    fill(&mut c, 3, 400);
    let dest = temp_dir("backup-kill-dest");
    let child = Command::new(bin())
        .args(["snapshot", "save", "--from", &format!("127.0.0.1:{}", node.port), "--to", dest.to_str().unwrap(), "--name", "cut", "--timeout", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the source once the transfer has started (the partial file exists).
    assert!(wait_for(Duration::from_secs(20), || dest.join(".cut.rdb.part").exists()), "transfer never started");
    unsafe_kill(node.pid());
    node.wait_exit(Duration::from_secs(10));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(files(&dest).is_empty(), "{:?}", files(&dest));
    let listed = snapshot(&["list", dest.to_str().unwrap()], &[]);
    assert!(listed.status.success() && listed.stdout.is_empty(), "{}", text(&listed));
}

fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[test]
fn a_tampered_snapshot_is_not_restored() {
    let node = Node::start(&[]);
    let mut c = node.client();
    fill(&mut c, 5, 50);
    let dest = temp_dir("backup-tamper");
    let out = snapshot(&["save", "--from", &format!("127.0.0.1:{}", node.port), "--to", dest.to_str().unwrap(), "--name", "t"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let rdb = dest.join("t.rdb");
    let original = std::fs::read(&rdb).unwrap();
    let mut bytes = original.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&rdb, &bytes).unwrap();
    let data = temp_dir("backup-tamper-restore");
    let out = snapshot(&["restore", "--from", dest.join("t").to_str().unwrap(), "--to", data.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(files(&data).is_empty(), "{:?}", files(&data));
    // A manifest that disagrees with its file is refused too.
    let m = std::fs::read_to_string(dest.join("t.json")).unwrap();
    std::fs::write(&rdb, &original).unwrap();
    assert!(m.contains("\"keys\": 50,"), "{m}");
    std::fs::write(dest.join("t.json"), m.replace("\"keys\": 50,", "\"keys\": 51,")).unwrap();
    let out = snapshot(&["restore", "--from", dest.join("t.json").to_str().unwrap(), "--to", data.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("keys: manifest says 51, the file has 50"), "{}", text(&out));
    assert!(files(&data).is_empty());
    let out = snapshot(&["restore", "--from", dest.join("missing").to_str().unwrap(), "--to", data.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("missing.json"), "{}", text(&out));
}

/// A replica of `primary`, waited for until its link is up.
fn replica_of(primary: &Node) -> Node {
    let port = primary.port.to_string();
    let replica = Node::start(&["--replicaof", "127.0.0.1", &port]);
    let mut c = replica.client();
    let up = wait_for(Duration::from_secs(30), || {
        let text: String = q(&mut c, &["INFO", "replication"]);
        info_field(&text, "master_link_status").as_deref() == Some("up")
    });
    assert!(up, "the replica never synced");
    replica
}

#[test]
fn a_replica_of_the_shard_is_copied_unless_the_primary_is_asked_for() {
    let primary = Node::start(&[]);
    let mut c = primary.client();
    fill(&mut c, 9, 60);
    let replica = replica_of(&primary);
    let dead = free_port();
    let from = format!("127.0.0.1:{dead},127.0.0.1:{},127.0.0.1:{}", primary.port, replica.port);
    let dest = temp_dir("backup-choice");
    let log = dest.join("termination-log");
    let out = snapshot(&["save", "--from", &from, "--to", dest.to_str().unwrap(), "--name", "r", "--termination-log", log.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let m = manifest(&dest, "r");
    assert_eq!(m["sourceRole"], "replica");
    assert_eq!(m["source"], format!("127.0.0.1:{}", replica.port));
    assert_eq!(m["keys"].as_u64(), Some(60));
    // The termination message is the manifest on one line.
    let msg = std::fs::read_to_string(&log).unwrap();
    assert!(!msg.contains('\n'));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&msg).unwrap(), m);
    let out = snapshot(&["save", "--from", &from, "--to", dest.to_str().unwrap(), "--name", "p", "--prefer-role", "primary"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(manifest(&dest, "p")["source"], format!("127.0.0.1:{}", primary.port));
    // Nobody answering is an error, reported in the termination message too.
    let out = snapshot(
        &["save", "--from", &format!("127.0.0.1:{dead}"), "--to", dest.to_str().unwrap(), "--name", "x", "--termination-log", log.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(std::fs::read_to_string(&log).unwrap().starts_with("error: no node of"), "{}", std::fs::read_to_string(&log).unwrap());
}

#[test]
fn restore_if_empty_keeps_a_data_directory_that_has_data() {
    let node = Node::start(&[]);
    let mut c = node.client();
    fill(&mut c, 4, 10);
    let dest = temp_dir("backup-ifempty");
    let out = snapshot(&["save", "--from", &format!("127.0.0.1:{}", node.port), "--to", dest.to_str().unwrap(), "--name", "s"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let data = temp_dir("backup-ifempty-data");
    let from = dest.join("s");
    let args = ["restore", "--from", from.to_str().unwrap(), "--to", data.to_str().unwrap(), "--if-empty"];
    let out = snapshot(&args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("restored s"), "{}", text(&out));
    std::fs::write(data.join("dump.rdb"), b"newer data").unwrap();
    let out = snapshot(&args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already holds data"), "{}", text(&out));
    assert_eq!(std::fs::read(data.join("dump.rdb")).unwrap(), b"newer data");
    // Without --if-empty the snapshot replaces it.
    let out = snapshot(&args[..5], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(std::fs::read(data.join("dump.rdb")).unwrap(), b"newer data");
}

#[test]
fn a_backup_under_write_load_is_one_consistent_moment_that_redis_check_rdb_accepts() {
    let node = Node::start(&[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Each MSET adds key k<i> and sets the counter to i in one atomic step: a snapshot of
    // one moment has exactly k1..k<counter>.
    let writer = {
        let (stop, mut c) = (stop.clone(), node.client());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let _: () = redis::cmd("MSET").arg(format!("k{i}")).arg(i).arg("counter").arg(i).query(&mut c).unwrap();
            }
            i
        })
    };
    let mut c = node.client();
    assert!(wait_for(Duration::from_secs(20), || q::<Option<u64>>(&mut c, &["GET", "counter"]).unwrap_or(0) > 2000), "the writer did not start");
    let dest = temp_dir("backup-load");
    let out = snapshot(&["save", "--from", &format!("127.0.0.1:{}", node.port), "--to", dest.to_str().unwrap(), "--name", "live"], &[]);
    let written = {
        let n: u64 = q::<Option<u64>>(&mut c, &["GET", "counter"]).unwrap_or(0);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap().max(n)
    };
    assert!(out.status.success(), "{}", text(&out));
    let check = Command::new("redis-check-rdb").arg(dest.join("live.rdb")).output().expect("redis-check-rdb (redis-tools)");
    assert!(check.status.success(), "redis-check-rdb refused the snapshot: {}", text(&check));
    let data = temp_dir("backup-load-restore");
    let out = snapshot(&["restore", "--from", dest.join("live").to_str().unwrap(), "--to", data.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let restored = start_in(&data, &[]);
    let mut r = restored.client();
    let counter: u64 = q::<Option<u64>>(&mut r, &["GET", "counter"]).unwrap();
    assert!(counter > 2000 && counter <= written, "the snapshot should fall inside the load: {counter} of {written}");
    let keys: u64 = q(&mut r, &["DBSIZE"]);
    assert_eq!(keys, counter + 1, "k1..k{counter} and the counter, nothing more or less");
    let last: Option<u64> = q(&mut r, &["GET", &format!("k{counter}")]);
    assert_eq!(last, Some(counter));
    let next: i64 = q(&mut r, &["EXISTS", &format!("k{}", counter + 1)]);
    assert_eq!(next, 0);
}
