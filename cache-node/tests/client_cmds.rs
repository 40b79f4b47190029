//! CLIENT subcommands against the real binary: identity, listing, killing, pausing and
//! reply modes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::io::Read;
use std::time::{Duration, Instant};

use redis::Value;

fn client_info(c: &mut redis::Connection) -> String {
    redis::cmd("CLIENT").arg("INFO").query(c).unwrap()
}

fn client_list(c: &mut redis::Connection) -> String {
    redis::cmd("CLIENT").arg("LIST").query(c).unwrap()
}

/// The value of `key=` in a CLIENT LIST line.
fn attr(line: &str, key: &str) -> String {
    line.split(' ').find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('='))).unwrap_or_else(|| panic!("no {key} in {line}")).to_string()
}

fn id_of(c: &mut redis::Connection) -> i64 {
    redis::cmd("CLIENT").arg("ID").query(c).unwrap()
}

fn info_num(c: &mut redis::Connection, name: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info_field(&text, name).and_then(|v| v.parse().ok()).unwrap()
}

#[test]
fn id_names_and_info_line() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"CLIENT GETNAME\r\n", b"$-1\r\n");
    raw.roundtrip(b"CLIENT SETNAME app-1\r\nCLIENT GETNAME\r\n", b"+OK\r\n$5\r\napp-1\r\n");
    raw.roundtrip(b"CLIENT SETNAME \"a b\"\r\n", b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    raw.roundtrip(b"CLIENT SETNAME \"\"\r\nCLIENT GETNAME\r\n", b"+OK\r\n$-1\r\n");
    raw.roundtrip(b"CLIENT\r\n", b"-ERR wrong number of arguments for 'client' command\r\n");
    raw.roundtrip(b"CLIENT foo\r\n", b"-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
    raw.roundtrip(b"CLIENT ID x\r\n", b"-ERR wrong number of arguments for 'client|id' command\r\n");
    raw.roundtrip(b"CLIENT GETNAME x\r\n", b"-ERR wrong number of arguments for 'client|getname' command\r\n");
    raw.roundtrip(b"CLIENT INFO x\r\n", b"-ERR wrong number of arguments for 'client|info' command\r\n");
    raw.roundtrip(b"CLIENT SETNAME\r\n", b"-ERR wrong number of arguments for 'client|setname' command\r\n");

    let mut c = node.client();
    let id = id_of(&mut c);
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("worker").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
    let line = client_info(&mut c);
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "{line:?}");
    let line = line.trim_end();
    assert!(line.starts_with(&format!("id={id} addr=127.0.0.1:")), "{line}");
    assert_eq!(attr(line, "laddr"), format!("127.0.0.1:{}", node.port));
    assert_eq!((attr(line, "name"), attr(line, "db"), attr(line, "flags")), ("worker".into(), "2".into(), "N".into()));
    assert_eq!((attr(line, "cmd"), attr(line, "user"), attr(line, "resp")), ("client|info".into(), "default".into(), "2".into()));
    assert!(line.contains(" sub=0 psub=0 ssub=0 multi=-1 qbuf="), "{line}");
    // The redis crate announces itself with CLIENT SETINFO when it connects.
    assert!(line.contains(&format!(" redir=-1 resp=2 lib-name=redis-rs lib-ver={} io-thread=", attr(line, "lib-ver"))), "{line}");
    assert!(["0", "1"].contains(&attr(line, "io-thread").as_str()), "{line}");
    raw.send(b"CLIENT INFO\r\n");
    let len: usize = read_line(&mut raw)[1..].parse().unwrap();
    let raw_line = String::from_utf8(raw.read_exact_len(len)).unwrap();
    assert!(raw_line.contains(" resp=2 lib-name= lib-ver= io-thread="), "{raw_line}");
    let keys: Vec<&str> = line.split(' ').map(|kv| kv.split('=').next().unwrap_or("")).collect();
    assert_eq!(
        keys,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp",
            "lib-name",
            "lib-ver",
            "io-thread"
        ]
    );

    // RESP3: CLIENT INFO is verbatim text and shows resp=3.
    let mut c3 = node.client3();
    let v: Value = redis::cmd("CLIENT").arg("INFO").query(&mut c3).unwrap();
    let Value::VerbatimString { text, .. } = v else { panic!("{v:?}") };
    assert_eq!(attr(text.trim_end(), "resp"), "3");
}

