//! Apply: server-side apply of every desired object under one field manager, and removal
//! of objects the spec no longer wants (a shard removed, the NetworkPolicy turned off).

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;

use super::error::{Error, KubeStage};
use crate::resources::{Desired, names, service_monitor};

fn params() -> PatchParams {
    // force: the operator owns these fields; a hand edit is reverted, not a conflict.
    PatchParams::apply(names::FIELD_MANAGER).force()
}

/// Applies one object and returns it as the API server now holds it (status included).
async fn apply_one<K>(client: &Client, namespace: &str, obj: &K) -> Result<K, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let name = obj.meta().name.clone().ok_or(Error::MissingMetadata("name on a built object"))?;
    api.patch(&name, &params(), &Patch::Apply(obj)).await.stage("applying objects")
}

/// Applies every object, config first so pods start with it, then shard by shard.
/// Returns the StatefulSets as applied, in shard order: their status tells which
/// revision the pods should run (the rolling update reads it).
pub async fn apply_all(client: &Client, namespace: &str, desired: &Desired) -> Result<Vec<StatefulSet>, Error> {
    apply_one(client, namespace, &desired.config_map).await?;
    if let Some(claim) = &desired.snapshots_claim {
        apply_one(client, namespace, claim).await?;
    }
    let mut stateful_sets = Vec::with_capacity(desired.shards.len());
    for shard in &desired.shards {
        apply_one(client, namespace, &shard.headless_service).await?;
        stateful_sets.push(apply_one(client, namespace, &shard.stateful_set).await?);
        apply_one(client, namespace, &shard.pdb).await?;
    }
    for service in &desired.services {
        apply_one(client, namespace, service).await?;
    }
    if let Some(np) = &desired.network_policy {
        apply_one(client, namespace, np).await?;
    }
    if let Some(cron_job) = &desired.snapshots_cron_job {
        apply_one(client, namespace, cron_job).await?;
    }
    if let Some(sm) = &desired.service_monitor {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &service_monitor::api_resource());
        api.patch(&sm.name_any(), &params(), &Patch::Apply(sm)).await.stage("applying the ServiceMonitor")?;
    }
    Ok(stateful_sets)
}

/// Deletes objects of kind K labelled as this cluster's but not in `keep`.
async fn prune<K>(api: Api<K>, cluster: &str, keep: &BTreeSet<String>) -> Result<(), Error>
where
    K: Resource + DeserializeOwned + Clone + Debug,
{
    let lp = ListParams::default().labels(&format!("{}={cluster},{}={}", names::LABEL_CLUSTER, names::LABEL_MANAGED_BY, names::FIELD_MANAGER));
    for obj in api.list(&lp).await.stage("listing owned objects")? {
        let name = obj.name_any();
        if !keep.contains(&name) {
            tracing::info!(object = %name, "deleting an object the spec no longer wants");
            api.delete(&name, &DeleteParams::background()).await.stage("deleting unwanted objects")?;
        }
    }
    Ok(())
}

fn names_of<'a, K: Resource + 'a>(objs: impl IntoIterator<Item = &'a K>) -> BTreeSet<String> {
    objs.into_iter().filter_map(|o| o.meta().name.clone()).collect()
}

pub async fn prune_all(client: &Client, namespace: &str, cluster: &str, desired: &Desired, service_monitors: bool) -> Result<(), Error> {
    prune(Api::<StatefulSet>::namespaced(client.clone(), namespace), cluster, &names_of(desired.shards.iter().map(|s| &s.stateful_set))).await?;
    let services = names_of(desired.shards.iter().map(|s| &s.headless_service).chain(desired.services.iter()));
    prune(Api::<Service>::namespaced(client.clone(), namespace), cluster, &services).await?;
    prune(Api::<PodDisruptionBudget>::namespaced(client.clone(), namespace), cluster, &names_of(desired.shards.iter().map(|s| &s.pdb))).await?;
    prune(Api::<ConfigMap>::namespaced(client.clone(), namespace), cluster, &names_of([&desired.config_map])).await?;
    prune(Api::<NetworkPolicy>::namespaced(client.clone(), namespace), cluster, &names_of(desired.network_policy.iter())).await?;
    // The snapshots claim is not pruned: turning snapshots off must not delete the files.
    prune(Api::<CronJob>::namespaced(client.clone(), namespace), cluster, &names_of(desired.snapshots_cron_job.iter())).await?;
    if service_monitors {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &service_monitor::api_resource());
        let keep: BTreeSet<String> = desired.service_monitor.iter().map(|s| s.name_any()).collect();
        prune(api, cluster, &keep).await?;
    }
    Ok(())
}
