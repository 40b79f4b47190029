//! Snapshots of a cluster, as a stage of its reconcile: finished scheduled Jobs become
//! CacheSnapshots (status from the containers' termination messages), retention prunes
//! old scheduled snapshots, and the BackupHealthy condition tells whether the schedule
//! works. The decisions are pure functions; `run` does the API calls.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};

use super::Context;
use super::error::{Error, KubeStage};
use super::events::ClusterEvent;
use crate::api::{
    CacheCluster, CacheSnapshot, CacheSnapshotSpec, CacheSnapshotStatus, DeletionPolicy, SnapshotPhase, SnapshotRecord, SnapshotShard, SnapshotTrigger,
};
use crate::resources::names;
use crate::resources::snapshots::{destination_location, trigger_label};
use cache_node::backup::manifest::Manifest;

/// Where a snapshot Job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum JobOutcome {
    Running,
    Completed {
        shards: Vec<SnapshotShard>,
        finished: Option<Time>,
    },
    /// `written`: shards whose files were written anyway, so deleting the snapshot
    /// removes them.
    Failed {
        reason: String,
        finished: Option<Time>,
        written: Vec<SnapshotShard>,
    },
}

fn job_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_ && c.status == "True")
}

/// The termination message of each container of the Job's pods, newest pod last:
/// `(container, message)`.
fn messages(pods: &[Pod]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for pod in pods {
        for cs in pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).into_iter().flatten() {
            let states = [cs.state.as_ref(), cs.last_state.as_ref()];
            for t in states.into_iter().flatten().filter_map(|s| s.terminated.as_ref()) {
                if let Some(m) = t.message.as_ref().filter(|m| !m.trim().is_empty()) {
                    out.push((cs.name.clone(), m.trim().to_string()));
                }
            }
        }
    }
    out
}

/// The shard file described by a container's termination message, if it saved one.
fn saved_shard(msgs: &[(String, String)], shard: i32, location: &str) -> Option<SnapshotShard> {
    let container = names::snapshot_container(shard);
    let m = msgs.iter().rev().filter(|(c, _)| *c == container).find_map(|(_, m)| Manifest::from_json(m, "termination message").ok())?;
    Some(SnapshotShard {
        index: shard,
        location: format!("{location}/{}", m.name),
        size_bytes: i64::try_from(m.bytes).unwrap_or(i64::MAX),
        keys: i64::try_from(m.keys).unwrap_or(i64::MAX),
        source: m.source,
        source_role: Some(m.source_role),
    })
}

/// What a finished Job produced: each shard's manifest from its container's termination
/// message (`cache-node snapshot save` writes the manifest, or `error: ...`).
pub fn job_outcome(job: &Job, pods: &[Pod], shards: i32, location: &str) -> JobOutcome {
    let msgs = messages(pods);
    let written: Vec<SnapshotShard> = (0..shards).filter_map(|i| saved_shard(&msgs, i, location)).collect();
    if let Some(failed) = job_condition(job, "Failed") {
        let errors: Vec<String> = msgs.iter().filter(|(_, m)| m.starts_with("error:")).map(|(c, m)| format!("{c}: {m}")).collect();
        let why = failed.message.clone().unwrap_or_default();
        let reason = if errors.is_empty() { format!("{}: {why}", failed.reason.as_deref().unwrap_or("Failed")) } else { errors.join("; ") };
        return JobOutcome::Failed { reason, finished: failed.last_transition_time.clone(), written };
    }
    let Some(done) = job_condition(job, "Complete") else { return JobOutcome::Running };
    if let Some(missing) = (0..shards).find(|i| !written.iter().any(|w| w.index == *i)) {
        return JobOutcome::Failed {
            reason: format!("the Job completed but container {} left no snapshot manifest in its termination message", names::snapshot_container(missing)),
            finished: done.last_transition_time.clone(),
            written,
        };
    }
    JobOutcome::Completed { shards: written, finished: done.last_transition_time.clone() }
}

