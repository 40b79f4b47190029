//! Database commands against the real binary: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB.
// Tests fail by panicking; unwrap and expect are how they say so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use redis::Connection;

/// Fills database `db` with `n` keys named `prefix:i`, some with a TTL.
fn fill(c: &mut Connection, db: usize, prefix: &str, n: usize) {
    let mut p = redis::pipe();
    p.cmd("SELECT").arg(db).ignore();
    for i in 0..n {
        if i % 3 == 0 {
            p.cmd("SET").arg(format!("{prefix}:{i}")).arg(i).arg("EX").arg(1000).ignore();
        } else {
            p.cmd("SET").arg(format!("{prefix}:{i}")).arg(i).ignore();
        }
    }
    p.cmd("SELECT").arg(0).ignore();
    let _: () = p.query(c).unwrap();
}

fn size(c: &mut Connection, db: usize) -> i64 {
    let mut p = redis::pipe();
    p.cmd("SELECT").arg(db).ignore().cmd("DBSIZE").cmd("SELECT").arg(0).ignore();
    let (n,): (i64,) = p.query(c).unwrap();
    n
}

#[test]
fn dbsize_counts_each_database() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    exact(&mut raw, &["DBSIZE"], ":0\r\n");
    fill(&mut c, 0, "a", 10);
    fill(&mut c, 1, "b", 250);
    fill(&mut c, 15, "c", 1);
    assert_eq!((size(&mut c, 0), size(&mut c, 1), size(&mut c, 15), size(&mut c, 2)), (10, 250, 1, 0));
    exact(&mut raw, &["DBSIZE"], ":10\r\n");
    err(&mut raw, &["DBSIZE", "x"], "ERR wrong number of arguments for 'dbsize' command");
    let mut c3 = node.client3();
    assert_eq!(q::<redis::Value>(&mut c3, &["DBSIZE"]), redis::Value::Int(10));
}

#[test]
fn flushdb_empties_only_the_selected_database() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    for mode in [None, Some("SYNC"), Some("async"), Some("ASYNC")] {
        fill(&mut c, 0, "a", 2000);
        fill(&mut c, 4, "b", 30);
        let mut args = vec!["FLUSHDB"];
        args.extend(mode);
        exact(&mut raw, &args, "+OK\r\n");
        assert_eq!((size(&mut c, 0), size(&mut c, 4)), (0, 30), "{mode:?}");
        // The database works normally afterwards, TTLs included.
        let _: () = q(&mut c, &["SET", "again", "v", "EX", "100"]);
        assert!(q::<i64>(&mut c, &["TTL", "again"]) > 0);
        let _: () = q(&mut c, &["FLUSHDB"]);
        let _: () = q(&mut c, &["SELECT", "4"]);
        let _: () = q(&mut c, &["FLUSHDB"]);
        let _: () = q(&mut c, &["SELECT", "0"]);
    }
    err(&mut raw, &["FLUSHDB", "foo"], "ERR syntax error");
    err(&mut raw, &["FLUSHDB", "ASYNC", "SYNC"], "ERR syntax error");
    err(&mut raw, &["FLUSHDB", "SYNC", "SYNC"], "ERR syntax error");
}

#[test]
fn flushall_empties_every_database() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    for mode in [None, Some("sync"), Some("ASYNC")] {
        for db in [0, 3, 15] {
            fill(&mut c, db, "k", 3000);
        }
        let mut args = vec!["FLUSHALL"];
        args.extend(mode);
        exact(&mut raw, &args, "+OK\r\n");
        for db in [0, 3, 15] {
            assert_eq!(size(&mut c, db), 0, "db {db} after {mode:?}");
        }
    }
    // lazyfree-lazy-user-flush makes the default ASYNC; the result is the same.
    let _: () = q(&mut c, &["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"]);
    fill(&mut c, 2, "k", 5000);
    exact(&mut raw, &["FLUSHALL"], "+OK\r\n");
    assert_eq!(size(&mut c, 2), 0);
    err(&mut raw, &["FLUSHALL", "bar"], "ERR syntax error");
    err(&mut raw, &["FLUSHALL", "sync", "sync"], "ERR syntax error");
    exact(&mut raw, &["FLUSHALL"], "+OK\r\n");
}

