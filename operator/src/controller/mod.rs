//! The CacheCluster controller: watches CacheClusters and what they own, and runs one
//! reconcile pass (reconcile.rs) per change, with backoff on errors.

pub mod act;
pub mod apply;
pub mod error;
pub mod events;
pub mod failover;
pub mod final_snapshot;
pub mod live_settings;
pub mod observe;
pub mod prober;
pub mod reconcile;
pub mod rolling;
pub mod scaling;
pub mod snapshot_controller;
pub mod snapshots;
pub mod status;
pub mod validate;
pub mod zones;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use error::Error;

use crate::api::{CacheCluster, CacheSnapshot};
use crate::metrics::Metrics;
use crate::nodes::NodeClient;
use crate::resources::{BuildOptions, names};
use events::EventSink;

/// What every reconcile pass shares.
pub struct Context {
    pub client: Client,
    pub nodes: Arc<dyn NodeClient>,
    pub events: Arc<dyn EventSink>,
    pub metrics: Metrics,
    pub options: BuildOptions,
    /// Probe history for failure detection, per cluster (shared with the probers).
    pub memory: Arc<failover::Memory>,
    pub clock: failover::Clock,
    /// Zones of the Kubernetes nodes pods run on.
    pub zones: zones::ZoneCache,
    /// One prober task per cluster with failover on; None runs the short-period probes
    /// in the passes themselves (tests, and a context built without a controller).
    pub probers: Option<prober::Probers>,
    /// Consecutive failed passes per cluster, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, nodes: Arc<dyn NodeClient>, events: Arc<dyn EventSink>, metrics: Metrics, options: BuildOptions) -> Context {
        Context {
            client,
            nodes,
            events,
            metrics,
            options,
            memory: Arc::new(failover::Memory::default()),
            clock: failover::monotonic(),
            zones: zones::ZoneCache::default(),
            probers: None,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The same context on another clock (tests drive time with it).
    pub fn with_clock(self, clock: failover::Clock) -> Context {
        Context { clock, ..self }
    }

    /// The same context with a prober task per cluster, whose findings are sent to
    /// `trigger` (the controller's `reconcile_on`).
    pub fn with_probers(self, trigger: futures::channel::mpsc::UnboundedSender<ObjectRef<CacheCluster>>) -> Context {
        let probers = prober::Probers::new(trigger, self.nodes.clone(), self.memory.clone(), self.clock.clone(), self.metrics.prober_triggers.clone());
        Context { probers: Some(probers), ..self }
    }

    pub(crate) fn key(cluster: &CacheCluster) -> String {
        format!("{}/{}", cluster.namespace().unwrap_or_default(), cluster.name_any())
    }

    fn forget_failures(&self, cluster: &CacheCluster) {
        self.failures.lock().remove(&Self::key(cluster));
    }

    /// Records a failure and returns how long to wait before the next try.
    fn next_backoff(&self, cluster: &CacheCluster) -> Duration {
        let mut failures = self.failures.lock();
        let n = failures.entry(Self::key(cluster)).or_insert(0);
        *n = n.saturating_add(1);
        backoff(*n)
    }
}

/// 5 s after the first failure, doubling up to 5 minutes: a broken API server or node is
/// not hammered, and a transient error clears fast.
pub fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << failures.saturating_sub(1).min(16));
    Duration::from_secs(secs.min(300))
}

pub fn error_policy(cluster: Arc<CacheCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_errors.with_label_values(&[error.category()]).inc();
    let wait = ctx.next_backoff(&cluster);
    tracing::warn!(cluster = %cluster.name_any(), namespace = cluster.namespace().unwrap_or_default(), error = %error, retry_in = ?wait, "reconcile failed");
    Action::requeue(wait)
}

/// Maps a pod to the CacheCluster named in its label, so role and readiness changes of
/// pods trigger a pass without a periodic poll.
fn pod_owner(pod: Pod) -> Option<ObjectRef<CacheCluster>> {
    let cluster = pod.labels().get(names::LABEL_CLUSTER)?.clone();
    Some(ObjectRef::new(&cluster).within(&pod.namespace()?))
}

