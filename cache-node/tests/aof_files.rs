//! The append-only file set against Redis 7.0's own tools: what `AofLog` writes passes
//! `redis-check-aof` and loads into `redis-server`, and what `redis-server` writes is read
//! back by `load_plan` and `CommandReader`. Both binaries must be installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cache_node::persist::aof::{AofConfig, AofError, AofLog, BaseKind, CommandReader, Fsync, Manifest, encode_command, load_plan};
use common::{free_port, wait_for};

/// A directory under the system temp dir, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("cachefleet-aof-files-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A redis-server on a loopback port, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path, extra: &[&str]) -> Redis {
        let port = free_port();
        let mut args: Vec<String> =
            ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"].iter().map(|s| s.to_string()).collect();
        args.extend(["--dir".into(), dir.display().to_string(), "--logfile".into(), dir.join("redis.log").display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for these tests");
        let mut redis = Redis { child, port };
        let ready = wait_for(Duration::from_secs(20), || {
            redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        });
        if !ready {
            let log = fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            let _ = redis.child.kill();
            panic!("redis-server did not come up:\n{log}");
        }
        redis
    }

    fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap().get_connection().unwrap()
    }

    /// SHUTDOWN flushes and fsyncs the AOF; wait for the process to be gone.
    fn shutdown(mut self) {
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut self.client());
        assert!(wait_for(Duration::from_secs(20), || matches!(self.child.try_wait(), Ok(Some(_)))));
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cfg(dir: &Path) -> AofConfig {
    AofConfig { dir: dir.to_path_buf(), dirname: "appendonlydir".into(), filename: "appendonly.aof".into(), fsync: Fsync::Always }
}

fn cmd(args: &[&str]) -> Vec<u8> {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = Vec::new();
    encode_command(&argv, &mut out);
    out
}

fn commands(path: &Path) -> Vec<String> {
    let mut r = CommandReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(c) = r.next().unwrap() {
        out.push(c.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" "));
    }
    out
}

fn check_aof(manifest: &Path) -> (bool, String) {
    let out = Command::new("redis-check-aof").arg(manifest).output().expect("redis-check-aof must be installed for these tests");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// An RDB with no keys and the checksum disabled (all zeros), as Redis accepts it.
const EMPTY_RDB: &[u8] = b"REDIS0010\xff\0\0\0\0\0\0\0\0";

#[test]
fn our_sets_pass_redis_check_aof_and_load_into_redis_server() {
    for rdb_base in [false, true] {
        let tmp = TempDir::new("ours");
        let c = cfg(&tmp.0);
        let log = AofLog::open(&c, |w| if rdb_base { w.write_all(EMPTY_RDB) } else { Ok(()) }).unwrap();
        log.append(&cmd(&["SELECT", "0"]));
        log.append(&cmd(&["SET", "a", "1"]));
        log.append(&cmd(&["RPUSH", "l", "x", "y", "z"]));
        // A rewrite cut: the rest goes to a second incr file.
        let rw = log.start_rewrite().unwrap();
        log.append(&cmd(&["SELECT", "3"]));
        log.append(&cmd(&["SET", "b", "with space\r\n"]));
        if rdb_base {
            // Finished: the base now holds db 0 as commands, plus db 3's incr file.
            fs::write(rw.base_path(), [cmd(&["SELECT", "0"]), cmd(&["SET", "a", "1"]), cmd(&["RPUSH", "l", "x", "y", "z"])].concat()).unwrap();
            log.finish_rewrite(rw).unwrap();
        } else {
            log.abort_rewrite(rw);
        }
        log.append(&cmd(&["SET", "c", "3"]));
        log.close().unwrap();

        let manifest = tmp.0.join("appendonlydir/appendonly.aof.manifest");
        let (ok, out) = check_aof(&manifest);
        assert!(ok && out.contains("All AOF files and manifest are valid"), "rdb_base {rdb_base}: {out}");

        let redis = Redis::start(&tmp.0, &["--appendonly", "yes"]);
        let mut r = redis.client();
        let get = |r: &mut redis::Connection, k: &str| redis::cmd("GET").arg(k).query::<Option<String>>(r).unwrap();
        assert_eq!(get(&mut r, "a").as_deref(), Some("1"));
        assert_eq!(redis::cmd("LRANGE").arg("l").arg(0).arg(-1).query::<Vec<String>>(&mut r).unwrap(), ["x", "y", "z"]);
        redis::cmd("SELECT").arg(3).query::<()>(&mut r).unwrap();
        assert_eq!(get(&mut r, "b").as_deref(), Some("with space\r\n"));
        assert_eq!(get(&mut r, "c").as_deref(), Some("3"));
        assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut r).unwrap(), 2);
        redis.shutdown();
    }
}

