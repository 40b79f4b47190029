//! The real `redis-cli` (Debian redis-tools 7.0) against the real binary: what it prints
//! for each command family, byte for byte. Without a TTY redis-cli prints raw replies
//! (`--no-raw` gives the TTY formatting: `(integer) 1`, `(nil)`, `(error) ERR ...`). Every
//! expectation here was checked against redis-server 7.0.15.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

/// What `redis-cli --pipe` prints on stdout after all replies came back without error.
fn pipe_summary(replies: usize) -> String {
    format!("All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 0, replies: {replies}\n")
}

/// `n` SET commands as RESP text, the input `--pipe` expects.
fn mass_sets(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let (k, v) = (format!("key:{i}"), format!("val:{i}"));
        out.extend(resp(&[b"SET", k.as_bytes(), v.as_bytes()]));
    }
    out
}

#[test]
fn strings_and_bitmaps() {
    let node = Node::start(&[]);
    assert_eq!(node.cli(&["SET", "k", "v"]), "OK\n");
    assert_eq!(node.cli(&["GET", "k"]), "v\n");
    assert_eq!(node.cli(&["GET", "nokey"]), "\n");
    assert_eq!(node.cli(&["INCR", "n"]), "1\n");
    assert_eq!(node.cli(&["MSET", "a", "1", "b", "2"]), "OK\n");
    assert_eq!(node.cli(&["MGET", "a", "b", "nokey"]), "1\n2\n\n");
    assert_eq!(node.cli(&["APPEND", "k", "xyz"]), "4\n");
    assert_eq!(node.cli(&["GETRANGE", "k", "0", "1"]), "vx\n");
    assert_eq!(node.cli(&["GETRANGE", "k", "5", "9"]), "\n");
    assert_eq!(node.cli(&["SETBIT", "bm", "7", "1"]), "0\n");
    assert_eq!(node.cli(&["BITCOUNT", "bm"]), "1\n");
    // A value with spaces and a newline arrives intact.
    assert_eq!(node.cli(&["SET", "sp", "a b\nc"]), "OK\n");
    assert_eq!(node.cli(&["GET", "sp"]), "a b\nc\n");

    // The formatting a terminal user sees.
    assert_eq!(node.cli(&["--no-raw", "GET", "k"]), "\"vxyz\"\n");
    assert_eq!(node.cli(&["--no-raw", "GET", "nokey"]), "(nil)\n");
    assert_eq!(node.cli(&["--no-raw", "INCR", "n"]), "(integer) 2\n");
    assert_eq!(node.cli(&["--no-raw", "MGET", "a", "nokey"]), "1) \"1\"\n2) (nil)\n");
    assert_eq!(node.cli(&["--no-raw", "GETRANGE", "k", "5", "9"]), "\"\"\n");
}

#[test]
fn keys_and_expiry() {
    let node = Node::start(&[]);
    assert_eq!(node.cli(&["MSET", "a", "1", "b", "2", "k", "v"]), "OK\n");
    assert_eq!(node.cli(&["DEL", "a", "b", "nokey"]), "2\n");
    assert_eq!(node.cli(&["EXISTS", "k", "k", "nokey"]), "2\n");
    assert_eq!(node.cli(&["TYPE", "k"]), "string\n");
    assert_eq!(node.cli(&["TYPE", "nokey"]), "none\n");
    assert_eq!(node.cli(&["RENAME", "k", "k2"]), "OK\n");
    assert_eq!(node.cli(&["KEYS", "*"]), "k2\n");
    assert_eq!(node.cli(&["KEYS", "nomatch*"]), "\n");
    assert_eq!(node.cli(&["--no-raw", "KEYS", "nomatch*"]), "(empty array)\n");
    assert_eq!(node.cli(&["SCAN", "0"]), "0\nk2\n");
    assert_eq!(node.cli(&["--no-raw", "SCAN", "0"]), "1) \"0\"\n2) 1) \"k2\"\n");

    // redis-cli --scan drives the SCAN cursor itself; the order is the server's.
    let keys: Vec<String> = (0..300).map(|i| format!("user:{i}")).collect();
    let mut mset = vec!["MSET"];
    for k in &keys {
        mset.extend([k.as_str(), "x"]);
    }
    assert_eq!(node.cli(&mset), "OK\n");
    let mut seen: Vec<String> = node.cli(&["--scan", "--pattern", "user:*"]).lines().map(str::to_string).collect();
    seen.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(seen, want);

    assert_eq!(node.cli(&["EXPIRE", "k2", "100"]), "1\n");
    // TTL rounds to the nearest second; a slow machine may have let one pass.
    let ttl = node.cli(&["TTL", "k2"]);
    assert!(ttl == "100\n" || ttl == "99\n", "{ttl:?}");
    assert_eq!(node.cli(&["PERSIST", "k2"]), "1\n");
    assert_eq!(node.cli(&["PERSIST", "k2"]), "0\n");
    assert_eq!(node.cli(&["TTL", "k2"]), "-1\n");
    assert_eq!(node.cli(&["TTL", "nokey"]), "-2\n");
    assert_eq!(node.cli(&["--no-raw", "TTL", "k2"]), "(integer) -1\n");
}

