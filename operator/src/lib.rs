//! cachefleet control plane: the CacheCluster API, the pure builders of the Kubernetes
//! objects a cluster needs, and the controller that reconciles them.

pub mod api;
pub mod cli;
pub mod controller;
pub mod crdgen;
pub mod http;
pub mod leader;
pub mod local;
pub mod metrics;
pub mod nodes;
pub mod resources;
pub mod run;
pub mod topology;

/// Version of the operator, reported by `cachefleet-operator --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
