//! The open log: `append` copies a write effect into an in-memory queue (one short mutex,
//! one memcpy: it runs while the caller holds partition locks). Before a connection
//! replies, the bytes its replies acknowledge must be in the file:
//!
//! - under `everysec` and `no` the connection writes them itself (`write_through`), with
//!   everything else queued (group commit), as Redis writes its AOF buffer in its event
//!   loop: no hand-off to another thread and back on each request;
//! - under `always` the writer thread writes and fdatasyncs (one for everything queued),
//!   so that no connection thread blocks in an fsync.
//!
//! The writer thread (`writer`) also fsyncs once a second under `everysec`, writes what
//! nobody waits for, crosses rewrite cuts and retries failed writes.

mod output;
mod relay;
#[cfg(test)]
mod tests;
mod writer;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use self::output::Output;
use self::writer::Writer;
use super::error::AofError;
use super::files::{self, Layout};
use super::manifest::{FileKind, Manifest, ManifestEntry};
use super::{AofConfig, BaseKind, Fsync};

/// How long a failed write waits before it is tried again (Redis retries from its cron).
const RETRY_AFTER: Duration = Duration::from_millis(200);

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

/// Appends not yet taken by a writer.
pub(super) struct Queue {
    pub bytes: Vec<u8>,
    /// Log offset just past `bytes`.
    pub end: u64,
    /// File switches (rewrite cuts) at positions in `bytes`.
    pub switches: Vec<Switch>,
    pub closing: bool,
    /// The writer thread sleeps until an append wakes it.
    notify_on_append: bool,
    /// After a failed write or fsync: when the writer thread tries again (nobody writes
    /// before).
    retry_at: Option<Instant>,
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
    /// Lock order: `output`, then `queue`.
    output: Mutex<Output>,
    durable: AtomicU64,
    durable_tx: watch::Sender<u64>,
    /// Changed under the output lock (see `set_fsync`).
    fsync: AtomicU8,
    /// The last write failure, until a write succeeds.
    write_error: Mutex<Option<String>>,
    /// The writer thread's last fsync failure, until one succeeds.
    sync_error: Mutex<Option<String>>,
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

    fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    fn policy(&self) -> Fsync {
        fsync_from(self.fsync.load(Ordering::Relaxed))
    }

    /// Notes a write's outcome (called with the output lock held).
    fn record_write(&self, out: &mut Output, res: &Result<(), AofError>) {
        match res {
            Ok(()) => {
                if out.error.take().is_some() {
                    tracing::warn!("append-only file write error looks solved");
                    *self.write_error.lock() = None;
                }
            }
            Err(e) => {
                if out.error.is_none() {
                    tracing::warn!(error = %e, "writing the append-only file");
                }
                let text = os_message(e);
                out.error = Some(text.clone());
                *self.write_error.lock() = Some(text);
                self.queue.lock().retry_at = Some(Instant::now() + RETRY_AFTER);
            }
        }
    }

    /// Raises the durable offset; it only grows, whoever publishes and in whatever order.
    fn publish(&self, durable: u64) {
        let prev = self.durable.fetch_max(durable, Ordering::AcqRel);
        if durable > prev {
            self.durable_tx.send_if_modified(|d| {
                let grows = durable > *d;
                if grows {
                    *d = durable;
                }
                grows
            });
        }
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
        let queue = Queue { bytes: Vec::new(), end: 0, switches: Vec::new(), closing: false, notify_on_append: false, retry_at: None };
        let shared = Arc::new(Shared {
            layout,
            queue: Mutex::new(queue),
            wake: Condvar::new(),
            output: Mutex::new(Output::new(file, path)),
            durable: AtomicU64::new(0),
            durable_tx,
            fsync: AtomicU8::new(fsync_code(cfg.fsync)),
            write_error: Mutex::new(None),
            sync_error: Mutex::new(None),
            fsyncing: AtomicBool::new(false),
            bg_sync_error: Mutex::new(None),
            manifest: Mutex::new(m),
            rewriting: AtomicBool::new(false),
            rewrite_base_size: AtomicU64::new(0),
            next_tag: AtomicU64::new(0),
        });
        let base_size = shared.manifest.lock().base.as_ref().map_or(0, |b| file_len(&shared.layout.path(&b.name)));
        shared.rewrite_base_size.store(base_size, Ordering::Relaxed);
        let writer = Writer::new(Arc::clone(&shared));
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
        let wake = std::mem::take(&mut q.notify_on_append);
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

    /// Under `everysec` and `no`, makes `durable() >= offset` by writing everything
    /// queued on the calling thread (unless another caller's write already covered it:
    /// then this only waited for the file lock). Returns false when that is not this
    /// caller's job: under `always` (the writer thread fsyncs, off the connection
    /// threads), at a rewrite cut, or while a failed write waits for its retry.
    pub fn write_through(&self, offset: u64) -> bool {
        let shared = &*self.shared;
        if shared.durable() >= offset {
            return true;
        }
        // Checked again under the lock; this spares Always's connections the lock.
        if shared.policy() == Fsync::Always {
            return false;
        }
        let mut out = shared.output.lock();
        if shared.durable() >= offset {
            return true;
        }
        if shared.policy() == Fsync::Always || out.error.is_some() {
            return false;
        }
        {
            let mut q = shared.queue.lock();
            if out.at_cut(&q) {
                // start_rewrite woke the writer thread for it.
                return false;
            }
            out.take(&mut q);
        }
        let res = out.write();
        shared.record_write(&mut out, &res);
        if res.is_err() {
            drop(out);
            // It now has a retry to schedule.
            shared.wake_writer();
            return false;
        }
        shared.publish(out.written);
        drop(out);
        self.durable() >= offset
    }

    /// Resolves once `durable() >= offset`: at once under `everysec`/`no` (the caller
    /// writes, see `write_through`), otherwise when the writer thread gets there.
    pub async fn wait_durable(&self, offset: u64) {
        if !self.write_through(offset) {
            relay::wait(&self.shared, offset).await;
        }
    }

    /// The durable offset as a watch channel (for callers that select on it).
    pub fn durable_watch(&self) -> watch::Receiver<u64> {
        self.shared.durable_tx.subscribe()
    }

    pub fn set_fsync(&self, f: Fsync) {
        // Under the output lock, so that no write taken after this returns is published
        // by the old policy's rule; under the queue lock, so the writer can't miss the
        // change between checking the policy and going to sleep.
        let out = self.shared.output.lock();
        let q = self.shared.queue.lock();
        self.shared.fsync.store(fsync_code(f), Ordering::Relaxed);
        drop(q);
        drop(out);
        self.shared.wake_writer();
    }

    pub fn fsync(&self) -> Fsync {
        self.shared.policy()
    }

    /// The last write or fsync failure, until a later one succeeds, as the OS words it
    /// (`No space left on device`): Redis's `-MISCONF Errors writing to the AOF file: ...`.
    pub fn last_write_error(&self) -> Option<String> {
        let s = &self.shared;
        let own = s.write_error.lock().clone();
        own.or_else(|| s.sync_error.lock().clone()).or_else(|| s.bg_sync_error.lock().clone())
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
