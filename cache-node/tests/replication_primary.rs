//! cache-node as a replication primary: redis-server 7.0 replicates from it (full sync
//! of every type with TTLs, then the stream; partial resync after a cut and after a
//! restart; full resync when the backlog was exceeded), WAIT, min-replicas-to-write,
//! ROLE/INFO shapes, and REPLCONF/PSYNC/SYNC on a raw socket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{NOT_INT, Node, Raw, SYNTAX, err, exact, info_field, q, resp, wait_for};
use persistence::{assert_same, dataset};
use redis_server::{Gen, RedisServer, temp_dir};

const DBS: u32 = 3;

fn info(c: &mut redis::Connection) -> String {
    q(c, &["INFO", "replication"])
}

/// Starts redis-server in `dir` as a replica of `node`, logging to `dir/redis.log`.
fn start_replica(dir: &Path, node: &Node) -> RedisServer {
    let log = dir.join("redis.log");
    let port = node.port.to_string();
    RedisServer::start(dir, &["--replicaof", "127.0.0.1", &port, "--logfile", log.to_str().unwrap(), "--databases", "16"])
}

fn replica_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
}

/// Waits until the replica's link is up and it processed everything the node sent.
fn wait_caught_up(node: &mut redis::Connection, replica: &mut redis::Connection) {
    let ok = wait_for(Duration::from_secs(20), || {
        let ours = info_field(&info(node), "master_repl_offset");
        let theirs = info(replica);
        info_field(&theirs, "master_link_status").as_deref() == Some("up") && info_field(&theirs, "slave_repl_offset") == ours
    });
    assert!(ok, "replica did not catch up:\nprimary:\n{}\nreplica:\n{}", info(node), info(replica));
}

