//! Loading at start-up: an RDB file into the keyspace, or an AOF set replayed through
//! the command dispatcher.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::aof::{AofError, BaseKind, CommandReader, LoadPlan};
use super::rdb::{RdbError, RdbReader, Record};
use crate::store::{Keyspace, Ttl, Value};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Rdb { path: PathBuf, source: RdbError },
    #[error("{path}: database {db} is out of range (databases is {databases})")]
    DbOutOfRange { path: PathBuf, db: u64, databases: usize },
    #[error("{0}")]
    Aof(#[from] AofError),
    #[error(
        "{path}: the last command is cut short at byte {valid_len}; start with aof-load-truncated yes to drop it, or repair the file with redis-check-aof --fix"
    )]
    AofTruncated { path: PathBuf, valid_len: u64 },
    #[error("{path}: unknown command {name:?} at byte {offset}; the file is not an append-only file this server can replay")]
    UnknownCommand { path: PathBuf, name: String, offset: u64 },
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Default, Clone, Copy)]
pub struct LoadStats {
    pub keys: u64,
    /// Keys in the file whose TTL had already passed (not loaded).
    pub expired: u64,
    /// Commands replayed from AOF files.
    pub commands: u64,
    /// Replayed commands that answered with an error (logged; Redis ignores them too).
    pub failed: u64,
    pub millis: u128,
    /// Where the RDB ended in its file (a pre-7.0 AOF has commands after it).
    pub rdb_end: u64,
}

/// The replication position an RDB recorded (its `repl-*` aux fields), if complete.
#[derive(Debug, Default, Clone)]
pub struct ReplInfo {
    pub id: Option<String>,
    pub offset: Option<u64>,
    pub stream_db: Option<usize>,
}

/// Loads an RDB file. Keys already expired are skipped (this node is a primary).
pub fn load_rdb(ks: &Keyspace, path: &Path, now_ms: i64) -> Result<LoadStats, LoadError> {
    load_rdb_file(ks, path, now_ms).map(|(s, _)| s)
}

/// Loads an RDB file, also returning the replication position it recorded.
pub fn load_rdb_file(ks: &Keyspace, path: &Path, now_ms: i64) -> Result<(LoadStats, ReplInfo), LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Open { path: path.to_owned(), source })?;
    load_rdb_with_repl(ks, BufReader::with_capacity(1 << 20, file), path, now_ms)
}

pub fn load_rdb_from(ks: &Keyspace, input: impl std::io::Read, path: &Path, now_ms: i64) -> Result<LoadStats, LoadError> {
    load_rdb_with_repl(ks, input, path, now_ms).map(|(s, _)| s)
}

/// Like `load_rdb_from`, also returning the replication position the file recorded.
pub fn load_rdb_with_repl(ks: &Keyspace, input: impl std::io::Read, path: &Path, now_ms: i64) -> Result<(LoadStats, ReplInfo), LoadError> {
    let start = Instant::now();
    let rdb_err = |source| LoadError::Rdb { path: path.to_owned(), source };
    let mut r = RdbReader::new(input).map_err(rdb_err)?;
    let mut stats = LoadStats::default();
    let mut repl = ReplInfo::default();
    let mut db = 0usize;
    while let Some(rec) = r.next().map_err(rdb_err)? {
        match rec {
            Record::SelectDb(d) => {
                db = usize::try_from(d).ok().filter(|d| *d < ks.databases()).ok_or_else(|| LoadError::DbOutOfRange {
                    path: path.to_owned(),
                    db: d,
                    databases: ks.databases(),
                })?;
            }
            Record::Entry { key, value, expire_ms } => {
                if expire_ms.is_some_and(|at| at < now_ms) {
                    stats.expired += 1;
                    continue;
                }
                let ttl = expire_ms.map_or(Ttl::Clear, Ttl::At);
                let mut p = ks.lock(db, &key);
                match value {
                    Value::Str(s) => p.set_str(&key, &s, ttl, now_ms),
                    v => p.set(&key, v, ttl, now_ms),
                };
                stats.keys += 1;
            }
            Record::Aux { key, value } => {
                let text = String::from_utf8_lossy(&value);
                match &key[..] {
                    b"repl-id" if value.len() == 40 => repl.id = Some(text.into_owned()),
                    b"repl-offset" => repl.offset = text.parse().ok(),
                    b"repl-stream-db" => repl.stream_db = text.parse().ok(),
                    _ => {}
                }
            }
            Record::ResizeDb { .. } => {}
        }
    }
    stats.millis = start.elapsed().as_millis();
    stats.rdb_end = r.offset();
    Ok((stats, repl))
}

