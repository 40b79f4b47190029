//! Sorted sets end to end, for what a byte comparison with redis-server cannot check:
//! random replies (ZRANDMEMBER, ZSCAN of a large set) by their properties, a leaderboard,
//! atomicity under concurrent clients, and keys deleted when their set empties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn randmember_properties() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for (key, n) in [("small", 10usize), ("large", 300)] {
        for i in 0..n {
            let _: i64 = q(&mut c, &["ZADD", key, &i.to_string(), &format!("m{i}")]);
        }
        let one: String = q(&mut c, &["ZRANDMEMBER", key]);
        assert!(one.starts_with('m'));
        for want in [7, n - 1] {
            let picked: Vec<String> = q(&mut c, &["ZRANDMEMBER", key, &want.to_string()]);
            let mut d = picked.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), want, "distinct members: {picked:?}");
        }
        let all: Vec<String> = q(&mut c, &["ZRANDMEMBER", key, "1000"]);
        assert_eq!(all.len(), n);
        let rep: Vec<String> = q(&mut c, &["ZRANDMEMBER", key, "-50"]);
        assert_eq!(rep.len(), 50);
        let ws: Vec<String> = q(&mut c, &["ZRANDMEMBER", key, "-3", "WITHSCORES"]);
        assert_eq!(ws.len(), 6);
        for pair in ws.chunks(2) {
            assert_eq!(pair[0], format!("m{}", pair[1]));
        }
    }
    let mut c3 = node.client3();
    let v: redis::Value = q(&mut c3, &["ZRANDMEMBER", "large", "2", "WITHSCORES"]);
    let redis::Value::Array(pairs) = v else { panic!("{v:?}") };
    assert_eq!(pairs.len(), 2);
    for p in pairs {
        assert!(matches!(&p, redis::Value::Array(x) if x.len() == 2 && matches!(x[1], redis::Value::Double(_))), "{p:?}");
    }
}

#[test]
fn scan_of_a_large_set_returns_every_element() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for i in 0..500 {
        let _: i64 = q(&mut c, &["ZADD", "big", &format!("{i}.5"), &format!("m{i}")]);
    }
    let (cursor, items): (String, Vec<String>) = q(&mut c, &["ZSCAN", "big", "0", "COUNT", "10"]);
    assert_eq!(cursor, "0");
    assert_eq!(items.len(), 1000);
    let (_, some): (String, Vec<String>) = q(&mut c, &["ZSCAN", "big", "0", "MATCH", "m1?"]);
    assert_eq!(some.len(), 20);
    assert!(some.chunks(2).all(|p| p[1] == format!("{}.5", &p[0][1..])), "{some:?}");
}

#[test]
fn leaderboard() {
    let node = Node::start(&[]);
    let mut c = node.client();
    // 1000 players, each scoring three times.
    let points = |p: i64, round: i64| (p * 7 + round * 13) % 101;
    for round in 0..3 {
        for p in 0..1000 {
            let _: String = q(&mut c, &["ZINCRBY", "board", &points(p, round).to_string(), &format!("player:{p}")]);
        }
    }
    let mut model: Vec<(i64, String)> = (0..1000).map(|p| ((0..3).map(|r| points(p, r)).sum(), format!("player:{p}"))).collect();
    // Highest first; ties by member, highest first too (ZREVRANGE reverses the order).
    model.sort_by(|a, b| b.cmp(a));
    let top: Vec<String> = q(&mut c, &["ZREVRANGE", "board", "0", "9", "WITHSCORES"]);
    let want: Vec<String> = model[..10].iter().flat_map(|(s, m)| [m.clone(), s.to_string()]).collect();
    assert_eq!(top, want);
    for i in [0usize, 1, 500, 999] {
        let rank: i64 = q(&mut c, &["ZREVRANK", "board", &model[i].1]);
        assert_eq!(rank, i as i64);
    }
    let enc: String = q(&mut c, &["OBJECT", "ENCODING", "board"]);
    assert_eq!(enc, "skiplist");
    let card: i64 = q(&mut c, &["ZCARD", "board"]);
    assert_eq!(card, 1000);
    let mut c3 = node.client3();
    let v: redis::Value = q(&mut c3, &["ZREVRANGE", "board", "0", "0", "WITHSCORES"]);
    let redis::Value::Array(rows) = v else { panic!("{v:?}") };
    let redis::Value::Array(pair) = &rows[0] else { panic!("{rows:?}") };
    assert_eq!(pair[0], redis::Value::BulkString(model[0].1.clone().into_bytes()));
    assert_eq!(pair[1], redis::Value::Double(model[0].0 as f64));
}

