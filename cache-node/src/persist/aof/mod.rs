//! The append-only file set, laid out as Redis 7.0 does (`appendonlydir/` with a
//! manifest, one base file and incremental files), so redis-server and redis-check-aof
//! read ours and we read theirs. Pure file handling: what the commands mean is the
//! server's business.
//!
//! - `manifest` / `quoting`: the manifest's text format and Redis's parsing rules.
//! - `files`: directory layout, atomic manifest replacement, the start-up load plan.
//! - `reader`: RESP multibulk commands read back from a file.
//! - `log`: the open log (`AofLog`): buffered appends and the writer thread.
//! - `rewrite`: BGREWRITEAOF's two steps (switch to a new incremental file at the cut,
//!   then install the new base).

mod error;
mod files;
mod log;
mod manifest;
mod quoting;
mod reader;
mod rewrite;
#[cfg(test)]
mod tests;
mod transaction;

use std::path::PathBuf;

pub use error::AofError;
pub use files::{load_plan, truncate_file};
pub use log::{AofLog, AofStats};
pub use manifest::{FileKind, Manifest, ManifestEntry};
pub use reader::{CommandReader, encode_command};
pub use rewrite::Rewrite;
pub use transaction::transaction_start;

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// fdatasync before a write is acknowledged (group commit: one for all queued writes).
    Always,
    /// fdatasync at most once a second, in the background.
    EverySec,
    /// Left to the OS.
    No,
}

#[derive(Clone, Debug)]
pub struct AofConfig {
    /// `dir`.
    pub dir: PathBuf,
    /// `appenddirname`, inside `dir`.
    pub dirname: String,
    /// `appendfilename`, the stem of every file name.
    pub filename: String,
    pub fsync: Fsync,
}

/// What start-up replays, in order: the base, then each incremental file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    pub base: Option<BaseFile>,
    pub incrs: Vec<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseFile {
    pub path: PathBuf,
    pub kind: BaseKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseKind {
    /// Starts with `REDIS`: an RDB. In a pre-7.0 single file (an "RDB preamble") commands
    /// may follow the RDB's end; read them with `CommandReader::with_offset`.
    Rdb,
    /// RESP commands (an `aof-use-rdb-preamble no` rewrite, or an empty base).
    Aof,
}
