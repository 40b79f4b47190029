//! Replica scaling on Kubernetes, driven by the brain (`topology::change`). When
//! `replicasPerShard` changes, the StatefulSet is not resized by the builder: apply keeps
//! its current size and this stage moves it one pod at a time, only on a settled shard
//! (no failover in flight, every role in place, the primary answering):
//!
//! - up: one more pod once every existing replica is in sync (the brain's
//!   `next_scale_step`), so a new replica never counts before it holds the data and the
//!   primary feeds one full sync at a time;
//! - down: the StatefulSet removes its highest ordinal. That pod is never the primary:
//!   when the primary sits on an ordinal that goes away, a planned switchover (`FAILOVER
//!   TO` the caught-up replica with the most data among those that stay, the brain's
//!   `next_roll_step`) moves the role first, and the pod is removed on a later pass. A pod
//!   is removed only while every node that stays is ready and in sync, so a shrink never
//!   takes the shard below what its PodDisruptionBudget (one pod unavailable) allows.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::Context;
use super::act::{self, ShardOutcome};
use super::error::{Error, KubeStage};
use super::events::ClusterEvent;
use super::observe::ObservedNode;
use super::status;
use crate::api::{CacheCluster, CacheClusterStatus, FailoverRecord, Phase};
use crate::nodes::NodeAddr;
use crate::resources::{Desired, names};
use crate::topology::{NodeView, ReportedRole, Role, ShardPlan, ShardView, Step, next_roll_step, next_scale_step};

/// The reason recorded for a switchover made so a primary's pod can be removed.
pub const SWITCHOVER_REASON: &str = "planned switchover before scaling down";
/// Condition reason while a shard's replica count moves toward the spec.
pub const REASON_SCALING: &str = "ScalingReplicas";
/// How soon to look again after a scaling step, to see it take.
pub const REQUEUE_SCALING: Duration = Duration::from_secs(2);
/// Longest the primary may pause writes for the target to catch up (FAILOVER's TIMEOUT).
const SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the target to report primary after FAILOVER answered.
const HANDOVER_DEADLINE: Duration = Duration::from_secs(7);

/// Each shard's StatefulSet replicas as the API server has them; a shard whose
/// StatefulSet does not exist yet is absent (it is created at the spec's size).
pub async fn sizes(client: &Client, namespace: &str, cluster: &str, shards: i32) -> Result<BTreeMap<i32, i32>, Error> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("{}={cluster},{}={}", names::LABEL_CLUSTER, names::LABEL_MANAGED_BY, names::FIELD_MANAGER));
    let listed = api.list(&lp).await.stage("listing StatefulSets")?;
    let by_name: BTreeMap<String, i32> =
        listed.items.into_iter().filter_map(|s| Some((s.metadata.name?, s.spec.and_then(|spec| spec.replicas).unwrap_or(1)))).collect();
    Ok((0..shards).filter_map(|shard| by_name.get(&names::shard_name(cluster, shard)).map(|n| (shard, *n))).collect())
}

/// Keeps existing StatefulSets at their current size: apply never resizes a shard, this
/// stage does, one safe step at a time.
pub fn hold(desired: &mut Desired, sizes: &BTreeMap<i32, i32>) {
    for shard in &mut desired.shards {
        if let (Some(n), Some(spec)) = (sizes.get(&shard.index), shard.stateful_set.spec.as_mut()) {
            spec.replicas = Some(*n);
        }
    }
}

/// A switchover record whose handover never began (the target is not primary and the
/// recorded primary still is: FAILOVER was refused, timed out, or never sent) is dropped,
/// so nothing promotes the target behind a primary that still takes writes; the next
/// settled pass decides again.
pub fn drop_unstarted_switchovers(in_progress: &mut Vec<FailoverRecord>, observed: &[ObservedNode]) {
    let reports_primary = |pod: &str| observed.iter().any(|n| n.view.name == pod && n.view.reports_primary());
    in_progress.retain(|r| {
        let unstarted = r.reason == SWITCHOVER_REASON && !reports_primary(&r.to) && reports_primary(&r.from);
        if unstarted {
            tracing::info!(shard = r.shard, from = %r.from, to = %r.to, "a switchover did not start; deciding again");
        }
        !unstarted
    });
}

