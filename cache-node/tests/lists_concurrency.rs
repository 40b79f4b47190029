//! Lists under load: a long random session against a model (crossing the server's
//! chunk boundaries), a queue with one producer and two consumers, and LMOVE's
//! atomicity while several clients move elements at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn try_val(c: &mut redis::Connection, args: &[&[u8]]) -> redis::RedisResult<redis::Value> {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
}

fn val(c: &mut redis::Connection, args: &[&[u8]]) -> redis::Value {
    try_val(c, args).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

fn bytes_list(v: redis::Value) -> Vec<Vec<u8>> {
    match v {
        redis::Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                redis::Value::BulkString(b) => b,
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// A random element: mostly short, sometimes hundreds of bytes, rarely larger than a
/// whole 8 KB chunk.
fn element(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(..100) {
        0..=79 => format!("e{}", rng.u8(..20)).into_bytes(),
        80..=97 => vec![rng.alphanumeric() as u8; rng.usize(100..600)],
        _ => vec![b'B'; rng.usize(8_000..20_000)],
    }
}

/// Thousands of random commands on one list, each checked against a VecDeque.
#[test]
fn random_session_matches_a_model() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut m: VecDeque<Vec<u8>> = VecDeque::new();
    let mut peak = 0usize;
    for step in 0..4000 {
        let n = m.len() as i64;
        let e = element(&mut rng);
        let idx = rng.i64(-n - 2..n + 2);
        match rng.u8(..10) {
            0 | 1 => {
                assert_eq!(val(&mut c, &[b"RPUSH", b"l", &e, b"x"]), redis::Value::Int(n + 2));
                m.push_back(e);
                m.push_back(b"x".to_vec());
            }
            2 => {
                assert_eq!(val(&mut c, &[b"LPUSH", b"l", &e]), redis::Value::Int(n + 1));
                m.push_front(e);
            }
            3 => {
                let k = rng.usize(..4);
                let got = val(&mut c, &[b"LPOP", b"l", k.to_string().as_bytes()]);
                if n == 0 {
                    assert_eq!(got, redis::Value::Nil);
                } else {
                    let want: Vec<Vec<u8>> = (0..k.min(m.len())).filter_map(|_| m.pop_front()).collect();
                    assert_eq!(bytes_list(got), want);
                }
            }
            4 => {
                let got = val(&mut c, &[b"RPOP", b"l"]);
                assert_eq!(got, m.pop_back().map_or(redis::Value::Nil, redis::Value::BulkString));
            }
            5 => {
                let i = if idx < 0 { n + idx } else { idx };
                let got = try_val(&mut c, &[b"LSET", b"l", idx.to_string().as_bytes(), &e]);
                match got {
                    Ok(v) => {
                        assert_eq!(v, redis::Value::Okay);
                        m[i as usize] = e;
                    }
                    Err(err) => {
                        let want = if n == 0 { "no such key" } else { "index out of range" };
                        assert!(!(0..n).contains(&i) && err.to_string().contains(want), "LSET {idx} on {n}: {err}");
                    }
                }
            }
            6 if n > 0 => {
                let pivot = m[rng.usize(..m.len())].clone();
                let after = rng.bool();
                let got = val(&mut c, &[b"LINSERT", b"l", if after { b"AFTER" } else { b"BEFORE" }, &pivot, &e]);
                assert_eq!(got, redis::Value::Int(n + 1));
                let pos = m.iter().position(|x| *x == pivot).unwrap() + usize::from(after);
                m.insert(pos, e);
            }
            7 if n > 0 => {
                let target = m[rng.usize(..m.len())].clone();
                let count = rng.i64(-2..3);
                let got = val(&mut c, &[b"LREM", b"l", count.to_string().as_bytes(), &target]);
                let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                let positions: Vec<usize> = (0..m.len()).filter(|&i| m[i] == target).collect();
                let gone: HashSet<usize> =
                    if count < 0 { positions.iter().rev().take(limit).copied().collect() } else { positions.iter().take(limit).copied().collect() };
                assert_eq!(got, redis::Value::Int(gone.len() as i64));
                let mut i = 0;
                m.retain(|_| {
                    i += 1;
                    !gone.contains(&(i - 1))
                });
            }
            8 if n > 50 && rng.u8(..4) == 0 => {
                let (start, stop) = (rng.i64(0..5), rng.i64(-5..0));
                assert_eq!(val(&mut c, &[b"LTRIM", b"l", start.to_string().as_bytes(), stop.to_string().as_bytes()]), redis::Value::Okay);
                let keep_to = (n + stop) as usize;
                m = m.iter().take(keep_to + 1).skip(start as usize).cloned().collect();
            }
            _ => {
                let i = if idx < 0 { n + idx } else { idx };
                let want = if (0..n).contains(&i) { redis::Value::BulkString(m[i as usize].clone()) } else { redis::Value::Nil };
                assert_eq!(val(&mut c, &[b"LINDEX", b"l", idx.to_string().as_bytes()]), want, "step {step}");
            }
        }
        peak = peak.max(m.iter().map(Vec::len).sum());
        if step % 250 == 0 {
            let all = bytes_list(val(&mut c, &[b"LRANGE", b"l", b"0", b"-1"]));
            assert!(m.iter().eq(all.iter()), "step {step}: LRANGE differs from the model");
            assert_eq!(val(&mut c, &[b"LLEN", b"l"]), redis::Value::Int(m.len() as i64));
        }
    }
    let all = bytes_list(val(&mut c, &[b"LRANGE", b"l", b"0", b"-1"]));
    assert!(m.iter().eq(all.iter()), "final LRANGE differs from the model");
    assert!(peak > 64 * 1024, "the session grew past many chunks (at most {peak} bytes)");
}

/// One producer RPUSHes numbered jobs while two consumers LPOP them (one at a time and
/// in batches) from their own connections: every job arrives exactly once.
#[test]
fn queue_with_two_consumers_loses_and_duplicates_nothing() {
    const JOBS: usize = 20_000;
    let node = Arc::new(Node::start(&[]));
    let taken = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..2)
        .map(|id| {
            let (node, taken) = (node.clone(), taken.clone());
            std::thread::spawn(move || {
                let mut c = node.client();
                let mut got = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                while taken.load(Ordering::SeqCst) < JOBS {
                    assert!(Instant::now() < deadline, "consumer {id} timed out with {} jobs taken", taken.load(Ordering::SeqCst));
                    let batch: Vec<String> = if id == 0 {
                        redis::cmd("LPOP").arg("jobs").query::<Option<String>>(&mut c).unwrap().into_iter().collect()
                    } else {
                        redis::cmd("LPOP").arg("jobs").arg(7).query::<Option<Vec<String>>>(&mut c).unwrap().unwrap_or_default()
                    };
                    if batch.is_empty() {
                        std::thread::yield_now();
                    }
                    taken.fetch_add(batch.len(), Ordering::SeqCst);
                    got.extend(batch);
                }
                got
            })
        })
        .collect();
    let mut p = node.client();
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(10) {
        let _: i64 = redis::cmd("RPUSH").arg("jobs").arg(chunk.iter().map(|j| format!("job{j}")).collect::<Vec<_>>()).query(&mut p).unwrap();
    }
    let mut all = Vec::new();
    let mut per_consumer = Vec::new();
    for h in consumers {
        let got = h.join().unwrap();
        per_consumer.push(got.len());
        all.extend(got);
    }
    assert_eq!(all.len(), JOBS, "jobs lost or duplicated");
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), JOBS, "a job was delivered twice");
    assert!((0..JOBS).all(|j| distinct.contains(&format!("job{j}"))));
    assert_eq!(q::<i64>(&mut p, &["EXISTS", "jobs"]), 0, "the drained queue is deleted");
}

