//! The open log: `append` copies a write effect into an in-memory queue (one short mutex,
//! one memcpy: it runs while the caller holds partition locks), and one writer thread
//! drains the queue into the current incremental file: one write and at most one
//! fdatasync for everything queued (group commit), per the `appendfsync` policy.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::error::AofError;
use super::files::{self, Layout};
use super::manifest::{FileKind, Manifest, ManifestEntry};
use super::{AofConfig, BaseKind, Fsync};

/// How long a failed write waits before it is tried again (Redis retries from its cron).
const RETRY_AFTER: Duration = Duration::from_millis(200);
const EVERYSEC: Duration = Duration::from_secs(1);
const MAX_KEPT_BUFFER: usize = 16 << 20;

/// INFO persistence's AOF fields that this layer knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AofStats {
    /// aof_current_size: the base plus the incremental files, as written.
    pub current_size: u64,
    /// aof_base_size: the size at the last rewrite (or at start-up), the auto-rewrite yardstick.
    pub base_size: u64,
    /// aof_buffer_length: bytes appended but not yet written.
    pub buffer_length: u64,
    /// aof_pending_bio_fsync: an fsync is running right now.
    pub pending_fsync: bool,
    /// aof_delayed_fsync: writes that waited for an fsync (never here: appends don't wait).
    pub delayed_fsync: u64,
    /// aof_rewrite_in_progress.
    pub rewrite_in_progress: bool,
    /// aof_last_write_status is "err" while this is set.
    pub last_write_error: Option<String>,
}

/// Appends waiting for the writer thread.
pub(super) struct Queue {
    pub bytes: Vec<u8>,
    /// Log offset just past `bytes`.
    pub end: u64,
    /// File switches (rewrite cuts) at positions in `bytes`.
    pub switches: Vec<Switch>,
    pub closing: bool,
    writer_waiting: bool,
}

/// From `at` on, bytes go to `file`.
pub(super) struct Switch {
    pub at: usize,
    pub file: File,
    pub path: PathBuf,
}

pub(super) struct Shared {
    pub layout: Layout,
    pub queue: Mutex<Queue>,
    wake: Condvar,
    durable: AtomicU64,
    durable_tx: watch::Sender<u64>,
    fsync: AtomicU8,
    error: Mutex<Option<String>>,
    /// A background fsync (EverySec) is running.
    fsyncing: AtomicBool,
    /// The last background fsync's failure, until one succeeds.
    bg_sync_error: Mutex<Option<String>>,
    /// The manifest as on disk; held while it is being replaced.
    pub manifest: Mutex<Manifest>,
    pub rewriting: AtomicBool,
    pub rewrite_base_size: AtomicU64,
    pub next_tag: AtomicU64,
}

impl Shared {
    pub fn wake_writer(&self) {
        self.wake.notify_one();
    }
}

pub struct AofLog {
    pub(super) shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), AofError>>>,
}