/// What one shard's scaling needs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The StatefulSet has the size the spec asks for.
    Steady,
    /// Set the StatefulSet's replicas to `to` (one pod more or less).
    Resize { to: i32 },
    /// Move the primary role off a pod that is about to be removed.
    Switchover { from: String, to: String },
    /// Not now; why, for status and logs.
    Wait(String),
}

/// One shard as the scaling decision sees it.
pub struct ShardState<'a> {
    /// The StatefulSet's replicas now.
    pub members: i32,
    /// Pods the spec asks for (1 + replicasPerShard).
    pub wanted: i32,
    pub view: &'a ShardView,
    /// This pass's plan for the shard, before it ran.
    pub plan: &'a ShardPlan,
    /// A failover was recorded, started or finished in this pass.
    pub failover_in_flight: bool,
}

fn names_of(nodes: &[&NodeView]) -> String {
    nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The next scaling step of one shard. Pure.
pub fn decide(s: &ShardState<'_>) -> Decision {
    if s.members == s.wanted {
        return Decision::Steady;
    }
    if s.failover_in_flight || s.plan.failover.is_some() || s.view.primary_failed {
        return Decision::Wait("a failover is in flight".into());
    }
    if !s.plan.steps.is_empty() {
        return Decision::Wait("roles are being put in place".into());
    }
    let members: Vec<NodeView> = s.view.nodes.iter().filter(|n| n.ordinal < s.members).cloned().collect();
    let Some(primary) = s.plan.primary.as_ref().and_then(|p| members.iter().find(|n| n.name == *p)) else {
        return Decision::Wait("the shard has no primary".into());
    };
    if !primary.reports_primary() {
        return Decision::Wait(format!("the primary {} does not answer as primary", primary.name));
    }
    let replicas = usize::try_from(s.wanted - 1).unwrap_or(0);
    match next_scale_step(&members, primary, replicas) {
        Some(Step::AddReplica { .. }) => Decision::Resize { to: s.members + 1 },
        Some(Step::RemoveReplica { .. }) => shrink(s, &members, primary),
        _ if s.members < s.wanted => {
            let syncing: Vec<&NodeView> = members.iter().filter(|n| n.name != primary.name && !n.in_sync_with(primary)).collect();
            Decision::Wait(format!("waiting for {} to be in sync", names_of(&syncing)))
        }
        _ => Decision::Steady,
    }
}

/// A shrink removes the highest ordinal (the StatefulSet's rule, whatever the brain would
/// pick), never the primary, and only while every node that stays is ready and in sync.
fn shrink(s: &ShardState<'_>, members: &[NodeView], primary: &NodeView) -> Decision {
    if primary.ordinal >= s.wanted {
        // Hand the role to a node that stays, the caught-up one with the most data.
        let staying: Vec<NodeView> = members.iter().filter(|n| n.ordinal < s.wanted || n.name == primary.name).cloned().collect();
        return match next_roll_step(&staying, primary, &|n: &str| n == primary.name) {
            Some(Step::Switchover { from, to }) => Decision::Switchover { from, to },
            _ => {
                let behind: Vec<&NodeView> = staying.iter().filter(|n| n.name != primary.name && !n.in_sync_with(primary)).collect();
                Decision::Wait(format!("the primary {} is to be removed; waiting for {} to be in sync to take over", primary.name, names_of(&behind)))
            }
        };
    }
    let staying: Vec<&NodeView> = members.iter().filter(|n| n.ordinal < s.members - 1).collect();
    let unfit: Vec<&NodeView> = staying.iter().copied().filter(|n| !n.ready || (n.name != primary.name && !n.in_sync_with(primary))).collect();
    if !unfit.is_empty() {
        return Decision::Wait(format!("{} must be ready and in sync before another pod goes", names_of(&unfit)));
    }
    Decision::Resize { to: s.members - 1 }
}

/// What scaling did and saw in a pass, for status, events and the requeue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Per shard whose size differs from the spec: members, wanted and the decision.
    pub shards: Vec<(i32, i32, i32, Decision)>,
}

