//! What the operator observed of a CacheCluster. Conditions follow the contract in
//! docs/status-conditions.md.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

/// Observed state of a CacheCluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheClusterStatus {
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One-word summary for people; automation should read conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Ready, Progressing and Degraded, with a reason and a message a person can act on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Ready nodes out of desired nodes, e.g. `3/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_nodes: Option<String>,
    /// Where clients connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ClusterEndpoints>,
    /// Each shard's nodes and roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardStatus>,
    /// Increases with every role change the operator makes; a node refuses role commands
    /// carrying an older epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<FailoverRecord>,
    /// Failovers decided but not yet finished, one per shard at most. Written before the
    /// first role command, so an operator that restarts mid-way finishes the same
    /// failover (same target, same epoch) instead of choosing again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failovers_in_progress: Vec<FailoverRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_snapshot: Option<SnapshotRecord>,
    /// A rolling change under way (image, resources, or settings that need a restart):
    /// absent when every pod runs its StatefulSet's current revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStatus>,
    /// Fingerprint of the settings that running nodes take without a restart (CONFIG
    /// SET), as every node last accepted them. It differs from the spec's while a change
    /// of such settings is being applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_settings_hash: Option<String>,
}

/// A rolling change: one shard at a time, its replicas first, then a planned switchover,
/// then the old primary; never two pods of a shard down at once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// When the rollout began.
    pub started_at: Time,
    /// The shard being rolled now.
    pub shard: i32,
    /// Pods on their StatefulSet's current revision, out of all pods, e.g. `4/6`.
    pub updated_nodes: String,
    /// What the rollout does or waits for.
    pub message: String,
    /// A planned switchover sent to the shard's primary and not yet confirmed. Written
    /// before FAILOVER is sent, so an operator that restarts mid-way finishes it (or sees
    /// that it was aborted) instead of undoing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switchover: Option<SwitchoverRecord>,
}

/// A planned handover of a shard's primary role to a caught-up replica.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchoverRecord {
    /// When FAILOVER was sent.
    pub time: Time,
    pub shard: i32,
    /// Pod that was primary.
    pub from: String,
    /// Pod taking over.
    pub to: String,
    /// The epoch the new primary's role carries.
    pub epoch: i64,
}

/// Summary of a cluster's state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Phase {
    /// The spec is accepted; nothing runs yet.
    Pending,
    /// Nodes are starting for the first time.
    Creating,
    /// Every node is ready and every shard has a primary with its replicas attached.
    Ready,
    /// A change is rolling out.
    Updating,
    /// The cluster serves, but not as asked (a node down, a replica not attached...).
    Degraded,
    /// The spec cannot be carried out; the Ready condition says why.
    Failed,
}

/// Client endpoints, as `host:port`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEndpoints {
    /// Writer endpoint: always the current primary (replicated mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// Reader endpoint: spreads connections over the replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// Configuration endpoint for cluster-aware clients (cluster mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
}

/// One shard.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    /// Shard number, from 0.
    pub index: i32,
    /// Pod name of the current primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStatus>,
    /// Hash slots the shard owns (cluster mode), e.g. `0-5460`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<String>,
}

/// One node as last probed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub pod: String,
    /// `primary` or `replica`, as the node reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default)]
    pub ready: bool,
    /// Bytes the replica is behind its primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_bytes: Option<i64>,
}

/// The last automatic or manual failover.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverRecord {
    /// When the failover was decided.
    pub time: Time,
    pub shard: i32,
    /// Pod that was primary.
    pub from: String,
    /// Pod promoted.
    pub to: String,
    pub reason: String,
    /// The epoch the promoted pod's role carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// Seconds from the primary's first failed probe to the end of the failover (set once
    /// it is finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

/// The last snapshot taken.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotRecord {
    /// Name of the CacheSnapshot.
    pub name: String,
    pub time: Time,
}
