//! Names and labels of everything the operator creates for a cluster. The controller,
//! the builders, the e2e tests and the docs all rely on these, so they live in one place.

use std::collections::BTreeMap;

use crate::api::{CacheCluster, Engine};

/// Port clients connect to (RESP).
pub const RESP_PORT: i32 = 6379;
/// Port of the memcached protocol.
pub const MEMCACHED_PORT: i32 = 11211;
/// HTTP port of /metrics, /healthz and /readyz.
pub const ADMIN_PORT: i32 = 9121;

/// Field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "cachefleet-operator";

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub const LABEL_CLUSTER: &str = "cachefleet.dev/cluster";
pub const LABEL_SHARD: &str = "cachefleet.dev/shard";
/// `primary` or `replica` on a pod; set by the controller, read by the writer and
/// reader Services.
pub const LABEL_ROLE: &str = "cachefleet.dev/role";
pub const ROLE_PRIMARY: &str = "primary";
pub const ROLE_REPLICA: &str = "replica";

/// Annotation on pods carrying a hash of the node config, so a config change rolls them.
pub const ANNOTATION_CONFIG_HASH: &str = "cachefleet.dev/config-hash";

/// Name of the client port on containers and Services (engine redis).
pub const PORT_NAME_REDIS: &str = "redis";
/// Name of the client port on containers and Services (engine memcached).
pub const PORT_NAME_MEMCACHED: &str = "memcached";
/// Name of the admin HTTP port (/metrics, /healthz, /readyz).
pub const PORT_NAME_METRICS: &str = "metrics";

/// The cache-node container of every pod.
pub const CONTAINER_NAME: &str = "cache-node";
/// Key of the node configuration in the cluster's ConfigMap.
pub const CONFIG_KEY: &str = "node.conf";
/// Where the ConfigMap is mounted in the container.
pub const CONFIG_DIR: &str = "/etc/cache-node";
/// The node's data directory (its volume).
pub const DATA_DIR: &str = "/data";
/// Environment variable the container reads the default user's password from.
pub const PASSWORD_ENV: &str = "CACHE_NODE_REQUIREPASS";

/// On the metrics Service only, so a ServiceMonitor selects it and not the client Services.
pub const LABEL_METRICS: &str = "cachefleet.dev/metrics";

/// `app.kubernetes.io/name` of the operator's own pods; the NetworkPolicy admits them.
pub const OPERATOR_APP_NAME: &str = "cachefleet-operator";

/// Repository of the cache-node image; the default tag is the operator's version.
pub const CACHE_NODE_IMAGE_REPOSITORY: &str = "ghcr.io/cachefleet/cache-node";

/// The cache-node image released with this operator.
pub fn default_cache_node_image() -> String {
    format!("{CACHE_NODE_IMAGE_REPOSITORY}:{}", crate::VERSION)
}

/// Name and number of the port clients of `engine` connect to.
pub fn client_port(engine: Engine) -> (&'static str, i32) {
    match engine {
        Engine::Redis => (PORT_NAME_REDIS, RESP_PORT),
        Engine::Memcached => (PORT_NAME_MEMCACHED, MEMCACHED_PORT),
    }
}

/// Path of the node configuration file in the container.
pub fn config_path() -> String {
    format!("{CONFIG_DIR}/{CONFIG_KEY}")
}

/// Name of shard `shard`'s StatefulSet and of its headless Service: `<cluster>-<shard>`.
pub fn shard_name(cluster: &str, shard: i32) -> String {
    format!("{cluster}-{shard}")
}

/// Pod `ordinal` of shard `shard`: `<cluster>-<shard>-<ordinal>`.
pub fn pod_name(cluster: &str, shard: i32, ordinal: i32) -> String {
    format!("{}-{ordinal}", shard_name(cluster, shard))
}

/// Stable DNS name of a pod, through its shard's headless Service. Nodes and the
/// operator address each other by these, never by pod IP, so a cluster survives every pod
/// restarting with a new IP.
pub fn pod_host(cluster: &str, namespace: &str, shard: i32, ordinal: i32) -> String {
    format!("{}.{}.{namespace}.svc", pod_name(cluster, shard, ordinal), shard_name(cluster, shard))
}

/// The writer Service: selects the pod labelled primary.
pub fn primary_service(cluster: &str) -> String {
    format!("{cluster}-primary")
}

/// The reader Service: selects replicas.
pub fn reader_service(cluster: &str) -> String {
    format!("{cluster}-reader")
}

/// The configuration endpoint of cluster mode: every node.
pub fn configuration_service(cluster: &str) -> String {
    cluster.to_string()
}

/// The ConfigMap holding the node configuration.
pub fn config_map(cluster: &str) -> String {
    format!("{cluster}-config")
}

/// Service exposing the metrics port of every node (scraped by the ServiceMonitor).
pub fn metrics_service(cluster: &str) -> String {
    format!("{cluster}-metrics")
}

/// The cluster's NetworkPolicy (when enabled).
pub fn network_policy(cluster: &str) -> String {
    cluster.to_string()
}

/// The cluster's ServiceMonitor (when enabled and the kind exists).
pub fn service_monitor(cluster: &str) -> String {
    cluster.to_string()
}