impl AofLog {
    /// Opens the set for appending after start-up loaded it: creates the directory, a
    /// base (from `base_writer`) when the manifest lists no file, and appends to the last
    /// incremental file (a new one if there is none), as Redis does.
    pub fn open(cfg: &AofConfig, base_writer: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<AofLog, AofError> {
        Self::open_with(cfg, false, base_writer)
    }

    /// Opens a new set whatever is on disk: a base from `base_writer`, a new incremental
    /// file, the old files deleted once the manifest no longer names them. For turning
    /// `appendonly` on at run time, when the files on disk no longer match memory.
    pub fn open_fresh(cfg: &AofConfig, base_writer: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<AofLog, AofError> {
        Self::open_with(cfg, true, base_writer)
    }

    fn open_with(cfg: &AofConfig, fresh: bool, base_writer: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<AofLog, AofError> {
        let layout = Layout::new(cfg);
        layout.create_dir()?;
        remove_temp_files(&layout);
        let mut m = layout.read_manifest()?.unwrap_or_default();
        let next_incr_seq = m.last_incr_seq() + 1;
        if fresh || m.is_empty() {
            let base = write_base(&layout, m.base_seq() + 1, base_writer)?;
            m.history.extend(m.base.take().map(|b| ManifestEntry { kind: FileKind::History, ..b }));
            m.history.extend(m.incrs.drain(..).map(|e| ManifestEntry { kind: FileKind::History, ..e }));
            m.base = Some(base);
        }
        let (file, path) = match m.incrs.last() {
            Some(last) => {
                let path = layout.path(&last.name);
                let file = OpenOptions::new().append(true).create(true).open(&path).map_err(|e| AofError::io("open", &path, e))?;
                (file, path)
            }
            None => {
                let seq = next_incr_seq;
                let name = layout.incr_name(seq);
                let path = layout.path(&name);
                let file = new_file(&path)?;
                m.incrs.push(ManifestEntry { name, seq, kind: FileKind::Incr });
                (file, path)
            }
        };
        layout.write_manifest(&m)?;
        delete_history(&layout, &mut m);

        let (durable_tx, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            layout,
            queue: Mutex::new(Queue { bytes: Vec::new(), end: 0, switches: Vec::new(), closing: false, writer_waiting: false }),
            wake: Condvar::new(),
            durable: AtomicU64::new(0),
            durable_tx,
            fsync: AtomicU8::new(fsync_code(cfg.fsync)),
            error: Mutex::new(None),
            fsyncing: AtomicBool::new(false),
            bg_sync_error: Mutex::new(None),
            manifest: Mutex::new(m),
            rewriting: AtomicBool::new(false),
            rewrite_base_size: AtomicU64::new(0),
            next_tag: AtomicU64::new(0),
        });
        let base_size = shared.manifest.lock().base.as_ref().map_or(0, |b| file_len(&shared.layout.path(&b.name)));
        shared.rewrite_base_size.store(base_size, Ordering::Relaxed);
        let writer = Writer::new(Arc::clone(&shared), file, path);
        let thread = std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| AofError::io("spawn the writer thread for", cfg.dir.clone(), e))?;
        Ok(AofLog { shared, thread: Some(thread) })
    }

    /// Queues `bytes` (whole RESP commands) and returns the log offset just past them.
    /// Never blocks on I/O.
    pub fn append(&self, bytes: &[u8]) -> u64 {
        let mut q = self.shared.queue.lock();
        q.bytes.extend_from_slice(bytes);
        q.end += bytes.len() as u64;
        let end = q.end;
        let wake = std::mem::take(&mut q.writer_waiting);
        drop(q);
        if wake {
            self.shared.wake_writer();
        }
        end
    }

    /// The log offset just past everything appended so far.
    pub fn appended(&self) -> u64 {
        self.shared.queue.lock().end
    }

    /// Highest log offset written (No, EverySec) or written and fsynced (Always).
    pub fn durable(&self) -> u64 {
        self.shared.durable.load(Ordering::Acquire)
    }

    /// Resolves once `durable() >= offset`.
    pub async fn wait_durable(&self, offset: u64) {
        if self.durable() >= offset {
            return;
        }
        let mut rx = self.shared.durable_tx.subscribe();
        // The sender lives as long as `self`, so this only ends when the offset is reached.
        let _ = rx.wait_for(|&d| d >= offset).await;
    }

    /// The durable offset as a watch channel (for callers that select on it).
    pub fn durable_watch(&self) -> watch::Receiver<u64> {
        self.shared.durable_tx.subscribe()
    }

    pub fn set_fsync(&self, f: Fsync) {
        // Under the queue lock, so the writer can't miss the change between checking the
        // policy and going to sleep.
        let q = self.shared.queue.lock();
        self.shared.fsync.store(fsync_code(f), Ordering::Relaxed);
        drop(q);
        self.shared.wake_writer();
    }

    pub fn fsync(&self) -> Fsync {
        fsync_from(self.shared.fsync.load(Ordering::Relaxed))
    }

    /// The last write or fsync failure, until a later one succeeds, as the OS words it
    /// (`No space left on device`): Redis's `-MISCONF Errors writing to the AOF file: ...`.
    pub fn last_write_error(&self) -> Option<String> {
        let own = self.shared.error.lock().clone();
        own.or_else(|| self.shared.bg_sync_error.lock().clone())
    }

    pub fn stats(&self) -> AofStats {
        let buffer_length = self.shared.queue.lock().bytes.len() as u64;
        let current_size = {
            let m = self.shared.manifest.lock();
            m.base.iter().chain(&m.incrs).map(|e| file_len(&self.shared.layout.path(&e.name))).sum()
        };
        AofStats {
            current_size,
            base_size: self.shared.rewrite_base_size.load(Ordering::Relaxed),
            buffer_length,
            pending_fsync: self.shared.fsyncing.load(Ordering::Relaxed),
            delayed_fsync: 0,
            rewrite_in_progress: self.shared.rewriting.load(Ordering::Relaxed),
            last_write_error: self.last_write_error(),
        }
    }

    /// Writes and fsyncs everything appended, then stops the writer thread.
    pub fn close(mut self) -> Result<(), AofError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), AofError> {
        let Some(thread) = self.thread.take() else { return Ok(()) };
        self.shared.queue.lock().closing = true;
        self.shared.wake_writer();
        thread.join().map_err(|_| AofError::WriterGone)?
    }
}

