//! List commands against the real binary. The reply tables below were recorded from
//! redis-server 7.0.15 (each command sent in order on one connection, replies byte for
//! byte); the other tests check large lists against a model, binary safety, TTLs, a
//! two-consumer queue and the atomicity of LMOVE under concurrent clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::time::Duration;

/// Sends each command and checks its exact reply.
fn replay(r: &mut Raw, cases: &[(&str, &str)]) {
    for (cmd, want) in cases {
        rt(r, cmd, want);
    }
}

#[test]
fn push_and_pop() {
    let node = Node::start(&[]);
    replay(&mut node.raw(), PUSH_POP);
}

#[test]
fn index_commands() {
    let node = Node::start(&[]);
    replay(&mut node.raw(), INDEXES);
}

#[test]
fn value_commands() {
    let node = Node::start(&[]);
    replay(&mut node.raw(), BY_VALUE);
}

#[test]
fn moves_between_lists() {
    let node = Node::start(&[]);
    replay(&mut node.raw(), MOVES);
}

#[test]
fn wrong_types_both_ways() {
    let node = Node::start(&[]);
    replay(&mut node.raw(), WRONG_TYPE);
}

#[test]
fn resp3_nulls_and_empty_arrays() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    hello3(&mut r);
    replay(&mut r, RESP3);
}

