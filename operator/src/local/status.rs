//! `DIR/status.json`: where each node listens, its role and PID, and the last failover.
//! Written to a temporary file and renamed, so a reader never sees half a file.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct StatusFile {
    pub cluster: String,
    pub shards: Vec<ShardEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<FailoverEntry>,
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
        };
        write_atomic(&path, &status).unwrap();
        assert_eq!(read(&path).unwrap(), status);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
