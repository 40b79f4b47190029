//! The usage patterns ElastiCache users write (../shared/seeds): a session store, a
//! sliding-window rate limiter, a leaderboard, a work queue with blocking consumers, and
//! a lock, end to end with the `redis` crate as an application would use it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Node;
use redis::Commands;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

#[test]
fn session_store_keeps_fields_expires_and_counts() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = c.hset_multiple("session:abc123", &[("userId", "123"), ("email", "user@example.com"), ("loginTime", "1700000000000")]).unwrap();
    let _: () = c.expire("session:abc123", 3600).unwrap();
    let views: i64 = c.hincr("session:abc123", "views", 1).unwrap();
    assert_eq!(views, 1);
    let session: HashMap<String, String> = c.hgetall("session:abc123").unwrap();
    assert_eq!(session.len(), 4);
    assert_eq!(session["email"], "user@example.com");
    let ttl: i64 = c.ttl("session:abc123").unwrap();
    assert!((3599..=3600).contains(&ttl), "{ttl}");
    // Logging out deletes the session; reading it gives an empty hash, not an error.
    let _: () = c.del("session:abc123").unwrap();
    let gone: HashMap<String, String> = c.hgetall("session:abc123").unwrap();
    assert!(gone.is_empty());
}

/// The limiter of the notes: drop entries older than the window, count, admit or refuse.
fn admit(c: &mut redis::Connection, user: &str, limit: usize, window_ms: i64, now_ms: i64, seq: u64) -> bool {
    let key = format!("ratelimit:{user}");
    let _: () = c.zrembyscore(&key, 0, now_ms - window_ms).unwrap();
    let count: usize = c.zcard(&key).unwrap();
    if count >= limit {
        return false;
    }
    let _: () = c.zadd(&key, format!("{now_ms}-{seq}"), now_ms).unwrap();
    let _: () = c.expire(&key, (window_ms / 1000).max(1)).unwrap();
    true
}

#[test]
fn sliding_window_rate_limiter_admits_exactly_the_limit_per_window() {
    let node = Node::start(&[]);
    let mut c = node.client();
    // A synthetic clock: 400 requests, one every 5 ms (200/s), limit 100 per second.
    let admitted: Vec<bool> = (0..400).map(|i| admit(&mut c, "u1", 100, 1000, 1_000_000 + i * 5, i as u64)).collect();
    // The first 100 pass; then requests are refused until the first ones leave the window.
    assert!(admitted[..100].iter().all(|a| *a));
    assert!(admitted[100..190].iter().all(|a| !*a));
    let times: Vec<i64> = admitted.iter().enumerate().filter(|(_, a)| **a).map(|(i, _)| i as i64 * 5).collect();
    for (i, t) in times.iter().enumerate() {
        let in_window = times[..=i].iter().filter(|s| **s > t - 1000).count();
        assert!(in_window <= 100, "{in_window} requests admitted in the window ending at {t}");
    }
    assert!(admitted[200..].iter().any(|a| *a), "requests are admitted again once the window slides");
    let other: bool = admit(&mut c, "u2", 100, 1000, 1_000_000, 0);
    assert!(other, "limits are per user");
}

#[test]
fn leaderboard_top_n_rank_and_neighbours() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for player in 0..1000 {
        let _: () = c.zadd("leaderboard:game1", format!("user:{player}"), player * 10).unwrap();
    }
    // Player 500 scores 10,000 more and goes to the top.
    let _: f64 = c.zincr("leaderboard:game1", "user:500", 10_000).unwrap();
    let top: Vec<(String, f64)> = c.zrevrange_withscores("leaderboard:game1", 0, 9).unwrap();
    assert_eq!(top.len(), 10);
    assert_eq!(top[0], ("user:500".to_string(), 15_000.0));
    assert_eq!(top[1], ("user:999".to_string(), 9_990.0));
    let rank: Option<usize> = c.zrevrank("leaderboard:game1", "user:990").unwrap();
    assert_eq!(rank, Some(10));
    let nearby: Vec<String> = c.zrevrange("leaderboard:game1", 10 - 2, 10 + 2).unwrap();
    assert_eq!(nearby, vec!["user:992", "user:991", "user:990", "user:989", "user:988"]);
    let missing: Option<usize> = c.zrevrank("leaderboard:game1", "nobody").unwrap();
    assert_eq!(missing, None);
}

#[test]
fn work_queue_with_blocking_consumers_delivers_every_job_once() {
    let node = Node::start(&[]);
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let mut c = node.client();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let job: Option<(String, String)> = redis::cmd("BLPOP").arg("jobs").arg(5).query(&mut c).unwrap();
                    match job {
                        Some((_, j)) if j == "stop" => return got,
                        Some((_, j)) => got.push(j),
                        None => panic!("a consumer waited 5 s for a job that was queued"),
                    }
                }
            })
        })
        .collect();
    let mut producer = node.client();
    // Wait (bounded) until all three consumers are blocked, so the jobs wake them.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut producer).unwrap();
        if common::info_field(&info, "blocked_clients").as_deref() == Some("3") {
            break;
        }
        assert!(Instant::now() < deadline, "consumers never blocked: {info}");
        std::thread::sleep(Duration::from_millis(10));
    }
    for i in 0..300 {
        let _: () = producer.rpush("jobs", format!("job-{i}")).unwrap();
    }
    for _ in 0..3 {
        let _: () = producer.rpush("jobs", "stop").unwrap();
    }
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.join().unwrap());
    }
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 300, "every job delivered once");
    assert_eq!(unique.len(), 300);
    let left: usize = producer.llen("jobs").unwrap();
    assert_eq!(left, 0);
}

#[test]
fn lock_with_set_nx_px_is_exclusive_and_expires() {
    let node = Node::start(&[]);
    let mut a = node.client();
    let mut b = node.client();
    let take = |c: &mut redis::Connection, owner: &str| -> bool {
        let r: Option<String> = redis::cmd("SET").arg("lock:orders").arg(owner).arg("NX").arg("PX").arg(300).query(c).unwrap();
        r.is_some()
    };
    assert!(take(&mut a, "a"));
    assert!(!take(&mut b, "b"), "a held lock cannot be taken");
    // The holder crashes: the lock frees itself when its TTL ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !take(&mut b, "b") {
        assert!(Instant::now() < deadline, "the lock never expired");
        std::thread::sleep(Duration::from_millis(20));
    }
    let owner: String = b.get("lock:orders").unwrap();
    assert_eq!(owner, "b");
}
