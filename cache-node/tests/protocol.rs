//! The RESP protocol layer and connection handling, byte for byte over raw sockets
//! against the real binary: pipelining, requests split anywhere, RESP2/RESP3, inline
//! commands, every protocol error (each checked by hand against redis-server 7.0),
//! the query buffer limit and many concurrent clients.
mod common;
use common::*;

use std::io::{Read, Write};
use std::time::Duration;

/// Reads until the reply ends with `suffix` (5 s read timeout per read).
fn read_until(raw: &mut Raw, suffix: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(suffix) {
        match raw.0.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// What HELLO answers, for a client with this id.
fn hello_reply(proto: u8, id: &str) -> Vec<u8> {
    let head = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{head}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
    .into_bytes()
}

/// Sends HELLO (as given) and checks the whole reply; returns the client id it showed.
fn hello(raw: &mut Raw, req: &[u8], proto: u8) -> String {
    raw.send(req);
    let got = read_until(raw, b"$7\r\nmodules\r\n*0\r\n");
    let text = String::from_utf8_lossy(&got).into_owned();
    let id = text.split("$2\r\nid\r\n:").nth(1).and_then(|r| r.split("\r\n").next()).unwrap_or("").to_string();
    assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()), "HELLO reply {text:?}");
    assert_eq!(text, String::from_utf8_lossy(&hello_reply(proto, &id)));
    id
}

/// Sends `req` on a fresh connection, expects exactly `want` and then the connection to
/// be closed, and checks that `other` (a connection opened before) still works.
fn closes_with(node: &Node, other: &mut Raw, req: &[u8], want: &[u8]) {
    let mut raw = node.raw();
    raw.send(req);
    let got = raw.read_exact_len(want.len());
    assert_eq!(got, want, "reply to {:?}: {:?}", String::from_utf8_lossy(&req[..req.len().min(60)]), String::from_utf8_lossy(&got));
    assert!(raw.is_closed(), "connection left open after {:?}", String::from_utf8_lossy(&req[..req.len().min(60)]));
    other.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn ten_thousand_pipelined_commands_in_one_write() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 0..5_000 {
        let (k, v) = (format!("k:{i}"), format!("v:{i}"));
        req.extend(resp(&[b"SET", k.as_bytes(), v.as_bytes()]));
        req.extend(resp(&[b"GET", k.as_bytes()]));
        want.extend_from_slice(b"+OK\r\n");
        want.extend(bulk(v.as_bytes()));
    }
    raw.send(&req);
    let got = raw.read_exact_len(want.len());
    assert!(got == want, "pipelined replies differ (got {} of {} bytes)", got.len(), want.len());
}

/// A client that writes a long pipeline before reading anything (as naive clients do)
/// must not deadlock with the server once the replies fill both socket buffers.
#[test]
fn pipeline_larger_than_socket_buffers_does_not_deadlock() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    // Both directions carry more than the kernel buffers can hold (up to 32 MiB here).
    let key = vec![b'k'; 1000];
    let value = vec![b'x'; 1024];
    raw.roundtrip(&resp(&[b"SET", &key, &value]), b"+OK\r\n");
    let n = 48_000;
    let one = resp(&[b"GET", &key]);
    let req: Vec<u8> = one.iter().copied().cycle().take(one.len() * n).collect();
    raw.0.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    raw.0.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    raw.0.write_all(&req).expect("the whole pipeline is accepted while replies wait (no deadlock)");
    let reply = bulk(&value);
    let got = raw.read_exact_len(reply.len() * n);
    assert_eq!(got.len(), reply.len() * n);
    assert!(got.chunks(reply.len()).all(|c| c == reply.as_slice()));
}

