//! Bitmap commands against the real binary: replies and error texts byte for byte as
//! Redis 7.0 sends them (checked against redis-server 7.0.15).
#![allow(clippy::unwrap_used)]
mod common;
use common::*;

/// An array of integers (`None` = null bulk), as BITFIELD replies in RESP2.
fn ints(v: &[Option<i64>]) -> String {
    let mut s = format!("*{}\r\n", v.len());
    for x in v {
        match x {
            Some(n) => s.push_str(&format!(":{n}\r\n")),
            None => s.push_str("$-1\r\n"),
        }
    }
    s
}

const BIT_OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";
const BIT_VALUE: &str = "-ERR bit is not an integer or out of range\r\n";
const BAD_TYPE: &str = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";

#[test]
fn setbit_and_getbit() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "SETBIT k 7 1", ":0\r\n");
    rt(&mut r, "GET k", b"$1\r\n\x01\r\n");
    rt(&mut r, "SETBIT k 7 1", ":1\r\n");
    rt(&mut r, "SETBIT k 7 0", ":1\r\n");
    rt(&mut r, "SETBIT k 1 1", ":0\r\n");
    rt(&mut r, "GET k", "$1\r\n@\r\n");
    rt(&mut r, "SETBIT k 100 1", ":0\r\n");
    rt(&mut r, "STRLEN k", ":13\r\n");
    rt(&mut r, "GETBIT k 100", ":1\r\n");
    rt(&mut r, "GETBIT k 99", ":0\r\n");
    rt(&mut r, "GETBIT k 1", ":1\r\n");
    // far past the end of the string, and on a missing key
    rt(&mut r, "GETBIT k 4294967295", ":0\r\n");
    rt(&mut r, "GETBIT nosuch 5", ":0\r\n");
    for bad in ["4294967296", "-1", "abc", "1.5"] {
        rt(&mut r, &format!("SETBIT k {bad} 1"), BIT_OFFSET);
        rt(&mut r, &format!("GETBIT k {bad}"), BIT_OFFSET);
    }
    rt(&mut r, "GETBIT nosuch 4294967296", BIT_OFFSET);
    for bad in ["2", "-1", "abc", "01"] {
        rt(&mut r, &format!("SETBIT k 7 {bad}"), BIT_VALUE);
    }
    // the offset is checked before the value
    rt(&mut r, "SETBIT k -1 2", BIT_OFFSET);
    rt(&mut r, "SETBIT k 1", err_reply("ERR wrong number of arguments for 'setbit' command"));
    // in-place edits of a value set by SET
    rt(&mut r, "SET s a", OK);
    rt(&mut r, "SETBIT s 6 1", ":0\r\n");
    rt(&mut r, "GET s", "$1\r\nc\r\n");
}

#[test]
fn bit_offsets_are_limited_by_proto_max_bulk_len() {
    let node = Node::start(&["--proto-max-bulk-len", "1mb"]);
    let mut r = node.raw();
    let last = 1024 * 1024 * 8 - 1;
    rt(&mut r, &format!("SETBIT k {} 1", last + 1), BIT_OFFSET);
    rt(&mut r, &format!("SETBIT k {last} 1"), ":0\r\n");
    rt(&mut r, "STRLEN k", ":1048576\r\n");
    rt(&mut r, &format!("GETBIT k {last}"), ":1\r\n");
    rt(&mut r, &format!("BITFIELD k GET u8 {}", last + 1), BIT_OFFSET);
    rt(&mut r, "BITFIELD k GET u8 #1048576", BIT_OFFSET);
    rt(&mut r, "BITFIELD k GET u8 #1048575", ints(&[Some(1)]));
}