/// The status of the CacheSnapshot a Job stands for.
pub fn snapshot_status(job: &Job, outcome: &JobOutcome, location: &str) -> CacheSnapshotStatus {
    let started_at = job.status.as_ref().and_then(|s| s.start_time.clone());
    let base = CacheSnapshotStatus { started_at, location: Some(location.to_string()), job: job.metadata.name.clone(), ..CacheSnapshotStatus::default() };
    match outcome {
        JobOutcome::Running => {
            CacheSnapshotStatus { phase: Some(if base.started_at.is_some() { SnapshotPhase::Running } else { SnapshotPhase::Pending }), ..base }
        }
        JobOutcome::Failed { reason, finished, written } => CacheSnapshotStatus {
            phase: Some(SnapshotPhase::Failed),
            completed_at: finished.clone(),
            message: Some(reason.clone()),
            shards: written.clone(),
            ..base
        },
        JobOutcome::Completed { shards, finished } => CacheSnapshotStatus {
            phase: Some(SnapshotPhase::Completed),
            completed_at: finished.clone(),
            size_bytes: Some(shards.iter().map(|s| s.size_bytes).fold(0, i64::saturating_add)),
            keys: Some(shards.iter().map(|s| s.keys).fold(0, i64::saturating_add)),
            shards: shards.clone(),
            ..base
        },
    }
}

fn phase(s: &CacheSnapshot) -> Option<SnapshotPhase> {
    s.status.as_ref().and_then(|st| st.phase)
}

fn created(s: &CacheSnapshot) -> Option<k8s_openapi::jiff::Timestamp> {
    s.status.as_ref().and_then(|st| st.completed_at.as_ref().or(st.started_at.as_ref())).or(s.metadata.creation_timestamp.as_ref()).map(|t| t.0)
}

/// Scheduled snapshots retention removes: all but the newest `retain` Completed ones,
/// and Failed ones older than the newest Completed (a failure after the last good
/// snapshot stays visible). Manual snapshots are never chosen.
pub fn expired(snapshots: &[CacheSnapshot], retain: i32) -> Vec<String> {
    let mut scheduled: Vec<&CacheSnapshot> =
        snapshots.iter().filter(|s| s.spec.trigger == SnapshotTrigger::Scheduled && s.metadata.deletion_timestamp.is_none()).collect();
    // Newest first; the name (which carries the schedule time) breaks ties.
    scheduled.sort_by(|a, b| created(b).cmp(&created(a)).then_with(|| b.name_any().cmp(&a.name_any())));
    let keep = usize::try_from(retain.max(1)).unwrap_or(1);
    let newest_completed = scheduled.iter().find(|s| phase(s) == Some(SnapshotPhase::Completed)).and_then(|s| created(s));
    let mut completed = 0usize;
    let mut out = Vec::new();
    for s in scheduled {
        match phase(s) {
            Some(SnapshotPhase::Completed) => {
                completed += 1;
                if completed > keep {
                    out.push(s.name_any());
                }
            }
            Some(SnapshotPhase::Failed) if newest_completed.is_some_and(|n| created(s).is_some_and(|c| c < n)) => out.push(s.name_any()),
            _ => {}
        }
    }
    out
}

/// The BackupHealthy condition from the newest finished scheduled snapshot; None until
/// one finished.
pub fn backup_condition(snapshots: &[CacheSnapshot], generation: Option<i64>, now: &Time) -> Option<Condition> {
    let newest = snapshots
        .iter()
        .filter(|s| s.spec.trigger == SnapshotTrigger::Scheduled && matches!(phase(s), Some(SnapshotPhase::Completed | SnapshotPhase::Failed)))
        .max_by(|a, b| created(a).cmp(&created(b)).then_with(|| a.name_any().cmp(&b.name_any())))?;
    let (status, reason, message) = match phase(newest) {
        Some(SnapshotPhase::Completed) => ("True", "SnapshotCompleted", format!("the last scheduled snapshot {} completed", newest.name_any())),
        _ => (
            "False",
            "SnapshotFailed",
            format!("scheduled snapshot {} failed: {}", newest.name_any(), newest.status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default()),
        ),
    };
    Some(Condition {
        type_: names::CONDITION_BACKUP_HEALTHY.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    })
}

