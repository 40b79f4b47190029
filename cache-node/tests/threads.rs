//! Adaptive placement of connections on worker threads: light load is packed onto one
//! worker, a saturated worker hands connections to an idle one, and a connection keeps
//! its whole state (database, protocol, name, replies in order) when it moves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// io-thread of every connection named with `prefix`, from CLIENT LIST.
fn threads_of(c: &mut redis::Connection, prefix: &str) -> Vec<String> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(c).unwrap();
    list.lines()
        .filter(|l| l.split(' ').any(|kv| kv.starts_with("name=") && kv[5..].starts_with(prefix)))
        .filter_map(|l| l.split(' ').find_map(|kv| kv.strip_prefix("io-thread=")).map(str::to_string))
        .collect()
}

fn distinct(v: &[String]) -> usize {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v.len()
}

#[test]
fn connections_pack_spread_and_pack_again_keeping_their_state() {
    // Spreading normally waits for an idle core (a unit-tested rule); here it must not
    // depend on what else the test machine is running.
    let node = Node::start(&["--threads", "2", "--adaptive-threads", "yes", "--adaptive-threads-idle", "0", "--hz", "20"]);
    let mut admin = node.client();
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("admin").query(&mut admin).unwrap();

    // Light load: every new connection lands on the same worker.
    let mut idle: Vec<redis::Connection> = (0..6).map(|_| node.client()).collect();
    for (i, c) in idle.iter_mut().enumerate() {
        let _: () = redis::cmd("CLIENT").arg("SETNAME").arg(format!("idle{i}")).query(c).unwrap();
    }
    let t = threads_of(&mut admin, "idle");
    assert_eq!((t.len(), distinct(&t)), (6, 1), "idle connections spread: {t:?}");

    // Heavy load from four pipelining clients: the saturated worker sheds connections.
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..4)
        .map(|n| {
            let stop = stop.clone();
            let mut raw = node.raw();
            std::thread::spawn(move || {
                raw.roundtrip(&resp(&[b"SELECT", b"3"]), b"+OK\r\n");
                raw.roundtrip(&resp(&[b"CLIENT", b"SETNAME", format!("load{n}").as_bytes()]), b"+OK\r\n");
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) || round < 3 {
                    // 100 SET + 100 GET of this client's own keys in one write; every
                    // reply must come back, in order, exactly.
                    let mut req = Vec::new();
                    let mut want = Vec::new();
                    for i in 0..100 {
                        let k = format!("l{n}:{i}");
                        let v = format!("{round}:{i}");
                        req.extend(resp(&[b"SET", k.as_bytes(), v.as_bytes()]));
                        want.extend_from_slice(b"+OK\r\n");
                        req.extend(resp(&[b"GET", k.as_bytes()]));
                        want.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
                    }
                    // Split inside the last request, and send its tail only once every
                    // earlier reply arrived: the server holds a partial request between
                    // batches, which is when a connection may move to another worker.
                    let last_reply = format!("${}\r\n{round}:99\r\n", format!("{round}:99").len());
                    let cut = req.len() - 4;
                    raw.roundtrip(&req[..cut], &want[..want.len() - last_reply.len()]);
                    raw.roundtrip(&req[cut..], last_reply.as_bytes());
                    round += 1;
                    if round.is_multiple_of(20) {
                        raw.send(b"CLIENT INFO\r\n");
                        let head = raw.read_exact_len(1);
                        assert_eq!(head, b"$");
                        let mut len = Vec::new();
                        loop {
                            let b = raw.read_exact_len(1);
                            if b == b"\r" {
                                break;
                            }
                            len.extend(b);
                        }
                        let n: usize = String::from_utf8(len).unwrap().parse().unwrap();
                        let body = String::from_utf8(raw.read_exact_len(n + 3)).unwrap();
                        assert!(body.contains(" db=3 "), "{body}");
                    }
                }
                round
            })
        })
        .collect();
    let spread = wait_for(Duration::from_secs(60), || distinct(&threads_of(&mut admin, "load")) == 2);
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        let rounds = l.join().expect("a loader saw a wrong reply");
        assert!(rounds >= 3);
    }
    assert!(spread, "load never spread over both workers: {:?}", threads_of(&mut admin, "load"));

    // The load is gone: connections that keep talking are packed onto one worker again.
    let mut clients: Vec<redis::Connection> = (0..4).map(|_| node.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let _: () = redis::cmd("CLIENT").arg("SETNAME").arg(format!("late{i}")).query(c).unwrap();
    }
    let packed = wait_for(Duration::from_secs(30), || {
        for c in idle.iter_mut().chain(clients.iter_mut()) {
            let _: String = redis::cmd("PING").query(c).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut all = threads_of(&mut admin, "idle");
        all.extend(threads_of(&mut admin, "late"));
        distinct(&all) == 1
    });
    assert!(packed, "light load stayed spread: {:?} {:?}", threads_of(&mut admin, "idle"), threads_of(&mut admin, "late"));
}