#[test]
fn bitcount() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    // Redis 7.0 answers 0 for a missing key without looking at the other arguments
    rt(&mut r, "BITCOUNT nosuch", ":0\r\n");
    rt(&mut r, "BITCOUNT nosuch a b", ":0\r\n");
    rt(&mut r, "BITCOUNT nosuch 0", ":0\r\n");
    rt(&mut r, "SET k foobar", OK);
    rt(&mut r, "BITCOUNT k", ":26\r\n");
    rt(&mut r, "BITCOUNT k 0 0", ":4\r\n");
    rt(&mut r, "BITCOUNT k 1 1", ":6\r\n");
    rt(&mut r, "BITCOUNT k 0 -1 BYTE", ":26\r\n");
    rt(&mut r, "BITCOUNT k 5 30 BIT", ":17\r\n");
    rt(&mut r, "BITCOUNT k -2 -1 bit", ":1\r\n");
    rt(&mut r, "BITCOUNT k 0 1000 BIT", ":26\r\n");
    rt(&mut r, "BITCOUNT k -9223372036854775808 9223372036854775807 BIT", ":26\r\n");
    rt(&mut r, "BITCOUNT k -1 -2", ":0\r\n");
    rt(&mut r, "BITCOUNT k -10 -20", ":0\r\n");
    // both clamp to the first byte
    rt(&mut r, "BITCOUNT k -10 -6", ":4\r\n");
    rt(&mut r, "BITCOUNT k 100 200", ":0\r\n");
    // negative start > end answers 0 before the unit is read
    rt(&mut r, "BITCOUNT k -1 -2 FOO", ":0\r\n");
    rt(&mut r, "BITCOUNT k 0", SYNTAX);
    rt(&mut r, "BITCOUNT k 0 1 FOO", SYNTAX);
    rt(&mut r, "BITCOUNT k 0 1 2 3", SYNTAX);
    rt(&mut r, "BITCOUNT k a b", NOT_INT);
    rt(&mut r, "BITCOUNT k 0 b", NOT_INT);
    rtb(&mut r, &[b"SET", b"e", b""], OK);
    rt(&mut r, "BITCOUNT e", ":0\r\n");
    rt(&mut r, "BITCOUNT e 0 -1 BIT", ":0\r\n");
    rt(&mut r, "BITCOUNT", err_reply("ERR wrong number of arguments for 'bitcount' command"));
    // a long bitmap, counted with a real client
    let mut c = node.client();
    let mut pipe = redis::pipe();
    for i in (0..80_000).step_by(3) {
        pipe.cmd("SETBIT").arg("long").arg(i).arg(1).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let n: i64 = redis::cmd("BITCOUNT").arg("long").query(&mut c).unwrap();
    assert_eq!(n, 26_667);
    let n: i64 = redis::cmd("BITCOUNT").arg("long").arg(1).arg(79_998).arg("BIT").query(&mut c).unwrap();
    assert_eq!(n, 26_666);
}

