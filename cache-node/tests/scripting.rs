//! Lua scripting against redis-server 7.0 as the oracle (every reply byte for byte,
//! RESP2 and RESP3), the journal of a script's writes (AOF and replica), and the
//! patterns scripts exist for, under concurrent clients: atomic read-modify-write, the
//! distributed lock and the sliding-window rate limiter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::time::Duration;

use common::oracle;
use common::*;
use redis_server::{RedisServer, temp_dir};

/// Cases: one per line; a script run with `EVAL script 0`, or `!` and a command whose
/// arguments are separated by single spaces. `\n` stands for a newline.
fn cases() -> Vec<Vec<Vec<u8>>> {
    include_str!("scripting_cases/oracle.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.replace("\\n", "\n");
            match l.strip_prefix('!') {
                Some(cmd) => cmd.split(' ').map(|a| a.as_bytes().to_vec()).collect(),
                None => vec![b"EVAL".to_vec(), l.into_bytes(), b"0".to_vec()],
            }
        })
        .collect()
}

/// Sends each command on one connection and collects each complete reply.
fn replies(port: u16, resp3: bool, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut s = oracle::connect(port, false);
    oracle::send(&mut s, &[b"FLUSHALL".to_vec()]);
    oracle::send(&mut s, &[b"SCRIPT".to_vec(), b"FLUSH".to_vec()]);
    if resp3 {
        oracle::send(&mut s, &[b"HELLO".to_vec(), b"3".to_vec()]);
    }
    cmds.iter().map(|c| oracle::send(&mut s, c)).collect()
}

#[test]
fn replies_match_redis_byte_for_byte_in_resp2_and_resp3() {
    let dir = temp_dir("scripting-oracle");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let cmds = cases();
    let mut diffs = Vec::new();
    for resp3 in [false, true] {
        let want = replies(redis.port, resp3, &cmds);
        let got = replies(node.port, resp3, &cmds);
        for ((c, w), g) in cmds.iter().zip(&want).zip(&got) {
            if w != g {
                let c: Vec<String> = c.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
                diffs.push(format!("resp3={resp3} {c:?}\n  redis: {:?}\n  ours:  {:?}", String::from_utf8_lossy(w), String::from_utf8_lossy(g)));
            }
        }
    }
    assert!(diffs.is_empty(), "{} replies differ:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn scripts_do_not_leak_globals_or_change_the_callers_database() {
    let node = Node::start(&[]);
    let mut c = node.client();
    // A script cannot leave a global for the next one, even through a library table.
    let e = redis::cmd("EVAL").arg("x = 1").arg(0).query::<redis::Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("Attempt to modify a readonly table"), "{e}");
    let e = redis::cmd("EVAL").arg("string.leak = 1").arg(0).query::<redis::Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("Attempt to modify a readonly table"), "{e}");
    let v: Option<String> = redis::cmd("EVAL").arg("return string.leak").arg(0).query(&mut c).unwrap();
    assert_eq!(v, None);
    // SELECT inside a script affects the script only.
    let _: () = redis::cmd("SET").arg("where").arg("db0").query(&mut c).unwrap();
    let v: String =
        redis::cmd("EVAL").arg("redis.call('select', 3); redis.call('set', 'where', 'db3'); return redis.call('get', 'where')").arg(0).query(&mut c).unwrap();
    assert_eq!(v, "db3");
    assert_eq!(q::<String>(&mut c, &["GET", "where"]), "db0");
    let info: String = q(&mut c, &["INFO", "memory"]);
    assert!(info_field(&info, "used_memory_lua").is_some_and(|v| v.parse::<u64>().unwrap() > 0), "{info}");
    assert!(info_field(&info, "number_of_cached_scripts").is_some_and(|v| v.parse::<u64>().unwrap() >= 4), "{info}");
}

