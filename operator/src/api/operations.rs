//! How the operator runs a cluster over time: failover, spreading over zones, the
//! maintenance window.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Failure detection and promotion.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailoverSpec {
    /// Promote a replica when a shard's primary fails. When false, a failed primary is
    /// only reported.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// How long a primary must fail every probe before a replica is promoted. Shorter
    /// fails over faster; longer rides out brief network blips.
    #[serde(default = "detection_default")]
    #[schemars(range(min = 1, max = 300))]
    pub detection_seconds: i32,

    /// A primary refuses writes unless at least this many replicas are connected and
    /// within minReplicasMaxLagSeconds, which bounds what a primary cut off from its
    /// replicas can accept and later lose. 0 turns the check off.
    #[serde(default)]
    #[schemars(range(min = 0, max = 5))]
    pub min_replicas_to_write: i32,

    /// Largest replication lag, in seconds, for a replica to count toward
    /// minReplicasToWrite.
    #[serde(default = "lag_default")]
    #[schemars(range(min = 1, max = 3600))]
    pub min_replicas_max_lag_seconds: i32,
}

impl Default for FailoverSpec {
    fn default() -> Self {
        FailoverSpec { enabled: true, detection_seconds: detection_default(), min_replicas_to_write: 0, min_replicas_max_lag_seconds: lag_default() }
    }
}

/// How pods of a shard are placed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ZoneSpreadSpec {
    /// Node label that names a node's zone.
    #[serde(default = "zone_key")]
    #[schemars(length(min = 1))]
    pub topology_key: String,

    /// Largest difference in a shard's pod count between two zones.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 10))]
    pub max_skew: i32,

    /// `Required`: a pod that cannot be spread stays Pending (strict multi-AZ).
    /// `Preferred`: the scheduler spreads when it can and places the pod anyway when it
    /// cannot (a single-zone cluster still works).
    #[serde(default)]
    pub zones: SpreadPolicy,

    /// The same choice for spreading a shard's pods over distinct nodes.
    #[serde(default)]
    pub nodes: SpreadPolicy,
}

impl Default for ZoneSpreadSpec {
    fn default() -> Self {
        ZoneSpreadSpec { topology_key: zone_key(), max_skew: 1, zones: SpreadPolicy::Preferred, nodes: SpreadPolicy::Preferred }
    }
}

/// Whether a placement rule is a hard requirement or a preference.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum SpreadPolicy {
    #[default]
    Preferred,
    Required,
}

/// A weekly window in UTC, parsed from ElastiCache's `ddd:hh24:mi-ddd:hh24:mi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// Minutes since Sunday 00:00 UTC.
    pub start: u32,
    pub end: u32,
}

const WEEK_MINUTES: u32 = 7 * 24 * 60;

impl MaintenanceWindow {
    pub fn parse(s: &str) -> Option<MaintenanceWindow> {
        let (a, b) = s.split_once('-')?;
        let window = MaintenanceWindow { start: point(a)?, end: point(b)? };
        (window.start != window.end).then_some(window)
    }

    /// Whether `minute_of_week` (minutes since Sunday 00:00 UTC) falls inside; a window
    /// may wrap over the end of the week.
    pub fn contains(self, minute_of_week: u32) -> bool {
        let m = minute_of_week % WEEK_MINUTES;
        if self.start < self.end { (self.start..self.end).contains(&m) } else { m >= self.start || m < self.end }
    }
}

fn point(s: &str) -> Option<u32> {
    let mut parts = s.split(':');
    let name = parts.next()?;
    let day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].iter().position(|d| *d == name)? as u32;
    let h: u32 = parts.next()?.parse().ok().filter(|h| *h < 24)?;
    let m: u32 = parts.next()?.parse().ok().filter(|m| *m < 60)?;
    parts.next().is_none().then_some(day * 24 * 60 + h * 60 + m)
}

fn yes() -> bool {
    true
}
fn one() -> i32 {
    1
}
fn detection_default() -> i32 {
    3
}
fn lag_default() -> i32 {
    10
}
fn zone_key() -> String {
    "topology.kubernetes.io/zone".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_window_parses_and_wraps() {
        let w = MaintenanceWindow::parse("sun:05:00-sun:06:30").unwrap();
        assert!(w.contains(5 * 60) && w.contains(6 * 60 + 29) && !w.contains(6 * 60 + 30) && !w.contains(4 * 60 + 59));
        let wrap = MaintenanceWindow::parse("sat:23:00-sun:01:00").unwrap();
        assert!(wrap.contains(6 * 1440 + 23 * 60) && wrap.contains(30) && !wrap.contains(61) && !wrap.contains(6 * 1440));
        for bad in ["", "sun:05:00", "xyz:05:00-sun:06:00", "sun:24:00-sun:06:00", "sun:05:60-sun:06:00", "sun:05:00-sun:05:00", "sun:05:00:00-mon:01:00"] {
            assert_eq!(MaintenanceWindow::parse(bad), None, "{bad}");
        }
    }
}
