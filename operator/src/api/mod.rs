//! The cachefleet.dev/v1alpha1 API: custom resource types only, no behaviour beyond
//! defaults and the pure helpers that read them. Everything here ends up in the CRD
//! schema, so doc comments are what `kubectl explain` prints.

// kube's printcolumn repeats `type_ = ...` once per column.
#![allow(clippy::duplicated_attributes)]

mod cache_cluster;
mod cache_snapshot;
mod cache_user;
mod node_type;
mod operations;
mod parameters;
mod pod;
mod security;
mod status;
mod storage;

pub use cache_cluster::{CacheCluster, CacheClusterSpec, DeletionPolicy, Engine, EvictionPolicy, Mode};
pub use cache_snapshot::{CacheSnapshot, CacheSnapshotSpec, CacheSnapshotStatus, SnapshotPhase, SnapshotShard, SnapshotTrigger};
pub use cache_user::{CacheUser, CacheUserSpec, CacheUserStatus};
pub use node_type::{NodeSize, NodeType};
pub use operations::{FailoverSpec, MaintenanceWindow, SpreadPolicy, ZoneSpreadSpec};
pub use parameters::{MANAGED_PARAMETERS, allowed_parameters, check_parameters};
pub use pod::{MonitoringSpec, PodOverrides, ServiceMonitorSpec};
pub use security::{AuthSpec, IssuerRef, NetworkPolicySpec, SecretKeyRef, TlsSpec};
pub use status::{CacheClusterStatus, ClusterEndpoints, FailoverRecord, NodeStatus, Phase, RolloutStatus, ShardStatus, SnapshotRecord, SwitchoverRecord};
pub use storage::{PersistenceMode, PersistenceSpec, PvcDestination, RestoreSpec, S3Destination, SnapshotDestination, SnapshotSourceRole, SnapshotsSpec};

/// The API group of every cachefleet resource.
pub const GROUP: &str = "cachefleet.dev";
/// The API version this build serves.
pub const VERSION: &str = "v1alpha1";
