//! INFO, COMMAND, TIME, LASTSAVE, ROLE, DEBUG and SHUTDOWN against the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::time::{Duration, Instant};

use redis::Value;

fn num(info: &str, name: &str) -> u64 {
    info_field(info, name).unwrap_or_else(|| panic!("no {name} in {info}")).parse().unwrap_or_else(|_| panic!("{name} not a number"))
}

fn info(c: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

/// A bulk string as the `redis` crate shows it.
fn bulk_value(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn info_keyspace_bytes_and_unknown_section() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"INFO keyspace\r\n", b"$12\r\n# Keyspace\r\n\r\n");
    raw.roundtrip(b"INFO nosuch\r\n", b"$0\r\n\r\n");
    raw.roundtrip(b"SET a 1\r\nSET b 2 EX 100\r\nSELECT 3\r\nSET c 3\r\nSELECT 0\r\n", b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");
    let body = "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n";
    raw.roundtrip(b"INFO KEYSPACE\r\n", format!("${}\r\n{body}\r\n", body.len()).as_bytes());
    let two = "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n";
    raw.roundtrip(b"INFO keyspace cluster\r\n", format!("${}\r\n{two}\r\n", two.len()).as_bytes());
    // redis-cli prints the text as is.
    let out = node.cli(&["INFO", "keyspace"]);
    assert!(out.contains("db0:keys=2,expires=1,avg_ttl=0") && out.contains("db3:keys=1,expires=0,avg_ttl=0"), "{out}");
}

#[test]
fn info_is_verbatim_in_resp3() {
    let node = Node::start(&[]);
    let mut c3 = node.client3();
    let v: Value = redis::cmd("INFO").arg("cluster").query(&mut c3).unwrap();
    match v {
        Value::VerbatimString { text, .. } => {
            assert_eq!(text, "# Cluster\r\ncluster_enabled:0\r\n")
        }
        other => panic!("INFO over RESP3 should be verbatim: {other:?}"),
    }
    let mut raw = node.raw();
    raw.send(&resp(&[b"HELLO", b"3"]));
    // Skip the HELLO map, then check the exact verbatim framing.
    let hello = raw.read_exact_len(1);
    assert_eq!(hello, b"%");
    let mut buf = Vec::new();
    while !String::from_utf8_lossy(&buf).contains("modules\r\n*0\r\n") {
        let b = raw.read_exact_len(1);
        assert!(!b.is_empty(), "HELLO reply ended early");
        buf.extend(b);
    }
    raw.roundtrip(b"INFO cluster\r\n", b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

#[test]
fn info_default_all_and_server_fields() {
    let node = Node::start(&["--threads", "2", "--hz", "20"]);
    let mut c = node.client();
    let headers = |text: &str| text.split("\r\n").filter(|l| l.starts_with("# ")).map(str::to_string).collect::<Vec<_>>();
    let default: String = redis::cmd("INFO").query(&mut c).unwrap();
    assert_eq!(
        headers(&default),
        ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Modules", "# Errorstats", "# Cluster", "# Keyspace"]
    );
    assert_eq!(headers(&info(&mut c, "default")), headers(&default));
    let all = info(&mut c, "all");
    assert_eq!(
        headers(&all),
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Commandstats",
            "# Errorstats",
            "# Latencystats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert_eq!(headers(&info(&mut c, "everything")), headers(&all));
    assert!(all.ends_with("\r\n") && !all.contains("\n\n") && all.split("\r\n").all(|l| !l.contains('\n')));

    let s = info(&mut c, "server");
    assert!(s.starts_with("# Server\r\nredis_version:7.0.15\r\n"), "{s}");
    assert_eq!(info_field(&s, "redis_mode").as_deref(), Some("standalone"));
    assert_eq!(num(&s, "tcp_port"), u64::from(node.port));
    assert_eq!(num(&s, "process_id"), u64::from(node.pid()));
    assert_eq!(num(&s, "arch_bits"), 64);
    assert_eq!(num(&s, "hz"), 20);
    assert_eq!(num(&s, "threads"), 2);
    assert_eq!(num(&s, "io_threads_active"), 1);
    assert_eq!(info_field(&s, "run_id").map(|r| r.len()), Some(40));
    assert_eq!(info_field(&s, "config_file").as_deref(), Some(""));
    assert!(info_field(&s, "os").is_some_and(|o| o.starts_with("Linux ")));
    assert!(info_field(&s, "executable").is_some_and(|e| e.ends_with("cache-node")));
    assert_eq!(info_field(&s, "cache_node_version").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert!(num(&s, "uptime_in_seconds") < 600);
    assert_eq!(num(&s, "uptime_in_days"), 0);

    let r = info(&mut c, "replication");
    assert_eq!(info_field(&r, "role").as_deref(), Some("master"));
    assert_eq!(num(&r, "connected_slaves"), 0);
    assert_eq!(num(&r, "master_repl_offset"), 0);
    assert_eq!(info_field(&r, "master_replid").map(|r| r.len()), Some(40));
    let cpu = info(&mut c, "cpu");
    assert!(info_field(&cpu, "used_cpu_user").is_some_and(|v| v.parse::<f64>().is_ok()));
    assert!(info_field(&cpu, "used_cpu_sys").is_some_and(|v| v.parse::<f64>().is_ok()));
    let p = info(&mut c, "persistence");
    assert_eq!((num(&p, "loading"), num(&p, "rdb_bgsave_in_progress"), num(&p, "aof_enabled")), (0, 0, 0));
}

#[test]
fn info_memory_clients_and_stats_move_with_the_workload() {
    let node = Node::start(&["--maxclients", "123"]);
    let mut c = node.client();
    let m = info(&mut c, "memory");
    let used = num(&m, "used_memory");
    assert!(used > 0 && num(&m, "used_memory_peak") >= used && num(&m, "used_memory_rss") > 0, "{m}");
    assert_eq!(info_field(&m, "mem_allocator").as_deref(), Some("jemalloc-5.3.0"));
    assert_eq!(info_field(&m, "maxmemory_policy").as_deref(), Some("noeviction"));
    assert!(info_field(&m, "mem_fragmentation_ratio").is_some_and(|v| v.parse::<f64>().is_ok()));
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("1mb").query(&mut c).unwrap();
    let m = info(&mut c, "memory");
    assert_eq!((num(&m, "maxmemory"), info_field(&m, "maxmemory_human").unwrap()), (1_048_576, "1.00M".to_string()));
    // A large value raises used_memory and the peak (no limit: it would be refused).
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("0").query(&mut c).unwrap();
    let big = vec![b'x'; 4 << 20];
    let _: () = redis::cmd("SET").arg("big").arg(&big).query(&mut c).unwrap();
    let m2 = info(&mut c, "memory");
    assert!(num(&m2, "used_memory") > used + (3 << 20), "{m2}");
    let _: () = redis::cmd("SET").arg("big").arg("small").query(&mut c).unwrap();

    let other = node.client();
    // The harness's readiness probe may still be unregistering.
    assert!(wait_for(Duration::from_secs(5), || num(&info(&mut c, "clients"), "connected_clients") == 2));
    let cl = info(&mut c, "clients");
    assert_eq!((num(&cl, "maxclients"), num(&cl, "blocked_clients")), (123, 0));
    drop(other);

    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("nokey").query(&mut c).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("nokey2").query(&mut c).unwrap();
    assert!(redis::cmd("NOSUCHCMD").query::<()>(&mut c).is_err());
    assert!(redis::cmd("GET").query::<()>(&mut c).is_err());
    let st = info(&mut c, "stats");
    assert_eq!((num(&st, "keyspace_hits"), num(&st, "keyspace_misses")), (1, 2));
    assert_eq!(num(&st, "total_error_replies"), 2);
    // RESETSTAT itself and the three GETs that ran; not the rejected GET, nor this INFO.
    assert_eq!(num(&st, "total_commands_processed"), 4);
    assert!(num(&st, "total_net_input_bytes") > 0 && num(&st, "total_net_output_bytes") > 0);
    assert_eq!((num(&st, "evicted_keys"), num(&st, "rejected_connections")), (0, 0));
    let all = info(&mut c, "all");
    assert!(all.contains("\r\nerrorstat_ERR:count=2\r\n"), "{all}");
    let line = all.split("\r\n").find(|l| l.starts_with("cmdstat_get:")).unwrap().to_string();
    assert!(line.starts_with("cmdstat_get:calls=3,usec="), "{line}");
    assert!(line.contains(",usec_per_call=") && line.ends_with(",rejected_calls=1,failed_calls=0"), "{line}");
    assert!(num(&info(&mut c, "persistence"), "rdb_changes_since_last_save") >= 1);

    // Keys read after their TTL count as expired.
    let _: () = redis::cmd("SET").arg("short").arg("v").arg("PX").arg(1).query(&mut c).unwrap();
    assert!(wait_for(Duration::from_secs(5), || redis::cmd("GET").arg("short").query::<Option<String>>(&mut c).unwrap().is_none()));
    assert!(wait_for(Duration::from_secs(5), || num(&info(&mut c, "stats"), "expired_keys") >= 1));

    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let st = info(&mut c, "stats");
    assert_eq!((num(&st, "keyspace_hits"), num(&st, "keyspace_misses"), num(&st, "total_error_replies"), num(&st, "expired_keys")), (0, 0, 0, 0));
    assert!(!info(&mut c, "errorstats").contains("errorstat_"));
}

#[test]
fn instantaneous_ops_are_sampled() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _ = info(&mut c, "stats");
    let start = Instant::now();
    let mut raw = node.raw();
    let mut n = 0;
    // Keep commands flowing for a little while so the sample has something to count.
    while start.elapsed() < Duration::from_millis(300) {
        raw.roundtrip(b"PING\r\n", b"+PONG\r\n");
        n += 1;
    }
    let st = info(&mut c, "stats");
    assert!(n > 0 && num(&st, "instantaneous_ops_per_sec") > 0, "{st}");
    assert!(info_field(&st, "instantaneous_input_kbps").is_some_and(|v| v.parse::<f64>().is_ok_and(|k| k > 0.0)));
}

#[test]
fn command_info_shapes() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    let get_info = b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
    let mut want = b"*2\r\n$-1\r\n".to_vec();
    want.extend_from_slice(get_info);
    raw.roundtrip(b"COMMAND INFO nosuch GET\r\n", &want);
    raw.roundtrip(
        b"COMMAND INFO config|resetstat\r\n",
        b"*1\r\n*10\r\n$16\r\nconfig|resetstat\r\n:2\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n",
    );

    let mut c = node.client();
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query(&mut c).unwrap();
    assert_eq!(all.len() as i64, count);
    let everything: Vec<Value> = redis::cmd("COMMAND").arg("INFO").query(&mut c).unwrap();
    assert_eq!(everything.len() as i64, count);
    // A container lists its subcommands as full COMMAND INFO entries.
    let client: Vec<Vec<Value>> = redis::cmd("COMMAND").arg("INFO").arg("client").query(&mut c).unwrap();
    let Value::Array(subs) = &client[0][9] else { panic!("subcommands: {:?}", client[0][9]) };
    assert!(subs.iter().any(|s| matches!(s, Value::Array(e) if e[0] == bulk_value("client|list"))));

    // RESP3: flags, ACL categories, tips and key specs are sets; key specs are maps.
    let mut c3 = node.client3();
    let v: Value = redis::cmd("COMMAND").arg("INFO").arg("get").query(&mut c3).unwrap();
    let Value::Array(outer) = v else { panic!() };
    let Value::Array(entry) = &outer[0] else { panic!() };
    assert_eq!(entry[2], Value::Set(vec![Value::SimpleString("readonly".into()), Value::SimpleString("fast".into())]));
    assert!(matches!(&entry[6], Value::Set(c) if c.len() == 3));
    assert_eq!(entry[7], Value::Set(vec![]));
    assert!(matches!(&entry[8], Value::Set(specs) if matches!(&specs[0], Value::Map(_))));
    assert_eq!(entry[9], Value::Set(vec![]));
}

#[test]
fn command_docs_list_count_and_help() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"COMMAND DOCS nosuch\r\n", b"*0\r\n");
    raw.roundtrip(
        b"COMMAND DOCS time\r\n",
        b"*2\r\n$4\r\ntime\r\n*6\r\n$7\r\nsummary\r\n$30\r\nReturn the current server time\r\n$5\r\nsince\r\n$5\r\n2.6.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n",
    );
    raw.roundtrip(b"COMMAND COUNT x\r\n", b"-ERR wrong number of arguments for 'command|count' command\r\n");
    raw.roundtrip(b"COMMAND FOO\r\n", b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n");
    raw.roundtrip(b"COMMAND LIST FILTERBY\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"COMMAND LIST FILTERBY foo x\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"COMMAND LIST FILTERBY pattern x y\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"COMMAND LIST FILTERBY module x\r\n", b"*0\r\n");
    raw.roundtrip(b"COMMAND LIST FILTERBY aclcat nosuch\r\n", b"*0\r\n");
    raw.roundtrip(
        b"COMMAND LIST FILTERBY pattern config*\r\n",
        b"*6\r\n$6\r\nconfig\r\n$10\r\nconfig|get\r\n$11\r\nconfig|help\r\n$16\r\nconfig|resetstat\r\n$14\r\nconfig|rewrite\r\n$10\r\nconfig|set\r\n",
    );

    let mut c = node.client();
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut c).unwrap();
    for n in ["get", "info", "client", "client|list", "config|set", "command|docs"] {
        assert!(names.iter().any(|x| x == n), "{n} missing from COMMAND LIST");
    }
    let conn: Vec<String> = redis::cmd("COMMAND").arg("LIST").arg("FILTERBY").arg("ACLCAT").arg("connection").query(&mut c).unwrap();
    assert!(conn.contains(&"ping".to_string()) && conn.contains(&"client|id".to_string()) && !conn.contains(&"get".to_string()));
    // COMMAND DOCS with no name documents every command (redis-cli calls it at start).
    let docs: Vec<Value> = redis::cmd("COMMAND").arg("DOCS").query(&mut c).unwrap();
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    assert_eq!(docs.len() as i64, 2 * count);
    let mut c3 = node.client3();
    let v: Value = redis::cmd("COMMAND").arg("DOCS").arg("config").query(&mut c3).unwrap();
    let Value::Map(m) = v else { panic!("{v:?}") };
    let Value::Map(doc) = &m[0].1 else { panic!() };
    assert!(doc.iter().any(|(k, v)| *k == bulk_value("subcommands") && matches!(v, Value::Map(s) if s.len() == 5)));
    let help: Vec<String> = redis::cmd("COMMAND").arg("HELP").query(&mut c).unwrap();
    assert_eq!(help[0], "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(help.last().map(String::as_str), Some("    Prints this help."));
    assert!(!node.cli(&["COMMAND", "DOCS"]).is_empty());
}

#[test]
fn command_getkeys() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"COMMAND GETKEYS get a\r\n", b"*1\r\n$1\r\na\r\n");
    raw.roundtrip(b"COMMAND GETKEYS SET k v EX 10\r\n", b"*1\r\n$1\r\nk\r\n");
    raw.roundtrip(b"COMMAND GETKEYSANDFLAGS get a\r\n", b"*1\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n");
    raw.roundtrip(b"COMMAND GETKEYS get\r\n", b"-ERR wrong number of arguments for 'command|getkeys' command\r\n");
    raw.roundtrip(b"COMMAND GETKEYS nosuch a\r\n", b"-ERR Invalid command specified\r\n");
    raw.roundtrip(b"COMMAND GETKEYS config foo\r\n", b"-ERR Invalid command specified\r\n");
    raw.roundtrip(b"COMMAND GETKEYS config get x\r\n", b"-ERR The command has no key arguments\r\n");
    raw.roundtrip(b"COMMAND GETKEYS ping x\r\n", b"-ERR The command has no key arguments\r\n");
    raw.roundtrip(b"COMMAND GETKEYS get a b\r\n", b"-ERR Invalid number of arguments specified for command\r\n");
}

#[test]
fn time_lastsave_and_role() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let (secs, usecs): (String, String) = redis::cmd("TIME").query(&mut c).unwrap();
    let secs: i64 = secs.parse().unwrap();
    let usecs: i64 = usecs.parse().unwrap();
    assert!((secs - unix_secs()).abs() <= 2 && (0..1_000_000).contains(&usecs));
    let last: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(last <= unix_secs() && last > unix_secs() - 600);
    let mut raw = node.raw();
    raw.roundtrip(b"ROLE\r\n", b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    raw.roundtrip(b"TIME x\r\n", b"-ERR wrong number of arguments for 'time' command\r\n");
    raw.roundtrip(b"ROLE x\r\n", b"-ERR wrong number of arguments for 'role' command\r\n");
    raw.roundtrip(b"LASTSAVE x\r\n", b"-ERR wrong number of arguments for 'lastsave' command\r\n");
}

#[test]
fn debug_object_help_and_errors() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"SET i 12\r\nSET s hello\r\n", b"+OK\r\n+OK\r\n");
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("r").arg(vec![b'x'; 100]).query(&mut c).unwrap();
    let obj = |c: &mut redis::Connection, k: &str| -> String { redis::cmd("DEBUG").arg("OBJECT").arg(k).query(c).unwrap() };
    let i = obj(&mut c, "i");
    assert!(i.starts_with("Value at:0x") && i.contains(" refcount:2147483647 encoding:int serializedlength:2 lru:"), "{i}");
    assert!(i.ends_with(" lru_seconds_idle:0"), "{i}");
    assert!(obj(&mut c, "s").contains(" refcount:1 encoding:embstr serializedlength:6 "));
    assert!(obj(&mut c, "r").contains(" encoding:raw serializedlength:102 "));
    raw.roundtrip(b"DEBUG OBJECT nosuch\r\n", b"-ERR no such key\r\n");
    raw.roundtrip(b"DEBUG OBJECT\r\n", b"-ERR unknown subcommand or wrong number of arguments for 'OBJECT'. Try DEBUG HELP.\r\n");
    raw.roundtrip(b"DEBUG foo\r\n", b"-ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.\r\n");
    raw.roundtrip(b"DEBUG\r\n", b"-ERR wrong number of arguments for 'debug' command\r\n");
    raw.roundtrip(b"DEBUG SLEEP 0\r\nDEBUG SLEEP abc\r\n", b"+OK\r\n+OK\r\n");
    let help: Vec<String> = redis::cmd("DEBUG").arg("HELP").query(&mut c).unwrap();
    assert_eq!(help[0], "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert!(help.iter().any(|l| l.starts_with("SLEEP")) && help.iter().any(|l| l.starts_with("OBJECT")));
}

