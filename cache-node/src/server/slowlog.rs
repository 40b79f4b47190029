//! The slow log: the last `slowlog-max-len` commands that took at least
//! `slowlog-log-slower-than` microseconds, with their arguments shortened as Redis
//! shortens them. Checking costs one relaxed load per command; only slow commands take
//! the lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::config::Config;

/// Arguments kept per entry; the last kept one says how many more there were.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument.
const MAX_ARG_BYTES: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: u64,
    /// Unix seconds when the command ran.
    pub time: i64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: String,
}

#[derive(Debug)]
pub struct SlowLog {
    /// Microseconds; `i64::MAX` when logging is off (a negative setting).
    threshold: AtomicI64,
    max_len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog { threshold: AtomicI64::new(10_000), max_len: AtomicUsize::new(128), next_id: AtomicU64::new(0), entries: Mutex::new(VecDeque::new()) }
    }
}

impl SlowLog {
    pub fn load(&self, c: &Config) {
        let t = c.int("slowlog-log-slower-than");
        self.threshold.store(if t < 0 { i64::MAX } else { t }, Relaxed);
        let max = usize::try_from(c.int("slowlog-max-len")).unwrap_or(usize::MAX);
        self.max_len.store(max, Relaxed);
        let mut e = self.entries.lock();
        while e.len() > max {
            e.pop_back();
        }
    }

    /// Whether a command that took `micros` belongs in the log.
    #[inline]
    pub fn is_slow(&self, micros: u64) -> bool {
        i64::try_from(micros).unwrap_or(i64::MAX) >= self.threshold.load(Relaxed)
    }

    /// Records a slow command (newest first).
    pub fn record(&self, argv: &[&[u8]], micros: u64, time: i64, addr: String, name: String) {
        let max = self.max_len.load(Relaxed);
        let entry = Entry { id: self.next_id.fetch_add(1, Relaxed), time, micros, args: shorten(argv), addr, name };
        let mut e = self.entries.lock();
        e.push_front(entry);
        while e.len() > max {
            e.pop_back();
        }
    }

    /// The `count` newest entries (all with None).
    pub fn newest(&self, count: Option<usize>) -> Vec<Entry> {
        let e = self.entries.lock();
        e.iter().take(count.unwrap_or(usize::MAX)).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// Redis's shortening: at most 32 arguments (the 32nd says how many were left out),
/// each cut to 128 bytes with a note of how many bytes were left out.
pub fn shorten(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    let keep = if argv.len() > MAX_ARGS { MAX_ARGS - 1 } else { argv.len() };
    let mut out: Vec<Vec<u8>> = argv[..keep]
        .iter()
        .map(|a| {
            if a.len() > MAX_ARG_BYTES {
                let mut v = a[..MAX_ARG_BYTES].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_BYTES).as_bytes());
                v
            } else {
                a.to_vec()
            }
        })
        .collect();
    if keep < argv.len() {
        out.push(format!("... ({} more arguments)", argv.len() - keep).into_bytes());
    }
    out
}

/// Arguments Redis hides from the slow log (passwords), or None to log as sent.
pub fn redact(argv: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
    const HIDDEN: &[u8] = b"(redacted)";
    let name = argv.first()?;
    if name.eq_ignore_ascii_case(b"auth") {
        return Some(std::iter::once(name.to_vec()).chain(argv[1..].iter().map(|_| HIDDEN.to_vec())).collect());
    }
    if name.eq_ignore_ascii_case(b"hello") {
        let mut out: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let mut i = 2;
        while i < argv.len() {
            if argv[i].eq_ignore_ascii_case(b"auth") {
                for v in out.iter_mut().skip(i + 1).take(2) {
                    *v = HIDDEN.to_vec();
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_arguments_and_long_commands_are_cut_as_redis_cuts_them() {
        let long = vec![b'x'; 200];
        let s = shorten(&[b"SET", &long, b"v"]);
        assert_eq!(s[1].len(), 128 + "... (72 more bytes)".len());
        assert!(s[1].ends_with(b"... (72 more bytes)"));
        let many: Vec<Vec<u8>> = (0..41).map(|i| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let s = shorten(&refs);
        assert_eq!(s.len(), 32);
        assert_eq!(s[31], b"... (10 more arguments)");
        assert_eq!(shorten(&refs[..32]).len(), 32);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact(&[b"auth", b"u", b"p"]).unwrap(), vec![b"auth".to_vec(), b"(redacted)".to_vec(), b"(redacted)".to_vec()]);
        let h = redact(&[b"HELLO", b"2", b"AUTH", b"default", b"pw", b"SETNAME", b"n"]).unwrap();
        assert_eq!(h[3], b"(redacted)");
        assert_eq!(h[4], b"(redacted)");
        assert_eq!(h[6], b"n");
        assert!(redact(&[b"set", b"a", b"b"]).is_none());
    }

    #[test]
    fn the_log_keeps_the_newest_entries_up_to_its_length() {
        let log = SlowLog::default();
        log.max_len.store(2, Relaxed);
        for i in 0..3u64 {
            log.record(&[b"get", i.to_string().as_bytes()], 20_000, 0, "a".into(), String::new());
        }
        let e = log.newest(None);
        assert_eq!(e.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2, 1]);
        assert!(log.is_slow(10_000) && !log.is_slow(9_999));
        log.reset();
        assert!(log.is_empty());
    }
}
