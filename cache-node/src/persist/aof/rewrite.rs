//! BGREWRITEAOF in two steps, each leaving a set that loads correctly if the process
//! dies right after it:
//!
//! 1. `start_rewrite` (at the cut, under every partition lock): a new incremental file
//!    joins the manifest and appends switch to it. On disk: old base + old incrs + new
//!    incr, which together still replay everything.
//! 2. `finish_rewrite` (in the background, once the new base is written): the base is
//!    synced and renamed into place, and the manifest replaced by new base + incrs from
//!    the cut on; the old files are then deleted. A crash before the manifest is
//!    replaced leaves step 1's set (plus an ignored temp file).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::error::AofError;
use super::log::{self, AofLog, Shared, Switch};
use super::manifest::{FileKind, ManifestEntry};

/// A rewrite in progress. Dropping it without `finish_rewrite` aborts it.
pub struct Rewrite {
    shared: Arc<Shared>,
    /// The first incremental file after the cut.
    cut_seq: i64,
    temp: PathBuf,
    done: bool,
}

impl Rewrite {
    /// Creates (or empties) the temp file the new base goes into; write it in full (an
    /// RDB for `aof-use-rdb-preamble yes`, commands otherwise). `finish_rewrite` syncs it.
    pub fn base_file(&self) -> Result<File, AofError> {
        log::new_file(&self.temp)
    }

    pub fn base_path(&self) -> &Path {
        &self.temp
    }
}

impl Drop for Rewrite {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.temp);
            self.shared.rewriting.store(false, Ordering::Release);
        }
    }
}

impl AofLog {
    /// Step 1: opens the next incremental file, records it in the manifest and makes every
    /// later `append` go to it. Quick (one file creation and one manifest replacement),
    /// since it runs while the caller holds every partition lock.
    pub fn start_rewrite(&self) -> Result<Rewrite, AofError> {
        let shared = &self.shared;
        if shared.rewriting.swap(true, Ordering::AcqRel) {
            return Err(AofError::RewriteInProgress);
        }
        let tag = shared.next_tag.fetch_add(1, Ordering::Relaxed);
        // From here on, dropping `rw` clears `rewriting` on any error.
        let mut rw = Rewrite { shared: Arc::clone(shared), cut_seq: 0, temp: shared.layout.temp_base_path(tag), done: false };
        let mut m = shared.manifest.lock();
        let seq = m.last_incr_seq() + 1;
        let name = shared.layout.incr_name(seq);
        let path = shared.layout.path(&name);
        let file = log::new_file(&path)?;
        let mut next = m.clone();
        next.incrs.push(ManifestEntry { name, seq, kind: FileKind::Incr });
        if let Err(e) = shared.layout.write_manifest(&next) {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        *m = next;
        drop(m);
        let mut q = shared.queue.lock();
        let at = q.bytes.len();
        q.switches.push(Switch { at, file, path });
        drop(q);
        shared.wake_writer();
        rw.cut_seq = seq;
        Ok(rw)
    }

    /// Step 2: installs the base written into `rw.base_file()` and drops the files it
    /// replaces. On error the set on disk is still step 1's, and valid.
    pub fn finish_rewrite(&self, mut rw: Rewrite) -> Result<(), AofError> {
        let shared = &self.shared;
        let layout = &shared.layout;
        File::open(&rw.temp).and_then(|f| f.sync_all()).map_err(|e| AofError::io("fsync the new base", &rw.temp, e))?;
        let mut m = shared.manifest.lock();
        let base = log::install_base(layout, &rw.temp, m.base_seq() + 1)?;
        let mut next = m.clone();
        let as_history = |e: ManifestEntry| ManifestEntry { kind: FileKind::History, ..e };
        next.history.extend(next.base.replace(base.clone()).map(as_history));
        let (old, kept): (Vec<_>, Vec<_>) = next.incrs.drain(..).partition(|e| e.seq < rw.cut_seq);
        next.history.extend(old.into_iter().map(as_history));
        next.incrs = kept;
        if let Err(e) = layout.write_manifest(&next) {
            let _ = fs::remove_file(layout.path(&base.name));
            return Err(e);
        }
        *m = next;
        log::delete_history(layout, &mut m);
        let size: u64 = m.base.iter().chain(&m.incrs).filter_map(|e| fs::metadata(layout.path(&e.name)).ok()).map(|md| md.len()).sum();
        drop(m);
        shared.rewrite_base_size.store(size, Ordering::Relaxed);
        rw.done = true;
        shared.rewriting.store(false, Ordering::Release);
        Ok(())
    }

    /// Gives up on `rw`: its temp file goes; the set stays old base + every incr file.
    pub fn abort_rewrite(&self, rw: Rewrite) {
        drop(rw);
    }
}
