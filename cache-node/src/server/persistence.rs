//! Persistence jobs: SAVE, BGSAVE, the `save` schedule, the AOF (open, rewrite, turn
//! on and off at run time), loading at start-up and saving at shutdown. The file formats
//! live in `crate::persist`; the point-in-time cut in `store/snapshot.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tracing::{info, warn};

use super::journal::JournalSink;
use super::state::{Server, now_ms};
use crate::persist::aof::{self, AofConfig, AofLog, Fsync};
use crate::persist::load::{self, LoadError, LoadStats};
use crate::persist::rdb::WriteOptions;
use crate::persist::save::{self, SaveParams, SaveStats};

/// Why a background job could not start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobRefused {
    #[error("ERR Background save already in progress")]
    SaveInProgress,
    #[error("ERR Background append only file rewriting already in progress")]
    RewriteInProgress,
    #[error("ERR {0}")]
    Failed(String),
}

#[derive(Default)]
pub struct Persistence {
    pub lastsave_unix: AtomicI64,
    /// `Server::dirty` at the start of the last successful save.
    pub dirty_at_save: AtomicU64,
    pub bgsave_running: AtomicBool,
    pub bgsave_started_ms: AtomicI64,
    /// A BGSAVE SCHEDULE (or the save schedule) waiting for an AOF rewrite to end.
    pub bgsave_scheduled: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    pub last_bgsave_failed: AtomicBool,
    /// Writes are refused (MISCONF): the last save failed, a save schedule is set and
    /// stop-writes-on-bgsave-error is on.
    pub writes_refused: AtomicBool,
    /// The AOF cannot be written (disk full...): writes are refused until it can, since
    /// they could not be made durable. Checked by cron once a second.
    pub aof_failing: AtomicBool,
    pub aof_error: Mutex<String>,
    pub last_bgsave_secs: AtomicI64,
    pub saves: AtomicU64,
    /// Keys written by the save in progress, and its total (INFO current_save_keys_*).
    pub save_keys_done: Arc<AtomicU64>,
    pub save_keys_total: AtomicU64,
    pub last_save_error: Mutex<Option<String>>,
    pub aof: RwLock<Option<Arc<AofLog>>>,
    pub rewrite_running: AtomicBool,
    pub rewrite_started_ms: AtomicI64,
    pub rewrite_scheduled: AtomicBool,
    pub last_rewrite_failed: AtomicBool,
    pub last_rewrite_secs: AtomicI64,
    pub rewrites: AtomicU64,
    pub rewrite_failures_in_row: AtomicU64,
    pub last_load: Mutex<LoadStats>,
    /// SHUTDOWN asked for a save (or NOSAVE): 0 = as configured, 1 = save, 2 = no save.
    pub shutdown_save: std::sync::atomic::AtomicU8,
}

/// The AOF as a journal sink.
struct AofSink(Arc<AofLog>);

impl JournalSink for AofSink {
    fn write(&self, bytes: &[u8]) -> u64 {
        self.0.append(bytes)
    }
}

impl Server {
    fn aof_config(&self) -> AofConfig {
        let c = self.config.read();
        AofConfig {
            dir: PathBuf::from(c.str("dir")),
            dirname: c.str("appenddirname").to_string(),
            filename: c.str("appendfilename").to_string(),
            fsync: Fsync::from_config(c.str("appendfsync")),
        }
    }

    fn rdb_path(&self) -> PathBuf {
        let c = self.config.read();
        PathBuf::from(c.str("dir")).join(c.str("dbfilename"))
    }

    pub fn save_params(&self, cut_ms: i64, aof_base: bool) -> SaveParams {
        let c = self.config.read();
        SaveParams {
            opts: WriteOptions { compress: c.bool("rdbcompression"), checksum: c.bool("rdbchecksum") },
            cut_ms,
            key_delay: Duration::from_micros(u64::try_from(c.int("rdb-key-save-delay")).unwrap_or(0)),
            aof_base,
            used_mem: crate::commands::info::process::memory().allocated,
            progress: Some(self.persistence.save_keys_done.clone()),
            repl: None,
        }
    }