#[test]
fn a_scripts_writes_reach_the_aof_and_a_replica_as_one_transaction() {
    let dir = temp_dir("scripting-aof");
    let primary = persistence::start_in(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let replica = Node::start(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let mut r = replica.client();
    assert!(wait_for(Duration::from_secs(30), || info_field(&q::<String>(&mut r, &["INFO", "replication"]), "master_link_status").as_deref() == Some("up")));
    let mut c = primary.client();
    let n: i64 = redis::cmd("EVAL")
        .arg("redis.call('set', KEYS[1], 'a'); redis.call('rpush', KEYS[2], 'x', 'y'); return redis.call('incr', KEYS[3])")
        .arg(3)
        .arg("s")
        .arg("l")
        .arg("n")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let aof: Vec<u8> = persistence::incr_files(&dir).iter().flat_map(|p| std::fs::read(p).unwrap()).collect();
    let text = String::from_utf8_lossy(&aof);
    let multi = text.find("MULTI").expect("no MULTI in the AOF");
    let exec = text.find("EXEC").expect("no EXEC in the AOF");
    let (set, rpush, incr) = (text.find("\r\nset\r\n").unwrap(), text.find("\r\nrpush\r\n").unwrap(), text.find("\r\nincr\r\n").unwrap());
    assert!(multi < set && set < rpush && rpush < incr && incr < exec, "{text}");
    assert!(!text.contains("EVAL") && !text.contains("eval"), "{text}");
    assert!(wait_for(Duration::from_secs(30), || q::<Option<String>>(&mut r, &["GET", "n"]).as_deref() == Some("1")));
    assert_eq!(q::<String>(&mut r, &["GET", "s"]), "a");
    assert_eq!(q::<Vec<String>>(&mut r, &["LRANGE", "l", "0", "-1"]), vec!["x", "y"]);
    // A replica refuses a script's write as it refuses the command.
    let e = redis::cmd("EVAL").arg("return redis.call('set', 'k', 'v')").arg(0).query::<redis::Value>(&mut r).unwrap_err();
    assert_eq!(e.code(), Some("READONLY"), "{e}");
    assert!(e.to_string().contains("You can't write against a read only replica. script: "), "{e}");
}

#[test]
fn read_modify_write_scripts_from_many_clients_lose_no_update() {
    let node = Node::start(&[]);
    const CLIENTS: usize = 8;
    const EACH: usize = 300;
    let script = "local v = tonumber(redis.call('get', KEYS[1]) or '0'); redis.call('set', KEYS[1], v + 1); return v + 1";
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                let mut c = node.client();
                for _ in 0..EACH {
                    let _: i64 = redis::cmd("EVAL").arg(script).arg(1).arg("counter").query(&mut c).unwrap();
                }
            });
        }
        // Plain commands from another client go on meanwhile.
        s.spawn(|| {
            let mut c = node.client();
            for i in 0..500 {
                let _: () = redis::cmd("SET").arg(format!("other{i}")).arg(i).query(&mut c).unwrap();
            }
        });
    });
    let mut c = node.client();
    assert_eq!(q::<i64>(&mut c, &["GET", "counter"]), (CLIENTS * EACH) as i64);
}

const UNLOCK: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

