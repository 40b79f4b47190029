//! cache-node following a primary (REPLICAOF): a redis-server 7.0 primary first, since
//! that is the interop that matters most (migrating from an existing Redis): full sync of
//! every type with TTLs, the stream (transactions and scripts included), INFO and ROLE,
//! read-only refusal, reconnection with a partial resync, promotion and expiry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;
mod replication_replica_support;

use std::time::Duration;

use common::{Node, exact, free_port, info_field, q, wait_for};
use persistence::{assert_same, dataset};
use redis_server::temp_dir;
use replication_replica_support::{Redis, field, info, int_field, populate, wait_caught_up, write_load};

fn follow(node: &Node, port: u16) {
    let mut raw = node.raw();
    exact(&mut raw, &["REPLICAOF", "127.0.0.1", &port.to_string()], "+OK\r\n");
}

#[test]
fn replicaof_replies_like_redis() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    exact(&mut raw, &["REPLICAOF", "no", "one"], "+OK\r\n");
    for bad in ["abc", "70000", "-1", ""] {
        exact(&mut raw, &["REPLICAOF", "127.0.0.1", bad], "-ERR Invalid master port\r\n");
    }
    exact(&mut raw, &["REPLICAOF", "127.0.0.1"], "-ERR wrong number of arguments for 'replicaof' command\r\n");
    // Nobody listens there: the link stays down and retries.
    let dead = free_port();
    exact(&mut raw, &["REPLICAOF", "127.0.0.1", &dead.to_string()], "+OK\r\n");
    exact(&mut raw, &["SLAVEOF", "127.0.0.1", &dead.to_string()], "+OK Already connected to specified master\r\n");
    let mut c = node.client();
    let i = info(&mut c, "replication");
    for (k, v) in [
        ("role", "slave"),
        ("master_host", "127.0.0.1"),
        ("master_port", &dead.to_string()),
        ("master_link_status", "down"),
        ("master_last_io_seconds_ago", "-1"),
        ("master_sync_in_progress", "0"),
        ("master_link_down_since_seconds", "-1"),
        ("slave_priority", "100"),
        ("slave_read_only", "1"),
        ("replica_announced", "1"),
    ] {
        assert_eq!(info_field(&i, k).as_deref(), Some(v), "{k} in {i}");
    }
    // Redis's order of the replica lines.
    let names: Vec<&str> = i.lines().filter_map(|l| l.split(':').next()).filter(|n| n.starts_with("master_") || n.starts_with("slave_")).collect();
    assert_eq!(
        &names[..10],
        [
            "master_host",
            "master_port",
            "master_link_status",
            "master_last_io_seconds_ago",
            "master_sync_in_progress",
            "slave_read_repl_offset",
            "slave_repl_offset",
            "master_link_down_since_seconds",
            "slave_priority",
            "slave_read_only",
        ]
    );
    exact(&mut raw, &["SET", "k", "v"], "-READONLY You can't write against a read only replica.\r\n");
    exact(&mut raw, &["SLAVEOF", "NO", "ONE"], "+OK\r\n");
    exact(&mut raw, &["SET", "k", "v"], "+OK\r\n");
    assert_eq!(field(&mut c, "replication", "role"), "master");
}

