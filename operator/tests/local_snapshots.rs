#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End-to-end tests of scheduled snapshots in `cachefleet-operator local`: real cache-node
//! processes, real `cache-node snapshot save|restore|delete`. The schedule is replaced by
//! the hidden `--snapshot-every SECONDS` so a test does not wait for whole minutes; the
//! cron evaluation itself is unit-tested in `local/schedule.rs`. They need the cache-node
//! binary beside the operator's (`cargo build -p cache-node`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachefleet_operator::local::status::{self, SnapshotEntry, SnapshotsEntry, StatusFile};

const OPERATOR: &str = env!("CARGO_BIN_EXE_cachefleet-operator");

fn node_binary() -> PathBuf {
    let path = Path::new(OPERATOR).parent().unwrap().join("cache-node");
    assert!(path.is_file(), "{} is missing: run `cargo build -p cache-node` first", path.display());
    path
}

fn cluster_yaml(name: &str, replicas: usize, extra: &str) -> String {
    format!("apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {{name: {name}}}\nspec:\n  replicasPerShard: {replicas}\n{extra}")
}

/// A running local cluster; dropping it stops the driver and every node it started.
struct Cluster {
    driver: Child,
    dir: PathBuf,
}

impl Cluster {
    fn start(name: &str, base_port: u16, yaml: &str, extra_args: &[&str]) -> Cluster {
        let dir = std::env::temp_dir().join(format!("cachefleet-localsnap-{name}-{}", std::process::id()));
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
            .args(extra_args)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Cluster { driver, dir }
    }

    fn status(&self) -> Option<StatusFile> {
        status::read(&self.dir.join("data/status.json")).ok()
    }

    fn snapshots(&self) -> Option<SnapshotsEntry> {
        self.status().and_then(|s| s.snapshots)
    }

