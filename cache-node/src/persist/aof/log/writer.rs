//! The writer thread: writes what no connection wrote itself (everything under
//! `always`; leftovers and rewrite cuts otherwise), fsyncs per the policy, retries
//! failed writes, and publishes the durable offset.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::super::Fsync;
use super::super::error::AofError;
use super::{Shared, strerror};

const EVERYSEC: Duration = Duration::from_secs(1);
/// Under `everysec`/`no`, connections write their own appends; bytes nobody waits for
/// (keys deleted by the expiry cron) are written by the writer thread this much later.
const LEFTOVER_DELAY: Duration = Duration::from_millis(100);

type SyncJob = (Arc<File>, Arc<PathBuf>);

pub(super) struct Writer {
    shared: Arc<Shared>,
    /// Log offset fsynced (or handed to the fsync helper).
    synced: u64,
    last_fsync: Instant,
    sync_error: Option<String>,
    /// When the writer first saw queued bytes it leaves to the connections.
    leftovers_since: Option<Instant>,
}

impl Writer {
    pub fn new(shared: Arc<Shared>) -> Writer {
        Writer { shared, synced: 0, last_fsync: Instant::now(), sync_error: None, leftovers_since: None }
    }

    /// The writer loop, with a helper thread for EverySec's fsyncs so that they don't
    /// hold up writing (Redis hands them to a background thread too).
    pub fn run(mut self) -> Result<(), AofError> {
        let shared = Arc::clone(&self.shared);
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<SyncJob>();
            let syncer = std::thread::Builder::new().name("aof-fsync".into()).spawn_scoped(scope, move || background_syncs(&shared, rx));
            if let Err(e) = syncer {
                tracing::warn!(error = %e, "no background fsync thread; the AOF writer will fsync itself");
            }
            // Dropping `tx` when the loop ends stops the helper; the scope waits for it.
            self.write_loop(&tx)
        })
    }

    fn write_loop(&mut self, syncer: &mpsc::Sender<SyncJob>) -> Result<(), AofError> {
        loop {
            let closing = self.wait_for_work();
            let (policy, wrote, written, file, path) = {
                let mut out = self.shared.output.lock();
                // Read under the output lock, which `set_fsync` takes too: bytes taken
                // after a switch to Always are never published before their fsync.
                let policy = self.shared.policy();
                out.take(&mut self.shared.queue.lock());
                let wrote = out.write();
                self.shared.record_write(&mut out, &wrote);
                if policy != Fsync::Always {
                    self.shared.publish(out.written);
                }
                (policy, wrote, out.written, Arc::clone(&out.file), Arc::clone(&out.path))
            };
            let must_sync = closing || policy == Fsync::Always;
            let due = policy == Fsync::EverySec && self.last_fsync.elapsed() >= EVERYSEC;
            if self.needs_sync(written) {
                if must_sync {
                    self.sync(&file, &path, written);
                } else if due {
                    self.background_sync(syncer, file, path, written);
                }
            }
            if policy == Fsync::Always {
                self.shared.publish(self.synced);
            }
            if closing {
                wrote?;
                // A final fsync may have failed; report it rather than claim the data is safe.
                if self.synced < written {
                    let e = io::Error::other(self.sync_error.clone().unwrap_or_default());
                    return Err(AofError::io("fsync", &*self.shared.output.lock().path, e));
                }
                return Ok(());
            }
        }
    }

    /// Waits until there is something to do; true when closing.
    fn wait_for_work(&mut self) -> bool {
        let shared = Arc::clone(&self.shared);
        let mut q = shared.queue.lock();
        loop {
            if q.closing {
                return true;
            }
            let now = Instant::now();
            if q.retry_at.is_some_and(|t| t <= now) {
                q.retry_at = None;
                return false;
            }
            let policy = shared.policy();
            let has_new = !q.bytes.is_empty() || !q.switches.is_empty();
            // Everything appended counts, written by a connection or still queued.
            let unsynced = policy != Fsync::No && (self.synced < q.end || shared.bg_sync_error.lock().is_some());
            // A failed fsync is retried no sooner than a failed write.
            let after_retry = |t: Instant| q.retry_at.map_or(t, |r| t.max(r));
            let sync_at = unsynced.then(|| after_retry(if policy == Fsync::Always { now } else { self.last_fsync + EVERYSEC }));
            // Under Always the appenders wait for this thread; otherwise they write
            // themselves and only a cut (which needs an fsync first) is urgent.
            let write_at = if !has_new {
                self.leftovers_since = None;
                None
            } else if policy == Fsync::Always || !q.switches.is_empty() {
                Some(now)
            } else {
                Some(*self.leftovers_since.get_or_insert(now) + LEFTOVER_DELAY)
            };
            // While a write keeps failing, new appends wait for the retry time.
            let write_at = write_at.map(after_retry);
            let deadline = [q.retry_at, sync_at, write_at].into_iter().flatten().min();
            if deadline.is_some_and(|t| t <= now) {
                self.leftovers_since = None;
                return false;
            }
            // Appends wake us when nothing else will: we sleep with no deadline, or
            // they are what we wait for (Always).
            q.notify_on_append = deadline.is_none() || policy == Fsync::Always;
            match deadline {
                Some(t) => {
                    shared.wake.wait_until(&mut q, t);
                }
                None => shared.wake.wait(&mut q),
            }
            q.notify_on_append = false;
        }
    }

    /// Written data not yet fsynced, or a background fsync that failed (retried each second).
    fn needs_sync(&self, written: u64) -> bool {
        self.synced < written || self.shared.bg_sync_error.lock().is_some()
    }

    /// Hands an fsync of the current file to the helper thread, unless one is still
    /// running (then the next try is a second later, as in Redis).
    fn background_sync(&mut self, syncer: &mpsc::Sender<SyncJob>, file: Arc<File>, path: Arc<PathBuf>, written: u64) {
        self.last_fsync = Instant::now();
        if self.shared.fsyncing.load(Ordering::Acquire) {
            return;
        }
        self.shared.fsyncing.store(true, Ordering::Release);
        if let Err(mpsc::SendError((file, path))) = syncer.send((file, path)) {
            self.shared.fsyncing.store(false, Ordering::Release);
            return self.sync(&file, &path, written);
        }
        self.synced = written;
    }

    fn sync(&mut self, file: &File, path: &std::path::Path, written: u64) {
        let res = file.sync_data();
        self.last_fsync = Instant::now();
        match res {
            Ok(()) => {
                self.synced = written;
                if self.sync_error.take().is_some() {
                    tracing::warn!("append-only file fsync error looks solved");
                    *self.shared.sync_error.lock() = None;
                }
                // Covers whatever a failed background fsync left behind.
                *self.shared.bg_sync_error.lock() = None;
            }
            Err(e) => {
                if self.sync_error.is_none() {
                    tracing::warn!(file = %path.display(), error = %e, "fsync of the append-only file");
                }
                let text = strerror(&e);
                self.sync_error = Some(text.clone());
                *self.shared.sync_error.lock() = Some(text);
                self.shared.queue.lock().retry_at = Some(Instant::now() + super::RETRY_AFTER);
            }
        }
    }
}

/// The helper thread: fsyncs what the writer hands over, one at a time.
fn background_syncs(shared: &Shared, jobs: mpsc::Receiver<SyncJob>) {
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