/// `app.kubernetes.io/name` of snapshot Job pods: not `cache-node`, so the cluster's
/// Services, PDBs and node listing never pick them up.
pub const SNAPSHOT_APP_NAME: &str = "cachefleet-snapshot";
/// `app.kubernetes.io/component` of the Jobs that take snapshots.
pub const COMPONENT_SNAPSHOT: &str = "snapshot";
/// `app.kubernetes.io/component` of the Jobs that delete a snapshot's files.
pub const COMPONENT_SNAPSHOT_DELETE: &str = "snapshot-delete";
/// On snapshot Jobs and their pods: the CacheSnapshot they serve.
pub const LABEL_SNAPSHOT: &str = "cachefleet.dev/snapshot";
/// On a CacheSnapshot and its Job: `Manual` or `Scheduled`.
pub const LABEL_TRIGGER: &str = "cachefleet.dev/trigger";
/// Set by the Job controller on a Job's pods; read through the downward API so each
/// scheduled run names its files after its Job.
pub const LABEL_JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// Environment variable holding the Job's name in snapshot containers.
pub const JOB_NAME_ENV: &str = "JOB_NAME";
/// Where the snapshots claim is mounted in snapshot and restore containers.
pub const SNAPSHOT_DIR: &str = "/snapshots";
/// Where the password Secret is mounted in snapshot containers.
pub const PASSWORD_DIR: &str = "/etc/cache-node-auth";
/// Where a container's result is written; the operator reads it from the pod status.
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// Name of the restore init container of every StatefulSet of a restored cluster.
pub const RESTORE_CONTAINER: &str = "restore";
/// Finalizer of a CacheSnapshot: its files are deleted before the object goes.
pub const SNAPSHOT_FINALIZER: &str = "cachefleet.dev/snapshot-files";
/// Finalizer of a CacheCluster with deletionPolicy Snapshot: the final snapshot is taken
/// before the cluster goes.
pub const FINAL_SNAPSHOT_FINALIZER: &str = "cachefleet.dev/final-snapshot";
/// Condition type on a CacheCluster: whether its scheduled snapshots succeed.
pub const CONDITION_BACKUP_HEALTHY: &str = "BackupHealthy";

/// The claim holding a cluster's snapshots (destination pvc), and the CronJob taking them.
pub fn snapshots_claim(cluster: &str) -> String {
    format!("{cluster}-snapshots")
}

/// The CronJob of scheduled snapshots. Its Jobs are `<cluster>-snapshots-<minute>`.
pub fn snapshots_cron_job(cluster: &str) -> String {
    format!("{cluster}-snapshots")
}

/// Container of a snapshot Job pod that copies shard `shard`.
pub fn snapshot_container(shard: i32) -> String {
    format!("shard-{shard}")
}

/// File name (without .rdb/.json) of shard `shard`'s part of snapshot `snapshot`.
pub fn snapshot_file(snapshot: &str, shard: i32) -> String {
    format!("{snapshot}-shard-{shard}")
}

/// The Job deleting a snapshot's files.
pub fn snapshot_delete_job(snapshot: &str) -> String {
    format!("{snapshot}-delete")
}

/// The manual CacheSnapshot taken before a cluster with deletionPolicy Snapshot goes;
/// the uid's start tells apart clusters of the same name deleted one after another.
pub fn final_snapshot(cluster: &str, uid: &str) -> String {
    format!("{cluster}-final-{}", uid.chars().take(8).collect::<String>())
}

/// Selects the pods of a cluster's snapshot Jobs (the NetworkPolicy admits them).
pub fn snapshot_pod_selector(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_NAME.to_string(), SNAPSHOT_APP_NAME.to_string()), (LABEL_CLUSTER.to_string(), cluster.to_string())])
}

/// Labels every object of a cluster carries.
pub fn cluster_labels(cluster: &CacheCluster) -> BTreeMap<String, String> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    BTreeMap::from([
        (LABEL_NAME.to_string(), "cache-node".to_string()),
        (LABEL_INSTANCE.to_string(), name.clone()),
        (LABEL_MANAGED_BY.to_string(), FIELD_MANAGER.to_string()),
        (LABEL_PART_OF.to_string(), "cachefleet".to_string()),
        (LABEL_CLUSTER.to_string(), name),
    ])
}

/// Labels that select every pod of a cluster (a subset of cluster_labels that never
/// changes, since selectors are immutable).
pub fn cluster_selector(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_NAME.to_string(), "cache-node".to_string()), (LABEL_CLUSTER.to_string(), cluster.to_string())])
}

/// Labels that select the pods of one shard.
pub fn shard_selector(cluster: &str, shard: i32) -> BTreeMap<String, String> {
    let mut labels = cluster_selector(cluster);
    labels.insert(LABEL_SHARD.to_string(), shard.to_string());
    labels
}

/// Selector of a cluster's pods in one role.
pub fn role_selector(cluster: &str, role: &str) -> BTreeMap<String, String> {
    let mut labels = cluster_selector(cluster);
    labels.insert(LABEL_ROLE.to_string(), role.to_string());
    labels
}

/// `k=v,k=v` form of a label map, for list calls.
pub fn selector_string(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design() {
        assert_eq!(shard_name("sessions", 2), "sessions-2");
        assert_eq!(pod_name("sessions", 0, 1), "sessions-0-1");
        assert_eq!(pod_host("sessions", "prod", 0, 1), "sessions-0-1.sessions-0.prod.svc");
        assert_eq!(primary_service("sessions"), "sessions-primary");
        assert_eq!(reader_service("sessions"), "sessions-reader");
        assert_eq!(configuration_service("sessions"), "sessions");
        assert_eq!(snapshots_claim("sessions"), "sessions-snapshots");
        assert_eq!(snapshot_file("sessions-snapshots-29000000", 2), "sessions-snapshots-29000000-shard-2");
        assert_eq!(final_snapshot("sessions", "6f1c1d7e-0000"), "sessions-final-6f1c1d7e");
        assert_eq!(selector_string(&shard_selector("s", 1)), "app.kubernetes.io/name=cache-node,cachefleet.dev/cluster=s,cachefleet.dev/shard=1");
    }
}
