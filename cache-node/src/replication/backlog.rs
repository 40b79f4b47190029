//! The replication backlog: the last `repl-backlog-size` bytes of the replication stream,
//! addressed by replication offset, so a replica that reconnects can continue from where
//! it stopped (PSYNC partial resync) and every replica link streams from one buffer.
//!
//! A connected replica holds its place in the stream (`Hold`): bytes it has yet to receive
//! are kept even beyond `repl-backlog-size`, up to the replica output-buffer hard limit,
//! as Redis 7 keeps a lagging replica's share of its replication buffer. Without that, a
//! replica behind by more than the backlog (a full sync under heavy writes, a burst of
//! pipelined writes) was dropped and resynced again and again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Bytes kept past `repl-backlog-size` for replicas (process-wide, like the allocator's
/// count): not counted against `maxmemory`, as Redis does not count replica buffers.
static RETAINED_FOR_REPLICAS: AtomicU64 = AtomicU64::new(0);

/// Bytes held beyond the backlog size for replicas still receiving them.
pub fn retained_for_replicas() -> u64 {
    RETAINED_FOR_REPLICAS.load(Relaxed)
}

/// Most bytes a reader copies per hold of the ring's lock.
const READ_SLICE: usize = 16 * 1024;

/// Default replica output-buffer hard limit (256 MiB), until a link sets the configured one.
const DEFAULT_HOLD_LIMIT: usize = 256 << 20;

struct Ring {
    /// The stream from `end - buf.len()` to `end`.
    buf: VecDeque<u8>,
    /// Capacity in bytes (`repl-backlog-size`).
    cap: usize,
    /// Replication offset just past the last byte appended (`master_repl_offset`).
    end: u64,
    /// (hold id, first offset that replica still needs).
    holds: Vec<(u64, u64)>,
    next_hold: u64,
    /// Most bytes kept for a hold (the replica class's hard output-buffer limit; 0: none).
    hold_limit: usize,
}

impl Ring {
    fn new(cap: usize, end: u64) -> Ring {
        Ring { buf: VecDeque::new(), cap, end, holds: Vec::new(), next_hold: 0, hold_limit: DEFAULT_HOLD_LIMIT }
    }

    fn start(&self) -> u64 {
        self.end - self.buf.len() as u64
    }

    /// Copies the stream from `from` into `out` (at most `max` bytes); None when `from` is
    /// no longer (or not yet) held.
    fn read(&self, from: u64, max: usize, out: &mut Vec<u8>) -> Option<usize> {
        if from < self.start() || from > self.end {
            return None;
        }
        let n = ((self.end - from) as usize).min(max);
        let skip = (from - self.start()) as usize;
        let (a, b) = self.buf.as_slices();
        if skip < a.len() {
            let first = n.min(a.len() - skip);
            out.extend_from_slice(&a[skip..skip + first]);
            out.extend_from_slice(&b[..n - first]);
        } else {
            let s = skip - a.len();
            out.extend_from_slice(&b[s..s + n]);
        }
        Some(n)
    }

    fn append(&mut self, bytes: &[u8]) {
        self.end += bytes.len() as u64;
        if self.cap == 0 && self.holds.is_empty() {
            self.buf.clear();
            return;
        }
        // Only what can be kept is copied: a write larger than the ring keeps its tail.
        let keep = self.keep();
        let tail = if bytes.len() > keep { &bytes[bytes.len() - keep..] } else { bytes };
        self.buf.extend(tail);
        self.trim();
    }

    /// Bytes to keep: the backlog size, or more while a replica still needs them (within
    /// the hold limit).
    fn keep(&self) -> usize {
        let needed = self.holds.iter().map(|&(_, pos)| self.end.saturating_sub(pos)).max().unwrap_or(0);
        let limit = if self.hold_limit == 0 { usize::MAX } else { self.hold_limit };
        self.cap.max(usize::try_from(needed).unwrap_or(usize::MAX).min(limit))
    }

    fn trim(&mut self) {
        let keep = self.keep();
        if self.buf.len() > keep {
            self.buf.drain(..self.buf.len() - keep);
        }
        // Give back what a replica that caught up no longer needs.
        let floor = keep.max(self.buf.len()).max(1 << 20);
        if self.buf.capacity() > 4 * floor {
            self.buf.shrink_to(2 * floor);
        }
        RETAINED_FOR_REPLICAS.store(self.buf.len().saturating_sub(self.cap) as u64, Relaxed);
    }
}

