//! A PodDisruptionBudget per shard: voluntary disruptions (node drains, upgrades) take
//! one pod of a shard at a time, so a shard never loses its primary and a replica at
//! once.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::build::Context;
use super::meta::match_labels;
use super::names;

pub(super) fn pod_disruption_budget(ctx: &Context<'_>, shard: i32) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ctx.meta.shard_object(names::shard_name(&ctx.meta.name, shard), shard),
        spec: Some(PodDisruptionBudgetSpec {
            // maxUnavailable, not minAvailable: a shard without replicas can still be
            // drained (its one pod moves) instead of blocking every node drain forever.
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(match_labels(names::shard_selector(&ctx.meta.name, shard))),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}
