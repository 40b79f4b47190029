//! `build`: every desired object of a cluster, from its spec.

use super::meta::ClusterMeta;
use super::sizing::{Sizing, sizing};
use super::snapshots::SnapshotBase;
use super::{BuildError, BuildOptions, Desired, ShardObjects, config, network_policy, pdb, service_monitor, services, statefulset};
use crate::api::{CacheCluster, CacheClusterSpec};

/// What every builder reads, worked out once per build.
pub(super) struct Context<'a> {
    pub meta: ClusterMeta,
    pub spec: &'a CacheClusterSpec,
    pub sizing: Sizing,
    pub image: String,
    /// Hash of node.conf's settings that need a restart, on the pod template so a change
    /// of one of them rolls the pods (live settings are applied with CONFIG SET instead).
    pub config_hash: String,
    /// Snapshot objects' builder, and the snapshot to restore each shard from (the path
    /// without its `-shard-<i>` suffix) when the cluster is being seeded.
    pub snapshots: SnapshotBase<'a>,
    pub restore: Option<String>,
}

/// The objects `cluster` needs. Pure: the same cluster and options always give the same
/// objects, so applying them is idempotent. A `restoreFrom.snapshot` is left unresolved
/// (see build_restoring).
pub fn build(cluster: &CacheCluster, opts: &BuildOptions) -> Result<Desired, BuildError> {
    build_restoring(cluster, opts, None)
}

/// As build, with `restoreFrom.snapshot` resolved by the caller to the snapshot's path
/// (`<location>/<snapshot>`), which only the API server knows.
pub fn build_restoring(cluster: &CacheCluster, opts: &BuildOptions, resolved: Option<&str>) -> Result<Desired, BuildError> {
    let meta = ClusterMeta::new(cluster)?;
    let spec = &cluster.spec;
    if spec.shards < 1 {
        return Err(BuildError::BadShards(spec.shards));
    }
    let sizing = sizing(spec)?;
    let settings = config::node_settings(spec, &sizing)?;
    let node_conf = config::render(&settings);
    let image = spec.image.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| opts.default_image.clone());
    let snapshots = SnapshotBase::new(cluster, &opts.default_image)?;
    let restore_from = spec.restore_from.as_ref();
    let restore = resolved.map(str::to_string).or_else(|| restore_from.and_then(|r| r.location.clone()));
    let restore_unresolved = if restore.is_none() { restore_from.and_then(|r| r.snapshot.clone()) } else { None };
    let ctx = Context { config_hash: config::restart_hash(&settings), meta, spec, sizing, image, snapshots, restore };

    let shards = (0..spec.shards)
        .map(|shard| {
            Ok(ShardObjects {
                index: shard,
                stateful_set: statefulset::stateful_set(&ctx, shard)?,
                headless_service: services::headless_service(&ctx, shard),
                pdb: pdb::pod_disruption_budget(&ctx, shard),
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;

    Ok(Desired {
        config_map: config::config_map(&ctx.meta, &node_conf),
        shards,
        services: services::cluster_services(&ctx),
        network_policy: network_policy::network_policy(&ctx),
        service_monitor: service_monitor::service_monitor(&ctx, opts.service_monitor_supported),
        snapshots_claim: ctx.spec.snapshots.as_ref().filter(|s| s.enabled).and_then(|_| ctx.snapshots.claim()),
        snapshots_cron_job: ctx.snapshots.cron_job()?,
        restore_unresolved,
        live_settings: config::live_settings(&settings),
    })
}
