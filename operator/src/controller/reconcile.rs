//! One reconcile pass over a CacheCluster: observe → validate → build → apply → act →
//! status. Each stage is a function; the decisions inside them are pure.

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, info_span};

use super::act;
use super::error::{Error, KubeStage};
use super::events::ClusterEvent;
use super::final_snapshot;
use super::live_settings;
use super::observe;
use super::rolling::{self, Resume};
use super::snapshots;
use super::status;
use super::validate::{self, Invalid};
use super::{Context, apply, failover, prober, scaling, zones};
use crate::api::{CacheCluster, CacheClusterStatus, CacheSnapshot, FailoverRecord, SecretKeyRef, SnapshotPhase};
use crate::resources::{self, names};
use crate::topology::{Role, Step};

/// How soon to look again at a cluster that is not ready yet.
pub const REQUEUE_NOT_READY: Duration = Duration::from_secs(10);
/// How often a ready cluster is re-probed even when nothing in Kubernetes changed.
pub const REQUEUE_READY: Duration = Duration::from_secs(60);
/// How often a rolling update looks again when failover probing does not already.
pub const ROLL_PERIOD: Duration = Duration::from_secs(2);

/// How long ago `t` was (zero when it is in the future).
fn age(t: &Time) -> Duration {
    let ms = k8s_openapi::jiff::Timestamp::now().as_millisecond() - t.0.as_millisecond();
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

pub async fn reconcile(cluster: Arc<CacheCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!("reconcile", cluster = %cluster.name_any(), namespace = cluster.namespace().unwrap_or_default());
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    let result = pass(&cluster, &ctx).instrument(span).await;
    ctx.metrics.reconcile_duration.observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.forget_failures(&cluster);
    }
    result
}

