//! SLOWLOG, LATENCY and INFO latencystats: what the node reports about its own slow
//! commands, against real clients (shapes as Redis 7.0 replies them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use redis::Value;

type Entry = (i64, i64, i64, Vec<Vec<u8>>, String, String);

fn entries(c: &mut redis::Connection, count: &str) -> Vec<Entry> {
    redis::cmd("SLOWLOG").arg("GET").arg(count).query(c).unwrap()
}

fn args_of(e: &Entry) -> Vec<String> {
    e.3.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

#[test]
fn the_slow_log_keeps_slow_commands_newest_first_with_their_client() {
    let node = Node::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = node.client();
    let _: () = q(&mut c, &["CLIENT", "SETNAME", "app"]);
    let _: () = q(&mut c, &["SET", "k", "v"]);
    let got = entries(&mut c, "2");
    assert_eq!(got.len(), 2);
    assert_eq!(args_of(&got[0]), ["SET", "k", "v"]);
    assert_eq!(args_of(&got[1]), ["CLIENT", "SETNAME", "app"]);
    assert!(got[0].0 > got[1].0, "ids grow: {got:?}");
    assert!((got[0].1 - unix_secs()).abs() <= 2);
    assert!(got[0].2 >= 0);
    let me: String = q(&mut c, &["CLIENT", "INFO"]);
    let addr = me.split(' ').find_map(|f| f.strip_prefix("addr=")).unwrap();
    assert_eq!(got[0].4, addr);
    assert_eq!(got[0].5, "app");
    // The default count is 10, -1 is everything.
    for i in 0..12 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert!(entries(&mut c, "-1").len() >= 16);
    let ten: Vec<Entry> = redis::cmd("SLOWLOG").arg("GET").query(&mut c).unwrap();
    assert_eq!(ten.len(), 10);
    let len: i64 = q(&mut c, &["SLOWLOG", "LEN"]);
    assert!(len >= 16, "{len}");
    let _: () = q(&mut c, &["SLOWLOG", "RESET"]);
    // The RESET itself is logged once it has run.
    let len: i64 = q(&mut c, &["SLOWLOG", "LEN"]);
    assert_eq!(len, 1);
}

#[test]
fn long_and_many_arguments_are_shortened_and_passwords_hidden() {
    let node = Node::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = node.client();
    let long = "x".repeat(200);
    let _: () = q(&mut c, &["SET", &long, "v"]);
    let e = entries(&mut c, "1");
    assert_eq!(args_of(&e[0])[1], format!("{}... (72 more bytes)", "x".repeat(128)));
    let keys: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let mut del = vec!["DEL"];
    del.extend(keys.iter().map(String::as_str));
    let _: i64 = q(&mut c, &del);
    let e = entries(&mut c, "1");
    let a = args_of(&e[0]);
    assert_eq!(a.len(), 32);
    assert_eq!(a[30], "30");
    assert_eq!(a[31], "... (10 more arguments)");
    let _ = redis::cmd("AUTH").arg("someone").arg("secret").query::<()>(&mut c);
    let e = entries(&mut c, "1");
    assert_eq!(args_of(&e[0]), ["AUTH", "(redacted)", "(redacted)"]);
}

#[test]
fn the_threshold_and_length_are_settings() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    // The default threshold (10 ms) leaves a quick SET out.
    assert!(entries(&mut c, "-1").iter().all(|e| args_of(e)[0] != "SET"));
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-max-len", "3"]);
    for i in 0..5 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(entries(&mut c, "-1").len(), 3);
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let _: () = q(&mut c, &["SLOWLOG", "RESET"]);
    let _: () = q(&mut c, &["SET", "k", "v"]);
    let len: i64 = q(&mut c, &["SLOWLOG", "LEN"]);
    assert_eq!(len, 0);
    let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "slowlog-*"]);
    assert_eq!(got, ["slowlog-log-slower-than", "-1", "slowlog-max-len", "3"]);
}

#[test]
fn slowlog_errors_and_help_match_redis() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    err(&mut r, &["SLOWLOG", "GET", "-2"], "ERR count should be greater than or equal to -1");
    err(&mut r, &["SLOWLOG", "GET", "x"], "ERR count should be greater than or equal to -1");
    err(&mut r, &["SLOWLOG", "foo"], "ERR unknown subcommand 'foo'. Try SLOWLOG HELP.");
    err(&mut r, &["SLOWLOG", "GET", "1", "2"], "ERR wrong number of arguments for 'slowlog|get' command");
    err(&mut r, &["LATENCY", "HISTORY"], "ERR wrong number of arguments for 'latency|history' command");
    let mut want = String::from("*12\r\n+SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET [<count>]\r\n");
    want.push_str("+    Return top <count> entries from the slowlog (default: 10, -1 mean all).\r\n+    Entries are made of:\r\n");
    want.push_str("+    id, timestamp, time in microseconds, arguments array, client IP and port,\r\n+    client name\r\n+LEN\r\n");
    want.push_str("+    Return the length of the slowlog.\r\n+RESET\r\n+    Reset the slowlog.\r\n+HELP\r\n+    Prints this help.\r\n");
    exact(&mut r, &["SLOWLOG", "HELP"], &want);
}