/// One element bounces between two keys under several clients' LMOVEs; an empty list
/// is deleted, so if a move were ever half done (popped, not yet pushed) a concurrent
/// multi-key EXISTS would see neither key. Three pairs make it all but certain that
/// some pair spans two partitions.
#[test]
fn lmove_is_atomic_under_concurrent_clients() {
    let node = Arc::new(Node::start(&[]));
    let pairs = [("a1", "b1"), ("a2", "b2"), ("a3", "b3")];
    let mut c = node.client();
    for (a, _) in pairs {
        let _: i64 = redis::cmd("RPUSH").arg(a).arg("token").query(&mut c).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let movers: Vec<_> = (0..3)
        .map(|t| {
            let node = node.clone();
            std::thread::spawn(move || {
                let mut c = node.client();
                let mut moved = 0usize;
                for i in 0..3000usize {
                    let (a, b) = pairs[(i + t) % 3];
                    let (src, dst) = if (i / 3 + t) % 2 == 0 { (a, b) } else { (b, a) };
                    let got: Option<String> = if i % 4 == 0 {
                        redis::cmd("RPOPLPUSH").arg(src).arg(dst).query(&mut c).unwrap()
                    } else {
                        redis::cmd("LMOVE").arg(src).arg(dst).arg(if i % 2 == 0 { "LEFT" } else { "RIGHT" }).arg("RIGHT").query(&mut c).unwrap()
                    };
                    moved += usize::from(got.is_some());
                }
                moved
            })
        })
        .collect();
    let checker = {
        let (node, stop) = (node.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = node.client();
            let mut checks = 0;
            loop {
                for (a, b) in pairs {
                    let n: i64 = redis::cmd("EXISTS").arg(a).arg(b).query(&mut c).unwrap();
                    assert_eq!(n, 1, "{a}/{b}: the token is in {n} lists at once");
                    checks += 1;
                }
                if stop.load(Ordering::SeqCst) {
                    return checks;
                }
            }
        })
    };
    let moved: usize = movers.into_iter().map(|h| h.join().unwrap()).sum();
    stop.store(true, Ordering::SeqCst);
    let checks = checker.join().unwrap();
    assert!(moved > 100 && checks > 0, "moved {moved}, checked {checks}");
    for (a, b) in pairs {
        let mut tokens: Vec<String> = q(&mut c, &["LRANGE", a, "0", "-1"]);
        tokens.extend(q::<Vec<String>>(&mut c, &["LRANGE", b, "0", "-1"]));
        assert_eq!(tokens, ["token"]);
    }
}

