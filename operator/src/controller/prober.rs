//! A prober task per CacheCluster with failover on. It asks every node its `ROLE` on the
//! short period (`detectionSeconds / 3`), and each labelled primary its `INFO` run id,
//! feeds the same failure detectors the reconcile pass reads, and asks the controller for
//! a pass only when something needs one: a labelled primary failed for the detection
//! time or restarted (a new run id: it may have come back empty, and its replicas must
//! not copy that), or a node's role disagrees with its label. The full pass (apply, list pods, INFO of every node, status) then runs on watch
//! events and a slow requeue instead of every period, which keeps the API server's load
//! independent of how fast failures are detected.
//!
//! Tasks are started and updated by the reconcile pass (`Probers::ensure`, with the nodes
//! and labels it just saw) and stopped when failover is turned off, when the cluster is
//! deleted (`Probers::retain` against the controller's store) or when the controller stops.

use futures::channel::mpsc::UnboundedSender;
use futures::future::join_all;
use kube::runtime::reflector::ObjectRef;
use parking_lot::Mutex;
use prometheus::IntCounter;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

use super::act::ShardOutcome;
use super::failover::{Clock, Memory, Settings};
use super::observe::ObservedNode;
use crate::api::CacheCluster;
use crate::nodes::{NodeAddr, NodeClient};
use crate::topology::{ReportedRole, Role, Step};

/// One node the prober watches, with the label the last pass left on its pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub pod: String,
    pub shard: i32,
    pub addr: NodeAddr,
    pub labelled: Option<Role>,
}

/// What a round of probes found that a reconcile pass must act on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// The labelled primary failed every probe for the detection time.
    PrimaryFailed { pod: String },
    /// The labelled primary answers with a new run id: its process restarted, maybe
    /// without its data. The pass looks at its keys and offset and hands the role to a
    /// replica holding the data before the replicas resync from an empty node.
    PrimaryRestarted { pod: String, run_id: String },
    /// A node acts in another role than its label says (a returning old primary, a
    /// primary that was demoted behind the operator's back, a replica following another
    /// node than the labelled primary).
    RoleDisagrees { pod: String },
}

/// The findings of one round. `reported[i]` is target i's answer to ROLE (None: no
/// answer); `failed(pod)` is its failure detector's verdict. Pure.
pub fn findings(targets: &[Target], reported: &[Option<ReportedRole>], failed: &dyn Fn(&str) -> bool) -> BTreeSet<Finding> {
    let mut found = BTreeSet::new();
    for (target, role) in targets.iter().zip(reported) {
        let primary = targets.iter().find(|t| t.shard == target.shard && t.labelled == Some(Role::Primary));
        let disagrees = match (target.labelled, role) {
            (Some(Role::Primary), Some(ReportedRole::Replica { .. })) => true,
            (Some(Role::Replica), Some(ReportedRole::Primary { .. })) => true,
            (Some(Role::Replica), Some(ReportedRole::Replica { primary_host, primary_port, .. })) => {
                primary.is_some_and(|p| (p.addr.host.as_str(), p.addr.port) != (primary_host.as_str(), *primary_port))
            }
            _ => false,
        };
        if disagrees {
            found.insert(Finding::RoleDisagrees { pod: target.pod.clone() });
        }
        if target.labelled == Some(Role::Primary) && role.is_none() && failed(&target.pod) {
            found.insert(Finding::PrimaryFailed { pod: target.pod.clone() });
        }
    }
    found
}

/// Remembers `pod`'s run id; true when it differs from the one seen before (the process
/// restarted). The first sighting is no restart.
pub fn run_id_changed(seen: &mut HashMap<String, String>, pod: &str, run_id: &str) -> bool {
    if run_id.is_empty() {
        return false;
    }
    match seen.insert(pod.to_string(), run_id.to_string()) {
        Some(old) => old != run_id,
        None => false,
    }
}

/// Whether a round's findings call for a pass: only something new does. A finding that
/// persists (a failed primary with no replica fit to take over) was handed to a pass
/// already; the pass's own requeue retries it, so the prober does not hammer the queue.
pub fn should_trigger(last: &BTreeSet<Finding>, now: &BTreeSet<Finding>) -> bool {
    now.difference(last).next().is_some()
}

/// The nodes of a pass as the prober's targets, labelled as the pass left them.
pub fn targets(observed: &[ObservedNode], outcomes: &[ShardOutcome], password: Option<&str>) -> Vec<Target> {
    observed
        .iter()
        .map(|n| {
            let relabelled = outcomes.iter().flat_map(|o| &o.done).rev().find_map(|s| match s {
                Step::Label { node, role } if *node == n.view.name => Some(*role),
                _ => None,
            });
            Target {
                pod: n.view.name.clone(),
                shard: n.shard,
                addr: NodeAddr { host: n.view.host.clone(), port: n.view.port, password: password.map(str::to_string) },
                labelled: relabelled.or(n.view.labelled),
            }
        })
        .collect()
}