async fn pass(cluster: &CacheCluster, ctx: &Context) -> Result<Action, Error> {
    let namespace = cluster.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let name = cluster.metadata.name.clone().ok_or(Error::MissingMetadata("name"))?;

    if cluster.metadata.deletion_timestamp.is_some() {
        if let Some(probers) = &ctx.probers {
            probers.stop(&Context::key(cluster));
        }
        return final_snapshot::on_delete(cluster, ctx, &namespace).await;
    }
    final_snapshot::sync_finalizer(cluster, ctx, &namespace).await?;

    if let Err(invalid) = validate::check(&cluster.spec) {
        return refuse(cluster, ctx, &namespace, &invalid).await;
    }
    let password = match cluster.spec.auth.as_ref().and_then(|a| a.password_secret.as_ref()) {
        Some(secret) => match read_secret(ctx, &namespace, secret).await? {
            Ok(p) => Some(p),
            Err(why) => {
                // Secrets are not watched: look again soon rather than waiting for a spec change.
                refuse(cluster, ctx, &namespace, &Invalid { reason: "SecretNotFound", message: why }).await?;
                return Ok(Action::requeue(REQUEUE_NOT_READY));
            }
        },
        None => None,
    };
    let restore = match resolve_restore(cluster, ctx, &namespace).await? {
        Ok(r) => r,
        Err(why) => {
            // CacheSnapshots are not watched from here: look again soon.
            refuse(cluster, ctx, &namespace, &why).await?;
            return Ok(Action::requeue(REQUEUE_NOT_READY));
        }
    };
    let mut desired = match resources::build_restoring(cluster, &ctx.options, restore.as_deref()) {
        Ok(d) => d,
        Err(e) => return refuse(cluster, ctx, &namespace, &Invalid { reason: "InvalidSpec", message: e.to_string() }).await,
    };
    // Existing StatefulSets keep their size here; the scaling stage moves it.
    let sizes = scaling::sizes(&ctx.client, &namespace, &name, cluster.spec.shards).await?;
    scaling::hold(&mut desired, &sizes);

    let stateful_sets = apply::apply_all(&ctx.client, &namespace, &desired).instrument(info_span!("apply")).await?;
    apply::prune_all(&ctx.client, &namespace, &name, &desired, ctx.options.service_monitor_supported).instrument(info_span!("prune")).await?;

    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let (listed, observed) = async {
        let listed = observe::list_pods(&pods, &name).await?;
        let mut nodes = observe::nodes(cluster, &namespace, &listed, &sizes, ctx.nodes.as_ref(), password.as_deref()).await;
        let zone_key = cluster.spec.zone_spread.clone().unwrap_or_default().topology_key;
        zones::fill(&mut nodes, &ctx.zones.zones_of(&ctx.client, &listed, &zone_key).await);
        Ok::<_, Error>((listed, nodes))
    }
    .instrument(info_span!("observe"))
    .await?;

    let mut observed = observed;
    let key = Context::key(cluster);
    let settings = failover::Settings::of(cluster);
    let old = cluster.status.clone().unwrap_or_default();
    let epoch = old.epoch.and_then(|e| u64::try_from(e).ok()).unwrap_or(0);
    let mut views = ctx.memory.views(&key, &mut observed, cluster.spec.shards, (ctx.clock)(), settings, epoch);
    // A planned switchover an earlier pass sent is finished (or dropped) before the brain
    // plans, so it is never undone.
    let recorded_switchover = old.rollout.as_ref().and_then(|r| r.switchover.clone());
    let switchover_age = recorded_switchover.as_ref().map_or(Duration::ZERO, |r| age(&r.time));
    let resumed_switchover = rolling::resume(&mut views, recorded_switchover.as_ref(), switchover_age);

    // A failover recorded in status but not finished (the operator restarted mid-way)
    // is finished as decided.
    let mut in_progress = old.failovers_in_progress.clone();
    scaling::drop_unstarted_switchovers(&mut in_progress, &observed);
    let mut resumed = Vec::new();
    for (shard, view) in &mut views {
        if let Some(record) = in_progress.iter().find(|r| r.shard == *shard) {
            if failover::resume(view, record) {
                let labelled = |pod: &str| observed.iter().any(|o| o.view.name == pod && o.view.labelled == Some(Role::Primary));
                let old_primary = labelled(&record.from).then(|| record.from.clone());
                resumed.push((*shard, record.to.clone(), labelled(&record.to), old_primary));
            } else {
                tracing::warn!(shard, to = %record.to, "the target of an unfinished failover is unreachable; deciding again");
                in_progress.retain(|r| r.shard != *shard);
            }
        }
    }
    let mut plans = act::plans(&views);
    for (shard, plan) in &mut plans {
        if let Some((_, to, target_labelled, old_primary)) = resumed.iter().find(|(s, ..)| s == shard) {
            act::label_resumed_failover(plan, to, !target_labelled, old_primary.as_deref());
        }
    }
    let labelled_primary = |pod: &str| observed.iter().any(|o| o.view.name == pod && o.view.labelled == Some(Role::Primary));
    match &resumed_switchover {
        Resume::Finish(r) => {
            if let Some((_, plan)) = plans.iter_mut().find(|(s, _)| *s == r.shard) {
                act::label_resumed_failover(plan, &r.to, !labelled_primary(&r.to), labelled_primary(&r.from).then_some(r.from.as_str()));
            }
        }
        Resume::Hold(r) => {
            if let Some((_, plan)) = plans.iter_mut().find(|(s, _)| *s == r.shard) {
                plan.steps.clear();
                plan.failover = None;
            }
        }
        Resume::Nothing | Resume::Drop(..) => {}
    }

    // New failovers are written to status before the first role command, so a restart
    // resumes them instead of choosing again.
    let mut new_epoch = epoch;
    let mut started = Vec::new();
    for (shard, plan) in &plans {
        new_epoch = new_epoch.max(plan.epoch);
        if let Some(f) = &plan.failover {
            let record = FailoverRecord {
                time: now(),
                shard: *shard,
                from: f.from.clone(),
                to: f.to.clone(),
                reason: f.reason.clone(),
                epoch: i64::try_from(plan.epoch).ok(),
                duration_seconds: None,
            };
            in_progress.retain(|r| r.shard != *shard);
            in_progress.push(record);
            started.push((*shard, f.clone(), plan.epoch));
        }
    }
    if !started.is_empty() {
        let mut flight = old.clone();
        flight.epoch = i64::try_from(new_epoch).ok();
        flight.failovers_in_progress = in_progress.clone();
        patch_status(ctx, &namespace, &name, &flight).await?;
        for (shard, f, e) in &started {
            ctx.metrics.failovers.inc();
            tracing::warn!(shard, from = %f.from, to = %f.to, reason = %f.reason, epoch = e, "failing over");
            let note = format!("shard {shard}: promoting {} in place of {} ({}), epoch {e}", f.to, f.from, f.reason);
            ctx.events.publish(cluster, ClusterEvent { warning: true, reason: "FailoverStarted", action: "Failover", note }).await;
        }
    }

    let planned = plans.clone();
    let mut outcomes = act::execute(plans, &pods, ctx.nodes.as_ref(), &observed, password.as_deref()).instrument(info_span!("act")).await;
    for outcome in &outcomes {
        ctx.metrics.role_changes.inc_by(outcome.done.len() as u64);
        for step in &outcome.done {
            if let Step::Label { node, role: Role::Primary } = step {
                let note = format!("{node} is the primary of shard {}", outcome.index);
                ctx.events.publish(cluster, ClusterEvent { warning: false, reason: "PrimaryAssigned", action: "AssignRoles", note }).await;
            }
        }
    }

    // A failover is finished once every step of its shard succeeded.
    let mut last_failover = old.last_failover.clone();
    let finished_at = (ctx.clock)();
    for outcome in outcomes.iter().filter(|o| o.failed.is_empty()) {
        let Some(at) = in_progress.iter().position(|r| r.shard == outcome.index) else { continue };
        let mut record = in_progress.remove(at);
        // From the first failed probe when decided and finished in this pass, else from
        // the decision (recorded in status, so it survives a restart).
        let decided_now = started.iter().any(|(shard, ..)| *shard == record.shard);
        let seconds = match ctx.memory.failing_since(&key, &record.from).filter(|_| decided_now) {
            Some(since) => finished_at.saturating_sub(since) as f64 / 1000.0,
            None => (k8s_openapi::jiff::Timestamp::now().as_millisecond() - record.time.0.as_millisecond()).max(0) as f64 / 1000.0,
        };
        record.duration_seconds = Some(seconds);
        ctx.metrics.failover_duration.observe(seconds);
        tracing::warn!(shard = record.shard, from = %record.from, to = %record.to, seconds, "failover done");
        let note = format!("shard {}: {} is primary in place of {} after {seconds:.1}s", record.shard, record.to, record.from);
        ctx.events.publish(cluster, ClusterEvent { warning: false, reason: "FailoverCompleted", action: "Failover", note }).await;
        last_failover = Some(record);
    }

    // Scaling moves only a settled shard: none with a failover recorded, started or
    // finished in this pass.
    let failover_shards: BTreeSet<i32> = old.failovers_in_progress.iter().map(|r| r.shard).chain(started.iter().map(|(shard, ..)| *shard)).collect();
    let inputs = scaling::Inputs {
        cluster,
        namespace: &namespace,
        desired: &desired,
        sizes: &sizes,
        views: &views,
        plans: &planned,
        observed: &observed,
        pods: &pods,
        password: password.as_deref(),
        failover_shards: &failover_shards,
    };
    let mut state = scaling::PassState { in_progress: &mut in_progress, last_failover: &mut last_failover, epoch: &mut new_epoch, outcomes: &mut outcomes };
    let scaled = scaling::run(&inputs, ctx, &mut state).instrument(info_span!("scale")).await?;

    let mut pending_switchover = None;
    match resumed_switchover {
        Resume::Finish(r) if outcomes.iter().any(|o| o.index == r.shard && o.failed.is_empty()) => {
            rolling::finished_resumed(ctx, cluster, &observed, &r, password.as_deref()).await;
        }
        Resume::Finish(r) | Resume::Hold(r) => pending_switchover = Some(r),
        Resume::Drop(r, why) => {
            tracing::warn!(shard = r.shard, from = %r.from, to = %r.to, why = %why, "planned switchover dropped");
            let note = format!("shard {}: switchover from {} to {} dropped: {why}", r.shard, r.from, r.to);
            ctx.events.publish(cluster, ClusterEvent { warning: true, reason: "SwitchoverFailed", action: "Switchover", note }).await;
        }
        Resume::Nothing => {}
    }
    let applied_settings_hash =
        live_settings::apply(ctx, cluster, &observed, &desired.live_settings, old.applied_settings_hash.as_deref(), password.as_deref()).await;
    // One kind of change at a time: a roll waits while failovers or role steps run.
    let paused = if !in_progress.is_empty() {
        Some("a failover is in flight".to_string())
    } else if outcomes.iter().any(|o| !o.done.is_empty() || !o.failed.is_empty()) {
        Some("role changes ran in this pass".to_string())
    } else if scaled.acted() {
        Some("replicas are being scaled".to_string())
    } else {
        None
    };
    let mut so_far = old.clone();
    so_far.epoch = (new_epoch > 0).then(|| i64::try_from(new_epoch).ok()).flatten();
    so_far.applied_settings_hash = applied_settings_hash.clone();
    let roll = rolling::run(
        ctx,
        rolling::RollInput {
            cluster,
            namespace: &namespace,
            pods: &pods,
            listed: &listed,
            stateful_sets: &stateful_sets,
            views: &views,
            observed: &observed,
            password: password.as_deref(),
            paused,
            pending: pending_switchover,
            status: so_far,
            epoch: new_epoch,
        },
    )
    .instrument(info_span!("roll"))
    .await?;
    new_epoch = new_epoch.max(roll.epoch.unwrap_or(0));

    let now = now();
    let seen = match &cluster.spec.snapshots {
        Some(_) => snapshots::run(cluster, ctx, &namespace, &now).instrument(info_span!("snapshots")).await?,
        None => snapshots::SnapshotsSeen::default(),
    };
    let mut new = status::running(cluster, &namespace, &observed, &outcomes, &now);
    if let Some(c) = seen.backup_healthy {
        status::set_condition(&mut new, c);
    }
    if seen.last.is_some() {
        new.last_snapshot = seen.last;
    }
    new.epoch = (new_epoch > 0).then(|| i64::try_from(new_epoch).ok()).flatten();
    new.last_failover = last_failover;
    new.failovers_in_progress = in_progress;
    new.applied_settings_hash = applied_settings_hash;
    let scaled_event = scaling::annotate(&mut new, &scaled, cluster.status.as_ref(), cluster.metadata.generation, &now);
    rolling::annotate(&mut new, &roll, cluster.metadata.generation, &now);
    let rolling_out = new.rollout.is_some();
    let ready = status::ready_condition(Some(&new)).is_some_and(|c| c.status == "True");
    let busy = !new.failovers_in_progress.is_empty();
    write_status(cluster, ctx, &namespace, &new).await?;
    // After the status that says so is stored, so a failed write does not repeat it.
    if let Some(event) = scaled_event {
        ctx.events.publish(cluster, event).await;
    }
    // With failover on, nodes are probed on a short period whatever Kubernetes reports (a
    // node cut off by a network or zone outage sends no watch event): by the cluster's
    // prober, which asks for a pass when it finds something, or else by the pass itself.
    let probing = match &ctx.probers {
        Some(probers) if settings.enabled => {
            probers.ensure(ObjectRef::new(&name).within(&namespace), &key, settings, prober::targets(&observed, &outcomes, password.as_deref()));
            true
        }
        Some(probers) => {
            probers.stop(&key);
            false
        }
        None => false,
    };
    let mut wait = prober::requeue(probing, busy, settings, if ready { REQUEUE_READY } else { REQUEUE_NOT_READY });
    if scaled.acted() {
        wait = wait.min(scaling::REQUEUE_SCALING);
    }
    if rolling_out {
        // Replicas catching up send no watch event: look again soon.
        wait = wait.min(ROLL_PERIOD);
    }
    Ok(Action::requeue(wait))
}