#[test]
fn swapdb_exchanges_contents_for_every_client() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut raw = node.raw();
    fill(&mut c, 0, "zero", 100);
    fill(&mut c, 1, "one", 7);
    // A client parked in database 1 sees database 0's old contents after the swap.
    let mut other = node.client();
    let _: () = q(&mut other, &["SELECT", "1"]);
    exact(&mut raw, &["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(q::<i64>(&mut other, &["DBSIZE"]), 100);
    assert_eq!(q::<String>(&mut other, &["GET", "zero:5"]), "5");
    assert!(q::<i64>(&mut other, &["TTL", "zero:3"]) > 0, "TTLs travel with the data");
    assert_eq!(size(&mut c, 0), 7);
    assert_eq!(q::<String>(&mut c, &["GET", "one:2"]), "2");
    exact(&mut raw, &["SWAPDB", "1", "1"], "+OK\r\n");
    exact(&mut raw, &["SWAPDB", "15", "0"], "+OK\r\n");
    assert_eq!((size(&mut c, 0), size(&mut c, 15)), (0, 7));
    err(&mut raw, &["SWAPDB", "x", "0"], "ERR invalid first DB index");
    err(&mut raw, &["SWAPDB", "0", "x"], "ERR invalid second DB index");
    err(&mut raw, &["SWAPDB", "x", "y"], "ERR invalid first DB index");
    err(&mut raw, &["SWAPDB", "0", "99999999999"], "ERR invalid second DB index");
    err(&mut raw, &["SWAPDB", "0", "16"], "ERR DB index is out of range");
    err(&mut raw, &["SWAPDB", "-1", "0"], "ERR DB index is out of range");
    err(&mut raw, &["SWAPDB", "0"], "ERR wrong number of arguments for 'swapdb' command");
}

#[test]
fn databases_option_bounds_every_db_argument() {
    let node = Node::start(&["--databases", "2"]);
    let mut c = node.client();
    let mut raw = node.raw();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    err(&mut raw, &["SWAPDB", "0", "2"], "ERR DB index is out of range");
    err(&mut raw, &["MOVE", "k", "2"], "ERR DB index is out of range");
    err(&mut raw, &["COPY", "k", "k", "DB", "2"], "ERR DB index is out of range");
    exact(&mut raw, &["SWAPDB", "0", "1"], "+OK\r\n");
    // k now lives in database 1, so there is nothing to move from database 0.
    exact(&mut raw, &["MOVE", "k", "1"], ":0\r\n");
}

/// FLUSHALL takes every partition lock of every database while another client writes
/// through them: neither side deadlocks and the final flush leaves nothing behind.
#[test]
fn flushall_while_another_client_writes() {
    let node = Node::start(&[]);
    let mut w = node.client();
    let mut f = node.client();
    let writer = std::thread::spawn(move || {
        for round in 0..20 {
            let mut p = redis::pipe();
            for i in 0..500 {
                p.cmd("SET").arg(format!("r{round}:{i}")).arg(i).ignore();
            }
            let _: () = p.query(&mut w).unwrap();
        }
        w
    });
    for _ in 0..20 {
        let _: () = q(&mut f, &["FLUSHALL"]);
    }
    let mut w = writer.join().unwrap();
    let _: () = q(&mut f, &["FLUSHALL"]);
    assert_eq!(q::<i64>(&mut w, &["DBSIZE"]), 0);
    assert_eq!(q::<Vec<String>>(&mut w, &["KEYS", "*"]), Vec::<String>::new());
}