/// The newest Completed snapshot of the cluster, scheduled or manual, for
/// `status.lastSnapshot`.
pub fn last_snapshot(snapshots: &[CacheSnapshot]) -> Option<SnapshotRecord> {
    let newest = snapshots
        .iter()
        .filter(|s| phase(s) == Some(SnapshotPhase::Completed))
        .max_by(|a, b| created(a).cmp(&created(b)).then_with(|| a.name_any().cmp(&b.name_any())))?;
    Some(SnapshotRecord { name: newest.name_any(), time: Time(created(newest)?) })
}

/// What the snapshots stage tells the cluster's status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapshotsSeen {
    pub backup_healthy: Option<Condition>,
    pub last: Option<SnapshotRecord>,
}

/// The CacheSnapshot standing for a finished scheduled Job. Owned by the cluster unless
/// its deletionPolicy is Retain, so scheduled snapshots go with the cluster by default;
/// the finalizer deletes the files first.
pub fn scheduled_snapshot(cluster: &CacheCluster, job: &Job) -> Option<CacheSnapshot> {
    let name = job.metadata.name.clone()?;
    let cluster_name = cluster.metadata.name.clone()?;
    let mut snap = CacheSnapshot::new(&name, CacheSnapshotSpec { cluster: cluster_name.clone(), trigger: SnapshotTrigger::Scheduled });
    snap.metadata.namespace = cluster.metadata.namespace.clone();
    snap.metadata.labels = Some(
        [(names::LABEL_CLUSTER.to_string(), cluster_name), (names::LABEL_TRIGGER.to_string(), trigger_label(SnapshotTrigger::Scheduled).to_string())].into(),
    );
    snap.metadata.finalizers = Some(vec![names::SNAPSHOT_FINALIZER.to_string()]);
    if cluster.spec.deletion_policy != DeletionPolicy::Retain {
        snap.metadata.owner_references = cluster.controller_owner_ref(&()).map(|o| vec![o]);
    }
    Some(snap)
}

