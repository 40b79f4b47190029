//! The CacheSnapshot controller: runs manual snapshots as Jobs and follows their phase,
//! and deletes a snapshot's files (a Job) before its finalizer lets the object go.
//! Scheduled snapshots are created, already finished, by the cluster's snapshots stage.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;
use tracing::{Instrument, info_span};

use super::Context;
use super::error::{Error, KubeStage};
use super::events::ClusterEvent;
use super::snapshots::{JobOutcome, job_outcome, snapshot_status};
use crate::api::{CacheCluster, CacheSnapshot, CacheSnapshotStatus, Engine, SnapshotPhase, SnapshotTrigger};
use crate::resources::names;
use crate::resources::snapshots::{SnapshotBase, delete_job, node_path};

/// How soon a snapshot that waits (a running Job, a missing cluster) is looked at again.
pub const REQUEUE_WAITING: Duration = Duration::from_secs(10);

fn finished(s: &CacheSnapshot) -> bool {
    matches!(s.status.as_ref().and_then(|st| st.phase), Some(SnapshotPhase::Completed | SnapshotPhase::Failed))
}

fn has_finalizer(s: &CacheSnapshot) -> bool {
    s.finalizers().iter().any(|f| f == names::SNAPSHOT_FINALIZER)
}

/// The shards a snapshot has files for, as its status records them (a failed snapshot
/// records the shards it wrote before failing).
fn shards_of(s: &CacheSnapshot) -> Vec<i32> {
    s.status.as_ref().map(|st| st.shards.iter().map(|sh| sh.index).collect()).unwrap_or_default()
}

pub async fn reconcile(snapshot: Arc<CacheSnapshot>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!("reconcile_snapshot", snapshot = %snapshot.name_any(), namespace = snapshot.namespace().unwrap_or_default());
    pass(&snapshot, &ctx).instrument(span).await
}