#[test]
fn debug_sleep_pauses_only_the_caller() {
    let node = Node::start(&[]);
    let mut sleeper = node.raw();
    sleeper.send(b"DEBUG SLEEP 2\r\nPING\r\n");
    assert_eq!(sleeper.read_exact_len(5), b"+OK\r\n");
    let slept_from = Instant::now();
    // Another connection is served while the first one sleeps.
    let mut other = node.raw();
    other.roundtrip(b"PING\r\n", b"+PONG\r\n");
    assert!(slept_from.elapsed() < Duration::from_millis(1800));
    assert_eq!(sleeper.read_exact_len(7), b"+PONG\r\n");
    assert!(slept_from.elapsed() >= Duration::from_millis(1900));
}

#[test]
fn shutdown_argument_errors_then_exit_status_zero() {
    let mut node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"SHUTDOWN ABORT\r\n", b"-ERR No shutdown in progress.\r\n");
    raw.roundtrip(b"SHUTDOWN FOO\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"SHUTDOWN SAVE NOSAVE\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(b"SHUTDOWN NOW ABORT\r\n", b"-ERR syntax error\r\n");
    let mut other = node.raw();
    raw.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(raw.is_closed());
    assert!(other.is_closed());
    let status = node.wait_exit(Duration::from_secs(10)).expect("exited within 10 s");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigterm_exits_with_status_zero() {
    let mut node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let status = node.terminate().expect("exited within 10 s");
    assert!(status.success(), "{status:?}");
    assert!(raw.is_closed());
}

/// Commands whose keys a `numkeys` argument counts: GETKEYS finds them as Redis 7.0 does
/// (checked against redis-server 7.0.15).
#[test]
fn command_getkeys_follows_numkeys() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    rt(&mut r, "COMMAND GETKEYS LMPOP 2 a b LEFT", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    rt(&mut r, "COMMAND GETKEYS BLMPOP 0 2 a b LEFT", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    rt(&mut r, "COMMAND GETKEYS ZUNIONSTORE d 2 a b", "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n");
    rt(&mut r, "COMMAND GETKEYS SINTERCARD 2 a b LIMIT 1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    rt(&mut r, "COMMAND GETKEYS BZMPOP 1 1 a MIN", "*1\r\n$1\r\na\r\n");
    rt(&mut r, "COMMAND GETKEYS LMPOP x a LEFT", "-ERR Invalid arguments specified for command\r\n");
    rt(&mut r, "COMMAND GETKEYS ZINTER 3 a b", "-ERR Invalid arguments specified for command\r\n");
}