/// Runs the stage; returns what the cluster's status should say of its snapshots.
pub async fn run(cluster: &CacheCluster, ctx: &Context, namespace: &str, now: &Time) -> Result<SnapshotsSeen, Error> {
    let name = cluster.name_any();
    let snapshots_api: Api<CacheSnapshot> = Api::namespaced(ctx.client.clone(), namespace);
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let selector = format!("{}={name},{}={},{}=Scheduled", names::LABEL_CLUSTER, names::LABEL_COMPONENT, names::COMPONENT_SNAPSHOT, names::LABEL_TRIGGER);
    let jobs = jobs_api.list(&ListParams::default().labels(&selector)).await.stage("listing snapshot Jobs")?;
    let mut snapshots =
        snapshots_api.list(&ListParams::default().labels(&format!("{}={name}", names::LABEL_CLUSTER))).await.stage("listing CacheSnapshots")?.items;
    let location = destination_location(&name, &cluster.spec.snapshots.clone().unwrap_or_default().destination);

    for job in &jobs {
        let job_name = job.name_any();
        if snapshots.iter().any(|s| s.name_any() == job_name) {
            continue;
        }
        let pods = pods_api.list(&ListParams::default().labels(&format!("{}={job_name}", names::LABEL_JOB_NAME))).await.stage("listing snapshot pods")?;
        let outcome = job_outcome(job, &pods.items, cluster.spec.shards, &location);
        if outcome == JobOutcome::Running {
            continue;
        }
        let Some(new) = scheduled_snapshot(cluster, job) else { continue };
        let mut created = snapshots_api.create(&PostParams::default(), &new).await.stage("creating a CacheSnapshot")?;
        let mut status = snapshot_status(job, &outcome, &location);
        status.destination = cluster.spec.snapshots.as_ref().map(|s| s.destination.clone());
        let patch = serde_json::json!({ "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheSnapshot", "status": status });
        snapshots_api
            .patch_status(&job_name, &PatchParams::apply(names::FIELD_MANAGER).force(), &Patch::Apply(&patch))
            .await
            .stage("patching CacheSnapshot status")?;
        created.status = Some(status);
        let event = match &outcome {
            JobOutcome::Failed { reason, .. } => {
                ClusterEvent { warning: true, reason: "SnapshotFailed", action: "Snapshot", note: format!("scheduled snapshot {job_name} failed: {reason}") }
            }
            _ => ClusterEvent { warning: false, reason: "SnapshotCompleted", action: "Snapshot", note: format!("scheduled snapshot {job_name} completed") },
        };
        ctx.events.publish(cluster, event).await;
        snapshots.push(created);
    }

    let retain = cluster.spec.snapshots.as_ref().map_or(0, |s| s.retain);
    if retain > 0 {
        let old = expired(&snapshots, retain);
        for name in &old {
            tracing::info!(snapshot = %name, "deleting a scheduled snapshot past retention");
            snapshots_api.delete(name, &DeleteParams::background()).await.stage("deleting expired CacheSnapshots")?;
        }
        snapshots.retain(|s| !old.contains(&s.name_any()));
    }
    Ok(SnapshotsSeen { backup_healthy: backup_condition(&snapshots, cluster.metadata.generation, now), last: last_snapshot(&snapshots) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, trigger: &str, phase: &str, at: &str) -> CacheSnapshot {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheSnapshot",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"cluster": "c", "trigger": trigger},
            "status": {"phase": phase, "completedAt": at},
        }))
        .unwrap()
    }

    #[test]
    fn retention_keeps_the_newest_completed_and_failures_after_them() {
        let all = vec![
            snap("s1", "Scheduled", "Completed", "2026-01-01T00:00:00Z"),
            snap("s2", "Scheduled", "Failed", "2026-01-02T00:00:00Z"),
            snap("s3", "Scheduled", "Completed", "2026-01-03T00:00:00Z"),
            snap("s4", "Scheduled", "Completed", "2026-01-04T00:00:00Z"),
            snap("s5", "Scheduled", "Failed", "2026-01-05T00:00:00Z"),
            snap("m1", "Manual", "Completed", "2025-01-01T00:00:00Z"),
        ];
        assert_eq!(expired(&all, 2), vec!["s2".to_string(), "s1".to_string()]);
        assert_eq!(expired(&all, 35), vec!["s2".to_string()]);
        let health = backup_condition(&all, Some(1), &Time(k8s_openapi::jiff::Timestamp::now())).unwrap();
        assert_eq!((health.status.as_str(), health.reason.as_str()), ("False", "SnapshotFailed"));
        assert!(backup_condition(&all[5..], None, &Time(k8s_openapi::jiff::Timestamp::now())).is_none(), "manual snapshots say nothing of the schedule");
    }

    #[test]
    fn a_completed_job_without_every_shard_s_manifest_is_a_failure_that_keeps_what_was_written() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j"},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}
        }))
        .unwrap();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j-x"},
            "status": {"containerStatuses": [
                {"name": "shard-0", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"terminated": {"exitCode": 0, "message": serde_json::json!({
                    "format": "cachefleet.dev/snapshot/v1", "name": "j-shard-0", "slots": [[0, 16383]], "createdUnix": 1, "created": "x",
                    "source": "n:6379", "sourceRole": "replica", "engine": "redis", "engineVersion": "7", "rdbVersion": 11, "keys": 3,
                    "keysWithExpiry": 0, "bytes": 9, "crc64": "", "replId": "r", "replOffset": 0}).to_string()}}},
                {"name": "shard-1", "ready": false, "restartCount": 0, "image": "i", "imageID": "", "state": {"terminated": {"exitCode": 0}}}
            ]}
        }))
        .unwrap();
        match job_outcome(&job, std::slice::from_ref(&pod), 2, "pvc://c-snapshots") {
            JobOutcome::Failed { reason, written, .. } => {
                assert!(reason.contains("shard-1"), "{reason}");
                assert_eq!(written.len(), 1);
                assert_eq!(written[0].location, "pvc://c-snapshots/j-shard-0");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(job_outcome(&job, &[pod], 1, "pvc://c-snapshots"), JobOutcome::Completed { .. }));
    }
}
