//! CONFIG commands, the config file and command line, and the parameters that change
//! how connections are treated: requirepass, timeout, maxclients.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::path::PathBuf;
use std::time::Duration;

fn config_get(c: &mut redis::Connection, name: &str) -> Vec<String> {
    redis::cmd("CONFIG").arg("GET").arg(name).query(c).unwrap()
}

/// A fresh directory under the system temp dir for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("cache-node-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads one bulk string reply.
fn read_bulk(r: &mut Raw) -> String {
    let head = read_line(r);
    let len: usize = head[1..].parse().unwrap();
    let body = r.read_exact_len(len + 2);
    String::from_utf8_lossy(&body[..len]).into_owned()
}

#[test]
fn get_single_multiple_glob_and_case() {
    let node = Node::start(&["--timeout", "7"]);
    let mut raw = node.raw();
    raw.roundtrip(b"CONFIG GET timeout\r\n", b"*2\r\n$7\r\ntimeout\r\n$1\r\n7\r\n");
    // A plain name is echoed as the client spelled it.
    raw.roundtrip(b"CONFIG GET TIMEOUT\r\n", b"*2\r\n$7\r\nTIMEOUT\r\n$1\r\n7\r\n");
    raw.roundtrip(b"CONFIG GET nosuch\r\n", b"*0\r\n");
    raw.roundtrip(b"CONFIG GET timeout nosuch maxmemory timeout\r\n", b"*4\r\n$7\r\ntimeout\r\n$1\r\n7\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    raw.roundtrip(b"CONFIG GET\r\n", b"-ERR wrong number of arguments for 'config|get' command\r\n");
    let mut c = node.client();
    let glob: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxmemory*").query(&mut c).unwrap();
    let names: Vec<&String> = glob.iter().step_by(2).collect();
    assert!(names.contains(&&"maxmemory".to_string()) && names.contains(&&"maxmemory-policy".to_string()) && names.contains(&&"maxmemory-samples".to_string()));
    let all: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("*").query(&mut c).unwrap();
    assert!(all.len() > 40 && all.len().is_multiple_of(2));
    // Aliases answer too.
    assert_eq!(config_get(&mut c, "io-threads")[0], "io-threads");
    // RESP3: a map.
    let mut c3 = node.client3();
    let v: redis::Value = redis::cmd("CONFIG").arg("GET").arg("timeout").query(&mut c3).unwrap();
    assert_eq!(v, redis::Value::Map(vec![(redis::Value::BulkString(b"timeout".to_vec()), redis::Value::BulkString(b"7".to_vec()))]));
}

#[test]
fn set_is_all_or_nothing_with_redis_errors() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"CONFIG SET timeout 5 maxmemory 1mb\r\nCONFIG GET timeout\r\n", b"+OK\r\n*2\r\n$7\r\ntimeout\r\n$1\r\n5\r\n");
    raw.roundtrip(b"CONFIG SET foo bar\r\n", b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n");
    raw.roundtrip(b"CONFIG SET timeout 1 foo 1\r\n", b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n");
    raw.roundtrip(b"CONFIG SET timeout\r\n", b"-ERR wrong number of arguments for 'config|set' command\r\n");
    raw.roundtrip(b"CONFIG SET timeout 1 maxclients\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(
        b"CONFIG SET timeout abc\r\n",
        b"-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n",
    );
    raw.roundtrip(
        b"CONFIG SET timeout -1\r\n",
        b"-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n",
    );
    raw.roundtrip(
        b"CONFIG SET maxclients 0\r\n",
        b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n",
    );
    raw.roundtrip(b"CONFIG SET timeout 6 TIMEOUT 7\r\n", b"-ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter\r\n");
    raw.roundtrip(b"CONFIG SET Databases 4\r\n", b"-ERR CONFIG SET failed (possibly related to argument 'Databases') - can't set immutable config\r\n");
    raw.roundtrip(
        b"CONFIG SET maxmemory-policy foo\r\n",
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n",
    );
    raw.roundtrip(
        b"CONFIG SET protected-mode maybe\r\n",
        b"-ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'\r\n",
    );
    raw.roundtrip(b"CONFIG SET maxmemory 1xb\r\n", b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n");
    // One bad value: nothing of the call is applied.
    raw.roundtrip(
        b"CONFIG SET timeout 9 maxclients abc\r\n",
        b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer\r\n",
    );
    raw.roundtrip(b"CONFIG GET timeout\r\n", b"*2\r\n$7\r\ntimeout\r\n$1\r\n5\r\n");
    raw.roundtrip(b"CONFIG GET maxmemory\r\n", b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n");
    raw.roundtrip(
        b"CONFIG SET MAXMEMORY-POLICY ALLKEYS-LRU\r\nCONFIG GET maxmemory-policy\r\n",
        b"+OK\r\n*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n",
    );
    // The hot copies follow: INFO reports the new limit.
    raw.roundtrip(b"CONFIG SET maxclients 77\r\n", b"+OK\r\n");
    let mut c = node.client();
    let clients: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
    assert!(clients.contains("\r\nmaxclients:77\r\n"), "{clients}");
}

#[test]
fn help_resetstat_rewrite_errors_and_unknown_subcommand() {
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(
        b"CONFIG HELP\r\n",
        b"*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n+    Return parameters matching the glob-like <pattern> and their values.\r\n+SET <directive> <value>\r\n+    Set the configuration <directive> to <value>.\r\n+RESETSTAT\r\n+    Reset statistics reported by the INFO command.\r\n+REWRITE\r\n+    Rewrite the configuration file.\r\n+HELP\r\n+    Prints this help.\r\n",
    );
    raw.roundtrip(b"CONFIG FOO\r\n", b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n");
    raw.roundtrip(b"CONFIG\r\n", b"-ERR wrong number of arguments for 'config' command\r\n");
    raw.roundtrip(b"CONFIG RESETSTAT x\r\n", b"-ERR wrong number of arguments for 'config|resetstat' command\r\n");
    raw.roundtrip(b"CONFIG RESETSTAT\r\n", b"+OK\r\n");
    raw.roundtrip(b"CONFIG REWRITE\r\n", b"-ERR The server is running without a config file\r\n");
}

#[test]
fn config_file_set_rewrite_and_restart() {
    let dir = temp_dir("rewrite");
    let file = dir.join("node.conf");
    std::fs::write(&file, "# cachefleet test config\nbind 127.0.0.1\nport 0\ntimeout 30\nmaxmemory 1mb\n").unwrap();
    let admin = free_port();
    let args = vec![file.display().to_string(), "--admin-port".to_string(), admin.to_string()];
    let mut node = Node::start_args(&args, admin);
    let mut c = node.client();
    assert_eq!(config_get(&mut c, "timeout"), ["timeout", "30"]);
    assert_eq!(config_get(&mut c, "maxmemory"), ["maxmemory", "1048576"]);
    let server: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    let canonical = std::fs::canonicalize(&file).unwrap().display().to_string();
    assert!(server.contains(&format!("\r\nconfig_file:{canonical}\r\n")), "{server}");

    let _: () = redis::cmd("CONFIG").arg("SET").arg("timeout").arg("45").arg("maxmemory-policy").arg("allkeys-lru").query(&mut c).unwrap();
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut c).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# cachefleet test config\nbind 127.0.0.1\nport 0\ntimeout 45\nmaxmemory 1048576\n"), "{text}");
    assert!(text.contains("\nmaxmemory-policy allkeys-lru\n"), "{text}");
    let status = node.terminate().expect("stopped");
    assert!(status.success());

    // Restart from the rewritten file (the --config form) and see the values.
    let admin = free_port();
    let args = vec!["--config".to_string(), file.display().to_string(), "--admin-port".to_string(), admin.to_string()];
    let node = Node::start_args(&args, admin);
    let mut c = node.client();
    assert_eq!(config_get(&mut c, "timeout"), ["timeout", "45"]);
    assert_eq!(config_get(&mut c, "maxmemory-policy"), ["maxmemory-policy", "allkeys-lru"]);
    // Flags override the file.
    drop(node);
    let admin = free_port();
    let args = vec![file.display().to_string(), "--timeout".to_string(), "3".to_string(), "--admin-port".to_string(), admin.to_string()];
    let node = Node::start_args(&args, admin);
    let mut c = node.client();
    assert_eq!(config_get(&mut c, "timeout"), ["timeout", "3"]);
    drop(node);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn requirepass_auth_hello_and_noauth() {
    let node = Node::start(&["--requirepass", "secret"]);
    let mut raw = node.raw();
    raw.roundtrip(b"PING\r\n", b"-NOAUTH Authentication required.\r\n");
    raw.roundtrip(b"CLIENT ID\r\n", b"-NOAUTH Authentication required.\r\n");
    raw.roundtrip(b"AUTH wrong\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    raw.roundtrip(b"AUTH default wrong\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    raw.roundtrip(b"AUTH bob secret\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    raw.roundtrip(b"AUTH a b c\r\n", b"-ERR syntax error\r\n");
    raw.roundtrip(
        b"HELLO 3\r\n",
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
    );
    raw.roundtrip(b"HELLO 3 AUTH default bad\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    raw.roundtrip(b"AUTH secret\r\nPING\r\n", b"+OK\r\n+PONG\r\n");

    // HELLO AUTH authenticates and switches protocol in one step.
    let mut h = node.raw();
    h.send(b"HELLO 3 AUTH default secret\r\n");
    assert_eq!(h.read_exact_len(2), b"%7");
    let mut rest = Vec::new();
    while !String::from_utf8_lossy(&rest).ends_with("modules\r\n*0\r\n") {
        let b = h.read_exact_len(1);
        assert!(!b.is_empty());
        rest.extend(b);
    }
    h.roundtrip(b"GET nokey\r\n", b"_\r\n");

    // Clients that send the password on connect work unchanged.
    let mut c = redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", node.port)).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    assert!(redis::Client::open(format!("redis://:bad@127.0.0.1:{}/", node.port)).unwrap().get_connection().is_err());

    // Removing the password at run time: new connections need no AUTH.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("requirepass").arg("").query(&mut c).unwrap();
    let mut fresh = node.raw();
    fresh.roundtrip(b"PING\r\n", b"+PONG\r\n");
    fresh.roundtrip(
        b"AUTH x\r\n",
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
    fresh.roundtrip(b"AUTH default anything\r\n", b"+OK\r\n");
}

#[test]
fn timeout_closes_idle_clients() {
    let node = Node::start(&["--timeout", "1"]);
    let mut idle = node.raw();
    idle.roundtrip(b"PING\r\n", b"+PONG\r\n");
    idle.0.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(idle.is_closed(), "an idle client was not closed");
    // Set at run time too.
    let node = Node::start(&[]);
    let mut raw = node.raw();
    raw.roundtrip(b"CONFIG SET timeout 1\r\n", b"+OK\r\n");
    raw.0.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(raw.is_closed());
}

#[test]
fn maxclients_rejects_the_extra_client() {
    let node = Node::start(&["--maxclients", "2"]);
    let mut a = node.raw();
    a.roundtrip(b"PING\r\n", b"+PONG\r\n");
    // The harness's readiness probe may still be unregistering: wait until only `a` counts.
    let count = |a: &mut Raw| {
        a.send(b"CLIENT LIST\r\n");
        read_bulk(a).matches("id=").count()
    };
    assert!(wait_for(Duration::from_secs(5), || count(&mut a) == 1));
    let mut b = node.raw();
    b.roundtrip(b"PING\r\n", b"+PONG\r\n");
    assert_eq!(count(&mut a), 2);
    let mut extra = node.raw();
    assert_eq!(extra.read_exact_len(36), b"-ERR max number of clients reached\r\n");
    assert!(extra.is_closed());
    // The others are unaffected, and INFO counts the rejection.
    b.roundtrip(b"PING\r\n", b"+PONG\r\n");
    a.send(b"INFO stats\r\n");
    assert!(read_bulk(&mut a).contains("\r\nrejected_connections:1\r\n"));
}

/// The compact-encoding thresholds are parameters, as in Redis 7.0 (old ziplist names
/// included); a change applies to later writes. Replies checked against redis-server 7.0.15.
#[test]
fn encoding_thresholds_are_settable_at_run_time() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let get = |c: &mut redis::Connection, name: &str| -> Vec<String> { q(c, &["CONFIG", "GET", name]) };
    assert_eq!(get(&mut c, "hash-max-listpack-entries"), vec!["hash-max-listpack-entries", "512"]);
    assert_eq!(get(&mut c, "hash-max-ziplist-entries"), vec!["hash-max-ziplist-entries", "512"]);
    assert_eq!(get(&mut c, "zset-max-listpack-entries"), vec!["zset-max-listpack-entries", "128"]);
    assert_eq!(get(&mut c, "set-max-intset-entries"), vec!["set-max-intset-entries", "512"]);
    let enc = |c: &mut redis::Connection, key: &str| -> String { q(c, &["OBJECT", "ENCODING", key]) };
    let _: () = q(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
    let _: i64 = q(&mut c, &["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(enc(&mut c, "h"), "listpack");
    let _: i64 = q(&mut c, &["HSET", "h", "c", "3"]);
    assert_eq!(enc(&mut c, "h"), "hashtable");
    let _: () = q(&mut c, &["CONFIG", "SET", "zset-max-listpack-value", "3"]);
    let _: i64 = q(&mut c, &["ZADD", "z", "1", "abcd"]);
    assert_eq!(enc(&mut c, "z"), "skiplist");
    let _: () = q(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "1"]);
    let _: i64 = q(&mut c, &["SADD", "s", "1", "2"]);
    assert_eq!(enc(&mut c, "s"), "hashtable");
    let _: () = q(&mut c, &["CONFIG", "SET", "hash-max-listpack-value", "1kb"]);
    assert_eq!(get(&mut c, "hash-max-listpack-value"), vec!["hash-max-listpack-value", "1024"]);
    let mut r = node.raw();
    err(
        &mut r,
        &["CONFIG", "SET", "zset-max-listpack-entries", "-1"],
        "ERR CONFIG SET failed (possibly related to argument 'zset-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive",
    );
}