    fn wait_for<T>(&self, what: &str, limit: Duration, mut done: impl FnMut(&StatusFile) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(t) = self.status().and_then(|s| done(&s)) {
                return t;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last status: {:?}\n{}", self.status(), self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_settled(&self, nodes: usize) -> StatusFile {
        self.wait_for(&format!("{nodes} nodes in sync"), Duration::from_secs(30), |s| {
            (s.shards[0].nodes.len() == nodes && s.shards[0].nodes.iter().all(|n| n.in_sync && n.pid.is_some())).then(|| s.clone())
        })
    }

    fn primary(&self, nodes: usize) -> String {
        self.wait_settled(nodes).shards[0].primary.clone().unwrap()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("driver.log")).unwrap_or_default();
        text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    fn driver_running(&mut self) -> bool {
        matches!(self.driver.try_wait(), Ok(None))
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
        for pid in pids {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).stderr(Stdio::null()).status();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn connect(addr: &str) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let conn = client.get_connection_with_timeout(Duration::from_secs(2)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Strings, hashes, lists, sets and sorted sets, some with a TTL, some binary.
fn load(addr: &str) -> usize {
    let mut c = connect(addr);
    let mut keys = 0;
    for i in 0..200 {
        let mut p = redis::pipe();
        p.cmd("SET").arg(format!("s:{i}")).arg(format!("value-{i}")).ignore();
        p.cmd("SET").arg(format!("ttl:{i}")).arg(vec![0u8, 255, i as u8, b'\n']).arg("EX").arg(3600 + i).ignore();
        p.cmd("HSET").arg(format!("h:{i}")).arg("a").arg(i).arg("b").arg(format!("x{i}")).ignore();
        p.cmd("RPUSH").arg(format!("l:{i}")).arg(1).arg(2).arg(i).ignore();
        p.cmd("SADD").arg(format!("set:{i}")).arg("m1").arg(format!("m{i}")).ignore();
        p.cmd("ZADD").arg(format!("z:{i}")).arg(1.5).arg("one").arg(i).arg("two").ignore();
        if i % 3 == 0 {
            p.cmd("PEXPIRE").arg(format!("h:{i}")).arg(7_200_000).ignore();
        }
        p.query::<()>(&mut c).unwrap();
        keys += 6;
    }
    // Every replica has it all before a snapshot is taken from one.
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut c).unwrap();
    assert!(acked >= 1, "the replica did not acknowledge the load");
    keys
}

/// Every key with its type, value and remaining TTL (ms; -1 without one).
fn dump(addr: &str) -> BTreeMap<String, (String, String, i64)> {
    let mut c = connect(addr);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    let mut out = BTreeMap::new();
    for k in keys {
        let kind: String = redis::cmd("TYPE").arg(&k).query(&mut c).unwrap();
        let value = match kind.as_str() {
            "string" => format!("{:?}", redis::cmd("GET").arg(&k).query::<Vec<u8>>(&mut c).unwrap()),
            "hash" => format!("{:?}", redis::cmd("HGETALL").arg(&k).query::<BTreeMap<String, String>>(&mut c).unwrap()),
            "list" => format!("{:?}", redis::cmd("LRANGE").arg(&k).arg(0).arg(-1).query::<Vec<String>>(&mut c).unwrap()),
            "set" => {
                let mut m: Vec<String> = redis::cmd("SMEMBERS").arg(&k).query(&mut c).unwrap();
                m.sort();
                format!("{m:?}")
            }
            "zset" => format!("{:?}", redis::cmd("ZRANGE").arg(&k).arg(0).arg(-1).arg("WITHSCORES").query::<Vec<String>>(&mut c).unwrap()),
            other => panic!("unexpected type {other} of {k}"),
        };
        let pttl: i64 = redis::cmd("PTTL").arg(&k).query(&mut c).unwrap();
        out.insert(k, (kind, value, pttl));
    }
    out
}

fn manifest_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .map(|n| n.trim_end_matches(".json").to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_scheduled_snapshot_of_a_loaded_cluster_seeds_an_identical_cluster() {
    let snapshots = "  snapshots: {schedule: '* * * * *', retain: 5}\n";
    let src = Cluster::start("src", 7640, &cluster_yaml("src", 1, snapshots), &["--snapshot-every", "2"]);
    let primary = src.primary(2);
    let keys = load(&primary);
    let loaded_at = unix_now();

    // A snapshot started after the load (names and times have second precision).
    let taken: SnapshotEntry = src.wait_for("a snapshot taken after the load", Duration::from_secs(30), |s| {
        let snaps = s.snapshots.as_ref()?;
        snaps.kept.iter().find(|e| e.time.as_str() > cachefleet_stamp(loaded_at).as_str()).cloned()
    });
    assert_eq!((taken.shards, taken.keys), (1, keys as u64), "{taken:?}");
    assert!(taken.bytes > 0);
    let manifest = std::fs::read_to_string(format!("{}-shard-0.json", taken.location)).unwrap();
    assert!(manifest.contains("\"sourceRole\": \"replica\""), "the primary was copied although a replica answered: {manifest}");
    assert!(std::fs::read_to_string(src.dir.join("driver.log")).unwrap().contains("snapshot taken"));

    let restore = format!("  restoreFrom: {{location: '{}'}}\n", taken.location);
    let dst = Cluster::start("dst", 7740, &cluster_yaml("dst", 1, &restore), &[]);
    let dst_primary = dst.primary(2);
    let (a, b) = (dump(&primary), dump(&dst_primary));
    assert_eq!(a.len(), keys);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, (kind, value, ttl)) in &a {
        let (kind2, value2, ttl2) = &b[k];
        assert_eq!((kind, value), (kind2, value2), "{k}");
        // Expiry times are absolute in a snapshot: both sides count down to the same moment.
        assert_eq!(*ttl < 0, *ttl2 < 0, "{k}: ttl {ttl} vs {ttl2}");
        assert!((ttl - ttl2).abs() < 10_000, "{k}: ttl {ttl} vs {ttl2}");
    }
    // The restored cluster's replica holds the same data too.
    let settled = dst.wait_settled(2);
    let replica = settled.shards[0].nodes.iter().find(|n| n.role.as_deref() == Some("replica")).unwrap();
    let size: usize = redis::cmd("DBSIZE").query(&mut connect(&replica.address)).unwrap();
    assert_eq!(size, keys);
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix second (what status.json records).
fn cachefleet_stamp(unix: u64) -> String {
    cache_node::backup::manifest::rfc3339(unix as i64)
}

#[test]
fn retention_keeps_exactly_the_newest_n() {
    let retain = 2usize;
    let yaml = cluster_yaml("ret", 0, &format!("  snapshots: {{schedule: '@daily', retain: {retain}}}\n"));
    let c = Cluster::start("ret", 7840, &yaml, &["--snapshot-every", "1"]);
    let primary = c.primary(1);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut connect(&primary)).unwrap();
    let first = c.wait_for("a first snapshot", Duration::from_secs(30), |s| s.snapshots.as_ref()?.kept.first().map(|e| e.name.clone()));

    // N + 2 ticks, then a listing of the directory taken while no run was under way
    // (the same count before and after it, and idle both times).
    let dir = c.dir.join("data/snapshots/ret-snapshots");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (snaps, on_disk) = loop {
        assert!(Instant::now() < deadline, "timed out waiting for {} snapshots: {:?}\n{}", retain + 2, c.snapshots(), c.log_tail());
        let before = c.snapshots();
        if let Some(b) = before.filter(|b| b.taken as usize >= retain + 2 && !b.busy) {
            let on_disk = manifest_names(&dir);
            if let Some(after) = c.snapshots().filter(|a| a.taken == b.taken && !a.busy) {
                break (after, on_disk);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(snaps.failed, 0, "{:?}", snaps.last_error);
    assert_eq!(snaps.kept.len(), retain, "{snaps:?}");
    let kept_files: Vec<String> = snaps.kept.iter().map(|e| format!("{}-shard-0", e.name)).collect();
    assert_eq!(on_disk, kept_files, "the directory holds exactly the kept snapshots");
    assert!(!on_disk.iter().any(|n| n.starts_with(&first)), "the oldest snapshot {first} was not deleted");
    assert!(snaps.kept.windows(2).all(|w| w[0].name < w[1].name));
    // cache-node lists the same two, and no RDB is left behind without its manifest.
    let listed = Command::new(node_binary()).args(["snapshot", "list"]).arg(&dir).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), retain);
    let rdbs = std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".rdb")).count();
    assert_eq!(rdbs, retain);
}

#[test]
fn failed_snapshots_are_logged_and_retried_without_stopping_the_driver() {
    // The destination directory cannot be created (a file is in its way): every run fails.
    let root = std::env::temp_dir().join(format!("cachefleet-localsnap-failroot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("fail-snapshots"), "not a directory").unwrap();
    let yaml = cluster_yaml("fail", 0, "  snapshots: {schedule: '* * * * *'}\n");
    let mut c = Cluster::start("fail", 7940, &yaml, &["--snapshot-every", "1", "--snapshot-dir", root.to_str().unwrap()]);
    let primary = c.primary(1);
    let snaps = c.wait_for("two failed runs", Duration::from_secs(60), |s| s.snapshots.clone().filter(|x| x.failed >= 2));
    assert_eq!(snaps.taken, 0);
    assert!(snaps.kept.is_empty());
    assert!(snaps.last_error.as_deref().is_some_and(|e| e.contains("fail-snapshots")), "{:?}", snaps.last_error);
    assert!(std::fs::read_to_string(c.dir.join("driver.log")).unwrap().contains("scheduled snapshot failed"));
    assert!(c.driver_running(), "the driver stopped after failed snapshots");
    let pong: String = redis::cmd("PING").query(&mut connect(&primary)).unwrap();
    assert_eq!(pong, "PONG");

    // Once the way is clear, the next tick succeeds.
    std::fs::remove_file(root.join("fail-snapshots")).unwrap();
    let snaps = c.wait_for("a snapshot after the failures", Duration::from_secs(30), |s| s.snapshots.clone().filter(|x| x.taken >= 1 && !x.kept.is_empty()));
    assert!(snaps.kept.iter().all(|e| e.location.starts_with(root.to_str().unwrap())));
    drop(c);
    let _ = std::fs::remove_dir_all(&root);
}

/// moto's S3 server on a free loopback port, with bucket `backups`; killed on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Moto {
    let binary = std::env::var("MOTO_SERVER").map(PathBuf::from).unwrap_or_else(|_| {
        let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py-tools/venv/bin/moto_server");
        if local.exists() { local } else { PathBuf::from("moto_server") }
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (scripts/test.sh installs it into target/py-tools)");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::{Read, Write};
    write!(s, "PUT /backups HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "creating the bucket: {resp}");
    moto
}

#[test]
fn snapshots_go_to_a_bucket_and_seed_a_cluster_from_it() {
    let moto = start_moto();
    let dest = format!("    destination: {{s3: {{bucket: backups, prefix: local, endpoint: 'http://127.0.0.1:{}', credentialsSecret: s3}}}}\n", moto.port);
    let yaml = cluster_yaml("sthree", 1, &format!("  snapshots:\n    schedule: '@hourly'\n    retain: 1\n{dest}"));
    let src = Cluster::start("sthree", 8040, &yaml, &["--snapshot-every", "1"]);
    let primary = src.primary(2);
    let keys = load(&primary);
    let loaded_at = cachefleet_stamp(unix_now());
    let snaps = src.wait_for("two snapshots in the bucket, one kept", Duration::from_secs(60), |s| {
        s.snapshots.clone().filter(|x| x.kept.len() == 1 && x.kept[0].time > loaded_at && x.taken >= 2 && !x.busy)
    });
    let kept = &snaps.kept[0];
    assert_eq!(snaps.destination, "s3://backups/local");
    assert_eq!(kept.location, format!("s3://backups/local/{}", kept.name));
    assert_eq!(kept.keys, keys as u64);

    // Restored by name, from the bucket of its own destination.
    let restore = format!("  restoreFrom: {{snapshot: {}}}\n  snapshots:\n    enabled: false\n{dest}", kept.name);
    let dst = Cluster::start("sthree-copy", 8140, &cluster_yaml("sthree-copy", 1, &restore), &[]);
    let dst_primary = dst.primary(2);
    let (a, b) = (dump(&primary), dump(&dst_primary));
    assert_eq!(a.len(), keys);
    assert_eq!(a.iter().map(|(k, (t, v, _))| (k, t, v)).collect::<Vec<_>>(), b.iter().map(|(k, (t, v, _))| (k, t, v)).collect::<Vec<_>>());
}
