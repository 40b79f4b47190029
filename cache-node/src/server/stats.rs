//! Server statistics. Hot counters are per worker thread with a single writer each, so
//! counting a command costs a plain load and store (no locked instruction, no shared
//! cache line); INFO and /metrics add the threads up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

/// Adds to a counter that only the owning thread writes.
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

#[derive(Default, Debug)]
pub struct CmdStat {
    pub calls: AtomicU64,
    /// Nanoseconds spent in the command (reported in microseconds).
    pub nanos: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Calls per latency bucket (server/latency.rs).
    pub hist: [AtomicU64; super::latency::BUCKETS],
}

/// Counters owned by one worker thread.
#[derive(Debug)]
pub struct ThreadStats {
    pub commands: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub per_command: Box<[CmdStat]>,
    /// Nanoseconds this worker spent serving requests (for connection placement).
    pub busy_nanos: AtomicU64,
    /// Connections this worker owns.
    pub conns: AtomicU64,
}

impl ThreadStats {
    pub fn new(commands: usize) -> Self {
        ThreadStats {
            commands: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            per_command: (0..commands).map(|_| CmdStat::default()).collect(),
            busy_nanos: AtomicU64::new(0),
            conns: AtomicU64::new(0),
        }
    }

    fn reset(&self) {
        for c in [&self.commands, &self.net_input_bytes, &self.net_output_bytes] {
            c.store(0, Relaxed);
        }
        for s in self.per_command.iter() {
            for c in [&s.calls, &s.nanos, &s.rejected, &s.failed].into_iter().chain(s.hist.iter()) {
                c.store(0, Relaxed);
            }
        }
    }
}

/// Server-wide counters (rare events use shared atomics directly).
#[derive(Default, Debug)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub expired_keys_active: AtomicU64,
    pub expired_stale_perc: AtomicU64,
    /// Times the connection balancer folded workers that contended on partition locks.
    pub contended_folds: AtomicU64,
    /// Microseconds workers spent polling with no request to serve (server/idle_poll.rs).
    pub idle_poll_us: AtomicU64,
    /// Times a worker paused polling because another thread wanted its core.
    pub idle_poll_pauses: AtomicU64,
    pub errors: Mutex<std::collections::BTreeMap<String, u64>>,
    pub total_error_replies: AtomicU64,
    /// Clients waiting in a blocking command (INFO clients).
    pub blocked_clients: std::sync::atomic::AtomicUsize,
    threads: Mutex<Vec<Arc<ThreadStats>>>,
    /// Threads that run commands but are not workers (the script thread): counted in
    /// the totals, left out of `threads()`, whose order is the workers'.
    others: Mutex<Vec<Arc<ThreadStats>>>,
}

/// Totals over all threads for INFO.
#[derive(Default, Debug, Clone)]
pub struct Totals {
    pub commands: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// (calls, usec, rejected, failed) per command index
    pub per_command: Vec<(u64, u64, u64, u64)>,
}

impl Stats {
    pub fn register_thread(&self, commands: usize) -> Arc<ThreadStats> {
        let t = Arc::new(ThreadStats::new(commands));
        self.threads.lock().push(t.clone());
        t
    }

    /// Counters for a thread that runs commands but serves no connection.
    pub fn register_other(&self, commands: usize) -> Arc<ThreadStats> {
        let t = Arc::new(ThreadStats::new(commands));
        self.others.lock().push(t.clone());
        t
    }

    /// Every thread's counters (workers first).
    fn all_threads(&self) -> Vec<Arc<ThreadStats>> {
        let mut all = self.threads.lock().clone();
        all.extend(self.others.lock().iter().cloned());
        all
    }

    /// Per-worker counters, in worker order.
    pub fn threads(&self) -> Vec<Arc<ThreadStats>> {
        self.threads.lock().clone()
    }

    pub fn totals(&self) -> Totals {
        let threads = self.all_threads();
        let n = threads.first().map(|t| t.per_command.len()).unwrap_or(0);
        let mut out = Totals { per_command: vec![(0, 0, 0, 0); n], ..Totals::default() };
        for t in threads.iter() {
            out.commands += t.commands.load(Relaxed);
            out.net_input_bytes += t.net_input_bytes.load(Relaxed);
            out.net_output_bytes += t.net_output_bytes.load(Relaxed);
            for (i, s) in t.per_command.iter().enumerate() {
                if let Some(o) = out.per_command.get_mut(i) {
                    o.0 += s.calls.load(Relaxed);
                    o.1 += s.nanos.load(Relaxed) / 1000;
                    o.2 += s.rejected.load(Relaxed);
                    o.3 += s.failed.load(Relaxed);
                }
            }
        }
        out
    }

    /// One command's latency histogram over all threads.
    pub fn histogram(&self, idx: usize) -> [u64; super::latency::BUCKETS] {
        let mut h = [0u64; super::latency::BUCKETS];
        for t in self.all_threads().iter() {
            if let Some(s) = t.per_command.get(idx) {
                for (o, c) in h.iter_mut().zip(s.hist.iter()) {
                    *o += c.load(Relaxed);
                }
            }
        }
        h
    }

    pub fn record_error(&self, code: &str) {
        self.total_error_replies.fetch_add(1, Relaxed);
        *self.errors.lock().entry(code.to_string()).or_insert(0) += 1;
    }

    /// CONFIG RESETSTAT. Thread counters have a single writer, so a reset racing with a
    /// command may lose that one increment, which is acceptable for statistics.
    pub fn reset(&self) {
        for t in self.all_threads().iter() {
            t.reset();
        }
        self.connections_received.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
        self.expired_keys_active.store(0, Relaxed);
        self.total_error_replies.store(0, Relaxed);
        self.errors.lock().clear();
    }
}