#[test]
fn follows_a_redis_server_primary_and_reconnects_partially() {
    let dir = temp_dir("rrep-follow");
    let port = free_port();
    let primary = Redis::start_on(&dir, port, &[]);
    let mut pc = primary.client();
    populate(&mut pc, 7);
    let node = Node::start(&["--databases", "16"]);
    let mut rc = node.client();
    let _: () = redis::cmd("SET").arg("mine").arg("gone after the full sync").query(&mut rc).unwrap();
    follow(&node, port);
    assert!(wait_caught_up(&mut rc, &mut pc), "the replica did not catch up: {}", info(&mut rc, "replication"));
    assert_same(&dataset(&mut rc, 3), &dataset(&mut pc, 3), "after the full sync");

    write_load(&mut pc, 11, 600, true);
    assert!(wait_caught_up(&mut rc, &mut pc), "the replica did not catch up: {}", info(&mut rc, "replication"));
    assert_same(&dataset(&mut rc, 3), &dataset(&mut pc, 3), "after the write load");

    // INFO and ROLE on the replica.
    let i = info(&mut rc, "replication");
    let offset = int_field(&mut pc, "replication", "master_repl_offset");
    assert_eq!(info_field(&i, "master_link_status").as_deref(), Some("up"));
    assert_eq!(info_field(&i, "master_port"), Some(port.to_string()));
    assert_eq!(info_field(&i, "master_replid"), Some(field(&mut pc, "replication", "master_replid")));
    assert_eq!(info_field(&i, "master_repl_offset"), Some(offset.to_string()));
    assert!(info_field(&i, "master_link_down_since_seconds").is_none());
    // The primary sees this node as a replica, listening on its real port.
    let pi = info(&mut pc, "replication");
    assert_eq!(info_field(&pi, "connected_slaves").as_deref(), Some("1"));
    assert!(info_field(&pi, "slave0").unwrap().contains(&format!("port={}", node.port)), "{pi}");

    // Its ACKs answer the primary's WAIT.
    let _: () = redis::cmd("SET").arg("acked").arg(1).query(&mut pc).unwrap();
    assert_eq!(q::<i64>(&mut pc, &["WAIT", "1", "5000"]), 1);

    let mut raw = node.raw();
    exact(&mut raw, &["DEL", "k0:1"], "-READONLY You can't write against a read only replica.\r\n");

    // The primary drops the link: the replica reconnects and continues partially.
    let _: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica").query(&mut pc).unwrap();
    write_load(&mut pc, 12, 100, true);
    assert!(wait_caught_up(&mut rc, &mut pc), "no reconnection: {}", info(&mut rc, "replication"));
    assert_eq!(int_field(&mut pc, "stats", "sync_partial_ok"), 1);
    assert_eq!(int_field(&mut pc, "stats", "sync_full"), 1);
    assert_same(&dataset(&mut rc, 3), &dataset(&mut pc, 3), "after the partial resync");

    // The primary restarts on the same port (its history saved in its snapshot): the
    // link comes back by itself, partially again.
    primary.shutdown_save();
    assert!(wait_for(Duration::from_secs(10), || field(&mut rc, "replication", "master_link_status") == "down"));
    let primary = Redis::start_on(&dir, port, &[]);
    let mut pc = primary.client();
    write_load(&mut pc, 13, 100, true);
    assert!(wait_caught_up(&mut rc, &mut pc), "no reconnection after the restart: {}", info(&mut rc, "replication"));
    assert_eq!(int_field(&mut pc, "stats", "sync_partial_ok"), 1, "{}", info(&mut pc, "stats"));
    assert_eq!(int_field(&mut pc, "stats", "sync_full"), 0);
    assert_same(&dataset(&mut rc, 3), &dataset(&mut pc, 3), "after the primary's restart");
}

#[test]
fn promotion_keeps_data_and_the_old_history_as_replid2() {
    let dir = temp_dir("rrep-promote");
    let primary = Redis::start_on(&dir, free_port(), &[]);
    let mut pc = primary.client();
    populate(&mut pc, 3);
    let node = Node::start(&[]);
    let mut rc = node.client();
    follow(&node, primary.port);
    write_load(&mut pc, 5, 200, true);
    assert!(wait_caught_up(&mut rc, &mut pc));
    let want = dataset(&mut pc, 3);
    let old_id = field(&mut pc, "replication", "master_replid");
    let offset = int_field(&mut rc, "replication", "master_repl_offset");
    drop(primary);

    let mut raw = node.raw();
    exact(&mut raw, &["REPLICAOF", "NO", "ONE"], "+OK\r\n");
    let i = info(&mut rc, "replication");
    assert_eq!(info_field(&i, "role").as_deref(), Some("master"));
    assert_eq!(info_field(&i, "master_replid2"), Some(old_id.clone()));
    assert_ne!(info_field(&i, "master_replid"), Some(old_id));
    assert_eq!(info_field(&i, "second_repl_offset"), Some((offset + 1).to_string()));
    assert_eq!(info_field(&i, "master_repl_offset"), Some(offset.to_string()));
    assert_same(&dataset(&mut rc, 3), &want, "after the promotion");
    exact(&mut raw, &["SET", "new", "write"], "+OK\r\n");
    // Its own writes continue the same stream.
    assert!(int_field(&mut rc, "replication", "master_repl_offset") > offset);
}

