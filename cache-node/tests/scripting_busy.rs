//! A script that does not end: other clients wait, then get BUSY once it has run past
//! `busy-reply-threshold`; SCRIPT KILL stops it unless it has written; everyone
//! recovers. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;

const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

fn eval_err(c: &mut redis::Connection, script: &str) -> String {
    let e = redis::cmd("EVAL").arg(script).arg(0).query::<redis::Value>(c).unwrap_err();
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

/// Sends GET on a raw connection until the reply is BUSY (bounded).
fn wait_busy(node: &Node) {
    let mut raw = node.raw();
    let busy = wait_for(Duration::from_secs(20), || {
        raw.send(&resp(&[b"GET", b"k"]));
        read_line(&mut raw) == format!("-{BUSY}")
    });
    assert!(busy, "never answered BUSY");
}

#[test]
fn a_looping_script_is_killed_while_others_get_busy_then_recover() {
    let node = Node::start(&["--busy-reply-threshold", "200"]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let runner = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut c = node.client();
            eval_err(&mut c, "local i = 0 while true do i = i + 1 end")
        });
        wait_busy(&node);
        let mut other = node.raw();
        err(&mut other, &["SET", "x", "1"], BUSY);
        // The legacy name of the threshold is accepted too.
        err(&mut other, &["CONFIG", "GET", "lua-time-limit"], BUSY);
        exact(&mut other, &["SCRIPT", "KILL"], "+OK\r\n");
        h.join().unwrap()
    });
    assert!(runner.starts_with("ERR Script killed by user with SCRIPT KILL... script: "), "{runner}");
    // Everyone is served again.
    let t = Instant::now();
    assert_eq!(q::<String>(&mut c, &["GET", "k"]), "v");
    assert!(t.elapsed() < Duration::from_secs(5));
    let mut raw = node.raw();
    err(&mut raw, &["SCRIPT", "KILL"], "NOTBUSY No scripts in execution right now.");
    assert_eq!(q::<i64>(&mut c, &["EVAL", "return 7", "0"]), 7);
}

#[test]
fn a_script_that_wrote_cannot_be_killed_only_shut_down() {
    let mut node = Node::start(&["--busy-reply-threshold", "100"]);
    std::thread::scope(|s| {
        let node = &node;
        s.spawn(move || {
            let mut c = node.client();
            // The connection ends with the server.
            let _ = redis::cmd("EVAL").arg("redis.call('set', 'w', '1') while true do end").arg(0).query::<redis::Value>(&mut c);
        });
        wait_busy(node);
        let mut raw = node.raw();
        err(
            &mut raw,
            &["SCRIPT", "KILL"],
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        );
        raw.send(&resp(&[b"SHUTDOWN", b"NOSAVE"]));
        assert!(node_exits(node), "SHUTDOWN NOSAVE did not stop the server");
    });
    node.wait_exit(Duration::from_secs(10));
}

fn node_exits(node: &Node) -> bool {
    wait_for(Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", node.port)).is_err())
}

#[test]
fn commands_before_the_threshold_wait_for_the_script_instead_of_failing() {
    let node = Node::start(&["--busy-reply-threshold", "60000"]);
    let mut c = node.client();
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut c = node.client();
            // Long enough to be running when the GETs arrive; ends by itself.
            let n: i64 =
                redis::cmd("EVAL").arg("local i = 0 while i < 30000000 do i = i + 1 end redis.call('set', 'done', 1) return i").arg(0).query(&mut c).unwrap();
            n
        });
        // Every GET sees either nothing or the finished script: never a partial state,
        // never BUSY.
        for _ in 0..50 {
            let v: Option<i64> = redis::cmd("GET").arg("done").query(&mut c).unwrap();
            assert!(v.is_none() || v == Some(1));
        }
        assert_eq!(h.join().unwrap(), 30_000_000);
    });
    assert_eq!(q::<i64>(&mut c, &["GET", "done"]), 1);
}

#[test]
fn a_script_cannot_catch_script_kill_with_pcall() {
    let node = Node::start(&["--busy-reply-threshold", "200"]);
    // Each kill raised inside the inner loop is caught by pcall; the outer loop would
    // go on for ever if the kill were raised only as often as the periodic check.
    let looping = "local n = 0 while true do pcall(function() while true do n = n + 1 end end) end";
    for round in 0..2 {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut c = node.client();
        let h = std::thread::spawn(move || {
            let _ = tx.send(eval_err(&mut c, looping));
        });
        wait_busy(&node);
        let mut other = node.raw();
        exact(&mut other, &["SCRIPT", "KILL"], "+OK\r\n");
        let reply = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("round {round}: the killed script went on running"));
        h.join().unwrap();
        assert!(reply.starts_with("ERR Script killed by user with SCRIPT KILL... script: "), "{reply}");
        // The next scripts run normally, pcall included.
        let mut c = node.client();
        assert_eq!(q::<i64>(&mut c, &["EVAL", "local ok = pcall(error, 'x') if ok then return 1 end return 2", "0"]), 2);
    }
}