    /// Where the data stands in the replication stream (read at a snapshot cut).
    fn repl_aux(&self) -> save::ReplAux {
        let r = &self.replication;
        let stream_db = if r.is_replica() { crate::replication::replica::stream_db(self) } else { self.journal.current_db().unwrap_or(0) };
        save::ReplAux { id: r.ids.lock().replid.clone(), offset: r.offset(), stream_db }
    }

    /// After loading an RDB at start-up: take up the replication position it recorded,
    /// so that, following the same primary again, this node continues partially.
    fn restore_repl(&self, info: &load::ReplInfo) {
        let (Some(id), Some(offset)) = (&info.id, info.offset) else { return };
        {
            let mut ids = self.replication.ids.lock();
            ids.replid = id.clone();
            ids.replid2 = "0".repeat(40);
            ids.second_offset = -1;
        }
        self.replication.backlog.reset(offset);
        crate::replication::replica::set_stream_db(self, info.stream_db.unwrap_or(0));
        info!(replid = %id, offset, "replication position restored from the snapshot");
    }

    /// The AOF position a reply waits for under `appendfsync always`, if any.
    pub fn aof(&self) -> Option<Arc<AofLog>> {
        self.persistence.aof.read().clone()
    }

    /// Loads the data set at start-up: the AOF when `appendonly` is on and a set
    /// exists, otherwise the RDB file if there is one. Then opens the AOF if enabled.
    pub fn load_at_startup(self: &Arc<Self>) -> anyhow::Result<()> {
        let (appendonly, truncated_ok) = {
            let c = self.config.read();
            (c.bool("appendonly"), c.bool("aof-load-truncated"))
        };
        let now = now_ms();
        let plan = if appendonly { aof::load_plan(&self.aof_config())? } else { None };
        let stats = match &plan {
            Some(plan) => {
                let stats = self.replay_aof(plan, now, truncated_ok)?;
                info!(keys = stats.keys, commands = stats.commands, failed = stats.failed, ms = stats.millis as u64, "loaded the append-only file");
                Some(stats)
            }
            None => {
                let path = self.rdb_path();
                if path.exists() {
                    let (stats, repl) = load::load_rdb_file(&self.keyspace, &path, now)?;
                    self.restore_repl(&repl);
                    info!(file = %path.display(), keys = stats.keys, expired = stats.expired, ms = stats.millis as u64, "loaded the snapshot");
                    Some(stats)
                } else {
                    None
                }
            }
        };
        if let Some(s) = stats {
            *self.persistence.last_load.lock() = s;
        }
        self.persistence.lastsave_unix.store(now / 1000, Relaxed);
        if appendonly {
            // No client is connected yet, so the journal can be attached without a cut;
            // a new set gets a base holding what was just loaded.
            let log = AofLog::open(&self.aof_config(), |w| self.write_base_now(w))?;
            self.attach_aof(Some(Arc::new(log)));
        }
        Ok(())
    }

    fn replay_aof(&self, plan: &aof::LoadPlan, now: i64, truncated_ok: bool) -> Result<LoadStats, LoadError> {
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let info = Arc::new(super::clients::ClientInfo::new(0, local, local, -1, now));
        let mut session = super::session::Session::new(info, true);
        let mut out = crate::protocol::Reply::new(crate::protocol::RespVersion::Resp2);
        let stats = super::stats::ThreadStats::new(crate::commands::table::all().len());
        let mut clock = Instant::now();
        load::load_aof(&self.keyspace, plan, now, truncated_ok, |argv| {
            if argv.first().is_none_or(|n| crate::commands::lookup(n).is_none()) {
                return Err(String::from_utf8_lossy(argv.first().copied().unwrap_or_default()).into_owned());
            }
            out.buf.clear();
            let mut ctx = crate::commands::Ctx::new(self, &mut session, &mut out, now_ms());
            crate::commands::dispatch(&mut ctx, argv, &stats, &mut clock);
            let failed = out.buf.first() == Some(&b'-');
            if failed {
                warn!(reply = %String::from_utf8_lossy(&out.buf).trim_end(), command = %String::from_utf8_lossy(argv[0]), "a command in the append-only file failed");
            }
            Ok(failed)
        })
    }