/// COMMAND INFO and COMMAND DOCS fields as redis-server 7.0.15 reports them: name,
/// arity, flags, first key, last key, step, ACL categories; summary, since, group.
#[test]
fn command_table_entries() {
    #[rustfmt::skip]
    let want: &[Entry] = &[
        ("lpush", -3, "write denyoom fast", [1, 1, 1], "@write @list @fast", "Prepend one or multiple elements to a list", "1.0.0"),
        ("rpush", -3, "write denyoom fast", [1, 1, 1], "@write @list @fast", "Append one or multiple elements to a list", "1.0.0"),
        ("lpushx", -3, "write denyoom fast", [1, 1, 1], "@write @list @fast", "Prepend an element to a list, only if the list exists", "2.2.0"),
        ("rpushx", -3, "write denyoom fast", [1, 1, 1], "@write @list @fast", "Append an element to a list, only if the list exists", "2.2.0"),
        ("lpop", -2, "write fast", [1, 1, 1], "@write @list @fast", "Remove and get the first elements in a list", "1.0.0"),
        ("rpop", -2, "write fast", [1, 1, 1], "@write @list @fast", "Remove and get the last elements in a list", "1.0.0"),
        ("llen", 2, "readonly fast", [1, 1, 1], "@read @list @fast", "Get the length of a list", "1.0.0"),
        ("lrange", 4, "readonly", [1, 1, 1], "@read @list @slow", "Get a range of elements from a list", "1.0.0"),
        ("lindex", 3, "readonly", [1, 1, 1], "@read @list @slow", "Get an element from a list by its index", "1.0.0"),
        ("lset", 4, "write denyoom", [1, 1, 1], "@write @list @slow", "Set the value of an element in a list by its index", "1.0.0"),
        ("lrem", 4, "write", [1, 1, 1], "@write @list @slow", "Remove elements from a list", "1.0.0"),
        ("ltrim", 4, "write", [1, 1, 1], "@write @list @slow", "Trim a list to the specified range", "1.0.0"),
        ("linsert", 5, "write denyoom", [1, 1, 1], "@write @list @slow", "Insert an element before or after another element in a list", "2.2.0"),
        ("lpos", -3, "readonly", [1, 1, 1], "@read @list @slow", "Return the index of matching elements on a list", "6.0.6"),
        ("lmove", 5, "write denyoom", [1, 2, 1], "@write @list @slow", "Pop an element from a list, push it to another list and return it", "6.2.0"),
        ("rpoplpush", 3, "write denyoom", [1, 2, 1], "@write @list @slow", "Remove the last element in a list, prepend it to another list and return it", "1.2.0"),
        ("lmpop", -4, "write movablekeys", [0, 0, 0], "@write @list @slow", "Pop elements from a list", "7.0.0"),
    ];
    let node = Node::start(&[]);
    let mut c = node.client();
    for (name, arity, flags, keys, cats, summary, since) in want {
        let info: redis::Value = redis::cmd("COMMAND").arg("INFO").arg(*name).query(&mut c).unwrap();
        let redis::Value::Array(entries) = info else { panic!("{name}: {info:?}") };
        let redis::Value::Array(e) = &entries[0] else { panic!("{name}: {entries:?}") };
        assert_eq!(words(&e[0]), *name);
        assert_eq!(e[1], redis::Value::Int(*arity), "{name} arity");
        assert_eq!(words(&e[2]), *flags, "{name} flags");
        assert_eq!([&e[3], &e[4], &e[5]], keys.map(redis::Value::Int).each_ref(), "{name} keys");
        assert_eq!(words(&e[6]), *cats, "{name} ACL categories");
        let docs: redis::Value = redis::cmd("COMMAND").arg("DOCS").arg(*name).query(&mut c).unwrap();
        let text = format!("{docs:?}");
        for part in [*summary, *since, "list"] {
            assert!(text.contains(&format!("\"{part}\"")), "{name} docs lack {part}: {text}");
        }
    }
    // the keys of LMPOP and LMOVE, for clients that ask
    let mut r = node.raw();
    rt(&mut r, "COMMAND GETKEYS LMOVE a b LEFT RIGHT", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
}

/// name, arity, flags, [first key, last key, step], ACL categories, summary, since.
type Entry = (&'static str, i64, &'static str, [i64; 3], &'static str, &'static str, &'static str);

/// Space-separated text of a bulk/simple string or an array of them.
fn words(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Okay => "OK".into(),
        redis::Value::Array(items) | redis::Value::Set(items) => items.iter().map(words).collect::<Vec<_>>().join(" "),
        other => panic!("not text: {other:?}"),
    }
}

/// Elements may hold any bytes, including none.
#[test]
fn binary_safe_elements() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    let odd: &[&[u8]] = &[b"", b"\0", b"a\r\nb", &[0xff, 0xfe], b"  "];
    let mut push: Vec<&[u8]> = vec![b"RPUSH", b"l"];
    push.extend_from_slice(odd);
    rtb(&mut r, &push, ":5\r\n");
    let mut want = b"*5\r\n".to_vec();
    odd.iter().for_each(|e| want.extend(bulk(e)));
    rtb(&mut r, &[b"LRANGE", b"l", b"0", b"-1"], &want);
    rtb(&mut r, &[b"LPOS", b"l", b""], ":0\r\n");
    rtb(&mut r, &[b"LPOS", b"l", b"a\r\nb"], ":2\r\n");
    rtb(&mut r, &[b"LINSERT", b"l", b"AFTER", b"\0", b""], ":6\r\n");
    rtb(&mut r, &[b"LREM", b"l", b"0", b""], ":2\r\n");
    rtb(&mut r, &[b"LINDEX", b"l", b"0"], bulk(b"\0"));
    rtb(&mut r, &[b"LSET", b"l", b"-1", b""], OK);
    rtb(&mut r, &[b"RPOP", b"l"], bulk(b""));
    rtb(&mut r, &[b"LMOVE", b"l", b"\0key", b"LEFT", b"LEFT"], bulk(b"\0"));
    rtb(&mut r, &[b"LPOP", b"\0key"], bulk(b"\0"));
}

