//! Failure detection over probe results: a primary is declared failed only after every
//! probe has failed for the whole detection time, so one lost packet or a slow answer
//! never costs a failover. Time is passed in (milliseconds on any monotonic clock), which
//! keeps this pure and testable.

/// Tracks one node's probes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureDetector {
    /// When the current run of failed probes began; None while the node answers.
    failing_since_ms: Option<u64>,
    /// When the node last answered.
    last_ok_ms: Option<u64>,
}

impl FailureDetector {
    /// Records a probe result taken at `at_ms`.
    pub fn record(&mut self, at_ms: u64, ok: bool) {
        if ok {
            self.failing_since_ms = None;
            self.last_ok_ms = Some(at_ms);
        } else if self.failing_since_ms.is_none() {
            self.failing_since_ms = Some(at_ms);
        }
    }

    /// Whether the node has failed every probe for at least `detection_ms` by `now_ms`.
    pub fn failed(&self, now_ms: u64, detection_ms: u64) -> bool {
        self.failing_since_ms.is_some_and(|since| now_ms.saturating_sub(since) >= detection_ms)
    }

    /// Start of the current run of failures, for logs and failover records.
    pub fn failing_since_ms(&self) -> Option<u64> {
        self.failing_since_ms
    }

    pub fn last_ok_ms(&self) -> Option<u64> {
        self.last_ok_ms
    }

    /// Forgets the history (the node was replaced or restarted on purpose).
    pub fn reset(&mut self) {
        *self = FailureDetector::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probes as (time, ok), then now, the detection time, and whether the node is failed.
    type Case = (&'static [(u64, bool)], u64, u64, bool);

    #[test]
    fn a_node_is_failed_only_after_failing_for_the_whole_detection_time() {
        let cases: &[Case] = &[
            (&[], 10_000, 3_000, false),
            (&[(0, true), (1_000, false)], 3_999, 3_000, false),
            (&[(0, true), (1_000, false)], 4_000, 3_000, true),
            (&[(1_000, false), (2_000, false), (3_000, true), (3_500, false)], 6_000, 3_000, false),
            (&[(1_000, false), (2_000, false), (3_000, true), (3_500, false)], 6_500, 3_000, true),
            // A later failure does not move the start of the run.
            (&[(1_000, false), (3_000, false), (3_900, false)], 4_000, 3_000, true),
            (&[(1_000, false), (4_000, true)], 9_000, 3_000, false),
        ];
        for (probes, now, detection, want) in cases {
            let mut d = FailureDetector::default();
            for (at, ok) in *probes {
                d.record(*at, *ok);
            }
            assert_eq!(d.failed(*now, *detection), *want, "{probes:?} at {now}");
        }
    }
}