/// Needs the primary side (PSYNC served by cache-node): a redis-server replica of the old
/// primary, re-pointed at the promoted node, continues with a partial resync.
#[test]
fn a_sibling_continues_partially_from_the_promoted_node() {
    let dir = temp_dir("rrep-sibling");
    let primary = Redis::start_on(&dir, free_port(), &[]);
    let mut pc = primary.client();
    populate(&mut pc, 4);
    let node = Node::start(&[]);
    let mut rc = node.client();
    follow(&node, primary.port);
    let sdir = temp_dir("rrep-sibling-r");
    let sibling = Redis::start_on(&sdir, free_port(), &["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let mut sc = sibling.client();
    write_load(&mut pc, 6, 200, true);
    assert!(wait_caught_up(&mut rc, &mut pc));
    assert!(wait_caught_up(&mut sc, &mut pc));
    drop(primary);
    exact(&mut node.raw(), &["REPLICAOF", "NO", "ONE"], "+OK\r\n");
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(node.port).query(&mut sc).unwrap();
    write_load(&mut rc, 8, 100, false);
    assert!(wait_caught_up(&mut sc, &mut rc));
    assert!(field(&mut sc, "replication", "master_replid") == field(&mut rc, "replication", "master_replid"));
    assert_same(&dataset(&mut sc, 3), &dataset(&mut rc, 3), "sibling");
    // Served from the promoted node's backlog under its replid2: no full resync.
    assert_eq!(int_field(&mut rc, "stats", "sync_full"), 0, "{}", info(&mut rc, "stats"));
    assert_eq!(int_field(&mut rc, "stats", "sync_partial_ok"), 1);
}

/// Needs the primary side: cache-node following cache-node.
#[test]
fn follows_a_cache_node_primary() {
    let primary = Node::start(&[]);
    let mut pc = primary.client();
    populate(&mut pc, 9);
    let node = Node::start(&[]);
    let mut rc = node.client();
    follow(&node, primary.port);
    write_load(&mut pc, 10, 300, false);
    assert!(wait_caught_up(&mut rc, &mut pc), "{}", info(&mut rc, "replication"));
    assert_same(&dataset(&mut rc, 3), &dataset(&mut pc, 3), "cache-node replica");
}

#[test]
fn expired_keys_go_only_when_the_primary_deletes_them() {
    let dir = temp_dir("rrep-expiry");
    let primary = Redis::start_on(&dir, free_port(), &["--enable-debug-command", "yes"]);
    let mut pc = primary.client();
    // The primary keeps its expired key until told otherwise.
    let _: () = redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(0).query(&mut pc).unwrap();
    let node = Node::start(&[]);
    let mut rc = node.client();
    follow(&node, primary.port);
    let _: () = redis::cmd("SET").arg("short").arg("v").arg("PX").arg(300).query(&mut pc).unwrap();
    let _: () = redis::cmd("SET").arg("other").arg("v").query(&mut pc).unwrap();
    assert!(wait_caught_up(&mut rc, &mut pc));
    // Past its TTL, reads hide it, but the replica keeps it (its clock does not decide).
    assert!(wait_for(Duration::from_secs(5), || q::<Option<String>>(&mut rc, &["GET", "short"]).is_none()));
    assert_eq!(q::<i64>(&mut rc, &["EXISTS", "short"]), 0);
    let dbsize_stays = !wait_for(Duration::from_millis(1500), || q::<i64>(&mut rc, &["DBSIZE"]) != 2);
    assert!(dbsize_stays, "the replica deleted an expired key on its own");
    // The primary's DEL (its lazy expiry on access) removes it.
    let _: Option<String> = q(&mut pc, &["GET", "short"]);
    assert!(wait_for(Duration::from_secs(5), || q::<i64>(&mut rc, &["DBSIZE"]) == 1));
}

/// ROLE is answered by the primary side's handler (it asks `replica::role_state`).
#[test]
fn role_reports_the_link() {
    let dir = temp_dir("rrep-role");
    let primary = Redis::start_on(&dir, free_port(), &[]);
    let mut pc = primary.client();
    let node = Node::start(&[]);
    let mut rc = node.client();
    let dead = free_port();
    follow(&node, dead);
    let role: Vec<redis::Value> = q(&mut rc, &["ROLE"]);
    assert_eq!(role.len(), 5, "{role:?}");
    assert_eq!(role[0], redis::Value::BulkString(b"slave".to_vec()));
    assert_eq!(role[1], redis::Value::BulkString(b"127.0.0.1".to_vec()));
    assert_eq!(role[2], redis::Value::Int(i64::from(dead)));
    assert!(matches!(&role[3], redis::Value::BulkString(s) if s == b"connect" || s == b"connecting"), "{role:?}");
    assert_eq!(role[4], redis::Value::Int(-1));
    follow(&node, primary.port);
    write_load(&mut pc, 1, 50, true);
    assert!(wait_caught_up(&mut rc, &mut pc));
    let offset = int_field(&mut pc, "replication", "master_repl_offset");
    let role: Vec<redis::Value> = q(&mut rc, &["ROLE"]);
    assert_eq!(role[3], redis::Value::BulkString(b"connected".to_vec()));
    assert_eq!(role[4], redis::Value::Int(offset));
}

#[test]
fn a_full_sync_in_progress_shows_in_info_and_replicaof_no_one_stops_it_promptly() {
    // Redis waits `repl-diskless-sync-delay` (5 s by default) before it sends the
    // snapshot: the link is stopped while it waits for the snapshot's header.
    replicaof_no_one_during_a_full_sync("rrep-slow", &[], false);
}

#[test]
fn replicaof_no_one_stops_a_snapshot_in_the_middle_of_its_transfer() {
    // The transfer starts at once and the link is stopped while the snapshot loader
    // waits for the next bytes.
    replicaof_no_one_during_a_full_sync("rrep-midway", &["--repl-diskless-sync-delay", "0"], true);
}

fn replicaof_no_one_during_a_full_sync(name: &str, primary_args: &[&str], midway: bool) {
    let dir = temp_dir(name);
    // Every key takes 20 ms to save: the transfer lasts seconds.
    let mut args = vec!["--rdb-key-save-delay", "20000"];
    args.extend_from_slice(primary_args);
    let primary = Redis::start_on(&dir, free_port(), &args);
    let mut pc = primary.client();
    populate(&mut pc, 21);
    let node = Node::start(&[]);
    let mut rc = node.client();
    follow(&node, primary.port);
    assert!(wait_for(Duration::from_secs(10), || field(&mut rc, "replication", "master_sync_in_progress") == "1"));
    if midway {
        assert!(wait_for(Duration::from_secs(10), || int_field(&mut rc, "replication", "master_sync_read_bytes") > 0));
    }
    let i = info(&mut rc, "replication");
    // The disk-less format announces no size (Redis reports -1 as well).
    assert_eq!(info_field(&i, "master_sync_total_bytes").as_deref(), Some("-1"), "{i}");
    assert_eq!(info_field(&i, "master_sync_in_progress").as_deref(), Some("1"), "the transfer ended before the test stopped it: {i}");
    for f in ["master_sync_read_bytes", "master_sync_left_bytes", "master_sync_perc", "master_sync_last_io_seconds_ago", "master_link_down_since_seconds"] {
        assert!(info_field(&i, f).is_some(), "{f} missing in {i}");
    }
    assert_eq!(info_field(&i, "master_link_status").as_deref(), Some("down"));
    let started = std::time::Instant::now();
    exact(&mut node.raw(), &["REPLICAOF", "NO", "ONE"], "+OK\r\n");
    assert!(started.elapsed() < Duration::from_secs(2), "REPLICAOF NO ONE took {:?}", started.elapsed());
    assert_eq!(field(&mut rc, "replication", "role"), "master");
    exact(&mut node.raw(), &["SET", "k", "v"], "+OK\r\n");
    // The primary sees its replica go.
    assert!(wait_for(Duration::from_secs(10), || field(&mut pc, "replication", "connected_slaves") == "0"));
}

#[test]
fn a_full_sync_in_the_sized_format_and_an_aof_that_follows_it() {
    let dir = temp_dir("rrep-sized");
    let primary = Redis::start_on(&dir, free_port(), &["--repl-diskless-sync", "no"]);
    let mut pc = primary.client();
    populate(&mut pc, 31);
    let ndir = temp_dir("rrep-sized-node");
    let node = persistence::start_in(&ndir, &["--appendonly", "yes"]);
    let mut rc = node.client();
    let _: () = redis::cmd("SET").arg("mine").arg("replaced by the primary's data").query(&mut rc).unwrap();
    follow(&node, primary.port);
    write_load(&mut pc, 32, 200, true);
    assert!(wait_caught_up(&mut rc, &mut pc), "{}", info(&mut rc, "replication"));
    let want = dataset(&mut pc, 3);
    assert_same(&dataset(&mut rc, 3), &want, "sized transfer");
    // The AOF was rewritten after the sync and logs the stream: a restart has it all.
    assert!(wait_for(Duration::from_secs(10), || field(&mut rc, "persistence", "aof_rewrite_in_progress") == "0"
        && int_field(&mut rc, "persistence", "aof_rewrites") >= 1));
    // A clean stop (the AOF is flushed): what it holds is then exactly what was applied.
    let mut node = node;
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut rc);
    assert!(node.wait_exit(Duration::from_secs(10)).is_some());
    let node = persistence::start_in(&ndir, &["--appendonly", "yes"]);
    let mut rc = node.client();
    assert_same(&dataset(&mut rc, 3), &want, "restarted from its AOF");
}

/// A scripted primary checks the handshake, the offsets (GETACK answers exactly the bytes
/// applied, itself included), MULTI/EXEC, an unknown command, the database kept across a partial
/// resync and a new replication id adopted on +CONTINUE.
#[test]
fn the_protocol_against_a_scripted_primary() {
    use common::resp;
    let snapshot = replication_replica_support::redis_snapshot("loaded", "from the rdb");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let node = Node::start(&["--masterauth", "pw", "--masteruser", "repl", "--replica-announce-ip", "10.1.2.3"]);
    let mut rc = node.client();
    follow(&node, port);
    let mut p = replication_replica_support::FakePrimary::accept(&l);
    p.expect(&["PING"], "-NOAUTH Authentication required.\r\n");
    p.expect(&["AUTH", "repl", "pw"], "+OK\r\n");
    p.expect(&["REPLCONF", "listening-port", &node.port.to_string()], "+OK\r\n");
    p.expect(&["REPLCONF", "ip-address", "10.1.2.3"], "+OK\r\n");
    p.expect(&["REPLCONF", "capa", "eof", "capa", "psync2"], "+OK\r\n");
    let psync = p.expect(&["PSYNC", "*", "1"], "");
    assert_eq!(psync[1].len(), 40);
    let id = "a".repeat(40);
    let mark = "m".repeat(40);
    p.send(format!("+FULLRESYNC {id} 1000\r\n\n\n$EOF:{mark}\r\n").as_bytes());
    p.send(&snapshot);
    p.send(mark.as_bytes());
    let mut stream = Vec::new();
    for cmd in [&["SELECT", "1"][..], &["SET", "a", "1"], &["MULTI"], &["SET", "b", "2"], &["INCR", "b"], &["EXEC"], &["NOSUCHCMD", "x"], &["PING"]] {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        stream.extend_from_slice(&resp(&args));
    }
    p.send(&stream);
    let before_getack = 1000 + stream.len() as u64;
    let getack = resp(&[b"REPLCONF", b"GETACK", b"*"]);
    p.send(&getack);
    // The answer counts the GETACK itself: a primary waiting for the whole stream
    // (FAILOVER) sees it at once.
    let end = before_getack + getack.len() as u64;
    p.wait_ack(end);
    assert!(wait_for(Duration::from_secs(10), || int_field(&mut rc, "replication", "master_repl_offset") == end as i64));
    let i = info(&mut rc, "replication");
    assert_eq!(info_field(&i, "master_replid"), Some(id.clone()));
    assert_eq!(info_field(&i, "master_link_status").as_deref(), Some("up"));
    assert_eq!(q::<String>(&mut rc, &["GET", "loaded"]), "from the rdb");
    let _: () = redis::cmd("SELECT").arg(1).query(&mut rc).unwrap();
    assert_eq!((q::<i64>(&mut rc, &["GET", "a"]), q::<i64>(&mut rc, &["GET", "b"])), (1, 3));
    // The log is read by another thread: wait for the line, do not expect it at once.
    assert!(wait_for(Duration::from_secs(10), || node.log().iter().any(|l| l.contains("NOSUCHCMD"))), "the unknown command is logged");

    // The link breaks; the replica asks to continue right after what it applied, and
    // keeps the database its primary had selected.
    drop(p);
    let mut p = replication_replica_support::FakePrimary::accept(&l);
    p.expect(&["PING"], "+PONG\r\n");
    p.expect(&["AUTH", "repl", "pw"], "+OK\r\n");
    p.expect(&["REPLCONF", "listening-port", "*"], "+OK\r\n");
    p.expect(&["REPLCONF", "ip-address", "*"], "+OK\r\n");
    p.expect(&["REPLCONF", "capa", "eof", "capa", "psync2"], "+OK\r\n");
    let new_id = "b".repeat(40);
    p.expect(&["PSYNC", &id, &(end + 1).to_string()], &format!("+CONTINUE {new_id}\r\n"));
    let set_c = resp(&[b"SET", b"c", b"3"]);
    p.send(&set_c);
    p.send(&getack);
    p.wait_ack(end + set_c.len() as u64 + getack.len() as u64);
    assert_eq!(q::<i64>(&mut rc, &["GET", "c"]), 3, "applied in database 1");
    let i = info(&mut rc, "replication");
    assert_eq!(info_field(&i, "master_replid"), Some(new_id));
    assert_eq!(info_field(&i, "master_replid2"), Some(id));
    assert_eq!(info_field(&i, "second_repl_offset"), Some((end + 1).to_string()));
}

#[test]
fn authenticates_with_masterauth() {
    let dir = temp_dir("rrep-auth");
    let primary = Redis::start_on(&dir, free_port(), &["--requirepass", "secret"]);
    let mut pc = redis::Client::open(format!("redis://:secret@127.0.0.1:{}", primary.port)).unwrap().get_connection().unwrap();
    populate(&mut pc, 41);
    let node = Node::start(&["--masterauth", "wrong"]);
    let mut rc = node.client();
    follow(&node, primary.port);
    // Refused: the link stays down and retries.
    assert!(wait_for(Duration::from_secs(10), || node.log().iter().any(|l| l.contains("AUTH"))));
    assert_eq!(field(&mut rc, "replication", "master_link_status"), "down");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("masterauth").arg("secret").query(&mut rc).unwrap();
    assert!(wait_caught_up(&mut rc, &mut pc), "{}", info(&mut rc, "replication"));
    assert_same(&dataset(&mut rc, 3), &dataset(&mut pc, 3), "with masterauth");
}
