//! HyperLogLog commands against the real binary. Fixed expectations were checked against
//! redis-server 7.0.15; the `oracle_*` tests also run a live redis-server (Debian's
//! 7.0.15) on loopback and compare replies and stored bytes with it directly — sparse
//! and dense representations must be byte-identical. They need `redis-server`
//! (scripts/test.sh installs it) and fail without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use proptest::prelude::*;

const NOT_HLL: &str = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
const CORRUPT: &str = "-INVALIDOBJ Corrupted HLL object detected\r\n";
/// Header of a sparse HLL with a valid cached cardinality of 0.
const SPARSE_HDR: &[u8] = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0";
const DENSE_LEN: usize = 16 + 12288;

/// A buffered RESP connection that returns each reply as its raw bytes.
struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn connect(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { r: BufReader::new(s.try_clone().unwrap()), w: s }
    }

    fn send(&mut self, args: &[&[u8]]) {
        self.w.write_all(&resp(args)).unwrap();
    }

    fn line(&mut self, out: &mut Vec<u8>) -> Vec<u8> {
        let start = out.len();
        let n = self.r.read_until(b'\n', out).unwrap();
        assert!(n > 0, "connection closed");
        out[start..out.len() - 2].to_vec()
    }

    /// Reads one whole reply (any RESP2/RESP3 type) and returns its bytes.
    fn read(&mut self, out: &mut Vec<u8>) {
        let line = self.line(out);
        let n = || std::str::from_utf8(&line[1..]).unwrap().parse::<i64>().unwrap();
        match line[0] {
            b'$' | b'=' | b'!' if n() >= 0 => {
                let mut buf = vec![0; n() as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                out.extend_from_slice(&buf);
            }
            b'*' | b'~' | b'>' => (0..n().max(0)).for_each(|_| self.read(out)),
            b'%' => (0..2 * n()).for_each(|_| self.read(out)),
            _ => {}
        }
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        let mut out = Vec::new();
        self.read(&mut out);
        out
    }

    fn cmds(&mut self, line: &str) -> Vec<u8> {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        self.cmd(&args)
    }

    /// Sends many commands at once and returns their replies in order.
    fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
        let mut buf = Vec::new();
        for c in cmds {
            let a: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            buf.extend(resp(&a));
        }
        self.w.write_all(&buf).unwrap();
        cmds.iter()
            .map(|_| {
                let mut out = Vec::new();
                self.read(&mut out);
                out
            })
            .collect()
    }

    fn get(&mut self, key: &str) -> Vec<u8> {
        let reply = self.cmd(&[b"GET", key.as_bytes()]);
        let body = reply.splitn(2, |&b| b == b'\n').nth(1).unwrap_or_default();
        body[..body.len().saturating_sub(2)].to_vec()
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        assert_eq!(self.cmd(&[b"SET", key.as_bytes(), value]), b"+OK\r\n");
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn int_reply(reply: &[u8]) -> i64 {
    std::str::from_utf8(&reply[1..reply.len() - 2]).unwrap().parse().unwrap()
}

/// PFADD key e... as a pipelined command.
fn pfadd(key: &str, elements: impl IntoIterator<Item = String>) -> Vec<Vec<u8>> {
    let mut c = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
    c.extend(elements.into_iter().map(String::into_bytes));
    c
}

fn dirty(c: &mut Conn) -> i64 {
    let info = s(&c.cmd(&[b"INFO", b"persistence"]));
    info_field(&info, "rdb_changes_since_last_save").unwrap().parse().unwrap()
}

#[test]
fn pfadd_creates_a_sparse_string_and_counts_changes() {
    let node = Node::start(&[]);
    let mut c = Conn::connect(node.port);
    // A key created without elements still counts as a change: the cache is marked stale.
    assert_eq!(c.cmds("PFADD k"), b":1\r\n");
    assert_eq!(c.get("k"), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff");
    assert_eq!(c.cmds("PFADD k"), b":0\r\n");
    assert_eq!(c.cmds("PFCOUNT k"), b":0\r\n");
    assert_eq!(c.get("k"), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    c.cmds("DEL k");
    assert_eq!(c.cmds("PFADD k a b c"), b":1\r\n");
    // Redis 7.0.15 stores exactly these bytes for {a, b, c}.
    assert_eq!(c.get("k"), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ");
    assert_eq!(c.cmds("PFADD k a b c"), b":0\r\n");
    assert_eq!(c.cmds("PFADD k c d"), b":1\r\n");
    assert_eq!(c.cmds("PFCOUNT k"), b":4\r\n");
    assert_eq!(c.cmds("TYPE k"), b"+string\r\n");
    assert_eq!(c.cmds("OBJECT ENCODING k"), b"$3\r\nraw\r\n");
    assert_eq!(c.cmds("PFDEBUG ENCODING k"), b"+sparse\r\n");
    let decoded = "Z:7292 v:1,1 Z:1143 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603";
    assert_eq!(s(&c.cmds("PFDEBUG DECODE k")), s(&bulk(decoded)));
    // Binary and empty elements are elements like any other.
    assert_eq!(c.cmd(&[b"PFADD", b"bin", b"", b"\0\xff"]), b":1\r\n");
    assert_eq!(c.cmd(&[b"PFCOUNT", b"bin"]), b":2\r\n");
}

#[test]
fn pfcount_caches_the_cardinality_in_the_header() {
    let node = Node::start(&[]);
    let mut c = Conn::connect(node.port);
    c.cmds("PFADD k a b c");
    let card = |v: &[u8]| v[8..16].to_vec();
    assert_eq!(card(&c.get("k")), [0, 0, 0, 0, 0, 0, 0, 0x80]);
    let before = dirty(&mut c);
    assert_eq!(c.cmds("PFCOUNT k"), b":3\r\n");
    // Refreshing the cache is a write (it changes the string).
    assert_eq!(dirty(&mut c), before + 1);
    assert_eq!(card(&c.get("k")), [3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.cmds("PFCOUNT k"), b":3\r\n");
    assert_eq!(dirty(&mut c), before + 1, "a valid cache is read, not rewritten");
    // An update only sets the stale bit; the old count stays in the other bytes.
    c.cmds("PFADD k d");
    assert_eq!(card(&c.get("k")), [3, 0, 0, 0, 0, 0, 0, 0x80]);
    assert_eq!(c.cmds("PFCOUNT k"), b":4\r\n");
    // A hand-written valid cache is believed, whatever the registers say.
    let mut v = c.get("k");
    v[8..16].copy_from_slice(&1234u64.to_le_bytes());
    c.set("k", &v);
    assert_eq!(c.cmds("PFCOUNT k"), b":1234\r\n");
    // Several keys never use or write the caches.
    assert_eq!(c.cmds("PFCOUNT k k"), b":4\r\n");
    assert_eq!(c.get("k"), v);
    // Every register at its maximum: Redis's rounding overflows to i64::MIN, whose top
    // bit leaves the cache stale.
    let mut sat = b"HYLL\0\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
    sat.extend(std::iter::repeat_n(0xff, DENSE_LEN - 16));
    c.set("sat", &sat);
    assert_eq!(c.cmds("PFCOUNT sat"), b":-9223372036854775808\r\n");
    assert_eq!(card(&c.get("sat")), [0, 0, 0, 0, 0, 0, 0, 0x80]);
}

#[test]
fn pfcount_of_100k_elements_is_within_three_standard_errors() {
    let node = Node::start(&[]);
    let mut c = Conn::connect(node.port);
    let batches: Vec<_> = (0..100).map(|b| pfadd("big", (b * 1000 + 1..=b * 1000 + 1000).map(|i| i.to_string()))).collect();
    c.pipeline(&batches);
    let n = int_reply(&c.cmds("PFCOUNT big"));
    assert!((n - 100_000).abs() as f64 <= 100_000.0 * 0.0081 * 3.0, "estimate {n}");
    // The exact figure redis-server 7.0.15 gives for the same elements.
    assert_eq!(n, 99562);
    assert_eq!(c.cmds("PFDEBUG ENCODING big"), b"+dense\r\n");
    assert_eq!(c.get("big").len(), DENSE_LEN);
    // The union with an overlapping set, as Redis estimates it.
    let batches: Vec<_> = (0..100).map(|b| pfadd("h2", (50_001 + b * 1000..50_001 + b * 1000 + 1000).map(|i| i.to_string()))).collect();
    c.pipeline(&batches);
    let before = (c.get("big"), c.get("h2"));
    assert_eq!(c.cmds("PFCOUNT big h2"), b":150041\r\n");
    assert_eq!((c.get("big"), c.get("h2")), before, "PFCOUNT of several keys modifies none");
    // A sparse HLL of 200 elements.
    c.pipeline(&[pfadd("s", (1..=200).map(|i| i.to_string()))]);
    assert_eq!(c.cmds("PFCOUNT s"), b":201\r\n");
    assert_eq!(c.get("s").len(), 508);
}

#[test]
fn pfmerge_builds_the_union() {
    let node = Node::start(&[]);
    let mut c = Conn::connect(node.port);
    c.cmds("PFADD a 1 2 3");
    c.cmds("PFADD b 3 4 5");
    assert_eq!(c.cmds("PFMERGE d a b nokey"), b"+OK\r\n");
    assert_eq!(c.cmds("PFCOUNT d"), b":5\r\n");
    assert_eq!(c.cmds("PFDEBUG ENCODING d"), b"+sparse\r\n");
    // The destination is one of the inputs.
    assert_eq!(c.cmds("PFMERGE a b"), b"+OK\r\n");
    assert_eq!(c.cmds("PFCOUNT a"), b":5\r\n");
    // Merging into itself alone creates an empty HLL or leaves it as it is, cache stale.
    assert_eq!(c.cmds("PFMERGE e"), b"+OK\r\n");
    assert_eq!(c.get("e"), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff");
    // A dense input makes the destination dense.
    c.cmds("PFDEBUG TODENSE b");
    assert_eq!(c.cmds("PFMERGE f a b"), b"+OK\r\n");
    assert_eq!(c.cmds("PFDEBUG ENCODING f"), b"+dense\r\n");
    assert_eq!(c.cmds("PFCOUNT f"), b":5\r\n");
    // Errors leave the destination alone.
    c.cmds("SET str hello");
    assert_eq!(c.cmds("PFMERGE g a str"), NOT_HLL.as_bytes());
    assert_eq!(c.cmds("EXISTS g"), b":0\r\n");
    assert_eq!(c.cmds("PFMERGE str a"), NOT_HLL.as_bytes());
    assert_eq!(c.get("str"), b"hello");
}

#[test]
fn errors_are_redis_errors() {
    let node = Node::start(&[]);
    let mut c = Conn::connect(node.port);
    for (cmd, name) in [("PFADD", "pfadd"), ("PFCOUNT", "pfcount"), ("PFMERGE", "pfmerge"), ("PFDEBUG", "pfdebug"), ("PFDEBUG ENCODING", "pfdebug")] {
        assert_eq!(s(&c.cmds(cmd)), format!("-ERR wrong number of arguments for '{name}' command\r\n"));
    }
    assert_eq!(s(&c.cmds("PFSELFTEST x")), "-ERR wrong number of arguments for 'pfselftest' command\r\n");
    c.cmds("SET str hello");
    c.set("short", b"HYLL\x01\0\0\0\0\0\0\0\0\0\0");
    c.set("magic", b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    c.set("enc", b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    c.set("dense", b"HYLL\0\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    c.cmds("SET int 1234567890123456");
    c.cmds("PFADD ok x");
    for key in ["str", "short", "magic", "enc", "dense", "int"] {
        assert_eq!(s(&c.cmds(&format!("PFADD {key} a"))), NOT_HLL, "{key}");
        assert_eq!(s(&c.cmds(&format!("PFADD {key}"))), NOT_HLL, "{key}");
        assert_eq!(s(&c.cmds(&format!("PFCOUNT {key}"))), NOT_HLL, "{key}");
        assert_eq!(s(&c.cmds(&format!("PFCOUNT ok {key}"))), NOT_HLL, "{key}");
        assert_eq!(s(&c.cmds(&format!("PFMERGE ok {key}"))), NOT_HLL, "{key}");
        assert_eq!(s(&c.cmds(&format!("PFDEBUG GETREG {key}"))), NOT_HLL, "{key}");
    }
    // A sparse payload covering 16383 registers, its cached count stale.
    let mut bad = SPARSE_HDR.to_vec();
    bad[15] = 0x80;
    bad.extend_from_slice(b"\x7f\xfe");
    c.set("bad", &bad);
    assert_eq!(s(&c.cmds("PFCOUNT bad")), CORRUPT);
    assert_eq!(s(&c.cmds("PFCOUNT ok bad")), CORRUPT);
    assert_eq!(s(&c.cmds("PFMERGE ok bad")), CORRUPT);
    assert_eq!(s(&c.cmds("PFDEBUG TODENSE bad")), CORRUPT);
    assert_eq!(s(&c.cmds("PFDEBUG GETREG bad")), CORRUPT);
    // Registers the payload does cover can still be set, as in Redis; "a" falls in
    // register 12711 with a run of 2.
    assert_eq!(s(&c.cmds("PFADD bad a")), ":1\r\n");
    assert_eq!(c.cmds("PFDEBUG DECODE bad"), bulk("Z:12711 v:2,1 Z:3671"));
    if make_non_string(&mut node.client(), "coll") {
        assert_eq!(s(&c.cmds("PFADD coll a")), WRONGTYPE);
        assert_eq!(s(&c.cmds("PFCOUNT coll")), WRONGTYPE);
        assert_eq!(s(&c.cmds("PFCOUNT ok coll")), WRONGTYPE);
        assert_eq!(s(&c.cmds("PFMERGE coll ok")), WRONGTYPE);
        assert_eq!(s(&c.cmds("PFDEBUG ENCODING coll")), WRONGTYPE);
    }
    assert_eq!(s(&c.cmds("PFDEBUG ENCODING nokey")), "-ERR The specified key does not exist\r\n");
    assert_eq!(s(&c.cmds("PFDEBUG NOPE nokey")), "-ERR The specified key does not exist\r\n");
    assert_eq!(s(&c.cmds("PFDEBUG NOPE str")), NOT_HLL);
    assert_eq!(s(&c.cmds("PFDEBUG NOPE ok")), "-ERR Unknown PFDEBUG subcommand 'NOPE'\r\n");
    c.cmds("PFDEBUG TODENSE ok");
    assert_eq!(s(&c.cmds("PFDEBUG DECODE ok")), "-ERR HLL encoding is not sparse\r\n");
    let info = s(&c.cmd(&[b"INFO", b"errorstats"]));
    assert!(info.contains("errorstat_INVALIDOBJ:count="), "{info}");
}

#[test]
fn pfdebug_and_pfselftest() {
    let node = Node::start(&[]);
    let mut c = Conn::connect(node.port);
    c.cmds("PFADD k a foo");
    assert_eq!(c.cmds("PFDEBUG DECODE k"), bulk("Z:7348 v:5,1 Z:5362 v:2,1 Z:3672"));
    assert_eq!(c.cmds("PFDEBUG ENCODING k"), b"+sparse\r\n");
    // GETREG turns the value dense and lists every register.
    let regs = c.cmds("PFDEBUG GETREG k");
    assert!(regs.starts_with(b"*16384\r\n:0\r\n"));
    assert_eq!(regs.len(), 8 + 16384 * 4);
    assert_eq!(c.cmds("PFDEBUG ENCODING k"), b"+dense\r\n");
    assert_eq!(c.cmds("PFDEBUG TODENSE k"), b":0\r\n");
    c.cmds("PFADD j a");
    assert_eq!(c.cmds("PFDEBUG TODENSE j"), b":1\r\n");
    assert_eq!(c.get("j").len(), DENSE_LEN);
    assert_eq!(c.cmds("PFCOUNT j"), b":1\r\n");
    assert_eq!(c.cmds("PFSELFTEST"), b"+OK\r\n");
    // RESP3 shapes are the same: integers, arrays, statuses.
    let mut r3 = Conn::connect(node.port);
    r3.cmds("HELLO 3");
    assert_eq!(r3.cmds("PFCOUNT k"), b":2\r\n");
    assert_eq!(r3.cmds("PFDEBUG ENCODING k"), b"+dense\r\n");
    assert_eq!(r3.cmds("PFDEBUG GETREG k"), regs);
    assert_eq!(r3.cmds("PFADD k a"), b":0\r\n");
    assert_eq!(r3.cmds("PFMERGE k j"), b"+OK\r\n");
}

/// Random bytes behind a valid header: every command answers (a count, OK or an
/// error), and the server stays up.
#[test]
fn corrupted_values_never_crash_the_node() {
    let node = Node::start(&[]);
    // The runner takes a `Fn`: the connection is borrowed mutably inside each case.
    let conn = std::cell::RefCell::new(Conn::connect(node.port));
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config { cases: 200, ..Default::default() });
    let strategy = (any::<bool>(), prop::collection::vec(any::<u8>(), 0..80), prop::collection::vec(any::<u8>(), 0..8));
    runner
        .run(&strategy, |(dense, payload, element)| {
            let mut c = conn.borrow_mut();
            let mut v = if dense { b"HYLL\0\0\0\0\0\0\0\0\0\0\0\x80".to_vec() } else { SPARSE_HDR.to_vec() };
            if dense {
                let fill: Vec<u8> = payload.iter().copied().cycle().take(DENSE_LEN - 16).collect();
                v.extend(if fill.is_empty() { vec![0xff; DENSE_LEN - 16] } else { fill });
            } else {
                v.extend_from_slice(&payload);
            }
            c.set("v", &v);
            for cmd in [
                &[&b"PFCOUNT"[..], b"v"][..],
                &[b"PFCOUNT", b"v", b"nokey"],
                &[b"PFADD", b"v", &element, b"x"],
                &[b"PFCOUNT", b"v"],
                &[b"PFMERGE", b"d", b"v"],
                &[b"PFDEBUG", b"DECODE", b"v"],
                &[b"PFDEBUG", b"GETREG", b"v"],
            ] {
                let reply = c.cmd(cmd);
                prop_assert!(matches!(reply[0], b':' | b'+' | b'-' | b'*' | b'$'), "{:?}: {:?}", cmd, s(&reply));
            }
            c.cmds("DEL d");
            Ok(())
        })
        .unwrap();
    assert_eq!(conn.borrow_mut().cmds("PING"), b"+PONG\r\n");
}

// ---- Against a live redis-server ----

/// redis-server 7.0 on a free loopback port, killed on drop.
struct Oracle {
    child: Child,
    port: u16,
}

impl Oracle {
    fn start() -> Oracle {
        let port = free_port();
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = spawned.expect("redis-server must be installed (scripts/test.sh installs it)");
        let oracle = Oracle { child, port };
        let up = wait_for(Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 7];
                s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
            })
        });
        assert!(up, "redis-server did not start on port {port}");
        oracle
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One connection to each server; every command goes to both and must get the same reply.
struct Both {
    ours: Conn,
    redis: Conn,
}

impl Both {
    fn new(node: &Node, oracle: &Oracle) -> Both {
        let mut b = Both { ours: Conn::connect(node.port), redis: Conn::connect(oracle.port) };
        b.same(&[b"FLUSHALL"]);
        b
    }

    fn same(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let (a, b) = (self.ours.cmd(args), self.redis.cmd(args));
        let shown: Vec<String> = args.iter().map(|a| s(&a[..a.len().min(40)])).collect();
        assert!(a == b, "{shown:?}\n ours:  {}\n redis: {}", s(&a[..a.len().min(300)]), s(&b[..b.len().min(300)]));
        a
    }

    fn same_str(&mut self, line: &str) -> Vec<u8> {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        self.same(&args)
    }

    fn same_pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) {
        let (a, b) = (self.ours.pipeline(cmds), self.redis.pipeline(cmds));
        for ((x, y), c) in a.iter().zip(&b).zip(cmds) {
            assert!(x == y, "{:?}: ours {} redis {}", s(&c[0]), s(x), s(y));
        }
    }

    /// The stored bytes of `key` are identical on both servers.
    fn same_value(&mut self, key: &str) {
        let (a, b) = (self.ours.get(key), self.redis.get(key));
        assert!(a == b, "{key}: {} bytes here, {} in Redis; first difference at {:?}", a.len(), b.len(), a.iter().zip(&b).position(|(x, y)| x != y));
    }
}

#[test]
fn oracle_replies_match_redis_server() {
    let oracle = Oracle::start();
    let node = Node::start(&[]);
    let mut both = Both::new(&node, &oracle);
    for resp3 in [false, true] {
        both.same_str("FLUSHALL");
        both.same_str("CONFIG RESETSTAT");
        let dirty_before = (dirty(&mut both.ours), dirty(&mut both.redis));
        if resp3 {
            both.ours.cmds("HELLO 3");
            both.redis.cmds("HELLO 3");
        }
        for line in [
            "PFADD",
            "PFADD k",
            "PFADD k",
            "GET k",
            "PFCOUNT k",
            "GET k",
            "PFADD k a b c d e",
            "PFADD k a",
            "PFCOUNT k",
            "PFCOUNT k k",
            "PFCOUNT k nokey",
            "PFCOUNT nokey",
            "PFCOUNT nokey1 nokey2",
            "GET k",
            "PFADD j c d e f g h",
            "PFMERGE m k j",
            "GET m",
            "PFCOUNT m",
            "PFMERGE m",
            "PFMERGE newkey",
            "GET newkey",
            "PFMERGE k k",
            "GET k",
            "SET str hello",
            "PFADD str a",
            "PFCOUNT str",
            "PFCOUNT k str",
            "PFMERGE str k",
            "PFMERGE k str",
            "SET num 12345",
            "PFADD num a",
            "PFDEBUG ENCODING k",
            "PFDEBUG DECODE k",
            "PFDEBUG DECODE str",
            "PFDEBUG DECODE nokey",
            "PFDEBUG nope k",
            "PFDEBUG nope nokey",
            "PFDEBUG GETREG m",
            "PFDEBUG ENCODING m",
            "PFDEBUG DECODE m",
            "PFDEBUG TODENSE m",
            "PFDEBUG TODENSE k",
            "PFDEBUG TODENSE k",
            "GET k",
            "PFCOUNT k",
            "PFMERGE j k",
            "GET j",
            "PFDEBUG",
            "PFDEBUG x",
            "PFDEBUG x y z",
            "PFCOUNT",
            "PFMERGE",
            "PFSELFTEST",
            "PFSELFTEST x",
            "OBJECT ENCODING k",
            "TYPE k",
        ] {
            both.same_str(line);
        }
        // A short HLL written with SET is an embedded string until a PF command touches it.
        let mut empty = SPARSE_HDR.to_vec();
        empty.extend_from_slice(b"\x7f\xff");
        for key in [&b"e1"[..], b"e2", b"e3", b"e4"] {
            both.same(&[b"SET", key, &empty]);
            both.same(&[b"OBJECT", b"ENCODING", key]);
        }
        for args in [&[&b"PFCOUNT"[..], b"e1"][..], &[b"PFADD", b"e2"], &[b"PFMERGE", b"e3"], &[b"PFCOUNT", b"e4", b"e4"], &[b"PFDEBUG", b"ENCODING", b"e4"]] {
            both.same(args);
            for key in [&b"e1"[..], b"e2", b"e3", b"e4"] {
                both.same(&[b"OBJECT", b"ENCODING", key]);
                both.same(&[b"GET", key]);
            }
        }
        // The same lookups count as hits and misses, and the same writes as changes.
        let stats = |c: &mut Conn| {
            let info = s(&c.cmd(&[b"INFO", b"stats"]));
            (info_field(&info, "keyspace_hits"), info_field(&info, "keyspace_misses"))
        };
        assert_eq!(stats(&mut both.ours), stats(&mut both.redis));
        assert_eq!(dirty(&mut both.ours) - dirty_before.0, dirty(&mut both.redis) - dirty_before.1);
    }
}

/// Growing HLLs by batches of various sizes, through the sparse limit and past it:
/// after every step the stored bytes are those Redis stores.
#[test]
fn oracle_representation_is_byte_identical() {
    let oracle = Oracle::start();
    let node = Node::start(&[]);
    let mut both = Both::new(&node, &oracle);
    let mut next = 0u64;
    for (key, batch) in [("one", 1usize), ("three", 3), ("fifty", 50), ("big", 700)] {
        // Batches until the HLL is dense, and a few more once it is.
        let mut dense_batches = 0;
        for step in 0.. {
            assert!(step < 20_000, "{key} never turned dense");
            let elements: Vec<String> = (0..batch).map(|i| format!("{key}:{}", next + i as u64)).collect();
            next += batch as u64;
            both.same_pipeline(&[pfadd(key, elements)]);
            both.same_value(key);
            if step % 5 == 0 {
                both.same(&[b"PFCOUNT", key.as_bytes()]);
                both.same_value(key);
            }
            if both.ours.get(key).len() == DENSE_LEN {
                dense_batches += 1;
                if dense_batches == 5 {
                    break;
                }
            }
        }
        both.same(&[b"PFCOUNT", key.as_bytes()]);
        both.same_value(key);
    }
    // Registers above 32 only fit the dense encoding: these 8-byte elements (u64
    // little-endian) have runs of 33, so adding one to a sparse HLL makes it dense.
    for (i, n) in [3_130_853_818u64, 7_555_790_606, 9_524_120_947].into_iter().enumerate() {
        let key = format!("runs{i}");
        both.same_pipeline(&[pfadd(&key, (0..20 * i).map(|j| format!("r{j}")))]);
        both.same_value(&key);
        assert_eq!(both.same(&[b"PFADD", key.as_bytes(), &n.to_le_bytes()]), b":1\r\n");
        both.same_value(&key);
        assert_eq!(both.same(&[b"PFDEBUG", b"ENCODING", key.as_bytes()]), b"+dense\r\n");
        both.same(&[b"PFCOUNT", key.as_bytes()]);
    }
    // Merges: sparse into sparse, sparse into missing, dense into sparse, into itself.
    both.same_pipeline(&[pfadd("s1", (0..300).map(|i| format!("x{i}"))), pfadd("s2", (200..700).map(|i| format!("x{i}")))]);
    for line in [
        "PFMERGE m1 s1 s2",
        "PFMERGE s1 s2",
        "PFMERGE m2 s1 big",
        "PFMERGE s2 big",
        "PFMERGE m3 one three fifty",
        "PFMERGE m4 m4",
        "PFCOUNT m1",
        "PFCOUNT m2 m3 s1",
    ] {
        both.same_str(line);
    }
    for key in ["m1", "s1", "m2", "s2", "m3", "m4"] {
        both.same_value(key);
    }
}

/// Values made by one server are read the same by the other.
#[test]
fn oracle_values_move_between_servers() {
    let oracle = Oracle::start();
    let node = Node::start(&[]);
    let mut both = Both::new(&node, &oracle);
    for (i, n) in [0usize, 1, 10, 100, 1000, 5000, 60_000].into_iter().enumerate() {
        let key = format!("h{i}");
        let elements = (0..n).map(|j| format!("{i}-{j}"));
        both.redis.pipeline(&[pfadd(&key, elements)]);
        // Copied with the stale cache, then with the cache Redis wrote.
        for _ in 0..2 {
            let v = both.redis.get(&key);
            both.ours.set(&key, &v);
            both.same(&[b"PFCOUNT", key.as_bytes()]);
            both.same_value(&key);
        }
        // And the other way round.
        let other = format!("o{i}");
        both.ours.pipeline(&[pfadd(&other, (0..n).map(|j| format!("o{i}-{j}")))]);
        let v = both.ours.get(&other);
        both.redis.set(&other, &v);
        both.same(&[b"PFCOUNT", other.as_bytes()]);
        both.same(&[b"PFCOUNT", key.as_bytes(), other.as_bytes()]);
    }
}

/// Corrupted values are handled as Redis handles them: same replies, same bytes after.
#[test]
fn oracle_corrupted_values_match_redis_server() {
    let oracle = Oracle::start();
    let node = Node::start(&[]);
    let mut both = Both::new(&node, &oracle);
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..400 {
        // Mostly plausible opcodes, so that updates reach deep into the payload.
        let mut v = SPARSE_HDR.to_vec();
        let ops = rng.usize(0..12);
        for _ in 0..ops {
            match rng.u8(0..4) {
                0 => v.push(rng.u8(0..64)),
                1 => v.extend([0x40 | rng.u8(0..64), rng.u8(..)]),
                2 => v.push(0x80 | rng.u8(0..128)),
                _ => v.push(rng.u8(..)),
            }
        }
        // A lone XZERO byte at the very end is left out: Redis reads the byte past the
        // end of its buffer there, which after an update is a stale byte rather than the
        // terminating zero we read.
        if ends_with_cut_xzero(&v[16..]) {
            v.push(rng.u8(..));
        }
        if rng.bool() {
            // Close to valid: pad with zeros up to 16384 registers, give or take.
            let covered: usize = sparse_span(&v[16..]);
            let mut left = 16384usize.saturating_sub(covered) as i64 + rng.i64(-2..=2);
            while left > 0 {
                let n = left.min(16384);
                v.extend([0x40 | ((n - 1) >> 8) as u8, ((n - 1) & 0xff) as u8]);
                left -= n;
            }
        }
        if round % 10 == 0 {
            v[15] |= 0x80;
        }
        both.ours.set("v", &v);
        both.redis.set("v", &v);
        let e = format!("e{round}");
        for args in [
            &[&b"PFCOUNT"[..], b"v", b"nokey"][..],
            &[b"PFMERGE", b"d", b"v"],
            &[b"PFADD", b"v", b"a", b"b", e.as_bytes(), b"6"],
            &[b"PFCOUNT", b"v"],
            &[b"PFDEBUG", b"DECODE", b"v"],
        ] {
            both.same(args);
            both.same_value("v");
            both.same_value("d");
        }
        both.same_str("DEL d");
    }
    // Dense values with arbitrary registers (up to 63, beyond what a hash can give).
    for round in 0..60 {
        let mut v = b"HYLL\0\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
        let density = rng.u8(..);
        v.extend((0..DENSE_LEN - 16).map(|_| if rng.u8(..) < density { rng.u8(..) } else { 0 }));
        both.ours.set("v", &v);
        both.redis.set("v", &v);
        both.same_str("PFADD s x y z");
        let e = format!("e{round}");
        for args in [&[&b"PFCOUNT"[..], b"v", b"s"][..], &[b"PFMERGE", b"s", b"v"], &[b"PFCOUNT", b"v"], &[b"PFADD", b"v", e.as_bytes()], &[b"PFCOUNT", b"v"]] {
            both.same(args);
            both.same_value("v");
            both.same_value("s");
        }
        both.same_str("DEL s");
    }
}

/// Whether the last opcode of a sparse payload is an XZERO missing its second byte.
fn ends_with_cut_xzero(p: &[u8]) -> bool {
    let mut at = 0;
    while at < p.len() {
        at += if p[at] & 0xc0 == 0x40 { 2 } else { 1 };
    }
    at > p.len()
}

/// Registers covered by a sparse payload, read as Redis reads it.
fn sparse_span(p: &[u8]) -> usize {
    let (mut at, mut n) = (0, 0);
    while at < p.len() {
        let b = p[at];
        match b & 0xc0 {
            0x00 => (n, at) = (n + usize::from(b & 0x3f) + 1, at + 1),
            0x40 => (n, at) = (n + (usize::from(b & 0x3f) << 8 | usize::from(p.get(at + 1).copied().unwrap_or(0))) + 1, at + 2),
            _ => (n, at) = (n + usize::from(b & 3) + 1, at + 1),
        }
    }
    n
}