#[test]
fn setinfo_no_evict_unblock_getredir_and_help() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"CLIENT SETINFO LIB-NAME redis-py\r\nCLIENT SETINFO lib-ver 5.0.1\r\n", b"+OK\r\n+OK\r\n");
    raw.roundtrip(b"CLIENT SETINFO foo bar\r\n", b"-ERR Unrecognized option 'foo'\r\n");
    raw.roundtrip(b"CLIENT SETINFO lib-name \"a b\"\r\n", b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n");
    raw.roundtrip(b"CLIENT SETINFO lib-name\r\n", b"-ERR wrong number of arguments for 'client|setinfo' command\r\n");
    raw.roundtrip(b"CLIENT NO-EVICT on\r\nCLIENT NO-EVICT OFF\r\nCLIENT NO-EVICT maybe\r\n", b"+OK\r\n+OK\r\n-ERR syntax error\r\n");
    raw.roundtrip(b"CLIENT NO-EVICT\r\n", b"-ERR wrong number of arguments for 'client|no-evict' command\r\n");
    raw.roundtrip(b"CLIENT UNBLOCK 12345\r\nCLIENT UNBLOCK 1 ERROR\r\n", b":0\r\n:0\r\n");
    raw.roundtrip(b"CLIENT UNBLOCK 1 foo\r\n", b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
    raw.roundtrip(b"CLIENT UNBLOCK x\r\n", b"-ERR value is not an integer or out of range\r\n");
    raw.roundtrip(b"CLIENT GETREDIR\r\n", b":-1\r\n");

    let mut c = node.client();
    let _: () = redis::cmd("CLIENT").arg("SETINFO").arg("lib-name").arg("redis-rs").query(&mut c).unwrap();
    let _: () = redis::cmd("CLIENT").arg("SETINFO").arg("lib-ver").arg("0.27").query(&mut c).unwrap();
    let _: () = redis::cmd("CLIENT").arg("NO-EVICT").arg("on").query(&mut c).unwrap();
    let line = client_info(&mut c);
    assert!(line.contains(" lib-name=redis-rs lib-ver=0.27 io-thread="), "{line}");
    assert_eq!(attr(&line, "flags"), "e");
    let help: Vec<String> = redis::cmd("CLIENT").arg("HELP").query(&mut c).unwrap();
    assert_eq!(help[0], "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert!(help.iter().any(|l| l == "KILL <ip:port>") && help.iter().any(|l| l == "PAUSE <timeout> [WRITE|ALL]"));
    assert_eq!(&help[help.len() - 2..], ["HELP", "    Prints this help."]);
}

#[test]
fn list_filters_and_other_clients() {
    let node = Node::start(&[]);
    let mut a = node.client();
    let mut b = node.client();
    let a_id = id_of(&mut a);
    let b_id = id_of(&mut b);
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("bee").query(&mut b).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut b).unwrap();

    // The harness's readiness probe may still be unregistering.
    assert!(wait_for(Duration::from_secs(5), || client_list(&mut a).lines().count() == 2));
    let list = client_list(&mut a);
    let lines: Vec<&str> = list.lines().collect();
    assert!(list.ends_with('\n'));
    let b_line = lines.iter().find(|l| l.starts_with(&format!("id={b_id} "))).unwrap_or_else(|| panic!("{list}"));
    assert_eq!((attr(b_line, "name"), attr(b_line, "cmd")), ("bee".into(), "get".into()));
    let a_line = lines.iter().find(|l| l.starts_with(&format!("id={a_id} "))).unwrap();
    assert_eq!(attr(a_line, "cmd"), "client|list");

    let normal: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("normal").query(&mut a).unwrap();
    assert_eq!(normal.lines().count(), lines.len());
    for t in ["master", "replica", "slave", "pubsub"] {
        let s: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg(t).query(&mut a).unwrap();
        assert_eq!(s, "", "{t}");
    }
    let only_b: String = redis::cmd("CLIENT").arg("LIST").arg("ID").arg(b_id).arg(999_999).query(&mut a).unwrap();
    assert_eq!(only_b.lines().count(), 1);
    assert!(only_b.starts_with(&format!("id={b_id} ")));

    let mut raw = node.raw();
    raw.roundtrip(b"CLIENT LIST TYPE foo\r\n", b"-ERR Unknown client type 'foo'\r\n");
    raw.roundtrip(b"CLIENT LIST ID 1 abc\r\n", b"-ERR Invalid client ID\r\n");
    raw.roundtrip(b"CLIENT LIST ID 0\r\n", b"$0\r\n\r\n");
    raw.roundtrip(b"CLIENT LIST ID\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"CLIENT LIST TYPE\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"CLIENT LIST foo\r\n", b"-ERR syntax error\r\n");
}

#[test]
fn kill_closes_the_other_connection() {
    let node = Node::start(&[]);
    let mut admin = node.client();

    // New form by ID: a count, and the victim sees end of stream.
    let mut victim = node.raw();
    victim.send(b"CLIENT ID\r\n");
    let victim_id: i64 = read_line(&mut victim)[1..].parse().unwrap();
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(victim_id).query(&mut admin).unwrap();
    assert_eq!(killed, 1);
    assert!(victim.is_closed());

    // Old form by address: OK, and the victim is gone.
    let mut victim = node.raw();
    victim.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let addr = victim.0.local_addr().unwrap().to_string();
    let ok: String = redis::cmd("CLIENT").arg("KILL").arg(&addr).query(&mut admin).unwrap();
    assert_eq!(ok, "OK");
    assert!(victim.is_closed());

    let mut raw = node.raw();
    raw.roundtrip(b"CLIENT KILL 1.2.3.4:5\r\n", b"-ERR No such client\r\n");
    raw.roundtrip(b"CLIENT KILL ID 99999\r\n", b":0\r\n");
    raw.roundtrip(b"CLIENT KILL ID 0\r\n", b"-ERR client-id should be greater than 0\r\n");
    raw.roundtrip(b"CLIENT KILL ID abc\r\n", b"-ERR client-id should be greater than 0\r\n");
    raw.roundtrip(b"CLIENT KILL USER nobody\r\n", b"-ERR No such user 'nobody'\r\n");
    raw.roundtrip(b"CLIENT KILL TYPE bad\r\n", b"-ERR Unknown client type 'bad'\r\n");
    raw.roundtrip(b"CLIENT KILL SKIPME maybe\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"CLIENT KILL MAXAGE 10\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"CLIENT KILL ID 1 ID\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"CLIENT KILL\r\n", b"-ERR wrong number of arguments for 'client|kill' command\r\n");
    // SKIPME defaults to yes in the new form: killing by our own address kills nothing.
    let own = raw.0.local_addr().unwrap().to_string();
    raw.roundtrip(format!("CLIENT KILL ADDR {own}\r\nPING\r\n").as_bytes(), b":0\r\n+PONG\r\n");
    let laddr = format!("127.0.0.1:{}", node.port);
    raw.roundtrip(format!("CLIENT KILL LADDR 127.0.0.1:1 ADDR {own} SKIPME no\r\n").as_bytes(), b":0\r\n");
    // With SKIPME no the caller gets its reply, then the connection closes.
    raw.roundtrip(format!("CLIENT KILL LADDR {laddr} ADDR {own} SKIPME no\r\n").as_bytes(), b":1\r\n");
    assert!(raw.is_closed());

    // TYPE normal with the default SKIPME kills everyone else.
    let mut x = node.raw();
    x.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let mut y = node.raw();
    y.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let n: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal").arg("USER").arg("default").query(&mut admin).unwrap();
    assert!(n >= 2, "{n}");
    assert!(x.is_closed() && y.is_closed());
    let _: String = redis::cmd("PING").query(&mut admin).unwrap();
}

#[test]
fn pause_write_holds_writes_until_unpause_while_reads_proceed() {
    let node = Node::start(&[]);
    let mut admin = node.raw();
    admin.roundtrip(b"SET k old\r\n", b"+OK\r\n");
    admin.roundtrip(b"CLIENT PAUSE 60000 WRITE\r\n", b"+OK\r\n");
    let mut reader = node.raw();
    let info_req = b"INFO stats\r\n";
    let read_bytes_in = |r: &mut Raw| -> u64 {
        r.send(info_req);
        let len: usize = read_line(r)[1..].parse().unwrap();
        let body = String::from_utf8(r.read_exact_len(len + 2)).unwrap();
        body.split("\r\n").find_map(|l| l.strip_prefix("total_net_input_bytes:")).unwrap().parse().unwrap()
    };
    let before = read_bytes_in(&mut reader);

    let mut writer = node.raw();
    let set = b"SET k new\r\n";
    writer.send(set);
    // Wait until the server has read the SET (the byte counter moved past our own INFO
    // requests), so the next checks really observe a held command.
    let mut polls = 0u64;
    assert!(wait_for(Duration::from_secs(10), || {
        polls += 1;
        read_bytes_in(&mut reader) >= before + polls * info_req.len() as u64 + set.len() as u64
    }));
    reader.roundtrip(b"GET k\r\n", b"$3\r\nold\r\n");
    reader.roundtrip(b"PING\r\n", b"+PONG\r\n");
    writer.0.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(writer.0.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "the paused write was answered");
    writer.0.set_nonblocking(false).unwrap();

    admin.roundtrip(b"CLIENT UNPAUSE\r\n", b"+OK\r\n");
    assert_eq!(writer.read_exact_len(5), b"+OK\r\n");
    reader.roundtrip(b"GET k\r\n", b"$3\r\nnew\r\n");
}

#[test]
fn pause_all_holds_reads_until_the_timeout() {
    let node = Node::start(&[]);
    let mut admin = node.raw();
    let start = Instant::now();
    admin.roundtrip(b"CLIENT PAUSE 400 ALL\r\n", b"+OK\r\n");
    let mut other = node.raw();
    other.roundtrip(b"GET k\r\n", b"$-1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(350), "{:?}", start.elapsed());
    // PING is never held.
    admin.roundtrip(b"CLIENT PAUSE 60000\r\nPING\r\nCLIENT UNPAUSE\r\n", b"+OK\r\n+PONG\r\n+OK\r\n");
    other.roundtrip(b"GET k\r\n", b"$-1\r\n");
}

#[test]
fn pause_errors() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"CLIENT PAUSE\r\n", b"-ERR wrong number of arguments for 'client|pause' command\r\n");
    raw.roundtrip(b"CLIENT PAUSE abc\r\n", b"-ERR timeout is not an integer or out of range\r\n");
    raw.roundtrip(b"CLIENT PAUSE -1\r\n", b"-ERR timeout is negative\r\n");
    raw.roundtrip(b"CLIENT PAUSE 10 FOO\r\n", b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n");
    raw.roundtrip(b"CLIENT PAUSE 10 WRITE x\r\n", b"-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n");
    raw.roundtrip(b"CLIENT PAUSE 9223372036854775807\r\n", b"-ERR timeout is out of range\r\n");
    raw.roundtrip(b"CLIENT UNPAUSE x\r\n", b"-ERR wrong number of arguments for 'client|unpause' command\r\n");
    raw.roundtrip(b"CLIENT PAUSE 0\r\nSET a 1\r\n", b"+OK\r\n+OK\r\n");
}

#[test]
fn reply_off_and_skip() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nNOSUCH\r\nCLIENT REPLY ON\r\nGET a\r\n", b"+OK\r\n$1\r\n1\r\n");
    raw.roundtrip(b"CLIENT REPLY SKIP\r\nPING one\r\nPING two\r\n", b"$3\r\ntwo\r\n");
    // SKIP while OFF changes nothing; ON turns replies back on.
    raw.roundtrip(b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING x\r\nCLIENT REPLY ON\r\nPING y\r\n", b"+OK\r\n$1\r\ny\r\n");
    raw.roundtrip(b"CLIENT REPLY maybe\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"CLIENT REPLY\r\n", b"-ERR wrong number of arguments for 'client|reply' command\r\n");
    // Replies skipped or off are still executed.
    let mut c = node.client();
    let v: String = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, "1");
    assert!(info_num(&mut c, "total_error_replies") >= 1);
}
