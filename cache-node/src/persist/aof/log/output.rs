//! The file being appended to, and the bytes taken from the queue but not written yet.
//! It sits behind one mutex (`Shared::output`): whoever holds it writes everything
//! queued so far — the writer thread, or under `everysec`/`no` a connection that needs
//! its own writes in the file before it replies (group commit without a hand-off).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::super::error::AofError;
use super::{Queue, Switch};

/// Batch buffers larger than this are not kept for the next batch (a burst passed).
const MAX_KEPT_BUFFER: usize = 16 << 20;

pub(in crate::persist::aof) struct Output {
    /// Shared with the fsync that runs without this lock held.
    pub file: Arc<File>,
    pub path: Arc<PathBuf>,
    /// Taken from the queue, written up to `pos`.
    batch: Vec<u8>,
    pos: usize,
    /// Rewrite cuts with positions in `batch`.
    switches: VecDeque<Switch>,
    /// Log offset just past `batch`.
    batch_end: u64,
    /// Log offset written to the files.
    pub written: u64,
    /// The last write failure, until a write succeeds (the queue's `retry_at` says when
    /// the writer thread tries again; nobody else writes meanwhile).
    pub error: Option<String>,
}

impl Output {
    pub fn new(file: File, path: PathBuf) -> Output {
        Output { file: Arc::new(file), path: Arc::new(path), batch: Vec::new(), pos: 0, switches: VecDeque::new(), batch_end: 0, written: 0, error: None }
    }

    /// Whether a rewrite cut is queued or half done (only the writer thread crosses one:
    /// it fsyncs the old file first).
    pub fn at_cut(&self, q: &Queue) -> bool {
        !self.switches.is_empty() || !q.switches.is_empty()
    }

    /// Moves everything queued into the batch.
    pub fn take(&mut self, q: &mut Queue) {
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
    }

    /// Writes `batch[pos..]`, switching files at the rewrite cuts. On error, `pos` says
    /// how far it got and the next call resumes there, so the file never holds a torn
    /// command followed by other data.
    pub fn write(&mut self) -> Result<(), AofError> {
        loop {
            let seg_end = self.switches.front().map_or(self.batch.len(), |s| s.at);
            while self.pos < seg_end {
                match (&*self.file).write(&self.batch[self.pos..seg_end]) {
                    Ok(0) => return Err(AofError::io("write", &*self.path, io::ErrorKind::WriteZero.into())),
                    Ok(n) => self.pos += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(AofError::io("write", &*self.path, e)),
                }
            }
            let Some(switch) = self.switches.front() else { break };
            if switch.at != self.pos {
                break;
            }
            // Everything before the cut must be on disk before the old file is left
            // behind (under Always, replies wait for it; otherwise it is cheap insurance).
            self.file.sync_data().map_err(|e| AofError::io("fsync", &*self.path, e))?;
            let Some(switch) = self.switches.pop_front() else { break };
            self.file = Arc::new(switch.file);
            self.path = Arc::new(switch.path);
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
}