impl Report {
    pub fn active(&self) -> bool {
        !self.shards.is_empty()
    }

    /// A pod was added or removed, or a switchover made, in this pass. Waiting shards
    /// need no short requeue: the pod watch brings the pass that can go on.
    pub fn acted(&self) -> bool {
        self.shards.iter().any(|(.., d)| matches!(d, Decision::Resize { .. } | Decision::Switchover { .. }))
    }

    fn summary(&self) -> String {
        let parts: Vec<String> = self
            .shards
            .iter()
            .map(|(shard, members, wanted, decision)| {
                let doing = match decision {
                    Decision::Steady => "done".to_string(),
                    Decision::Resize { to } => format!("resizing to {to}"),
                    Decision::Switchover { from, to } => format!("moving the primary role from {from} to {to}"),
                    Decision::Wait(why) => why.clone(),
                };
                format!("shard {shard}: {members} of {wanted} pods, {doing}")
            })
            .collect();
        parts.join("; ")
    }
}

/// The mutable state of the pass that a switchover updates.
pub struct PassState<'a> {
    pub in_progress: &'a mut Vec<FailoverRecord>,
    pub last_failover: &'a mut Option<FailoverRecord>,
    pub epoch: &'a mut u64,
    pub outcomes: &'a mut Vec<ShardOutcome>,
}

/// Everything the scaling stage reads.
pub struct Inputs<'a> {
    pub cluster: &'a CacheCluster,
    pub namespace: &'a str,
    pub desired: &'a Desired,
    pub sizes: &'a BTreeMap<i32, i32>,
    pub views: &'a [(i32, ShardView)],
    pub plans: &'a [(i32, ShardPlan)],
    pub observed: &'a [ObservedNode],
    pub pods: &'a Api<Pod>,
    pub password: Option<&'a str>,
    /// Shards that had, started or finished a failover in this pass.
    pub failover_shards: &'a BTreeSet<i32>,
}

/// Decides and carries out one scaling step per shard.
pub async fn run(input: &Inputs<'_>, ctx: &Context, state: &mut PassState<'_>) -> Result<Report, Error> {
    let mut report = Report::default();
    let wanted = input.cluster.spec.nodes_per_shard();
    for (shard, view) in input.views {
        // A shard without a StatefulSet yet is created at the spec's size.
        let Some(members) = input.sizes.get(shard).copied() else { continue };
        let Some((_, plan)) = input.plans.iter().find(|(s, _)| s == shard) else { continue };
        let decision = decide(&ShardState { members, wanted, view, plan, failover_in_flight: input.failover_shards.contains(shard) });
        match &decision {
            Decision::Steady => continue,
            Decision::Resize { to } => resize(input, ctx, *shard, members, *to).await?,
            Decision::Switchover { from, to } => switch_over(input, ctx, state, *shard, from, to).await?,
            Decision::Wait(why) => tracing::info!(shard, members, wanted, why = %why, "scaling waits"),
        }
        report.shards.push((*shard, members, wanted, decision));
    }
    Ok(report)
}

async fn resize(input: &Inputs<'_>, ctx: &Context, shard: i32, members: i32, to: i32) -> Result<(), Error> {
    let Some(objects) = input.desired.shards.iter().find(|s| s.index == shard) else { return Ok(()) };
    let mut sts = objects.stateful_set.clone();
    if let Some(spec) = sts.spec.as_mut() {
        spec.replicas = Some(to);
    }
    let name = names::shard_name(&input.cluster.metadata.name.clone().unwrap_or_default(), shard);
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), input.namespace);
    api.patch(&name, &PatchParams::apply(names::FIELD_MANAGER).force(), &Patch::Apply(&sts)).await.stage("resizing a StatefulSet")?;
    let cluster_name = input.cluster.metadata.name.as_deref().unwrap_or_default();
    let pod = names::pod_name(cluster_name, shard, to.max(members) - 1);
    let what = if to > members { format!("adding {pod}") } else { format!("removing {pod}") };
    tracing::info!(shard, from = members, to, "scaling replicas");
    let note = format!("shard {shard}: {members} -> {to} pods, {what}");
    ctx.events.publish(input.cluster, ClusterEvent { warning: false, reason: "ScalingReplicas", action: "Scale", note }).await;
    Ok(())
}