/// Records why a spec cannot be carried out and waits for it to change.
async fn refuse(cluster: &CacheCluster, ctx: &Context, namespace: &str, why: &Invalid) -> Result<Action, Error> {
    let new = status::invalid(cluster, why, &now());
    tracing::warn!(reason = why.reason, message = %why.message, "spec cannot be carried out");
    write_status(cluster, ctx, namespace, &new).await?;
    Ok(Action::await_change())
}

/// Patches status when it changed, and turns a change of the Ready condition into an
/// event, so `kubectl describe` tells the story without an event every pass.
async fn write_status(cluster: &CacheCluster, ctx: &Context, namespace: &str, new: &CacheClusterStatus) -> Result<(), Error> {
    if !status::changed(cluster.status.as_ref(), new) {
        return Ok(());
    }
    patch_status(ctx, namespace, &cluster.name_any(), new).await?;

    let before = status::ready_condition(cluster.status.as_ref());
    if let Some(after) = status::ready_condition(Some(new))
        && before.map(|b| (&b.status, &b.reason)) != Some((&after.status, &after.reason))
    {
        let warning = after.status != "True" && after.reason != "NodesNotReady" && after.reason != "ReplicasSyncing";
        let reason = if after.status == "True" { "ClusterReady" } else { "NotReady" };
        let note = format!("{}: {}", after.reason, after.message);
        ctx.events.publish(cluster, ClusterEvent { warning, reason, action: "Reconcile", note }).await;
    }
    Ok(())
}

