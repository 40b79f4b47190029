//! Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) with several
//! connections: served at once when data is there, woken by a push from another client,
//! first blocked first served, null after the timeout, and a blocked client that goes
//! away leaves the line. Waits are bounded; a client is known to be blocked when INFO's
//! `blocked_clients` says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};

fn blocked(c: &mut redis::Connection) -> usize {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    info_field(&info, "blocked_clients").and_then(|v| v.parse().ok()).unwrap()
}

fn wait_blocked(c: &mut redis::Connection, n: usize) {
    assert!(wait_for(Duration::from_secs(10), || blocked(c) == n), "expected {n} blocked clients, have {}", blocked(c));
}

fn send(raw: &mut Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    raw.send(&resp(&a));
}

fn expect(raw: &mut Raw, want: &str) {
    let got = raw.read_exact_len(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn data_already_there_is_served_at_once_in_every_form() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "RPUSH q a b c d e", ":5\r\n");
    rt(&mut r, "BLPOP missing q 0", "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    rt(&mut r, "BRPOP q 1", "*2\r\n$1\r\nq\r\n$1\r\ne\r\n");
    rt(&mut r, "BLMOVE q d LEFT RIGHT 0", "$1\r\nb\r\n");
    rt(&mut r, "BRPOPLPUSH q d 0", "$1\r\nd\r\n");
    rt(&mut r, "BLMPOP 0 2 x q RIGHT COUNT 5", "*2\r\n$1\r\nq\r\n*1\r\n$1\r\nc\r\n");
    rt(&mut r, "EXISTS q", ":0\r\n");
    rt(&mut r, "LRANGE d 0 -1", "*2\r\n$1\r\nd\r\n$1\r\nb\r\n");
}

#[test]
fn errors_are_redis_s() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "SET s x", OK);
    err(&mut r, &["BLPOP", "s", "0"], "WRONGTYPE Operation against a key holding the wrong kind of value");
    err(&mut r, &["BLPOP", "q", "-1"], "ERR timeout is negative");
    err(&mut r, &["BLPOP", "q", "abc"], "ERR timeout is not a float or out of range");
    err(&mut r, &["BLMPOP", "0", "0", "q", "LEFT"], "ERR numkeys should be greater than 0");
    err(&mut r, &["BLMOVE", "q", "d", "UP", "LEFT", "0"], "ERR syntax error");
    err(&mut r, &["BLPOP", "q"], "ERR wrong number of arguments for 'blpop' command");
    err(&mut r, &["BLMPOP", "0", "1", "q"], "ERR wrong number of arguments for 'blmpop' command");
    // The connection still works: the errors blocked nothing.
    rt(&mut r, "PING", "+PONG\r\n");
}

#[test]
fn timeouts_answer_null_in_both_protocols_and_not_before_the_deadline() {
    let node = Node::start(&[]);
    let mut r2 = node.raw();
    let started = Instant::now();
    rt(&mut r2, "BLPOP q 0.2", "*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(200), "answered after {:?}", started.elapsed());
    rt(&mut r2, "BLMOVE q d LEFT LEFT 0.05", "$-1\r\n");
    rt(&mut r2, "BLMPOP 0.05 1 q LEFT", "*-1\r\n");
    let mut r3 = node.raw();
    hello3(&mut r3);
    rt(&mut r3, "BRPOP q 0.05", "_\r\n");
    rt(&mut r3, "BRPOPLPUSH q d 0.05", "_\r\n");
    // The client left the line when it timed out.
    let mut c = node.client();
    assert_eq!(blocked(&mut c), 0);
}

#[test]
fn a_push_from_another_client_wakes_the_blocked_one() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut waiter = node.raw();
    send(&mut waiter, &["BLPOP", "a", "b", "0"]);
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["RPUSH", "b", "x", "y"]);
    expect(&mut waiter, "*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
    let left: Vec<String> = q(&mut c, &["LRANGE", "b", "0", "-1"]);
    assert_eq!(left, vec!["y"]);
    assert_eq!(blocked(&mut c), 0);

    // BLMOVE: the element lands in the destination, atomically with the pop.
    send(&mut waiter, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["LPUSH", "src", "job"]);
    expect(&mut waiter, "$3\r\njob\r\n");
    let dst: Vec<String> = q(&mut c, &["LRANGE", "dst", "0", "-1"]);
    assert_eq!(dst, vec!["job"]);

    // BLMPOP with a count takes what is there, up to the count.
    send(&mut waiter, &["BLMPOP", "0", "1", "m", "LEFT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["RPUSH", "m", "1", "2", "3"]);
    expect(&mut waiter, "*2\r\n$1\r\nm\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

#[test]
fn first_blocked_is_first_served() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut waiters: Vec<Raw> = Vec::new();
    for i in 0..3 {
        let mut w = node.raw();
        send(&mut w, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, i + 1);
        waiters.push(w);
    }
    // One push of three elements: each waiter gets one, in the order they blocked.
    let _: i64 = q(&mut c, &["RPUSH", "q", "first", "second", "third"]);
    for (w, want) in waiters.iter_mut().zip(["first", "second", "third"]) {
        expect(w, &format!("*2\r\n$1\r\nq\r\n${}\r\n{want}\r\n", want.len()));
    }
    // Pushes one at a time keep the same order.
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BRPOP", "q", "0"]);
        wait_blocked(&mut c, i + 1);
    }
    for (i, want) in ["x", "y", "z"].iter().enumerate() {
        let _: i64 = q(&mut c, &["RPUSH", "q", want]);
        expect(&mut waiters[i], &format!("*2\r\n$1\r\nq\r\n$1\r\n{want}\r\n"));
    }
}

#[test]
fn commands_pipelined_behind_a_blocked_one_run_after_it() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut w = node.raw();
    let mut batch = resp(&[b"BLPOP", b"q", b"0"]);
    batch.extend(resp(&[b"ECHO", b"after"]));
    w.send(&batch);
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["RPUSH", "q", "v"]);
    expect(&mut w, "*2\r\n$1\r\nq\r\n$1\r\nv\r\n$5\r\nafter\r\n");
}

