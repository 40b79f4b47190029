//! `build`: every desired object of a cluster, from its spec.

use super::meta::ClusterMeta;
use super::sizing::{Sizing, sizing};
use super::{BuildError, BuildOptions, Desired, ShardObjects, config, network_policy, pdb, service_monitor, services, statefulset};
use crate::api::{CacheCluster, CacheClusterSpec};

/// What every builder reads, worked out once per build.
pub(super) struct Context<'a> {
    pub meta: ClusterMeta,
    pub spec: &'a CacheClusterSpec,
    pub sizing: Sizing,
    pub image: String,
    /// Hash of node.conf, on the pod template so a config change rolls the pods.
    pub config_hash: String,
}

/// The objects `cluster` needs. Pure: the same cluster and options always give the same
/// objects, so applying them is idempotent.
pub fn build(cluster: &CacheCluster, opts: &BuildOptions) -> Result<Desired, BuildError> {
    let meta = ClusterMeta::new(cluster)?;
    let spec = &cluster.spec;
    if spec.shards < 1 {
        return Err(BuildError::BadShards(spec.shards));
    }
    let sizing = sizing(spec)?;
    let node_conf = config::node_conf(spec, &sizing)?;
    let image = spec.image.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| opts.default_image.clone());
    let ctx = Context { config_hash: config::config_hash(&node_conf), meta, spec, sizing, image };

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
    })
}