/// In-place edits keep the key's TTL; a rotation of the last element too (the key is
/// never emptied); emptying the list deletes the key and its TTL with it.
#[test]
fn ttl_survives_edits_and_goes_with_the_key() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "RPUSH l a", ":1\r\n");
    rt(&mut r, "EXPIRE l 1000", ":1\r\n");
    let mut c = node.client();
    for cmd in ["LPUSH l b", "RPUSHX l c", "LSET l 0 B", "LINSERT l BEFORE a x", "LREM l 1 x", "LTRIM l 0 -1", "LPOP l", "RPOP l 1"] {
        let _: redis::Value = q(&mut c, &cmd.split(' ').collect::<Vec<_>>());
        rt(&mut r, "TTL l", ":1000\r\n");
    }
    rt(&mut r, "LRANGE l 0 -1", "*1\r\n$1\r\na\r\n");
    rt(&mut r, "LMOVE l l LEFT RIGHT", bulk("a"));
    rt(&mut r, "RPOPLPUSH l l", bulk("a"));
    rt(&mut r, "TTL l", ":1000\r\n");
    rt(&mut r, "LMOVE l other LEFT RIGHT", bulk("a"));
    rt(&mut r, "TTL l", ":-2\r\n");
    rt(&mut r, "TTL other", ":-1\r\n");
    rt(&mut r, "PEXPIRE other 1", ":1\r\n");
    assert!(wait_for(Duration::from_secs(5), || q::<i64>(&mut node.client(), &["LLEN", "other"]) == 0));
    rt(&mut r, "LPUSHX other a", ":0\r\n");
}

/// Writes count one change per element pushed, popped or removed, as Redis does
/// (`rdb_changes_since_last_save`; deltas checked against redis-server 7.0.15).
#[test]
fn changes_are_counted_per_element() {
    let node = Node::start(&[]);
    let mut c = node.client();
    assert_changes(
        &mut c,
        &[
            ("RPUSH l a b c d e f g h", 8),
            ("LPUSHX nokey z", 0),
            ("LPOP l 3", 3),
            ("LPOP l 0", 0),
            ("RPOP l 2", 2),
            ("LSET l 0 v", 1),
            ("LINSERT l BEFORE zz w", 0),
            ("LREM l 0 v", 1),
            ("LTRIM l 0 -1", 0),
            ("LMOVE l l LEFT RIGHT", 1),
            ("LMPOP 1 l LEFT COUNT 100", 2),
        ],
    );
}

/// Memory per element, by the allocator's count (`used_memory`): redis-server 7.0.15
/// spends about 19.6 bytes per 12-byte element of a long list and 202 bytes per key of
/// three-element lists; we must not spend more.
#[test]
fn memory_per_element_is_compact() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let used = |c: &mut redis::Connection| -> i64 { info_field(&q::<String>(c, &["INFO", "memory"]), "used_memory").unwrap().parse().unwrap() };
    let before = used(&mut c);
    for batch in 0..100 {
        let elems: Vec<String> = (0..1000).map(|i| format!("element{:05}", batch * 1000 + i)).collect();
        let _: i64 = redis::cmd("RPUSH").arg("long").arg(elems).query(&mut c).unwrap();
    }
    let per_elem = (used(&mut c) - before) as f64 / 100_000.0;
    assert!(per_elem < 19.0, "{per_elem} bytes per element of a long list");
    let before = used(&mut c);
    for batch in 0..20 {
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.cmd("RPUSH").arg(format!("short{:06}", batch * 1000 + i)).arg("alpha").arg("beta").arg("gamma").ignore();
        }
        let _: () = pipe.query(&mut c).unwrap();
    }
    let per_key = (used(&mut c) - before) as f64 / 20_000.0;
    assert!(per_key < 200.0, "{per_key} bytes per three-element list");
}