#[test]
fn latency_spikes_are_recorded_per_event_once_a_second() {
    let node = Node::start(&["--latency-monitor-threshold", "2"]);
    let mut c = node.client();
    let latest: Vec<(String, i64, i64, i64)> = q(&mut c, &["LATENCY", "LATEST"]);
    assert!(latest.is_empty());
    let doctor: String = q(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(doctor.starts_with("Dave, no latency spike was observed"), "{doctor}");
    // KEYS over 100k keys takes milliseconds; it is run until one call reaches the
    // threshold (a loaded machine makes that sooner, never later).
    fill(&mut c, 100_000);
    let mut latest: Vec<(String, i64, i64, i64)> = Vec::new();
    for _ in 0..50 {
        let _: Vec<String> = q(&mut c, &["KEYS", "*"]);
        latest = q(&mut c, &["LATENCY", "LATEST"]);
        if !latest.is_empty() {
            break;
        }
    }
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (event, time, ms, max) = latest[0].clone();
    assert_eq!(event, "command");
    assert!((time - unix_secs()).abs() <= 2);
    assert!(ms >= 2 && max >= ms, "{latest:?}");
    let history: Vec<(i64, i64)> = q(&mut c, &["LATENCY", "HISTORY", "command"]);
    assert!(!history.is_empty() && history.len() <= 50);
    assert_eq!(history.last().unwrap().1, ms);
    let none: Vec<(i64, i64)> = q(&mut c, &["LATENCY", "HISTORY", "nothing"]);
    assert!(none.is_empty());
    let doctor: String = q(&mut c, &["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("1. command: "), "{doctor}");
    let m = http_get(node.admin_port, "/metrics");
    assert!(m.contains("redis_latency_spike_duration_seconds{event_name=\"command\"}"), "{m}");
    let reset: i64 = q(&mut c, &["LATENCY", "RESET", "command", "other"]);
    assert_eq!(reset, 1);
    let reset: i64 = q(&mut c, &["LATENCY", "RESET"]);
    assert_eq!(reset, 0);
    // Under the threshold nothing is kept.
    let _: () = q(&mut c, &["SET", "k", "v"]);
    let latest: Vec<(String, i64, i64, i64)> = q(&mut c, &["LATENCY", "LATEST"]);
    assert!(latest.is_empty());
}

fn fill(c: &mut redis::Connection, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut cmd = redis::cmd("MSET");
        for i in chunk {
            cmd.arg(format!("key:{i}")).arg("v");
        }
        let _: () = cmd.query(c).unwrap();
    }
}

#[test]
fn histograms_count_calls_per_power_of_two_bucket() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for i in 0..50 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    let _: Option<String> = q(&mut c, &["GET", "k1"]);
    let v: Value = redis::cmd("LATENCY").arg("HISTOGRAM").arg("set").arg("nosuch").query(&mut c).unwrap();
    let Value::Array(top) = v else { panic!("{v:?}") };
    assert_eq!(top.len(), 2, "{top:?}");
    assert_eq!(top[0], Value::BulkString(b"set".to_vec()));
    let Value::Array(fields) = &top[1] else { panic!("{top:?}") };
    assert_eq!(fields[0], Value::BulkString(b"calls".to_vec()));
    assert_eq!(fields[1], Value::Int(50));
    assert_eq!(fields[2], Value::BulkString(b"histogram_usec".to_vec()));
    let Value::Array(buckets) = &fields[3] else { panic!("{fields:?}") };
    let pairs: Vec<(i64, i64)> = buckets.chunks(2).map(|p| (redis::from_redis_value(&p[0]).unwrap(), redis::from_redis_value(&p[1]).unwrap())).collect();
    assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "cumulative: {pairs:?}");
    assert!(pairs.iter().all(|(b, _)| b.count_ones() == 1));
    assert_eq!(pairs.last().unwrap().1, 50);
    // Every command that ran, when none is named.
    let all: Value = redis::cmd("LATENCY").arg("HISTOGRAM").query(&mut c).unwrap();
    let Value::Array(all) = all else { panic!() };
    assert!(all.contains(&Value::BulkString(b"get".to_vec())));
    let info: String = q(&mut c, &["INFO", "latencystats"]);
    let line = info.lines().find(|l| l.starts_with("latency_percentiles_usec_set:")).unwrap_or_else(|| panic!("{info}"));
    assert!(line.contains("p50=") && line.contains(",p99=") && line.contains(",p99.9="), "{line}");
    let _: () = q(&mut c, &["CONFIG", "SET", "latency-tracking", "no"]);
    let info: String = q(&mut c, &["INFO", "latencystats"]);
    assert!(!info.contains("latency_percentiles_usec_set"));
}
