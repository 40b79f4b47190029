//! Rolling changes on Kubernetes: the StatefulSets use `updateStrategy: OnDelete`, and
//! the operator moves pods to their StatefulSet's new revision itself. One shard at a
//! time; in a shard the replicas first, one at a time, each back Ready and in sync
//! before the next; then a planned switchover (`FAILOVER TO` a caught-up, updated
//! replica) with the role labels switched so the writer Service follows; then the old
//! primary, a replica by then. Pods are evicted (not deleted), so the shard's
//! PodDisruptionBudget is honoured against other disruptions too. Nothing moves while a
//! failover is in flight or the brain has role steps to run.
//!
//! The order within a shard is the brain's (topology::next_roll_step); this file feeds it
//! and carries out its steps.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ObjectMeta, Preconditions, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::Context;
use super::error::Error;
use super::events::ClusterEvent;
use super::observe::ObservedNode;
use crate::api::{CacheCluster, CacheClusterStatus, RolloutStatus, SwitchoverRecord};
use crate::nodes::NodeAddr;
use crate::resources::names;
use crate::topology::{NodeView, ReportedRole, Role, ShardView, Step, choose_primary, next_roll_step};

/// The label the StatefulSet controller puts on each pod: the revision it was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// Longest a planned switchover may pause writes (FAILOVER's TIMEOUT).
pub const SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(5);
/// After FAILOVER answers, how long the target gets to report itself primary before the
/// pass gives up waiting (the record in status carries the switchover over).
const HANDOVER_WAIT: Duration = Duration::from_secs(7);
/// How often the target is asked for its role while the handover completes.
const HANDOVER_POLL: Duration = Duration::from_millis(20);
/// A recorded switchover whose target never became primary, while the old primary is
/// not primary either, is given up after this; the brain then decides the shard again.
const SWITCHOVER_ABANDON: Duration = Duration::from_secs(30);

/// The next thing a shard's roll does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RollStep {
    /// Evict this pod; its StatefulSet recreates it on the new revision.
    Restart { pod: String },
    /// Hand the primary role to a caught-up replica that already runs the new revision.
    Switchover { from: String, to: String },
    /// Nothing can move yet, for this reason.
    Wait(String),
}

/// What the roll knows of one pod of a shard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodState {
    pub name: String,
    /// The pod exists.
    pub exists: bool,
    /// Its controller-revision-hash label.
    pub revision: Option<String>,
    /// Ready, and not being deleted.
    pub ready: bool,
}

/// The revision a StatefulSet's pods should run, or None while its controller has not
/// yet seen the latest template (its status would still name the previous revision).
pub fn update_revision(sts: &StatefulSet) -> Option<String> {
    let status = sts.status.as_ref()?;
    let generation = sts.metadata.generation?;
    if status.observed_generation != Some(generation) {
        return None;
    }
    status.update_revision.clone().filter(|r| !r.is_empty())
}

/// The pods of one shard as the roll sees them, in the order of `nodes`.
pub fn pod_states(nodes: &[&ObservedNode], pods: &BTreeMap<String, Pod>) -> Vec<PodState> {
    nodes
        .iter()
        .map(|n| {
            let pod = pods.get(&n.view.name);
            PodState {
                name: n.view.name.clone(),
                exists: pod.is_some(),
                revision: pod.and_then(|p| p.labels().get(REVISION_LABEL).cloned()),
                ready: n.pod_ready && pod.is_some_and(|p| p.metadata.deletion_timestamp.is_none()),
            }
        })
        .collect()
}