async fn pass(snapshot: &CacheSnapshot, ctx: &Context) -> Result<Action, Error> {
    let namespace = snapshot.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let name = snapshot.name_any();
    let api: Api<CacheSnapshot> = Api::namespaced(ctx.client.clone(), &namespace);
    if snapshot.metadata.deletion_timestamp.is_some() {
        return if has_finalizer(snapshot) { delete_files(snapshot, ctx, &namespace).await } else { Ok(Action::await_change()) };
    }
    // The cluster label lets the cluster's pass find manual snapshots too (lastSnapshot).
    let labelled = snapshot.labels().get(names::LABEL_CLUSTER) == Some(&snapshot.spec.cluster);
    if !has_finalizer(snapshot) || !labelled {
        let mut finalizers = snapshot.finalizers().to_vec();
        if !has_finalizer(snapshot) {
            finalizers.push(names::SNAPSHOT_FINALIZER.to_string());
        }
        let patch = serde_json::json!({ "metadata": { "finalizers": finalizers, "labels": { names::LABEL_CLUSTER: snapshot.spec.cluster } } });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.stage("adding the snapshot finalizer")?;
    }
    if snapshot.spec.trigger == SnapshotTrigger::Scheduled || finished(snapshot) {
        return Ok(Action::await_change());
    }

    let clusters: Api<CacheCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    let Some(cluster) = clusters.get_opt(&snapshot.spec.cluster).await.stage("reading the snapshot's cluster")? else {
        let status = CacheSnapshotStatus {
            phase: Some(SnapshotPhase::Pending),
            message: Some(format!("CacheCluster {} does not exist in {namespace}", snapshot.spec.cluster)),
            ..CacheSnapshotStatus::default()
        };
        write_status(&api, snapshot, &status).await?;
        return Ok(Action::requeue(REQUEUE_WAITING));
    };
    if cluster.spec.engine == Engine::Memcached {
        let status = CacheSnapshotStatus {
            phase: Some(SnapshotPhase::Failed),
            message: Some(format!("CacheCluster {} runs memcached, which keeps no data to snapshot", snapshot.spec.cluster)),
            ..CacheSnapshotStatus::default()
        };
        write_status(&api, snapshot, &status).await?;
        return Ok(Action::await_change());
    }
    let base = match SnapshotBase::new(&cluster, &ctx.options.default_image) {
        Ok(b) => b,
        Err(e) => {
            let status = CacheSnapshotStatus { phase: Some(SnapshotPhase::Failed), message: Some(e.to_string()), ..CacheSnapshotStatus::default() };
            write_status(&api, snapshot, &status).await?;
            return Ok(Action::await_change());
        }
    };
    let owner = snapshot.controller_owner_ref(&()).ok_or(Error::MissingMetadata("uid"))?;
    let job = match base.manual_job(&name, owner) {
        Ok(j) => j,
        Err(e) => {
            let status = CacheSnapshotStatus { phase: Some(SnapshotPhase::Failed), message: Some(e.to_string()), ..CacheSnapshotStatus::default() };
            write_status(&api, snapshot, &status).await?;
            return Ok(Action::await_change());
        }
    };
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    // A Job's pod template is immutable: once it exists it is only read.
    let job = match jobs.get_opt(&name).await.stage("reading the snapshot Job")? {
        Some(j) => j,
        None => jobs.patch(&name, &PatchParams::apply(names::FIELD_MANAGER).force(), &Patch::Apply(&job)).await.stage("creating the snapshot Job")?,
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let job_pods = pods.list(&ListParams::default().labels(&format!("{}={name}", names::LABEL_JOB_NAME))).await.stage("listing snapshot pods")?;
    let location = base.location();
    let outcome = job_outcome(&job, &job_pods.items, cluster.spec.shards, &location);
    let mut status = snapshot_status(&job, &outcome, &location);
    status.destination = Some(base.destination().clone());
    write_status(&api, snapshot, &status).await?;
    let event = match &outcome {
        JobOutcome::Running => return Ok(Action::requeue(REQUEUE_WAITING)),
        JobOutcome::Failed { reason, .. } => {
            ClusterEvent { warning: true, reason: "SnapshotFailed", action: "Snapshot", note: format!("snapshot {name} failed: {reason}") }
        }
        JobOutcome::Completed { .. } => {
            ClusterEvent { warning: false, reason: "SnapshotCompleted", action: "Snapshot", note: format!("snapshot {name} completed") }
        }
    };
    ctx.events.publish(&cluster, event).await;
    Ok(Action::await_change())
}

async fn write_status(api: &Api<CacheSnapshot>, snapshot: &CacheSnapshot, status: &CacheSnapshotStatus) -> Result<(), Error> {
    if snapshot.status.as_ref() == Some(status) {
        return Ok(());
    }
    let patch = serde_json::json!({ "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheSnapshot", "status": status });
    api.patch_status(&snapshot.name_any(), &PatchParams::apply(names::FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await
        .stage("patching CacheSnapshot status")?;
    Ok(())
}

/// Runs the delete Job of a snapshot's files and removes the finalizer once it
/// succeeded. A snapshot that never wrote a file goes at once.
async fn delete_files(snapshot: &CacheSnapshot, ctx: &Context, namespace: &str) -> Result<Action, Error> {
    let name = snapshot.name_any();
    let api: Api<CacheSnapshot> = Api::namespaced(ctx.client.clone(), namespace);
    let status = snapshot.status.clone().unwrap_or_default();
    let shards = shards_of(snapshot);
    let release = || async {
        let finalizers: Vec<String> = snapshot.finalizers().iter().filter(|f| *f != names::SNAPSHOT_FINALIZER).cloned().collect();
        let patch = serde_json::json!({ "metadata": { "finalizers": finalizers } });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.stage("removing the snapshot finalizer").map(drop)
    };
    let Some(location) = status.location.clone().filter(|_| !shards.is_empty()) else {
        release().await?;
        return Ok(Action::await_change());
    };
    // Files on a claim that is gone (or going, with the cluster that owned it) go with
    // it, and no pod could mount it to delete them.
    if let Ok((_, Some(claim))) = node_path(&location) {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
        if claims.get_opt(&claim).await.stage("reading the snapshots claim")?.is_none_or(|c| c.metadata.deletion_timestamp.is_some()) {
            release().await?;
            return Ok(Action::await_change());
        }
    }
    let owner = snapshot.controller_owner_ref(&()).ok_or(Error::MissingMetadata("uid"))?;
    let s3 = status.destination.as_ref().and_then(|d| d.s3.as_ref());
    let job = match delete_job(namespace, &name, &location, &shards, s3, &ctx.options.default_image, owner) {
        Ok(j) => j,
        Err(e) => {
            // The location cannot be acted on (it was written by hand): nothing to delete.
            tracing::warn!(error = %e, "cannot delete this snapshot's files; releasing it");
            release().await?;
            return Ok(Action::await_change());
        }
    };
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    let job_name = names::snapshot_delete_job(&name);
    let job = match jobs.get_opt(&job_name).await.stage("reading the snapshot delete Job")? {
        Some(j) => j,
        None => {
            jobs.patch(&job_name, &PatchParams::apply(names::FIELD_MANAGER).force(), &Patch::Apply(&job)).await.stage("creating the snapshot delete Job")?
        }
    };
    let done = |t: &str| job.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == t && c.status == "True"));
    if done("Complete") {
        release().await?;
        return Ok(Action::await_change());
    }
    if done("Failed") {
        // Keep the finalizer: the files are still there. The Job's pods say why.
        tracing::warn!(job = %job_name, "deleting the snapshot's files failed; delete the Job to retry");
    }
    Ok(Action::requeue(REQUEUE_WAITING))
}

pub fn error_policy(snapshot: Arc<CacheSnapshot>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_errors.with_label_values(&[error.category()]).inc();
    tracing::warn!(snapshot = %snapshot.name_any(), error = %error, "snapshot reconcile failed");
    Action::requeue(Duration::from_secs(30))
}