impl Drop for AofLog {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "closing the append-only file");
        }
    }
}

/// The writer thread's state.
struct Writer {
    shared: Arc<Shared>,
    file: File,
    path: PathBuf,
    /// Taken from the queue, written up to `pos`.
    batch: Vec<u8>,
    pos: usize,
    /// Switches with positions in `batch`.
    switches: VecDeque<Switch>,
    /// Log offset just past `batch`.
    batch_end: u64,
    written: u64,
    synced: u64,
    last_fsync: Instant,
    retry_at: Option<Instant>,
    write_error: Option<String>,
    sync_error: Option<String>,
}

impl Writer {
    fn new(shared: Arc<Shared>, file: File, path: PathBuf) -> Writer {
        Writer {
            shared,
            file,
            path,
            batch: Vec::new(),
            pos: 0,
            switches: VecDeque::new(),
            batch_end: 0,
            written: 0,
            synced: 0,
            last_fsync: Instant::now(),
            retry_at: None,
            write_error: None,
            sync_error: None,
        }
    }

    /// The writer loop, with a helper thread for EverySec's fsyncs so that they don't
    /// hold up writing (Redis hands them to a background thread too).
    fn run(mut self) -> Result<(), AofError> {
        let shared = Arc::clone(&self.shared);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel::<(File, PathBuf)>();
            let syncer = std::thread::Builder::new().name("aof-fsync".into()).spawn_scoped(scope, move || background_syncs(&shared, rx));
            if let Err(e) = syncer {
                tracing::warn!(error = %e, "no background fsync thread; the AOF writer will fsync itself");
            }
            // Dropping `tx` when the loop ends stops the helper; the scope waits for it.
            self.write_loop(&tx)
        })
    }

    fn write_loop(&mut self, syncer: &std::sync::mpsc::Sender<(File, PathBuf)>) -> Result<(), AofError> {
        loop {
            let closing = self.take_work();
            let policy = fsync_from(self.shared.fsync.load(Ordering::Relaxed));
            let wrote = self.write_batch();
            if let Err(e) = &wrote {
                if self.write_error.is_none() {
                    tracing::warn!(error = %e, "writing the append-only file");
                }
                self.write_error = Some(os_message(e));
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
            } else {
                self.write_error = None;
                self.retry_at = None;
            }
            let must_sync = closing || policy == Fsync::Always;
            let due = policy == Fsync::EverySec && self.last_fsync.elapsed() >= EVERYSEC;
            if must_sync && self.needs_sync() {
                self.sync();
            } else if self.needs_sync() && due {
                self.background_sync(syncer);
            }
            let durable = if policy == Fsync::Always { self.synced } else { self.written };
            self.publish(durable);
            if closing {
                wrote?;
                // A final fsync may have failed; report it rather than claim the data is safe.
                if self.synced < self.written {
                    return Err(AofError::io("fsync", &self.path, io::Error::other(self.sync_error.clone().unwrap_or_default())));
                }
                return Ok(());
            }
        }
    }

    /// Waits for something to do and moves the queue into `batch`; true when closing.
    fn take_work(&mut self) -> bool {
        let shared = Arc::clone(&self.shared);
        let mut q = shared.queue.lock();
        loop {
            if q.closing {
                break;
            }
            let has_new = !q.bytes.is_empty() || !q.switches.is_empty();
            let now = Instant::now();
            let retry_due = self.retry_at.is_some_and(|t| t <= now);
            let policy = fsync_from(self.shared.fsync.load(Ordering::Relaxed));
            let unsynced = self.needs_sync() && policy != Fsync::No;
            // A failed fsync is retried no sooner than a failed write.
            let sync_at =
                unsynced.then(|| if policy == Fsync::Always { now } else { self.last_fsync + EVERYSEC }).map(|t| self.retry_at.map_or(t, |r| t.max(r)));
            // While a write keeps failing, new appends wait for the retry time.
            if self.retry_at.is_none() && has_new || retry_due || sync_at.is_some_and(|t| t <= now) {
                break;
            }
            let deadline = [self.retry_at, sync_at].into_iter().flatten().min();
            q.writer_waiting = true;
            match deadline {
                Some(t) => {
                    shared.wake.wait_until(&mut q, t);
                }
                None => shared.wake.wait(&mut q),
            }
            q.writer_waiting = false;
        }
        let offset = self.batch.len();
        for mut s in q.switches.drain(..) {
            s.at += offset;
            self.switches.push_back(s);
        }
        if self.batch.is_empty() {
            std::mem::swap(&mut self.batch, &mut q.bytes);
        } else {
            self.batch.extend_from_slice(&q.bytes);
            q.bytes.clear();
        }
        self.batch_end = q.end;
        q.closing
    }

    /// Writes `batch[pos..]`, switching files at the rewrite cuts. On error, `pos` says
    /// how far it got and the next call resumes there, so the file never holds a torn
    /// command followed by other data.
    fn write_batch(&mut self) -> Result<(), AofError> {
        loop {
            let seg_end = self.switches.front().map_or(self.batch.len(), |s| s.at);
            while self.pos < seg_end {
                match self.file.write(&self.batch[self.pos..seg_end]) {
                    Ok(0) => return Err(AofError::io("write", &self.path, io::ErrorKind::WriteZero.into())),
                    Ok(n) => self.pos += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(AofError::io("write", &self.path, e)),
                }
            }
            let Some(switch) = self.switches.front() else { break };
            if switch.at != self.pos {
                break;
            }
            // Everything before the cut must be on disk before the old file is left
            // behind (under Always, replies wait for it; otherwise it is cheap insurance).
            self.file.sync_data().map_err(|e| AofError::io("fsync", &self.path, e))?;
            let Some(switch) = self.switches.pop_front() else { break };
            self.file = switch.file;
            self.path = switch.path;
        }
        self.batch.clear();
        // Keep the buffer for the next batch, unless a burst made it huge.
        if self.batch.capacity() > MAX_KEPT_BUFFER {
            self.batch = Vec::new();
        }
        self.pos = 0;
        self.written = self.batch_end;
        Ok(())
    }

    /// Written data not yet fsynced, or a background fsync that failed (retried each second).
    fn needs_sync(&self) -> bool {
        self.synced < self.written || self.shared.bg_sync_error.lock().is_some()
    }

    /// Hands an fsync of the current file to the helper thread, unless one is still
    /// running (then the next try is a second later, as in Redis).
    fn background_sync(&mut self, syncer: &std::sync::mpsc::Sender<(File, PathBuf)>) {
        self.last_fsync = Instant::now();
        if self.shared.fsyncing.load(Ordering::Acquire) {
            return;
        }
        let Ok(file) = self.file.try_clone() else { return self.sync() };
        self.shared.fsyncing.store(true, Ordering::Release);
        if syncer.send((file, self.path.clone())).is_err() {
            self.shared.fsyncing.store(false, Ordering::Release);
            return self.sync();
        }
        self.synced = self.written;
    }

    fn sync(&mut self) {
        let res = self.file.sync_data();
        self.last_fsync = Instant::now();
        match res {
            Ok(()) => {
                self.synced = self.written;
                self.sync_error = None;
                // Covers whatever a failed background fsync left behind.
                *self.shared.bg_sync_error.lock() = None;
            }
            Err(e) => {
                if self.sync_error.is_none() {
                    tracing::warn!(file = %self.path.display(), error = %e, "fsync of the append-only file");
                }
                self.sync_error = Some(strerror(&e));
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
            }
        }
    }

    fn publish(&mut self, durable: u64) {
        let error = self.write_error.clone().or_else(|| self.sync_error.clone());
        {
            let mut slot = self.shared.error.lock();
            if *slot != error {
                if error.is_none() {
                    tracing::warn!("append-only file write error looks solved");
                }
                *slot = error;
            }
        }
        // Durable only grows, even when the policy changes under it.
        let prev = self.shared.durable.fetch_max(durable, Ordering::AcqRel);
        if durable > prev {
            self.shared.durable_tx.send_replace(durable);
        }
    }
}

