//! DUMP and RESTORE over a real socket: every option and error path (byte for byte against
//! redis-server 7.0, RESP2 and RESP3), change counts, COMMAND INFO, and payloads moving
//! between redis-server and us in both directions for every type and encoding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;
mod zsets_oracle;

use std::collections::BTreeMap;

use cache_node::persist::rdb::crc64;
use common::{Node, assert_changes, assert_command_info, bulk, err, hello3, resp, rtb, unix_ms};
use redis_server::{Gen, Model, RedisServer, temp_dir};
use zsets_oracle::same_as_redis;

fn dump(c: &mut redis::Connection, key: &[u8]) -> Option<Vec<u8>> {
    redis::cmd("DUMP").arg(key).query(c).unwrap()
}

fn restore(c: &mut redis::Connection, key: &[u8], ttl: i64, payload: &[u8], opts: &[&str]) -> redis::RedisResult<String> {
    let mut cmd = redis::cmd("RESTORE");
    cmd.arg(key).arg(ttl).arg(payload);
    opts.iter().for_each(|o| {
        cmd.arg(*o);
    });
    cmd.query(c)
}

/// A payload with a valid footer around `body` (type byte + value).
fn payload(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn errors_and_options_match_redis() {
    same_as_redis(
        "SET k v
        DUMP k
        DUMP missing
        DUMP
        DUMP a b
        RESTORE k 0
        RESTORE k 0 junk
        RESTORE k -1 junk
        RESTORE k abc junk
        RESTORE n -1 junk
        RESTORE n abc junk
        RESTORE n 0 junk
        RESTORE n 0 junk REPLACE
        RESTORE n 0 junk FOO
        RESTORE n 0 junk IDLETIME
        RESTORE n 0 junk IDLETIME -1
        RESTORE n 0 junk IDLETIME x
        RESTORE n 0 junk FREQ 256
        RESTORE n 0 junk FREQ -1
        RESTORE n 0 junk FREQ 1 IDLETIME 1
        RESTORE n 0 junk IDLETIME 1 FREQ 1
        RESTORE n 0 junk IDLETIME 10 ABSTTL REPLACE
        RESTORE k 0 junk IDLETIME -1
        RESTORE k -5 junk REPLACE
        EXISTS n",
    );
}

#[test]
fn restore_options_and_errors_on_a_real_socket() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("src").arg("hello").query(&mut c).unwrap();
    let p = dump(&mut c, b"src").unwrap();
    let _: () = redis::cmd("RPUSH").arg("list").arg("a").query(&mut c).unwrap();
    let lp = dump(&mut c, b"list").unwrap();
    for resp3 in [false, true] {
        let mut r = node.raw();
        if resp3 {
            hello3(&mut r);
        }
        rtb(&mut r, &[b"FLUSHALL"], "+OK\r\n");
        rtb(&mut r, &[b"DUMP", b"nokey"], if resp3 { "_\r\n" } else { "$-1\r\n" });
        rtb(&mut r, &[b"RESTORE", b"k", b"0", &p], "+OK\r\n");
        rtb(&mut r, &[b"GET", b"k"], bulk("hello"));
        rtb(&mut r, &[b"DUMP", b"k"], bulk(&p));
        // BUSYKEY comes before the TTL and payload checks.
        err(&mut r, &["RESTORE", "k", "-1", "junk"], "BUSYKEY Target key name already exists.");
        rtb(&mut r, &[b"RESTORE", b"k", b"0", &lp], "-BUSYKEY Target key name already exists.\r\n");
        rtb(&mut r, &[b"RESTORE", b"k", b"0", &lp, b"REPLACE"], "+OK\r\n");
        rtb(&mut r, &[b"LRANGE", b"k", b"0", b"-1"], "*1\r\n$1\r\na\r\n");
        // TTLs: relative, absolute, already expired.
        rtb(&mut r, &[b"RESTORE", b"t", b"100000", &p], "+OK\r\n");
        let pttl: i64 = read_int(&mut r, &[b"PTTL", b"t"]);
        assert!(pttl > 90_000 && pttl <= 100_000, "{pttl}");
        let at = (unix_ms() + 500_000).to_string();
        rtb(&mut r, &[b"RESTORE", b"a", at.as_bytes(), &p, b"ABSTTL"], "+OK\r\n");
        let pttl: i64 = read_int(&mut r, &[b"PTTL", b"a"]);
        assert!(pttl > 490_000 && pttl <= 500_000, "{pttl}");
        rtb(&mut r, &[b"RESTORE", b"gone", b"1000", &p, b"ABSTTL"], "+OK\r\n");
        rtb(&mut r, &[b"EXISTS", b"gone"], ":0\r\n");
        // An already-expired REPLACE deletes the existing key.
        rtb(&mut r, &[b"RESTORE", b"a", b"1", &p, b"ABSTTL", b"REPLACE"], "+OK\r\n");
        rtb(&mut r, &[b"EXISTS", b"a"], ":0\r\n");
        // IDLETIME and FREQ are accepted.
        rtb(&mut r, &[b"RESTORE", b"i", b"0", &p, b"IDLETIME", b"100"], "+OK\r\n");
        rtb(&mut r, &[b"RESTORE", b"f", b"0", &p, b"FREQ", b"5"], "+OK\r\n");
        // Payload errors: footer vs body.
        let mut bad = p.clone();
        *bad.last_mut().unwrap() ^= 1;
        rtb(&mut r, &[b"RESTORE", b"x", b"0", &bad], "-ERR DUMP payload version or checksum are wrong\r\n");
        let mut newer = p[..p.len() - 10].to_vec();
        newer.extend_from_slice(&11u16.to_le_bytes());
        let crc = crc64(0, &newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        rtb(&mut r, &[b"RESTORE", b"x", b"0", &newer], "-ERR DUMP payload version or checksum are wrong\r\n");
        for body in [&[0u8, 0x05, b'a'][..], &[2, 0], &[2, 2, 1, b'a', 1, b'a'], &[200, 0], &[16, 3, 1, 2, 3], &[3, 1, 1, b'a', 253]] {
            rtb(&mut r, &[b"RESTORE", b"x", b"0", &payload(body)], "-ERR Bad data format\r\n");
        }
        rtb(&mut r, &[b"EXISTS", b"x"], ":0\r\n");
    }
}

fn read_int(r: &mut common::Raw, args: &[&[u8]]) -> i64 {
    r.send(&resp(args));
    let line = common::read_line(r);
    line.strip_prefix(':').unwrap().parse().unwrap()
}

#[test]
fn changes_and_command_info() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("s").arg("v").query(&mut c).unwrap();
    let p = dump(&mut c, b"s").unwrap();
    let before = common::changes(&mut c);
    restore(&mut c, b"r", 0, &p, &[]).unwrap();
    restore(&mut c, b"r", 0, &p, &["REPLACE"]).unwrap();
    assert!(restore(&mut c, b"r", 0, &p, &[]).is_err());
    // Already expired: no change, unless an existing key is deleted.
    restore(&mut c, b"e", 1, &p, &["ABSTTL"]).unwrap();
    restore(&mut c, b"r", 1, &p, &["ABSTTL", "REPLACE"]).unwrap();
    let _: Option<Vec<u8>> = redis::cmd("DUMP").arg("s").query(&mut c).unwrap();
    assert_eq!(common::changes(&mut c) - before, 3);
    assert_changes(&mut c, &[("DUMP s", 0), ("DUMP nokey", 0)]);
    assert_command_info(
        &mut c,
        &[("dump", 2, "readonly", 1, 1, 1, "@keyspace @read @slow"), ("restore", -4, "write denyoom", 1, 1, 1, "@keyspace @write @slow @dangerous")],
    );
}