    /// Writes an RDB of the current data into `w` (the base of a new AOF set).
    fn write_base_now(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let cut = now_ms();
        let Some(run) = self.keyspace.begin_snapshot(|| {}) else {
            return Err(std::io::Error::other("a snapshot is already in progress"));
        };
        save::write_rdb(run, w, &self.save_params(cut, true)).map(|_| ())
    }

    fn attach_aof(&self, log: Option<Arc<AofLog>>) {
        *self.persistence.aof.write() = log.clone();
        self.journal.set_aof(log.map(|l| Arc::new(AofSink(l)) as Arc<dyn JournalSink>));
    }

    /// SAVE: a snapshot written by the calling thread. Other clients keep being served
    /// (the snapshot copies what they touch first).
    pub fn save_sync(&self) -> Result<SaveStats, JobRefused> {
        if self.persistence.bgsave_running.load(Relaxed) {
            return Err(JobRefused::SaveInProgress);
        }
        self.save_rdb_file(None)
    }

    /// Takes a snapshot and writes it to `dir/dbfilename`. `cut_done` hears as soon as the
    /// cut is made (BGSAVE replies only then, so the snapshot holds every write
    /// acknowledged before the reply).
    fn save_rdb_file(&self, cut_done: Option<std::sync::mpsc::Sender<()>>) -> Result<SaveStats, JobRefused> {
        let p = &self.persistence;
        let mut cut = 0;
        let mut dirty = 0;
        let mut repl = None;
        let run = self.keyspace.begin_snapshot(|| {
            cut = now_ms();
            dirty = self.dirty.load(Relaxed);
            repl = Some(self.repl_aux());
        });
        if let Some(tx) = cut_done {
            let _ = tx.send(());
        }
        let Some(run) = run else {
            return Err(JobRefused::SaveInProgress);
        };
        p.save_keys_total.store(run.db_sizes.iter().map(|s| s.0).sum(), Relaxed);
        p.save_keys_done.store(0, Relaxed);
        let path = self.rdb_path();
        let started = Instant::now();
        let mut params = self.save_params(cut, false);
        params.repl = repl;
        let result = save::save_to_file(run, &path, &params);
        p.last_bgsave_secs.store(started.elapsed().as_secs() as i64, Relaxed);
        match result {
            Ok(stats) => {
                p.lastsave_unix.store(cut / 1000, Relaxed);
                p.dirty_at_save.store(dirty, Relaxed);
                p.saves.fetch_add(1, Relaxed);
                p.last_bgsave_failed.store(false, Relaxed);
                p.writes_refused.store(false, Relaxed);
                *p.last_save_error.lock() = None;
                info!(file = %path.display(), keys = stats.keys, bytes = stats.bytes, ms = started.elapsed().as_millis() as u64, "snapshot saved");
                Ok(stats)
            }
            Err(e) => {
                p.last_bgsave_failed.store(true, Relaxed);
                let refuse = {
                    let c = self.config.read();
                    c.bool("stop-writes-on-bgsave-error") && !c.str("save").is_empty()
                };
                p.writes_refused.store(refuse, Relaxed);
                let msg = format!("cannot save the snapshot to {}: {e}", path.display());
                warn!("{msg}");
                *p.last_save_error.lock() = Some(msg.clone());
                Err(JobRefused::Failed(msg))
            }
        }
    }

