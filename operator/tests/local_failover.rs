#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End-to-end tests of `cachefleet-operator local`: real cache-node processes on loopback,
//! killed and reconfigured under a write load. They need the cache-node binary beside the
//! operator's (`cargo build -p cache-node`; the workspace test run builds it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cachefleet_operator::local::status::{self, StatusFile};

const OPERATOR: &str = env!("CARGO_BIN_EXE_cachefleet-operator");

fn node_binary() -> PathBuf {
    let path = Path::new(OPERATOR).parent().unwrap().join("cache-node");
    assert!(path.is_file(), "{} is missing: run `cargo build -p cache-node` first", path.display());
    path
}

fn cluster_yaml(replicas: usize, extra: &str) -> String {
    format!(
        "apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {{name: t}}\nspec:\n  replicasPerShard: {replicas}\n  failover: {{detectionSeconds: 1}}\n{extra}"
    )
}

/// A running local cluster; dropping it stops the driver and every node it started, even
/// when the test failed.
struct Cluster {
    driver: Child,
    dir: PathBuf,
    file: PathBuf,
}

impl Cluster {
    fn start(name: &str, base_port: u16, yaml: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("cachefleet-local-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cluster.yaml");
        std::fs::write(&file, yaml).unwrap();
        let log = std::fs::File::create(dir.join("driver.log")).unwrap();
        let driver = Command::new(OPERATOR)
            .args(["local", "-f"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--node-binary")
            .arg(node_binary())
            .args(["--base-port", &base_port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Cluster { driver, dir, file }
    }

    fn status(&self) -> Option<StatusFile> {
        status::read(&self.dir.join("data/status.json")).ok()
    }

    /// Polls status.json until `done` holds, for at most `limit`.
    fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&StatusFile) -> bool) -> StatusFile {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.status().filter(|s| done(s)) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last status: {:?}\n{}", self.status(), self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_settled(&self, nodes: usize) -> StatusFile {
        self.wait_for(&format!("{nodes} nodes in sync"), Duration::from_secs(20), |s| {
            s.shards[0].nodes.len() == nodes && s.shards[0].nodes.iter().all(|n| n.in_sync && n.pid.is_some())
        })
    }

    fn edit(&self, yaml: &str) {
        let tmp = self.file.with_extension("tmp");
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, &self.file).unwrap();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("driver.log")).unwrap_or_default();
        text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let pids: Vec<u32> = self.status().map(|s| s.shards.iter().flat_map(|sh| sh.nodes.iter().filter_map(|n| n.pid)).collect()).unwrap_or_default();
        let _ = Command::new("kill").args(["-TERM", &self.driver.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.driver.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Should the driver not have stopped them, stop the nodes it reported.
        for pid in pids {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).stderr(Stdio::null()).status();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn connect(addr: &str) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let conn = client.get_connection_with_timeout(Duration::from_millis(500))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    Ok(conn)
}

/// What the write load saw.
#[derive(Default)]
struct LoadLog {
    /// Keys whose write WAIT confirmed on at least one replica.
    acked: Vec<u64>,
    /// Instants of successful writes and the primary that took each.
    writes: Vec<(Instant, String)>,
    /// Failed attempts (each retried until it succeeds).
    failures: usize,
}

/// Writes `k<i>` = i in order through the primary named in status.json, each followed by
/// `WAIT 1 200`; a failed write is retried, against the primary status.json names then.
struct Load {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<LoadLog>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(status_path: PathBuf) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(LoadLog::default()));
        let (s, l) = (stop.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            let mut conn: Option<(redis::Connection, String)> = None;
            let mut i: u64 = 0;
            while !s.load(Ordering::Relaxed) {
                if conn.is_none() {
                    let primary = status::read(&status_path).ok().and_then(|st| st.shards.first().and_then(|sh| sh.primary.clone()));
                    conn = primary.and_then(|p| connect(&p).ok().map(|c| (c, p)));
                }
                let Some((c, addr)) = conn.as_mut() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let key = format!("k{i}");
                let set: redis::RedisResult<()> = redis::cmd("SET").arg(&key).arg(i).query(c);
                match set.and_then(|()| redis::cmd("WAIT").arg(1).arg(200).query::<i64>(c)) {
                    Ok(acks) => {
                        let mut log = l.lock().unwrap();
                        log.writes.push((Instant::now(), addr.clone()));
                        if acks >= 1 {
                            log.acked.push(i);
                        }
                        i += 1;
                    }
                    Err(_) => {
                        l.lock().unwrap().failures += 1;
                        conn = None;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        });
        Load { stop, log, thread: Some(thread) }
    }

    /// The first write after `t` taken by another node than `old`.
    fn first_write_after(&self, t: Instant, old: &str) -> Option<Instant> {
        self.log.lock().unwrap().writes.iter().find(|(w, addr)| *w > t && addr != old).map(|(w, _)| *w)
    }

    fn finish(mut self) -> LoadLog {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn primary_entry(s: &StatusFile) -> (String, u32) {
    let n = s.shards[0].nodes.iter().find(|n| n.role.as_deref() == Some("primary")).unwrap();
    (n.name.clone(), n.pid.unwrap())
}

fn kill9(pid: u32) {
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
}

fn assert_readable(addr: &str, acked: &[u64]) {
    let mut c = connect(addr).unwrap();
    for chunk in acked.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("k{i}")).collect();
        let values: Vec<Option<u64>> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
        for (i, v) in chunk.iter().zip(values) {
            assert_eq!(v, Some(*i), "acknowledged write k{i} is missing on {addr}");
        }
    }
}

/// Every key and value of a node, for comparing replicas.
fn dump(addr: &str) -> BTreeMap<String, String> {
    let mut c = connect(addr).unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    let mut out = BTreeMap::new();
    for chunk in keys.chunks(500) {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        out.extend(chunk.iter().cloned().zip(values.into_iter().map(Option::unwrap_or_default)));
    }
    out
}

/// Kills the primary under load; returns (old primary, new status, kill-to-first-write).
fn kill_primary_under_load(cluster: &Cluster, load: &Load, epoch_before: u64) -> (String, StatusFile, Duration) {
    let before = cluster.status().unwrap();
    let (old, pid) = primary_entry(&before);
    let old_addr = before.shards[0].primary.clone().unwrap();
    let killed = Instant::now();
    kill9(pid);
    let after = cluster
        .wait_for("a failover", Duration::from_secs(15), |s| s.shards[0].epoch > epoch_before && s.last_failover.as_ref().is_some_and(|f| f.from == old));
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        if let Some(w) = load.first_write_after(killed, &old_addr) {
            break w;
        }
        assert!(Instant::now() < deadline, "no write succeeded after the failover\n{}", cluster.log_tail());
        std::thread::sleep(Duration::from_millis(20));
    };
    (old, after, first - killed)
}

#[test]
fn killing_the_primary_fails_over_without_losing_acknowledged_writes() {
    let cluster = Cluster::start("kill", 21000, &cluster_yaml(2, ""));
    cluster.wait_settled(3);
    let load = Load::start(cluster.dir.join("data/status.json"));
    std::thread::sleep(Duration::from_millis(800));
    let (old, after, took) = kill_primary_under_load(&cluster, &load, 0);
    std::thread::sleep(Duration::from_millis(300));
    let log = load.finish();
    eprintln!("kill to first write on the new primary: {took:?}; {} writes acknowledged", log.acked.len());
    let f = after.last_failover.clone().unwrap();
    assert_ne!(f.to, old);
    // Detection (1 s) plus a probe period or two and the reconnect.
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(log.acked.len() > 10, "the load did not run: {} acked", log.acked.len());
    assert_readable(after.shards[0].primary.as_deref().unwrap(), &log.acked);
}

#[test]
fn a_second_failover_and_the_old_primaries_rejoin_as_converged_replicas() {
    let cluster = Cluster::start("twice", 21100, &cluster_yaml(2, ""));
    cluster.wait_settled(3);
    let load = Load::start(cluster.dir.join("data/status.json"));
    std::thread::sleep(Duration::from_millis(500));
    let (first_old, after, _) = kill_primary_under_load(&cluster, &load, 0);
    // The old primary is restarted and rejoins as a replica of the new one.
    let settled = cluster.wait_settled(3);
    let rejoined = settled.shards[0].nodes.iter().find(|n| n.name == first_old).unwrap();
    assert_eq!(rejoined.role.as_deref(), Some("replica"));
    let (second_old, after2, took) = kill_primary_under_load(&cluster, &load, after.shards[0].epoch);
    assert_ne!(second_old, first_old);
    eprintln!("second failover: kill to first write {took:?}");
    std::thread::sleep(Duration::from_millis(300));
    let log = load.finish();
    assert_readable(after2.shards[0].primary.as_deref().unwrap(), &log.acked);
    // With the load stopped, every node converges on the primary's data set.
    let settled = cluster.wait_settled(3);
    let primary = settled.shards[0].primary.clone().unwrap();
    let want = dump(&primary);
    assert!(want.len() >= log.acked.len());
    for n in &settled.shards[0].nodes {
        let deadline = Instant::now() + Duration::from_secs(10);
        while dump(&n.address) != want {
            assert!(Instant::now() < deadline, "{} did not converge on {primary}", n.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn replicas_scale_up_and_down_under_load_without_a_failed_write() {
    let cluster = Cluster::start("scale", 21200, &cluster_yaml(1, ""));
    let start = cluster.wait_settled(2);
    let load = Load::start(cluster.dir.join("data/status.json"));
    std::thread::sleep(Duration::from_millis(300));
    cluster.edit(&cluster_yaml(3, ""));
    cluster.wait_settled(4);
    cluster.edit(&cluster_yaml(1, ""));
    let end = cluster.wait_settled(2);
    std::thread::sleep(Duration::from_millis(300));
    let log = load.finish();
    assert_eq!(end.shards[0].primary, start.shards[0].primary, "scaling must not move the primary");
    assert_eq!(log.failures, 0);
    for n in &end.shards[0].nodes {
        assert_readable(&n.address, &log.acked);
    }
}

#[test]
fn a_rolling_config_change_under_load_pauses_writes_only_for_the_switchover() {
    let cluster = Cluster::start("roll", 21300, &cluster_yaml(2, ""));
    let start = cluster.wait_settled(3);
    let load = Load::start(cluster.dir.join("data/status.json"));
    std::thread::sleep(Duration::from_millis(300));
    // `databases` cannot change on a running node: every node restarts, one at a time.
    cluster.edit(&cluster_yaml(2, "  parameters: {databases: '32'}\n"));
    let end = cluster.wait_for("the roll", Duration::from_secs(40), |s| {
        s.last_failover.as_ref().is_some_and(|f| f.reason == "planned switchover")
            && s.shards[0].nodes.iter().all(|n| n.in_sync && n.pid.is_some())
            && s.shards[0].nodes.iter().all(|n| {
                connect(&n.address)
                    .and_then(|mut c| redis::cmd("CONFIG").arg("GET").arg("databases").query::<Vec<String>>(&mut c))
                    .is_ok_and(|v| v.get(1).map(String::as_str) == Some("32"))
            })
    });
    std::thread::sleep(Duration::from_millis(300));
    let log = load.finish();
    assert_ne!(end.shards[0].primary, start.shards[0].primary, "the primary is handed over, not restarted");
    for (a, b) in start.shards[0].nodes.iter().zip(&end.shards[0].nodes) {
        assert_ne!(a.pid, b.pid, "{} was not restarted", a.name);
    }
    let gap = log.writes.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap();
    eprintln!(
        "roll: longest pause between writes {gap:?}, {} failed attempts, switchover {} ms",
        log.failures,
        end.last_failover.as_ref().unwrap().duration_ms
    );
    // The switchover pause (FAILOVER waits for the replica, then clients reconnect).
    assert!(gap < Duration::from_millis(1500), "writes paused for {gap:?}");
    assert_readable(end.shards[0].primary.as_deref().unwrap(), &log.acked);
}
