//! Helpers for the replica-side replication tests: INFO fields, waiting for a replica to
//! catch up, data sets of every type, and a scripted primary.
#![allow(dead_code)]

use std::time::Duration;

use super::common::{info_field, wait_for};
use super::redis_server::Gen;

/// A redis-server in its own directory, on a chosen port (`RedisServer::start_on`).
pub use super::redis_server::RedisServer as Redis;

pub fn info(c: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

pub fn field(c: &mut redis::Connection, section: &str, name: &str) -> String {
    info_field(&info(c, section), name).unwrap_or_default()
}

pub fn int_field(c: &mut redis::Connection, section: &str, name: &str) -> i64 {
    field(c, section, name).parse().unwrap_or(-1)
}

/// Waits until the replica is connected and has applied everything the primary has
/// written so far.
pub fn wait_caught_up(replica: &mut redis::Connection, primary: &mut redis::Connection) -> bool {
    wait_for(Duration::from_secs(30), || {
        let want = int_field(primary, "replication", "master_repl_offset");
        let info = info(replica, "replication");
        info_field(&info, "master_link_status").as_deref() == Some("up")
            && info_field(&info, "slave_repl_offset").and_then(|o| o.parse::<i64>().ok()) == Some(want)
    })
}

/// Values of every type, small and large, in databases 0..3, a third with TTLs.
pub fn populate(c: &mut redis::Connection, seed: u64) {
    let mut g = Gen(fastrand::Rng::with_seed(seed));
    for db in 0..3u32 {
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        for i in 0..60u32 {
            let key = format!("k{db}:{i}");
            g.model(i as u8, i % 17 == 0).store(c, key.as_bytes());
            if i % 3 == 0 {
                let _: i64 = redis::cmd("PEXPIRE").arg(&key).arg(100_000 + i64::from(i)).query(c).unwrap();
            }
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

/// A write load: plain writes in several databases, transactions, scripts and commands
/// whose effects are random or relative (replicated as their effects).
/// `scripts`: also MULTI/EXEC and EVAL (only a redis-server primary has them yet).
pub fn write_load(c: &mut redis::Connection, seed: u64, n: usize, scripts: bool) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for i in 0..n {
        let db = rng.u32(0..3);
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let k = format!("w:{}", rng.u32(0..40));
        let pick = match rng.u8(0..10) {
            6 | 7 if !scripts => 0,
            p => p,
        };
        let v: redis::RedisResult<redis::Value> = match pick {
            0 => redis::cmd("SET").arg(&k).arg(i).query(c),
            1 => redis::cmd("INCRBY").arg(format!("n:{}", rng.u32(0..5))).arg(rng.i64(-100..100)).query(c),
            2 => redis::cmd("RPUSH").arg(format!("l:{}", rng.u32(0..5))).arg(i).arg("x").query(c),
            3 => redis::cmd("HSET").arg(format!("h:{}", rng.u32(0..5))).arg(rng.u32(0..50)).arg(i).query(c),
            4 => redis::cmd("ZADD").arg(format!("z:{}", rng.u32(0..5))).arg(rng.f64() * 100.0).arg(rng.u32(0..50)).query(c),
            5 => redis::cmd("SADD").arg(format!("s:{}", rng.u32(0..5))).arg(rng.u32(0..50)).query(c),
            6 => redis::pipe().atomic().cmd("SET").arg(&k).arg("tx").cmd("EXPIRE").arg(&k).arg(1000).cmd("LPUSH").arg("txlist").arg(i).query(c),
            7 => redis::cmd("EVAL")
                .arg("redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return redis.call('SPOP', KEYS[3])")
                .arg(3)
                .arg(&k)
                .arg("evlist")
                .arg(format!("s:{}", rng.u32(0..5)))
                .arg(i)
                .query(c),
            8 => redis::cmd("SPOP").arg(format!("s:{}", rng.u32(0..5))).query(c),
            _ => redis::cmd("DEL").arg(&k).query(c),
        };
        v.unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

/// The primary's end of a replication link, scripted by a test.
pub struct FakePrimary {
    pub r: std::io::BufReader<std::net::TcpStream>,
    pub w: std::net::TcpStream,
}

impl FakePrimary {
    pub fn accept(l: &std::net::TcpListener) -> FakePrimary {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        FakePrimary { r: std::io::BufReader::new(s.try_clone().unwrap()), w: s }
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(l.ends_with("\r\n"), "cut line {l:?}");
        l.truncate(l.len() - 2);
        l
    }

    /// The next command the replica sends.
    pub fn command(&mut self) -> Vec<String> {
        use std::io::Read;
        let head = self.line();
        let n: usize = head.strip_prefix('*').unwrap_or_else(|| panic!("not a command: {head:?}")).parse().unwrap();
        (0..n)
            .map(|_| {
                let len: usize = self.line().strip_prefix('$').unwrap().parse().unwrap();
                let mut b = vec![0u8; len + 2];
                self.r.read_exact(&mut b).unwrap();
                String::from_utf8(b[..len].to_vec()).unwrap()
            })
            .collect()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.w.write_all(bytes).unwrap();
    }

    /// Expects `want` (ignoring the periodic ACKs) and answers `reply`.
    pub fn expect(&mut self, want: &[&str], reply: &str) -> Vec<String> {
        loop {
            let got = self.command();
            if got.len() == 3 && got[0] == "REPLCONF" && got[1] == "ACK" && want.first() != Some(&"REPLCONF") {
                continue;
            }
            assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
            for (g, w) in got.iter().zip(want) {
                assert!(*w == "*" || g.eq_ignore_ascii_case(w), "{got:?} vs {want:?}");
            }
            self.send(reply.as_bytes());
            return got;
        }
    }

    /// Waits for `REPLCONF ACK <offset>`.
    pub fn wait_ack(&mut self, offset: u64) {
        loop {
            let got = self.command();
            assert_eq!(&got[..2], ["REPLCONF", "ACK"], "{got:?}");
            let at: u64 = got[2].parse().unwrap();
            assert!(at <= offset, "acked {at} beyond {offset}");
            if at == offset {
                return;
            }
        }
    }
}

/// A snapshot made by redis-server holding `key` = `value` in database 0.
pub fn redis_snapshot(key: &str, value: &str) -> Vec<u8> {
    let dir = super::redis_server::temp_dir("rrep-snap");
    let r = Redis::start(&dir, &[]);
    let mut c = r.client();
    let _: () = redis::cmd("SET").arg(key).arg(value).query(&mut c).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    std::fs::read(dir.join("dump.rdb")).unwrap()
}
