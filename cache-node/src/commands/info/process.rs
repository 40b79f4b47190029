//! Process-level measurements for INFO: allocator statistics, resident set size, CPU
//! time, total memory, the memory peak and sampled per-second rates.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::Mutex;

/// Allocator view of memory, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Bytes handed out to the program (Redis's `used_memory`).
    pub allocated: u64,
    /// jemalloc's own count of `allocated` (INFO allocator_allocated).
    pub allocator_allocated: u64,
    /// Bytes in pages the allocator has in use.
    pub active: u64,
    /// Bytes the allocator keeps resident.
    pub resident: u64,
    /// Resident set size of the whole process.
    pub rss: u64,
    /// Highest `allocated` seen since start or the last CONFIG RESETSTAT.
    pub peak: u64,
}

static PEAK: AtomicU64 = AtomicU64::new(0);

/// Reads the allocator statistics (refreshing jemalloc's cached totals first) and
/// updates the peak. Cheap enough to call from a periodic task so the peak also
/// catches spikes between two INFO calls.
pub fn memory() -> Memory {
    let (jemalloc_allocated, active, resident) = allocator();
    // The counting allocator's figure when it is installed (what eviction compares
    // with maxmemory), so INFO and eviction agree.
    let allocated = if crate::memory::accounting::installed() { crate::memory::accounting::used() } else { jemalloc_allocated };
    let rss = rss_bytes().unwrap_or(resident);
    let peak = PEAK.fetch_max(allocated, Relaxed).max(allocated);
    Memory { allocated, allocator_allocated: jemalloc_allocated, active, resident, rss, peak }
}

/// Starts the peak over from the current usage (CONFIG RESETSTAT).
pub fn reset_peak() {
    PEAK.store(crate::memory::accounting::used(), Relaxed);
}

#[cfg(not(target_env = "msvc"))]
fn allocator() -> (u64, u64, u64) {
    use tikv_jemalloc_ctl::{epoch, stats};
    // jemalloc caches its statistics; advancing the epoch refreshes them.
    let _ = epoch::advance();
    let read = |r: tikv_jemalloc_ctl::Result<usize>| r.map(|v| v as u64).unwrap_or(0);
    (read(stats::allocated::read()), read(stats::active::read()), read(stats::resident::read()))
}

#[cfg(target_env = "msvc")]
fn allocator() -> (u64, u64, u64) {
    (0, 0, 0)
}

/// The allocator name INFO reports.
pub const ALLOCATOR: &str = if cfg!(target_env = "msvc") { "libc" } else { "jemalloc-5.3.0" };

/// `VmRSS` of /proc/self/status (in kB there), which does not depend on the page size.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    proc_kb_field(&status, "VmRSS:")
}

/// Physical memory of the machine (`MemTotal` of /proc/meminfo), 0 when unknown.
pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| proc_kb_field(&m, "MemTotal:")).unwrap_or(0)
}

/// A `Name:   123 kB` line of a /proc file, in bytes.
fn proc_kb_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kb: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    kb.checked_mul(1024)
}

/// User and system CPU seconds of the process so far.
pub fn cpu_seconds() -> (f64, f64) {
    std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| parse_stat_times(&s)).unwrap_or((0.0, 0.0))
}

/// utime and stime (fields 14 and 15) of /proc/<pid>/stat, in clock ticks of 1/100 s
/// (USER_HZ is 100 on every Linux architecture's user ABI). The command name in field
/// 2 may contain spaces, so fields are counted after its closing parenthesis.
fn parse_stat_times(stat: &str) -> Option<(f64, f64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let sys: u64 = fields.next()?.parse().ok()?;
    Some((user as f64 / 100.0, sys as f64 / 100.0))
}

/// Operating system line of INFO server: `Linux 6.1.0 x86_64`.
pub fn os_line() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        other => other,
    };
    format!("{os} {release} {}", std::env::consts::ARCH)
}

/// Redis's `bytesToHuman`: `943.32K`, `1.50M`, `0B`.
pub fn human(n: u64) -> String {
    let d = n as f64;
    const K: f64 = 1024.0;
    if n < 1024 {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else if d < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K))
    } else if d < K * K * K * K * K * K {
        format!("{:.2}P", d / (K * K * K * K * K))
    } else {
        format!("{n}B")
    }
}

/// Per-second rates of ever-growing counters, from the change since the previous
/// sample. Samples closer than `MIN_GAP` apart reuse the last rates, so two INFO calls
/// in a row do not report noise.
pub struct Rates {
    last: Mutex<Option<Sample>>,
}

/// When a sample was taken, the counters then, and the rates computed at that point.
type Sample = (Instant, [u64; 3], [f64; 3]);

impl Default for Rates {
    fn default() -> Self {
        Self::new()
    }
}

const MIN_GAP: std::time::Duration = std::time::Duration::from_millis(100);

impl Rates {
    pub const fn new() -> Self {
        Rates { last: Mutex::new(None) }
    }

    /// Rates of (commands, input bytes, output bytes) per second.
    pub fn sample(&self, now: Instant, counters: [u64; 3]) -> [f64; 3] {
        let mut last = self.last.lock();
        match *last {
            Some((at, prev, rates)) => {
                let dt = now.saturating_duration_since(at);
                if dt < MIN_GAP {
                    return rates;
                }
                let secs = dt.as_secs_f64();
                let mut out = [0.0; 3];
                for i in 0..3 {
                    out[i] = counters[i].saturating_sub(prev[i]) as f64 / secs;
                }
                *last = Some((now, counters, out));
                out
            }
            None => {
                *last = Some((now, counters, [0.0; 3]));
                [0.0; 3]
            }
        }
    }

    pub fn reset(&self) {
        *self.last.lock() = None;
    }
}

pub static RATES: Rates = Rates::new();

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(965_960), "943.32K");
        assert_eq!(human(12_320_768), "11.75M");
        assert_eq!(human(25_276_510_208), "23.54G");
    }

    #[test]
    fn proc_parsing() {
        assert_eq!(proc_kb_field("Name:\tx\nVmRSS:\t  1200 kB\n", "VmRSS:"), Some(1200 * 1024));
        assert_eq!(proc_kb_field("Name:\tx\n", "VmRSS:"), None);
        let stat = "42 (cache node) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_stat_times(stat), Some((2.5, 0.75)));
        assert_eq!(parse_stat_times("garbage"), None);
    }

    #[test]
    fn rates_need_two_samples_apart() {
        let r = Rates::new();
        let t0 = Instant::now();
        assert_eq!(r.sample(t0, [0, 0, 0]), [0.0; 3]);
        assert_eq!(r.sample(t0 + std::time::Duration::from_millis(10), [50, 0, 0]), [0.0; 3]);
        let rates = r.sample(t0 + std::time::Duration::from_secs(2), [200, 2048, 4096]);
        assert_eq!(rates, [100.0, 1024.0, 2048.0]);
    }

    #[test]
    fn memory_reads_do_not_fail() {
        let m = memory();
        assert!(m.peak >= m.allocated);
        assert!(!os_line().is_empty());
    }
}