/// Maps a snapshot Job (the CronJob's, owned by the CronJob, not the cluster) to its
/// cluster, so a finished Job becomes a CacheSnapshot without waiting for a poll.
fn job_owner(job: Job) -> Option<ObjectRef<CacheCluster>> {
    let cluster = job.labels().get(names::LABEL_CLUSTER)?.clone();
    Some(ObjectRef::new(&cluster).within(&job.namespace()?))
}

/// Runs the controller until a shutdown signal (SIGTERM/SIGINT) or `stop` resolves. The
/// context gets its probers here: their findings trigger passes of this controller.
pub async fn run(ctx: Context, namespace: Option<String>, stop: impl std::future::Future<Output = ()> + Send + Sync + 'static) {
    let (trigger, triggered) = futures::channel::mpsc::unbounded();
    let ctx = Arc::new(ctx.with_probers(trigger));
    let client = ctx.client.clone();
    fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let owned = watcher::Config::default().labels(&format!("{}={}", names::LABEL_MANAGED_BY, names::FIELD_MANAGER));
    let pods = watcher::Config::default().labels(&format!("{}=cache-node", names::LABEL_NAME));
    let snapshot_jobs = watcher::Config::default().labels(&format!("{}={}", names::LABEL_NAME, names::SNAPSHOT_APP_NAME));
    let clusters: Api<CacheCluster> = api(&client, &namespace);
    let stop = stop.shared();
    // Manual snapshots' Jobs (owned by their CacheSnapshot) and delete Jobs.
    let snapshot_controller = Controller::new(api::<CacheSnapshot>(&client, &namespace), watcher::Config::default())
        .owns(api::<Job>(&client, &namespace), snapshot_jobs.clone())
        .graceful_shutdown_on(stop.clone())
        .run(snapshot_controller::reconcile, snapshot_controller::error_policy, ctx.clone())
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(snapshot = %obj.name, "reconciled"),
                Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => tracing::debug!(snapshot = %obj.name, "gone before its pass ran"),
                Err(e) => tracing::warn!(error = %e, "snapshot controller error"),
            }
        });
    let snapshots_running = tokio::spawn(snapshot_controller);
    let controller = Controller::new(clusters, watcher::Config::default())
        .owns(api::<StatefulSet>(&client, &namespace), owned.clone())
        .owns(api::<Service>(&client, &namespace), owned.clone())
        .owns(api::<ConfigMap>(&client, &namespace), owned.clone())
        .owns(api::<PodDisruptionBudget>(&client, &namespace), owned.clone())
        .owns(api::<CronJob>(&client, &namespace), owned)
        .watches(api::<Job>(&client, &namespace), snapshot_jobs, job_owner)
        .watches(api::<Pod>(&client, &namespace), pods, pod_owner)
        .reconcile_on(triggered)
        .graceful_shutdown_on(stop);
    let store = controller.store();
    let gauge = ctx.metrics.managed_clusters.clone();
    let housekeeping = ctx.clone();
    let counting = tokio::spawn(async move {
        loop {
            let clusters = store.state();
            gauge.set(clusters.len() as i64);
            // A deleted cluster gets no pass: its prober and probe history go here.
            let alive: std::collections::HashSet<String> = clusters.iter().map(|c| Context::key(c)).collect();
            if let Some(probers) = &housekeeping.probers {
                probers.retain(&|key: &str| alive.contains(key));
            }
            housekeeping.memory.retain(&|key: &str| alive.contains(key));
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    controller
        .run(reconcile::reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(cluster = %obj.name, "reconciled"),
                // Deleted while queued: owner references clean up its objects.
                Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => tracing::debug!(cluster = %obj.name, "gone before its pass ran"),
                Err(e) => tracing::warn!(error = %e, "controller error"),
            }
        })
        .await;
    counting.abort();
    if let Some(probers) = &ctx.probers {
        probers.stop_all();
    }
    if let Err(e) = snapshots_running.await {
        tracing::warn!(error = %e, "the snapshot controller ended abnormally");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_to_five_minutes() {
        let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX).as_secs(), 300);
    }
}