/// Values of every type and encoding: listpack and hashtable hashes, intset and
/// hashtable sets, listpack and skiplist sorted sets, quicklist lists, int / short /
/// long (LZF) strings.
fn every_encoding() -> BTreeMap<Vec<u8>, Model> {
    let mut g = Gen(fastrand::Rng::with_seed(42));
    let mut out = BTreeMap::new();
    for i in 0..36u8 {
        out.insert(format!("k{i}").into_bytes(), g.model(i % 6, i >= 18));
    }
    out.insert(b"int".to_vec(), Model::Str(b"-123456".to_vec()));
    out.insert(b"lzf".to_vec(), Model::Str(b"abc".repeat(200)));
    out.insert(b"intset".to_vec(), Model::Set((1..100).map(|i: i32| (i * 7).to_string().into_bytes()).collect()));
    out.insert(b"lphash".to_vec(), Model::Hash((0..10).map(|i| (format!("f{i}").into_bytes(), format!("{i}").into_bytes())).collect()));
    out.insert(b"bigzset".to_vec(), Model::ZSet((0..500).map(|i| (format!("m{i}").into_bytes(), f64::from(i) / 3.0)).collect()));
    out.insert(b"quicklist".to_vec(), Model::List((0..20000).map(|i| format!("item-{i}").into_bytes()).collect()));
    out
}

