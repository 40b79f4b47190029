//! Failover on Kubernetes: what the controller remembers between passes (one failure
//! detector and run id per pod, which shards ever held data) and how it turns a pass's
//! probes into the brain's shard views. The decisions are the brain's (topology::plan);
//! this only feeds it and resumes a failover an earlier operator process had started.

use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::observe::ObservedNode;
use crate::api::{CacheCluster, Engine, FailoverRecord};
use crate::topology::{FailureDetector, Role, ShardView};

/// Milliseconds on a monotonic clock. Injected so tests drive time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The process's monotonic clock.
pub fn monotonic() -> Clock {
    let start = Instant::now();
    Arc::new(move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// The failover settings of a cluster, with the spec's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub detection: Duration,
}

impl Settings {
    pub fn of(cluster: &CacheCluster) -> Settings {
        let spec = cluster.spec.failover.clone().unwrap_or_default();
        // Only replicated shards can fail over; memcached nodes have no replicas to promote.
        let replicated = cluster.spec.engine == Engine::Redis && cluster.spec.nodes_per_shard() > 1;
        Settings { enabled: spec.enabled && replicated, detection: Duration::from_secs(u64::try_from(spec.detection_seconds.max(1)).unwrap_or(1)) }
    }

    /// How often nodes are probed, independent of watch events: three probes per
    /// detection time (at least one a second), so a failure is confirmed at most one
    /// period after the detection time.
    pub fn probe_period(&self) -> Duration {
        (self.detection / 3).max(Duration::from_secs(1))
    }
}

#[derive(Debug, Default)]
struct NodeMemory {
    detector: FailureDetector,
    run_id: Option<String>,
    came_back_empty: bool,
}

#[derive(Debug, Default)]
struct ClusterMemory {
    nodes: HashMap<String, NodeMemory>,
    /// Shards in which some node ever reported data: an empty node must then never
    /// become their source.
    had_data: BTreeSet<i32>,
}

/// Probe history per cluster (keyed `namespace/name`). Lost on restart by design: a new
/// operator process waits one detection time before failing over, never less.
#[derive(Debug, Default)]
pub struct Memory {
    clusters: Mutex<HashMap<String, ClusterMemory>>,
}

impl Memory {
    /// Records this pass's probes (taken at `now_ms`) and returns each shard's view.
    pub fn views(&self, cluster: &str, observed: &mut [ObservedNode], shards: i32, now_ms: u64, settings: Settings, epoch: u64) -> Vec<(i32, ShardView)> {
        let mut all = self.clusters.lock();
        let ClusterMemory { nodes, had_data } = all.entry(cluster.to_string()).or_default();
        // Pods the spec no longer wants (scaled down) take their history with them.
        nodes.retain(|name, _| observed.iter().any(|n| n.view.name == *name));
        for node in observed.iter_mut() {
            let m = nodes.entry(node.view.name.clone()).or_default();
            m.detector.record(now_ms, node.view.reachable());
            if let Some(info) = &node.info {
                let empty = info.replication.keys == 0 && info.replication.offset <= 0;
                let restarted = m.run_id.as_ref().is_some_and(|old| *old != info.run_id);
                if restarted && empty && had_data.contains(&node.shard) {
                    tracing::warn!(node = %node.view.name, "node came back empty after a restart");
                    m.came_back_empty = true;
                }
                if !empty {
                    m.came_back_empty = false;
                    had_data.insert(node.shard);
                }
                m.run_id = Some(info.run_id.clone());
            }
            node.view.came_back_empty = m.came_back_empty;
        }
        let detection_ms = u64::try_from(settings.detection.as_millis()).unwrap_or(u64::MAX);
        (0..shards)
            .map(|shard| {
                let members: Vec<_> = observed.iter().filter(|n| n.shard == shard).map(|n| n.view.clone()).collect();
                let primary_failed =
                    members.iter().any(|n| n.labelled == Some(Role::Primary) && nodes.get(&n.name).is_some_and(|m| m.detector.failed(now_ms, detection_ms)));
                let view = ShardView { nodes: members, epoch, primary_failed, failover_enabled: settings.enabled, had_data: had_data.contains(&shard) };
                (shard, view)
            })
            .collect()
    }

    /// Records one probe of `pod` taken between passes (the prober's).
    pub fn record(&self, cluster: &str, pod: &str, now_ms: u64, ok: bool) {
        let mut all = self.clusters.lock();
        let nodes = &mut all.entry(cluster.to_string()).or_default().nodes;
        nodes.entry(pod.to_string()).or_default().detector.record(now_ms, ok);
    }

    /// Whether `pod` has failed every probe for `detection_ms` by `now_ms`.
    pub fn failed(&self, cluster: &str, pod: &str, now_ms: u64, detection_ms: u64) -> bool {
        self.clusters.lock().get(cluster).and_then(|c| c.nodes.get(pod)).is_some_and(|m| m.detector.failed(now_ms, detection_ms))
    }

    /// Forgets the clusters `keep` says are gone.
    pub fn retain(&self, keep: &dyn Fn(&str) -> bool) {
        self.clusters.lock().retain(|key, _| keep(key));
    }

    /// When `pod` began failing probes, if it is failing now.
    pub fn failing_since(&self, cluster: &str, pod: &str) -> Option<u64> {
        self.clusters.lock().get(cluster)?.nodes.get(pod)?.detector.failing_since_ms()
    }
}

/// Points a shard's view at the target of a failover already under way, so the plan
/// finishes that failover (promote if needed, re-point, relabel) rather than choose
/// again. Returns whether it applies: the target must be reachable; otherwise the record
/// is dropped and the brain decides afresh once its detector fires.
pub fn resume(view: &mut ShardView, record: &FailoverRecord) -> bool {
    let epoch = record.epoch.and_then(|e| u64::try_from(e).ok()).unwrap_or(view.epoch);
    if !view.nodes.iter().any(|n| n.name == record.to && n.reachable()) {
        return false;
    }
    adopt_primary(view, &record.to, epoch);
    true
}

/// Makes `name` the shard's labelled primary at `epoch` in the view (a decided failover or
/// switchover being finished), so the plan re-points the others to it.
pub fn adopt_primary(view: &mut ShardView, name: &str, epoch: u64) {
    for node in &mut view.nodes {
        if node.name == name {
            // The newest epoch wins among labelled primaries (choose_primary).
            node.labelled = Some(Role::Primary);
            node.epoch = Some(epoch);
        } else {
            node.epoch = None;
        }
    }
    view.epoch = view.epoch.max(epoch);
    // The decision was made; it is not made twice.
    view.primary_failed = false;
}