#[test]
fn multibulk_split_at_every_byte() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    for cut in 1..resp(&[b"SET", b"key:00", b"value:00"]).len() {
        let (k, v) = (format!("key:{cut:02}"), format!("value:{cut:02}"));
        let req = resp(&[b"SET", k.as_bytes(), v.as_bytes()]);
        raw.send(&req[..cut]);
        raw.send(&req[cut..]);
        raw.send(&resp(&[b"GET", k.as_bytes()]));
        let mut want = b"+OK\r\n".to_vec();
        want.extend(bulk(v.as_bytes()));
        let got = raw.read_exact_len(want.len());
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "cut at {cut}");
    }
    // A split request followed by a PING in the same write: replies stay in order.
    let req = resp(&[b"ECHO", b"first"]);
    for cut in 1..req.len() {
        raw.send(&req[..cut]);
        let mut rest = req[cut..].to_vec();
        rest.extend_from_slice(b"PING\r\n");
        raw.roundtrip(&rest, b"$5\r\nfirst\r\n+PONG\r\n");
    }
}

#[test]
fn inline_split_at_every_byte() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    let req = b"SET inline \"a b\"\r\n";
    for cut in 1..req.len() {
        raw.send(&req[..cut]);
        let mut rest = req[cut..].to_vec();
        rest.extend_from_slice(b"GET inline\r\nPING\r\n");
        raw.roundtrip(&rest, b"+OK\r\n$3\r\na b\r\n+PONG\r\n");
    }
}

#[test]
fn one_mebibyte_value_in_small_chunks() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    let value: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let req = resp(&[b"SET", b"big", &value]);
    for chunk in req.chunks(1000) {
        raw.send(chunk);
    }
    raw.roundtrip(b"", b"+OK\r\n");
    raw.send(&resp(&[b"GET", b"big"]));
    let want = bulk(&value);
    let got = raw.read_exact_len(want.len());
    assert!(got == want, "GET returned {} bytes, wanted {}", got.len(), want.len());
}