/// The next step of one shard's roll to `revision`; None when every pod runs it. Pure.
///
/// A step is taken only while the whole shard is healthy: every pod exists, is Ready and
/// answers, the primary answers as primary, and (checked by the brain) every replica is
/// in sync. So at most one pod of the shard is ever down for the roll, and a replica that
/// was just restarted is back and caught up before the next one goes.
pub fn next_step(view: &ShardView, pods: &[PodState], revision: &str) -> Option<RollStep> {
    let stale: BTreeSet<&str> = pods.iter().filter(|p| p.exists && p.revision.as_deref() != Some(revision)).map(|p| p.name.as_str()).collect();
    if stale.is_empty() {
        return None;
    }
    if let Some(p) = pods.iter().find(|p| !p.exists || !p.ready) {
        let why = if p.exists { "to be ready" } else { "to be created" };
        return Some(RollStep::Wait(format!("waiting for {} {why}", p.name)));
    }
    if let Some(n) = view.nodes.iter().find(|n| !n.reachable()) {
        return Some(RollStep::Wait(format!("waiting for {} to answer", n.name)));
    }
    let Some(primary) = choose_primary(&view.nodes) else {
        return Some(RollStep::Wait("waiting for the shard to have a primary".into()));
    };
    if !primary.reports_primary() {
        return Some(RollStep::Wait(format!("waiting for {} to act as primary", primary.name)));
    }
    match next_roll_step(&view.nodes, primary, &|n: &str| stale.contains(n)) {
        Some(Step::Restart { node }) => Some(RollStep::Restart { pod: node }),
        Some(Step::Switchover { from, to }) => Some(RollStep::Switchover { from, to }),
        Some(other) => Some(RollStep::Wait(format!("unexpected step {other:?}"))),
        None => Some(RollStep::Wait(format!("waiting for the replicas of {} to be in sync", primary.name))),
    }
}

/// How a switchover recorded by an earlier pass (or an earlier operator process) ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Resume {
    /// No switchover was recorded.
    Nothing,
    /// The target is primary: the pass labels it (and the old primary replica).
    Finish(SwitchoverRecord),
    /// Still under way: the shard's role steps are held so the brain does not undo it.
    Hold(SwitchoverRecord),
    /// Aborted or given up: the record goes, the brain decides as usual.
    Drop(SwitchoverRecord, String),
}

/// Decides a recorded switchover's fate from this pass's probes, and on `Finish` points
/// the shard's view at the new primary (with the record's epoch, which wins over the old
/// primary's label in choose_primary), so the brain's plan keeps it.
pub fn resume(views: &mut [(i32, ShardView)], record: Option<&SwitchoverRecord>, age: Duration) -> Resume {
    let Some(record) = record.cloned() else { return Resume::Nothing };
    let Some((_, view)) = views.iter_mut().find(|(s, _)| *s == record.shard) else {
        return Resume::Drop(record, "its shard no longer exists".into());
    };
    let reports_primary = |name: &str| view.nodes.iter().any(|n| n.name == name && n.reports_primary());
    if reports_primary(&record.to) {
        let epoch = u64::try_from(record.epoch).unwrap_or(view.epoch);
        super::failover::adopt_primary(view, &record.to, epoch);
        return Resume::Finish(record);
    }
    if reports_primary(&record.from) {
        return Resume::Drop(record, "the primary kept its role (FAILOVER was refused or timed out)".into());
    }
    if age > SWITCHOVER_ABANDON {
        return Resume::Drop(record, format!("neither node became primary within {}s", SWITCHOVER_ABANDON.as_secs()));
    }
    Resume::Hold(record)
}

/// What the roll did in this pass, for status.
#[derive(Clone, Debug, Default)]
pub struct RollOutcome {
    pub rollout: Option<RolloutStatus>,
    /// The epoch of a switchover made in this pass.
    pub epoch: Option<u64>,
    /// Role labels changed in this pass: (pod, role).
    pub relabelled: Vec<(String, Role)>,
}