/// Many elements shuffled between two lists by LMOVE, RPOPLPUSH (also onto the same
/// key) and LMPOP + RPUSH from several clients: the multiset of elements is kept.
#[test]
fn concurrent_moves_keep_every_element() {
    let node = Arc::new(Node::start(&[]));
    let mut c = node.client();
    let items: Vec<String> = (0..200).map(|i| format!("i{i}")).collect();
    let _: i64 = redis::cmd("RPUSH").arg("x").arg(&items[..100]).query(&mut c).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg("y").arg(&items[100..]).query(&mut c).unwrap();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let node = node.clone();
            std::thread::spawn(move || {
                let mut c = node.client();
                for i in 0..1500usize {
                    let (src, dst) = if (i + t) % 2 == 0 { ("x", "y") } else { ("y", "x") };
                    match (i + t) % 3 {
                        0 => {
                            let _: Option<String> = redis::cmd("LMOVE").arg(src).arg(dst).arg("LEFT").arg("LEFT").query(&mut c).unwrap();
                        }
                        1 => {
                            let _: Option<String> = redis::cmd("RPOPLPUSH").arg(src).arg(src).query(&mut c).unwrap();
                        }
                        _ => {
                            // LMPOP then RPUSH is not atomic, but keeps what it takes.
                            let got: Option<(String, Vec<String>)> =
                                redis::cmd("LMPOP").arg(2).arg(src).arg(dst).arg("RIGHT").arg("COUNT").arg(3).query(&mut c).unwrap();
                            if let Some((_, elems)) = got {
                                let _: i64 = redis::cmd("RPUSH").arg(dst).arg(elems).query(&mut c).unwrap();
                            }
                        }
                    }
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|h| h.join().unwrap());
    let mut all: Vec<String> = q(&mut c, &["LRANGE", "x", "0", "-1"]);
    all.extend(q::<Vec<String>>(&mut c, &["LRANGE", "y", "0", "-1"]));
    all.sort();
    let mut want = items.clone();
    want.sort();
    assert_eq!(all, want);
}
