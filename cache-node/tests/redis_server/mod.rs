//! A real redis-server (the oracle for the RDB format) on a free loopback port, in its own
//! directory, killed on drop; plus a model of values to compare both servers' data.
//! Missing redis-server fails the test: CI installs it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::common::{free_port, wait_for};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachefleet-{tag}-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl RedisServer {
    /// Starts redis-server in `dir` (loading `dir/dump.rdb` if present) with `extra`
    /// configuration, and waits until it answers PING (not LOADING).
    pub fn start(dir: &Path, extra: &[&str]) -> RedisServer {
        Self::start_on(dir, free_port(), extra)
    }

    /// The same on a chosen port (so a test can restart it where its replicas expect
    /// it). A server that wants a password counts as up when PING answers NOAUTH.
    pub fn start_on(dir: &Path, port: u16, extra: &[&str]) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb"])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let mut s = RedisServer { child, port, dir: dir.to_path_buf() };
        let up = wait_for(Duration::from_secs(30), || {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("redis-server exited while starting ({status}): see {}", dir.display());
            }
            s.try_client().is_some_and(|mut c| redis::cmd("PING").query::<String>(&mut c).map_or_else(|e| e.code() == Some("NOAUTH"), |_| true))
        });
        assert!(up, "redis-server did not start");
        s
    }

    /// SHUTDOWN SAVE and wait for the process to end (its replication id and offset are
    /// kept in the snapshot, so its replicas can continue partially after a restart).
    pub fn shutdown_save(mut self) {
        let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut self.client());
        let exited = wait_for(Duration::from_secs(20), || matches!(self.child.try_wait(), Ok(Some(_))));
        assert!(exited, "redis-server did not exit");
    }

    fn try_client(&self) -> Option<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).ok()?.get_connection().ok()
    }

    pub fn client(&self) -> redis::Connection {
        self.try_client().expect("connect to redis-server")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A value as plain collections, comparable across servers.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// Scores by member.
    ZSet(BTreeMap<Vec<u8>, f64>),
}

impl Model {
    pub fn type_name(&self) -> &'static str {
        match self {
            Model::Str(_) => "string",
            Model::List(_) => "list",
            Model::Set(_) => "set",
            Model::Hash(_) => "hash",
            Model::ZSet(_) => "zset",
        }
    }

    /// Stores the value under `key` on a server with ordinary commands.
    pub fn store(&self, c: &mut redis::Connection, key: &[u8]) {
        let mut cmd;
        match self {
            Model::Str(s) => {
                cmd = redis::cmd("SET");
                cmd.arg(key).arg(s);
            }
            Model::List(items) => {
                cmd = redis::cmd("RPUSH");
                cmd.arg(key).arg(items);
            }
            Model::Set(ms) => {
                cmd = redis::cmd("SADD");
                cmd.arg(key);
                ms.iter().for_each(|m| {
                    cmd.arg(m);
                });
            }
            Model::Hash(fs) => {
                cmd = redis::cmd("HSET");
                cmd.arg(key);
                fs.iter().for_each(|(f, v)| {
                    cmd.arg(f).arg(v);
                });
            }
            Model::ZSet(ms) => {
                cmd = redis::cmd("ZADD");
                cmd.arg(key);
                ms.iter().for_each(|(m, s)| {
                    cmd.arg(score_arg(*s)).arg(m);
                });
            }
        }
        let _: redis::Value = cmd.query(c).unwrap();
    }

    /// Reads the value under `key` back with ordinary commands (None when absent).
    pub fn load(c: &mut redis::Connection, key: &[u8]) -> Option<Model> {
        let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
        let mut strings = |name: &str, args: &[&str]| -> Vec<Vec<u8>> {
            let mut cmd = redis::cmd(name);
            cmd.arg(key);
            args.iter().for_each(|a| {
                cmd.arg(*a);
            });
            cmd.query(c).unwrap()
        };
        Some(match t.as_str() {
            "none" => return None,
            "string" => Model::Str(redis::cmd("GET").arg(key).query(c).unwrap()),
            "list" => Model::List(strings("LRANGE", &["0", "-1"])),
            "set" => Model::Set(strings("SMEMBERS", &[]).into_iter().collect()),
            "hash" => {
                let kv = strings("HGETALL", &[]);
                Model::Hash(kv.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect())
            }
            "zset" => {
                let kv = strings("ZRANGE", &["0", "-1", "WITHSCORES"]);
                Model::ZSet(kv.chunks(2).map(|p| (p[0].clone(), String::from_utf8_lossy(&p[1]).parse::<f64>().unwrap())).collect())
            }
            other => panic!("unexpected type {other}"),
        })
    }
}

/// A score as an argument both servers parse back to the same double.
pub fn score_arg(s: f64) -> String {
    if s.is_infinite() { if s > 0.0 { "+inf".into() } else { "-inf".into() } } else { format!("{s:e}") }
}

/// Random values of every type, small (compact encodings) and large, binary and
/// integer-looking, from a seeded generator so failures reproduce.
pub struct Gen(pub fastrand::Rng);

impl Gen {
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        match self.0.u8(0..6) {
            0 => Vec::new(),
            1 => self.0.i64(..).to_string().into_bytes(),
            2 => self.0.i64(-1000..1000).to_string().into_bytes(),
            3 => std::iter::repeat_n(b'z', self.0.usize(1..=max.max(1))).collect(),
            _ => (0..self.0.usize(0..=max)).map(|_| self.0.u8(..)).collect(),
        }
    }

    pub fn score(&mut self) -> f64 {
        match self.0.u8(0..8) {
            0 => f64::INFINITY,
            1 => f64::NEG_INFINITY,
            2 => f64::from(self.0.i32(-1000..1000)),
            3 => self.0.f64() * 1e300,
            _ => (self.0.f64() - 0.5) * 1e6,
        }
    }

    /// A non-empty value; `big` makes collections large enough to leave compact encodings.
    pub fn model(&mut self, kind: u8, big: bool) -> Model {
        let n = if big { self.0.usize(200..1500) } else { self.0.usize(1..20) };
        let vmax = if big { 300 } else { 40 };
        match kind % 6 {
            0 => Model::Str(self.bytes(if big { 5000 } else { 30 })),
            1 => Model::List((0..n).map(|_| self.bytes(vmax)).collect()),
            2 => Model::Set((0..n).map(|_| self.bytes(vmax)).collect()),
            3 => Model::Set((0..n).map(|_| self.0.i64(..).to_string().into_bytes()).collect()),
            4 => Model::Hash((0..n).map(|_| (self.bytes(vmax), self.bytes(vmax))).collect()),
            _ => Model::ZSet((0..n).map(|_| (self.bytes(vmax), self.score())).collect()),
        }
    }
}