#[test]
fn concurrent_increments_are_atomic_and_stores_see_one_state() {
    let node = Node::start(&[]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut c = node.client();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let _: String = q(&mut c, &["ZINCRBY", "hot", "1", &format!("m{}", i % 5)]);
                    let _: i64 = q(&mut c, &["ZUNIONSTORE", "copy", "1", "hot"]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = node.client();
    let all: Vec<String> = q(&mut c, &["ZRANGE", "hot", "0", "-1", "WITHSCORES"]);
    assert_eq!(all.len(), 10);
    assert!(all.chunks(2).all(|p| p[1] == "400"), "{all:?}");
    let _: i64 = q(&mut c, &["ZUNIONSTORE", "copy", "1", "hot"]);
    let copy: Vec<String> = q(&mut c, &["ZRANGE", "copy", "0", "-1", "WITHSCORES"]);
    assert_eq!(copy, all);
}

#[test]
fn empty_sets_are_never_kept() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for cmd in [
        "ZREM k a",
        "ZPOPMIN k",
        "ZPOPMAX k 5",
        "ZREMRANGEBYRANK k 0 -1",
        "ZREMRANGEBYSCORE k -inf +inf",
        "ZREMRANGEBYLEX k - +",
        "ZMPOP 1 k MIN",
        "ZRANGESTORE k nokey 0 -1",
        "ZINTERSTORE k 2 k nokey",
        "ZDIFFSTORE k 2 k k",
    ] {
        let _: i64 = q(&mut c, &["ZADD", "k", "1", "a"]);
        let args: Vec<&str> = cmd.split(' ').collect();
        let _: redis::Value = q(&mut c, &args);
        let n: i64 = q(&mut c, &["EXISTS", "k"]);
        assert_eq!(n, 0, "{cmd} left an empty set");
    }
}

#[test]
fn big_sets_keep_order_and_ranks() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut args = vec!["ZADD".to_string(), "z".into()];
    for i in 0..5000 {
        args.push(((i * 7919) % 5000).to_string());
        args.push(format!("m{i:05}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let added: i64 = q(&mut c, &a);
    assert_eq!(added, 5000);
    let mid: Vec<String> = q(&mut c, &["ZRANGE", "z", "2500", "2502", "WITHSCORES"]);
    assert_eq!(mid.iter().skip(1).step_by(2).cloned().collect::<Vec<_>>(), ["2500", "2501", "2502"]);
    let n: i64 = q(&mut c, &["ZCOUNT", "z", "(1000", "2000"]);
    assert_eq!(n, 1000);
    let removed: i64 = q(&mut c, &["ZREMRANGEBYSCORE", "z", "0", "(100"]);
    assert_eq!(removed, 100);
    let first: Vec<String> = q(&mut c, &["ZRANGE", "z", "0", "0", "WITHSCORES"]);
    assert_eq!(first[1], "100");
    let rank: i64 = q(&mut c, &["ZRANK", "z", &first[0]]);
    assert_eq!(rank, 0);
    let popped: Vec<String> = q(&mut c, &["ZPOPMAX", "z", "2"]);
    assert_eq!(popped.iter().skip(1).step_by(2).cloned().collect::<Vec<_>>(), ["4999", "4998"]);
    let card: i64 = q(&mut c, &["ZCARD", "z"]);
    assert_eq!(card, 4898);
}