pub(crate) async fn patch_status(ctx: &Context, namespace: &str, name: &str, new: &CacheClusterStatus) -> Result<(), Error> {
    let api: Api<CacheCluster> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = serde_json::json!({ "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheCluster", "status": new });
    api.patch_status(name, &PatchParams::apply(names::FIELD_MANAGER).force(), &Patch::Apply(&patch)).await.stage("patching status")?;
    Ok(())
}

/// The password in a Secret: Ok(Err(why)) when the Secret or key is missing or unusable
/// (a user error to report), Err on API failure (retried).
async fn read_secret(ctx: &Context, namespace: &str, r: &SecretKeyRef) -> Result<Result<String, String>, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(secret) = api.get_opt(&r.name).await.stage("reading the password Secret")? else {
        return Ok(Err(format!("Secret {} (auth.passwordSecret) does not exist", r.name)));
    };
    let value = secret.data.as_ref().and_then(|d| d.get(&r.key)).map(|b| String::from_utf8(b.0.clone()));
    Ok(match value {
        None => Err(format!("Secret {} has no key {}", r.name, r.key)),
        Some(Err(_)) => Err(format!("Secret {} key {} is not UTF-8 text", r.name, r.key)),
        Some(Ok(p)) if p.is_empty() || p.contains(['\r', '\n', ' ']) => {
            Err(format!("Secret {} key {} must be a non-empty password without spaces or line breaks", r.name, r.key))
        }
        Some(Ok(p)) => Ok(p),
    })
}

