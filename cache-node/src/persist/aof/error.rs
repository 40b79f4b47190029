//! Everything that can go wrong with the append-only file set.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AofError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file ends inside a command; `valid_len` bytes hold complete commands.
    #[error("unexpected end of the append-only file {path} (complete commands up to offset {valid_len})")]
    Truncated { path: PathBuf, valid_len: u64 },
    /// Malformed content at byte `offset`.
    #[error("bad format in the append-only file {path} at offset {offset}: {why}")]
    Corrupt { path: PathBuf, offset: u64, why: String },
    /// Refused the way Redis refuses it (`why` is Redis's message); `line` is 1-based.
    #[error("bad AOF manifest at line {line}: {why}")]
    BadManifest { line: usize, why: String },
    /// The manifest names a file that is not in the directory.
    #[error("the AOF manifest names {path}, which does not exist")]
    MissingFile { path: PathBuf },
    /// `truncate_file` on a file that is not the last one of the set.
    #[error("can't truncate {path} at offset {valid_len}: only the last incremental file may be cut short")]
    NotLastFile { path: PathBuf, valid_len: u64 },
    #[error("an AOF rewrite is already in progress")]
    RewriteInProgress,
    /// The writer thread is gone (it panicked or the log was closed).
    #[error("the AOF writer thread has stopped")]
    WriterGone,
}

impl AofError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> AofError {
        AofError::Io { op, path: path.into(), source }
    }
}