#[test]
fn bitpos() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "BITPOS nosuch 1", ":-1\r\n");
    rt(&mut r, "BITPOS nosuch 0", ":0\r\n");
    rt(&mut r, "BITPOS nosuch 1 a", ":-1\r\n");
    rt(&mut r, "BITPOS nosuch 2", err_reply("ERR The bit argument must be 1 or 0."));
    rt(&mut r, "BITPOS nosuch a", NOT_INT);
    rtb(&mut r, &[b"SET", b"z", b"\xff\xf0\x00"], OK);
    rt(&mut r, "BITPOS z 0", ":12\r\n");
    rt(&mut r, "BITPOS z 1", ":0\r\n");
    rt(&mut r, "BITPOS z 1 2", ":-1\r\n");
    rt(&mut r, "BITPOS z 0 0 -1", ":12\r\n");
    rtb(&mut r, &[b"SET", b"ff", b"\xff\xff"], OK);
    // no 0 in range: without an end the string continues with zeros
    rt(&mut r, "BITPOS ff 0", ":16\r\n");
    rt(&mut r, "BITPOS ff 0 1", ":16\r\n");
    rt(&mut r, "BITPOS ff 0 -100", ":16\r\n");
    // ...with an explicit end it does not
    rt(&mut r, "BITPOS ff 0 0 -1", ":-1\r\n");
    rt(&mut r, "BITPOS ff 0 0 -1 BIT", ":-1\r\n");
    rt(&mut r, "BITPOS ff 0 3 -1 BIT", ":-1\r\n");
    rt(&mut r, "BITPOS ff 1 3 -1 BIT", ":3\r\n");
    // empty ranges
    rt(&mut r, "BITPOS ff 0 100", ":-1\r\n");
    rt(&mut r, "BITPOS ff 1 100", ":-1\r\n");
    rt(&mut r, "BITPOS ff 0 5 2", ":-1\r\n");
    rtb(&mut r, &[b"SET", b"a", b"\x00\xff\x0f"], OK);
    rt(&mut r, "BITPOS a 1 3 19 BIT", ":8\r\n");
    rt(&mut r, "BITPOS a 0 8 15 BIT", ":-1\r\n");
    rt(&mut r, "BITPOS a 0 -5 -1 BIT", ":19\r\n");
    rt(&mut r, "BITPOS a 1 -1 -1", ":20\r\n");
    rt(&mut r, "BITPOS a 0 1 1", ":-1\r\n");
    rt(&mut r, "BITPOS a 0 9 -1 BIT", ":16\r\n");
    rt(&mut r, "BITPOS a 1 -20 -10 BIT", ":8\r\n");
    rt(&mut r, "BITPOS a 0 -10 -20", ":0\r\n");
    rtb(&mut r, &[b"SET", b"e", b""], OK);
    rt(&mut r, "BITPOS e 0", ":-1\r\n");
    rt(&mut r, "BITPOS e 1", ":-1\r\n");
    // argument errors, in Redis's order: start, then unit, then end
    rt(&mut r, "BITPOS a 1 x", NOT_INT);
    rt(&mut r, "BITPOS a 1 0 x", NOT_INT);
    rt(&mut r, "BITPOS a 1 0 1 FOO", SYNTAX);
    rt(&mut r, "BITPOS a 1 0 x FOO", SYNTAX);
    rt(&mut r, "BITPOS a 0 3 BIT", NOT_INT);
    rt(&mut r, "BITPOS a 1 0 1 BIT 3", SYNTAX);
    rt(&mut r, "BITPOS a", err_reply("ERR wrong number of arguments for 'bitpos' command"));
}

#[test]
fn bitop() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rtb(&mut r, &[b"SET", b"a", b"\xf0"], OK);
    rtb(&mut r, &[b"SET", b"b", b"\x0f\x0f"], OK);
    rt(&mut r, "BITOP OR d a b", ":2\r\n");
    rt(&mut r, "GET d", b"$2\r\n\xff\x0f\r\n");
    rt(&mut r, "BITOP AND d a b", ":2\r\n");
    rt(&mut r, "GET d", b"$2\r\n\x00\x00\r\n");
    rt(&mut r, "BITOP XOR d a b", ":2\r\n");
    rt(&mut r, "GET d", b"$2\r\n\xff\x0f\r\n");
    rt(&mut r, "bitop not d b", ":2\r\n");
    rt(&mut r, "GET d", b"$2\r\n\xf0\xf0\r\n");
    // missing sources are empty strings
    rt(&mut r, "BITOP AND d a nosuch", ":1\r\n");
    rt(&mut r, "GET d", b"$1\r\n\x00\r\n");
    rt(&mut r, "BITOP OR d nosuch a", ":1\r\n");
    rt(&mut r, "GET d", b"$1\r\n\xf0\r\n");
    // the destination may be a source
    rt(&mut r, "BITOP XOR a a b", ":2\r\n");
    rt(&mut r, "GET a", b"$2\r\n\xff\x0f\r\n");
    // an empty result deletes the destination
    rt(&mut r, "SET d x", OK);
    rt(&mut r, "BITOP AND d nosuch nosuch2", ":0\r\n");
    rt(&mut r, "GET d", "$-1\r\n");
    rt(&mut r, "BITOP NOT d nosuch", ":0\r\n");
    rt(&mut r, "BITOP FOO d a", SYNTAX);
    rt(&mut r, "BITOP NOT d a b", err_reply("ERR BITOP NOT must be called with a single source key."));
    rt(&mut r, "BITOP AND d", err_reply("ERR wrong number of arguments for 'bitop' command"));

    // the destination loses its TTL: it outlives a marker with the same TTL
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("ttl").arg("x").arg("PX").arg(150).query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("marker").arg("x").arg("PX").arg(150).query(&mut c).unwrap();
    let _: i64 = redis::cmd("BITOP").arg("OR").arg("ttl").arg("a").query(&mut c).unwrap();
    let gone = wait_for(std::time::Duration::from_secs(5), || redis::cmd("GET").arg("marker").query::<Option<String>>(&mut c).unwrap().is_none());
    assert!(gone);
    let v: Option<Vec<u8>> = redis::cmd("GET").arg("ttl").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some(&b"\xff\x0f"[..]));
}

