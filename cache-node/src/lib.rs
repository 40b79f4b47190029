//! cache-node: the cachefleet data plane. A multi-threaded server that speaks the Redis
//! protocol over a partitioned in-memory keyspace. See docs/architecture.md.

pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod logging;
pub mod memory;
pub mod persist;
pub mod protocol;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod store;

/// The Redis version we are compatible with, as reported to clients (HELLO, INFO).
pub const REDIS_VERSION: &str = "7.0.15";