fn info_u64(c: &mut redis::Connection, name: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info_field(&info, name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {name} in INFO"))
}

#[test]
fn workers_contending_on_one_hot_key_are_folded_and_stay_folded() {
    // Four pipelining clients that all write one key: a saturated worker spreads them,
    // and then both workers mostly wait on that key's partition lock.
    folded_and_held("keyspace_lock_contended", |n| {
        let req = (0..100).flat_map(|i| resp(&[b"SET", b"hot", format!("{n}:{i}").as_bytes()])).collect();
        (req, b"+OK\r\n".repeat(100))
    });
}

#[test]
fn workers_taking_turns_running_scripts_are_folded_and_stay_folded() {
    // Scripts on different keys: a script runs alone (the gate), so two workers that
    // both run scripts mostly wait for each other's.
    folded_and_held("script_gate_contended", |n| {
        let req = (0..100).flat_map(|i| resp(&[b"EVAL", b"return redis.call('SET', KEYS[1], ARGV[1])", b"1", format!("k{n}:{i}").as_bytes(), b"v"])).collect();
        (req, b"+OK\r\n".repeat(100))
    });
}

/// Loads a two-worker node from four clients, each sending `load(n)`'s request in a loop
/// and expecting its reply, and checks that the balancer folds them onto one worker for
/// the contention counted in INFO stats `counter`, and does not spread them again while
/// the load goes on.
fn folded_and_held(counter: &str, load: impl Fn(usize) -> (Vec<u8>, Vec<u8>)) {
    let node = Node::start(&["--threads", "2", "--adaptive-threads", "yes", "--adaptive-threads-idle", "0", "--hz", "20"]);
    let mut admin = node.client();
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("admin").query(&mut admin).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..4)
        .map(|n| {
            let stop = stop.clone();
            let mut raw = node.raw();
            let (req, want) = load(n);
            std::thread::spawn(move || {
                raw.roundtrip(&resp(&[b"CLIENT", b"SETNAME", format!("hot{n}").as_bytes()]), b"+OK\r\n");
                while !stop.load(Ordering::Relaxed) {
                    raw.roundtrip(&req, &want);
                }
            })
        })
        .collect();
    let folded = wait_for(Duration::from_secs(60), || info_u64(&mut admin, "worker_contended_folds") >= 1);
    let first = info_u64(&mut admin, "worker_contended_folds");
    // Spreading is held off after the fold: over the next 3 seconds of the same load the
    // clients stay on one worker, instead of being spread and folded again every tick.
    let mut together = 0;
    let mut samples = 0;
    if folded {
        let until = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < until {
            samples += 1;
            together += usize::from(distinct(&threads_of(&mut admin, "hot")) == 1);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let after = info_u64(&mut admin, "worker_contended_folds");
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().expect("a loader saw a wrong reply");
    }
    assert!(folded, "hot-key clients were never folded: {:?}", threads_of(&mut admin, "hot"));
    assert!(info_u64(&mut admin, counter) > 0, "no {counter}");
    assert!(after - first <= 1, "placement flapped: {first} then {after} folds in 3 s");
    assert!(together * 10 >= samples * 8, "hot-key clients on one worker in only {together} of {samples} samples");
}