struct Running {
    settings: Settings,
    targets: Arc<Mutex<Vec<Target>>>,
    task: JoinHandle<()>,
}

/// The running prober tasks, by cluster key (`namespace/name`).
pub struct Probers {
    trigger: UnboundedSender<ObjectRef<CacheCluster>>,
    nodes: Arc<dyn NodeClient>,
    memory: Arc<Memory>,
    clock: Clock,
    /// Passes asked for (`cachefleet_operator_prober_triggers_total`).
    triggers: IntCounter,
    running: Mutex<HashMap<String, Running>>,
}

impl Probers {
    /// `trigger` feeds the controller (`Controller::reconcile_on`).
    pub fn new(
        trigger: UnboundedSender<ObjectRef<CacheCluster>>,
        nodes: Arc<dyn NodeClient>,
        memory: Arc<Memory>,
        clock: Clock,
        triggers: IntCounter,
    ) -> Probers {
        Probers { trigger, nodes, memory, clock, triggers, running: Mutex::new(HashMap::new()) }
    }

    /// Starts the cluster's prober, or gives the running one the latest targets; a change
    /// of the detection time restarts it on the new period.
    pub fn ensure(&self, cluster: ObjectRef<CacheCluster>, key: &str, settings: Settings, targets: Vec<Target>) {
        let mut running = self.running.lock();
        if let Some(r) = running.get(key)
            && r.settings == settings
            && !r.task.is_finished()
        {
            *r.targets.lock() = targets;
            return;
        }
        if let Some(old) = running.remove(key) {
            old.task.abort();
        }
        let shared = Arc::new(Mutex::new(targets));
        let task = tokio::spawn(probe_loop(Loop {
            cluster,
            key: key.to_string(),
            settings,
            targets: shared.clone(),
            nodes: self.nodes.clone(),
            memory: self.memory.clone(),
            clock: self.clock.clone(),
            trigger: self.trigger.clone(),
            triggers: self.triggers.clone(),
        }));
        tracing::debug!(cluster = key, period = ?settings.probe_period(), "prober started");
        running.insert(key.to_string(), Running { settings, targets: shared, task });
    }

    /// Stops the cluster's prober, if it runs.
    pub fn stop(&self, key: &str) {
        if let Some(r) = self.running.lock().remove(key) {
            r.task.abort();
            tracing::debug!(cluster = key, "prober stopped");
        }
    }

    /// Keeps only the probers of clusters `keep` says still exist.
    pub fn retain(&self, keep: &dyn Fn(&str) -> bool) {
        self.running.lock().retain(|key, r| {
            let alive = keep(key);
            if !alive {
                r.task.abort();
                tracing::debug!(cluster = key, "prober stopped: the cluster is gone");
            }
            alive
        });
    }

    /// Clusters with a prober running.
    pub fn keys(&self) -> Vec<String> {
        self.running.lock().keys().cloned().collect()
    }

    pub fn stop_all(&self) {
        for (_, r) in self.running.lock().drain() {
            r.task.abort();
        }
    }
}

impl Drop for Probers {
    fn drop(&mut self) {
        self.stop_all();
    }
}

struct Loop {
    cluster: ObjectRef<CacheCluster>,
    key: String,
    settings: Settings,
    targets: Arc<Mutex<Vec<Target>>>,
    nodes: Arc<dyn NodeClient>,
    memory: Arc<Memory>,
    clock: Clock,
    trigger: UnboundedSender<ObjectRef<CacheCluster>>,
    triggers: IntCounter,
}

async fn probe_loop(l: Loop) {
    let detection_ms = u64::try_from(l.settings.detection.as_millis()).unwrap_or(u64::MAX);
    let mut ticks = tokio::time::interval(l.settings.probe_period());
    // A slow round (nodes timing out) delays the next one instead of bunching them up.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = BTreeSet::new();
    let mut run_ids: HashMap<String, String> = HashMap::new();
    loop {
        ticks.tick().await;
        let targets = l.targets.lock().clone();
        let answers = join_all(targets.iter().map(|t| l.nodes.role(&t.addr))).await;
        let now = (l.clock)();
        let reported: Vec<Option<ReportedRole>> = answers.into_iter().map(Result::ok).collect();
        for (t, r) in targets.iter().zip(&reported) {
            l.memory.record(&l.key, &t.pod, now, r.is_some());
        }
        let mut found = findings(&targets, &reported, &|pod: &str| l.memory.failed(&l.key, pod, now, detection_ms));
        let primaries: Vec<&Target> = targets.iter().zip(&reported).filter(|(t, r)| t.labelled == Some(Role::Primary) && r.is_some()).map(|(t, _)| t).collect();
        let infos = join_all(primaries.iter().map(|t| l.nodes.info(&t.addr))).await;
        for (t, info) in primaries.iter().zip(infos) {
            if let Ok(info) = info
                && run_id_changed(&mut run_ids, &t.pod, &info.run_id)
            {
                found.insert(Finding::PrimaryRestarted { pod: t.pod.clone(), run_id: info.run_id });
            }
        }
        run_ids.retain(|pod, _| targets.iter().any(|t| t.pod == *pod));
        if should_trigger(&last, &found) {
            tracing::info!(cluster = %l.key, findings = ?found, "probes call for a reconcile");
            l.triggers.inc();
            if l.trigger.unbounded_send(l.cluster.clone()).is_err() {
                // The controller is gone.
                return;
            }
        }
        last = found;
    }
}

