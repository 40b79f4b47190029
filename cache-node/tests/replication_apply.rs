//! How a replica applies its primary's stream: large pipelined bursts (many commands per
//! read, transactions spanning reads, several databases) converge exactly, down a chain
//! of replicas (a replica's own replicas get its primary's stream verbatim from its
//! backlog), with offsets identical byte for byte; WAIT sees the replica as soon as it
//! applied a burst; a link broken in the middle of a burst resumes partially without
//! applying anything twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use persistence::*;

/// Waits until `replica` has applied everything `upstream` holds, then checks the
/// offsets agree byte for byte.
fn wait_caught_up(upstream: &mut redis::Connection, replica: &mut redis::Connection) {
    let ok = wait_for(Duration::from_secs(60), || {
        let want = repl_info(upstream, "master_repl_offset");
        repl_info(replica, "master_link_status") == "up" && repl_info(replica, "slave_repl_offset") == want
    });
    assert!(ok, "replica did not catch up: upstream {} replica {}", repl_info(upstream, "master_repl_offset"), repl_info(replica, "slave_repl_offset"));
    assert_eq!(repl_info(replica, "master_repl_offset"), repl_info(upstream, "master_repl_offset"));
    assert_eq!(repl_info(replica, "slave_read_repl_offset"), repl_info(upstream, "master_repl_offset"));
}

/// One burst: `n` groups of writes in several databases, every tenth group a
/// transaction of 100 writes (several KiB: it spans the replica's reads), as one
/// pipeline, so the replica receives it back to back.
fn burst(c: &mut redis::Connection, round: u64, n: u64) {
    let mut p = redis::pipe();
    for i in 0..n {
        let db = i % 3;
        p.cmd("SELECT").arg(db).ignore();
        p.cmd("SET").arg(format!("k{}", i % 5000)).arg(format!("{round}-{i}")).ignore();
        p.cmd("INCR").arg("ctr").ignore();
        p.cmd("RPUSH").arg(format!("l{}", i % 20)).arg(i).ignore();
        p.cmd("SET").arg(format!("ttl{}", i % 300)).arg(i).arg("PX").arg(600_000).ignore();
        p.cmd("HSET").arg(format!("h{}", i % 40)).arg(format!("f{}", i % 7)).arg(round).ignore();
        if i % 10 == 0 {
            p.cmd("MULTI").ignore();
            for j in 0..100 {
                p.cmd("INCRBY").arg(format!("tx{}", j % 10)).arg(j).ignore();
            }
            p.cmd("EXEC").ignore();
        }
        if i % 97 == 0 {
            p.cmd("DEL").arg(format!("l{}", i % 20)).ignore();
        }
    }
    p.cmd("SELECT").arg(0).ignore();
    let () = p.query(c).unwrap();
}

fn assert_same_data(got: &mut redis::Connection, want: &mut redis::Connection, what: &str) {
    let w = dataset(want, 4);
    let g = dataset(got, 4);
    assert_same(&g, &w, what);
    assert_eq!(g.len(), w.len(), "{what}: key counts");
}

#[test]
fn pipelined_bursts_converge_down_a_chain_with_exact_offsets() {
    let primary = Node::start(&[]);
    let mut p = primary.client();
    let r1 = replica_of(&primary, &[]);
    let r2 = replica_of(&r1, &[]);
    let (mut c1, mut c2) = (r1.client(), r2.client());
    for round in 0..4 {
        burst(&mut p, round, 3000);
        // WAIT: the replica answers the GETACK that follows the burst once it applied it.
        let acked: i64 = q(&mut p, &["WAIT", "1", "20000"]);
        assert_eq!(acked, 1, "round {round}");
    }
    wait_caught_up(&mut p, &mut c1);
    wait_caught_up(&mut c1, &mut c2);
    assert_eq!(repl_info(&mut c2, "master_repl_offset"), repl_info(&mut p, "master_repl_offset"));
    assert_same_data(&mut c1, &mut p, "replica");
    assert_same_data(&mut c2, &mut p, "replica of the replica");
    let ctr: Vec<i64> = (0..3)
        .map(|db| {
            let () = q(&mut c2, &["SELECT", &db.to_string()]);
            q(&mut c2, &["GET", "ctr"])
        })
        .collect();
    assert_eq!(ctr, [4000, 4000, 4000], "every INCR applied exactly once");
}

#[test]
fn a_link_broken_mid_burst_resumes_partially_without_applying_twice() {
    // A backlog large enough for every reconnection to continue partially.
    let primary = Node::start(&["--repl-backlog-size", "64mb"]);
    let mut p = primary.client();
    let r = replica_of(&primary, &[]);
    let mut c = r.client();
    let stop = Arc::new(AtomicBool::new(false));
    // Cut the replica's link again and again while the bursts stream.
    let killer = {
        let (stop, mut k) = (stop.clone(), primary.client());
        std::thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(150));
                kills += q::<i64>(&mut k, &["CLIENT", "KILL", "TYPE", "replica"]);
            }
            kills
        })
    };
    for round in 0..8 {
        burst(&mut p, round, 1500);
    }
    stop.store(true, Ordering::Relaxed);
    let kills = killer.join().unwrap();
    assert!(kills > 0, "no link was cut");
    wait_caught_up(&mut p, &mut c);
    assert_same_data(&mut c, &mut p, "replica");
    // Every reconnection continued from the replica's offset: no full resync after the
    // first, which a wrong offset (or a stream applied twice) would have forced.
    let stats: String = q(&mut p, &["INFO", "stats"]);
    assert_eq!(info_field(&stats, "sync_full").as_deref(), Some("1"), "{stats}");
    assert!(info_field(&stats, "sync_partial_ok").unwrap().parse::<u64>().unwrap() > 0);
}
