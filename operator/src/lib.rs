//! cachefleet control plane. The CacheCluster API, desired-state builders and the
//! reconcile loop land with the operator issue; this crate exists so the workspace
//! layout of docs/architecture.md is in place from the start.

/// Version of the operator, reported by `cachefleet-operator --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