#[test]
fn a_client_that_goes_away_leaves_the_line_and_takes_nothing() {
    let node = Node::start(&[]);
    let mut c = node.client();
    {
        let mut gone = node.raw();
        send(&mut gone, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, 1);
    } // closed while blocked
    wait_blocked(&mut c, 0);
    let mut next = node.raw();
    send(&mut next, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["RPUSH", "q", "v"]);
    expect(&mut next, "*2\r\n$1\r\nq\r\n$1\r\nv\r\n");

    // CLIENT KILL of a blocked client ends its wait too.
    let mut victim = node.raw();
    send(&mut victim, &["CLIENT", "ID"]);
    let line = read_line(&mut victim);
    let id = line.trim_start_matches(':').trim().to_string();
    send(&mut victim, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    let killed: i64 = q(&mut c, &["CLIENT", "KILL", "ID", &id]);
    assert_eq!(killed, 1);
    wait_blocked(&mut c, 0);
    let _: i64 = q(&mut c, &["RPUSH", "q", "kept"]);
    let len: i64 = q(&mut c, &["LLEN", "q"]);
    assert_eq!(len, 1, "a killed client must not take the element");
}

#[test]
fn a_key_that_becomes_another_type_keeps_the_client_blocked() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut w = node.raw();
    send(&mut w, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    let _: () = q(&mut c, &["SET", "k", "string"]);
    let _: i64 = q(&mut c, &["DEL", "k"]);
    let _: i64 = q(&mut c, &["RPUSH", "k", "v"]);
    expect(&mut w, "*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
}

#[test]
fn no_element_is_lost_or_doubled_with_many_blocked_consumers() {
    let node = Node::start(&[]);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = node.client();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let v: Option<(String, String)> = redis::cmd("BRPOP").arg("a").arg("b").arg(10).query(&mut c).unwrap();
                    match v {
                        Some((_, v)) if v == "end" => return got,
                        Some((_, v)) => got.push(v),
                        None => panic!("waited 10 s for elements that were pushed"),
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|key| {
            let mut c = node.client();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let _: i64 = q(&mut c, &["LPUSH", key, &format!("{key}{i}")]);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut c = node.client();
    // The end markers go in only once every element was taken: pushed earlier, a marker
    // would overtake the elements still queued behind it.
    let drained = wait_for(Duration::from_secs(20), || {
        let (a, b): (i64, i64) = (q(&mut c, &["LLEN", "a"]), q(&mut c, &["LLEN", "b"]));
        a + b == 0
    });
    assert!(drained, "the consumers stopped taking elements");
    for _ in 0..4 {
        let _: i64 = q(&mut c, &["RPUSH", "a", "end"]);
    }
    let mut all: Vec<String> = consumers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, 1000, "every element delivered");
    assert_eq!(all.len(), 1000, "none twice");
}

#[test]
fn sorted_set_pops_block_and_are_served_like_redis() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut r = node.raw();
    rt(&mut r, "ZADD z 1.5 a 2 b 3 c", ":3\r\n");
    rt(&mut r, "BZPOPMIN missing z 0", "*3\r\n$1\r\nz\r\n$1\r\na\r\n$3\r\n1.5\r\n");
    rt(&mut r, "BZPOPMAX z 0", "*3\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\n3\r\n");
    rt(&mut r, "BZMPOP 0 1 z MAX COUNT 5", "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    rt(&mut r, "BZPOPMIN z 0.05", "*-1\r\n");
    rt(&mut r, "BZMPOP 0.05 1 z MIN", "*-1\r\n");
    err(&mut r, &["BZMPOP", "0", "1", "z", "UP"], "ERR syntax error");
    rt(&mut r, "SET s x", OK);
    err(&mut r, &["BZPOPMIN", "s", "0"], "WRONGTYPE Operation against a key holding the wrong kind of value");

    let mut r3 = node.raw();
    hello3(&mut r3);
    send(&mut r3, &["BZPOPMIN", "lb", "0"]);
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["ZADD", "lb", "7", "x", "5", "y"]);
    expect(&mut r3, "*3\r\n$2\r\nlb\r\n$1\r\ny\r\n,5\r\n");
    send(&mut r3, &["BZMPOP", "0", "2", "none", "lb", "MAX"]);
    expect(&mut r3, "*2\r\n$2\r\nlb\r\n*1\r\n*2\r\n$1\r\nx\r\n,7\r\n");
    rt(&mut r3, "BZPOPMAX lb 0.05", "_\r\n");
}
