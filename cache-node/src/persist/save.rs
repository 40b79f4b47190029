//! Writing a snapshot of the keyspace as an RDB: to any writer (AOF base, replicas
//! later) or to `dir/dbfilename` so that a crash never leaves a broken file in place of
//! a good one (temporary file, fsync, rename, fsync of the directory).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rdb::{RdbWriter, WriteOptions};
use crate::store::ValueRef;
use crate::store::snapshot::SnapshotRun;

/// What the caller knows about the snapshot beyond the data.
pub struct SaveParams {
    pub opts: WriteOptions,
    /// Unix ms of the cut: keys whose TTL had passed by then are left out.
    pub cut_ms: i64,
    /// `rdb-key-save-delay` (testing: slows the saver so tests can write during a save).
    pub key_delay: Duration,
    /// Written as the `aof-base` aux field.
    pub aof_base: bool,
    pub used_mem: u64,
    /// Counts keys written, for INFO's current_save_keys_processed.
    pub progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// The replication position of the data at the cut (`repl-id`, `repl-offset`,
    /// `repl-stream-db` aux fields, as Redis writes them), so a node restarted from the
    /// file can continue from its primary with a partial resync.
    pub repl: Option<ReplAux>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplAux {
    pub id: String,
    pub offset: u64,
    pub stream_db: usize,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SaveStats {
    pub keys: u64,
    pub bytes: u64,
}

/// Serializes everything `run` yields into `out`.
pub fn write_rdb<W: Write>(mut run: SnapshotRun<'_>, out: W, p: &SaveParams) -> io::Result<(W, SaveStats)> {
    let ctime = (p.cut_ms / 1000).to_string();
    let used = p.used_mem.to_string();
    let mut aux: Vec<(&str, &[u8])> =
        vec![("redis-ver", crate::REDIS_VERSION.as_bytes()), ("redis-bits", b"64"), ("ctime", ctime.as_bytes()), ("used-mem", used.as_bytes())];
    let (db, off) = p.repl.as_ref().map(|r| (r.stream_db.to_string(), r.offset.to_string())).unwrap_or_default();
    if let Some(r) = &p.repl {
        aux.push(("repl-stream-db", db.as_bytes()));
        aux.push(("repl-id", r.id.as_bytes()));
        aux.push(("repl-offset", off.as_bytes()));
    }
    aux.push(("aof-base", if p.aof_base { b"1" } else { b"0" }));
    let mut w = RdbWriter::new(out, p.opts, &aux)?;
    let sizes = run.db_sizes.clone();
    let mut current_db = None;
    let mut keys = 0u64;
    while let Some((db, entries)) = run.next_part() {
        for e in entries {
            if e.expire_ms.is_some_and(|at| at < p.cut_ms) {
                continue;
            }
            if current_db != Some(db) {
                let (k, x) = sizes.get(db).copied().unwrap_or_default();
                w.select_db(db, k, x)?;
                current_db = Some(db);
            }
            let value = match &e.value {
                crate::store::Value::Str(s) => ValueRef::Str(s),
                v => ValueRef::Obj(v),
            };
            w.entry(&e.key, value, e.expire_ms)?;
            keys += 1;
            if let Some(c) = &p.progress {
                c.store(keys, std::sync::atomic::Ordering::Relaxed);
            }
            if !p.key_delay.is_zero() {
                std::thread::sleep(p.key_delay);
            }
        }
    }
    let bytes = w.bytes_written();
    let out = w.finish()?;
    Ok((out, SaveStats { keys, bytes }))
}

/// Writes the snapshot to `path` atomically. On any error the old file is untouched and
/// the temporary file removed.
pub fn save_to_file(run: SnapshotRun<'_>, path: &Path, p: &SaveParams) -> io::Result<SaveStats> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = temp_path(dir);
    let result = (|| {
        let file = File::create(&tmp)?;
        let (buffered, stats) = write_rdb(run, BufWriter::with_capacity(1 << 20, file), p)?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)?;
        Ok(stats)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!("temp-{}-{}.rdb", std::process::id(), fastrand::u32(..)))
}

/// Makes a rename durable: the directory entry itself must reach the disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::{RdbReader, Record};
    use crate::store::{Keyspace, Ttl, Value};

    fn params(cut_ms: i64) -> SaveParams {
        SaveParams { opts: WriteOptions::default(), cut_ms, key_delay: Duration::ZERO, aof_base: false, used_mem: 0, progress: None, repl: None }
    }

    #[test]
    fn saves_every_database_and_skips_keys_expired_at_the_cut() {
        let ks = Keyspace::new(4);
        ks.lock(0, b"a").set_str(b"a", b"1", Ttl::Clear, 0);
        ks.lock(2, b"b").set_str(b"b", b"2", Ttl::At(5_000), 0);
        ks.lock(2, b"gone").set_str(b"gone", b"x", Ttl::At(500), 0);
        let dir = std::env::temp_dir().join(format!("cn-save-{}", fastrand::u64(..)));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dump.rdb");
        let stats = save_to_file(ks.begin_snapshot(|| {}).unwrap(), &path, &params(1_000)).unwrap();
        assert_eq!(stats.keys, 2);
        let mut r = RdbReader::new(File::open(&path).unwrap()).unwrap();
        let mut got = Vec::new();
        let mut db = 0;
        while let Some(rec) = r.next().unwrap() {
            match rec {
                Record::SelectDb(d) => db = d,
                Record::Entry { key, value, expire_ms } => got.push((db, key, value, expire_ms)),
                _ => {}
            }
        }
        got.sort_by_key(|a| a.0);
        assert_eq!(got, vec![(0, b"a".to_vec(), Value::Str(b"1".to_vec()), None), (2, b"b".to_vec(), Value::Str(b"2".to_vec()), Some(5_000))]);
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_save_leaves_the_old_file() {
        let ks = Keyspace::new(1);
        ks.lock(0, b"a").set_str(b"a", b"1", Ttl::Clear, 0);
        let missing = std::env::temp_dir().join(format!("cn-nodir-{}", fastrand::u64(..))).join("dump.rdb");
        assert!(save_to_file(ks.begin_snapshot(|| {}).unwrap(), &missing, &params(0)).is_err());
        assert!(!ks.snapshot_in_progress(), "a failed save ends the snapshot");
    }
}