/// Everything one roll pass reads.
pub struct RollInput<'a> {
    pub cluster: &'a CacheCluster,
    pub namespace: &'a str,
    pub pods: &'a Api<Pod>,
    pub listed: &'a BTreeMap<String, Pod>,
    pub stateful_sets: &'a [StatefulSet],
    pub views: &'a [(i32, ShardView)],
    pub observed: &'a [ObservedNode],
    pub password: Option<&'a str>,
    /// Why nothing may move in this pass (a failover in flight, role steps run), if so.
    pub paused: Option<String>,
    /// A switchover still under way (Resume::Hold).
    pub pending: Option<SwitchoverRecord>,
    /// The status as this pass found it (with anything the pass already changed).
    pub status: CacheClusterStatus,
    /// The shards' epoch before this pass's switchover, if any.
    pub epoch: u64,
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// Runs at most one roll step for the whole cluster and says where the rollout stands.
pub async fn run(ctx: &Context, input: RollInput<'_>) -> Result<RollOutcome, Error> {
    // A recorded switchover carries over only as `pending` (resume decided its fate).
    let old = input.status.rollout.clone().map(|r| RolloutStatus { switchover: None, ..r });
    let mut updated = 0usize;
    let mut total = 0usize;
    let mut unknown = false;
    let mut active: Option<(i32, RollStep)> = None;
    for (shard, view) in input.views {
        let members: Vec<&ObservedNode> = input.observed.iter().filter(|n| n.shard == *shard).collect();
        total += members.len();
        let sts_name = names::shard_name(&input.cluster.name_any(), *shard);
        let revision = input.stateful_sets.iter().find(|s| s.metadata.name.as_deref() == Some(sts_name.as_str())).and_then(update_revision);
        let Some(revision) = revision else {
            unknown = true;
            continue;
        };
        let states = pod_states(&members, input.listed);
        updated += states.iter().filter(|p| p.revision.as_deref() == Some(revision.as_str())).count();
        if active.is_none()
            && let Some(step) = next_step(view, &states, &revision)
        {
            active = Some((*shard, step));
        }
    }
    let counts = format!("{updated}/{total}");
    let Some((shard, step)) = active else {
        if let Some(record) = input.pending {
            let message = format!("switching shard {} over from {} to {}", record.shard, record.from, record.to);
            let rollout = old.map(|r| RolloutStatus { updated_nodes: counts.clone(), message: message.clone(), switchover: Some(record.clone()), ..r });
            return Ok(RollOutcome { rollout, ..Default::default() });
        }
        // A StatefulSet whose controller lags tells nothing: keep what was known.
        if unknown {
            return Ok(RollOutcome { rollout: old, ..Default::default() });
        }
        if let Some(r) = &old {
            let note = format!("every pod runs its StatefulSet's current revision ({counts}), started {}", r.started_at.0);
            ctx.events.publish(input.cluster, ClusterEvent { warning: false, reason: "RollingUpdateCompleted", action: "RollingUpdate", note }).await;
        }
        return Ok(RollOutcome::default());
    };
    let started_at = old.as_ref().map_or_else(now, |r| r.started_at.clone());
    let rollout = |message: String| RolloutStatus { started_at: started_at.clone(), shard, updated_nodes: counts.clone(), message, switchover: None };
    if let Some(record) = input.pending {
        let message = format!("switching shard {} over from {} to {}", record.shard, record.from, record.to);
        return Ok(RollOutcome { rollout: Some(RolloutStatus { switchover: Some(record), ..rollout(message) }), ..Default::default() });
    }
    if let Some(why) = &input.paused {
        return Ok(RollOutcome { rollout: Some(rollout(format!("paused: {why}"))), ..Default::default() });
    }
    match step {
        RollStep::Wait(why) => Ok(RollOutcome { rollout: Some(rollout(format!("shard {shard}: {why}"))), ..Default::default() }),
        RollStep::Restart { pod } => {
            let uid = input.listed.get(&pod).and_then(|p| p.metadata.uid.clone());
            let message = match evict(input.pods, &pod, uid).await? {
                Evicted::Yes => {
                    tracing::info!(shard, pod = %pod, updated = %counts, "restarting a pod for the rolling update");
                    let note = format!("shard {shard}: restarting {pod} on its StatefulSet's new revision ({counts} pods updated)");
                    ctx.events.publish(input.cluster, ClusterEvent { warning: false, reason: "RollingUpdate", action: "RollingUpdate", note }).await;
                    format!("shard {shard}: restarting {pod}")
                }
                Evicted::Refused(why) => format!("shard {shard}: {pod} may not be restarted yet: {why}"),
            };
            Ok(RollOutcome { rollout: Some(rollout(message)), ..Default::default() })
        }
        RollStep::Switchover { from, to } => {
            let record = SwitchoverRecord { time: now(), shard, from, to, epoch: i64::try_from(input.epoch.saturating_add(1)).unwrap_or(i64::MAX) };
            let message = format!("switching shard {shard} over from {} to {}", record.from, record.to);
            let mut flight = input.status.clone();
            flight.rollout = Some(RolloutStatus { switchover: Some(record.clone()), ..rollout(message.clone()) });
            flight.epoch = Some(record.epoch);
            super::reconcile::patch_status(ctx, input.namespace, &input.cluster.name_any(), &flight).await?;
            let done = switch_over(ctx, &input, &record).await;
            let epoch = u64::try_from(record.epoch).ok();
            Ok(match done {
                Switched::Done(relabelled) => RollOutcome { rollout: Some(rollout(message)), epoch, relabelled },
                Switched::Pending => {
                    RollOutcome { rollout: Some(RolloutStatus { switchover: Some(record), ..rollout(message) }), epoch, relabelled: Vec::new() }
                }
                Switched::Refused(why) => {
                    RollOutcome { rollout: Some(rollout(format!("shard {shard}: switchover refused: {why}"))), epoch, relabelled: Vec::new() }
                }
            })
        }
    }
}

