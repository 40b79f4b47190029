//! Backups: `cache-node snapshot save --from HOST:PORT --to DEST` takes a consistent RDB
//! from a running node without touching its disk, by asking for a full resync as a
//! replica would and keeping the snapshot instead of loading it; `snapshot restore`
//! fetches one back and verifies it before a node starts on it.
//!
//! - `pull`: the replica handshake and the snapshot transfer (either of Redis's two
//!   framings), checked record by record as it arrives.
//! - `manifest`: what is recorded next to each snapshot (cluster, shard, time, keys,
//!   bytes, checksum, engine version), as JSON.
//! - `store`: where snapshots live. A snapshot is listed only through its manifest, which
//!   is written last and atomically, so a half-written snapshot is never listed.
//! - `cli`: the `save` and `restore` subcommands.

pub mod cli;
pub mod manifest;
pub mod pull;
pub mod store;

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the source node replied {reply:?} to {command}")]
    Refused { command: &'static str, reply: String },
    #[error("the snapshot is not valid: {0}")]
    Rdb(#[from] crate::persist::rdb::RdbError),
    #[error("the snapshot does not match its manifest: {0}")]
    Mismatch(String),
    #[error("bad manifest {path}: {error}")]
    Manifest { path: String, error: String },
    #[error("{0}")]
    Usage(String),
    #[error("{0} already holds data; not restoring over it")]
    AlreadyHasData(String),
}