#[test]
fn distributed_lock_gives_mutual_exclusion_and_only_the_owner_releases() {
    let node = Node::start(&[]);
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 40;
    std::thread::scope(|s| {
        for id in 0..CLIENTS {
            let node = &node;
            s.spawn(move || {
                let mut c = node.client();
                let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(UNLOCK).query(&mut c).unwrap();
                for round in 0..ROUNDS {
                    let token = format!("{id}-{round}");
                    let deadline = std::time::Instant::now() + Duration::from_secs(30);
                    loop {
                        let got: Option<String> = redis::cmd("SET").arg("lock:res").arg(&token).arg("NX").arg("PX").arg(10_000).query(&mut c).unwrap();
                        if got.is_some() {
                            break;
                        }
                        assert!(std::time::Instant::now() < deadline, "lock never acquired");
                        std::thread::yield_now();
                    }
                    // The critical section: a non-atomic read-modify-write from the client.
                    let v: i64 = redis::cmd("GET").arg("shared").query::<Option<i64>>(&mut c).unwrap().unwrap_or(0);
                    let _: () = redis::cmd("SET").arg("shared").arg(v + 1).query(&mut c).unwrap();
                    // Someone else's token releases nothing.
                    let stolen: i64 = redis::cmd("EVALSHA").arg(&sha).arg(1).arg("lock:res").arg("not-mine").query(&mut c).unwrap();
                    assert_eq!(stolen, 0);
                    let released: i64 = redis::cmd("EVALSHA").arg(&sha).arg(1).arg("lock:res").arg(&token).query(&mut c).unwrap();
                    assert_eq!(released, 1);
                }
            });
        }
    });
    let mut c = node.client();
    assert_eq!(q::<i64>(&mut c, &["GET", "shared"]), (CLIENTS * ROUNDS) as i64);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "lock:res"]), 0);
}

const RATE_LIMIT: &str = "
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('zremrangebyscore', key, 0, now - window)
if redis.call('zcard', key) >= limit then return 0 end
redis.call('zadd', key, now, ARGV[4])
redis.call('pexpire', key, window)
return 1";

#[test]
fn sliding_window_rate_limiter_admits_exactly_the_limit() {
    let node = Node::start(&[]);
    const CLIENTS: usize = 8;
    const TRIES: usize = 50;
    const LIMIT: i64 = 37;
    let now = unix_ms();
    let admitted = std::sync::atomic::AtomicI64::new(0);
    std::thread::scope(|s| {
        for id in 0..CLIENTS {
            let (node, admitted) = (&node, &admitted);
            s.spawn(move || {
                let mut c = node.client();
                for i in 0..TRIES {
                    // Every request falls in the same window of one minute.
                    let ok: i64 = redis::cmd("EVAL")
                        .arg(RATE_LIMIT)
                        .arg(1)
                        .arg("rl:user")
                        .arg(now + i as i64)
                        .arg(60_000)
                        .arg(LIMIT)
                        .arg(format!("{id}-{i}"))
                        .query(&mut c)
                        .unwrap();
                    admitted.fetch_add(ok, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(admitted.into_inner(), LIMIT);
    let mut c = node.client();
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "rl:user"]), LIMIT);
    // Past the window, requests are admitted again.
    let ok: i64 = redis::cmd("EVAL").arg(RATE_LIMIT).arg(1).arg("rl:user").arg(now + 120_000).arg(60_000).arg(LIMIT).arg("late").query(&mut c).unwrap();
    assert_eq!(ok, 1);
}

#[test]
fn pipelined_commands_after_a_script_keep_their_order() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    let mut req = resp(&[b"SET", b"k", b"1"]);
    req.extend(resp(&[b"EVAL", b"return redis.call('incr', 'k')", b"0"]));
    req.extend(resp(&[b"GET", b"k"]));
    req.extend(resp(&[b"EVAL", b"return {KEYS[1], ARGV[1]}", b"1", b"a", b"b"]));
    req.extend(resp(&[b"PING"]));
    raw.roundtrip(&req, b"+OK\r\n:2\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n+PONG\r\n");
}

#[test]
fn client_reply_off_and_skip_silence_a_scripts_reply() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    let mut req = resp(&[b"CLIENT", b"REPLY", b"SKIP"]);
    req.extend(resp(&[b"EVAL", b"return redis.call('incr', 'n')", b"0"]));
    req.extend(resp(&[b"CLIENT", b"REPLY", b"OFF"]));
    req.extend(resp(&[b"EVAL", b"return redis.call('incr', 'n')", b"0"]));
    req.extend(resp(&[b"CLIENT", b"REPLY", b"ON"]));
    req.extend(resp(&[b"GET", b"n"]));
    raw.roundtrip(&req, b"+OK\r\n$1\r\n2\r\n");
}
