//! `/metrics` as Prometheus itself sees it: `promtool check metrics` parses it (the only
//! lint findings are names redis_exporter fixed, which dashboards depend on), a real
//! Prometheus server on loopback scrapes it, and the values agree with INFO.
//! Needs Debian's `prometheus` package (scripts/test.sh installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// promtool's lint findings we accept: redis_exporter's own names, kept so existing
/// dashboards and alerts work.
const EXPORTER_NAMES: &[&str] = &["redis_rdb_last_bgsave_duration_sec metric names should not contain abbreviated units"];

fn body(node: &Node) -> String {
    let resp = http_get(node.admin_port, "/metrics");
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap()
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' '))).and_then(|v| v.trim().parse().ok())
}

/// A node that has done a little of everything the metrics describe.
fn busy_node() -> Node {
    let node = Node::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = node.client();
    for i in 0..20 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    let _: () = q(&mut c, &["PEXPIRE", "k1", "100000"]);
    let _: Option<String> = q(&mut c, &["GET", "k2"]);
    let _: Option<String> = q(&mut c, &["GET", "missing"]);
    let _: () = q(&mut c, &["SELECT", "2"]);
    let _: () = q(&mut c, &["SET", "x", "1"]);
    let _ = redis::cmd("INCR").arg("nope").arg("extra").query::<()>(&mut c);
    node
}

#[test]
fn promtool_parses_the_metrics_page() {
    let node = busy_node();
    let text = body(&node);
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let findings = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Exit 1 is a parse error; 3 is lint findings only.
    assert!(matches!(out.status.code(), Some(0 | 3)), "promtool: {findings}\n{text}");
    for line in findings.lines().filter(|l| !l.trim().is_empty()) {
        assert!(EXPORTER_NAMES.contains(&line.trim()), "unexpected promtool finding: {line}");
    }
}

#[test]
fn metrics_agree_with_info() {
    let node = busy_node();
    let mut c = node.client();
    // busy_node's own connection closes asynchronously: wait until only this one is left.
    let settled = wait_for(Duration::from_secs(10), || info_field(&q::<String>(&mut c, &["INFO", "clients"]), "connected_clients").as_deref() == Some("1"));
    assert!(settled, "the earlier client never went away");
    let info: String = q(&mut c, &["INFO", "everything"]);
    let m = body(&node);
    let field = |name: &str| info_field(&info, name).unwrap_or_else(|| panic!("INFO has no {name}")).parse::<f64>().unwrap();
    assert_eq!(sample(&m, "redis_connected_clients"), Some(field("connected_clients")));
    assert_eq!(sample(&m, "redis_keyspace_hits_total"), Some(field("keyspace_hits")));
    assert_eq!(sample(&m, "redis_keyspace_misses_total"), Some(field("keyspace_misses")));
    assert_eq!(sample(&m, "redis_expired_keys_total"), Some(field("expired_keys")));
    assert_eq!(sample(&m, "redis_evicted_keys_total"), Some(field("evicted_keys")));
    assert_eq!(sample(&m, "cachefleet_worker_idle_poll_pauses_total"), Some(field("worker_idle_poll_pauses")));
    // Counters that may move between the INFO call and the scrape: present and ordered.
    assert!(sample(&m, "cachefleet_worker_idle_poll_seconds_total").unwrap() * 1000.0 >= field("worker_idle_poll_ms") - 1.0);
    assert!(sample(&m, "redis_cpu_user_seconds_total").unwrap() >= field("used_cpu_user") - 0.011);
    assert!(sample(&m, "redis_cpu_sys_seconds_total").unwrap() >= field("used_cpu_sys") - 0.011);
    assert_eq!(sample(&m, "redis_memory_max_bytes"), Some(field("maxmemory")));
    assert_eq!(sample(&m, "redis_connected_slaves"), Some(field("connected_slaves")));
    assert_eq!(sample(&m, "redis_master_repl_offset"), Some(field("master_repl_offset")));
    assert_eq!(sample(&m, "redis_db_keys{db=\"db0\"}"), Some(20.0));
    assert_eq!(sample(&m, "redis_db_keys_expiring{db=\"db0\"}"), Some(1.0));
    assert!(info.contains("db0:keys=20,expires=1,"), "{info}");
    assert!(info.contains("db2:keys=1,expires=0,"), "{info}");
    let set_calls = info.lines().find_map(|l| l.strip_prefix("cmdstat_set:calls=")).and_then(|v| v.split(',').next()).unwrap();
    assert_eq!(sample(&m, "redis_commands_total{cmd=\"set\"}"), Some(set_calls.parse().unwrap()));
    let len: i64 = q(&mut c, &["SLOWLOG", "LEN"]);
    // The SLOWLOG LEN call itself lands in the log after it answered.
    assert!(sample(&body(&node), "redis_slowlog_length").is_some_and(|v| v as i64 >= len));
}

/// Prometheus on a free loopback port scraping the node every second. Killed on drop.
struct Prometheus {
    child: std::process::Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start_prometheus(target_port: u16) -> Prometheus {
    let dir = std::env::temp_dir().join(format!("cachefleet-prom-{}-{}", std::process::id(), target_port));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: cache-node\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus)");
    Prometheus { child, port, _dir: TempDir(dir) }
}

/// The value of an instant query's single sample, if Prometheus has one.
fn query(prom: &Prometheus, expr: &str) -> Option<f64> {
    let resp = std::panic::catch_unwind(|| http_get(prom.port, &format!("/api/v1/query?query={expr}"))).ok()?;
    let body = resp.split_once("\r\n\r\n")?.1;
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[1700000000.1,"3"]}]}}
    let value = body.split("\"value\":[").nth(1)?;
    let v = value.split(",\"").nth(1)?.split('"').next()?;
    v.parse().ok()
}

#[test]
fn a_real_prometheus_scrapes_the_node() {
    let node = busy_node();
    let prom = start_prometheus(node.admin_port);
    let mut up = None;
    assert!(
        wait_for(Duration::from_secs(30), || {
            up = query(&prom, "up");
            up == Some(1.0)
        }),
        "Prometheus never scraped the node successfully (up = {up:?})"
    );
    assert!(wait_for(Duration::from_secs(10), || query(&prom, "redis_up") == Some(1.0)));
    assert!(wait_for(Duration::from_secs(10), || query(&prom, "redis_db_keys%7Bdb%3D%22db0%22%7D") == Some(20.0)));
    // A change on the node shows up in the next scrapes.
    let mut c = node.client();
    for i in 20..30 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert!(wait_for(Duration::from_secs(10), || query(&prom, "redis_db_keys%7Bdb%3D%22db0%22%7D") == Some(30.0)));
    assert!(wait_for(Duration::from_secs(10), || query(&prom, "redis_commands_total%7Bcmd%3D%22set%22%7D").is_some_and(|v| v >= 31.0)));
}