#[test]
fn redis_server_sets_read_back() {
    let tmp = TempDir::new("theirs");
    let redis = Redis::start(&tmp.0, &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"]);
    let mut r = redis.client();
    redis::cmd("SET").arg("k").arg("v").query::<()>(&mut r).unwrap();
    redis::cmd("RPUSH").arg("list").arg("a").arg("b").query::<i64>(&mut r).unwrap();
    redis::cmd("SELECT").arg(2).query::<()>(&mut r).unwrap();
    redis::cmd("HSET").arg("h").arg("f").arg("1").query::<i64>(&mut r).unwrap();
    redis::cmd("BGREWRITEAOF").query::<String>(&mut r).unwrap();
    let manifest = tmp.0.join("appendonlydir/appendonly.aof.manifest");
    assert!(wait_for(Duration::from_secs(20), || { fs::read_to_string(&manifest).is_ok_and(|m| m.contains("appendonly.aof.2.base.aof")) }));
    redis::cmd("SET").arg("after").arg("rewrite").query::<()>(&mut r).unwrap();
    redis.shutdown();

    // Their manifest reads and formats back byte for byte.
    let text = fs::read(&manifest).unwrap();
    assert_eq!(Manifest::parse(&text).unwrap().format(), text);

    let plan = load_plan(&cfg(&tmp.0)).unwrap().unwrap();
    let base = plan.base.clone().unwrap();
    assert_eq!(base.kind, BaseKind::Aof);
    let base_cmds: Vec<String> = commands(&base.path).into_iter().map(|c| c.to_uppercase()).collect();
    assert!(base_cmds.contains(&"SET K V".to_string()), "{base_cmds:?}");
    assert!(base_cmds.contains(&"RPUSH LIST A B".to_string()), "{base_cmds:?}");
    assert!(base_cmds.contains(&"HMSET H F 1".to_string()), "{base_cmds:?}");
    assert_eq!(plan.incrs.len(), 1);
    let incr: Vec<String> = commands(&plan.incrs[0]).into_iter().map(|c| c.to_uppercase()).collect();
    assert_eq!(incr, ["SELECT 2", "SET AFTER REWRITE"]);

    // A torn last command: we stop where redis-check-aof says the file is good up to.
    let incr_path = plan.incrs[0].clone();
    let len = fs::metadata(&incr_path).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&incr_path).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    let mut reader = CommandReader::open(&incr_path).unwrap();
    let valid_len = loop {
        match reader.next() {
            Ok(Some(_)) => {}
            Err(AofError::Truncated { valid_len, .. }) => break valid_len,
            other => panic!("{other:?}"),
        }
    };
    let (ok, out) = check_aof(&manifest);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("ok_up_to={valid_len},")), "ours: {valid_len}; redis-check-aof: {out}");
    plan.truncate(&incr_path, valid_len).unwrap();
    let (ok, out) = check_aof(&manifest);
    assert!(ok, "{out}");

    // And redis-server loads the set we cut.
    let redis = Redis::start(&tmp.0, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    let mut r = redis.client();
    assert_eq!(redis::cmd("GET").arg("k").query::<Option<String>>(&mut r).unwrap().as_deref(), Some("v"));
    redis.shutdown();
}