fn addr(node: &ObservedNode, password: Option<&str>) -> NodeAddr {
    NodeAddr { host: node.view.host.clone(), port: node.view.port, password: password.map(str::to_string) }
}

/// FAILOVER TO, recorded in status first (a restarted operator finishes it, or drops it
/// if the handover never began), then the labels, so the writer Service follows.
async fn switch_over(input: &Inputs<'_>, ctx: &Context, state: &mut PassState<'_>, shard: i32, from: &str, to: &str) -> Result<(), Error> {
    let find = |pod: &str| input.observed.iter().find(|n| n.view.name == pod);
    let (Some(old), Some(new)) = (find(from), find(to)) else { return Ok(()) };
    let epoch = *state.epoch + 1;
    let record = FailoverRecord {
        time: Time(k8s_openapi::jiff::Timestamp::now()),
        shard,
        from: from.to_string(),
        to: to.to_string(),
        reason: SWITCHOVER_REASON.to_string(),
        epoch: i64::try_from(epoch).ok(),
        duration_seconds: None,
    };
    state.in_progress.retain(|r| r.shard != shard);
    state.in_progress.push(record.clone());
    *state.epoch = epoch;
    let mut flight = input.cluster.status.clone().unwrap_or_default();
    flight.epoch = i64::try_from(epoch).ok();
    flight.failovers_in_progress = state.in_progress.clone();
    super::reconcile::patch_status(ctx, input.namespace, &input.cluster.metadata.name.clone().unwrap_or_default(), &flight).await?;
    let note = format!("shard {shard}: moving the primary role from {from} to {to} before removing {from}");
    ctx.events.publish(input.cluster, ClusterEvent { warning: false, reason: "ScalingReplicas", action: "Switchover", note }).await;

    let outcome_at = match state.outcomes.iter().position(|o| o.index == shard) {
        Some(i) => i,
        None => {
            state.outcomes.push(ShardOutcome { index: shard, ..Default::default() });
            state.outcomes.len() - 1
        }
    };
    let started = Instant::now();
    if let Err(e) = ctx.nodes.failover_to(&addr(old, input.password), (&new.view.host, new.view.port), SWITCHOVER_TIMEOUT).await {
        tracing::warn!(shard, from, to, error = %e, "switchover refused; the next pass decides again");
        if let Some(o) = state.outcomes.get_mut(outcome_at) {
            o.failed.push((from.to_string(), format!("FAILOVER TO {to}: {e}")));
        }
        return Ok(());
    }
    let deadline = started + HANDOVER_DEADLINE;
    let mut handed_over = false;
    while Instant::now() < deadline {
        if let Ok(ReportedRole::Primary { .. }) = ctx.nodes.role(&addr(new, input.password)).await {
            handed_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !handed_over {
        tracing::warn!(shard, from, to, "the switchover target did not take over in time; the next pass finishes or drops it");
        if let Some(o) = state.outcomes.get_mut(outcome_at) {
            o.failed.push((to.to_string(), format!("did not become primary within {HANDOVER_DEADLINE:?} of FAILOVER")));
        }
        return Ok(());
    }
    // The writer Service follows the new label first; the old primary loses its label
    // right after, so the writer never selects two pods for long, and never none.
    let labels = ShardPlan {
        primary: Some(to.to_string()),
        steps: vec![Step::Label { node: to.to_string(), role: Role::Primary }, Step::Label { node: from.to_string(), role: Role::Replica }],
        ..ShardPlan::default()
    };
    let done = act::execute(vec![(shard, labels)], input.pods, ctx.nodes.as_ref(), input.observed, input.password).await;
    let Some(labelled) = done.into_iter().next() else { return Ok(()) };
    let ok = labelled.failed.is_empty();
    if let Some(o) = state.outcomes.get_mut(outcome_at) {
        o.done.push(Step::Switchover { from: from.to_string(), to: to.to_string() });
        o.done.extend(labelled.done);
        o.failed.extend(labelled.failed);
        if ok {
            o.primary = Some(to.to_string());
        }
    }
    if !ok {
        // The record stays: the next pass finishes the labels (failover::resume).
        return Ok(());
    }
    // Its clients get READONLY now: they reconnect through the writer Service.
    if let Err(e) = ctx.nodes.kill_clients(&addr(old, input.password)).await {
        tracing::warn!(node = from, error = %e, "closing the old primary's client connections failed");
    }
    state.in_progress.retain(|r| r.shard != shard);
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(shard, from, to, seconds, epoch, "switchover done");
    let note = format!("{to} is the primary of shard {shard}");
    ctx.events.publish(input.cluster, ClusterEvent { warning: false, reason: "PrimaryAssigned", action: "AssignRoles", note }).await;
    *state.last_failover = Some(FailoverRecord { duration_seconds: Some(seconds), ..record });
    Ok(())
}

fn reason_of<'a>(s: Option<&'a CacheClusterStatus>, type_: &str) -> Option<&'a str> {
    s?.conditions.iter().find(|c| c.type_ == type_).map(|c| c.reason.as_str())
}