/// Annotation recording where a restored cluster's snapshot was found, so its pods keep
/// the same restore source after the CacheSnapshot is deleted.
pub const ANNOTATION_RESTORE_FROM: &str = "cachefleet.dev/restore-from";

/// The path of the snapshot a new cluster is seeded from (`<location>/<snapshot>`), or
/// why the cluster must wait: Ok(Err) is a user-visible wait, Err an API failure.
async fn resolve_restore(cluster: &CacheCluster, ctx: &Context, namespace: &str) -> Result<Result<Option<String>, Invalid>, Error> {
    let Some(name) = cluster.spec.restore_from.as_ref().and_then(|r| r.snapshot.clone()) else { return Ok(Ok(None)) };
    if let Some(done) = cluster.annotations().get(ANNOTATION_RESTORE_FROM) {
        return Ok(Ok(Some(done.clone())));
    }
    let api: Api<CacheSnapshot> = Api::namespaced(ctx.client.clone(), namespace);
    let snap = api.get_opt(&name).await.stage("reading the CacheSnapshot to restore")?;
    let status = snap.as_ref().and_then(|s| s.status.as_ref());
    let location = match (snap.as_ref(), status.and_then(|s| s.phase), status.and_then(|s| s.location.clone())) {
        (None, _, _) => {
            return Ok(Err(Invalid { reason: "RestoreSnapshotNotFound", message: format!("CacheSnapshot {name} (restoreFrom.snapshot) does not exist") }));
        }
        (Some(_), Some(SnapshotPhase::Completed), Some(location)) => location,
        (Some(_), phase, _) => {
            let phase = phase.map_or("Pending".to_string(), |p| format!("{p:?}"));
            return Ok(Err(Invalid {
                reason: "RestoreSnapshotNotReady",
                message: format!("waiting for CacheSnapshot {name} (restoreFrom.snapshot) to complete; it is {phase}"),
            }));
        }
    };
    let path = format!("{location}/{name}");
    let clusters: Api<CacheCluster> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = serde_json::json!({ "metadata": { "annotations": { ANNOTATION_RESTORE_FROM: path } } });
    clusters.patch(&cluster.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.stage("recording the restore source")?;
    Ok(Ok(Some(path)))
}