#[test]
fn resp2_and_resp3_shapes() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"GET missing\r\n", b"$-1\r\n");
    let id = hello(&mut raw, b"HELLO 3\r\n", 3);
    raw.roundtrip(b"GET missing\r\n", b"_\r\n");
    // HELLO with no version keeps the protocol and answers in it.
    assert_eq!(hello(&mut raw, b"HELLO\r\n", 3), id);
    assert_eq!(hello(&mut raw, b"HELLO 2\r\n", 2), id);
    raw.roundtrip(b"GET missing\r\n", b"$-1\r\n");
    raw.roundtrip(b"HELLO 4\r\n", b"-NOPROTO unsupported protocol version\r\n");
    raw.roundtrip(b"HELLO 1\r\n", b"-NOPROTO unsupported protocol version\r\n");
    raw.roundtrip(b"HELLO abc\r\n", b"-ERR Protocol version is not an integer or out of range\r\n");
    raw.roundtrip(b"HELLO 3 FOO\r\n", b"-ERR Syntax error in HELLO option 'FOO'\r\n");
    raw.roundtrip(b"HELLO 3 AUTH default\r\n", b"-ERR Syntax error in HELLO option 'AUTH'\r\n");
    raw.roundtrip(b"HELLO 3 SETNAME \"a b\"\r\n", b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    // Failed HELLOs left the protocol alone.
    raw.roundtrip(b"GET missing\r\n", b"$-1\r\n");
    // Without a password the default user takes any password.
    hello(&mut raw, b"HELLO 3 AUTH default whatever SETNAME app\r\n", 3);
    raw.roundtrip(b"HELLO 3 AUTH someone pass\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

#[test]
fn hello_authenticates_and_names() {
    let node = Node::start(&["--requirepass", "s3cret"]);
    let mut raw = node.raw();
    raw.roundtrip(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    let noauth = b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n";
    raw.roundtrip(b"HELLO 3\r\n", noauth);
    raw.roundtrip(b"HELLO\r\n", noauth);
    raw.roundtrip(b"HELLO 3 AUTH default wrong\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    raw.roundtrip(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    hello(&mut raw, b"HELLO 3 AUTH default s3cret SETNAME app\r\n", 3);
    raw.roundtrip(b"GET k\r\n", b"_\r\n");

    // As in Redis 7.0, AUTH inside HELLO takes effect even if a later option is bad.
    let mut raw = node.raw();
    raw.roundtrip(b"HELLO 3 AUTH default s3cret FOO\r\nPING\r\n", b"-ERR Syntax error in HELLO option 'FOO'\r\n+PONG\r\n");
    // ... and the protocol did not change.
    raw.roundtrip(b"GET k\r\n", b"$-1\r\n");
}

#[test]
fn inline_commands_and_bare_newlines() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"SET greeting \"hello world\"\r\n", b"+OK\r\n");
    raw.roundtrip(b"GET greeting\r\n", b"$11\r\nhello world\r\n");
    raw.roundtrip(b"SET q 'it\\'s'\r\nGET q\r\n", b"+OK\r\n$4\r\nit's\r\n");
    raw.roundtrip(b"ECHO \"\\x41\\tB\\n\"\r\n", b"$4\r\nA\tB\n\r\n");
    raw.roundtrip(b"ECHO \"\"\r\n", b"$0\r\n\r\n");
    raw.roundtrip(b"  PING  \r\n", b"+PONG\r\n");
    // Blank lines are skipped; \n alone ends a line; inline and multibulk mix freely.
    raw.roundtrip(b"\r\n\n   \r\nPING\nECHO hi\n", b"+PONG\r\n$2\r\nhi\r\n");
    let mut mixed = resp(&[b"ECHO", b"multi"]);
    mixed.extend_from_slice(b"ECHO inline\n");
    mixed.extend(resp(&[b"PING"]));
    raw.roundtrip(&mixed, b"$5\r\nmulti\r\n$6\r\ninline\r\n+PONG\r\n");
    // Redis's framing quirks: header lines end at '\r', the bytes after a bulk are skipped.
    raw.roundtrip(b"*1\rX$4\r\nPING\r\n", b"+PONG\r\n");
    raw.roundtrip(b"*1\r\n$4\r\nPINGxx", b"+PONG\r\n");
    // Empty multibulk requests are consumed silently.
    raw.roundtrip(b"*0\r\n*-1\r\nPING\r\n", b"+PONG\r\n");
    // Vertical tab separates arguments (C isspace).
    raw.roundtrip(b"\x0bECHO 'v'\x0b\r\n", b"$1\r\nv\r\n");
}

#[test]
fn protocol_errors_close_only_the_offending_connection() {
    let node = Node::start(&[]);
    let mut other = node.raw();
    other.roundtrip(b"SET survivor yes\r\n", b"+OK\r\n");
    let cases: Vec<(Vec<u8>, &[u8])> = vec![
        (b"*abc\r\n".to_vec(), b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1 \r\n".to_vec(), b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*2147483648\r\n".to_vec(), b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+x\r\n".to_vec(), b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*1\r\n\xff\r\n".to_vec(), b"-ERR Protocol error: expected '$', got '\xff'\r\n"),
        (b"*1\r\n\r\n".to_vec(), b"-ERR Protocol error: expected '$', got ' '\r\n"),
        (b"*1\r\n$abc\r\n".to_vec(), b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$-1\r\n".to_vec(), b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$+4\r\nPING\r\n".to_vec(), b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$536870913\r\n".to_vec(), b"-ERR Protocol error: invalid bulk length\r\n"),
        (vec![b'a'; 70_000], b"-ERR Protocol error: too big inline request\r\n"),
        ([b"*".as_slice(), &[b'1'; 70_000]].concat(), b"-ERR Protocol error: too big mbulk count string\r\n"),
        ([b"*1\r\n$".as_slice(), &[b'1'; 70_000]].concat(), b"-ERR Protocol error: too big bulk count string\r\n"),
        (b"SET k \"abc\r\n".to_vec(), b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"SET k 'abc\r\n".to_vec(), b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"SET k \"abc\"def\r\n".to_vec(), b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        // Commands before the bad one in the same write still run and answer first.
        (b"PING\r\n*abc\r\nPING\r\n".to_vec(), b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"),
        // A NUL hides the newline from Redis (it searches with strchr): the line only
        // ends by growing too big. This used to hang a worker thread.
        ([b"PING\0\r\n".as_slice(), &[b'x'; 70_000]].concat(), b"-ERR Protocol error: too big inline request\r\n"),
    ];
    for (req, want) in &cases {
        closes_with(&node, &mut other, req, want);
    }
    other.roundtrip(b"GET survivor\r\n", b"$3\r\nyes\r\n");
}

#[test]
fn bulk_longer_than_proto_max_bulk_len() {
    let node = Node::start(&[]);
    let mut admin = node.raw();
    admin.roundtrip(b"CONFIG SET proto-max-bulk-len 1mb\r\n", b"+OK\r\n");
    admin.roundtrip(b"CONFIG GET proto-max-bulk-len\r\n", b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n");
    closes_with(&node, &mut admin, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n");
    // Exactly the limit is fine.
    let mut raw = node.raw();
    raw.roundtrip(&resp(&[b"SET", b"k", &vec![b'v'; 1024 * 1024]]), b"+OK\r\n");
}

/// Redis 7.0 accepts multibulk counts up to INT_MAX (the 1024*1024 cap is from Redis
/// 6.x): a request with 1024*1024+1 arguments is parsed and answered.
#[test]
fn multibulk_count_above_one_mebi_is_accepted_like_redis_7() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    let n = 1024 * 1024 + 1;
    let mut req = format!("*{n}\r\n").into_bytes();
    for _ in 0..n {
        req.extend_from_slice(b"$1\r\na\r\n");
    }
    raw.0.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let preview = "'a' ".repeat(32);
    raw.roundtrip(&req, format!("-ERR unknown command 'a', with args beginning with: {preview}\r\n").as_bytes());
    raw.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn unauthenticated_clients_get_small_limits() {
    let node = Node::start(&["--requirepass", "pw"]);
    let mut other = node.raw();
    other.roundtrip(b"AUTH pw\r\n", b"+OK\r\n");
    closes_with(&node, &mut other, b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n");
    closes_with(&node, &mut other, b"*1\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n");
    // Once authenticated, in the same pipeline, the normal limits apply.
    let mut raw = node.raw();
    let mut req = b"AUTH pw\r\n".to_vec();
    let big = vec![b'z'; 20_000];
    req.extend(resp(&[b"SET", b"k", &big]));
    req.extend(resp(&[b"ECHO", b"1"]));
    raw.roundtrip(&req, b"+OK\r\n+OK\r\n$1\r\n1\r\n");
    let eleven: Vec<&[u8]> = std::iter::once(b"foo".as_slice()).chain(std::iter::repeat_n(b"a".as_slice(), 10)).collect();
    raw.roundtrip(&resp(&eleven), format!("-ERR unknown command 'foo', with args beginning with: {}\r\n", "'a' ".repeat(10)).as_bytes());
}

#[test]
fn query_buffer_limit_disconnects_only_the_hog() {
    let node = Node::start(&[]);
    let mut admin = node.raw();
    admin.roundtrip(b"CONFIG SET client-query-buffer-limit 1mb\r\n", b"+OK\r\n");
    let mut hog = node.raw();
    hog.send(b"*3\r\n$3\r\nSET\r\n$3\r\nhog\r\n$2097152\r\n");
    // Send most of a 2 MiB bulk, never finishing it; the server hangs up part way, so
    // writes may start failing: that is the point.
    let chunk = vec![b'h'; 16 * 1024];
    for _ in 0..127 {
        if hog.0.write_all(&chunk).is_err() {
            break;
        }
    }
    assert!(hog.is_closed(), "the client over the query buffer limit was not disconnected");
    admin.roundtrip(b"PING\r\n", b"+PONG\r\n");
    admin.roundtrip(b"GET hog\r\n", b"$-1\r\n");
    assert!(wait_for(Duration::from_secs(5), || node.log().iter().any(|l| l.contains("query buffer limit"))));
}

#[test]
fn unknown_command_and_arity_errors() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"foo a b\r\n", b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    raw.roundtrip(&resp(&[b"foo", b"a", b"b"]), b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    raw.roundtrip(b"foo\r\n", b"-ERR unknown command 'foo', with args beginning with: \r\n");
    // The preview stops at 128 bytes, cutting the last argument.
    let a120 = vec![b'a'; 120];
    let want = format!("-ERR unknown command 'foo', with args beginning with: '{}' 'bbbbb' \r\n", "a".repeat(120));
    raw.roundtrip(&resp(&[b"foo", &a120, b"bbbbbbbbbbbbbbbbbbbb", b"c"]), want.as_bytes());
    let letters = "a b c d e f g h i j k l m n o p q r s t u v w x y z";
    let want = format!("-ERR unknown command 'foo', with args beginning with: {}\r\n", letters.split(' ').map(|l| format!("'{l}' ")).collect::<String>());
    raw.roundtrip(format!("foo {letters}\r\n").as_bytes(), want.as_bytes());
    // CR/LF inside an argument cannot break the reply's framing.
    raw.roundtrip(&resp(&[b"foo", b"a\r\nb"]), b"-ERR unknown command 'foo', with args beginning with: 'a  b' \r\n");
    raw.roundtrip(b"GET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n");
    raw.roundtrip(b"SET k\r\n", b"-ERR wrong number of arguments for 'set' command\r\n");
    raw.roundtrip(b"ECHO\r\n", b"-ERR wrong number of arguments for 'echo' command\r\n");
    raw.roundtrip(b"PING a b\r\n", b"-ERR wrong number of arguments for 'ping' command\r\n");
    raw.roundtrip(b"SELECT\r\n", b"-ERR wrong number of arguments for 'select' command\r\n");
    raw.roundtrip(b"CONFIG GET\r\n", b"-ERR wrong number of arguments for 'config|get' command\r\n");
    raw.roundtrip(b"CONFIG FOO\r\n", b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n");
    raw.roundtrip(b"SELECT x\r\n", b"-ERR value is not an integer or out of range\r\n");
    raw.roundtrip(b"SELECT 99\r\n", b"-ERR DB index is out of range\r\n");
    // None of that closed the connection.
    raw.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn quit_replies_then_closes() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    // The PING after QUIT in the same write is not run.
    raw.roundtrip(b"QUIT\r\nPING\r\n", b"+OK\r\n");
    assert!(raw.is_closed());
    let mut raw = node.raw();
    raw.roundtrip(&resp(&[b"QUIT"]), b"+OK\r\n");
    assert!(raw.is_closed());
}

#[test]
fn reset_restores_db_protocol_and_auth() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"SELECT 1\r\nSET k in-db-1\r\n", b"+OK\r\n+OK\r\n");
    hello(&mut raw, b"HELLO 3\r\n", 3);
    raw.roundtrip(b"GET nothing\r\n", b"_\r\n");
    raw.roundtrip(b"RESET\r\n", b"+RESET\r\n");
    // Back in db 0 (k is not there) and on RESP2 (null is $-1).
    raw.roundtrip(b"GET k\r\n", b"$-1\r\n");
    raw.roundtrip(b"SELECT 1\r\nGET k\r\n", b"+OK\r\n$7\r\nin-db-1\r\n");

    let node = Node::start(&["--requirepass", "pw"]);
    let mut raw = node.raw();
    raw.roundtrip(b"AUTH pw\r\nPING\r\nRESET\r\nPING\r\n", b"+OK\r\n+PONG\r\n+RESET\r\n-NOAUTH Authentication required.\r\n");
}

#[test]
fn two_hundred_concurrent_clients() {
    let node = Node::start(&[]);
    let port = node.port;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..200)
            .map(|c| {
                s.spawn(move || {
                    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
                    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
                    let mut raw = Raw(stream);
                    for i in 0..25 {
                        let (k, v) = (format!("c{c}:k{i}"), format!("client {c} value {i}"));
                        raw.roundtrip(&resp(&[b"SET", k.as_bytes(), v.as_bytes()]), b"+OK\r\n");
                        raw.roundtrip(&resp(&[b"GET", k.as_bytes()]), &bulk(v.as_bytes()));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("client thread");
        }
    });
    // Every key is there afterwards, read by one more client.
    let mut raw = node.raw();
    for c in [0, 99, 199] {
        let k = format!("c{c}:k24");
        raw.roundtrip(&resp(&[b"GET", k.as_bytes()]), &bulk(format!("client {c} value 24").as_bytes()));
    }
}
