//! deletionPolicy Snapshot: a finalizer on the CacheCluster holds its deletion until a
//! final manual CacheSnapshot has been taken. The cluster's pods keep running meanwhile
//! (their owner is not gone yet), so the snapshot sees the data as it was.

use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::Context;
use super::error::{Error, KubeStage};
use super::events::ClusterEvent;
use super::snapshot_controller::REQUEUE_WAITING;
use crate::api::{CacheCluster, CacheSnapshot, CacheSnapshotSpec, DeletionPolicy, Engine, SnapshotPhase, SnapshotTrigger};
use crate::resources::names;
use crate::resources::snapshots::trigger_label;

fn wants_final_snapshot(cluster: &CacheCluster) -> bool {
    cluster.spec.deletion_policy == DeletionPolicy::Snapshot && cluster.spec.engine == Engine::Redis
}

fn has_finalizer(cluster: &CacheCluster) -> bool {
    cluster.finalizers().iter().any(|f| f == names::FINAL_SNAPSHOT_FINALIZER)
}

async fn set_finalizer(cluster: &CacheCluster, ctx: &Context, namespace: &str, on: bool) -> Result<(), Error> {
    let mut finalizers: Vec<String> = cluster.finalizers().iter().filter(|f| *f != names::FINAL_SNAPSHOT_FINALIZER).cloned().collect();
    if on {
        finalizers.push(names::FINAL_SNAPSHOT_FINALIZER.to_string());
    }
    let api: Api<CacheCluster> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = serde_json::json!({ "metadata": { "finalizers": finalizers } });
    api.patch(&cluster.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.stage("updating the cluster's finalizers")?;
    Ok(())
}

/// Adds or removes the finalizer to match the deletionPolicy; no API call when it
/// already matches.
pub async fn sync_finalizer(cluster: &CacheCluster, ctx: &Context, namespace: &str) -> Result<(), Error> {
    let want = wants_final_snapshot(cluster);
    if want != has_finalizer(cluster) {
        set_finalizer(cluster, ctx, namespace, want).await?;
    }
    Ok(())
}

/// The final snapshot object of a cluster: manual (kept until a person deletes it), not
/// owned by the cluster that is going away.
pub fn final_snapshot(cluster: &CacheCluster) -> Option<CacheSnapshot> {
    let name = cluster.metadata.name.clone()?;
    let uid = cluster.metadata.uid.clone()?;
    let mut snap = CacheSnapshot::new(&names::final_snapshot(&name, &uid), CacheSnapshotSpec { cluster: name.clone(), trigger: SnapshotTrigger::Manual });
    snap.metadata.namespace = cluster.metadata.namespace.clone();
    snap.metadata.labels =
        Some([(names::LABEL_CLUSTER.to_string(), name), (names::LABEL_TRIGGER.to_string(), trigger_label(SnapshotTrigger::Manual).to_string())].into());
    Some(snap)
}

/// A deleting cluster: take the final snapshot if the policy asks, then let it go.
pub async fn on_delete(cluster: &CacheCluster, ctx: &Context, namespace: &str) -> Result<Action, Error> {
    if !has_finalizer(cluster) {
        return Ok(Action::await_change());
    }
    if !wants_final_snapshot(cluster) {
        set_finalizer(cluster, ctx, namespace, false).await?;
        return Ok(Action::await_change());
    }
    let Some(wanted) = final_snapshot(cluster) else { return Err(Error::MissingMetadata("name or uid")) };
    let name = wanted.name_any();
    let api: Api<CacheSnapshot> = Api::namespaced(ctx.client.clone(), namespace);
    let snap = match api.get_opt(&name).await.stage("reading the final snapshot")? {
        Some(s) => s,
        None => {
            let created = api.create(&PostParams::default(), &wanted).await.stage("creating the final snapshot")?;
            let note = format!("taking the final snapshot {name} before the cluster is deleted");
            ctx.events.publish(cluster, ClusterEvent { warning: false, reason: "FinalSnapshotStarted", action: "Delete", note }).await;
            created
        }
    };
    match snap.status.as_ref().and_then(|s| s.phase) {
        Some(SnapshotPhase::Completed) => {
            let note = format!("final snapshot {name} completed; the cluster goes");
            ctx.events.publish(cluster, ClusterEvent { warning: false, reason: "FinalSnapshotCompleted", action: "Delete", note }).await;
            set_finalizer(cluster, ctx, namespace, false).await?;
            Ok(Action::await_change())
        }
        Some(SnapshotPhase::Failed) => {
            // The data would be lost: hold the deletion until a person decides.
            let why = snap.status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default();
            let note = format!(
                "final snapshot {name} failed ({why}); the cluster is kept. Delete the CacheSnapshot to try again, or set deletionPolicy: Delete to go without one"
            );
            ctx.events.publish(cluster, ClusterEvent { warning: true, reason: "FinalSnapshotFailed", action: "Delete", note }).await;
            Ok(Action::requeue(REQUEUE_WAITING * 6))
        }
        _ => Ok(Action::requeue(REQUEUE_WAITING)),
    }
}