/// Marks the status of a cluster being scaled, and says which event, if any, the pass
/// owes. A shard counts as scaling while its StatefulSet differs from the spec, and
/// after its last step until every node is ready and in sync: Ready stays False
/// (`ScalingReplicas`) until then. Faults (a failed role command, an unreachable
/// primary) keep their own reasons.
pub fn annotate(new: &mut CacheClusterStatus, report: &Report, old: Option<&CacheClusterStatus>, generation: Option<i64>, now: &Time) -> Option<ClusterEvent> {
    let was_scaling = reason_of(old, status::PROGRESSING) == Some(REASON_SCALING);
    let base = reason_of(Some(new), status::READY).unwrap_or_default().to_string();
    let settling = was_scaling && base != "ClusterReady" && ["NodesNotReady", "ReplicasSyncing", REASON_SCALING].contains(&base.as_str());
    if !report.active() && !settling {
        // Done only when the cluster is whole again; a fault keeps its own reason and
        // the scaling is not claimed finished.
        return (was_scaling && base == "ClusterReady").then(|| ClusterEvent {
            warning: false,
            reason: "ScaledReplicas",
            action: "Scale",
            note: format!("every shard has {} replicas, in sync", new.shards.first().map_or(0, |s| s.nodes.len().saturating_sub(1))),
        });
    }
    if !["ClusterReady", "NodesNotReady", "ReplicasSyncing"].contains(&base.as_str()) {
        return None;
    }
    let base_message = new.conditions.iter().find(|c| c.type_ == status::READY).map(|c| c.message.clone()).unwrap_or_default();
    let message = if report.active() { format!("{}; {base_message}", report.summary()) } else { format!("new replicas syncing; {base_message}") };
    status::set_condition(new, status::condition(status::READY, false, REASON_SCALING, message.clone(), generation, now));
    status::set_condition(new, status::condition(status::PROGRESSING, true, REASON_SCALING, message, generation, now));
    // Pods coming and going on purpose are not a fault.
    status::set_condition(new, status::condition(status::DEGRADED, false, "AsExpected", "no fault seen".to_string(), generation, now));
    new.phase = Some(Phase::Updating);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Replication, plan};

    fn node(ordinal: i32, role: Role, in_sync: bool, offset: i64) -> NodeView {
        let reported = match role {
            Role::Primary => ReportedRole::Primary { replicas: 2 },
            Role::Replica => ReportedRole::Replica { primary_host: "h0".into(), primary_port: 6379, in_sync },
        };
        NodeView {
            name: format!("c-0-{ordinal}"),
            ordinal,
            host: format!("h{ordinal}"),
            port: 6379,
            labelled: Some(role),
            reported: Some(reported),
            replication: Some(Replication { offset, link_up: in_sync, keys: 1, ..Default::default() }),
            ready: true,
            ..Default::default()
        }
    }

    /// A shard with the primary at `primary` and replicas at the other ordinals below `count`.
    fn shard(count: i32, primary: i32) -> ShardView {
        let nodes = (0..count)
            .map(|o| {
                let mut n = if o == primary { node(o, Role::Primary, true, 100) } else { node(o, Role::Replica, true, 100 - i64::from(o)) };
                if let Some(ReportedRole::Replica { primary_host, .. }) = n.reported.as_mut() {
                    *primary_host = format!("h{primary}");
                }
                n
            })
            .collect();
        ShardView { nodes, epoch: 1, failover_enabled: true, had_data: true, ..Default::default() }
    }

    fn decide_for(view: &ShardView, members: i32, wanted: i32, in_flight: bool) -> Decision {
        let plan = plan(view);
        decide(&ShardState { members, wanted, view, plan: &plan, failover_in_flight: in_flight })
    }

    #[test]
    fn scaling_moves_one_pod_at_a_time_and_only_on_a_settled_shard() {
        // Up: one pod more while every replica is in sync; then wait for the newcomer.
        assert_eq!(decide_for(&shard(2, 0), 2, 4, false), Decision::Resize { to: 3 });
        let mut joining = shard(3, 0);
        if let Some(ReportedRole::Replica { in_sync, .. }) = joining.nodes[2].reported.as_mut() {
            *in_sync = false;
        }
        assert_eq!(decide_for(&joining, 3, 4, false), Decision::Wait("waiting for c-0-2 to be in sync".into()));
        // Down: the top ordinal goes when it is a replica.
        assert_eq!(decide_for(&shard(3, 0), 3, 1, false), Decision::Resize { to: 2 });
        assert_eq!(decide_for(&shard(2, 0), 2, 2, false), Decision::Steady);
        // Never during a failover, nor while the primary does not answer.
        assert!(matches!(decide_for(&shard(3, 0), 3, 2, true), Decision::Wait(w) if w.contains("failover")));
        let mut down = shard(3, 0);
        down.nodes[0].reported = None;
        assert!(matches!(decide_for(&down, 3, 2, false), Decision::Wait(_)));
        let mut failed = shard(3, 0);
        failed.primary_failed = true;
        assert!(matches!(decide_for(&failed, 3, 2, false), Decision::Wait(w) if w.contains("failover")));
    }

    #[test]
    fn the_primary_is_never_removed_it_hands_over_to_a_node_that_stays() {
        // Primary on ordinal 2, shrinking to 2 pods: switch over to the staying replica
        // with the most data (c-0-0, offset 100 against c-0-1's 99).
        assert_eq!(decide_for(&shard(3, 2), 3, 2, false), Decision::Switchover { from: "c-0-2".into(), to: "c-0-0".into() });
        // Primary on ordinal 1, shrinking to 1 pod: the role goes to c-0-0 first.
        assert_eq!(decide_for(&shard(3, 1), 3, 1, false), Decision::Switchover { from: "c-0-1".into(), to: "c-0-0".into() });
        // A staying replica behind: wait rather than hand over to it.
        let mut behind = shard(3, 2);
        if let Some(ReportedRole::Replica { in_sync, .. }) = behind.nodes[0].reported.as_mut() {
            *in_sync = false;
        }
        assert!(matches!(decide_for(&behind, 3, 1, false), Decision::Wait(w) if w.contains("c-0-0")));
    }

    #[test]
    fn a_pod_goes_only_while_every_node_that_stays_is_ready_and_in_sync() {
        let mut unready = shard(3, 0);
        unready.nodes[1].ready = false;
        assert!(matches!(decide_for(&unready, 3, 1, false), Decision::Wait(w) if w.contains("c-0-1")));
        // The pod that goes may be broken: removing it costs nothing.
        let mut broken_top = shard(3, 0);
        broken_top.nodes[2].ready = false;
        if let Some(ReportedRole::Replica { in_sync, .. }) = broken_top.nodes[2].reported.as_mut() {
            *in_sync = false;
        }
        assert_eq!(decide_for(&broken_top, 3, 1, false), Decision::Resize { to: 2 });
    }

    #[test]
    fn scaling_is_reported_as_progress_not_as_a_fault_and_faults_keep_their_reason() {
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let with_ready = |reason: &str| CacheClusterStatus {
            conditions: vec![
                status::condition(status::READY, reason == "ClusterReady", reason, "base".into(), None, &now),
                status::condition(status::DEGRADED, reason != "ClusterReady", reason, "base".into(), None, &now),
            ],
            phase: Some(Phase::Degraded),
            ..Default::default()
        };
        let adding = Report { shards: vec![(0, 2, 3, Decision::Resize { to: 3 })] };
        let scaling_before = {
            let mut s = with_ready("NodesNotReady");
            annotate(&mut s, &adding, None, None, &now);
            s
        };
        assert_eq!(reason_of(Some(&scaling_before), status::READY), Some(REASON_SCALING));
        assert_eq!(reason_of(Some(&scaling_before), status::PROGRESSING), Some(REASON_SCALING));
        assert_eq!(reason_of(Some(&scaling_before), status::DEGRADED), Some("AsExpected"));
        assert_eq!(scaling_before.phase, Some(Phase::Updating));
        // A fault keeps its reason.
        let mut fault = with_ready("PrimaryUnreachable");
        annotate(&mut fault, &adding, None, None, &now);
        assert_eq!(reason_of(Some(&fault), status::READY), Some("PrimaryUnreachable"));
        // The newest replica still syncing after the last step: still scaling, no event.
        let mut syncing = with_ready("ReplicasSyncing");
        assert_eq!(annotate(&mut syncing, &Report::default(), Some(&scaling_before), None, &now), None);
        assert_eq!(reason_of(Some(&syncing), status::READY), Some(REASON_SCALING));
        // Whole again: done, once.
        let mut ready = with_ready("ClusterReady");
        assert_eq!(annotate(&mut ready, &Report::default(), Some(&scaling_before), None, &now).map(|e| e.reason), Some("ScaledReplicas"));
        assert_eq!(reason_of(Some(&ready), status::READY), Some("ClusterReady"));
        assert_eq!(annotate(&mut with_ready("ClusterReady"), &Report::default(), Some(&ready), None, &now), None);
        // A fault after scaling is not claimed done.
        assert_eq!(annotate(&mut with_ready("PrimaryUnreachable"), &Report::default(), Some(&scaling_before), None, &now), None);
    }

    #[test]
    fn a_switchover_that_never_began_is_dropped_one_under_way_is_kept() {
        let observed = |primary: i32| -> Vec<ObservedNode> {
            shard(2, primary)
                .nodes
                .into_iter()
                .map(|view| ObservedNode { shard: 0, view, pod_ready: true, pod_exists: true, info: None, probe_error: None })
                .collect()
        };
        let record = FailoverRecord {
            time: Time(k8s_openapi::jiff::Timestamp::now()),
            shard: 0,
            from: "c-0-1".into(),
            to: "c-0-0".into(),
            reason: SWITCHOVER_REASON.into(),
            epoch: Some(2),
            duration_seconds: None,
        };
        let mut records = vec![record.clone()];
        drop_unstarted_switchovers(&mut records, &observed(1));
        assert!(records.is_empty());
        let mut records = vec![record.clone()];
        drop_unstarted_switchovers(&mut records, &observed(0));
        assert_eq!(records.len(), 1);
        // Failovers are not the scaling stage's to drop.
        let mut records = vec![FailoverRecord { reason: "primary failed".into(), ..record }];
        drop_unstarted_switchovers(&mut records, &observed(1));
        assert_eq!(records.len(), 1);
    }
}
