//! Persistence: Redis-compatible RDB snapshots and the append-only file.
//!
//! - `rdb/`: the RDB file format (writer, reader, DUMP payloads), pure codecs.
//! - `aof/`: the append-only file set (manifest, incremental files, fsync policies).
//! - `snapshot_cli`: `cache-node snapshot inspect|verify FILE`.

pub mod aof;
pub mod rdb;
pub mod snapshot_cli;