/// The helper thread: fsyncs what the writer hands over, one at a time.
fn background_syncs(shared: &Shared, jobs: std::sync::mpsc::Receiver<(File, PathBuf)>) {
    for (file, path) in jobs {
        let res = file.sync_data();
        let mut slot = shared.bg_sync_error.lock();
        match res {
            Ok(()) => *slot = None,
            Err(e) => {
                if slot.is_none() {
                    tracing::warn!(file = %path.display(), error = %e, "background fsync of the append-only file");
                }
                *slot = Some(strerror(&e));
            }
        }
        drop(slot);
        shared.fsyncing.store(false, Ordering::Release);
    }
}

/// An error's OS text without Rust's ` (os error N)` suffix, like C's strerror.
fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_owned(),
        _ => text,
    }
}

fn os_message(e: &AofError) -> String {
    match e {
        AofError::Io { source, .. } => strerror(source),
        other => other.to_string(),
    }
}

fn fsync_code(f: Fsync) -> u8 {
    match f {
        Fsync::Always => 0,
        Fsync::EverySec => 1,
        Fsync::No => 2,
    }
}

fn fsync_from(code: u8) -> Fsync {
    match code {
        0 => Fsync::Always,
        1 => Fsync::EverySec,
        _ => Fsync::No,
    }
}