enum Evicted {
    Yes,
    /// The API server refused: the PodDisruptionBudget allows no disruption now.
    Refused(String),
}

/// Evicts a pod, only the one observed (its uid), through the eviction API so its
/// PodDisruptionBudget is respected. The body is written here rather than by kube's
/// `evict`, whose body names the options in a way the API server ignores.
async fn evict(pods: &Api<Pod>, name: &str, uid: Option<String>) -> Result<Evicted, Error> {
    let eviction = Eviction {
        metadata: ObjectMeta { name: Some(name.to_string()), ..ObjectMeta::default() },
        delete_options: uid
            .map(|uid| DeleteOptions { preconditions: Some(Preconditions { uid: Some(uid), resource_version: None }), ..DeleteOptions::default() }),
    };
    match pods.create_subresource::<_, serde_json::Value>("eviction", name, &PostParams::default(), &eviction).await {
        Ok(_) => Ok(Evicted::Yes),
        // 429: the budget allows no disruption now; 409: the pod changed (a new uid).
        Err(kube::Error::Api(s)) if s.code == 429 || s.code == 409 => Ok(Evicted::Refused(s.message)),
        // Gone already: its StatefulSet recreates it on the new revision.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Evicted::Yes),
        Err(source) => Err(Error::Kube { stage: "evicting a pod for the rolling update", source }),
    }
}

enum Switched {
    /// Handed over and relabelled.
    Done(Vec<(String, Role)>),
    /// Sent; not confirmed in this pass (the record carries it to the next).
    Pending,
    /// The primary refused FAILOVER; nothing changed.
    Refused(String),
}

fn node_of<'a>(observed: &'a [ObservedNode], name: &str) -> Option<&'a NodeView> {
    observed.iter().find(|n| n.view.name == name).map(|n| &n.view)
}

fn addr(view: &NodeView, password: Option<&str>) -> NodeAddr {
    NodeAddr { host: view.host.clone(), port: view.port, password: password.map(str::to_string) }
}