    /// BGSAVE: the snapshot is written by a thread of its own.
    pub fn bgsave(self: &Arc<Self>) -> Result<(), JobRefused> {
        let p = &self.persistence;
        if p.rewrite_running.load(Relaxed) {
            return Err(JobRefused::RewriteInProgress);
        }
        if p.bgsave_running.swap(true, Relaxed) {
            return Err(JobRefused::SaveInProgress);
        }
        p.bgsave_started_ms.store(now_ms(), Relaxed);
        let srv = self.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("bgsave".into()).spawn(move || {
            let _ = srv.save_rdb_file(Some(tx));
            srv.persistence.bgsave_running.store(false, Relaxed);
        });
        if let Err(e) = spawned {
            p.bgsave_running.store(false, Relaxed);
            return Err(JobRefused::Failed(format!("cannot start the background save: {e}")));
        }
        // The cut takes every partition lock for a moment; this thread holds none.
        let _ = rx.recv();
        Ok(())
    }

    /// BGREWRITEAOF: a new base written from a snapshot, the log switched to a new
    /// incremental file at the same cut.
    pub fn bgrewriteaof(self: &Arc<Self>) -> Result<(), JobRefused> {
        let p = &self.persistence;
        let Some(log) = self.aof() else {
            return Err(JobRefused::Failed("append only file is not enabled".into()));
        };
        if p.bgsave_running.load(Relaxed) {
            p.rewrite_scheduled.store(true, Relaxed);
            return Ok(());
        }
        if p.rewrite_running.swap(true, Relaxed) {
            return Err(JobRefused::RewriteInProgress);
        }
        p.rewrite_scheduled.store(false, Relaxed);
        p.rewrite_started_ms.store(now_ms(), Relaxed);
        let srv = self.clone();
        let spawned = std::thread::Builder::new().name("aof-rewrite".into()).spawn(move || {
            let ok = srv.rewrite_aof(&log);
            let p = &srv.persistence;
            p.last_rewrite_failed.store(!ok, Relaxed);
            if ok {
                p.rewrites.fetch_add(1, Relaxed);
                p.rewrite_failures_in_row.store(0, Relaxed);
            } else {
                p.rewrite_failures_in_row.fetch_add(1, Relaxed);
            }
            p.rewrite_running.store(false, Relaxed);
        });
        if let Err(e) = spawned {
            p.rewrite_running.store(false, Relaxed);
            return Err(JobRefused::Failed(format!("cannot start the rewrite: {e}")));
        }
        Ok(())
    }

    fn rewrite_aof(&self, log: &AofLog) -> bool {
        let started = Instant::now();
        let mut cut = 0;
        let mut rw = None;
        let run = self.keyspace.begin_snapshot(|| {
            cut = now_ms();
            rw = Some(log.start_rewrite());
            // The new incremental file starts from a fresh SELECT.
            self.journal.restart_db();
        });
        let (Some(run), Some(rw)) = (run, rw) else {
            warn!("AOF rewrite: a snapshot is already in progress");
            return false;
        };
        let rw = match rw {
            Ok(rw) => rw,
            Err(e) => {
                warn!(error = %e, "AOF rewrite: cannot switch to a new incremental file");
                return false;
            }
        };
        let written = rw.base_file().map_err(std::io::Error::other).and_then(|f| {
            let (buffered, _) = save::write_rdb(run, std::io::BufWriter::with_capacity(1 << 20, f), &self.save_params(cut, true))?;
            buffered.into_inner().map_err(|e| e.into_error())?.sync_all()
        });
        let result = written.map_err(|e| e.to_string()).and_then(|()| log.finish_rewrite(rw).map_err(|e| e.to_string()));
        self.persistence.last_rewrite_secs.store(started.elapsed().as_secs() as i64, Relaxed);
        match result {
            Ok(()) => {
                info!(ms = started.elapsed().as_millis() as u64, "append-only file rewritten");
                true
            }
            Err(e) => {
                warn!(error = %e, "AOF rewrite failed; the previous files stay in use");
                false
            }
        }
    }