pub struct Backlog {
    ring: Mutex<Ring>,
    /// `ring.end`, stored under the ring's lock: the offset is read without it (INFO,
    /// every link pass, every replica ACK).
    end: AtomicU64,
    /// Links waiting for the end to move. An append rings `moved` only when one is
    /// waiting: on the write path that is one atomic load, where a watch channel
    /// took a lock per waiter slot on every write.
    waiting: AtomicUsize,
    moved: Notify,
    /// `ring.hold_limit`, stored under the ring's lock.
    hold_limit: AtomicUsize,
}

/// Counts a link as waiting while it lives (also when its future is dropped mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// A replica link's place in the stream: bytes from `pos` on are kept for it (within the
/// hold limit) until it advances. Released on drop.
pub struct Hold {
    backlog: Arc<Backlog>,
    id: u64,
}

impl Hold {
    /// The replica has been sent everything before `pos`.
    pub fn advance(&self, pos: u64) {
        let mut r = self.backlog.ring.lock();
        if let Some(h) = r.holds.iter_mut().find(|h| h.0 == self.id) {
            h.1 = pos;
        }
        r.trim();
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut r = self.backlog.ring.lock();
        r.holds.retain(|h| h.0 != self.id);
        r.trim();
    }
}

impl Backlog {
    /// An empty backlog whose stream starts at `offset`.
    pub fn new(cap: usize, offset: u64) -> Backlog {
        Backlog {
            ring: Mutex::new(Ring::new(cap, offset)),
            end: AtomicU64::new(offset),
            waiting: AtomicUsize::new(0),
            moved: Notify::new(),
            hold_limit: AtomicUsize::new(DEFAULT_HOLD_LIMIT),
        }
    }

    pub fn append(&self, bytes: &[u8]) -> u64 {
        let end = {
            let mut r = self.ring.lock();
            r.append(bytes);
            // SeqCst with the waiter's count and load (`moved_from`): either the waiter
            // sees this end or this append sees the waiter.
            self.end.store(r.end, SeqCst);
            r.end
        };
        self.wake();
        end
    }

    fn wake(&self) {
        if self.waiting.load(SeqCst) > 0 {
            self.moved.notify_waiters();
        }
    }

    /// Offset just past the last byte (`master_repl_offset`).
    pub fn end(&self) -> u64 {
        self.end.load(SeqCst)
    }

    /// Resolves once the end is no longer `pos` (bytes were appended, or the stream
    /// was reset).
    pub async fn moved_from(&self, pos: u64) {
        loop {
            let woken = self.moved.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let _waiting = Waiting::new(&self.waiting);
            if self.end.load(SeqCst) != pos {
                return;
            }
            woken.await;
        }
    }

    /// First offset still held (`repl_backlog_first_byte_offset` is this + 1 in Redis's
    /// numbering) and bytes held (`repl_backlog_histlen`).
    pub fn range(&self) -> (u64, usize) {
        let r = self.ring.lock();
        (r.start(), r.buf.len())
    }

    /// Bytes held beyond the backlog size for replicas.
    pub fn retained(&self) -> usize {
        let r = self.ring.lock();
        r.buf.len().saturating_sub(r.cap)
    }

    pub fn capacity(&self) -> usize {
        self.ring.lock().cap
    }

    /// Copies up to `max` bytes from offset `from`; None when they are gone (the
    /// replica fell too far behind) or `from` is past the end. The copy is made
    /// `READ_SLICE` bytes per hold of the lock: every write command of every worker
    /// appends under it, and one long copy made them all sleep on it.
    pub fn read(&self, from: u64, max: usize, out: &mut Vec<u8>) -> Option<usize> {
        let mut got = self.ring.lock().read(from, max.min(READ_SLICE), out)?;
        while got < max {
            match self.ring.lock().read(from + got as u64, (max - got).min(READ_SLICE), out) {
                Some(0) | None => break,
                Some(n) => got += n,
            }
        }
        Some(got)
    }

    /// Whether a partial resync from `from` can be served.
    pub fn holds(&self, from: u64) -> bool {
        let r = self.ring.lock();
        from >= r.start() && from <= r.end
    }

    /// Holds the stream from its current end (a full resync's cut): returns the hold and
    /// that offset.
    pub fn hold_end(self: &Arc<Self>) -> (Hold, u64) {
        let mut r = self.ring.lock();
        let (id, end) = (r.next_hold, r.end);
        r.next_hold += 1;
        r.holds.push((id, end));
        drop(r);
        (Hold { backlog: self.clone(), id }, end)
    }