/// The role label patch, as act.rs sends it.
pub async fn label(pods: &Api<Pod>, pod: &str, role: Role) -> Result<(), kube::Error> {
    let value = match role {
        Role::Primary => names::ROLE_PRIMARY,
        Role::Replica => names::ROLE_REPLICA,
    };
    let patch = serde_json::json!({ "metadata": { "labels": { names::LABEL_ROLE: value } } });
    pods.patch(pod, &PatchParams::default(), &Patch::Merge(&patch)).await.map(drop)
}

/// FAILOVER TO on the primary; once the target answers as primary, the labels move (the
/// new primary's first, so the writer Service never selects nobody for long) and the old
/// primary's clients are closed so they reconnect through the writer Service.
async fn switch_over(ctx: &Context, input: &RollInput<'_>, record: &SwitchoverRecord) -> Switched {
    let (Some(from), Some(to)) = (node_of(input.observed, &record.from), node_of(input.observed, &record.to)) else {
        return Switched::Refused("a node of the switchover is not in the cluster".into());
    };
    let (from_addr, to_addr) = (addr(from, input.password), addr(to, input.password));
    let started = Instant::now();
    tracing::info!(shard = record.shard, from = %record.from, to = %record.to, epoch = record.epoch, "planned switchover");
    if let Err(e) = ctx.nodes.failover_to(&from_addr, (&to.host, to.port), SWITCHOVER_TIMEOUT).await {
        tracing::warn!(shard = record.shard, from = %record.from, to = %record.to, error = %e, "switchover refused");
        let note = format!("shard {}: {} refused to hand over to {}: {e}", record.shard, record.from, record.to);
        ctx.events.publish(input.cluster, ClusterEvent { warning: true, reason: "SwitchoverFailed", action: "Switchover", note }).await;
        return Switched::Refused(e.to_string());
    }
    let deadline = started + HANDOVER_WAIT;
    loop {
        if matches!(ctx.nodes.role(&to_addr).await, Ok(ReportedRole::Primary { .. })) {
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!(shard = record.shard, to = %record.to, "the switchover target is not primary yet; the next pass looks again");
            return Switched::Pending;
        }
        tokio::time::sleep(HANDOVER_POLL).await;
    }
    let paused = started.elapsed();
    for (pod, role) in [(&record.to, Role::Primary), (&record.from, Role::Replica)] {
        if let Err(e) = label(input.pods, pod, role).await {
            tracing::warn!(pod = %pod, error = %e, "labelling after the switchover failed; the next pass finishes it");
            return Switched::Pending;
        }
    }
    ctx.metrics.role_changes.inc_by(2);
    if let Err(e) = ctx.nodes.kill_clients(&from_addr).await {
        tracing::warn!(pod = %record.from, error = %e, "closing the old primary's client connections failed");
    }
    tracing::info!(shard = record.shard, from = %record.from, to = %record.to, seconds = paused.as_secs_f64(), "switchover done");
    let note = format!(
        "shard {}: {} is primary in place of {} (planned switchover for the rolling update, {:.2}s), epoch {}",
        record.shard,
        record.to,
        record.from,
        paused.as_secs_f64(),
        record.epoch
    );
    ctx.events.publish(input.cluster, ClusterEvent { warning: false, reason: "SwitchedOver", action: "Switchover", note }).await;
    Switched::Done(vec![(record.to.clone(), Role::Primary), (record.from.clone(), Role::Replica)])
}

/// After the pass ran a resumed switchover's label steps: close the old primary's
/// clients and say so.
pub async fn finished_resumed(ctx: &Context, cluster: &CacheCluster, observed: &[ObservedNode], record: &SwitchoverRecord, password: Option<&str>) {
    if let Some(from) = node_of(observed, &record.from)
        && let Err(e) = ctx.nodes.kill_clients(&addr(from, password)).await
    {
        tracing::warn!(pod = %record.from, error = %e, "closing the old primary's client connections failed");
    }
    let note = format!(
        "shard {}: {} is primary in place of {} (planned switchover, finished by a later pass), epoch {}",
        record.shard, record.to, record.from, record.epoch
    );
    ctx.events.publish(cluster, ClusterEvent { warning: false, reason: "SwitchedOver", action: "Switchover", note }).await;
}