#[test]
fn databases() {
    let node = Node::start(&[]);
    assert_eq!(node.cli(&["-n", "3", "SET", "x", "1"]), "OK\n");
    assert_eq!(node.cli(&["-n", "3", "GET", "x"]), "1\n");
    assert_eq!(node.cli(&["GET", "x"]), "\n");
    assert_eq!(node.cli(&["-n", "3", "DBSIZE"]), "1\n");
    assert_eq!(node.cli(&["DBSIZE"]), "0\n");
    assert_eq!(node.cli(&["--no-raw", "-n", "3", "DBSIZE"]), "(integer) 1\n");
    assert_eq!(node.cli(&["-n", "3", "FLUSHDB"]), "OK\n");
    assert_eq!(node.cli(&["-n", "3", "DBSIZE"]), "0\n");
}

#[test]
fn server_commands() {
    let node = Node::start(&[]);
    assert_eq!(node.cli(&["SET", "k", "v"]), "OK\n");
    // A bulk reply that ends in a newline gets none added.
    assert_eq!(node.cli(&["INFO", "keyspace"]), "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n");
    assert_eq!(node.cli(&["CONFIG", "GET", "maxmemory"]), "maxmemory\n0\n");
    assert_eq!(node.cli(&["--no-raw", "CONFIG", "GET", "maxmemory"]), "1) \"maxmemory\"\n2) \"0\"\n");
    let count: i64 = q(&mut node.client(), &["COMMAND", "COUNT"]);
    assert!(count > 0);
    assert_eq!(node.cli(&["COMMAND", "COUNT"]), format!("{count}\n"));
    assert_eq!(node.cli(&["--no-raw", "COMMAND", "COUNT"]), format!("(integer) {count}\n"));

    // Commands read from stdin share one connection.
    let out = node.cli_input(&[], b"CLIENT SETNAME app\nCLIENT GETNAME\nSET a 1\nGET a\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\napp\nOK\n1\n");
}

#[test]
fn resp3_hello_and_replies() {
    let node = Node::start(&[]);
    let hello = node.cli(&["-3", "HELLO", "3"]);
    let id = hello.lines().find_map(|l| l.strip_prefix("id ")).unwrap_or_default().to_string();
    assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()), "{hello:?}");
    assert_eq!(hello, format!("server redis\nversion 7.0.15\nproto 3\nid {id}\nmode standalone\nrole master\nmodules \n"));
    let pretty = node.cli(&["--no-raw", "-3", "HELLO", "3"]);
    assert!(pretty.starts_with("1# \"server\" => \"redis\"\n2# \"version\" => \"7.0.15\"\n3# \"proto\" => (integer) 3\n"), "{pretty:?}");
    assert!(pretty.ends_with("6# \"role\" => \"master\"\n7# \"modules\" => (empty array)\n"), "{pretty:?}");
    // Maps print as key and value on one line; RESP3 nulls as empty lines or (nil).
    assert_eq!(node.cli(&["-3", "CONFIG", "GET", "maxmemory"]), "maxmemory 0\n");
    assert_eq!(node.cli(&["--no-raw", "-3", "CONFIG", "GET", "maxmemory"]), "1# \"maxmemory\" => \"0\"\n");
    assert_eq!(node.cli(&["-3", "GET", "nokey"]), "\n");
    assert_eq!(node.cli(&["--no-raw", "-3", "GET", "nokey"]), "(nil)\n");
}

#[test]
fn error_output() {
    let node = Node::start(&[]);
    assert_eq!(node.cli(&["SET", "s", "abc"]), "OK\n");
    // Without a TTY an error prints raw, followed by an empty line, and the exit status is 0.
    let out = node.cli_input(&["INCR", "s"], b"");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ERR value is not an integer or out of range\n\n");
    assert_eq!(node.cli(&["FOO"]), "ERR unknown command 'FOO', with args beginning with: \n\n");
    assert_eq!(node.cli(&["FOO", "bar"]), "ERR unknown command 'FOO', with args beginning with: 'bar' \n\n");
    assert_eq!(node.cli(&["GET"]), "ERR wrong number of arguments for 'get' command\n\n");
    // The TTY formatting.
    assert_eq!(node.cli(&["--no-raw", "INCR", "s"]), "(error) ERR value is not an integer or out of range\n");
    // -e: the error goes to stderr and the exit status is 1.
    let out = node.cli_input(&["-e", "INCR", "s"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "ERR value is not an integer or out of range\n");
    // Errors from stdin do not stop the session.
    let out = node.cli_input(&[], b"SET a 1\nFOO\nGET a\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\nERR unknown command 'FOO', with args beginning with: \n\n1\n");
}

#[test]
fn pipe_mass_insertion() {
    let node = Node::start(&[]);
    let out = node.cli_input(&["--pipe"], &mass_sets(10_000));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), pipe_summary(10_000));
    assert_eq!(node.cli(&["DBSIZE"]), "10000\n");
    assert_eq!(node.cli(&["GET", "key:0"]), "val:0\n");
    assert_eq!(node.cli(&["GET", "key:9999"]), "val:9999\n");
}