    /// Holds the stream from `from` (a partial resync), if it is still there.
    pub fn hold_from(self: &Arc<Self>, from: u64) -> Option<Hold> {
        let mut r = self.ring.lock();
        if from < r.start() || from > r.end {
            return None;
        }
        let id = r.next_hold;
        r.next_hold += 1;
        r.holds.push((id, from));
        drop(r);
        Some(Hold { backlog: self.clone(), id })
    }

    /// Most bytes kept for one replica (its output-buffer hard limit; 0: no limit).
    pub fn set_hold_limit(&self, bytes: u64) {
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        // Links call this after every write: the lock only when the limit changed.
        if self.hold_limit.load(Relaxed) == bytes {
            return;
        }
        let mut r = self.ring.lock();
        self.hold_limit.store(bytes, Relaxed);
        if r.hold_limit != bytes {
            r.hold_limit = bytes;
            r.trim();
        }
    }

    /// Resizes (CONFIG SET repl-backlog-size), keeping the newest bytes that fit.
    pub fn resize(&self, cap: usize) {
        let mut r = self.ring.lock();
        r.cap = cap;
        r.trim();
    }

    /// Empties the backlog and restarts its stream at `offset` (a replica after a full
    /// sync takes its primary's offset).
    pub fn reset(&self, offset: u64) {
        let mut r = self.ring.lock();
        r.buf.clear();
        r.end = offset;
        // Links of the old stream are being closed; their places mean nothing now.
        for h in &mut r.holds {
            h.1 = offset;
        }
        r.trim();
        self.end.store(offset, SeqCst);
        drop(r);
        self.wake();
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

    #[test]
    fn a_hold_keeps_what_its_replica_still_needs_up_to_the_limit() {
        let b = Arc::new(Backlog::new(4, 0));
        let (hold, at) = b.hold_end();
        assert_eq!(at, 0);
        b.append(b"abcdef");
        b.append(b"ghij");
        // Beyond the backlog size, kept for the replica.
        assert_eq!(b.range(), (0, 10));
        assert_eq!(b.retained(), 6);
        let mut out = Vec::new();
        assert_eq!(b.read(0, 100, &mut out), Some(10));
        assert_eq!(out, b"abcdefghij");
        // Sent up to 8: only the backlog size (or what the replica needs) is kept.
        hold.advance(8);
        assert_eq!(b.range(), (6, 4));
        // Past the limit the replica's bytes go: it is dropped and resyncs.
        b.set_hold_limit(6);
        b.append(b"0123456789");
        assert_eq!(b.range(), (14, 6));
        assert_eq!(b.read(8, 1, &mut out), None);
        drop(hold);
        assert_eq!(b.range(), (16, 4));
        assert_eq!(b.retained(), 0);
        // A partial resync can only hold what is there.
        assert!(b.hold_from(15).is_none());
        let h = b.hold_from(16).unwrap();
        b.append(b"xyz");
        assert_eq!(b.range(), (17, 6), "within the limit of 6");
        drop(h);
        assert_eq!(b.range(), (19, 4));
    }

    #[tokio::test]
    async fn a_waiting_link_wakes_on_an_append_or_a_reset_and_only_then() {
        use std::time::Duration;
        let b = Arc::new(Backlog::new(16, 5));
        // The end is elsewhere already: no wait.
        b.moved_from(4).await;
        let wait = |b: &Arc<Backlog>| {
            let b = b.clone();
            tokio::spawn(async move { b.moved_from(5).await })
        };
        let w = wait(&b);
        tokio::task::yield_now().await;
        assert!(!w.is_finished());
        assert_eq!(b.waiting.load(SeqCst), 1, "the appender knows to ring");
        b.append(b"x");
        tokio::time::timeout(Duration::from_secs(5), w).await.unwrap().unwrap();
        assert_eq!(b.waiting.load(SeqCst), 0, "nobody waits: appends ring nothing");
        b.reset(5);
        let w = wait(&b);
        tokio::task::yield_now().await;
        assert!(!w.is_finished());
        b.reset(9);
        tokio::time::timeout(Duration::from_secs(5), w).await.unwrap().unwrap();
        // A wait given up (its link ended) is no longer counted.
        let w = {
            let b = b.clone();
            tokio::spawn(async move { b.moved_from(9).await })
        };
        tokio::task::yield_now().await;
        w.abort();
        let _ = w.await;
        assert_eq!(b.waiting.load(SeqCst), 0);
        assert_eq!(b.end(), 9);
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