/// Puts the roll into the status the pass computed: the rollout, the labels it moved, and
/// conditions that say a planned restart is progressing rather than a fault.
pub fn annotate(status: &mut CacheClusterStatus, roll: &RollOutcome, generation: Option<i64>, now: &Time) {
    for shard in &mut status.shards {
        for node in &mut shard.nodes {
            if let Some((_, role)) = roll.relabelled.iter().find(|(pod, _)| *pod == node.pod) {
                node.role = Some(match role {
                    Role::Primary => names::ROLE_PRIMARY.to_string(),
                    Role::Replica => names::ROLE_REPLICA.to_string(),
                });
                if *role == Role::Primary {
                    shard.primary = Some(node.pod.clone());
                }
            }
        }
    }
    status.rollout = roll.rollout.clone();
    let Some(rollout) = &roll.rollout else { return };
    let condition = |type_: &str, value: bool, reason: &str, message: String| k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: type_.to_string(),
        status: if value { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    };
    let message = format!("rolling update: {} pods updated; {}", rollout.updated_nodes, rollout.message);
    super::status::set_condition(status, condition(super::status::PROGRESSING, true, "RollingUpdate", message.clone()));
    // A pod restarted on purpose is not a fault: Degraded stays for real ones.
    let planned = status.conditions.iter().any(|c| c.type_ == super::status::DEGRADED && c.status == "True" && c.reason == "NodesNotReady");
    if planned {
        super::status::set_condition(status, condition(super::status::DEGRADED, false, "RollingUpdate", message));
        status.phase = Some(crate::api::Phase::Updating);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Replication;

    fn node(ordinal: i32, labelled: Role, reported: ReportedRole) -> NodeView {
        NodeView {
            name: format!("c-0-{ordinal}"),
            ordinal,
            host: format!("h{ordinal}"),
            port: 6379,
            labelled: Some(labelled),
            reported: Some(reported),
            replication: Some(Replication { offset: 100, link_up: true, keys: 1, ..Default::default() }),
            ..Default::default()
        }
    }

    fn shard(in_sync: bool) -> ShardView {
        let replica = |o| node(o, Role::Replica, ReportedRole::Replica { primary_host: "h0".into(), primary_port: 6379, in_sync });
        ShardView { nodes: vec![node(0, Role::Primary, ReportedRole::Primary { replicas: 2 }), replica(1), replica(2)], ..Default::default() }
    }

    fn pods(revisions: &[&str]) -> Vec<PodState> {
        revisions.iter().enumerate().map(|(i, r)| PodState { name: format!("c-0-{i}"), exists: true, revision: Some(r.to_string()), ready: true }).collect()
    }

    #[test]
    fn replicas_roll_first_then_the_primary_hands_over_then_goes() {
        let view = shard(true);
        assert_eq!(next_step(&view, &pods(&["old", "old", "old"]), "new"), Some(RollStep::Restart { pod: "c-0-1".into() }));
        assert_eq!(next_step(&view, &pods(&["old", "new", "old"]), "new"), Some(RollStep::Restart { pod: "c-0-2".into() }));
        assert_eq!(next_step(&view, &pods(&["old", "new", "new"]), "new"), Some(RollStep::Switchover { from: "c-0-0".into(), to: "c-0-1".into() }));
        assert_eq!(next_step(&view, &pods(&["new", "new", "new"]), "new"), None);
        // After the switchover c-0-1 is primary and c-0-0 (stale) a replica of it.
        let mut after = shard(true);
        after.nodes[0] = node(0, Role::Replica, ReportedRole::Replica { primary_host: "h1".into(), primary_port: 6379, in_sync: true });
        after.nodes[1] = node(1, Role::Primary, ReportedRole::Primary { replicas: 2 });
        after.nodes[2].reported = Some(ReportedRole::Replica { primary_host: "h1".into(), primary_port: 6379, in_sync: true });
        assert_eq!(next_step(&after, &pods(&["old", "new", "new"]), "new"), Some(RollStep::Restart { pod: "c-0-0".into() }));
    }

    #[test]
    fn nothing_moves_unless_the_whole_shard_is_healthy() {
        let mut restarting = pods(&["old", "new", "old"]);
        restarting[1].ready = false;
        assert!(matches!(next_step(&shard(true), &restarting, "new"), Some(RollStep::Wait(w)) if w.contains("c-0-1 to be ready")));
        let mut missing = pods(&["old", "new", "old"]);
        missing[1].exists = false;
        assert!(matches!(next_step(&shard(true), &missing, "new"), Some(RollStep::Wait(w)) if w.contains("c-0-1 to be created")));
        // Back and Ready but still catching up: the next replica waits.
        assert!(matches!(next_step(&shard(false), &pods(&["old", "new", "old"]), "new"), Some(RollStep::Wait(w)) if w.contains("in sync")));
        let mut silent = shard(true);
        silent.nodes[2].reported = None;
        assert!(matches!(next_step(&silent, &pods(&["old", "new", "old"]), "new"), Some(RollStep::Wait(w)) if w.contains("c-0-2 to answer")));
    }

    #[test]
    fn a_lagging_statefulset_status_gives_no_revision() {
        let mut sts: StatefulSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "c-0", "generation": 4},
            "status": {"replicas": 3, "observedGeneration": 3, "updateRevision": "c-0-abc"}
        }))
        .unwrap();
        assert_eq!(update_revision(&sts), None);
        sts.status.as_mut().unwrap().observed_generation = Some(4);
        assert_eq!(update_revision(&sts).as_deref(), Some("c-0-abc"));
    }

    #[test]
    fn a_recorded_switchover_finishes_holds_or_is_dropped_by_what_the_nodes_say() {
        let record = SwitchoverRecord { time: now(), shard: 0, from: "c-0-0".into(), to: "c-0-1".into(), epoch: 7 };
        // Handed over: c-0-1 answers primary; the view makes it the primary at epoch 7.
        let mut handed = shard(true);
        handed.nodes[0].reported = Some(ReportedRole::Replica { primary_host: "h1".into(), primary_port: 6379, in_sync: true });
        handed.nodes[1].reported = Some(ReportedRole::Primary { replicas: 2 });
        let mut views = vec![(0, handed)];
        assert_eq!(resume(&mut views, Some(&record), Duration::ZERO), Resume::Finish(record.clone()));
        assert_eq!(choose_primary(&views[0].1.nodes).map(|n| n.name.as_str()), Some("c-0-1"));
        assert_eq!(views[0].1.epoch, 7);
        // Aborted: the old primary still answers primary.
        let mut views = vec![(0, shard(true))];
        assert!(matches!(resume(&mut views, Some(&record), Duration::ZERO), Resume::Drop(..)));
        // Mid-way: neither answers primary; held, then given up.
        let mut midway = shard(true);
        midway.nodes[0].reported = Some(ReportedRole::Replica { primary_host: "h1".into(), primary_port: 6379, in_sync: false });
        let mut views = vec![(0, midway)];
        assert_eq!(resume(&mut views, Some(&record), Duration::from_secs(1)), Resume::Hold(record.clone()));
        assert!(matches!(resume(&mut views, Some(&record), Duration::from_secs(60)), Resume::Drop(..)));
        assert_eq!(resume(&mut views, None, Duration::ZERO), Resume::Nothing);
    }
}