/// Pushes and pops, with and without a count.
const PUSH_POP: &[(&str, &str)] = &[
    // pushes return the new length; several elements go in argument order
    ("LPUSH l c b a", ":3\r\n"),
    ("RPUSH l d e", ":5\r\n"),
    ("LRANGE l 0 -1", "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"),
    ("LPUSHX l z", ":6\r\n"),
    ("RPUSHX l y x", ":8\r\n"),
    ("LPUSHX nokey a", ":0\r\n"),
    ("RPUSHX nokey a b", ":0\r\n"),
    ("EXISTS nokey", ":0\r\n"),
    ("lpush l2 1", ":1\r\n"),
    ("TYPE l", "+list\r\n"),
    ("OBJECT ENCODING l", "$9\r\nquicklist\r\n"),
    // pops
    ("LPOP l", "$1\r\nz\r\n"),
    ("RPOP l", "$1\r\nx\r\n"),
    ("LPOP l 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    ("RPOP l 2", "*2\r\n$1\r\ny\r\n$1\r\ne\r\n"),
    ("LPOP l 0", "*0\r\n"),
    ("RPOP l 100", "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"),
    // an emptied list is deleted
    ("EXISTS l", ":0\r\n"),
    ("LPOP l", "$-1\r\n"),
    ("LPOP l 1", "*-1\r\n"),
    ("LPOP l 0", "*-1\r\n"),
    ("RPOP nokey", "$-1\r\n"),
    ("RPOP nokey 3", "*-1\r\n"),
    // count errors; a missing key is looked up only after the count is parsed
    ("LPOP l2 -1", "-ERR value is out of range, must be positive\r\n"),
    ("LPOP l2 x", "-ERR value is out of range, must be positive\r\n"),
    ("LPOP nokey -1", "-ERR value is out of range, must be positive\r\n"),
    ("RPOP l2 9223372036854775808", "-ERR value is out of range, must be positive\r\n"),
    ("LPOP l2 1 2", "-ERR wrong number of arguments for 'lpop' command\r\n"),
    ("RPOP l2 9223372036854775807", "*1\r\n$1\r\n1\r\n"),
    ("EXISTS l2", ":0\r\n"),
    // arity
    ("LPUSH l", "-ERR wrong number of arguments for 'lpush' command\r\n"),
    ("RPUSH", "-ERR wrong number of arguments for 'rpush' command\r\n"),
    ("LPUSHX l", "-ERR wrong number of arguments for 'lpushx' command\r\n"),
    ("RPUSHX l", "-ERR wrong number of arguments for 'rpushx' command\r\n"),
    ("LPOP", "-ERR wrong number of arguments for 'lpop' command\r\n"),
    ("RPOP", "-ERR wrong number of arguments for 'rpop' command\r\n"),
    ("LLEN", "-ERR wrong number of arguments for 'llen' command\r\n"),
    ("LLEN a b", "-ERR wrong number of arguments for 'llen' command\r\n"),
    ("LRANGE l 0", "-ERR wrong number of arguments for 'lrange' command\r\n"),
    ("LINDEX l", "-ERR wrong number of arguments for 'lindex' command\r\n"),
    ("LSET l 0", "-ERR wrong number of arguments for 'lset' command\r\n"),
    ("LREM l 0", "-ERR wrong number of arguments for 'lrem' command\r\n"),
    ("LTRIM l 0", "-ERR wrong number of arguments for 'ltrim' command\r\n"),
    ("LINSERT l before a", "-ERR wrong number of arguments for 'linsert' command\r\n"),
    ("LPOS l", "-ERR wrong number of arguments for 'lpos' command\r\n"),
    ("LMOVE a b left", "-ERR wrong number of arguments for 'lmove' command\r\n"),
    ("RPOPLPUSH a", "-ERR wrong number of arguments for 'rpoplpush' command\r\n"),
    ("LMPOP 1 l", "-ERR wrong number of arguments for 'lmpop' command\r\n"),
];

/// LLEN, LINDEX, LSET, LRANGE and LTRIM.
const INDEXES: &[(&str, &str)] = &[
    ("RPUSH l a b c d e", ":5\r\n"),
    ("LLEN l", ":5\r\n"),
    ("LLEN nokey", ":0\r\n"),
    ("LINDEX l 0", "$1\r\na\r\n"),
    ("LINDEX l -1", "$1\r\ne\r\n"),
    ("LINDEX l 4", "$1\r\ne\r\n"),
    ("LINDEX l 5", "$-1\r\n"),
    ("LINDEX l -5", "$1\r\na\r\n"),
    ("LINDEX l -6", "$-1\r\n"),
    ("LINDEX l 9223372036854775807", "$-1\r\n"),
    ("LINDEX l -9223372036854775808", "$-1\r\n"),
    ("LINDEX l x", "-ERR value is not an integer or out of range\r\n"),
    // the key is looked up before the index is parsed
    ("LINDEX nokey x", "$-1\r\n"),
    ("LSET l 0 A", "+OK\r\n"),
    ("LSET l -1 E", "+OK\r\n"),
    ("LSET l 5 v", "-ERR index out of range\r\n"),
    ("LSET l -6 v", "-ERR index out of range\r\n"),
    ("LSET l x v", "-ERR value is not an integer or out of range\r\n"),
    ("LSET nokey x v", "-ERR no such key\r\n"),
    ("LSET nokey 0 v", "-ERR no such key\r\n"),
    ("LRANGE l 0 -1", "*5\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nE\r\n"),
    ("LRANGE l 1 2", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
    ("LRANGE l -2 -1", "*2\r\n$1\r\nd\r\n$1\r\nE\r\n"),
    ("LRANGE l -100 100", "*5\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nE\r\n"),
    ("LRANGE l 3 1", "*0\r\n"),
    ("LRANGE l 5 10", "*0\r\n"),
    ("LRANGE l -100 -50", "*0\r\n"),
    ("LRANGE l -1 -2", "*0\r\n"),
    ("LRANGE l 9223372036854775807 -9223372036854775808", "*0\r\n"),
    ("LRANGE l -9223372036854775808 9223372036854775807", "*5\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nE\r\n"),
    // indexes are parsed before the key is looked up
    ("LRANGE nokey x 1", "-ERR value is not an integer or out of range\r\n"),
    ("LRANGE nokey 0 -1", "*0\r\n"),
    ("LRANGE l 0 x", "-ERR value is not an integer or out of range\r\n"),
    ("LTRIM l 1 -2", "+OK\r\n"),
    ("LRANGE l 0 -1", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"),
    ("LTRIM l -1 100", "+OK\r\n"),
    ("LRANGE l 0 -1", "*1\r\n$1\r\nd\r\n"),
    ("LTRIM l 0 0", "+OK\r\n"),
    ("LRANGE l 0 -1", "*1\r\n$1\r\nd\r\n"),
    ("LTRIM l x 0", "-ERR value is not an integer or out of range\r\n"),
    ("LTRIM nokey x 0", "-ERR value is not an integer or out of range\r\n"),
    ("LTRIM nokey 0 1", "+OK\r\n"),
    // an empty range deletes the key
    ("LTRIM l 1 0", "+OK\r\n"),
    ("EXISTS l", ":0\r\n"),
    ("RPUSH m a b c", ":3\r\n"),
    ("LTRIM m 5 10", "+OK\r\n"),
    ("EXISTS m", ":0\r\n"),
    ("RPUSH m a b c", ":3\r\n"),
    ("LTRIM m -100 -10", "+OK\r\n"),
    ("EXISTS m", ":0\r\n"),
];

/// LREM, LINSERT and LPOS.
const BY_VALUE: &[(&str, &str)] = &[
    ("RPUSH l a b c a b c a", ":7\r\n"),
    ("LREM l 1 a", ":1\r\n"),
    ("LRANGE l 0 -1", "*6\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"),
    ("LREM l -1 a", ":1\r\n"),
    ("LRANGE l 0 -1", "*5\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
    ("LREM l 0 c", ":2\r\n"),
    ("LRANGE l 0 -1", "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nb\r\n"),
    ("LREM l 0 zz", ":0\r\n"),
    ("LREM l x a", "-ERR value is not an integer or out of range\r\n"),
    ("LREM nokey x a", "-ERR value is not an integer or out of range\r\n"),
    ("LREM nokey 1 a", ":0\r\n"),
    ("LREM l -9223372036854775808 b", ":2\r\n"),
    ("LRANGE l 0 -1", "*1\r\n$1\r\na\r\n"),
    ("LREM l 5 a", ":1\r\n"),
    ("EXISTS l", ":0\r\n"),
    ("RPUSH l a b c", ":3\r\n"),
    ("LINSERT l BEFORE a x", ":4\r\n"),
    ("LINSERT l after c y", ":5\r\n"),
    ("LINSERT l AfTeR b z", ":6\r\n"),
    ("LINSERT l before nope v", ":-1\r\n"),
    ("LRANGE l 0 -1", "*6\r\n$1\r\nx\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\ny\r\n"),
    ("LINSERT l middle a v", "-ERR syntax error\r\n"),
    ("LINSERT nokey before a v", ":0\r\n"),
    ("LINSERT nokey middle a v", "-ERR syntax error\r\n"),
    ("EXISTS nokey", ":0\r\n"),
    ("DEL l", ":1\r\n"),
    ("RPUSH l a b c a b c a", ":7\r\n"),
    ("LPOS l a", ":0\r\n"),
    ("LPOS l c", ":2\r\n"),
    ("LPOS l zz", "$-1\r\n"),
    ("LPOS l a RANK 2", ":3\r\n"),
    ("LPOS l a RANK -1", ":6\r\n"),
    ("LPOS l a RANK -2", ":3\r\n"),
    ("LPOS l a RANK 5", "$-1\r\n"),
    ("LPOS l a COUNT 0", "*3\r\n:0\r\n:3\r\n:6\r\n"),
    ("LPOS l a COUNT 2", "*2\r\n:0\r\n:3\r\n"),
    ("LPOS l a RANK 2 COUNT 0", "*2\r\n:3\r\n:6\r\n"),
    ("LPOS l a RANK -1 COUNT 2", "*2\r\n:6\r\n:3\r\n"),
    ("LPOS l zz COUNT 2", "*0\r\n"),
    ("LPOS l a MAXLEN 1", ":0\r\n"),
    ("LPOS l b MAXLEN 1", "$-1\r\n"),
    ("LPOS l b MAXLEN 1 COUNT 0", "*0\r\n"),
    ("LPOS l a RANK 2 MAXLEN 4 COUNT 0", "*1\r\n:3\r\n"),
    ("LPOS l b RANK -2 MAXLEN 3", "$-1\r\n"),
    ("LPOS l b RANK -2 MAXLEN 4 COUNT 0", "*0\r\n"),
    ("LPOS l a rank 1 RANK -1 count 1", "*1\r\n:6\r\n"),
    ("LPOS l a RANK 9223372036854775807", "$-1\r\n"),
    ("LPOS l a RANK -9223372036854775807 COUNT 0", "*0\r\n"),
    // RANK i64::MIN: Redis negates it in 64-bit arithmetic, so it stays negative
    ("LPOS l a RANK -9223372036854775808", ":6\r\n"),
    ("LPOS l a RANK -9223372036854775808 COUNT 2", "*3\r\n:6\r\n:3\r\n:0\r\n"),
    ("LPOS l a RANK -9223372036854775808 MAXLEN 2", ":6\r\n"),
    ("LPOS nokey a", "$-1\r\n"),
    ("LPOS nokey a COUNT 1", "*0\r\n"),
    (
        "LPOS l a RANK 0",
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n",
    ),
    (
        "LPOS nokey a RANK 0",
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n",
    ),
    ("LPOS l a RANK x", "-ERR value is not an integer or out of range\r\n"),
    ("LPOS l a COUNT -1", "-ERR COUNT can't be negative\r\n"),
    ("LPOS l a COUNT x", "-ERR COUNT can't be negative\r\n"),
    ("LPOS l a MAXLEN -1", "-ERR MAXLEN can't be negative\r\n"),
    ("LPOS l a MAXLEN x", "-ERR MAXLEN can't be negative\r\n"),
    ("LPOS l a FOO 1", "-ERR syntax error\r\n"),
    ("LPOS l a RANK", "-ERR syntax error\r\n"),
    ("LPOS l a RANK 1 COUNT", "-ERR syntax error\r\n"),
];

/// LMOVE, RPOPLPUSH and LMPOP.
const MOVES: &[(&str, &str)] = &[
    ("RPUSH a 1 2 3", ":3\r\n"),
    ("LMOVE a b LEFT RIGHT", "$1\r\n1\r\n"),
    ("LMOVE a b right left", "$1\r\n3\r\n"),
    ("LRANGE a 0 -1", "*1\r\n$1\r\n2\r\n"),
    ("LRANGE b 0 -1", "*2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
    ("LMOVE a b left left", "$1\r\n2\r\n"),
    ("EXISTS a", ":0\r\n"),
    ("LRANGE b 0 -1", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
    ("LMOVE a b left left", "$-1\r\n"),
    ("LMOVE b b left right", "$1\r\n2\r\n"),
    ("LMOVE b b right left", "$1\r\n2\r\n"),
    ("LRANGE b 0 -1", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
    ("LMOVE b b left left", "$1\r\n2\r\n"),
    ("LRANGE b 0 -1", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
    ("LMOVE a b up left", "-ERR syntax error\r\n"),
    ("LMOVE a b left down", "-ERR syntax error\r\n"),
    ("RPOPLPUSH b c", "$1\r\n1\r\n"),
    ("RPOPLPUSH b c", "$1\r\n3\r\n"),
    ("RPOPLPUSH b c", "$1\r\n2\r\n"),
    ("RPOPLPUSH b c", "$-1\r\n"),
    ("LRANGE c 0 -1", "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n"),
    ("EXISTS b", ":0\r\n"),
    ("RPOPLPUSH c c", "$1\r\n1\r\n"),
    ("LRANGE c 0 -1", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
    ("RPOPLPUSH nokey c", "$-1\r\n"),
    // LMPOP
    ("RPUSH m 1 2 3 4 5", ":5\r\n"),
    ("LMPOP 1 m LEFT", "*2\r\n$1\r\nm\r\n*1\r\n$1\r\n1\r\n"),
    ("LMPOP 1 m right COUNT 2", "*2\r\n$1\r\nm\r\n*2\r\n$1\r\n5\r\n$1\r\n4\r\n"),
    ("LMPOP 3 x y m left count 10", "*2\r\n$1\r\nm\r\n*2\r\n$1\r\n2\r\n$1\r\n3\r\n"),
    ("EXISTS m", ":0\r\n"),
    ("LMPOP 3 x y m left count 10", "*-1\r\n"),
    ("RPUSH m2 1", ":1\r\n"),
    ("RPUSH m3 1 2", ":2\r\n"),
    ("LMPOP 2 m2 m3 RIGHT COUNT 5", "*2\r\n$2\r\nm2\r\n*1\r\n$1\r\n1\r\n"),
    ("LMPOP 2 m2 m3 RIGHT COUNT 5", "*2\r\n$2\r\nm3\r\n*2\r\n$1\r\n2\r\n$1\r\n1\r\n"),
    ("LMPOP 2 m2 m3 RIGHT COUNT 5", "*-1\r\n"),
    ("LMPOP 0 m left", "-ERR numkeys should be greater than 0\r\n"),
    ("LMPOP -1 m left", "-ERR numkeys should be greater than 0\r\n"),
    ("LMPOP x m left", "-ERR numkeys should be greater than 0\r\n"),
    ("LMPOP 9223372036854775807 m left", "-ERR syntax error\r\n"),
    ("LMPOP 2 m left", "-ERR syntax error\r\n"),
    ("LMPOP 1 m middle", "-ERR syntax error\r\n"),
    ("LMPOP 1 m left COUNT 0", "-ERR count should be greater than 0\r\n"),
    ("LMPOP 1 m left COUNT -1", "-ERR count should be greater than 0\r\n"),
    ("LMPOP 1 m left COUNT x", "-ERR count should be greater than 0\r\n"),
    ("LMPOP 1 m left COUNT 1 COUNT 1", "-ERR syntax error\r\n"),
    ("LMPOP 1 m left COUNT", "-ERR syntax error\r\n"),
    ("LMPOP 1 m left FOO 1", "-ERR syntax error\r\n"),
];

/// List commands on a string, and string commands on a list.
const WRONG_TYPE: &[(&str, &str)] = &[
    ("SET s foo", "+OK\r\n"),
    ("RPUSH l a", ":1\r\n"),
    ("LPUSH s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("RPUSH s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LPUSHX s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("RPUSHX s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LPOP s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("RPOP s 2", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LLEN s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LRANGE s 0 -1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LINDEX s 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LSET s 0 v", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LREM s 0 a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LTRIM s 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LINSERT s before a b", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LPOS s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LPOS s a COUNT 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LMOVE s l left left", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LMOVE l s left left", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("RPOPLPUSH s l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("RPOPLPUSH l s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("LMPOP 2 nokey s left", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    // nothing moved or popped on those errors
    ("LRANGE l 0 -1", "*1\r\n$1\r\na\r\n"),
    // arguments checked before the type where Redis does so
    ("RPOP s x", "-ERR value is out of range, must be positive\r\n"),
    ("LRANGE s x 0", "-ERR value is not an integer or out of range\r\n"),
    ("LTRIM s 0 x", "-ERR value is not an integer or out of range\r\n"),
    ("LREM s x a", "-ERR value is not an integer or out of range\r\n"),
    ("LINSERT s middle a b", "-ERR syntax error\r\n"),
    (
        "LPOS s a RANK 0",
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n",
    ),
    ("LMOVE s l left middle", "-ERR syntax error\r\n"),
    ("LMPOP 1 s middle", "-ERR syntax error\r\n"),
    // a missing source wins over a wrong destination; a list source pops nothing
    ("LMOVE nokey s left left", "$-1\r\n"),
    ("LMPOP 2 l s left", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"),
    ("LMPOP 1 s left", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    // string commands on a list
    ("RPUSH l a b", ":2\r\n"),
    ("GET l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("APPEND l x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("STRLEN l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("INCR l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("GETRANGE l 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SETRANGE l 0 x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("GETSET l v", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("SETBIT l 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("GETBIT l 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("BITCOUNT l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ("TYPE l", "+list\r\n"),
    ("OBJECT ENCODING s", "$6\r\nembstr\r\n"),
    // SET overwrites a list
    ("SET l v", "+OK\r\n"),
    ("GET l", "$1\r\nv\r\n"),
];

/// Null and empty replies, as a RESP3 client sees them.
const RESP3: &[(&str, &str)] = &[
    ("LPOP nokey", "_\r\n"),
    ("LPOP nokey 1", "_\r\n"),
    ("LPOP nokey 0", "_\r\n"),
    ("RPUSH l a b", ":2\r\n"),
    ("LPOP l 0", "*0\r\n"),
    ("LPOP l 1", "*1\r\n$1\r\na\r\n"),
    ("RPOP l 5", "*1\r\n$1\r\nb\r\n"),
    ("LINDEX nokey 0", "_\r\n"),
    ("LMOVE nokey l left left", "_\r\n"),
    ("RPOPLPUSH nokey l", "_\r\n"),
    ("LMPOP 1 nokey left", "_\r\n"),
    ("LPOS nokey a", "_\r\n"),
    ("LPOS nokey a COUNT 0", "*0\r\n"),
    ("RPUSH l a b a", ":3\r\n"),
    ("LPOS l a", ":0\r\n"),
    ("LPOS l z", "_\r\n"),
    ("LPOS l a COUNT 0", "*2\r\n:0\r\n:2\r\n"),
    ("LINDEX l 10", "_\r\n"),
    ("LRANGE l 0 -1", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\na\r\n"),
    ("LRANGE nokey 0 -1", "*0\r\n"),
    ("LMPOP 1 l right count 2", "*2\r\n$1\r\nl\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
];
