//! The latency monitor (LATENCY LATEST/HISTORY/RESET/DOCTOR): for each event class, the
//! latency spikes of at least `latency-monitor-threshold` ms, one sample per second (the
//! worst), the last 160 seconds that had one. Per-command latency histograms
//! (LATENCY HISTOGRAM, INFO latencystats) live in the per-thread command statistics.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::config::Config;

/// Samples kept per event, as Redis keeps.
const HISTORY: usize = 160;

/// Power-of-two microsecond buckets of the per-command histograms: bucket 0 counts calls
/// of at most 1 µs, bucket b those in (2^(b-1), 2^b] µs; the last one takes the rest.
pub const BUCKETS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Unix seconds.
    pub time: i64,
    pub ms: u64,
}

#[derive(Debug, Default)]
struct Series {
    samples: VecDeque<Sample>,
    max: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    /// Milliseconds; 0 = off.
    threshold_ms: AtomicU64,
    events: Mutex<BTreeMap<String, Series>>,
}

/// One event's latest spike (LATENCY LATEST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latest {
    pub event: String,
    pub time: i64,
    pub ms: u64,
    pub max: u64,
}

impl LatencyMonitor {
    pub fn load(&self, c: &Config) {
        self.threshold_ms.store(c.int("latency-monitor-threshold").max(0) as u64, Relaxed);
    }

    /// Records `ms` for `event` if monitoring is on and it reaches the threshold.
    #[inline]
    pub fn observe(&self, event: &str, ms: u64, now_secs: i64) {
        let t = self.threshold_ms.load(Relaxed);
        if t == 0 || ms < t {
            return;
        }
        let mut events = self.events.lock();
        let s = events.entry(event.to_string()).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            // One sample per second: the worst of that second.
            Some(last) if last.time == now_secs => last.ms = last.ms.max(ms),
            _ => {
                s.samples.push_back(Sample { time: now_secs, ms });
                if s.samples.len() > HISTORY {
                    s.samples.pop_front();
                }
            }
        }
    }

    pub fn latest(&self) -> Vec<Latest> {
        let events = self.events.lock();
        events.iter().filter_map(|(e, s)| s.samples.back().map(|l| Latest { event: e.clone(), time: l.time, ms: l.ms, max: s.max })).collect()
    }

    /// The samples of `event`, oldest first; None when it has none.
    pub fn history(&self, event: &str) -> Option<Vec<Sample>> {
        let events = self.events.lock();
        events.get(event).map(|s| s.samples.iter().copied().collect())
    }

    /// Forgets the named events (all with an empty list); returns how many had data.
    pub fn reset(&self, names: &[String]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        names.iter().filter(|n| events.remove(n.as_str()).is_some()).count()
    }

    /// A human-readable report (LATENCY DOCTOR).
    pub fn doctor(&self) -> String {
        let events = self.events.lock();
        if events.is_empty() {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string();
        }
        let mut r = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        for (i, (name, s)) in events.iter().enumerate() {
            let n = s.samples.len().max(1) as u64;
            let avg = s.samples.iter().map(|x| x.ms).sum::<u64>() / n;
            let period = match (s.samples.front(), s.samples.back()) {
                (Some(a), Some(b)) if s.samples.len() > 1 => (b.time - a.time) / (s.samples.len() as i64 - 1),
                _ => 0,
            };
            r.push_str(&format!(
                "{}. {name}: {} latency spikes (average {avg}ms, mean deviation {}ms, period {period} sec). Worst all time event {}ms.\n",
                i + 1,
                s.samples.len(),
                mean_deviation(&s.samples, avg),
                s.max
            ));
        }
        r.push_str("\nI have a few advices for you:\n\n");
        r.push_str("- Check the SLOWLOG (SLOWLOG GET) for the commands that were slow, and avoid O(N) commands on large values.\n");
        if events.keys().any(|k| k.starts_with("aof")) {
            r.push_str("- The append-only file's writes or fsyncs were slow: check the disk, or use appendfsync everysec.\n");
        }
        r
    }
}

fn mean_deviation(samples: &VecDeque<Sample>, avg: u64) -> u64 {
    let n = samples.len().max(1) as u64;
    samples.iter().map(|s| s.ms.abs_diff(avg)).sum::<u64>() / n
}

/// The histogram bucket of a call that took `micros`.
#[inline]
pub fn bucket(micros: u64) -> usize {
    if micros <= 1 { 0 } else { ((64 - (micros - 1).leading_zeros()) as usize).min(BUCKETS - 1) }
}

/// The upper bound, in microseconds, of bucket `b`.
pub fn bucket_bound(b: usize) -> u64 {
    1u64 << b
}

/// The value below which `pct` percent of the calls in `hist` fall (a bucket's upper
/// bound: the histograms keep powers of two only).
pub fn percentile(hist: &[u64; BUCKETS], pct: f64) -> f64 {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let want = ((pct / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (b, &n) in hist.iter().enumerate() {
        seen += n;
        if seen >= want {
            return bucket_bound(b) as f64;
        }
    }
    bucket_bound(BUCKETS - 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(threshold: u64) -> LatencyMonitor {
        let m = LatencyMonitor::default();
        m.threshold_ms.store(threshold, Relaxed);
        m
    }

    #[test]
    fn spikes_under_the_threshold_or_with_monitoring_off_are_not_kept() {
        let m = monitor(0);
        m.observe("command", 500, 1);
        assert!(m.latest().is_empty());
        let m = monitor(10);
        m.observe("command", 9, 1);
        assert!(m.latest().is_empty());
        m.observe("command", 10, 1);
        assert_eq!(m.latest(), vec![Latest { event: "command".into(), time: 1, ms: 10, max: 10 }]);
    }

    #[test]
    fn one_sample_per_second_keeps_the_worst_and_history_is_bounded() {
        let m = monitor(1);
        m.observe("command", 5, 100);
        m.observe("command", 9, 100);
        m.observe("command", 3, 100);
        assert_eq!(m.history("command").unwrap(), vec![Sample { time: 100, ms: 9 }]);
        for t in 0..200 {
            m.observe("fast-command", 2, t);
        }
        let h = m.history("fast-command").unwrap();
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h[0].time, 40);
        assert_eq!(m.reset(&["command".into(), "nope".into()]), 1);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.history("fast-command").is_none());
    }

    #[test]
    fn buckets_are_powers_of_two_and_percentiles_use_their_bounds() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2), 1);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(4), 2);
        assert_eq!(bucket(5), 3);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        let mut h = [0u64; BUCKETS];
        h[0] = 98;
        h[4] = 2;
        assert_eq!(percentile(&h, 50.0), 1.0);
        assert_eq!(percentile(&h, 99.0), 16.0);
        assert_eq!(percentile(&[0; BUCKETS], 99.0), 0.0);
    }
}