fn file_len(path: &std::path::Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// Creates an empty file, truncating any leftover of the same name.
pub(super) fn new_file(path: &std::path::Path) -> Result<File, AofError> {
    OpenOptions::new().write(true).create(true).truncate(true).open(path).map_err(|e| AofError::io("create", path, e))
}

/// Writes a new base with `base_writer` into a temp file, syncs it and renames it into
/// place, named for what it holds (`.rdb` when it starts with the RDB magic).
fn write_base(layout: &Layout, seq: i64, base_writer: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<ManifestEntry, AofError> {
    let tmp = layout.temp_base_path(u64::MAX);
    let file = new_file(&tmp)?;
    let mut out = BufWriter::new(file);
    let written = base_writer(&mut out).and_then(|()| out.flush());
    let finish = written.and_then(|()| out.get_ref().sync_all());
    if let Err(e) = finish {
        let _ = fs::remove_file(&tmp);
        return Err(AofError::io("write the base", tmp, e));
    }
    install_base(layout, &tmp, seq)
}

/// Renames a synced temp base into the set as base number `seq`.
pub(super) fn install_base(layout: &Layout, tmp: &std::path::Path, seq: i64) -> Result<ManifestEntry, AofError> {
    let kind: BaseKind = files::sniff_base(tmp)?;
    let name = layout.base_name(seq, kind);
    let path = layout.path(&name);
    if let Err(e) = fs::rename(tmp, &path) {
        let _ = fs::remove_file(tmp);
        return Err(AofError::io("rename the new base to", path, e));
    }
    Ok(ManifestEntry { name, seq, kind: FileKind::Base })
}

/// Deletes the files the manifest keeps as history, then drops them from it. Failures
/// only leave garbage behind (history is never loaded), so they are logged.
pub(super) fn delete_history(layout: &Layout, m: &mut Manifest) {
    if m.history.is_empty() {
        return;
    }
    for h in &m.history {
        let path = layout.path(&h.name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "removing an old append-only file"),
        }
    }
    m.history.clear();
    if let Err(e) = layout.write_manifest(m) {
        tracing::warn!(error = %e, "rewriting the AOF manifest without its history");
    }
}

/// Leftovers of a rewrite or a base that a crash interrupted.
fn remove_temp_files(layout: &Layout) {
    let Ok(entries) = fs::read_dir(&layout.dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("temp-rewriteaof-") {
            let _ = fs::remove_file(entry.path());
        }
    }
}
