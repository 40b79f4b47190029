//! The replication backlog: the last `repl-backlog-size` bytes of the replication stream,
//! addressed by replication offset, so a replica that reconnects can continue from where
//! it stopped (PSYNC partial resync) and every replica link streams from one buffer.

use parking_lot::Mutex;
use tokio::sync::watch;

struct Ring {
    buf: Vec<u8>,
    /// Capacity in bytes (`repl-backlog-size`).
    cap: usize,
    /// Replication offset just past the last byte appended (`master_repl_offset`).
    end: u64,
    /// Bytes held: the stream from `end - len` to `end`.
    len: usize,
}

impl Ring {
    /// Copies the stream from `from` into `out` (at most `max` bytes); None when `from` is
    /// no longer (or not yet) held.
    fn read(&self, from: u64, max: usize, out: &mut Vec<u8>) -> Option<usize> {
        let start = self.end - self.len as u64;
        if from < start || from > self.end {
            return None;
        }
        let n = ((self.end - from) as usize).min(max);
        if n == 0 || self.cap == 0 {
            return Some(0);
        }
        // Position of `from` in the ring: the byte at offset `o` lives at `o % cap`.
        let mut pos = (from % self.cap as u64) as usize;
        let mut left = n;
        while left > 0 {
            let chunk = left.min(self.cap - pos);
            out.extend_from_slice(&self.buf[pos..pos + chunk]);
            left -= chunk;
            pos = 0;
        }
        Some(n)
    }

    fn append(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        self.end += n as u64;
        if self.cap == 0 {
            return;
        }
        if self.buf.len() < self.cap {
            // Grown lazily: an idle node pays nothing for a large backlog setting.
            self.buf.resize(self.cap, 0);
        }
        let mut tail = if n > self.cap { &bytes[n - self.cap..] } else { bytes };
        let mut pos = ((self.end - tail.len() as u64) % self.cap as u64) as usize;
        while !tail.is_empty() {
            let chunk = tail.len().min(self.cap - pos);
            self.buf[pos..pos + chunk].copy_from_slice(&tail[..chunk]);
            tail = &tail[chunk..];
            pos = 0;
        }
        self.len = (self.len + n).min(self.cap);
    }
}

pub struct Backlog {
    ring: Mutex<Ring>,
    /// The end offset, for links waiting for more.
    end_tx: watch::Sender<u64>,
}

impl Backlog {
    /// An empty backlog whose stream starts at `offset`.
    pub fn new(cap: usize, offset: u64) -> Backlog {
        let (end_tx, _) = watch::channel(offset);
        Backlog { ring: Mutex::new(Ring { buf: Vec::new(), cap, end: offset, len: 0 }), end_tx }
    }

    pub fn append(&self, bytes: &[u8]) -> u64 {
        let end = {
            let mut r = self.ring.lock();
            r.append(bytes);
            r.end
        };
        self.end_tx.send_replace(end);
        end
    }

    /// Offset just past the last byte (`master_repl_offset`).
    pub fn end(&self) -> u64 {
        self.ring.lock().end
    }

    /// First offset still held (`repl_backlog_first_byte_offset` is this + 1 in Redis's
    /// numbering) and bytes held (`repl_backlog_histlen`).
    pub fn range(&self) -> (u64, usize) {
        let r = self.ring.lock();
        (r.end - r.len as u64, r.len)
    }

    pub fn capacity(&self) -> usize {
        self.ring.lock().cap
    }

    /// Copies up to `max` bytes from offset `from`; None when they are gone (the
    /// replica fell too far behind) or `from` is past the end.
    pub fn read(&self, from: u64, max: usize, out: &mut Vec<u8>) -> Option<usize> {
        self.ring.lock().read(from, max, out)
    }

    /// Whether a partial resync from `from` can be served.
    pub fn holds(&self, from: u64) -> bool {
        let r = self.ring.lock();
        from >= r.end - r.len as u64 && from <= r.end
    }

    /// Resizes (CONFIG SET repl-backlog-size), keeping the newest bytes that fit.
    pub fn resize(&self, cap: usize) {
        let mut r = self.ring.lock();
        if cap == r.cap {
            return;
        }
        let keep = r.len.min(cap);
        let mut tail = Vec::with_capacity(keep);
        let from = r.end - keep as u64;
        let _ = r.read(from, keep, &mut tail);
        let end = r.end;
        *r = Ring { buf: Vec::new(), cap, end: end - keep as u64, len: 0 };
        r.append(&tail);
        debug_assert_eq!(r.end, end);
    }

    /// Empties the backlog and restarts its stream at `offset` (a replica after a full
    /// sync takes its primary's offset).
    pub fn reset(&self, offset: u64) {
        let mut r = self.ring.lock();
        let cap = r.cap;
        *r = Ring { buf: Vec::new(), cap, end: offset, len: 0 };
        drop(r);
        self.end_tx.send_replace(offset);
    }

    /// Subscribes to the end offset (a link waits on it for new bytes).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.end_tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_by_offset_across_the_wrap() {
        let b = Backlog::new(8, 100);
        assert_eq!(b.end(), 100);
        b.append(b"abcdef");
        let mut out = Vec::new();
        assert_eq!(b.read(100, 100, &mut out), Some(6));
        assert_eq!(out, b"abcdef");
        b.append(b"ghijk");
        assert_eq!(b.range(), (103, 8));
        out.clear();
        assert_eq!(b.read(103, 100, &mut out), Some(8));
        assert_eq!(out, b"defghijk");
        assert_eq!(b.read(102, 1, &mut out), None, "overwritten");
        assert_eq!(b.read(112, 1, &mut out), None, "not written yet");
        out.clear();
        assert_eq!(b.read(111, 1, &mut out), Some(0));
        assert!(b.holds(103) && b.holds(111) && !b.holds(102));
        b.resize(4);
        out.clear();
        assert_eq!(b.read(107, 10, &mut out), Some(4));
        assert_eq!(out, b"hijk");
        b.append(b"0123456789");
        out.clear();
        assert_eq!(b.read(117, 10, &mut out), Some(4));
        assert_eq!(out, b"6789");
    }

    proptest! {
        /// The ring always holds exactly the last min(cap, written) bytes of the stream.
        #[test]
        fn ring_matches_the_tail_of_the_stream(cap in 0usize..64, start in 0u64..1000, chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..30)) {
            let b = Backlog::new(cap, start);
            let mut all = Vec::new();
            for c in &chunks {
                b.append(c);
                all.extend_from_slice(c);
                let held = all.len().min(cap);
                prop_assert_eq!(b.range(), (start + (all.len() - held) as u64, held));
                let mut out = Vec::new();
                prop_assert_eq!(b.read(start + (all.len() - held) as u64, usize::MAX, &mut out), Some(held));
                prop_assert_eq!(&out[..], &all[all.len() - held..]);
            }
        }
    }
}
