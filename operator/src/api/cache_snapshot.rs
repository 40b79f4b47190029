//! CacheSnapshot: one backup of a cluster, one RDB file per shard.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::SnapshotDestination;

/// A backup of a CacheCluster: manual when a user creates it, automatic when the
/// cluster's schedule does. The files are Redis RDB, one per shard.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "cachefleet.dev",
    version = "v1alpha1",
    kind = "CacheSnapshot",
    namespaced,
    doc = "A backup of a CacheCluster, one Redis RDB file per shard.",
    status = "CacheSnapshotStatus",
    shortname = "csnap",
    category = "cachefleet",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.cluster", description = "the CacheCluster backed up"),
    printcolumn(name = "Trigger", type_ = "string", json_path = ".spec.trigger", description = "manual or scheduled"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Keys", type_ = "integer", json_path = ".status.keys"),
    printcolumn(name = "Size", type_ = "integer", json_path = ".status.sizeBytes"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self == oldSelf").message("a snapshot's spec cannot change; create a new CacheSnapshot"))]
#[serde(rename_all = "camelCase")]
pub struct CacheSnapshotSpec {
    /// Name of the CacheCluster in this namespace to back up.
    #[schemars(length(min = 1, max = 253))]
    pub cluster: String,
    /// `Manual` snapshots are kept until deleted; `Scheduled` ones are pruned by the
    /// cluster's snapshots.retain.
    #[serde(default)]
    pub trigger: SnapshotTrigger,
}

/// Who asked for a snapshot.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum SnapshotTrigger {
    #[default]
    Manual,
    Scheduled,
}

/// Progress and result of a snapshot.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheSnapshotStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SnapshotPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// Total size of the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Keys in the snapshot, over all shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<i64>,
    /// Where the files are, as a URL (`pvc://claim/path` or `s3://bucket/prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<SnapshotShard>,
    /// The Job that takes (or took) the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The destination the files were written to, kept so they can be deleted after
    /// the cluster is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<SnapshotDestination>,
    /// Why the snapshot failed, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Where a snapshot is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum SnapshotPhase {
    Pending,
    Running,
    Completed,
    Failed,
}

/// The file of one shard.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotShard {
    pub index: i32,
    /// Pod the file was taken from (a replica when there is one).
    pub source: String,
    pub location: String,
    pub size_bytes: i64,
    pub keys: i64,
    /// Role of the source node when the file was taken (`replica` or `primary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_role: Option<String>,
}
