//! `/metrics` on the admin port: redis_exporter's names and labels, values that follow
//! what the node does, replication metrics on both sides of a link.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

/// The value of the sample whose line starts with `series ` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' '))).and_then(|v| v.trim().parse().ok())
}

fn metrics(node: &Node) -> String {
    let resp = http_get(node.admin_port, "/metrics");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{resp}");
    resp
}

#[test]
fn metrics_follow_what_the_node_does() {
    let node = Node::start(&[]);
    let mut c = node.client();
    for k in ["a", "b", "c"] {
        let _: () = redis::cmd("SET").arg(k).arg("v").query(&mut c).unwrap();
    }
    let _: () = redis::cmd("PEXPIRE").arg("c").arg(100_000).query(&mut c).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("missing").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("x").arg("1").query(&mut c).unwrap();
    let m = metrics(&node);
    assert_eq!(sample(&m, "redis_up"), Some(1.0));
    assert_eq!(sample(&m, "redis_commands_total{cmd=\"set\"}"), Some(4.0), "{m}");
    assert!(sample(&m, "redis_commands_duration_seconds_total{cmd=\"set\"}").is_some_and(|s| s > 0.0));
    assert_eq!(sample(&m, "redis_db_keys{db=\"db0\"}"), Some(3.0));
    assert_eq!(sample(&m, "redis_db_keys_expiring{db=\"db0\"}"), Some(1.0));
    assert_eq!(sample(&m, "redis_db_keys{db=\"db3\"}"), Some(1.0));
    assert_eq!(sample(&m, "redis_keyspace_misses_total"), Some(1.0));
    assert!(sample(&m, "redis_connected_clients").is_some_and(|n| n >= 1.0));
    assert!(sample(&m, "redis_memory_used_bytes").is_some_and(|n| n > 0.0));
    assert!(m.contains("# TYPE redis_commands_processed_total counter"));
    assert!(m.contains("# TYPE redis_connected_clients gauge"));
    assert_eq!(sample(&m, "redis_aof_enabled"), Some(0.0));
}

#[test]
fn replication_metrics_on_both_ends() {
    let primary = Node::start(&[]);
    let port = primary.port.to_string();
    let replica = Node::start(&["--replicaof", "127.0.0.1", &port]);
    let mut p = primary.client();
    let line = format!("redis_connected_slave_offset_bytes{{slave_ip=\"127.0.0.1\",slave_port=\"{}\",slave_state=\"online\"}}", replica.port);
    assert!(wait_for(Duration::from_secs(20), || sample(&metrics(&primary), &line).is_some()), "{}", metrics(&primary));
    // The stream's offset counts writes made once a replica is attached.
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut p).unwrap();
    let m = metrics(&primary);
    assert_eq!(sample(&m, "redis_connected_slaves"), Some(1.0));
    assert!(sample(&m, "redis_master_repl_offset").is_some_and(|o| o > 0.0), "{m}");
    let r = metrics(&replica);
    assert_eq!(sample(&r, &format!("redis_master_link_up{{master_host=\"127.0.0.1\",master_port=\"{port}\"}}")), Some(1.0), "{r}");
    drop(primary);
    assert!(wait_for(Duration::from_secs(20), || sample(
        &metrics(&replica),
        &format!("redis_master_link_up{{master_host=\"127.0.0.1\",master_port=\"{port}\"}}")
    ) == Some(0.0)));
}
