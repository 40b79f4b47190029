//! `DIR/status.json`: where each node listens, its role and PID, the last failover, and
//! the scheduled snapshots kept.
//! Written to a temporary file and renamed, so a reader never sees half a file.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct StatusFile {
    pub cluster: String,
    pub shards: Vec<ShardEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<FailoverEntry>,
    /// Scheduled snapshots, absent when the cluster takes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<SnapshotsEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SnapshotsEntry {
    /// Where they are written: a directory or s3://bucket/prefix.
    pub destination: String,
    /// The complete snapshots kept by retention, oldest first.
    pub kept: Vec<SnapshotEntry>,
    /// Snapshots taken, and runs that failed, since the driver started.
    pub taken: u64,
    pub failed: u64,
    /// RFC 3339 time of the next scheduled run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The snapshot being taken now (a listing or retention pass may run without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// Whether a run (a snapshot, or listing and retention) is under way.
    pub busy: bool,
    /// Why the last run failed; cleared by a run that succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One snapshot of the whole cluster: a file per shard, `<location>-shard-<i>`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SnapshotEntry {
    pub name: String,
    /// RFC 3339 (UTC) of its first shard.
    pub time: String,
    pub shards: i32,
    pub keys: u64,
    pub bytes: u64,
    /// What `restoreFrom.location` takes to seed a new cluster with it.
    pub location: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ShardEntry {
    pub index: i32,
    /// Epoch of the current primary's role: one more with every failover or switchover.
    pub epoch: u64,
    /// Address of the primary, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    pub nodes: Vec<NodeEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct NodeEntry {
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// `primary` or `replica` (the role the driver assigned), absent before assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// PID of the running process; absent while it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Answered the last probe.
    pub up: bool,
    /// A replica with its link up and no sync under way (a primary: true when up).
    pub in_sync: bool,
    pub offset: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct FailoverEntry {
    pub shard: i32,
    /// Names of the old and new primary.
    pub from: String,
    pub to: String,
    pub reason: String,
    /// From the first failed probe (or the switchover's start) to the promotion.
    pub duration_ms: u64,
    /// Milliseconds since the Unix epoch when it completed.
    pub at_unix_ms: u64,
}

pub fn write_atomic(path: &Path, status: &StatusFile) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

pub fn read(path: &Path) -> std::io::Result<StatusFile> {
    let text = std::fs::read(path)?;
    serde_json::from_slice(&text).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_file() {
        let dir = std::env::temp_dir().join(format!("cachefleet-status-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("status.json");
        let status = StatusFile {
            cluster: "c".into(),
            shards: vec![ShardEntry { index: 0, epoch: 2, primary: Some("127.0.0.1:7000".into()), nodes: vec![] }],
            last_failover: Some(FailoverEntry { shard: 0, from: "c-0-0".into(), to: "c-0-1".into(), reason: "r".into(), duration_ms: 5, at_unix_ms: 1 }),
            snapshots: Some(SnapshotsEntry {
                destination: "/d".into(),
                kept: vec![SnapshotEntry { name: "c-snapshots-20261127-184500".into(), shards: 1, keys: 2, ..SnapshotEntry::default() }],
                taken: 1,
                ..SnapshotsEntry::default()
            }),
        };
        write_atomic(&path, &status).unwrap();
        assert_eq!(read(&path).unwrap(), status);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