/// Replays an AOF set. `run` executes one command and returns whether it failed;
/// `truncated_ok` is `aof-load-truncated`: a last command cut short in the last file is
/// dropped (and the file cut back to whole commands) instead of refusing to start.
pub fn load_aof(
    ks: &Keyspace,
    plan: &LoadPlan,
    now_ms: i64,
    truncated_ok: bool,
    mut run: impl FnMut(&[&[u8]]) -> Result<bool, String>,
) -> Result<LoadStats, LoadError> {
    let start = Instant::now();
    let mut stats = LoadStats::default();
    // (file, where its commands start, whether it is the last file)
    let mut files: Vec<(PathBuf, u64, bool)> = Vec::new();
    if let Some(base) = &plan.base {
        match base.kind {
            BaseKind::Rdb => {
                let s = load_rdb(ks, &base.path, now_ms)?;
                stats.keys += s.keys;
                stats.expired += s.expired;
                // An old single-file AOF: commands may follow its RDB preamble.
                let len = std::fs::metadata(&base.path).map_or(0, |m| m.len());
                if len > s.rdb_end {
                    files.push((base.path.clone(), s.rdb_end, plan.incrs.is_empty()));
                }
            }
            BaseKind::Aof => files.push((base.path.clone(), 0, plan.incrs.is_empty())),
        }
    }
    let n = plan.incrs.len();
    files.extend(plan.incrs.iter().enumerate().map(|(i, p)| (p.clone(), 0, i + 1 == n)));
    for (path, from, last) in files {
        replay_file(&path, from, last && truncated_ok, &mut stats, &mut run)?;
    }
    stats.millis = start.elapsed().as_millis();
    Ok(stats)
}

fn replay_file(
    path: &Path,
    from: u64,
    may_truncate: bool,
    stats: &mut LoadStats,
    run: &mut impl FnMut(&[&[u8]]) -> Result<bool, String>,
) -> Result<(), LoadError> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path).map_err(|source| LoadError::Open { path: path.to_owned(), source })?;
    file.seek(SeekFrom::Start(from)).map_err(|source| LoadError::Open { path: path.to_owned(), source })?;
    let mut r = CommandReader::with_offset(file, from).with_path(path);
    // Where the open MULTI started: a file that ends inside a transaction is cut back to
    // it, as Redis does, so the half transaction is neither applied nor appended to.
    let mut multi_at: Option<u64> = None;
    loop {
        let at = r.offset();
        match r.next() {
            Ok(Some(argv)) => {
                multi_at = super::aof::transaction_start(&argv, at, multi_at);
                let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
                match run(&refs) {
                    Ok(failed) => {
                        stats.commands += 1;
                        stats.failed += u64::from(failed);
                    }
                    Err(name) => return Err(LoadError::UnknownCommand { path: path.to_owned(), name, offset: at }),
                }
            }
            Ok(None) => match multi_at {
                None => return Ok(()),
                Some(valid_len) if may_truncate => {
                    tracing::warn!(file = %path.display(), valid_len, "revert incomplete MULTI/EXEC transaction at the end of the append-only file (aof-load-truncated yes)");
                    super::aof::truncate_file(path, valid_len)?;
                    return Ok(());
                }
                Some(valid_len) => return Err(LoadError::AofTruncated { path: path.to_owned(), valid_len }),
            },
            Err(AofError::Truncated { valid_len, .. }) if may_truncate => {
                if multi_at.is_some() {
                    tracing::warn!(file = %path.display(), "revert incomplete MULTI/EXEC transaction at the end of the append-only file");
                }
                let valid_len = multi_at.unwrap_or(valid_len);
                tracing::warn!(file = %path.display(), valid_len, "the append-only file ends inside a command: dropping it (aof-load-truncated yes)");
                super::aof::truncate_file(path, valid_len)?;
                return Ok(());
            }
            Err(AofError::Truncated { valid_len, .. }) => {
                return Err(LoadError::AofTruncated { path: path.to_owned(), valid_len: multi_at.unwrap_or(valid_len) });
            }
            Err(e) => return Err(e.into()),
        }
    }
}
