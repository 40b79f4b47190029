//! The gate that makes a script run alone: the script thread closes it, waits until no
//! worker is inside a command, runs its scripts, and opens it again. A worker announces
//! each command with one store to its own cache line and one load of the gate, so the
//! gate costs a command nothing more while no script runs.
//!
//! Both sides use SeqCst (a store then a load each): either the worker sees the gate
//! closed, or the script thread sees the worker inside and waits for it.
//!
//! Whoever runs a script (the script thread, or a worker running one inline) first
//! takes the runner claim, so one runner at a time closes the gate. A worker never
//! blocks its thread on the claim (it waits asynchronously for another worker's short
//! inline run, or hands its script to the script thread); the script thread, which
//! serves nobody else, does.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

use tokio::sync::Notify;

/// One worker's "inside a command" flag, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Inside(AtomicBool);

/// Who runs scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// A worker, inline: short by its script's history.
    Worker = 1,
    ScriptThread = 2,
}

#[derive(Debug)]
pub struct Gate {
    closed: AtomicBool,
    /// Taken by whoever runs scripts, for as long as it holds the gate closed (a
    /// `Runner` as u8, 0 when free).
    runner: AtomicU8,
    inside: Box<[Inside]>,
    opened: Notify,
    /// Unix ms when the script now running started (0: none runs).
    pub script_started_ms: AtomicI64,
    /// Commands that had to wait for another runner's script: like contended partition
    /// locks, a sign that workers slow each other down (server/balance.rs).
    waited: AtomicU64,
}

impl Gate {
    /// Flags for `workers` worker threads, plus one for the cron thread and one for the
    /// replica link.
    pub fn new(workers: usize) -> Self {
        Gate {
            closed: AtomicBool::new(false),
            runner: AtomicU8::new(0),
            inside: (0..workers + 2).map(|_| Inside::default()).collect(),
            opened: Notify::new(),
            script_started_ms: AtomicI64::new(0),
            waited: AtomicU64::new(0),
        }
    }

    /// Records `n` commands held up by a closed gate or another runner's claim.
    pub fn note_waited(&self, n: usize) {
        self.waited.fetch_add(n as u64, Relaxed);
    }

    /// Commands held up so far (`note_waited`).
    pub fn waited(&self) -> u64 {
        self.waited.load(Relaxed)
    }

    /// A worker about to run a command: true if it may (it is then inside until
    /// `leave`); false if a script holds the gate (it is not inside).
    #[inline]
    pub fn enter(&self, worker: usize) -> bool {
        let Some(me) = self.inside.get(worker) else { return true };
        me.0.store(true, SeqCst);
        if self.closed.load(SeqCst) {
            me.0.store(false, SeqCst);
            return false;
        }
        true
    }

    /// Marks a worker inside whatever the gate says: commands allowed while a script is
    /// busy (SCRIPT KILL...), which touch no data.
    pub fn enter_anyway(&self, worker: usize) {
        if let Some(me) = self.inside.get(worker) {
            me.0.store(true, SeqCst);
        }
    }

    #[inline]
    pub fn leave(&self, worker: usize) {
        if let Some(me) = self.inside.get(worker) {
            // Release: the command's effects are visible to the script thread that
            // sees this flag clear.
            me.0.store(false, std::sync::atomic::Ordering::Release);
        }
    }

    /// The flag of the replica link's thread (which applies its primary's stream).
    pub fn link_slot(&self) -> usize {
        self.inside.len() - 1
    }

    /// The flag of the cron thread: its active expiry and eviction delete keys, which must
    /// not happen in the middle of a script (the script's writes reach the journal when
    /// it ends, so a deletion in between would reach replicas in the wrong order).
    pub fn cron_slot(&self) -> usize {
        self.inside.len() - 2
    }

    /// `enter` for a thread that may block (the replica link): waits for the gate.
    pub fn enter_blocking(&self, slot: usize) {
        while !self.enter(slot) {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    /// Waits (asynchronously) until the gate is open or `max` has passed.
    pub async fn wait_open(&self, max: std::time::Duration) {
        let opened = self.opened.notified();
        tokio::pin!(opened);
        opened.as_mut().enable();
        if !self.is_closed() {
            return;
        }
        let _ = tokio::time::timeout(max, opened).await;
    }

    /// Takes the runner claim for `who` if nobody holds it.
    pub fn try_claim(&self, who: Runner) -> bool {
        self.runner.compare_exchange(0, who as u8, SeqCst, SeqCst).is_ok()
    }

    /// Takes the runner claim, waiting for a worker's inline run to end (the script
    /// thread). Inline runs are short: their scripts have a history of ending within
    /// a budget of milliseconds.
    pub fn claim(&self) {
        let mut spins = 0u32;
        while !self.try_claim(Runner::ScriptThread) {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else if spins < 1024 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
    }

    pub fn release(&self) {
        self.runner.store(0, SeqCst);
    }

    /// Who holds the runner claim (a script runs or is about to), if anyone.
    pub fn holder(&self) -> Option<Runner> {
        match self.runner.load(SeqCst) {
            0 => None,
            1 => Some(Runner::Worker),
            _ => Some(Runner::ScriptThread),
        }
    }

    /// The script thread (holding the claim): closes the gate and waits until every
    /// worker has left the command it was in.
    pub fn close(&self) {
        self.close_for(usize::MAX);
    }

    /// `close` by the runner in slot `me`, whose own flag is not waited for (a worker
    /// running a script inline is not inside a command, and could not leave one).
    pub fn close_for(&self, me: usize) {
        self.closed.store(true, SeqCst);
        for (i, w) in self.inside.iter().enumerate() {
            if i == me {
                continue;
            }
            let mut spins = 0u32;
            while w.0.load(SeqCst) {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    pub fn open(&self) {
        self.script_started_ms.store(0, SeqCst);
        self.closed.store(false, SeqCst);
        self.opened.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_gate_turns_workers_away_and_an_open_one_lets_them_in() {
        let g = Gate::new(2);
        assert_eq!((g.cron_slot(), g.link_slot()), (2, 3));
        assert!(g.enter(0));
        g.leave(0);
        g.close();
        assert!(!g.enter(1));
        g.open();
        assert!(g.enter(1));
        g.leave(1);
        // A worker index past the table (a thread with no flag) is never held.
        assert!(g.enter(9));
    }

    #[test]
    fn one_runner_at_a_time_and_a_runner_does_not_wait_for_its_own_slot() {
        let g = Gate::new(2);
        assert!(g.try_claim(Runner::Worker));
        assert_eq!(g.holder(), Some(Runner::Worker));
        assert!(!g.try_claim(Runner::Worker) && !g.try_claim(Runner::ScriptThread));
        // Worker 0's flag is up (as if it were inside): closing for it does not wait.
        g.enter_anyway(0);
        g.close_for(0);
        assert!(g.is_closed() && !g.enter(1));
        g.open();
        g.release();
        g.leave(0);
        assert_eq!(g.holder(), None);
        g.claim();
        assert_eq!(g.holder(), Some(Runner::ScriptThread));
        g.release();
    }

    #[test]
    fn closing_waits_for_a_worker_inside() {
        let g = std::sync::Arc::new(Gate::new(1));
        assert!(g.enter(0));
        let g2 = g.clone();
        let t = std::thread::spawn(move || {
            g2.close();
            true
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!t.is_finished());
        g.leave(0);
        assert!(t.join().unwrap());
    }
}