/// How long until the next full pass: the short probe period while a failover is in
/// flight, or when failover is on and no prober watches the nodes (the pass is then the
/// probe); the caller's slow period otherwise.
pub fn requeue(prober_running: bool, busy: bool, settings: Settings, slow: Duration) -> Duration {
    if busy || (settings.enabled && !prober_running) { settings.probe_period() } else { slow }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ordinal: i32, labelled: Option<Role>) -> Target {
        Target { pod: format!("c-0-{ordinal}"), shard: 0, addr: NodeAddr { host: format!("h{ordinal}"), port: 6379, password: None }, labelled }
    }

    fn replica_of(ordinal: i32) -> Option<ReportedRole> {
        Some(ReportedRole::Replica { primary_host: format!("h{ordinal}"), primary_port: 6379, in_sync: true })
    }

    fn primary() -> Option<ReportedRole> {
        Some(ReportedRole::Primary { replicas: 1 })
    }

    #[test]
    fn findings_are_failed_primaries_and_roles_that_disagree_with_labels() {
        let targets = vec![target(0, Some(Role::Primary)), target(1, Some(Role::Replica)), target(2, None)];
        let none = |_: &str| false;
        let all = |_: &str| true;
        type Case<'a> = (&'a str, Vec<Option<ReportedRole>>, &'a dyn Fn(&str) -> bool, Vec<Finding>);
        let cases: Vec<Case> = vec![
            ("settled", vec![primary(), replica_of(0), primary()], &none, vec![]),
            ("primary down, detector not fired", vec![None, replica_of(0), None], &none, vec![]),
            ("primary down, detector fired", vec![None, replica_of(0), None], &all, vec![Finding::PrimaryFailed { pod: "c-0-0".into() }]),
            ("a replica down is not a failover", vec![primary(), None, None], &all, vec![]),
            ("labelled replica acts as primary", vec![primary(), primary(), None], &none, vec![Finding::RoleDisagrees { pod: "c-0-1".into() }]),
            ("labelled primary acts as replica", vec![replica_of(1), replica_of(0), None], &none, vec![Finding::RoleDisagrees { pod: "c-0-0".into() }]),
            ("replica follows someone else", vec![primary(), replica_of(2), None], &none, vec![Finding::RoleDisagrees { pod: "c-0-1".into() }]),
        ];
        for (what, reported, failed, want) in cases {
            let got: Vec<Finding> = findings(&targets, &reported, failed).into_iter().collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn a_new_run_id_is_a_restart_the_first_one_is_not() {
        let mut seen = HashMap::new();
        assert!(!run_id_changed(&mut seen, "c-0-0", "a"));
        assert!(!run_id_changed(&mut seen, "c-0-0", "a"));
        assert!(run_id_changed(&mut seen, "c-0-0", "b"));
        assert!(!run_id_changed(&mut seen, "c-0-0", "b"));
        assert!(!run_id_changed(&mut seen, "c-0-0", ""), "an INFO without run_id says nothing");
        assert!(!run_id_changed(&mut seen, "c-0-1", "b"), "another pod's first sighting");
    }

    #[test]
    fn only_new_findings_trigger_a_pass() {
        let failed = BTreeSet::from([Finding::PrimaryFailed { pod: "c-0-0".into() }]);
        let both = BTreeSet::from([Finding::PrimaryFailed { pod: "c-0-0".into() }, Finding::RoleDisagrees { pod: "c-0-1".into() }]);
        assert!(!should_trigger(&BTreeSet::new(), &BTreeSet::new()));
        assert!(should_trigger(&BTreeSet::new(), &failed));
        assert!(!should_trigger(&failed, &failed), "a persisting finding was handed over already");
        assert!(should_trigger(&failed, &both));
        assert!(!should_trigger(&both, &failed), "a finding that clears needs no pass");
        // The same finding again after it cleared is new again.
        assert!(should_trigger(&BTreeSet::new(), &failed));
    }

    #[test]
    fn a_prober_shortens_nothing_but_the_busy_passes() {
        let on = Settings { enabled: true, detection: Duration::from_secs(3) };
        let slow = Duration::from_secs(60);
        assert_eq!(requeue(true, false, on, slow), slow);
        assert_eq!(requeue(true, true, on, slow), Duration::from_secs(1));
        // Without a prober the pass itself probes on the short period.
        assert_eq!(requeue(false, false, on, slow), Duration::from_secs(1));
        let off = Settings { enabled: false, ..on };
        assert_eq!(requeue(false, false, off, slow), slow);
    }
}
