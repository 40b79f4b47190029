//! The one script cache: every loaded body by SHA1, whichever engine loaded it, so any
//! engine (the script thread's, or a worker's for inline runs) can compile a script it
//! has not seen. Each engine keeps its own compiled copies; SCRIPT FLUSH empties this
//! cache and bumps the generation, which every engine compares before a run and flushes
//! its own copies on.
//!
//! Each script also carries its track record, which decides whether a worker may run it
//! inline (scripting/inline.rs): whether it has run yet, and whether a run ever passed
//! the inline budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::time::Duration;

use parking_lot::Mutex;

/// One loaded script: its text and its record.
#[derive(Debug)]
pub struct Script {
    pub body: Vec<u8>,
    ran: AtomicBool,
    /// Consecutive runs over the budget (or moved off a worker), up to `STRIKES`.
    strikes: AtomicU8,
}

/// Consecutive runs over the budget after which a script is slow for good. Not one,
/// and a run within the budget clears them: a run whose thread was preempted (a loaded
/// machine) is over the budget too, and such runs must not keep a short script off the
/// workers. (A run over the budget on a worker costs its clients at most the budget
/// before it moves; the record only spares scripts that are always long the moves.)
pub const STRIKES: u8 = 3;

/// What is known of a script's runs, for the inline decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Never ran (loaded only, or an EVAL body seen for the first time).
    Unproven,
    /// Every run so far ended within the budget.
    Fast,
    /// `STRIKES` runs in a row passed the budget (or were moved off a worker).
    Slow,
}

impl Script {
    pub fn record(&self) -> Record {
        if self.strikes.load(Relaxed) >= STRIKES {
            Record::Slow
        } else if self.ran.load(Relaxed) {
            Record::Fast
        } else {
            Record::Unproven
        }
    }

    /// Notes a run that took `took`: past `budget`, a strike; within it, strikes short
    /// of `STRIKES` are cleared.
    pub fn ran(&self, took: Duration, budget: Duration) {
        if took > budget {
            self.strike();
        } else {
            let n = self.strikes.load(Relaxed);
            if n > 0 && n < STRIKES {
                self.strikes.store(0, Relaxed);
            }
        }
        if !self.ran.load(Relaxed) {
            self.ran.store(true, Relaxed);
        }
    }

    /// A run over the budget (racing strikes may count once: it only takes longer).
    pub fn strike(&self) {
        let n = self.strikes.load(Relaxed);
        if n < STRIKES {
            self.strikes.store(n + 1, Relaxed);
        }
    }
}

#[derive(Debug, Default)]
pub struct Cache {
    scripts: Mutex<HashMap<String, Arc<Script>>>,
    generation: AtomicU64,
}

impl Cache {
    /// Adds a script (keeping the record of one already there) and returns it.
    pub fn insert(&self, sha: &str, body: &[u8]) -> Arc<Script> {
        let mut scripts = self.scripts.lock();
        if let Some(s) = scripts.get(sha) {
            return s.clone();
        }
        let s = Arc::new(Script { body: body.to_vec(), ran: AtomicBool::new(false), strikes: AtomicU8::new(0) });
        scripts.insert(sha.to_string(), s.clone());
        s
    }

    pub fn get(&self, sha: &str) -> Option<Arc<Script>> {
        self.scripts.lock().get(sha).cloned()
    }

    pub fn contains(&self, sha: &str) -> bool {
        self.scripts.lock().contains_key(sha)
    }

    pub fn len(&self) -> usize {
        self.scripts.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SCRIPT FLUSH: empties the cache; engines drop their copies before their next run.
    pub fn flush(&self) {
        let mut scripts = self.scripts.lock();
        scripts.clear();
        // Under the lock: a script loaded after the flush belongs to the new generation.
        self.generation.fetch_add(1, SeqCst);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_millis(2);

    #[test]
    fn a_script_is_unproven_until_it_runs_and_slow_for_good_after_strikes() {
        let c = Cache::default();
        let s = c.insert("a", b"return 1");
        assert_eq!(s.record(), Record::Unproven);
        s.ran(Duration::from_micros(10), BUDGET);
        assert_eq!(s.record(), Record::Fast);
        // Strikes apart from each other are forgiven.
        for _ in 0..10 {
            for _ in 1..STRIKES {
                s.ran(Duration::from_millis(3), BUDGET);
                assert_eq!(s.record(), Record::Fast);
            }
            s.ran(Duration::from_micros(10), BUDGET);
        }
        for _ in 1..STRIKES {
            s.ran(Duration::from_millis(3), BUDGET);
        }
        s.strike();
        assert_eq!(s.record(), Record::Slow);
        s.ran(Duration::from_micros(10), BUDGET);
        assert_eq!(s.record(), Record::Slow);
        // Unproven scripts collect strikes too (a slow first run).
        let t = c.insert("b", b"return 2");
        for _ in 0..STRIKES {
            t.ran(Duration::from_millis(3), BUDGET);
        }
        assert_eq!(t.record(), Record::Slow);
    }

    #[test]
    fn loading_again_keeps_the_record_and_flush_bumps_the_generation() {
        let c = Cache::default();
        c.insert("a", b"x").ran(Duration::ZERO, BUDGET);
        assert_eq!(c.insert("a", b"x").record(), Record::Fast);
        assert_eq!(c.len(), 1);
        let g = c.generation();
        c.flush();
        assert!(c.is_empty() && !c.contains("a") && c.get("a").is_none());
        assert_eq!(c.generation(), g + 1);
        assert_eq!(c.insert("a", b"x").record(), Record::Unproven);
    }
}
