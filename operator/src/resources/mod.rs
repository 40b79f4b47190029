//! Desired state: pure functions from a CacheCluster to the Kubernetes objects it needs.
//! No I/O here; the controller applies what these return.

mod build;
pub mod config;
mod meta;
pub mod names;
mod network_policy;
mod pdb;
pub mod quantity;
pub mod render;
pub mod service_monitor;
mod services;
pub mod sizing;
pub mod snapshots;
mod statefulset;

pub use build::{build, build_restoring};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::DynamicObject;

/// What the builders need besides the spec.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// cache-node image used when the spec names none.
    pub default_image: String,
    /// Whether the monitoring.coreos.com ServiceMonitor kind exists in the API server.
    pub service_monitor_supported: bool,
}

/// Every object one cluster needs, per shard and per cluster.
#[derive(Clone, Debug)]
pub struct Desired {
    pub config_map: ConfigMap,
    pub shards: Vec<ShardObjects>,
    /// Writer, reader, configuration (cluster mode) and metrics Services.
    pub services: Vec<Service>,
    pub network_policy: Option<NetworkPolicy>,
    pub service_monitor: Option<DynamicObject>,
    /// The claim of snapshot files (destination pvc, snapshots on).
    pub snapshots_claim: Option<PersistentVolumeClaim>,
    /// The CronJob of scheduled snapshots (snapshots on).
    pub snapshots_cron_job: Option<CronJob>,
    /// restoreFrom names a CacheSnapshot that was not resolved to its location: the
    /// StatefulSets lack their restore init container and must not be applied yet.
    pub restore_unresolved: Option<String>,
    /// The node.conf settings running nodes take with CONFIG SET (no restart).
    pub live_settings: Vec<(String, String)>,
}

/// The objects of one shard.
#[derive(Clone, Debug)]
pub struct ShardObjects {
    pub index: i32,
    pub stateful_set: StatefulSet,
    pub headless_service: Service,
    pub pdb: PodDisruptionBudget,
}

/// A spec the builders cannot turn into objects. The CRD schema refuses most bad specs;
/// these are what only the builders can see.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("the CacheCluster has no {0}")]
    MissingMetadata(&'static str),
    #[error("resources.limits.memory {0:?} is not a valid quantity")]
    BadMemory(String),
    #[error("the memory limit {0} leaves no memory for data after the reserved share")]
    TooLittleMemory(String),
    #[error("resources.limits.memory is required: maxmemory is derived from it")]
    MissingMemoryLimit,
    #[error("resources cpu {0:?} is not a valid quantity")]
    BadCpu(String),
    #[error("invalid parameters: {}", .0.join("; "))]
    BadParameters(Vec<String>),
    #[error("persistence.storageSize is required when persistence.mode is {0}")]
    MissingStorageSize(&'static str),
    #[error("shards must be at least 1, not {0}")]
    BadShards(i32),
    #[error("{0}")]
    BadSnapshots(String),
}