#[test]
fn bitfield_operations() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "BITFIELD k", "*0\r\n");
    rt(&mut r, "BITFIELD_RO k", "*0\r\n");
    rt(&mut r, "BITFIELD k GET u8 0", ints(&[Some(0)]));
    // reads do not create the key
    rt(&mut r, "GET k", "$-1\r\n");
    rt(&mut r, "BITFIELD k SET i5 3 7 GET u8 0 GET i3 3 INCRBY i5 3 20 GET i5 3", ints(&[Some(0), Some(7), Some(1), Some(-5), Some(-5)]));
    rt(&mut r, "BITFIELD k SET i8 #2 -3 GET i8 16 GET u4 #5", ints(&[Some(0), Some(-3), Some(13)]));
    rt(&mut r, "BITFIELD_RO k GET i8 16 GET u2 0", ints(&[Some(-3), Some(0)]));
    rt(&mut r, "STRLEN k", ":3\r\n");
    // overflow policies; OVERFLOW applies to the operations after it
    rt(&mut r, "BITFIELD c INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1", ints(&[Some(1), Some(1)]));
    rt(&mut r, "BITFIELD c INCRBY u2 100 3 OVERFLOW SAT INCRBY u2 102 5", ints(&[Some(0), Some(3)]));
    rt(&mut r, "BITFIELD c OVERFLOW FAIL INCRBY u2 102 1 GET u2 102", ints(&[None, Some(3)]));
    rt(&mut r, "BITFIELD u OVERFLOW SAT INCRBY u8 0 -5 OVERFLOW WRAP INCRBY u8 8 -5", ints(&[Some(0), Some(251)]));
    rt(&mut r, "BITFIELD u OVERFLOW FAIL INCRBY u8 0 -5 GET u8 0 INCRBY u8 0 300 GET u8 0", ints(&[None, Some(0), None, Some(0)]));
    // SET on an unsigned field reads the argument as u64
    rt(&mut r, "BITFIELD s SET u8 0 -1 GET u8 0", ints(&[Some(0), Some(255)]));
    rt(&mut r, "BITFIELD s2 OVERFLOW SAT SET u8 0 -1 GET u8 0", ints(&[Some(0), Some(255)]));
    rt(&mut r, "BITFIELD s3 OVERFLOW SAT SET i8 0 -200 SET i8 0 200 OVERFLOW WRAP SET i8 0 200 GET i8 0", ints(&[Some(0), Some(-128), Some(127), Some(-56)]));
    // 64-bit signed and 63-bit unsigned extremes
    rt(&mut r, "BITFIELD w SET i64 0 -9223372036854775808 INCRBY i64 0 -1", ints(&[Some(0), Some(i64::MAX)]));
    rt(&mut r, "BITFIELD w OVERFLOW SAT INCRBY i64 0 1 OVERFLOW FAIL INCRBY i64 0 1", ints(&[Some(i64::MAX), None]));
    rt(&mut r, "BITFIELD w2 OVERFLOW SAT INCRBY i16 0 -9223372036854775808", ints(&[Some(-32768)]));
    rt(&mut r, "BITFIELD w3 SET u63 0 9223372036854775807 INCRBY u63 0 1 GET u63 0", ints(&[Some(0), Some(0), Some(0)]));
    rt(&mut r, "BITFIELD w4 SET u1 7 1 SET i1 6 -1 GET i2 6 GET u2 6", ints(&[Some(0), Some(0), Some(-1), Some(3)]));
    rt(&mut r, "GET w4", b"$1\r\n\x03\r\n");
    // writes create (and grow) the key even when every write fails
    rt(&mut r, "BITFIELD f OVERFLOW FAIL SET u2 200 10", ints(&[None]));
    rt(&mut r, "STRLEN f", ":26\r\n");
    // RESP3: FAIL gives a null
    let mut c3 = node.client3();
    let v: Vec<Option<i64>> =
        redis::cmd("BITFIELD").arg("r3").arg("OVERFLOW").arg("FAIL").arg("INCRBY").arg("u2").arg(0).arg(10).arg("GET").arg("u2").arg(0).query(&mut c3).unwrap();
    assert_eq!(v, vec![None, Some(0)]);
    assert_eq!(node.cli(&["BITFIELD", "cli", "INCRBY", "i8", "0", "-1"]), "-1\n");
}

