//! Helpers for the persistence tests: whole-dataset comparison, nodes in a directory,
//! and starting the binary when it is expected to refuse.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::common::{Node, info_field, q};
use super::redis_server::Model;

/// Every key of every database: (db, key) -> (value, absolute expiry in ms or -1).
pub type Dataset = BTreeMap<(u32, Vec<u8>), (Model, i64)>;

pub fn dataset(c: &mut redis::Connection, databases: u32) -> Dataset {
    let mut out = Dataset::new();
    for db in 0..databases {
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(500).query(c).unwrap();
            for k in keys {
                let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap();
                if let Some(m) = Model::load(c, &k) {
                    out.insert((db, k), (m, at));
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    out
}

/// Asserts two datasets are equal, naming the first difference.
pub fn assert_same(got: &Dataset, want: &Dataset, what: &str) {
    for (k, v) in want {
        assert_eq!(got.get(k), Some(v), "{what}: key {:?} in db {}", String::from_utf8_lossy(&k.1), k.0);
    }
    for k in got.keys() {
        assert!(want.contains_key(k), "{what}: unexpected key {:?} in db {}", String::from_utf8_lossy(&k.1), k.0);
    }
}

pub fn start_in(dir: &Path, extra: &[&str]) -> Node {
    let mut args = vec!["--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    Node::start(&args)
}

/// Runs the binary expecting it to refuse to start: returns its exit code and output.
pub fn start_fails(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(super::common::bin())
        .args(["--bind", "127.0.0.1", "--port", "0", "--admin-port", "0", "--dir", dir.to_str().unwrap()])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cache-node kept running although it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Waits (bounded) until no save or rewrite is running.
pub fn wait_jobs_done(c: &mut redis::Connection) {
    let ok = super::common::wait_for(Duration::from_secs(60), || {
        let info: String = q(c, &["INFO", "persistence"]);
        info_field(&info, "rdb_bgsave_in_progress").as_deref() == Some("0")
            && info_field(&info, "aof_rewrite_in_progress").as_deref() == Some("0")
            && info_field(&info, "aof_rewrite_scheduled").as_deref() == Some("0")
    });
    assert!(ok, "background job did not finish");
}

pub fn incr_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    v.sort();
    v
}