    /// CONFIG SET appendonly yes|no at run time.
    pub fn set_appendonly(self: &Arc<Self>, on: bool) -> Result<(), String> {
        let current = self.aof();
        match (on, current) {
            (true, None) => {
                // Attach at a cut (every partition locked) so no write is missed, then
                // rewrite at once: the fresh set's base is empty until the rewrite puts
                // the data set in it.
                let all = self.keyspace.lock_all();
                let log = AofLog::open_fresh(&self.aof_config(), |_| Ok(())).map_err(|e| e.to_string())?;
                self.attach_aof(Some(Arc::new(log)));
                drop(all);
                self.bgrewriteaof().map_err(|e| e.to_string())
            }
            (false, Some(_)) => {
                let all = self.keyspace.lock_all();
                self.attach_aof(None);
                drop(all);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The `save` schedule and pending jobs; called once a second by cron.
    pub fn persistence_tick(self: &Arc<Self>) {
        let p = &self.persistence;
        let aof_error = self.aof().and_then(|l| l.last_write_error());
        if let Some(e) = &aof_error {
            *p.aof_error.lock() = e.clone();
        }
        if p.aof_failing.swap(aof_error.is_some(), Relaxed) != aof_error.is_some() {
            match &aof_error {
                Some(e) => warn!(error = %e, "the append-only file cannot be written: refusing writes until it can"),
                None => info!("the append-only file is writable again: accepting writes"),
            }
        }
        if p.bgsave_running.load(Relaxed) || p.rewrite_running.load(Relaxed) {
            return;
        }
        if p.rewrite_scheduled.load(Relaxed) {
            let _ = self.bgrewriteaof();
            return;
        }
        if p.bgsave_scheduled.swap(false, Relaxed) {
            let _ = self.bgsave();
            return;
        }
        let schedule = crate::config::params::parse_save(self.config.read().str("save")).unwrap_or_default();
        let changes = self.dirty.load(Relaxed).saturating_sub(p.dirty_at_save.load(Relaxed));
        let since = now_ms() / 1000 - p.lastsave_unix.load(Relaxed);
        // After a failed save, wait 5 seconds before trying again (as Redis).
        let retry_ok = !p.last_bgsave_failed.load(Relaxed) || now_ms() - p.bgsave_started_ms.load(Relaxed) > 5_000;
        if retry_ok && schedule.iter().any(|&(secs, n)| changes >= n && since >= secs as i64) {
            info!(changes, seconds = since, "saving on schedule");
            let _ = self.bgsave();
            return;
        }
        if let Some(log) = self.aof() {
            let (pct, min) = {
                let c = self.config.read();
                (c.int("auto-aof-rewrite-percentage"), c.int("auto-aof-rewrite-min-size"))
            };
            let s = log.stats();
            let base = s.base_size.max(1);
            if pct > 0 && s.current_size as i64 >= min && (s.current_size.saturating_sub(base)) * 100 / base >= pct as u64 {
                info!(size = s.current_size, base = s.base_size, "rewriting the append-only file: it grew past auto-aof-rewrite-percentage");
                let _ = self.bgrewriteaof();
            }
        }
    }

    /// At shutdown: flush the AOF, and save a snapshot when configured (or asked).
    pub fn persist_at_shutdown(&self) {
        let p = &self.persistence;
        while p.bgsave_running.load(Relaxed) || p.rewrite_running.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mode = p.shutdown_save.load(Relaxed);
        let scheduled = !self.config.read().str("save").is_empty();
        if (mode == 1 || (mode == 0 && scheduled))
            && let Err(e) = self.save_rdb_file(None)
        {
            warn!(error = %e, "saving at shutdown failed");
        }
        let mut log = self.persistence.aof.write().take();
        self.journal.set_aof(None);
        // Connections may still hold the log for a moment; closing needs the only one.
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Some(l) = log.take() {
            match Arc::try_unwrap(l) {
                Ok(l) => {
                    if let Err(e) = l.close() {
                        warn!(error = %e, "closing the append-only file");
                    }
                }
                Err(l) if Instant::now() < deadline => {
                    log = Some(l);
                    std::thread::sleep(Duration::from_millis(5));
                }
                // Dropping the last reference closes it too, wherever that happens.
                Err(_) => warn!("the append-only file is still in use at shutdown"),
            }
        }
    }
}