#[test]
fn bitfield_errors() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    for bad in ["GET", "GET i8", "FOO", "SET i8 0", "INCRBY i8 0", "OVERFLOW", "GET i8 0 SET"] {
        rt(&mut r, &format!("BITFIELD k {bad}"), SYNTAX);
    }
    for bad in ["x8", "i0", "u0", "i65", "u64", "I8", "U8", "i", "i08", "i-8"] {
        rt(&mut r, &format!("BITFIELD k GET {bad} 0"), BAD_TYPE);
    }
    rt(&mut r, "BITFIELD k GET u63 0", ints(&[Some(0)]));
    rt(&mut r, "BITFIELD k GET i64 0", ints(&[Some(0)]));
    for bad in ["-1", "#-1", "4294967296", "#67108864", "abc", "#"] {
        rt(&mut r, &format!("BITFIELD k GET i64 {bad}"), BIT_OFFSET);
    }
    rt(&mut r, "BITFIELD k GET i8 4294967295", ints(&[Some(0)]));
    rt(&mut r, "BITFIELD k GET i64 #67108863", ints(&[Some(0)]));
    rt(&mut r, "BITFIELD k SET i8 0 abc", NOT_INT);
    rt(&mut r, "BITFIELD k INCRBY i8 0 1.5", NOT_INT);
    rt(&mut r, "BITFIELD k OVERFLOW FOO GET i8 0", err_reply("ERR Invalid OVERFLOW type specified"));
    // the first bad operation wins, and nothing runs
    rt(&mut r, "BITFIELD k SET i8 0 1 GET x8 0", BAD_TYPE);
    rt(&mut r, "GET k", "$-1\r\n");
    let ro = err_reply("ERR BITFIELD_RO only supports the GET subcommand");
    rt(&mut r, "BITFIELD_RO k SET i8 0 1", &ro);
    rt(&mut r, "BITFIELD_RO k GET i8 0 INCRBY i8 0 1", &ro);
    rt(&mut r, "BITFIELD_RO k OVERFLOW SAT GET i8 0", ints(&[Some(0)]));
    rt(&mut r, "BITFIELD_RO k GET i8 -1", BIT_OFFSET);
    rt(&mut r, "BITFIELD", err_reply("ERR wrong number of arguments for 'bitfield' command"));
    rt(&mut r, "BITFIELD_RO", err_reply("ERR wrong number of arguments for 'bitfield_ro' command"));
}

#[test]
fn wrong_type_errors() {
    let node = Node::start(&[]);
    let mut c = node.client();
    assert!(make_non_string(&mut c, "coll"), "no collection type in this build");
    let mut r = node.raw();
    for cmd in [
        "SETBIT coll 1 1",
        "GETBIT coll 1",
        "BITCOUNT coll",
        "BITCOUNT coll a b",
        "BITCOUNT coll 0",
        "BITPOS coll 1",
        "BITPOS coll 1 a",
        "BITOP AND d coll",
        "BITOP OR d nosuch coll",
        "BITFIELD coll GET i8 0",
        "BITFIELD coll SET i8 0 1",
        "BITFIELD_RO coll GET i8 0",
    ] {
        rt(&mut r, cmd, WRONGTYPE);
    }
    // arguments Redis validates first
    rt(&mut r, "SETBIT coll abc 1", BIT_OFFSET);
    rt(&mut r, "BITPOS coll 2", err_reply("ERR The bit argument must be 1 or 0."));
    rt(&mut r, "BITFIELD coll GET i8 a", BIT_OFFSET);
    rt(&mut r, "BITFIELD_RO coll SET i8 0 1", err_reply("ERR BITFIELD_RO only supports the GET subcommand"));
}
