//! `client-output-buffer-limit`: CONFIG GET/SET as Redis 7.0 parses and prints it, a
//! subscriber that does not read is closed without harming other subscribers or the
//! publisher, a client that does not read its huge pipelined replies is closed while
//! others keep working; closings are logged and counted in /metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

fn limits(c: &mut redis::Connection) -> String {
    let v: Vec<String> = q(c, &["CONFIG", "GET", "client-output-buffer-limit"]);
    v[1].clone()
}

fn disconnections(node: &Node) -> u64 {
    let page = http_get(node.admin_port, "/metrics");
    page.lines()
        .find_map(|l| l.strip_prefix("redis_client_output_buffer_limit_disconnections_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no disconnection counter in {page}"))
}

#[test]
fn config_set_merges_classes_and_errors_as_redis() {
    let node = Node::start(&[]);
    let mut c = node.client();
    assert_eq!(limits(&mut c), DEFAULT);
    let _: () = q(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 10"]);
    assert_eq!(limits(&mut c), "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10");
    let _: () = q(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "replica 1 1 1 normal 5 5 5"]);
    assert_eq!(limits(&mut c), "normal 5 5 5 slave 1 1 1 pubsub 1048576 524288 10");
    let _: () = q(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "normal 1k 2gb 1"]);
    assert_eq!(limits(&mut c), "normal 1000 2147483648 1 slave 1 1 1 pubsub 1048576 524288 10");
    let _: () = q(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", ""]);
    assert_eq!(limits(&mut c), "normal 1000 2147483648 1 slave 1 1 1 pubsub 1048576 524288 10");
    let mut r = node.raw();
    let prefix = "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - ";
    for (value, why) in [
        ("pubsub 1mb 512kb", "Wrong number of arguments in buffer limit configuration."),
        ("master 1 1 1", "Invalid client class specified in buffer limit configuration."),
        ("normal x 1 1", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
        ("normal -1 1 1", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ] {
        err(&mut r, &["CONFIG", "SET", "client-output-buffer-limit", value], &format!("{prefix}{why}"));
    }
    // Small replies stay within Redis's fixed per-client buffer: a tiny limit does not
    // close a client that reads its replies.
    rt(&mut r, "PING", "+PONG\r\n");
    // The command line accepts the same syntax, merged into the defaults.
    let node = Node::start(&["--client-output-buffer-limit", "pubsub 64kb 0 0"]);
    let mut c = node.client();
    assert_eq!(limits(&mut c), "normal 0 0 0 slave 268435456 67108864 60 pubsub 65536 0 0");
}

/// Publishes `count` messages of `size` bytes, pipelined in batches, reading every reply.
/// Before each batch it waits (bounded) until the reading subscriber has taken all but the
/// last batch, so only the subscriber that never reads can pass its limit, however slowly
/// the reader's thread gets scheduled.
fn publish_many(p: &mut Raw, count: usize, size: usize, read: &AtomicUsize) {
    let payload = vec![b'x'; size];
    for batch in 0..count / 50 {
        let behind_ok = wait_for(Duration::from_secs(30), || read.load(Ordering::Relaxed) + 50 >= batch * 50);
        assert!(behind_ok, "the reading subscriber stalled");
        let mut req = Vec::new();
        for _ in 0..50 {
            req.extend(resp(&[b"PUBLISH", b"feed", &payload]));
        }
        p.send(&req);
        for _ in 0..50 {
            let line = read_line(p);
            assert!(line == ":1" || line == ":2", "{line}");
        }
    }
}

#[test]
fn slow_subscriber_is_closed_others_keep_receiving() {
    let node = Node::start(&["--client-output-buffer-limit", "pubsub 1mb 0 0"]);
    let (count, size) = (2000, 8 * 1024);
    // A subscriber that reads everything, on its own thread.
    let mut fast = node.raw();
    rt(&mut fast, "SUBSCRIBE feed", "*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n");
    let read = Arc::new(AtomicUsize::new(0));
    let progress = read.clone();
    let reader = std::thread::spawn(move || {
        let frame = format!("*3\r\n$7\r\nmessage\r\n$4\r\nfeed\r\n${size}\r\n{}\r\n", "x".repeat(size));
        for i in 0..count {
            let got = fast.read_exact_len(frame.len());
            assert!(got == frame.as_bytes(), "message {i} differs");
            progress.store(i + 1, Ordering::Relaxed);
        }
        fast
    });
    // A subscriber that never reads: the socket buffers fill, then its pending output.
    let mut slow = node.raw();
    slow.0.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rt(&mut slow, "SUBSCRIBE feed", "*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n");
    let mut p = node.raw();
    publish_many(&mut p, count, size, &read);
    let mut fast = reader.join().expect("the reading subscriber lost messages");
    rt(&mut fast, "PING", "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    // The slow one was closed: what reached its socket ends in end-of-stream.
    let mut sink = Vec::new();
    let _ = slow.0.read_to_end(&mut sink);
    assert!(sink.len() < count * size, "the slow subscriber got everything");
    assert_eq!(disconnections(&node), 1);
    assert!(wait_for(Duration::from_secs(10), || node.log().iter().any(|l| l.contains("output buffer limits") && l.contains("pubsub"))), "{:?}", node.log());
    rt(&mut p, "PUBLISH feed last", ":1\r\n");
}

#[test]
fn soft_limit_closes_after_its_seconds() {
    let node = Node::start(&["--client-output-buffer-limit", "pubsub 0 256kb 1"]);
    let mut slow = node.raw();
    rt(&mut slow, "SUBSCRIBE feed", "*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n");
    let mut p = node.raw();
    let payload = vec![b'y'; 16 * 1024];
    let started = Instant::now();
    // Over the soft limit but under no hard one: closed once it stayed over for > 1 s.
    let closed = wait_for(Duration::from_secs(20), || {
        rtb(&mut p, &[b"PUBLISH", b"feed", &payload], if disconnections(&node) == 0 { b":1\r\n".as_slice() } else { b":0\r\n".as_slice() });
        std::thread::sleep(Duration::from_millis(20));
        disconnections(&node) == 1
    });
    assert!(closed, "soft limit never closed the subscriber");
    assert!(started.elapsed() >= Duration::from_secs(1), "closed before the soft seconds passed");
}

#[test]
fn client_not_reading_huge_pipelined_replies_is_closed() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let big = "v".repeat(512 * 1024);
    let _: () = q(&mut c, &["SET", "big", &big]);
    let _: () = q(&mut c, &["CONFIG", "SET", "client-output-buffer-limit", "normal 4mb 0 0"]);
    let mut greedy = node.raw();
    let mut req = Vec::new();
    for _ in 0..200 {
        req.extend(resp(&[b"GET", b"big"]));
    }
    greedy.send(&req);
    // Closed long before 100 MB of replies could have been read.
    let mut sink = Vec::new();
    let _ = greedy.0.read_to_end(&mut sink);
    assert!(sink.len() < 200 * big.len(), "every reply arrived");
    assert!(wait_for(Duration::from_secs(5), || disconnections(&node) == 1));
    // Others are unaffected, and a client reading its replies is never closed.
    let got: String = q(&mut c, &["GET", "big"]);
    assert_eq!(got.len(), big.len());
    let mut r = node.raw();
    for _ in 0..5 {
        r.send(&req[..req.len() / 100]);
        let want = 2 * (big.len() + 11);
        assert_eq!(r.read_exact_len(want).len(), want);
    }
    assert_eq!(disconnections(&node), 1);
}

#[test]
fn replica_that_stops_reading_is_dropped() {
    let node = Node::start(&["--client-output-buffer-limit", "replica 256kb 0 0", "--repl-backlog-size", "64mb"]);
    let mut c = node.client();
    // A replica by hand: it takes the snapshot, then never reads again.
    let mut raw = node.raw();
    exact(&mut raw, &["REPLCONF", "listening-port", "4242"], OK);
    raw.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    assert!(read_line(&mut raw).starts_with("+FULLRESYNC"));
    let len: usize = read_line(&mut raw).strip_prefix('$').unwrap().parse().unwrap();
    assert_eq!(raw.read_exact_len(len).len(), len);
    raw.send(&resp(&[b"REPLCONF", b"ACK", b"0"]));
    assert!(wait_for(Duration::from_secs(5), || q::<String>(&mut c, &["INFO", "replication"]).contains("state=online")));
    // Writes pile up behind it well past the limit (and past what sockets buffer).
    let value = "w".repeat(64 * 1024);
    let dropped = wait_for(Duration::from_secs(30), || {
        for i in 0..50 {
            let _: () = q(&mut c, &["SET", &format!("k{i}"), &value]);
        }
        info_field(&q::<String>(&mut c, &["INFO", "replication"]), "connected_slaves").as_deref() == Some("0")
    });
    assert!(dropped, "the replica link was never dropped");
    assert_eq!(disconnections(&node), 1);
    assert!(wait_for(Duration::from_secs(10), || node.log().iter().any(|l| l.contains("output buffer limits") && l.contains("replica"))), "{:?}", node.log());
}
