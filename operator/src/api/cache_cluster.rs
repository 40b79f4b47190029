//! The CacheCluster resource: what a user asks for.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{
    AuthSpec, CacheClusterStatus, FailoverSpec, MonitoringSpec, NetworkPolicySpec, NodeType, PersistenceSpec, PodOverrides, RestoreSpec, SnapshotsSpec,
    TlsSpec, ZoneSpreadSpec,
};

/// A cache cluster: one or more shards of cache-node pods, each shard a primary and its
/// replicas, with endpoints for writers and readers. The operator keeps one primary per
/// shard, promotes a replica when a primary fails, and reports what it sees in status.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "cachefleet.dev",
    version = "v1alpha1",
    kind = "CacheCluster",
    namespaced,
    doc = "A cache cluster of cache-node pods run by the cachefleet operator: shards of a primary and its replicas, with writer and reader endpoints.",
    status = "CacheClusterStatus",
    shortname = "cc",
    category = "cachefleet",
    printcolumn(name = "Engine", type_ = "string", json_path = ".spec.engine", description = "redis or memcached"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode", description = "replicated or cluster"),
    printcolumn(name = "Shards", type_ = "integer", json_path = ".spec.shards", description = "number of shards"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicasPerShard", description = "replicas per shard"),
    printcolumn(name = "Nodes", type_ = "string", json_path = ".status.readyNodes", description = "ready nodes / desired nodes"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase", description = "summary of the cluster's state"),
    printcolumn(name = "Primary", type_ = "string", json_path = ".status.endpoints.primary", description = "writer endpoint"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self.engine == 'memcached' || self.mode == 'cluster' || self.shards == 1").message("shards must be 1 when mode is replicated (set mode: cluster to shard the keyspace)"))]
#[x_kube(validation = Rule::new("self.engine != 'memcached' || self.replicasPerShard == 0").message("memcached has no replication: replicasPerShard must be 0"))]
#[x_kube(validation = Rule::new("self.engine != 'memcached' || !has(self.persistence) || self.persistence.mode == 'none'").message("memcached keeps nothing on disk: persistence.mode must be none"))]
#[x_kube(validation = Rule::new("self.engine != 'memcached' || !has(self.snapshots) || !self.snapshots.enabled").message("memcached cannot take snapshots: snapshots.enabled must be false"))]
#[x_kube(validation = Rule::new("self.engine != 'memcached' || !has(self.auth) || !has(self.auth.users) || size(self.auth.users) == 0").message("memcached has no ACL users: auth.users must be empty"))]
#[x_kube(validation = Rule::new("self.engine != 'memcached' || self.deletionPolicy != 'Snapshot'").message("memcached cannot take snapshots: deletionPolicy cannot be Snapshot"))]
#[x_kube(validation = Rule::new("!(has(self.nodeType) && has(self.resources))").message("set either nodeType or resources, not both"))]
#[x_kube(validation = Rule::new("!has(self.failover) || self.failover.minReplicasToWrite <= self.replicasPerShard").message("failover.minReplicasToWrite cannot exceed replicasPerShard"))]
#[x_kube(validation = Rule::new("has(self.restoreFrom) == has(oldSelf.restoreFrom) && (!has(self.restoreFrom) || self.restoreFrom == oldSelf.restoreFrom)").message("restoreFrom is set at creation only and cannot change"))]
#[serde(rename_all = "camelCase")]
pub struct CacheClusterSpec {
    /// The protocol the nodes speak: `redis` (RESP2/RESP3, for any Redis client) or
    /// `memcached`. Cannot change after creation.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("engine is immutable: create a new cluster to change it"))]
    pub engine: Engine,

    /// `replicated`: one shard, a primary and its replicas (ElastiCache's cluster mode
    /// disabled). `cluster`: `shards` shards over 16384 hash slots, Redis Cluster protocol
    /// (cluster mode enabled). Ignored for memcached, where `shards` counts independent
    /// nodes that clients hash keys across. Cannot change after creation.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("mode is immutable: create a new cluster to change it"))]
    pub mode: Mode,

    /// Number of shards (node groups). Must be 1 in replicated mode.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 500))]
    pub shards: i32,

    /// Replicas of each shard's primary, each in its own pod (0 to 5). Replicas serve reads
    /// through the reader endpoint and are promoted when the primary fails.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 5))]
    pub replicas_per_shard: i32,

    /// A node size preset with ElastiCache's names, which sets CPU and memory of each pod
    /// and the node's maxmemory. Defaults to cache.t4g.small when `resources` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<NodeType>,

    /// Explicit CPU and memory of each cache-node container, instead of a nodeType. The
    /// memory limit is required: maxmemory is derived from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("has(self.limits) && 'memory' in self.limits").message("resources.limits.memory is required: maxmemory is derived from it"))]
    pub resources: Option<ResourceRequirements>,

    /// Percent of the memory limit kept back for the node's own use (connections,
    /// buffers, copy-on-write while snapshotting); maxmemory is the rest. ElastiCache
    /// reserves 25%.
    #[serde(default = "reserved_default")]
    #[schemars(range(min = 0, max = 90))]
    pub reserved_memory_percent: i32,

    /// What a node does when maxmemory is reached: evict keys by this policy, or refuse
    /// writes (`noeviction`).
    #[serde(default)]
    pub maxmemory_policy: EvictionPolicy,

    /// Node configuration parameters (a parameter group), as in redis.conf: name to
    /// value. Only parameters the operator does not manage itself are accepted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "super::parameters::parameters_schema")]
    pub parameters: BTreeMap<String, String>,

    /// Durability on disk: none, RDB snapshots, or an append-only file, on a
    /// PersistentVolumeClaim per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<PersistenceSpec>,

    /// Scheduled backups taken by CronJobs, kept as CacheSnapshot resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<SnapshotsSpec>,

    /// Seed a new cluster with the data of a snapshot. Set at creation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<RestoreSpec>,

    /// Password and ACL users clients must authenticate with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,

    /// TLS on the client port, from a Secret or a cert-manager issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,

    /// How primary failures are detected and handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverSpec>,

    /// How the pods of a shard are spread over zones and nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_spread: Option<ZoneSpreadSpec>,

    /// Weekly window for disruptive planned changes, in ElastiCache's format
    /// `ddd:hh24:mi-ddd:hh24:mi` (UTC), e.g. `sun:05:00-sun:06:00`. Without it, planned
    /// changes roll out as soon as they are applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(sun|mon|tue|wed|thu|fri|sat):([01][0-9]|2[0-3]):[0-5][0-9]-(sun|mon|tue|wed|thu|fri|sat):([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub maintenance_window: Option<String>,

    /// Prometheus scraping of the nodes' metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,

    /// Scheduling and metadata of the cache-node pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodOverrides>,

    /// A NetworkPolicy that admits only the listed clients to the cache ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,

    /// What happens to the data when the CacheCluster is deleted. `Delete`: its
    /// scheduled snapshots go with it (manual ones stay). `Retain`: scheduled snapshots
    /// stay too. `Snapshot`: a final manual snapshot (`<name>-final-<uid>`) is taken first,
    /// then as `Delete`; if it fails the cluster stays until it succeeds or the policy is
    /// changed.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// The cache-node container image. Defaults to the image the operator was
    /// installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
}

/// The protocol a cluster's nodes speak.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    #[default]
    Redis,
    Memcached,
}

/// What deleting a cluster does to its snapshots.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Retain,
    Snapshot,
}

/// How keys are spread over nodes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Replicated,
    Cluster,
}

/// Redis's maxmemory policies: `volatile-*` evict only keys with a TTL, `allkeys-*` any
/// key; `lru` least recently used, `lfu` least frequently used, `random`, `ttl` nearest
/// expiry; `noeviction` refuses writes that need memory with an OOM error.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionPolicy {
    /// Evict the least recently used of the keys with a TTL (ElastiCache's default).
    #[default]
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    /// Refuse writes that need memory with an OOM error.
    Noeviction,
}

impl EvictionPolicy {
    /// The value of the node's `maxmemory-policy` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
            EvictionPolicy::AllkeysLru => "allkeys-lru",
            EvictionPolicy::AllkeysLfu => "allkeys-lfu",
            EvictionPolicy::AllkeysRandom => "allkeys-random",
            EvictionPolicy::Noeviction => "noeviction",
        }
    }
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Redis => "redis",
            Engine::Memcached => "memcached",
        }
    }
}

fn one() -> i32 {
    1
}

fn reserved_default() -> i32 {
    25
}

impl CacheClusterSpec {
    /// The node type in effect: the one asked for, or the default when neither a node
    /// type nor explicit resources are given.
    pub fn effective_node_type(&self) -> Option<NodeType> {
        match (&self.node_type, &self.resources) {
            (Some(t), _) => Some(*t),
            (None, Some(_)) => None,
            (None, None) => Some(NodeType::default()),
        }
    }

    /// Pods per shard: the primary and its replicas.
    pub fn nodes_per_shard(&self) -> i32 {
        1 + self.replicas_per_shard.max(0)
    }
}