/// Data of every type in several databases, some keys with TTLs.
fn fill(c: &mut redis::Connection, g: &mut Gen, prefix: &str, n: usize) {
    for i in 0..n {
        let db = i as u32 % DBS;
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let key = format!("{prefix}:{i}");
        g.model(i as u8, i % 17 == 0).store(c, key.as_bytes());
        if i % 3 == 0 {
            let _: i64 = redis::cmd("PEXPIREAT").arg(&key).arg(common::unix_ms() + 3_600_000 + i as i64).query(c).unwrap();
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

/// Changes of every kind: overwrites, deletes, increments, TTL changes.
fn churn(c: &mut redis::Connection, prefix: &str, n: usize) {
    for i in 0..n {
        let db = i as u32 % DBS;
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let key = format!("{prefix}:{i}");
        let _: redis::Value = match i % 5 {
            0 => redis::cmd("DEL").arg(&key).query(c).unwrap(),
            1 => redis::cmd("INCRBY").arg(format!("{prefix}:ctr")).arg(i).query(c).unwrap(),
            2 => redis::cmd("LPUSH").arg(format!("{prefix}:list")).arg(i).query(c).unwrap(),
            3 => redis::cmd("SET").arg(&key).arg(i).arg("EX").arg(1000 + i).query(c).unwrap(),
            _ => redis::cmd("HSET").arg(format!("{prefix}:h")).arg(i).arg("v").query(c).unwrap(),
        };
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

#[test]
fn redis_server_replicates_every_type_then_the_stream() {
    // No PING in the stream while offsets are compared.
    let node = Node::start(&["--repl-ping-replica-period", "3600"]);
    let mut c = node.client();
    let mut g = Gen(fastrand::Rng::with_seed(7));
    fill(&mut c, &mut g, "before", 300);
    let dir = temp_dir("repl-full");
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    // A write load while the replica syncs and after.
    fill(&mut c, &mut g, "during", 100);
    churn(&mut c, "before", 300);
    wait_caught_up(&mut c, &mut r);
    assert_same(&dataset(&mut r, DBS), &dataset(&mut c, DBS), "replica after full sync and stream");
    assert!(replica_log(&dir).contains("Full resync from master"));

    // INFO on both sides, once idle: same offsets, one online replica.
    let ours = info(&mut c);
    let theirs = info(&mut r);
    assert_eq!(info_field(&ours, "role").as_deref(), Some("master"));
    assert_eq!(info_field(&ours, "connected_slaves").as_deref(), Some("1"));
    assert_eq!(info_field(&theirs, "role").as_deref(), Some("slave"));
    assert_eq!(info_field(&theirs, "master_replid"), info_field(&ours, "master_replid"));
    let offset = info_field(&ours, "master_repl_offset").unwrap();
    // The replica ACKs once a second: its slave line shows the offset soon.
    let line = format!("slave0:ip=127.0.0.1,port={},state=online,offset={offset},lag=", replica.port);
    assert!(wait_for(Duration::from_secs(5), || info(&mut c).contains(&line)), "{line}\n{}", info(&mut c));

    // ROLE: [master, offset, [[ip, port, offset]]], the same in RESP3.
    for conn in [&mut c, &mut node.client3()] {
        let role: redis::Value = q(conn, &["ROLE"]);
        let want = redis::Value::Array(vec![
            redis::Value::BulkString(b"master".to_vec()),
            redis::Value::Int(offset.parse().unwrap()),
            redis::Value::Array(vec![redis::Value::Array(vec![
                redis::Value::BulkString(b"127.0.0.1".to_vec()),
                redis::Value::BulkString(replica.port.to_string().into_bytes()),
                redis::Value::BulkString(offset.clone().into_bytes()),
            ])]),
        ]);
        assert_eq!(role, want);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn partial_resync_after_a_cut_link_and_after_a_restart() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut g = Gen(fastrand::Rng::with_seed(11));
    fill(&mut c, &mut g, "a", 100);
    let dir = temp_dir("repl-partial");
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    wait_caught_up(&mut c, &mut r);

    // The link is cut (the replica drops it): it continues from the backlog.
    let _: i64 = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    churn(&mut c, "a", 100);
    wait_caught_up(&mut c, &mut r);
    assert_same(&dataset(&mut r, DBS), &dataset(&mut c, DBS), "after a partial resync");
    assert_eq!(replica_log(&dir).matches("Successful partial resynchronization").count(), 1, "{}", replica_log(&dir));

    // A restart from its own snapshot (which records the replication id and offset):
    // partial again, for what was written while it was down.
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut r);
    assert!(wait_for(Duration::from_secs(10), || replica_log(&dir).contains("is now ready to exit")));
    drop(replica);
    churn(&mut c, "b", 50);
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    wait_caught_up(&mut c, &mut r);
    assert_same(&dataset(&mut r, DBS), &dataset(&mut c, DBS), "after a restart");
    assert_eq!(replica_log(&dir).matches("Successful partial resynchronization").count(), 2, "{}", replica_log(&dir));
    assert_eq!(replica_log(&dir).matches("Full resync from master").count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_exceeded_backlog_means_a_full_resync() {
    let node = Node::start(&["--repl-backlog-size", "1000"]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    let dir = temp_dir("repl-backlog");
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    wait_caught_up(&mut c, &mut r);
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut r);
    assert!(wait_for(Duration::from_secs(10), || replica_log(&dir).contains("is now ready to exit")));
    drop(replica);
    // More than the backlog holds.
    for i in 0..100 {
        let _: () = q(&mut c, &["SET", &format!("key:{i}"), &"x".repeat(50)]);
    }
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    wait_caught_up(&mut c, &mut r);
    assert_same(&dataset(&mut r, 1), &dataset(&mut c, 1), "after the second full resync");
    let log = replica_log(&dir);
    assert_eq!(log.matches("Full resync from master").count(), 2, "{log}");
    assert!(!log.contains("Successful partial resynchronization"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wait_counts_replicas_that_acknowledged() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    // Errors as Redis 7.0.
    err(&mut raw, &["WAIT"], "ERR wrong number of arguments for 'wait' command");
    exact(&mut raw, &["WAIT", "a", "0"], NOT_INT);
    err(&mut raw, &["WAIT", "1", "a"], "ERR timeout is not an integer or out of range");
    err(&mut raw, &["WAIT", "1", "1.5"], "ERR timeout is not an integer or out of range");
    err(&mut raw, &["WAIT", "1", "-1"], "ERR timeout is negative");
    exact(&mut raw, &["WAIT", "-1", "0"], ":0\r\n");
    exact(&mut raw, &["WAIT", "0", "0"], ":0\r\n");
    // No replica: WAIT 1 50 gives up after its timeout.
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "a", "1"]);
    let t = Instant::now();
    assert_eq!(q::<i64>(&mut c, &["WAIT", "1", "50"]), 0);
    assert!(t.elapsed() >= Duration::from_millis(50));

    let dir = temp_dir("repl-wait");
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    wait_caught_up(&mut c, &mut r);
    for i in 0..20 {
        let _: () = q(&mut c, &["SET", "a", &i.to_string()]);
        assert_eq!(q::<i64>(&mut c, &["WAIT", "1", "0"]), 1);
        // Acknowledged means the replica has it.
        assert_eq!(q::<String>(&mut r, &["GET", "a"]), i.to_string());
    }
    let t = Instant::now();
    assert_eq!(q::<i64>(&mut c, &["WAIT", "2", "100"]), 1);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(2), "{waited:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn min_replicas_to_write_refuses_writes_without_good_replicas() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = q(&mut c, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    let mut raw = node.raw();
    err(&mut raw, &["SET", "k", "v"], "NOREPLICAS Not enough good replicas to write.");
    exact(&mut raw, &["GET", "k"], "$-1\r\n");
    // max-lag 0 turns the check off, as in Redis.
    let _: () = q(&mut c, &["CONFIG", "SET", "min-replicas-max-lag", "0"]);
    exact(&mut raw, &["SET", "k", "v"], "+OK\r\n");
    let _: () = q(&mut c, &["CONFIG", "SET", "min-replicas-max-lag", "2"]);
    err(&mut raw, &["SET", "k", "v"], "NOREPLICAS Not enough good replicas to write.");

    let dir = temp_dir("repl-min");
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    assert!(wait_for(Duration::from_secs(10), || redis::cmd("SET").arg("k").arg("w").query::<()>(&mut c).is_ok()));
    wait_caught_up(&mut c, &mut r);
    assert_eq!(q::<String>(&mut r, &["GET", "k"]), "w");

    // A replica that stops acknowledging (SIGSTOP) stops counting after max-lag.
    let pid: String = info_field(&q::<String>(&mut r, &["INFO", "server"]), "process_id").unwrap();
    let stop = std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    assert!(stop.success());
    let refused = wait_for(Duration::from_secs(10), || redis::cmd("SET").arg("k").arg("x").query::<()>(&mut c).is_err());
    let _ = std::process::Command::new("kill").args(["-CONT", &pid]).status();
    assert!(refused, "writes still accepted with a stopped replica");
    err(&mut raw, &["SET", "k", "v"], "NOREPLICAS Not enough good replicas to write.");
    // Back: writes are accepted again.
    assert!(wait_for(Duration::from_secs(10), || redis::cmd("SET").arg("k").arg("y").query::<()>(&mut c).is_ok()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replconf_psync_sync_role_on_a_raw_socket() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    exact(&mut raw, &["REPLCONF"], "+OK\r\n");
    exact(&mut raw, &["REPLCONF", "a"], SYNTAX);
    exact(&mut raw, &["REPLCONF", "listening-port"], SYNTAX);
    exact(&mut raw, &["REPLCONF", "listening-port", "abc"], NOT_INT);
    exact(&mut raw, &["REPLCONF", "listening-port", "1", "capa"], SYNTAX);
    err(&mut raw, &["REPLCONF", "foo", "bar"], "ERR Unrecognized REPLCONF option: foo");
    exact(&mut raw, &["REPLCONF", "capa", "eof", "capa", "psync2", "capa", "whatever"], "+OK\r\n");
    exact(&mut raw, &["REPLCONF", "rdb-only", "x"], NOT_INT);
    err(&mut raw, &["REPLCONF", "rdb-only", "2"], "ERR value is out of range, value must between 0 and 1");
    // ACK and GETACK from a client that is not a replica link: no reply at all.
    raw.send(&resp(&[b"REPLCONF", b"ACK", b"5"]));
    raw.send(&resp(&[b"REPLCONF", b"GETACK", b"*"]));
    exact(&mut raw, &["PING"], "+PONG\r\n");
    err(&mut raw, &["PSYNC", "a"], "ERR wrong number of arguments for 'psync' command");
    exact(&mut raw, &["PSYNC", "?", "x"], NOT_INT);
    exact(&mut raw, &["PSYNC", "a", "b", "c"], NOT_INT);
    err(&mut raw, &["SYNC", "x"], "ERR wrong number of arguments for 'sync' command");
    exact(&mut raw, &["ROLE"], "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    common::hello3(&mut raw);
    exact(&mut raw, &["ROLE"], "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
}

/// Reads one CRLF-terminated line.
fn line(raw: &mut Raw) -> String {
    common::read_line(raw)
}

#[test]
fn psync_by_hand_full_with_length_then_partial() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "a", "1"]);
    // No `capa eof`: the snapshot comes as `$<len>` and the stream follows at once.
    let mut raw = node.raw();
    exact(&mut raw, &["REPLCONF", "listening-port", "4242"], "+OK\r\n");
    raw.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    let full = line(&mut raw);
    let parts: Vec<&str> = full.split(' ').collect();
    assert_eq!((parts.len(), parts[0], parts[1].len()), (3, "+FULLRESYNC", 40), "{full}");
    let replid = parts[1].to_string();
    let offset: u64 = parts[2].parse().unwrap();
    let len: usize = line(&mut raw).strip_prefix('$').unwrap().parse().unwrap();
    let rdb = raw.read_exact_len(len);
    assert!(rdb.starts_with(b"REDIS0010") && rdb.len() == len);
    // The stream: a SELECT first, then the write.
    let _: () = q(&mut c, &["SET", "b", "2"]);
    let want = resp(&[b"SELECT", b"0"]).into_iter().chain(resp(&[b"SET", b"b", b"2"])).collect::<Vec<u8>>();
    assert_eq!(String::from_utf8_lossy(&raw.read_exact_len(want.len())), String::from_utf8_lossy(&want));
    let end = offset + want.len() as u64;
    assert_eq!(info_field(&q::<String>(&mut c, &["INFO", "replication"]), "master_repl_offset"), Some(end.to_string()));
    // Its ACK shows in INFO.
    raw.send(&resp(&[b"REPLCONF", b"ACK", end.to_string().as_bytes()]));
    let line_want = format!("slave0:ip=127.0.0.1,port=4242,state=online,offset={end},lag=");
    assert!(wait_for(Duration::from_secs(5), || q::<String>(&mut c, &["INFO", "replication"]).contains(&line_want)));
    drop(raw);
    assert!(wait_for(Duration::from_secs(5), || info_field(&q::<String>(&mut c, &["INFO", "replication"]), "connected_slaves").as_deref() == Some("0")));

    // Partial from the middle: the bytes after the requested offset, verbatim.
    let mut raw = node.raw();
    exact(&mut raw, &["REPLCONF", "capa", "psync2"], "+OK\r\n");
    let from = offset + resp(&[b"SELECT", b"0"]).len() as u64;
    raw.send(&resp(&[b"PSYNC", replid.as_bytes(), (from + 1).to_string().as_bytes()]));
    assert_eq!(line(&mut raw), format!("+CONTINUE {replid}"));
    let rest = resp(&[b"SET", b"b", b"2"]);
    assert_eq!(raw.read_exact_len(rest.len()), rest);
    // Without psync2, the id is left out; a wrong id means a full resync.
    let mut raw = node.raw();
    raw.send(&resp(&[b"PSYNC", replid.as_bytes(), (end + 1).to_string().as_bytes()]));
    assert_eq!(line(&mut raw), "+CONTINUE");
    let mut raw = node.raw();
    raw.send(&resp(&[b"PSYNC", "f".repeat(40).as_bytes(), b"1"]));
    assert!(line(&mut raw).starts_with("+FULLRESYNC "));
    // SYNC: the snapshot with no +FULLRESYNC line.
    let mut raw = node.raw();
    raw.send(&resp(&[b"SYNC"]));
    assert!(line(&mut raw).starts_with('$'));
}

#[test]
fn two_replicas_arriving_together_both_converge() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut g = Gen(fastrand::Rng::with_seed(3));
    fill(&mut c, &mut g, "x", 200);
    let (d1, d2) = (temp_dir("repl-two-a"), temp_dir("repl-two-b"));
    let (r1, r2) = (start_replica(&d1, &node), start_replica(&d2, &node));
    churn(&mut c, "x", 200);
    let (mut c1, mut c2) = (r1.client(), r2.client());
    wait_caught_up(&mut c, &mut c1);
    wait_caught_up(&mut c, &mut c2);
    let want = dataset(&mut c, DBS);
    assert_same(&dataset(&mut c1, DBS), &want, "first replica");
    assert_same(&dataset(&mut c2, DBS), &want, "second replica");
    assert_eq!(info_field(&info(&mut c), "connected_slaves").as_deref(), Some("2"));
    let role: redis::Value = q(&mut c, &["ROLE"]);
    let redis::Value::Array(parts) = role else { panic!("{role:?}") };
    assert!(matches!(&parts[2], redis::Value::Array(list) if list.len() == 2), "{parts:?}");
    // One goes away: the other stays.
    drop(r1);
    assert!(wait_for(Duration::from_secs(5), || info_field(&info(&mut c), "connected_slaves").as_deref() == Some("1")));
    let _: () = q(&mut c, &["SET", "after", "1"]);
    wait_caught_up(&mut c, &mut c2);
    for d in [d1, d2] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn a_replica_behind_by_more_than_its_output_buffer_limit_is_dropped_and_resyncs() {
    let node = Node::start(&["--repl-backlog-size", "1000"]);
    let mut c = node.client();
    // Within this limit the primary keeps what a lagging replica still needs, even past
    // the backlog size (tests/replication.rs); beyond it the replica goes.
    let _: () = q(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "replica 1mb 0 0"]);
    let dir = temp_dir("repl-slow");
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    wait_caught_up(&mut c, &mut r);
    let pid: String = info_field(&q::<String>(&mut r, &["INFO", "server"]), "process_id").unwrap();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    // Far more than the backlog and the socket buffers hold.
    let big = "y".repeat(16 * 1024);
    for i in 0..1000 {
        let _: () = q(&mut c, &["SET", &format!("big:{}", i % 50), &big]);
    }
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let dropped = |l: &String| l.contains("fell out of the replication backlog") || l.contains("overcoming of output buffer limits");
    assert!(wait_for(Duration::from_secs(20), || node.log().iter().any(dropped)));
    wait_caught_up(&mut c, &mut r);
    assert_same(&dataset(&mut r, 1), &dataset(&mut c, 1), "after the resync");
    assert_eq!(replica_log(&dir).matches("Full resync from master").count(), 2, "{}", replica_log(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replicas_get_a_ping_every_period() {
    let node = Node::start(&["--repl-ping-replica-period", "1"]);
    let mut c = node.client();
    let dir = temp_dir("repl-ping");
    let replica = start_replica(&dir, &node);
    let mut r = replica.client();
    wait_caught_up(&mut c, &mut r);
    let offset = |c: &mut redis::Connection| info_field(&info(c), "master_repl_offset").unwrap().parse::<u64>().unwrap();
    let before = offset(&mut c);
    // Only PINGs (14 bytes each) move the offset; the replica follows them.
    assert!(wait_for(Duration::from_secs(10), || offset(&mut c) >= before + 28));
    assert_eq!((offset(&mut c) - before) % 14, 0);
    wait_caught_up(&mut c, &mut r);
    let _ = std::fs::remove_dir_all(&dir);
}