#[test]
fn payloads_move_between_redis_and_us() {
    let dir = temp_dir("dump-restore");
    let theirs = RedisServer::start(&dir, &[]);
    let ours = Node::start(&[]);
    let (mut tc, mut oc) = (theirs.client(), ours.client());
    let data = every_encoding();
    for (k, m) in &data {
        // Redis → us.
        m.store(&mut tc, k);
        let p = dump(&mut tc, k).unwrap();
        restore(&mut oc, k, 0, &p, &[]).unwrap_or_else(|e| panic!("{k:?} from redis: {e}"));
        assert_eq!(Model::load(&mut oc, k).as_ref(), Some(m), "{k:?} from redis");
        let enc_theirs: String = redis::cmd("OBJECT").arg("ENCODING").arg(k).query(&mut tc).unwrap();
        let enc_ours: String = redis::cmd("OBJECT").arg("ENCODING").arg(k).query(&mut oc).unwrap();
        if !matches!(m, Model::Str(_) | Model::Hash(_)) {
            assert_eq!(enc_ours, enc_theirs, "{k:?}");
        }
        // Us → Redis, under another name, with a TTL.
        let p = dump(&mut oc, k).unwrap();
        let mut k2 = k.clone();
        k2.extend_from_slice(b":back");
        restore(&mut tc, &k2, 60_000, &p, &[]).unwrap_or_else(|e| panic!("{k:?} from us: {e}"));
        assert_eq!(Model::load(&mut tc, &k2).as_ref(), Some(m), "{k:?} from us");
        let pttl: i64 = redis::cmd("PTTL").arg(&k2).query(&mut tc).unwrap();
        assert!(pttl > 50_000, "{pttl}");
    }
    // Redis checks our payloads deeply too.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("sanitize-dump-payload").arg("yes").query(&mut tc).unwrap();
    for k in data.keys() {
        let p = dump(&mut oc, k).unwrap();
        restore(&mut tc, k, 0, &p, &["REPLACE"]).unwrap_or_else(|e| panic!("{k:?} sanitized: {e}"));
    }
    drop(theirs);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idletime_sets_how_long_the_key_reads_as_idle() {
    let node = common::Node::start(&[]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("src").arg("v").query(&mut c).unwrap();
    let p = dump(&mut c, b"src").unwrap();
    assert_eq!(restore(&mut c, b"k", 0, &p, &["IDLETIME", "1000"]).unwrap(), "OK");
    let idle: i64 = redis::cmd("OBJECT").arg("IDLETIME").arg("k").query(&mut c).unwrap();
    assert!((1000..1005).contains(&idle), "OBJECT IDLETIME is {idle}");
}
