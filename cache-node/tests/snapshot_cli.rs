//! `cache-node snapshot inspect|verify` as a user runs it: the real binary on a file
//! written by redis-server, on corrupted and truncated copies, and on usage errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use std::path::Path;
use std::process::{Command, Output};

use redis_server::{RedisServer, temp_dir};

fn snapshot(args: &[&str]) -> Output {
    Command::new(common::bin()).arg("snapshot").args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A dump.rdb from redis-server: strings, a list, a hash, a set and a zset in db 0 (two
/// keys with a TTL), one string in db 2.
fn redis_file(dir: &Path) -> std::path::PathBuf {
    let server = RedisServer::start(dir, &[]);
    let mut c = server.client();
    let script: &[&[&str]] = &[
        &["SET", "s1", "v"],
        &["SET", "s2", "12345"],
        &["PEXPIRE", "s2", "100000000"],
        &["RPUSH", "l", "a", "b", "c"],
        &["HSET", "h", "f", "v"],
        &["SADD", "set", "1", "2"],
        &["ZADD", "z", "1", "m"],
        &["EXPIRE", "z", "100000"],
        &["SELECT", "2"],
        &["SET", "other", "x"],
        &["SAVE"],
    ];
    for cmd in script {
        let _: redis::Value = redis::cmd(cmd[0]).arg(&cmd[1..]).query(&mut c).unwrap();
    }
    dir.join("dump.rdb")
}

#[test]
fn inspect_and_verify_a_redis_file() {
    let dir = temp_dir("snapshot-cli");
    let file = redis_file(&dir);
    let f = file.to_str().unwrap();

    let out = snapshot(&["inspect", f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    for want in [
        "RDB version: 10",
        "aux redis-ver: 7.0.15",
        "aux ctime: ",
        " UTC)",
        "db 0: 6 keys, 2 with expiry (hash 1, list 1, set 1, string 2, zset 1)",
        "db 2: 1 keys, 0 with expiry (string 1)",
        "total:       7 keys, 2 with expiry",
        "checksum:    verified (0x",
    ] {
        assert!(o.contains(want), "missing {want:?} in:\n{o}");
    }
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(o.contains(&format!("bytes:       {size}")), "{o}");

    let out = snapshot(&["verify", f]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert_eq!(o.lines().count(), 1, "{o}");
    assert!(o.starts_with(&format!("OK {f}: RDB version 10, 7 keys in 2 databases, {size} bytes, checksum verified")), "{o}");

    // A flipped byte in the middle: the checksum catches it, with the offset.
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    let mid = good.len() / 2;
    bad[mid] ^= 0x01;
    let bad_path = dir.join("flipped.rdb");
    std::fs::write(&bad_path, &bad).unwrap();
    let out = snapshot(&["verify", bad_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.starts_with("FAILED ") && e.contains("at byte"), "{e}");
    assert!(out.stdout.is_empty());
    let out = snapshot(&["inspect", bad_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("at byte"));

    // Truncated: the offset where data ran out.
    let cut = dir.join("cut.rdb");
    std::fs::write(&cut, &good[..good.len() - 20]).unwrap();
    let out = snapshot(&["verify", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unexpected end of data at byte"), "{}", text(&out.stderr));

    // Not an RDB file, and a newer version.
    let junk = dir.join("junk.rdb");
    std::fs::write(&junk, b"hello world").unwrap();
    let out = snapshot(&["verify", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not an RDB file"));
    let mut newer = good.clone();
    newer[5..9].copy_from_slice(b"0012");
    std::fs::write(&junk, &newer).unwrap();
    let out = snapshot(&["verify", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unsupported RDB version 12"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_and_help() {
    for args in [&[][..], &["verify"], &["inspect"], &["bogus", "x"], &["verify", "a", "b"]] {
        let out = snapshot(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(!out.stderr.is_empty());
    }
    for args in [&["--help"][..], &["verify", "--help"], &["inspect", "--help"]] {
        let out = snapshot(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stdout).contains("Usage: cache-node snapshot"), "{}", text(&out.stdout));
    }
    let out = snapshot(&["verify", "/nonexistent/dump.rdb"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("No such file"));
}

#[test]
fn unchecksummed_file() {
    let dir = temp_dir("snapshot-cli-nock");
    let server = RedisServer::start(&dir, &["--rdbchecksum", "no"]);
    let mut c = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let out = snapshot(&["verify", dir.join("dump.rdb").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("checksum not computed"), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}
