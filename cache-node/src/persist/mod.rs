//! Persistence: Redis-compatible RDB snapshots and the append-only file.
//!
//! - `rdb/`: the RDB file format (writer, reader, DUMP payloads), pure codecs.
//! - `aof/`: the append-only file set (manifest, incremental files, fsync policies).
//! - `snapshot_cli`: `cache-node snapshot inspect|verify FILE`.

pub mod aof;
pub mod load;
pub mod rdb;
pub mod save;
pub mod snapshot_cli;

impl aof::Fsync {
    /// The `appendfsync` value (already validated by the parameter table).
    pub fn from_config(v: &str) -> aof::Fsync {
        match v {
            "always" => aof::Fsync::Always,
            "no" => aof::Fsync::No,
            _ => aof::Fsync::EverySec,
        }
    }
}
